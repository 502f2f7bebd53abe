//! Authentication: who a request comes from, and logging in and out (`/auth/login`,
//! `/auth/logout`), as `[www.auth]` configures it. See docs/authentication.md.
//!
//! Every request passes [`identify`], which turns a valid session cookie into the request's
//! [`User`] (anonymous otherwise); handlers read it with [`CurrentUser`].

pub mod custom;
pub mod htpasswd;
pub mod ldap;
pub mod oauth2;
pub mod remote_user;
pub mod session;
pub mod throttle;
pub mod user_info;

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use axum::middleware::Next;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use sha2::{Digest, Sha256};

use crate::config::{Auth, Config};
use crate::db::Pool;
use crate::http::forwarded::Client;
use crate::identity::User;
use crate::metrics::{LoginFailure, LoginMeters};
use crate::plugins::{Fault, Registry};
use remote_user::RemoteUser;
use session::Sessions;
use throttle::Throttle;

/// What logging in and out needs: the configured method, sessions and the failure throttle.
#[derive(Debug)]
pub struct Authentication {
    method: Auth,
    buildbot_url: String,
    /// Whether the config sets `buildbotURL` (else a trusted proxy's host makes the root).
    buildbot_url_configured: bool,
    /// Whether `[www] trusted_proxies` names any proxy: then only their requests may carry
    /// `RemoteUserAuth`'s header.
    behind_trusted_proxies: bool,
    sessions: Arc<Sessions>,
    throttle: Throttle,
    /// With `RemoteUserAuth`: the header every request's user is read from.
    remote_user: Option<RemoteUser>,
    /// The OAuth2 class, when `[www.auth]` chooses one.
    oauth2: Option<oauth2::OAuth2>,
    /// The plugins, for `CustomAuth`'s authentication plugin.
    plugins: Registry,
    /// Failed logins, for `/metrics`.
    logins: LoginMeters,
}

impl Authentication {
    /// Authentication as `config` sets it up, with sessions kept in `pool`'s database. Fails
    /// on an `HTPasswdAuth` file with an entry whose hash cannot be checked.
    /// A `CustomAuth` plugin must be loaded in `plugins`.
    pub fn new(
        config: &Config,
        pool: Pool,
        plugins: &Registry,
    ) -> anyhow::Result<Arc<Authentication>> {
        check(config)?;
        if let Auth::CustomAuth(custom) = &config.www.auth {
            if let Some((name, _)) = custom.plugin() {
                if plugins.auth_plugin() != Some(name) {
                    anyhow::bail!(
                        "[www.auth] plugin = \"{name}\": the authentication plugin is not loaded"
                    );
                }
            }
        }
        let remote_user = match &config.www.auth {
            Auth::RemoteUserAuth(remote) => Some(RemoteUser::new(remote)?),
            _ => None,
        };
        let secure = config.buildbot_url.starts_with("https:");
        Ok(Arc::new(Authentication {
            method: config.www.auth.clone(),
            buildbot_url: config.buildbot_url.clone(),
            buildbot_url_configured: config.buildbot_url_configured,
            behind_trusted_proxies: !config.www.trusted_proxies.is_empty(),
            sessions: Arc::new(Sessions::new(
                pool,
                config.www.cookie_expiration_time,
                secure,
            )),
            throttle: Throttle::default(),
            remote_user,
            oauth2: oauth2::OAuth2::from_config(config)?,
            plugins: plugins.clone(),
            logins: LoginMeters::default(),
        }))
    }

