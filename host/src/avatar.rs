//! `/avatar?email=…&username=…&size=…`: a user's picture from the `avatar_methods`, tried in
//! order (`AvatarGravatar`, `AvatarGitHub`, `LdapUserInfo`), answered as Buildbot 4.3 does: a
//! 302 to the picture's address, or the picture itself for the directory's raw pictures, or a
//! 302 to `img/nobody.png` when no method has one. See docs/authentication.md.
//!
//! Found answers are kept in memory, bounded in entries and bytes, for [`LIFETIME`]. A method
//! that fails (a directory or API that is down) is logged and the next one answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, Response, StatusCode};
use axum::routing::any;
use axum::Router;
use md5::{Digest, Md5};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::config::{AvatarGitHub, AvatarMethod, Config};

/// How long a found avatar is kept.
pub const LIFETIME: Duration = Duration::from_secs(3600);
/// At most this many avatars are kept.
const MAX_ENTRIES: usize = 2048;
/// At most this many bytes of raw pictures are kept.
const MAX_BYTES: usize = 16 << 20;
/// A raw picture larger than this is not kept (it is still answered).
const MAX_PICTURE: usize = 1 << 20;
/// The longest an avatar API call may take.
const API_DEADLINE: Duration = Duration::from_secs(5);

/// Buildbot's placeholder, relative to `/avatar`.
pub const NOBODY: &str = "img/nobody.png";
/// The placeholder picture (64×64, drawn for this project).
const NOBODY_PNG: &[u8] = include_bytes!("avatar/nobody.png");

/// What a method found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Avatar {
    /// A 302 to this address.
    Redirect(String),
    /// The picture itself.
    Picture {
        /// `image/jpeg`, `image/png` or `image/gif`.
        content_type: &'static str,
        /// Its bytes.
        data: bytes::Bytes,
    },
}

impl Avatar {
    fn size(&self) -> usize {
        match self {
            Avatar::Redirect(url) => url.len(),
            Avatar::Picture { data, .. } => data.len(),
        }
    }
}

/// What `/avatar` is asked for: Buildbot's `(email, username, size)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    /// The first `email` (default empty).
    pub email: String,
    /// The first `username`, if any.
    pub username: Option<String>,
    /// The first `size` as an integer; 32 when absent or not an integer.
    pub size: i64,
}

impl Query {
    /// The query of `/avatar?…` as Buildbot reads it.
    pub fn parse(query: Option<&str>) -> Query {
        let (mut email, mut username, mut size) = (None, None, None);
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "email" if email.is_none() => email = Some(value.into_owned()),
                "username" if username.is_none() => username = Some(value.into_owned()),
                "size" if size.is_none() => size = Some(value.into_owned()),
                _ => {}
            }
        }
        Query {
            email: email.unwrap_or_default(),
            username,
            size: size.and_then(|s| s.trim().parse().ok()).unwrap_or(32),
        }
    }
}

/// The avatar methods of a config, with their HTTP client and the cache.
#[derive(Debug)]
pub struct Avatars {
    methods: Vec<Source>,
    cache: Mutex<Cache>,
}

/// One configured method, ready to ask.
#[derive(Debug)]
enum Source {
    Gravatar,
    GitHub(GitHub),
    Ldap(Box<crate::config::LdapUserInfo>),
}

