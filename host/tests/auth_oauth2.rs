//! The OAuth2 classes (`GitHubAuth` v3 and v4, `GoogleAuth`, `GitLabAuth`, `BitbucketAuth`)
//! against a fake provider served by the test on 127.0.0.1 that speaks each provider's real
//! endpoints: whole login flows over HTTP (and one in the headless browser), the user_info each
//! class gives as Buildbot 4.3 does, and the bad cases: a forged `state`, another browser's
//! `state`, a provider error, a token endpoint answering garbage or an error, an unreachable
//! provider. The client secret never shows in a URL, a page or the provider's access log.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::common;

const CLIENT_ID: &str = "bb-client-id";
const CLIENT_SECRET: &str = "s3cr3t-client-value";

/// What the fake provider does wrong, if anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    Normal,
    /// The authorize page sends the user back with `?error=access_denied`.
    Deny,
    /// The token endpoint answers 200 with HTML.
    TokenGarbage,
    /// The token endpoint answers 400 `{"error": "invalid_grant"}`.
    TokenError,
    /// The token endpoint answers 500 with an empty body.
    Token500,
    /// The user API answers 401 to every token.
    UserUnauthorized,
}

/// The fake provider's memory: issued codes and tokens, and everything it was sent.
#[derive(Default)]
struct Fake {
    mode: Mutex<Mode>,
    /// code -> the redirect_uri it was issued for
    codes: Mutex<HashMap<String, String>>,
    tokens: Mutex<HashSet<String>>,
    /// Every request's method and URI, as an access log would keep them.
    access_log: Mutex<Vec<String>>,
    /// The bodies the token endpoint received.
    token_bodies: Mutex<Vec<String>>,
    /// The scopes the authorize page was asked for.
    scopes: Mutex<Vec<Option<String>>>,
    /// The `Authorization` values the user APIs received.
    authorizations: Mutex<Vec<String>>,
}

type Shared = Arc<Fake>;

impl Fake {
    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap()
    }

    fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn token_requests(&self) -> usize {
        self.token_bodies.lock().unwrap().len()
    }
}

/// The provider's authorization page, as every provider has one: the user agrees at once.
async fn authorize(
    State(fake): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(q.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
    fake.scopes.lock().unwrap().push(q.get("scope").cloned());
    let redirect_uri = q.get("redirect_uri").expect("redirect_uri").clone();
    let state = q.get("state").cloned().unwrap_or_default();
    let mut back = form_urlencoded::Serializer::new(String::new());
    if fake.mode() == Mode::Deny {
        back.append_pair("error", "access_denied")
            .append_pair("error_description", "The user <b>denied</b> access & left");
    } else {
        let code = format!("code-{}", fake.codes.lock().unwrap().len() + 1);
        fake.codes
            .lock()
            .unwrap()
            .insert(code.clone(), redirect_uri.clone());
        back.append_pair("code", &code);
    }
    back.append_pair("state", &state);
    Redirect::to(&format!("{redirect_uri}?{}", back.finish())).into_response()
}

/// The token endpoint: a form with the code and the client's credentials.
async fn token(State(fake): State<Shared>, headers: HeaderMap, body: String) -> Response {
    fake.token_bodies.lock().unwrap().push(body.clone());
    let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    match fake.mode() {
        Mode::TokenGarbage => return "<html>not a token</html>".into_response(),
        Mode::Token500 => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Mode::TokenError => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_grant", "error_description": "The code <expired>"})),
            )
                .into_response()
        }
        _ => {}
    }
    let field = |key: &str| form.get(key).map(String::as_str);
    assert_eq!(field("client_id"), Some(CLIENT_ID));
    assert_eq!(field("client_secret"), Some(CLIENT_SECRET));
    assert_eq!(field("grant_type"), Some("authorization_code"));
    let code = field("code").expect("code");
    let issued_for = fake.codes.lock().unwrap().remove(code);
    if issued_for.is_none() || issued_for.as_deref() != field("redirect_uri") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "bad_verification_code"})),
        )
            .into_response();
    }
    let access_token = format!("tok-{code}");
    fake.tokens.lock().unwrap().insert(access_token.clone());
    if headers
        .get("accept")
        .is_some_and(|a| a.as_bytes() == b"application/json")
    {
        Json(json!({"access_token": access_token, "token_type": "bearer"})).into_response()
    } else {
        // GitHub's default answer
        format!("access_token={access_token}&scope=user%3Aemail&token_type=bearer").into_response()
    }
}