    /// The root that redirects to the UI go to, for `client` (see `Client::public_root`).
    fn public_root<'a>(&'a self, client: &Client) -> std::borrow::Cow<'a, str> {
        client.public_root(&self.buildbot_url, self.buildbot_url_configured)
    }

    /// Failed logins (`/metrics` registers them).
    pub fn metrics(&self) -> &LoginMeters {
        &self.logins
    }

    /// The sessions (their secret is the one a linked Buildbot master shares).
    pub fn sessions(&self) -> Arc<Sessions> {
        self.sessions.clone()
    }

    /// The user `user`/`password` logs in as with the configured method, `None` when refused.
    async fn check(
        self: &Arc<Self>,
        user: &str,
        password: &str,
    ) -> Result<Option<User>, LoginError> {
        if let Auth::CustomAuth(custom) = &self.method {
            return custom::check(custom, &self.plugins, user, password).await;
        }
        // bcrypt and SHA-crypt take milliseconds to hundreds of them: off the async threads.
        let (auth, name, password) = (self.clone(), user.to_owned(), password.to_owned());
        let checked = tokio::task::spawn_blocking(move || auth.check_password(&name, &password))
            .await
            .unwrap_or_else(|err| Err(LoginError::Server(format!("the check failed: {err}"))))?;
        // Buildbot's user info for a password login: the name, also as e-mail.
        Ok(checked.then(|| User::Known {
            username: user.to_owned(),
            full_name: None,
            email: Some(user.to_owned()),
            groups: Vec::new(),
            extra: serde_json::Map::new(),
        }))
    }

    /// Whether `user`/`password` is a valid login for the configured password method.
    fn check_password(&self, user: &str, password: &str) -> Result<bool, LoginError> {
        match &self.method {
            Auth::UserPasswordAuth(config) => Ok(config
                .users
                .iter()
                .filter(|(name, _)| name == user)
                .any(|(_, secret)| same_secret(secret.expose(), password))),
            Auth::HTPasswdAuth(config) => htpasswd::verify(&config.passwd_file, user, password)
                .map_err(|err| LoginError::Server(err.to_string())),
            other => Err(LoginError::NotAvailable(format!(
                "logging in with a password is not available with {}",
                other.name()
            ))),
        }
    }
}

/// What start-up checks of `[www.auth]` beyond the config file itself, for `check-config`
/// too: every entry of an `HTPasswdAuth` file has a hash this server can check, a
/// `RemoteUserAuth` header is a valid header name.
pub fn check(config: &Config) -> anyhow::Result<()> {
    match &config.www.auth {
        Auth::HTPasswdAuth(htpasswd) => htpasswd::check_file(&htpasswd.passwd_file)?,
        Auth::RemoteUserAuth(remote) => {
            RemoteUser::new(remote)?;
        }
        _ => {}
    }
    Ok(())
}

/// Why a password could not be checked.
#[derive(Debug)]
enum LoginError {
    /// The configured method has no password login (the message says so to the client).
    NotAvailable(String),
    /// A problem on the server's side (logged; the client is told to see the log).
    Server(String),
    /// The method's backend cannot check logins now (logged; 503).
    Unavailable(String),
    /// The authentication plugin failed (logged by the runtime; its status and text).
    Plugin(Fault),
}

/// Whether two secrets are equal, in time that depends on neither's content nor length.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The request's user, as [`identify`] found it (anonymous where it did not run).
#[derive(Debug, Clone, Default)]
pub struct CurrentUser(pub User);

impl CurrentUser {
    /// The user [`identify`] put on a request (anonymous where it did not run), for handlers
    /// that take the whole request.
    pub fn of(extensions: &axum::http::Extensions) -> User {
        extensions
            .get::<CurrentUser>()
            .map(|current| current.0.clone())
            .unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(CurrentUser(CurrentUser::of(&parts.extensions)))
    }
}

/// Middleware: the user of the request's session cookie (with `RemoteUserAuth`, of the
/// proxy's header), for the handlers after it.
pub async fn identify(
    State(auth): State<Arc<Authentication>>,
    mut request: Request,
    next: Next,
) -> Response<Body> {
    let user = match (&auth.remote_user, session::token_in(request.headers())) {
        // Behind an authenticating proxy only the proxy's header counts, never a session;
        // with trusted proxies named, only from them.
        (Some(_), _)
            if auth.behind_trusted_proxies
                && !crate::http::forwarded::of_extensions(request.extensions()).proxied =>
        {
            User::Anonymous
        }
        (Some(remote), _) => remote.user(request.headers()).await,
        (None, Some(token)) => auth.sessions.user(token).await,
        (None, None) => User::Anonymous,
    };
    request.extensions_mut().insert(CurrentUser(user));
    next.run(request).await
}

/// Credentials sent with a login: HTTP Basic, or the login form's fields.
pub(crate) struct Credentials {
    pub user: String,
    pub password: String,
}

/// Longest `Authorization` value or form body read for a login.
const MAX_CREDENTIALS: usize = 4096;

pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<Credentials> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if value.len() > MAX_CREDENTIALS {
        return None;
    }
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(Credentials {
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

fn form_credentials(body: &[u8]) -> Option<Credentials> {
    let (mut user, mut password) = (None, None);
    for (key, value) in form_urlencoded::parse(body) {
        match &*key {
            "username" => user = Some(value.into_owned()),
            "password" => password = Some(value.into_owned()),
            _ => {}
        }
    }
    Some(Credentials {
        user: user?,
        password: password?,
    })
}

/// What a fragment keeps unescaped in the `Location` Buildbot's login and logout answer with.
const FRAGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'%');

/// `<buildbotURL>#<redirect>`, Buildbot's answer to a login or logout. The redirect must be a
/// path on this site (`/...`, not `//host`); anything else, or nothing, becomes `/`. Buildbot
/// takes any text; a fragment cannot leave the site, but a UI that follows it could.
fn back_to(buildbot_url: &str, query: Option<&str>) -> String {
    home_at(buildbot_url, &redirect_path(query))
}

/// The query's `redirect` if it is a path on this site, else `/`.
fn redirect_path(query: Option<&str>) -> String {
    query
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(key, _)| key == "redirect")
                .map(|(_, value)| value.into_owned())
        })
        .filter(|r| is_site_path(r))
        .unwrap_or_else(|| "/".into())
}

/// `/...`, not `//host` or `/\\host`, without control characters.
fn is_site_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(char::is_control)
}

/// `<buildbotURL>#<path>` for a path on this site (`#/` for any other).
fn home_at(buildbot_url: &str, path: &str) -> String {
    let path = if is_site_path(path) { path } else { "/" };
    format!("{buildbot_url}#{}", utf8_percent_encode(path, FRAGMENT))
}

fn answer(status: StatusCode) -> axum::http::response::Builder {
    Response::builder()
        .status(status)
        .header(header::CACHE_CONTROL, "no-store")
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    answer(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(body.to_owned()))
        .unwrap_or_default()
}

/// `/auth/login`: Basic credentials (GET or HEAD, as Buildbot's UI sends them) or the login
/// form (POST `username`, `password`). A good login sets the session cookie and redirects to
/// `<buildbotURL>#<redirect>`; a bad one is 401 with `WWW-Authenticate: Basic`.
pub async fn login(State(auth): State<Arc<Authentication>>, request: Request) -> Response<Body> {
    if let Some(oauth2) = &auth.oauth2 {
        return oauth2::login(&auth, oauth2, request).await;
    }
    let client = crate::http::forwarded::of_extensions(request.extensions());
    let address = client.address;
    let query = request.uri().query().map(str::to_owned);
    // A failed form login challenges with a scheme browsers do not prompt for: the UI's form
    // shows its own message instead of the browser's password dialog over it.
    let challenge = if request.method() == Method::POST {
        "Form realm=\"buildbot\""
    } else {
        "Basic realm=\"buildbot\""
    };
    let credentials = match *request.method() {
        Method::GET | Method::HEAD => basic_credentials(request.headers()),
        Method::POST => match axum::body::to_bytes(request.into_body(), MAX_CREDENTIALS).await {
            Ok(body) => form_credentials(&body),
            Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "login form too large"),
        },
        _ => {
            return answer(StatusCode::METHOD_NOT_ALLOWED)
                .header(header::ALLOW, "GET, HEAD, POST")
                .body(Body::empty())
                .unwrap_or_default()
        }
    };
    if matches!(auth.method, Auth::NoAuth {}) {
        return text(
            StatusCode::FORBIDDEN,
            "no login: [www.auth] is NoAuth, everyone is anonymous",
        );
    }
    let refused = || {
        answer(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, challenge)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Body::from("Unauthorized"))
            .unwrap_or_default()
    };
    let Some(credentials) = credentials else {
        return refused();
    };
    if let Some(wait) = auth.throttle.wait(&credentials.user, address) {
        auth.logins.failed(LoginFailure::Throttled);
        return answer(StatusCode::TOO_MANY_REQUESTS)
            .header(header::RETRY_AFTER, wait.as_secs().max(1))
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Body::from("too many failed logins; try again later"))
            .unwrap_or_default();
    }
    let user = match auth.check(&credentials.user, &credentials.password).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            auth.logins.failed(LoginFailure::BadCredentials);
            auth.throttle.failed(&credentials.user, address);
            tracing::info!("failed login for user {:?}", credentials.user);
            return refused();
        }
        Err(LoginError::NotAvailable(message)) => return text(StatusCode::FORBIDDEN, &message),
        Err(LoginError::Server(message)) => {
            auth.logins.failed(LoginFailure::Error);
            tracing::error!("login of user {:?}: {message}", credentials.user);
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the password could not be checked (see the server log)",
            );
        }
        Err(LoginError::Unavailable(message)) => {
            auth.logins.failed(LoginFailure::Error);
            tracing::error!("login of user {:?}: {message}", credentials.user);
            return answer(StatusCode::SERVICE_UNAVAILABLE)
                .header(header::RETRY_AFTER, 5)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Body::from(
                    "logins cannot be checked now; try again later (see the server log)",
                ))
                .unwrap_or_default();
        }
        Err(LoginError::Plugin(fault)) => {
            auth.logins.failed(LoginFailure::Error);
            let status =
                StatusCode::from_u16(fault.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return text(
                status,
                &format!("the password could not be checked: {fault}"),
            );
        }
    };
    auth.throttle.succeeded(&credentials.user);
    let token = match auth.sessions.issue(&user).await {
        Ok(token) => token,
        Err(err) => {
            tracing::error!("{err}");
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot start a session: the session secret is unavailable (see the server log)",
            );
        }
    };
    redirect(
        &auth,
        &client,
        query.as_deref(),
        &auth.sessions.cookie(&token, client.https),
    )
}

