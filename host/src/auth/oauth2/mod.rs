//! The OAuth2 login classes (`GoogleAuth`, `GitHubAuth`, `GitLabAuth`, `BitbucketAuth`) on
//! Buildbot's paths: `/auth/login?redirect=X` sends the browser to the provider, which sends it
//! back to `/auth/login?code=…&state=…`; the code is exchanged for an access token, the user is
//! read from the provider's API, and the session starts.
//!
//! Over Buildbot: the `state` is bound to the browser (see [`state`]), the provider's errors
//! and a provider that cannot be reached give a page that says what happened, and the client
//! secret travels only in the token request's body.

mod providers;
mod state;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, Response, StatusCode};
use serde_json::{json, Value};

use super::session::{self, now};
use super::{answer, found, home_at, redirect_path, Authentication};
use crate::config::{Auth, Config, Secret, UserInfoProvider};
use crate::metrics::LoginFailure;
use providers::Provider;

/// One configured OAuth2 class: the provider, the client registered with it, its endpoints.
#[derive(Debug)]
pub struct OAuth2 {
    provider: Provider,
    client_id: String,
    client_secret: Secret,
    auth_uri: String,
    token_uri: String,
    resource_endpoint: String,
    user_info_provider: Option<UserInfoProvider>,
    /// `<buildbotURL>auth/login`: where the provider sends the browser back.
    login_uri: String,
    /// The path of `login_uri`, for the state cookie.
    login_path: String,
    http: reqwest::Client,
}

/// A configured OAuth2 class as the config writes it.
struct Class<'a> {
    provider: Provider,
    client_id: &'a str,
    client_secret: &'a Secret,
    /// The authorize, token and API endpoints: the config's, else the provider's.
    endpoints: [String; 3],
    autologin: bool,
    ssl_verify: bool,
    user_info_provider: &'a Option<UserInfoProvider>,
}

/// The [`Class`] of a config table `$a` (every OAuth2 table has the same keys) for `$provider`,
/// whose own endpoints are `$defaults` (authorize, token, API).
macro_rules! class {
    ($a:expr, $provider:expr, $defaults:expr) => {{
        let mut endpoints: [String; 3] = $defaults;
        for (endpoint, configured) in
            endpoints
                .iter_mut()
                .zip([&$a.auth_uri, &$a.token_uri, &$a.resource_endpoint])
        {
            if let Some(url) = configured {
                endpoint.clone_from(url);
            }
        }
        Class {
            provider: $provider,
            client_id: &$a.client_id,
            client_secret: &$a.client_secret,
            endpoints,
            autologin: $a.autologin,
            ssl_verify: $a.ssl_verify,
            user_info_provider: &$a.user_info_provider,
        }
    }};
}

