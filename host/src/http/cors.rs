//! Cross-origin requests (`allowed_origins`): origin globs (`?`, `*`), preflight, and headers.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response};

use crate::config::Config;

/// The allowed origins of `[www] allowed_origins` (default: the origin of `buildbotURL`).
#[derive(Debug)]
pub(super) struct Origins(Vec<String>);

/// What the CORS check decided for one request.
#[derive(Debug, Default)]
pub(super) struct Cors {
    origin: Option<HeaderValue>,
    /// For a preflight `OPTIONS`: the whole response.
    pub preflight: Option<Response<Body>>,
}

impl Origins {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(Origins(match &config.www.allowed_origins {
            Some(list) => list.clone(),
            None => vec![origin_of(&config.buildbot_url)],
        }))
    }

    fn allows(&self, origin: &str) -> bool {
        self.0
            .iter()
            .any(|pattern| glob_match(pattern.as_bytes(), origin.as_bytes()))
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

impl Cors {
    /// Adds the `Access-Control-*` headers for an allowed origin.
    pub fn decorate(&self, headers: &mut HeaderMap) {
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

/// Shell-style glob: `*` matches any run of characters, `?` exactly one.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_default_origin() {
        assert!(glob_match(b"*", b"http://anything"));
        assert!(glob_match(
            b"https://*.buildbot.net",
            b"https://docs.buildbot.net"
        ));
        assert!(!glob_match(
            b"https://*.buildbot.net",
            b"http://docs.buildbot.net"
        ));
        assert!(glob_match(
            b"http://127.0.0.?:8010",
            b"http://127.0.0.1:8010"
        ));
        assert!(!glob_match(
            b"http://127.0.0.?:8010",
            b"http://127.0.0.10:8010"
        ));
        assert_eq!(origin_of("http://127.0.0.1:8010/"), "http://127.0.0.1:8010");
        assert_eq!(
            origin_of("https://ci.example.com/buildbot/"),
            "https://ci.example.com"
        );
    }
}