/// The user API's answer `body` if the request carries a token this provider issued, in
/// `scheme` (`token` for GitHub, `Bearer` for the others).
fn api(fake: &Fake, headers: &HeaderMap, scheme: &str, body: Value) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    fake.authorizations
        .lock()
        .unwrap()
        .push(authorization.clone());
    let valid = authorization
        .strip_prefix(scheme)
        .and_then(|rest| rest.strip_prefix(' '))
        .is_some_and(|token| fake.tokens.lock().unwrap().contains(token));
    if !valid || fake.mode() == Mode::UserUnauthorized {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    Json(body).into_response()
}

fn github_orgs() -> Value {
    json!([{"login": "springfield"}, {"login": "42-plant"}])
}

/// GitHub's GraphQL API: the viewer, and team memberships by organization.
async fn github_graphql(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Json(request): Json<Value>,
) -> Response {
    let query = request["query"].as_str().unwrap_or_default();
    let variables = &request["variables"];
    let body = if query.contains("viewer") {
        json!({"data": {"viewer": {
            "email": "homer@public.example", "login": "homer", "name": "Homer Simpson",
            "organizations": {"edges": [
                {"node": {"login": "springfield"}},
                {"node": {"login": "42-plant"}},
                {"node": {"login": "locked-org"}},
            ]}
        }}})
    } else if query.contains("getOrgTeamMembership") {
        assert_eq!(variables["login"], "homer", "{request}");
        assert!(query.contains("userLogins: [$login]"), "{query}");
        let mut data = serde_json::Map::new();
        let mut errors = Vec::new();
        for (alias, org) in variables.as_object().unwrap() {
            if alias == "login" {
                continue;
            }
            assert!(query.contains(&format!("{alias}: organization(login: ${alias})")));
            let teams = match org.as_str().unwrap() {
                "springfield" => json!({"teams": {"edges": [
                    {"node": {"name": "Core Developers", "slug": "core-developers"}}]}}),
                "42-plant" => {
                    json!({"teams": {"edges": [{"node": {"name": "safety", "slug": "safety"}}]}})
                }
                _ => {
                    errors.push(json!({"message": "OAuth App access restrictions"}));
                    Value::Null
                }
            };
            data.insert(alias.clone(), teams);
        }
        json!({"data": data, "errors": errors})
    } else {
        json!({"errors": [{"message": "unknown query"}]})
    };
    api(&fake, &headers, "token", body)
}

/// The fake provider: every provider's endpoints on one server.
fn provider_routes(fake: Shared) -> Router {
    let get_api = |scheme: &'static str, body: Value| {
        get(move |State(fake): State<Shared>, headers: HeaderMap| {
            let body = body.clone();
            async move { api(&fake, &headers, scheme, body) }
        })
    };
    Router::new()
        // authorize and token endpoints: GitHub, Google, GitLab, Bitbucket
        .route("/login/oauth/authorize", get(authorize))
        .route("/o/oauth2/auth", get(authorize))
        .route("/oauth/authorize", get(authorize))
        .route("/site/oauth2/authorize", get(authorize))
        .route("/login/oauth/access_token", post(token))
        .route("/o/oauth2/token", post(token))
        .route("/oauth/token", post(token))
        .route("/site/oauth2/access_token", post(token))
        // GitHub (Enterprise): REST under /api/v3, GraphQL at /api/graphql
        .route(
            "/api/v3/user",
            get_api(
                "token",
                json!({"login": "homer", "name": "Homer Simpson", "email": "homer@public.example"}),
            ),
        )
        .route(
            "/api/v3/user/emails",
            get_api(
                "token",
                json!([
                    {"email": "homer@old.example", "primary": false},
                    {"email": "homer@primary.example", "primary": true},
                ]),
            ),
        )
        .route("/api/v3/user/orgs", get_api("token", github_orgs()))
        .route("/api/graphql", post(github_graphql))
        // Google
        .route(
            "/oauth2/v1/userinfo",
            get_api(
                "Bearer",
                json!({"email": "marge@gmail.example", "name": "Marge Simpson",
                       "picture": "https://pictures.example/marge.png"}),
            ),
        )
        // GitLab
        .route(
            "/api/v4/user",
            get_api(
                "Bearer",
                json!({"username": "lisa", "name": "Lisa Simpson", "email": "lisa@gitlab.example",
                       "avatar_url": "https://gitlab.example/lisa.png"}),
            ),
        )
        .route(
            "/api/v4/groups",
            get_api(
                "Bearer",
                json!([{"path": "saxophone"}, {"path": "debate-club"}]),
            ),
        )
        // Bitbucket
        .route(
            "/2.0/user",
            get_api(
                "Bearer",
                json!({"username": "bart", "display_name": "Bart Simpson", "nickname": "elbarto"}),
            ),
        )
        .route(
            "/2.0/user/emails",
            get_api(
                "Bearer",
                json!({"values": [
                    {"email": "bart@alt.example", "is_primary": false},
                    {"email": "bart@bitbucket.example", "is_primary": true},
                ]}),
            ),
        )
        .route(
            "/2.0/workspaces",
            get_api("Bearer", json!({"values": [{"slug": "skateboards"}]})),
        )
        .layer(axum::middleware::from_fn_with_state(
            fake.clone(),
            |State(fake): State<Shared>,
             request: axum::extract::Request,
             next: axum::middleware::Next| async move {
                fake.access_log.lock().unwrap().push(format!(
                    "{} {}",
                    request.method(),
                    request.uri()
                ));
                next.run(request).await
            },
        ))
        .with_state(fake)
}

