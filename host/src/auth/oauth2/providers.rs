//! What each provider tells about the user who logged in, with Buildbot 4.3's calls and the
//! user_info it makes of them (`master/buildbot/www/oauth2.py`).
//!
//! The access token goes in the `Authorization` header (GitHub's `token …`, `Bearer …` for
//! the others) rather than Buildbot's `?access_token=` query parameter, which the providers
//! have deprecated and which lands in their access logs.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde_json::{json, Map, Value};

use super::Failure;
use crate::identity::User;

/// Longest answer read from a provider: user records and lists of a hundred groups are a few
/// kilobytes.
const MAX_ANSWER: usize = 1024 * 1024;

/// One of Buildbot's OAuth2 classes.
#[derive(Debug, Clone)]
pub(super) enum Provider {
    /// `GoogleAuth`: `/userinfo`.
    Google,
    /// `GitHubAuth`: REST (`/user`, `/user/emails`, `/user/orgs`) or GraphQL.
    GitHub {
        /// The GraphQL endpoint, with `apiVersion = 4`.
        graphql: Option<String>,
        /// `getTeamsMembership`: add `org/team` groups.
        teams: bool,
        /// `debug`: log the GraphQL queries and answers.
        debug: bool,
    },
    /// `GitLabAuth`: `/user`, `/groups`.
    GitLab,
    /// `BitbucketAuth`: `/user`, `/user/emails`, `/workspaces?role=member`.
    Bitbucket,
}

impl Provider {
    /// Buildbot's `name`, shown in `/config` and on error pages.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Google => "Google",
            Provider::GitHub { .. } => "GitHub",
            Provider::GitLab => "GitLab",
            Provider::Bitbucket => "Bitbucket",
        }
    }

    /// Buildbot's `faIcon`: the Font Awesome icon of the login button.
    pub fn fa_icon(&self) -> &'static str {
        match self {
            Provider::Google => "fa-google-plus",
            Provider::GitHub { .. } => "fa-github",
            Provider::GitLab => "fa-git",
            Provider::Bitbucket => "fa-bitbucket",
        }
    }

    /// Buildbot's `authUriAdditionalParams`: the scope asked for, if any.
    pub fn scope(&self) -> Option<&'static str> {
        match self {
            Provider::Google => Some(
                "https://www.googleapis.com/auth/userinfo.email \
                 https://www.googleapis.com/auth/userinfo.profile",
            ),
            Provider::GitHub { .. } => Some("user:email read:org"),
            Provider::GitLab | Provider::Bitbucket => None,
        }
    }

    /// The user the access token belongs to, from the provider's API under `resource`.
    pub async fn user(
        &self,
        http: &reqwest::Client,
        resource: &str,
        access_token: &str,
    ) -> Result<User, Failure> {
        let scheme = match self {
            Provider::GitHub { .. } => "token",
            _ => "Bearer",
        };
        let api = Api {
            http,
            resource: resource.trim_end_matches('/'),
            authorization: format!("{scheme} {access_token}"),
            provider: self.name(),
        };
        match self {
            Provider::Google => google(&api).await,
            Provider::GitHub { graphql: None, .. } => github_rest(&api).await,
            Provider::GitHub {
                graphql: Some(endpoint),
                teams,
                debug,
            } => github_graphql(&api, endpoint, *teams, *debug).await,
            Provider::GitLab => gitlab(&api).await,
            Provider::Bitbucket => bitbucket(&api).await,
        }
    }
}

/// `GoogleAuth`: `{full_name, username (the email's local part), email, avatar_url}`.
async fn google(api: &Api<'_>) -> Result<User, Failure> {
    let info = api.get("/userinfo").await?;
    let email = api.required(&info, "email", "/userinfo")?;
    let username = email.split('@').next().unwrap_or_default().to_owned();
    Ok(user(
        username,
        text(&info, "name"),
        Some(email),
        Vec::new(),
        text(&info, "picture"),
    ))
}

/// `GitHubAuth` with `apiVersion = 3`: `{full_name, email (the primary one), username,
/// groups (the organizations)}`.
async fn github_rest(api: &Api<'_>) -> Result<User, Failure> {
    let me = api.get("/user").await?;
    let username = api.required(&me, "login", "/user")?;
    let emails = api.get("/user/emails").await?;
    let primary = api
        .list(&emails, "/user/emails")?
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .and_then(|e| text(e, "email"));
    let orgs = api.get("/user/orgs").await?;
    let groups = api
        .list(&orgs, "/user/orgs")?
        .iter()
        .filter_map(|org| text(org, "login"))
        .collect();
    Ok(user(
        username,
        text(&me, "name"),
        primary.or_else(|| text(&me, "email")),
        groups,
        None,
    ))
}