/// `/auth/logout`: ends the session (its token is refused from now on), removes the cookie and
/// redirects to `<buildbotURL>#<redirect>`.
pub async fn logout(State(auth): State<Arc<Authentication>>, request: Request) -> Response<Body> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return answer(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET, HEAD")
            .body(Body::empty())
            .unwrap_or_default();
    }
    if let Some(token) = session::token_in(request.headers()) {
        auth.sessions.revoke(token).await;
    }
    let client = crate::http::forwarded::of_extensions(request.extensions());
    redirect(
        &auth,
        &client,
        request.uri().query(),
        &auth.sessions.clearing_cookie(client.https),
    )
}

fn redirect(
    auth: &Authentication,
    client: &Client,
    query: Option<&str>,
    cookie: &str,
) -> Response<Body> {
    found(&back_to(&auth.public_root(client), query), &[cookie])
}

/// `302` to `location`, setting `cookies`.
fn found(location: &str, cookies: &[&str]) -> Response<Body> {
    let mut response = answer(StatusCode::FOUND)
        .body(Body::empty())
        .unwrap_or_default();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    }
    for cookie in cookies {
        if let Ok(cookie) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, cookie);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_the_site() {
        let url = "http://ci.example.org/";
        assert_eq!(back_to(url, None), "http://ci.example.org/#/");
        assert_eq!(
            back_to(url, Some("redirect=/builders/1")),
            "http://ci.example.org/#/builders/1"
        );
        for hostile in [
            "redirect=https://evil.example/x",
            "redirect=//evil.example/x",
            "redirect=/\\evil.example",
            "redirect=/x%0d%0aSet-Cookie:%20a=b",
            "redirect=javascript:alert(1)",
        ] {
            assert_eq!(
                back_to(url, Some(hostile)),
                "http://ci.example.org/#/",
                "{hostile}"
            );
        }
        assert_eq!(
            back_to(url, Some("redirect=/a b\"<")),
            "http://ci.example.org/#/a%20b%22%3C"
        );
    }

    #[test]
    fn basic_credentials_are_read_in_any_scheme_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            "bAsIc aG9tZXI6ZDpvaA==".parse().unwrap(),
        );
        let c = basic_credentials(&headers).unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("homer", "d:oh"));
        for bad in ["Bearer x", "Basic !!!", "Basic aG9tZXI=", "Basic", ""] {
            headers.insert(header::AUTHORIZATION, bad.parse().unwrap());
            assert!(basic_credentials(&headers).is_none(), "{bad}");
        }
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret("d'oh", "d'oh"));
        assert!(!same_secret("d'oh", "d'oh!"));
        assert!(!same_secret("", "x"));
    }
}