/// A running fake provider.
struct Provider {
    base: String,
    fake: Shared,
}

async fn provider() -> Provider {
    let fake = Shared::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = provider_routes(fake.clone());
    tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
    Provider { base, fake }
}

/// The server with this `[www.auth]` table, its `buildbotURL` its own address (the provider
/// sends the browser back there).
async fn server(auth_lines: &str) -> common::Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::reference_dir().join("state.sqlite"),
        dir.path().join("state.sqlite"),
    )
    .unwrap();
    let path = common::MasterToml::reference()
        .set(&["buildbotURL"], format!("{base}/"))
        .www_toml(&format!("[www.auth]\n{auth_lines}"))
        .write(dir.path());
    let config = buildbot_www::config::load(&path).expect("config loads");
    let limits = config.www.limits;
    let data = buildbot_www::server::data_api(&config).await.unwrap();
    let state = buildbot_www::server::AppState::new(
        config,
        data,
        buildbot_www::plugins::Registry::default(),
    )
    .expect("state");
    let app = buildbot_www::server::app(state);
    tokio::spawn(buildbot_www::http::serve(
        listener,
        app.clone(),
        limits,
        std::future::pending(),
    ));
    common::Server { base, app, dir }
}

fn credentials() -> String {
    format!("clientId = \"{CLIENT_ID}\"\nclientSecret = \"{CLIENT_SECRET}\"\n")
}

fn github(provider: &Provider, extra: &str) -> String {
    format!(
        "type = \"GitHubAuth\"\n{}serverURL = \"{}/\"\n{extra}",
        credentials(),
        provider.base
    )
}

/// The test's own client (the browser): redirects not followed, the TLS front's certificate
/// accepted.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The `Set-Cookie` values of an answer.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// `name=value` of the cookie `name` an answer sets.
fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    set_cookies(response)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

const STATE_COOKIE: &str = "BUILDBOT_OAUTH2_STATE";

/// A login begun in one browser: the provider's URL and the browser's state cookie.
struct Begun {
    authorize_url: String,
    cookie: String,
}