impl Avatars {
    /// The methods `config`'s `avatar_methods` lists, in order.
    pub fn new(config: &Config) -> anyhow::Result<Arc<Avatars>> {
        let methods = config
            .www
            .avatar_methods
            .iter()
            .map(|method| {
                Ok(match method {
                    AvatarMethod::AvatarGravatar {} => Source::Gravatar,
                    AvatarMethod::AvatarGitHub(github) => Source::GitHub(GitHub::new(github)?),
                    AvatarMethod::LdapUserInfo(ldap) => Source::Ldap(Box::new(ldap.clone())),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Arc::new(Avatars {
            methods,
            cache: Mutex::new(Cache::default()),
        }))
    }

    /// The avatar for `query`: the first method's that has one, else the placeholder.
    pub async fn find(&self, query: &Query) -> Avatar {
        if let Some(found) = self.cache.lock().ok().and_then(|mut c| c.get(query)) {
            return found;
        }
        for method in &self.methods {
            let found = match method {
                Source::Gravatar => Ok(Some(gravatar(&query.email, query.size))),
                Source::GitHub(github) => github.find(query).await,
                Source::Ldap(ldap) => {
                    crate::auth::ldap::picture(ldap, &query.email, query.username.as_deref())
                        .await
                        .map(|p| {
                            p.map(|p| Avatar::Picture {
                                content_type: p.content_type,
                                data: p.data.into(),
                            })
                        })
                        .map_err(|err| err.to_string())
                }
            };
            match found {
                Ok(Some(avatar)) => {
                    if let Ok(mut cache) = self.cache.lock() {
                        cache.put(query.clone(), avatar.clone());
                    }
                    return avatar;
                }
                Ok(None) => {}
                Err(message) => tracing::warn!("avatar: {message}; trying the next method"),
            }
        }
        Avatar::Redirect(NOBODY.into())
    }
}

/// The address part of an email as commits write it (`Name <mail>` gives `mail`), trimmed.
fn address(email: &str) -> &str {
    let email = email.trim();
    match (email.rfind('<'), email.ends_with('>')) {
        (Some(open), true) => email[open + 1..email.len() - 1].trim(),
        _ => email,
    }
}

/// Gravatar's picture for `email`: the MD5 of the lower-cased address, `d=retro`.
pub fn gravatar(email: &str, size: i64) -> Avatar {
    let hash = Md5::digest(address(email).to_lowercase().as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    Avatar::Redirect(format!("//www.gravatar.com/avatar/{hex}?d=retro&s={size}"))
}

/// `AvatarGitHub`: the user's `avatar_url` from GitHub's API.
#[derive(Debug)]
struct GitHub {
    endpoint: String,
    client: reqwest::Client,
}

impl GitHub {
    fn new(config: &AvatarGitHub) -> anyhow::Result<GitHub> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = &config.token {
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("token {}", token.expose()))
                    .map_err(|_| {
                        anyhow::anyhow!("AvatarGitHub: the token is not a valid header value")
                    })?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        } else if let (Some(id), Some(secret)) = (&config.client_id, &config.client_secret) {
            use base64::Engine as _;
            let basic = base64::engine::general_purpose::STANDARD
                .encode(format!("{id}:{}", secret.expose()));
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Basic {basic}"))
                .map_err(|_| {
                    anyhow::anyhow!("AvatarGitHub: client_id is not a valid header value")
                })?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        let client = reqwest::Client::builder()
            .user_agent("Buildbot")
            .default_headers(headers)
            .timeout(API_DEADLINE)
            .connect_timeout(API_DEADLINE)
            .danger_accept_invalid_certs(!config.verify)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        Ok(GitHub {
            endpoint: config
                .github_api_endpoint
                .as_deref()
                .unwrap_or("https://api.github.com")
                .trim_end_matches('/')
                .to_owned(),
            client,
        })
    }

    /// Buildbot's order: the user by name, then a user by email, then a commit by email.
    async fn find(&self, query: &Query) -> Result<Option<Avatar>, String> {
        let mut found = None;
        if let Some(username) = query.username.as_deref().filter(|u| !u.is_empty()) {
            let path = format!("/users/{}", utf8_percent_encode(username, NON_ALPHANUMERIC));
            found = self
                .get(&path, V3)
                .await?
                .and_then(|user| text(&user["avatar_url"]));
        }
        if found.is_none() && !query.email.is_empty() {
            let path = format!(
                "/search/users?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("q", &format!("{} in:email", query.email))
                    .finish()
            );
            found = self
                .get(&path, V3)
                .await?
                .and_then(|users| text(&users["items"][0]["avatar_url"]));
        }
        if found.is_none() && !query.email.is_empty() {
            let path = format!(
                "/search/commits?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("per_page", "1")
                    .append_pair("q", &format!("author-email:{}", query.email))
                    .append_pair("sort", "committer-date")
                    .finish()
            );
            found = self
                .get(&path, COMMITS)
                .await?
                .and_then(|commits| text(&commits["items"][0]["author"]["avatar_url"]));
        }
        Ok(found
            .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
            .map(|url| Avatar::Redirect(with_size(&url, query.size))))
    }

    /// The JSON of a successful answer; `None` for 404 and other refusals (logged).
    async fn get(&self, path: &str, accept: &str) -> Result<Option<serde_json::Value>, String> {
        let url = format!("{}{path}", self.endpoint);
        let response = self
            .client
            .get(&url)
            .header(header::ACCEPT, accept)
            .send()
            .await
            .map_err(|err| format!("GitHub API {}: {err}", self.endpoint))?;
        let status = response.status();
        if !status.is_success() {
            if status != StatusCode::NOT_FOUND {
                tracing::info!("avatar: GitHub API {path}: {status}");
            }
            return Ok(None);
        }
        response
            .json()
            .await
            .map(Some)
            .map_err(|err| format!("GitHub API {path}: {err}"))
    }
}

const V3: &str = "application/vnd.github.v3+json";
const COMMITS: &str = "application/vnd.github.v3+json,application/vnd.github.cloak-preview";

fn text(value: &serde_json::Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `url` with `s=<size>` added to its query (Buildbot adds nothing for size 0).
fn with_size(url: &str, size: i64) -> String {
    if size == 0 {
        return url.to_owned();
    }
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let separator = match base.split_once('?') {
        Some((_, "")) => "",
        Some(_) => "&",
        None => "?",
    };
    let mut out = format!("{base}{separator}s={size}");
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Found avatars, oldest first out, each for [`LIFETIME`].
#[derive(Debug, Default)]
struct Cache {
    entries: HashMap<Query, (Instant, Avatar)>,
    bytes: usize,
}

impl Cache {
    fn get(&mut self, query: &Query) -> Option<Avatar> {
        let (at, avatar) = self.entries.get(query)?;
        if at.elapsed() < LIFETIME {
            return Some(avatar.clone());
        }
        self.remove(query);
        None
    }

    fn put(&mut self, query: Query, avatar: Avatar) {
        if avatar.size() > MAX_PICTURE {
            return;
        }
        self.remove(&query);
        while !self.entries.is_empty()
            && (self.entries.len() >= MAX_ENTRIES || self.bytes + avatar.size() > MAX_BYTES)
        {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(q, _)| q.clone());
            match oldest {
                Some(oldest) => self.remove(&oldest),
                None => break,
            }
        }
        self.bytes += avatar.size();
        self.entries.insert(query, (Instant::now(), avatar));
    }

    fn remove(&mut self, query: &Query) {
        if let Some((_, avatar)) = self.entries.remove(query) {
            self.bytes -= avatar.size();
        }
    }
}

/// `/avatar` and the placeholder `/img/nobody.png`.
pub fn routes(avatars: Arc<Avatars>) -> Router {
    Router::new()
        .route("/avatar", any(avatar))
        .route("/img/nobody.png", any(nobody))
        .with_state(avatars)
}

async fn avatar(State(avatars): State<Arc<Avatars>>, request: Request) -> Response<Body> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return not_allowed(request.method());
    }
    let query = Query::parse(request.uri().query());
    match avatars.find(&query).await {
        Avatar::Redirect(location) => Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, location)
            .header(header::CONTENT_TYPE, "text/html")
            .body(Body::empty())
            .unwrap_or_else(|_| {
                // A Location that is not a valid header value (never from our methods).
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, NOBODY)
                    .body(Body::empty())
                    .unwrap_or_default()
            }),
        Avatar::Picture { content_type, data } => picture(content_type, data),
    }
}