impl<'a> Class<'a> {
    /// The OAuth2 class `auth` chooses, if it chooses one.
    fn of(auth: &'a Auth) -> Option<Class<'a>> {
        Some(match auth {
            Auth::GoogleAuth(a) => class!(
                a,
                Provider::Google,
                [
                    "https://accounts.google.com/o/oauth2/auth".to_owned(),
                    "https://accounts.google.com/o/oauth2/token".to_owned(),
                    "https://www.googleapis.com/oauth2/v1".to_owned(),
                ]
            ),
            Auth::GitHubAuth(a) => {
                // GitHub Enterprise serves the REST API under /api/v3 and GraphQL at
                // /api/graphql; github.com serves them at api.github.com.
                let server = a.server_url.as_deref().map(|s| s.trim_end_matches('/'));
                let (site, api) = match server {
                    Some(server) => (server.to_owned(), format!("{server}/api/v3")),
                    None => (
                        "https://github.com".to_owned(),
                        "https://api.github.com".to_owned(),
                    ),
                };
                let graphql = match server {
                    Some(server) => format!("{server}/api/graphql"),
                    None => {
                        let api = a.resource_endpoint.as_deref().unwrap_or(&api);
                        format!("{}/graphql", api.trim_end_matches('/'))
                    }
                };
                let provider = Provider::GitHub {
                    graphql: (a.api_version == 4).then_some(graphql),
                    teams: a.get_teams_membership,
                    debug: a.debug,
                };
                class!(
                    a,
                    provider,
                    [
                        format!("{site}/login/oauth/authorize"),
                        format!("{site}/login/oauth/access_token"),
                        api,
                    ]
                )
            }
            Auth::GitLabAuth(a) => {
                let instance = a.instance_uri.trim_end_matches('/');
                class!(
                    a,
                    Provider::GitLab,
                    [
                        format!("{instance}/oauth/authorize"),
                        format!("{instance}/oauth/token"),
                        format!("{instance}/api/v4"),
                    ]
                )
            }
            Auth::BitbucketAuth(a) => class!(
                a,
                Provider::Bitbucket,
                [
                    "https://bitbucket.org/site/oauth2/authorize".to_owned(),
                    "https://bitbucket.org/site/oauth2/access_token".to_owned(),
                    "https://api.bitbucket.org/2.0".to_owned(),
                ]
            ),
            _ => return None,
        })
    }
}

/// The provider's name and `autologin` of the OAuth2 class `auth` chooses, for the UI's login
/// button; `None` for other methods.
pub fn button(auth: &Auth) -> Option<(&'static str, bool)> {
    Class::of(auth).map(|class| (class.provider.name(), class.autologin))
}

/// `/config`'s `auth`, as Buildbot's `getConfigDict`: the class name, or for an OAuth2 class
/// the provider's name, `oauth2`, the button's icon and `autologin`.
pub fn config_dict(auth: &Auth) -> Value {
    match Class::of(auth) {
        Some(class) => json!({
            "name": class.provider.name(),
            "oauth2": true,
            "fa_icon": class.provider.fa_icon(),
            "autologin": class.autologin,
        }),
        None => json!({"name": auth.name()}),
    }
}

impl OAuth2 {
    /// The OAuth2 class `config` chooses, if it chooses one.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<OAuth2>> {
        let Some(class) = Class::of(&config.www.auth) else {
            return Ok(None);
        };
        let [auth_uri, token_uri, resource_endpoint] = class.endpoints;
        let login_uri = format!("{}auth/login", config.buildbot_url);
        Ok(Some(OAuth2 {
            provider: class.provider,
            client_id: class.client_id.to_owned(),
            client_secret: class.client_secret.clone(),
            auth_uri,
            token_uri,
            resource_endpoint,
            user_info_provider: class.user_info_provider.clone(),
            login_path: url_path(&login_uri),
            login_uri,
            http: providers::client(class.ssl_verify)
                .map_err(|err| anyhow::anyhow!("cannot set up the OAuth2 HTTP client: {err}"))?,
        }))
    }

    /// The provider's authorization page for a login with `state`, with Buildbot's parameters
    /// in Buildbot's (sorted) order.
    fn authorize_url(&self, state: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.login_uri)
            .append_pair("response_type", "code");
        if let Some(scope) = self.provider.scope() {
            query.append_pair("scope", scope);
        }
        query.append_pair("state", state);
        let joiner = if self.auth_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{joiner}{}", self.auth_uri, query.finish())
    }

    /// The access token for an authorization `code`, from the token endpoint. The client
    /// secret goes in the form body, never in a URL.
    async fn access_token(&self, code: &str) -> Result<String, Failure> {
        let name = self.provider.name();
        let what = "token endpoint";
        let response = self
            .http
            .post(&self.token_uri)
            .header(header::ACCEPT, "application/json")
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.expose()),
                ("code", code),
                ("grant_type", "authorization_code"),
                ("redirect_uri", self.login_uri.as_str()),
            ])
            .send()
            .await
            .map_err(|err| providers::unreachable(name, what, &err))?;
        let status = response.status();
        let body = providers::read_answer(response, name, what).await?;
        // JSON, or the form encoding GitHub answers with when not asked for JSON.
        let answer: Option<Value> = serde_json::from_slice(&body).ok().or_else(|| {
            let pairs: serde_json::Map<String, Value> = form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            (pairs.contains_key("access_token") || pairs.contains_key("error"))
                .then_some(Value::Object(pairs))
        });
        let field = |key: &str| {
            answer
                .as_ref()
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
        };
        if let Some(error) = field("error") {
            let description = field("error_description")
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return Err(Failure::Provider(format!(
                "{name} refused the login's code ({status}): {error}{description}"
            )));
        }
        if !status.is_success() {
            return Err(Failure::Provider(format!(
                "{name}'s {what} answered {status}"
            )));
        }
        match (answer.is_some(), field("access_token")) {
            (_, Some(token)) if !token.is_empty() => Ok(token.to_owned()),
            (true, _) => Err(Failure::Provider(format!(
                "{name}'s {what} answer has no access_token"
            ))),
            (false, _) => Err(Failure::Provider(format!(
                "{name}'s {what} answer is neither JSON nor a form"
            ))),
        }
    }
}