async fn begin(server: &common::Server, redirect: &str) -> Begun {
    let response = client()
        .get(format!("{}/auth/login?redirect={redirect}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/auth/login",
        "Max-Age=600",
    ] {
        assert!(cookies[0].contains(attribute), "{}", cookies[0]);
    }
    Begun {
        authorize_url: location(&response),
        cookie: cookie_pair(&response, STATE_COOKIE).expect("a state cookie"),
    }
}

/// The provider's redirect back to the server (its `/auth/login?code=…&state=…`).
async fn consent(authorize_url: &str) -> String {
    let response = client().get(authorize_url).send().await.unwrap();
    assert_eq!(response.status(), 303, "{authorize_url}");
    location(&response)
}

async fn callback(url: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = client().get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// `/config` as seen with a `Cookie` header (or none).
async fn config(server: &common::Server, cookie: Option<&str>) -> Value {
    let mut request = client().get(format!("{}/config", server.base));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    serde_json::from_str(&request.send().await.unwrap().text().await.unwrap()).unwrap()
}

/// A whole login returning to `/builders`: checks the redirects and cookies on the way and
/// returns `/config`'s `user` with the session.
async fn log_in(server: &common::Server, provider: &Provider) -> Value {
    let begun = begin(server, "/builders").await;
    assert!(
        begun.authorize_url.starts_with(&provider.base),
        "{}",
        begun.authorize_url
    );
    let back = consent(&begun.authorize_url).await;
    assert!(
        back.starts_with(&format!("{}/auth/login?code=", server.base)),
        "{back}"
    );
    let response = callback(&back, Some(&begun.cookie)).await;
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
    assert_eq!(location(&response), format!("{}/#/builders", server.base));
    let cookies = set_cookies(&response);
    assert_eq!(
        cookies
            .iter()
            .filter(|c| c.starts_with("TWISTED_SESSION="))
            .count(),
        1,
        "one session cookie: {cookies:?}"
    );
    let cleared = cookies
        .iter()
        .find(|c| c.starts_with(&format!("{STATE_COOKIE}=;")))
        .expect("the state cookie is removed");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let session = cookie_pair(&response, "TWISTED_SESSION").unwrap();
    let user = config(server, Some(&session)).await["user"].clone();
    assert_no_secret(provider, &user.to_string());
    user
}

/// The client secret is nowhere in `text`, nor in any URL the provider was asked for.
fn assert_no_secret(provider: &Provider, text: &str) {
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    for line in provider.fake.access_log.lock().unwrap().iter() {
        assert!(!line.contains(CLIENT_SECRET), "{line}");
    }
}

/// The parameters of the provider URL a login starts with.
fn authorize_params(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').unwrap().1;
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test]
async fn github_rest_login_gives_buildbots_user_info() {
    let provider = provider().await;
    let server = server(&github(&provider, "")).await;
    assert_eq!(
        config(&server, None).await["auth"],
        json!({"name": "GitHub", "oauth2": true, "fa_icon": "fa-github", "autologin": false})
    );
    // Buildbot's authorize URL: its parameters in its order, and a state
    let begun = begin(&server, "/builders").await;
    let (path, query) = begun.authorize_url.split_once('?').unwrap();
    assert_eq!(path, format!("{}/login/oauth/authorize", provider.base));
    let keys: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, _)| k.into_owned())
        .collect();
    assert_eq!(
        keys,
        [
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state"
        ]
    );
    let params = authorize_params(&begun.authorize_url);
    assert_eq!(
        params["redirect_uri"],
        format!("{}/auth/login", server.base)
    );
    assert_eq!(params["scope"], "user:email read:org");

    let user = log_in(&server, &provider).await;
    assert_eq!(
        user,
        json!({"username": "homer", "full_name": "Homer Simpson",
               "email": "homer@primary.example", "groups": ["springfield", "42-plant"]})
    );
    // the token went in GitHub's header, the secret only in the token request's body
    let authorizations = provider.fake.authorizations.lock().unwrap().clone();
    assert_eq!(authorizations.len(), 3, "/user, /user/emails, /user/orgs");
    assert!(authorizations.iter().all(|a| a.starts_with("token tok-")));
    let bodies = provider.fake.token_bodies.lock().unwrap().clone();
    assert!(bodies.iter().all(|b| b.contains("client_secret=")));
    let log = provider.fake.access_log.lock().unwrap().clone();
    assert!(log.iter().any(|l| l == "GET /api/v3/user/orgs"), "{log:?}");
    assert!(
        log.iter().all(|l| !l.contains("tok-")),
        "no access token in a URL: {log:?}"
    );
}

#[tokio::test]
async fn github_graphql_login_adds_team_groups() {
    let provider = provider().await;
    let server = server(&github(
        &provider,
        "apiVersion = 4\ngetTeamsMembership = true\ndebug = true\n",
    ))
    .await;
    let user = log_in(&server, &provider).await;
    assert_eq!(
        user,
        json!({"username": "homer", "full_name": "Homer Simpson", "email": "homer@public.example",
               "groups": ["springfield", "42-plant", "locked-org", "42-plant/safety",
                          "springfield/Core Developers", "springfield/core-developers"]})
    );
    let log = provider.fake.access_log.lock().unwrap().clone();
    assert_eq!(
        log.iter().filter(|l| *l == "POST /api/graphql").count(),
        2,
        "{log:?}"
    );
    // without getTeamsMembership: the organizations only, one query
    let provider = self::provider().await;
    let server = self::server(&github(&provider, "apiVersion = 4\n")).await;
    let user = log_in(&server, &provider).await;
    assert_eq!(
        user["groups"],
        json!(["springfield", "42-plant", "locked-org"])
    );
}