const VIEWER_QUERY: &str =
    "query { viewer { email login name organizations(first: 100) { edges { node { login } } } } }";

/// `GitHubAuth` with `apiVersion = 4`: the same user_info from GraphQL's `viewer`; with
/// `getTeamsMembership`, the user's teams of each organization are added as `org/name` and
/// `org/slug` groups (sorted, after the organizations), as Buildbot does.
async fn github_graphql(
    api: &Api<'_>,
    endpoint: &str,
    teams: bool,
    debug: bool,
) -> Result<User, Failure> {
    let data = api
        .graphql(endpoint, VIEWER_QUERY, json!({}), debug)
        .await?;
    let viewer = data.get("viewer").unwrap_or(&Value::Null);
    let username = api.required(viewer, "login", "GraphQL viewer")?;
    let mut groups: Vec<String> = viewer
        .pointer("/organizations/edges")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|edge| edge.pointer("/node/login").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    if teams && !groups.is_empty() {
        let mut found = team_groups(api, endpoint, &username, &groups, debug).await?;
        groups.append(&mut found);
    }
    let user = user(
        username,
        text(viewer, "name"),
        text(viewer, "email"),
        groups,
        None,
    );
    if debug {
        tracing::info!("GitHubAuth user details: {}", user.user_info());
    }
    Ok(user)
}

/// The `org/name` and `org/slug` groups of the teams `login` belongs to in `orgs`. The
/// organizations are GraphQL variables (`$o0`, …) under aliases `o0`, … rather than text
/// pasted into the query as Buildbot does (where an organization whose name starts with a
/// digit makes an invalid alias).
async fn team_groups(
    api: &Api<'_>,
    endpoint: &str,
    login: &str,
    orgs: &[String],
    debug: bool,
) -> Result<Vec<String>, Failure> {
    let mut parameters = vec!["$login: String!".to_owned()];
    let mut fields = Vec::new();
    let mut variables = Map::new();
    variables.insert("login".into(), json!(login));
    for (i, org) in orgs.iter().enumerate() {
        parameters.push(format!("$o{i}: String!"));
        fields.push(format!(
            "o{i}: organization(login: $o{i}) {{ teams(first: 100, userLogins: [$login]) \
             {{ edges {{ node {{ name slug }} }} }} }}"
        ));
        variables.insert(format!("o{i}"), json!(org));
    }
    let query = format!(
        "query getOrgTeamMembership({}) {{ {} }}",
        parameters.join(", "),
        fields.join(" ")
    );
    let data = api
        .graphql(endpoint, &query, Value::Object(variables), debug)
        .await?;
    let mut teams = std::collections::BTreeSet::new();
    for (i, org) in orgs.iter().enumerate() {
        // null: the organization restricts third-party access to its teams.
        let edges = data
            .pointer(&format!("/o{i}/teams/edges"))
            .and_then(Value::as_array);
        for node in edges.into_iter().flatten() {
            for key in ["name", "slug"] {
                if let Some(team) = node
                    .pointer(&format!("/node/{key}"))
                    .and_then(Value::as_str)
                {
                    teams.insert(format!("{org}/{team}"));
                }
            }
        }
    }
    Ok(teams.into_iter().collect())
}

/// `GitLabAuth`: `{full_name, username, email, avatar_url, groups (their paths)}`.
async fn gitlab(api: &Api<'_>) -> Result<User, Failure> {
    let me = api.get("/user").await?;
    let username = api.required(&me, "username", "/user")?;
    let groups = api.get("/groups").await?;
    let groups = api
        .list(&groups, "/groups")?
        .iter()
        .filter_map(|g| text(g, "path"))
        .collect();
    Ok(user(
        username,
        text(&me, "name"),
        text(&me, "email"),
        groups,
        text(&me, "avatar_url"),
    ))
}

/// `BitbucketAuth`: `{full_name, email (the primary one), username, groups (the workspaces'
/// slugs)}`.
async fn bitbucket(api: &Api<'_>) -> Result<User, Failure> {
    let me = api.get("/user").await?;
    let username = api.required(&me, "username", "/user")?;
    let emails = api.get("/user/emails").await?;
    let primary = api
        .list(emails.get("values").unwrap_or(&Value::Null), "/user/emails")?
        .iter()
        .find(|e| e.get("is_primary") == Some(&Value::Bool(true)))
        .and_then(|e| text(e, "email"));
    let workspaces = api.get("/workspaces?role=member").await?;
    let groups = api
        .list(
            workspaces.get("values").unwrap_or(&Value::Null),
            "/workspaces",
        )?
        .iter()
        .filter_map(|w| text(w, "slug"))
        .collect();
    Ok(user(
        username,
        text(&me, "display_name"),
        primary.or_else(|| text(&me, "email")),
        groups,
        None,
    ))
}