async fn nobody(request: Request) -> Response<Body> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return not_allowed(request.method());
    }
    picture("image/png", bytes::Bytes::from_static(NOBODY_PNG))
}

fn picture(content_type: &'static str, data: bytes::Bytes) -> Response<Body> {
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, data.len())
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CACHE_CONTROL, "max-age=3600")
        .body(Body::from(data))
        .unwrap_or_default()
}

/// Twisted's 405 page (without echoing the address, which Twisted writes unescaped).
fn not_allowed(method: &Method) -> Response<Body> {
    let method: String = method
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let body = format!(
        "\n<html>\n  <head><title>405 - Method Not Allowed</title></head>\n  <body>\n    <h1>Method Not Allowed</h1>\n    <p>Your browser approached me with the method \"{method}\".  I only allow the methods HEAD, GET here.</p>\n  </body>\n</html>\n"
    );
    Response::builder()
        .status(StatusCode::METHOD_NOT_ALLOWED)
        .header(header::ALLOW, "HEAD, GET")
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(body))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_read_as_buildbot_reads_them() {
        let q = Query::parse(Some("email=a%40b&email=c%40d&size=abc"));
        assert_eq!((q.email.as_str(), q.username, q.size), ("a@b", None, 32));
        assert_eq!(Query::parse(Some("size=-5")).size, -5);
        assert_eq!(Query::parse(Some("size=64&size=8")).size, 64);
        assert_eq!(Query::parse(None).email, "");
    }

    #[test]
    fn sizes_are_added_to_any_url() {
        assert_eq!(with_size("https://a/u/1?v=4", 32), "https://a/u/1?v=4&s=32");
        assert_eq!(with_size("https://a/u/3", 64), "https://a/u/3?s=64");
        assert_eq!(with_size("https://a/u/3?", 8), "https://a/u/3?s=8");
        assert_eq!(with_size("https://a/u#x", 8), "https://a/u?s=8#x");
        assert_eq!(with_size("https://a/u", 0), "https://a/u");
    }

    #[test]
    fn gravatar_hashes_the_address() {
        let hash = |email| match gravatar(email, 32) {
            Avatar::Redirect(url) => url,
            other => panic!("{other:?}"),
        };
        let homer = "//www.gravatar.com/avatar/998f245b1c6837c0139dac911172a59f?d=retro&s=32";
        assert_eq!(hash("homer@example.com"), homer);
        assert_eq!(hash("Homer@Example.COM"), homer);
        assert_eq!(hash("Homer Simpson <homer@example.com>"), homer);
        assert_eq!(
            hash(""),
            "//www.gravatar.com/avatar/d41d8cd98f00b204e9800998ecf8427e?d=retro&s=32"
        );
    }

    #[test]
    fn the_cache_keeps_to_its_bounds() {
        let mut cache = Cache::default();
        let query = |i: usize| Query {
            email: format!("u{i}@example.com"),
            username: None,
            size: 32,
        };
        for i in 0..MAX_ENTRIES + 10 {
            cache.put(query(i), Avatar::Redirect(format!("https://a/{i}")));
        }
        assert_eq!(cache.entries.len(), MAX_ENTRIES);
        assert!(cache.get(&query(0)).is_none(), "the oldest went first");
        assert!(cache.get(&query(MAX_ENTRIES + 9)).is_some());
        let big = |n| Avatar::Picture {
            content_type: "image/png",
            data: vec![0u8; n].into(),
        };
        for i in 0..40 {
            cache.put(query(10_000 + i), big(MAX_PICTURE));
        }
        assert!(cache.bytes <= MAX_BYTES, "{}", cache.bytes);
        cache.put(query(1), big(MAX_PICTURE + 1));
        assert!(cache.get(&query(1)).is_none(), "too large to keep");
    }
}