#[tokio::test]
async fn google_gitlab_and_bitbucket_logins_give_buildbots_user_info() {
    let provider = provider().await;
    let base = &provider.base;
    let google = server(&format!(
        "type = \"GoogleAuth\"\n{}autologin = true\nauthUri = \"{base}/o/oauth2/auth\"\n\
         tokenUri = \"{base}/o/oauth2/token\"\nresourceEndpoint = \"{base}/oauth2/v1\"\n",
        credentials()
    ))
    .await;
    assert_eq!(
        config(&google, None).await["auth"],
        json!({"name": "Google", "oauth2": true, "fa_icon": "fa-google-plus", "autologin": true})
    );
    assert_eq!(
        log_in(&google, &provider).await,
        json!({"username": "marge", "full_name": "Marge Simpson", "email": "marge@gmail.example",
               "avatar_url": "https://pictures.example/marge.png"})
    );

    let gitlab = server(&format!(
        "type = \"GitLabAuth\"\ninstanceUri = \"{base}\"\n{}",
        credentials()
    ))
    .await;
    assert_eq!(
        config(&gitlab, None).await["auth"],
        json!({"name": "GitLab", "oauth2": true, "fa_icon": "fa-git", "autologin": false})
    );
    assert_eq!(
        log_in(&gitlab, &provider).await,
        json!({"username": "lisa", "full_name": "Lisa Simpson", "email": "lisa@gitlab.example",
               "groups": ["saxophone", "debate-club"],
               "avatar_url": "https://gitlab.example/lisa.png"})
    );

    let bitbucket = server(&format!(
        "type = \"BitbucketAuth\"\n{}authUri = \"{base}/site/oauth2/authorize\"\n\
         tokenUri = \"{base}/site/oauth2/access_token\"\nresourceEndpoint = \"{base}/2.0\"\n",
        credentials()
    ))
    .await;
    assert_eq!(
        config(&bitbucket, None).await["auth"],
        json!({"name": "Bitbucket", "oauth2": true, "fa_icon": "fa-bitbucket", "autologin": false})
    );
    assert_eq!(
        log_in(&bitbucket, &provider).await,
        json!({"username": "bart", "full_name": "Bart Simpson",
               "email": "bart@bitbucket.example", "groups": ["skateboards"]})
    );
    // Google asks for Buildbot's scopes, GitLab and Bitbucket for none
    let scopes = provider.fake.scopes.lock().unwrap().clone();
    assert_eq!(
        scopes,
        [
            Some(
                "https://www.googleapis.com/auth/userinfo.email \
                 https://www.googleapis.com/auth/userinfo.profile"
                    .to_owned()
            ),
            None,
            None
        ]
    );
    let authorizations = provider.fake.authorizations.lock().unwrap().clone();
    assert!(
        authorizations.iter().all(|a| a.starts_with("Bearer tok-")),
        "{authorizations:?}"
    );
}

/// A refused callback: a page saying why (with `reason` in it), no session.
async fn assert_refused(response: reqwest::Response, status: u16, reason: &str) -> String {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert!(
        cookie_pair(&response, "TWISTED_SESSION").is_none(),
        "no session: {:?}",
        set_cookies(&response)
    );
    let page = response.text().await.unwrap();
    assert!(page.contains(reason), "{reason:?} not in {page}");
    assert!(!page.contains(CLIENT_SECRET), "{page}");
    page
}

