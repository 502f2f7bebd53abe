//! Cross-origin requests (`allowed_origins`): origin globs, preflight, and headers. Origins are
//! matched by the glob engine the config validates them with (`globset`: `?`, `*`, `[a-z]`,
//! `{a,b}`), and every answer carries `Vary: Origin`, since what it says depends on it.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response};
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::config::Config;

/// The allowed origins of `[www] allowed_origins` (default: the origin of `buildbotURL`).
#[derive(Debug)]
pub(super) struct Origins(GlobSet);

/// What the CORS check decided for one request.
#[derive(Debug, Default)]
pub(super) struct Cors {
    origin: Option<HeaderValue>,
    /// For a preflight `OPTIONS`: the whole response.
    pub preflight: Option<Response<Body>>,
}

impl Origins {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let patterns = match &config.www.allowed_origins {
            Some(list) => list.clone(),
            // The default origin is a literal: escape what globs would read.
            None => vec![globset::escape(&origin_of(&config.buildbot_url))],
        };
        let mut set = GlobSetBuilder::new();
        for pattern in &patterns {
            set.add(Glob::new(pattern)?);
        }
        Ok(Origins(set.build()?))
    }

    fn allows(&self, origin: &str) -> bool {
        self.0.is_match(origin)
    }

    /// Checks a request's `Origin`; `Err` carries Buildbot's 400 message.
    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<Cors, &'static str> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(Cors::default());
        };
        if !origin.to_str().is_ok_and(|o| self.allows(o)) {
            return Err("invalid origin");
        }
        let mut cors = Cors {
            origin: Some(origin.clone()),
            preflight: None,
        };
        if method == Method::OPTIONS {
            let requested = headers
                .get(header::ACCESS_CONTROL_REQUEST_METHOD)
                .and_then(|m| m.to_str().ok());
            if !matches!(requested, Some("GET" | "POST" | "HEAD")) {
                return Err("invalid method");
            }
            let mut response = Response::builder()
                .header(header::CONTENT_TYPE, "text/html")
                .body(Body::empty())
                .unwrap_or_default();
            cors.decorate(response.headers_mut());
            cors.preflight = Some(response);
        }
        Ok(cors)
    }
}

/// Adds `Vary: Origin`: caches must not give one origin's answer to another.
pub(super) fn vary(headers: &mut HeaderMap) {
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

impl Cors {
    /// Adds `Vary: Origin`, and the `Access-Control-*` headers for an allowed origin.
    pub fn decorate(&self, headers: &mut HeaderMap) {
        vary(headers);
        if let Some(origin) = &self.origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Content-Type"),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("3600"),
            );
        }
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(patterns: &[&str]) -> Origins {
        let text = format!("[www]\nallowed_origins = {patterns:?}\n");
        let config = crate::config::parse(&text, std::path::Path::new("master.toml")).unwrap();
        Origins::from_config(&config).unwrap()
    }

    #[test]
    fn globs_and_default_origin() {
        assert!(origins(&["*"]).allows("http://anything"));
        let net = origins(&["https://*.buildbot.net"]);
        assert!(net.allows("https://docs.buildbot.net"));
        assert!(!net.allows("http://docs.buildbot.net"));
        let digit = origins(&["http://127.0.0.?:8010"]);
        assert!(digit.allows("http://127.0.0.1:8010"));
        assert!(!digit.allows("http://127.0.0.10:8010"));
        let alternatives = origins(&["https://{ci,docs}.example.com", "http://[a-c].test"]);
        assert!(alternatives.allows("https://ci.example.com"));
        assert!(alternatives.allows("https://docs.example.com"));
        assert!(!alternatives.allows("https://{ci,docs}.example.com"));
        assert!(!alternatives.allows("https://www.example.com"));
        assert!(alternatives.allows("http://b.test"));
        assert!(!alternatives.allows("http://d.test"));
        assert_eq!(origin_of("http://127.0.0.1:8010/"), "http://127.0.0.1:8010");
        assert_eq!(
            origin_of("https://ci.example.com/buildbot/"),
            "https://ci.example.com"
        );
        let default = Origins::from_config(&crate::config::Config::defaults(std::path::Path::new(
            "master.toml",
        )))
        .unwrap();
        assert!(default.allows("http://localhost:8010"));
        assert!(!default.allows("http://localhost:8011"));
    }
}
