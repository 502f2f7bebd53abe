//! A delivery as the dialects see it: Twisted's view of the HTTP request (the raw URI, the
//! headers, the body, and `request.args`, which merges the query string with a POSTed
//! `application/x-www-form-urlencoded` or `multipart/form-data` body). Arguments are bytes
//! there, decoded as UTF-8 only when a dialect reads them (`bytes2unicode`), so a value that is
//! not UTF-8 is an error of the read, not of the request.

use axum::http::{HeaderMap, Method};
use bytes::Bytes;

use super::error::HookError;

/// One argument's value: the text, or Python's `UnicodeDecodeError` message when its bytes are
/// not UTF-8.
pub type ArgValue = Result<String, String>;

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
    /// Content-Type is `application/x-www-form-urlencoded` or `multipart/form-data`) the
    /// body's, in order; a name may repeat.
    pub args: Vec<(String, ArgValue)>,
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
            args.extend(urlencoded(query.as_bytes()));
        }
        let content_type = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let kind = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if method == Method::POST {
            match kind.as_str() {
                "application/x-www-form-urlencoded" => args.extend(urlencoded(&body)),
                "multipart/form-data" => args.extend(multipart(content_type, &body)),
                _ => {}
            }
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

    /// The first value of argument `name` (Buildbot's `bytes2unicode(request.args[name][0])`):
    /// a value that is not UTF-8 is Python's `UnicodeDecodeError`, a 400.
    pub fn arg(&self, name: &str) -> Result<Option<&str>, HookError> {
        match self.args.iter().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, Ok(value))) => Ok(Some(value)),
            Some((_, Err(message))) => Err(HookError::bad(message.clone())),
        }
    }

    /// Every value of argument `name`, in order.
    pub fn arg_values(&self, name: &str) -> Result<Vec<&str>, HookError> {
        self.args
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_deref().map_err(|m| HookError::bad(m.clone())))
            .collect()
    }
}

/// A value's bytes as text, or Python's message for bytes that are not UTF-8.
fn decoded(bytes: Vec<u8>) -> ArgValue {
    String::from_utf8(bytes)
        .map_err(|err| super::pyjson::utf8_message(err.as_bytes(), &err.utf8_error()))
}

/// `application/x-www-form-urlencoded` fields, values kept as bytes until read (names are
/// read leniently: no dialect looks up a name that is not ASCII).
fn urlencoded(input: &[u8]) -> impl Iterator<Item = (String, ArgValue)> + '_ {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &b""[..]),
            };
            let name = String::from_utf8_lossy(&unquote_plus(name)).into_owned();
            (name, decoded(unquote_plus(value)))
        })
}

/// `+` as a space, then `%XX` escapes, as Python's `unquote_plus` on bytes.
fn unquote_plus(input: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = input
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_encoding::percent_decode(&spaced).collect()
}

/// The fields of a `multipart/form-data` body (their names from `Content-Disposition`), as
/// Twisted puts them into `request.args`; a body it cannot split gives none.
fn multipart(content_type: &str, body: &[u8]) -> Vec<(String, ArgValue)> {
    let Some(boundary) = content_type.split(';').find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        key.eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    }) else {
        return Vec::new();
    };
    let delimiter = format!("--{boundary}");
    let mut fields = Vec::new();
    let mut parts = split_bytes(body, delimiter.as_bytes()).into_iter().skip(1);
    for part in parts.by_ref() {
        if part.starts_with(b"--") {
            break;
        }
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(end) = part.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..end]);
        let name = head.lines().find_map(|line| {
            let (header, value) = line.split_once(':')?;
            if !header.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            value.split(';').find_map(|param| {
                let (key, value) = param.trim().split_once('=')?;
                (key == "name").then(|| value.trim_matches('"').to_owned())
            })
        });
        if let Some(name) = name {
            fields.push((name, decoded(part[end + 4..].to_vec())));
        }
    }
    fields
}

fn split_bytes<'a>(haystack: &'a [u8], needle: &[u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        if &haystack[i..i + needle.len()] == needle {
            pieces.push(&haystack[start..i]);
            i += needle.len();
            start = i;
        } else {
            i += 1;
        }
    }
    pieces.push(&haystack[start..]);
    pieces
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
        assert_eq!(r.arg("who"), Ok(Some("q")));
        assert_eq!(r.arg_values("who").unwrap(), ["q", "lisa s"]);
        assert_eq!(r.arg("files"), Ok(Some("[]")));
        // A GET's body is not a form.
        let r = HookRequest::new(
            Method::GET,
            "/change_hook".into(),
            headers,
            Bytes::from_static(b"who=x"),
            0,
        );
        assert_eq!(r.arg("who"), Ok(None));
        // Bytes that are not UTF-8 fail when read, with Python's message.
        let r = HookRequest::new(
            Method::GET,
            "/change_hook?author=%FF&ok=1".into(),
            HeaderMap::new(),
            Bytes::new(),
            0,
        );
        assert_eq!(r.arg("ok"), Ok(Some("1")));
        assert_eq!(
            r.arg("author"),
            Err(HookError::bad(
                "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
            ))
        );
    }

    #[test]
    fn multipart_fields_are_arguments() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "multipart/form-data; boundary=XX".parse().unwrap(),
        );
        let body = "--XX\r\nContent-Disposition: form-data; name=\"comments\"\r\n\r\nline 1\r\nline 2\r\n\
                    --XX\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\n[\"a\"]\r\n--XX--\r\n";
        let r = HookRequest::new(
            Method::POST,
            "/change_hook/base".into(),
            headers,
            Bytes::from(body),
            0,
        );
        assert_eq!(r.arg("comments"), Ok(Some("line 1\r\nline 2")));
        assert_eq!(r.arg("files"), Ok(Some("[\"a\"]")));
    }
}
