//! A delivery as the dialects see it: Twisted's view of the HTTP request (the raw URI, the
//! headers, the body, and `request.args`, which merges the query string with a POSTed
//! `application/x-www-form-urlencoded` body).

use axum::http::{HeaderMap, Method};
use bytes::Bytes;

/// One delivery to `/change_hook/<dialect>`.
#[derive(Debug, Clone)]
pub struct HookRequest {
    /// The method (Buildbot answers GET exactly like POST).
    pub method: Method,
    /// The path and query as received, undecoded.
    pub uri: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
    /// Twisted's `request.args`: the query string's fields, then (for a POST whose
    /// Content-Type is `application/x-www-form-urlencoded`) the body's, in order; a name may
    /// repeat.
    pub args: Vec<(String, String)>,
    /// When the delivery arrived, seconds since the epoch (the `when_timestamp` of changes that
    /// carry none).
    pub received: i64,
}

impl HookRequest {
    /// Makes the request, parsing `args` from the URI and the body as Twisted does.
    pub fn new(
        method: Method,
        uri: String,
        headers: HeaderMap,
        body: Bytes,
        received: i64,
    ) -> Self {
        let mut args = Vec::new();
        if let Some((_, query)) = uri.split_once('?') {
            args.extend(form_urlencoded::parse(query.as_bytes()).into_owned());
        }
        let form = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        if method == Method::POST && form.as_deref() == Some("application/x-www-form-urlencoded") {
            args.extend(form_urlencoded::parse(&body).into_owned());
        }
        HookRequest {
            method,
            uri,
            headers,
            body,
            args,
            received,
        }
    }

    /// The first value of argument `name` (Buildbot's `request.args[name][0]`).
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Header `name` as text (`None` when absent or not visible ASCII/Latin-1 text).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Header `name` as raw bytes (Buildbot prints some as a Python bytes literal).
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name).map(|v| v.as_bytes())
    }
}

/// Python's `repr()` of a bytes value, as Buildbot puts it in messages
/// (`b'application/json; charset=utf-8'`).
pub fn bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from("b");
    out.push(quote);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if b as char == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_repr_matches_python() {
        assert_eq!(
            bytes_repr(b"application/json; charset=utf-8"),
            "b'application/json; charset=utf-8'"
        );
        assert_eq!(bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(bytes_repr(b"a'\"\xff"), "b'a\\'\"\\xff'");
    }

    #[test]
    fn args_merge_query_and_form_body() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let r = HookRequest::new(
            Method::POST,
            "/change_hook/base?codebase=a&who=q".into(),
            headers.clone(),
            Bytes::from_static(b"who=lisa+s&files=%5B%5D"),
            0,
        );
        assert_eq!(r.arg("who"), Some("q"));
        assert_eq!(r.args.iter().filter(|(k, _)| k == "who").count(), 2);
        assert_eq!(r.arg("files"), Some("[]"));
        // A GET's body is not a form.
        let r = HookRequest::new(
            Method::GET,
            "/change_hook".into(),
            headers,
            Bytes::from_static(b"who=x"),
            0,
        );
        assert_eq!(r.arg("who"), None);
    }
}