/// The path of an absolute URL (`/` when it has none).
fn url_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(at) => after_scheme[at..].to_owned(),
        None => "/".to_owned(),
    }
}

/// Why an OAuth2 login did not complete. Every text is for the user's page and the log, so
/// none may hold a secret (the messages are written here; a provider's own error text is
/// shown escaped).
#[derive(Debug)]
enum Failure {
    /// The provider sent the browser back with `?error=` (the user declined, or the
    /// application is not set up right at the provider).
    Refused(String),
    /// The callback's `state` does not belong to this browser.
    State(state::StateError),
    /// The provider could not be reached, or answered with an error or something unreadable.
    Provider(String),
    /// This server could not finish the login (session secret, user info provider).
    Server(String),
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::Refused(_) | Failure::State(_) => StatusCode::FORBIDDEN,
            Failure::Provider(_) => StatusCode::BAD_GATEWAY,
            Failure::Server(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Refused(m) | Failure::Provider(m) | Failure::Server(m) => m.clone(),
            Failure::State(e) => e.to_string(),
        }
    }
}

/// Longest reason shown on an error page (a provider's error text is part of it).
const MAX_SHOWN: usize = 600;

/// `/auth/login` for an OAuth2 class: starts a login, or finishes one the provider sent back.
pub(super) async fn login(
    auth: &Arc<Authentication>,
    oauth: &OAuth2,
    request: Request,
) -> Response<Body> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return answer(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET, HEAD")
            .body(Body::empty())
            .unwrap_or_default();
    }
    let query = request.uri().query().unwrap_or_default();
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let client = crate::http::forwarded::of_extensions(request.extensions());
    let secure = auth.sessions.secure(client.https);
    let clear = state_cookie(oauth, "", 0, secure);
    if let Some(error) = param("error") {
        let description = param("error_description")
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        let failure = Failure::Refused(format!(
            "{} did not let you log in: {error}{description}",
            oauth.provider.name(),
        ));
        return failed(auth, oauth, &failure, &clear);
    }
    let Some(code) = param("code") else {
        return start(auth, oauth, redirect_path(Some(query)), secure).await;
    };
    let nonce = session::cookie_in(request.headers(), state::COOKIE).map(str::to_owned);
    match finish(
        auth,
        oauth,
        &code,
        nonce.as_deref(),
        &param("state").unwrap_or_default(),
        client.https,
    )
    .await
    {
        Ok((page, session_cookie)) => found(
            &home_at(&auth.public_root(&client), &page),
            &[session_cookie.as_str(), clear.as_str()],
        ),
        Err(failure) => failed(auth, oauth, &failure, &clear),
    }
}