fn user(
    username: String,
    full_name: Option<String>,
    email: Option<String>,
    groups: Vec<String>,
    avatar_url: Option<String>,
) -> User {
    let mut extra = Map::new();
    if let Some(url) = avatar_url {
        extra.insert("avatar_url".into(), Value::String(url));
    }
    User::Known {
        username,
        full_name,
        email,
        groups,
        extra,
    }
}

/// A string field of a JSON object.
fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A provider's API, called with the user's access token.
struct Api<'a> {
    http: &'a reqwest::Client,
    resource: &'a str,
    authorization: String,
    provider: &'static str,
}

impl Api<'_> {
    /// GET `<resource><path>` as JSON.
    async fn get(&self, path: &str) -> Result<Value, Failure> {
        let request = self.http.get(format!("{}{path}", self.resource));
        self.send(request, path).await
    }

    /// A GraphQL query's `data`; fails when the answer has none (its first error is told).
    async fn graphql(
        &self,
        endpoint: &str,
        query: &str,
        variables: Value,
        debug: bool,
    ) -> Result<Value, Failure> {
        if debug {
            tracing::info!("GitHubAuth GraphQL request to {endpoint}: {query} {variables}");
        }
        let request = self
            .http
            .post(endpoint)
            .json(&json!({"query": query, "variables": variables}));
        let answer = self.send(request, "GraphQL API").await?;
        if debug {
            tracing::info!("GitHubAuth GraphQL answer: {answer}");
        }
        match answer.get("data") {
            Some(data) if data.is_object() => Ok(data.clone()),
            _ => Err(Failure::Provider(format!(
                "{}'s GraphQL API answered without data: {}",
                self.provider,
                answer
                    .pointer("/errors/0/message")
                    .and_then(Value::as_str)
                    .unwrap_or("no error message")
            ))),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Value, Failure> {
        let response = request
            .header(AUTHORIZATION, &self.authorization)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| unreachable(self.provider, what, &err))?;
        let status = response.status();
        let body = read_answer(response, self.provider, what).await?;
        if !status.is_success() {
            return Err(Failure::Provider(format!(
                "{}'s {what} answered {status}",
                self.provider
            )));
        }
        serde_json::from_slice(&body).map_err(|_| {
            Failure::Provider(format!("{}'s {what} answer is not JSON", self.provider))
        })
    }

    /// A required string field of an answer.
    fn required(&self, value: &Value, key: &str, what: &str) -> Result<String, Failure> {
        text(value, key).ok_or_else(|| {
            Failure::Provider(format!(
                "{}'s {what} answer has no '{key}' text",
                self.provider
            ))
        })
    }

    /// An answer that must be a list.
    fn list<'v>(&self, value: &'v Value, what: &str) -> Result<&'v Vec<Value>, Failure> {
        value.as_array().ok_or_else(|| {
            Failure::Provider(format!("{}'s {what} answer is not a list", self.provider))
        })
    }
}

/// A whole answer, at most [`MAX_ANSWER`] bytes.
pub(super) async fn read_answer(
    mut response: reqwest::Response,
    provider: &str,
    what: &str,
) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| unreachable(provider, what, &err))?
    {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(Failure::Provider(format!(
                "{provider}'s {what} answer is larger than {MAX_ANSWER} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A request that got no (whole) answer, with reqwest's reasons but not the URL (it is
/// written by us: `what` names the endpoint).
pub(super) fn unreachable(provider: &str, what: &str, err: &reqwest::Error) -> Failure {
    let mut reasons = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    while let Some(reason) = source {
        reasons.push(reason.to_string());
        source = reason.source();
    }
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    Failure::Provider(format!(
        "the request to {provider}'s {what} {kind}{}{}",
        if reasons.is_empty() { "" } else { ": " },
        reasons.join(": ")
    ))
}

/// The HTTP client for one provider: Buildbot's 30-second limit per request, the standard
/// proxy variables (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, reqwest's default),
/// the system's trusted certificates, or none checked with `ssl_verify = false`.
pub(super) fn client(ssl_verify: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("buildbot-www/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .danger_accept_invalid_certs(!ssl_verify)
        .build()
}