#[tokio::test]
async fn a_forged_or_foreign_state_is_refused() {
    let provider = provider().await;
    let server = server(&github(&provider, "")).await;
    let mine = begin(&server, "/builders").await;
    let theirs = begin(&server, "/").await;
    // the attacker's login, finished in the victim's browser: refused before the code is used
    let theirs_back = consent(&theirs.authorize_url).await;
    let page = assert_refused(
        callback(&theirs_back, Some(&mine.cookie)).await,
        403,
        "does not belong to this browser",
    )
    .await;
    assert!(page.contains("Login with GitHub failed"), "{page}");
    // no cookie at all (another browser, or cookies refused)
    assert_refused(
        callback(&theirs_back, None).await,
        403,
        "not started in this browser",
    )
    .await;
    // Buildbot's own state, and a state made up from a real one with another page
    let code = authorize_params(&theirs_back)["code"].clone();
    let real = authorize_params(&theirs_back)["state"].clone();
    let (issued, rest) = real.split_once('.').unwrap();
    let mac = rest.split_once('.').unwrap().1;
    for forged in [
        "redirect=%2Fbuilders".to_owned(),
        format!("{issued}.L2V2aWw.{mac}"),
        String::new(),
    ] {
        let url = format!(
            "{}/auth/login?code={code}&state={}",
            server.base,
            form_urlencoded::byte_serialize(forged.as_bytes()).collect::<String>()
        );
        assert_refused(
            callback(&url, Some(&mine.cookie)).await,
            403,
            "does not belong to this browser",
        )
        .await;
    }
    assert_eq!(provider.fake.token_requests(), 0, "no code was exchanged");
    // the victim's own login still works afterwards
    let back = consent(&mine.authorize_url).await;
    let response = callback(&back, Some(&mine.cookie)).await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), format!("{}/#/builders", server.base));
}

#[tokio::test]
async fn redirects_to_other_sites_end_on_the_home_page() {
    let provider = provider().await;
    let server = server(&github(&provider, "")).await;
    for hostile in [
        "https://evil.example/x",
        "//evil.example/x",
        "javascript:alert(1)",
    ] {
        let begun = begin(
            &server,
            &form_urlencoded::byte_serialize(hostile.as_bytes()).collect::<String>(),
        )
        .await;
        let back = consent(&begun.authorize_url).await;
        let response = callback(&back, Some(&begun.cookie)).await;
        assert_eq!(
            location(&response),
            format!("{}/#/", server.base),
            "{hostile}"
        );
    }
}

#[tokio::test]
async fn provider_errors_give_a_clear_page_and_the_server_stays_up() {
    let provider = provider().await;
    let server = server(&github(&provider, "")).await;
    let attempt = |mode: Mode| {
        let (server, provider) = (&server, &provider);
        async move {
            provider.fake.set_mode(mode);
            let begun = begin(server, "/").await;
            let back = consent(&begun.authorize_url).await;
            callback(&back, Some(&begun.cookie)).await
        }
    };
    // the user said no at the provider: its text is shown, escaped
    let page = assert_refused(attempt(Mode::Deny).await, 403, "access_denied").await;
    assert!(
        page.contains("The user &lt;b&gt;denied&lt;&#x2f;b&gt; access &amp; left")
            || page.contains("The user &lt;b&gt;denied&lt;/b&gt; access &amp; left"),
        "{page}"
    );
    assert!(!page.contains("<b>denied"), "{page}");
    let page = assert_refused(
        attempt(Mode::TokenGarbage).await,
        502,
        "GitHub&#x27;s token endpoint answer is neither JSON nor a form",
    )
    .await;
    assert!(!page.contains("not a token"), "{page}");
    let page = assert_refused(attempt(Mode::TokenError).await, 502, "invalid_grant").await;
    assert!(page.contains("The code &lt;expired&gt;"), "{page}");
    assert_refused(
        attempt(Mode::Token500).await,
        502,
        "token endpoint answered 500 Internal Server Error",
    )
    .await;
    assert_refused(
        attempt(Mode::UserUnauthorized).await,
        502,
        "GitHub&#x27;s &#x2f;user answered 401 Unauthorized",
    )
    .await;
    // a code presented twice: the provider refuses it the second time
    provider.fake.set_mode(Mode::Normal);
    let begun = begin(&server, "/").await;
    let back = consent(&begun.authorize_url).await;
    assert_eq!(callback(&back, Some(&begun.cookie)).await.status(), 302);
    assert_refused(
        callback(&back, Some(&begun.cookie)).await,
        502,
        "bad_verification_code",
    )
    .await;
    assert_no_secret(&provider, "");
    assert_eq!(
        config(&server, None).await["user"],
        json!({"anonymous": true})
    );
}

#[tokio::test]
async fn an_unreachable_provider_gives_a_clear_page() {
    let provider = provider().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let server = server(&format!(
        "{}tokenUri = \"http://{closed}/login/oauth/access_token\"\n",
        github(&provider, "")
    ))
    .await;
    let begun = begin(&server, "/").await;
    let back = consent(&begun.authorize_url).await;
    assert_refused(
        callback(&back, Some(&begun.cookie)).await,
        502,
        "the request to GitHub&#x27;s token endpoint could not connect",
    )
    .await;
    assert_eq!(
        config(&server, None).await["user"],
        json!({"anonymous": true})
    );
}