/// Sends the browser to the provider, with a new nonce cookie and the state bound to it.
async fn start(
    auth: &Authentication,
    oauth: &OAuth2,
    page: String,
    secure: bool,
) -> Response<Body> {
    let started = match auth.sessions.derived_key(state::KEY_PURPOSE).await {
        Ok(key) => state::start(&key, &page, now())
            .map_err(|err| Failure::Server(format!("no random numbers for the login: {err}"))),
        Err(err) => Err(Failure::Server(err.to_string())),
    };
    match started {
        Ok(started) => found(
            &oauth.authorize_url(&started.state),
            &[state_cookie(oauth, &started.nonce, state::LIFETIME, secure).as_str()],
        ),
        Err(failure) => failed(auth, oauth, &failure, ""),
    }
}

/// Checks the state, reads the user and issues the session: the page to return to and the
/// session cookie.
async fn finish(
    auth: &Authentication,
    oauth: &OAuth2,
    code: &str,
    nonce: Option<&str>,
    state: &str,
    https: bool,
) -> Result<(String, String), Failure> {
    let key = auth
        .sessions
        .derived_key(state::KEY_PURPOSE)
        .await
        .map_err(|err| Failure::Server(err.to_string()))?;
    let page = state::check(&key, nonce, state, now()).map_err(Failure::State)?;
    let token = oauth.access_token(code).await?;
    let user = oauth
        .provider
        .user(&oauth.http, &oauth.resource_endpoint, &token)
        .await?;
    let user = super::user_info::complete(oauth.user_info_provider.as_ref(), user)
        .await
        .map_err(|err| Failure::Server(format!("the user info provider failed: {err}")))?;
    let session = auth
        .sessions
        .issue(&user)
        .await
        .map_err(|err| Failure::Server(err.to_string()))?;
    Ok((page, auth.sessions.cookie(&session, https)))
}

/// The page of a failed login: what happened (escaped), a link back; logged without secrets.
fn failed(
    auth: &Authentication,
    oauth: &OAuth2,
    failure: &Failure,
    clear_cookie: &str,
) -> Response<Body> {
    auth.logins.failed(match failure {
        Failure::Refused(_) | Failure::State(_) => LoginFailure::BadCredentials,
        Failure::Provider(_) | Failure::Server(_) => LoginFailure::Error,
    });
    let name = oauth.provider.name();
    // A provider could echo what it was sent; the client secret is never shown.
    let message = shorten(
        &failure
            .message()
            .replace(oauth.client_secret.expose(), "***"),
    );
    tracing::warn!("login with {name} failed: {message}");
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Login with {name} failed</title></head>\n\
         <body><h1>Login with {name} failed</h1>\n<p id=\"reason\">{}</p>\n\
         <p><a href=\"{}\">Back to Buildbot</a> · <a href=\"{}\">Try again</a></p></body></html>\n",
        minijinja::HtmlEscape(&message),
        minijinja::HtmlEscape(&auth.buildbot_url),
        minijinja::HtmlEscape(&oauth.login_uri),
    );
    let mut response = answer(failure.status())
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(page))
        .unwrap_or_default();
    if !clear_cookie.is_empty() {
        if let Ok(cookie) = HeaderValue::from_str(clear_cookie) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// The `Set-Cookie` value of the state cookie (`max_age` 0 removes it).
fn state_cookie(oauth: &OAuth2, nonce: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{}={nonce}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        state::COOKIE,
        oauth.login_path
    )
}

/// At most [`MAX_SHOWN`] characters of a reason.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_cookie_is_scoped_to_the_login_path() {
        assert_eq!(
            url_path("https://ci.example.org/bb/auth/login"),
            "/bb/auth/login"
        );
        assert_eq!(url_path("http://localhost:8010/auth/login"), "/auth/login");
        assert_eq!(url_path("http://localhost:8010"), "/");
    }

    #[test]
    fn provider_text_is_cut() {
        assert_eq!(shorten("short"), "short");
        let long = "é".repeat(MAX_SHOWN + 5);
        assert_eq!(shorten(&long).chars().count(), MAX_SHOWN + 1);
    }
}