#[tokio::test]
async fn endpoint_overrides_must_be_urls() {
    let error = common::start_up_error(&format!(
        "[www.auth]\ntype = \"GitLabAuth\"\ninstanceUri = \"https://gitlab.com\"\n{}tokenUri = \"gitlab.com/oauth/token\"\n",
        credentials()
    ))
    .await;
    assert!(error.contains("tokenUri"), "{error}");
    assert!(error.contains("not an http:// or https:// URL"), "{error}");
}

/// `provider` behind TLS with a self-signed certificate made by `openssl` (what a GitHub
/// Enterprise server with its own certificate looks like): a TLS front that passes each
/// connection on to the plain fake provider.
async fn behind_self_signed_tls(provider: &Provider) -> Provider {
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).display().to_string();
    for args in [
        vec![
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            &file("key.pem"),
            "-out",
            &file("cert.pem"),
        ],
        vec![
            "x509",
            "-in",
            &file("cert.pem"),
            "-outform",
            "DER",
            "-out",
            &file("cert.der"),
        ],
        vec![
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            &file("key.pem"),
            "-outform",
            "DER",
            "-out",
            &file("key.der"),
        ],
    ] {
        let output = std::process::Command::new("openssl")
            .args(&args)
            .output()
            .expect("openssl runs (apt-get install openssl)");
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
    }
    let certificate = CertificateDer::from(std::fs::read(file("cert.der")).unwrap());
    let key = PrivatePkcs8KeyDer::from(std::fs::read(file("key.der")).unwrap());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certificate], PrivateKeyDer::Pkcs8(key))
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let plain = provider.base.strip_prefix("http://").unwrap().to_owned();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, plain) = (acceptor.clone(), plain.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(plain).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                }
            });
        }
    });
    Provider {
        base,
        fake: provider.fake.clone(),
    }
}

#[tokio::test]
async fn ssl_verify_false_accepts_a_self_signed_provider() {
    let plain = provider().await;
    let provider = behind_self_signed_tls(&plain).await;
    // checked (the default): a clear page naming the certificate, no session
    let checked = server(&github(&provider, "")).await;
    let begun = begin(&checked, "/").await;
    let back = consent(&begun.authorize_url).await;
    let page = assert_refused(
        callback(&back, Some(&begun.cookie)).await,
        502,
        "token endpoint could not connect",
    )
    .await;
    assert!(page.contains("certificate"), "{page}");
    // not checked: the login works
    let unchecked = server(&github(&provider, "ssl_verify = false\n")).await;
    let user = log_in(&unchecked, &provider).await;
    assert_eq!(user["username"], "homer");
}

/// The whole GitHub login in the headless browser: from the top bar's button on the builders
/// page through the provider and back to that page, the user in the top bar and `/config`.
#[cfg(feature = "demo")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_login_in_a_real_browser() {
    let Some(browser) = crate::ui::Browser::start().await else {
        return;
    };
    let provider = provider().await;
    let server = server(&github(&provider, "")).await;
    // the top bar's provider button on the builders page starts the login
    browser.goto(&format!("{}/builders", server.base)).await;
    let button = browser
        .js("const b = document.getElementById('bb-login'); b.click(); return b.textContent;")
        .await;
    assert_eq!(button, json!("Log in with GitHub"));
    // back on the same page (Buildbot's `#/builders` followed by the home page), logged in
    let name = browser
        .wait_for(
            "the user in the top bar after the login",
            "const n = document.querySelector('#bb-account .account-name'); \
             return location.pathname === '/builders' && n && n.textContent;",
            std::time::Duration::from_secs(20),
        )
        .await;
    assert_eq!(name, json!("Homer Simpson"));
    // the page's own request for /config carries the session: the user is set
    let user = browser
        .js(
            "const x = new XMLHttpRequest(); x.open('GET', '/config', false); x.send(); \
             return JSON.parse(x.responseText).user;",
        )
        .await;
    assert_eq!(
        user,
        json!({"username": "homer", "full_name": "Homer Simpson",
               "email": "homer@primary.example", "groups": ["springfield", "42-plant"]})
    );
    // the session cookie is HttpOnly, the state cookie gone
    let cookies = browser.js("return document.cookie").await;
    assert_eq!(cookies, json!(""));
    browser.quit().await;
}
