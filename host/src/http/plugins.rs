//! `/plugins/<name>/...`: hands the request to the plugin and its answer (or fault) back.

use axum::body::{to_bytes, Body};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Response, StatusCode};

use super::HttpState;
use crate::plugins;

/// The largest request body passed to a plugin.
const MAX_REQUEST_BODY: usize = 1 << 20;

/// `/plugins/<name>`: the mount point ends with a slash so the plugin's relative links work.
pub(super) async fn mount(
    Path(name): Path<String>,
    State(state): State<HttpState>,
) -> Response<Body> {
    if !state.plugins.has(&name) {
        return unknown(&name);
    }
    Response::builder()
        .status(StatusCode::MOVED_PERMANENTLY)
        .header(header::LOCATION, format!("{name}/"))
        .body(Body::empty())
        .unwrap_or_default()
}

/// The plugin named in `req`'s path below `mount` (`/plugins/`, `/views/`), and the request
/// it gets: the path below its own mount, percent-decoded, with `root` the relative server root
/// (by default one `../` per level below the mount, plus one for the mount itself).
/// An unknown plugin or an oversized body is answered here.
pub(crate) async fn plugin_request(
    config: &crate::config::Config,
    registry: &plugins::Registry,
    mount: &str,
    req: Request,
    root: Option<String>,
) -> Result<(String, plugins::Request), Response<Body>> {
    let raw_path = req.uri().path().to_owned();
    let rest = raw_path.strip_prefix(mount).unwrap_or("");
    let (name, below) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if !registry.has(name) {
        return Err(unknown(name));
    }
    let root = root.unwrap_or_else(|| "../".repeat(1 + below.matches('/').count()));
    let user = crate::auth::CurrentUser::of(req.extensions());
    let query = req.uri().query().unwrap_or("").to_owned();
    let method = req.method().as_str().to_owned();
    let remote_user_header = match &config.www.auth {
        crate::config::Auth::RemoteUserAuth(auth) => auth.header.as_str(),
        _ => "REMOTE_USER",
    };
    let headers = plugins::request_headers(
        req.headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned()))),
        Some(remote_user_header),
    );
    let path = percent_decode(below).map_err(|reason| plain(StatusCode::BAD_REQUEST, reason))?;
    let name = name.to_owned();
    let body = match to_bytes(req.into_body(), MAX_REQUEST_BODY).await {
        Ok(body) => body.to_vec(),
        Err(err) => {
            let too_large = err.into_inner().is::<http_body_util::LengthLimitError>();
            return Err(if too_large {
                plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body over {} KiB", MAX_REQUEST_BODY >> 10),
                )
            } else {
                // the body timed out (http_body_timeout_ms) or the client went away
                plain(
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read in time".to_owned(),
                )
            });
        }
    };
    let request = plugins::Request {
        method,
        path,
        query,
        headers,
        body,
        user,
        root,
    };
    Ok((name, request))
}

/// `/plugins/<name>/` and everything below it.
pub(super) async fn handle(State(state): State<HttpState>, req: Request) -> Response<Body> {
    let (name, request) =
        match plugin_request(&state.config, &state.plugins, "/plugins/", req, None).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let name = name.as_str();
    match state.plugins.handle(name, request).await {
        Ok(answer) => answer_head(&answer, false)
            .body(Body::from(answer.body))
            .unwrap_or_default(),
        Err(fault) => fault_response(&fault),
    }
}

/// A plugin's answer's status and headers (already through the response policy), without its
/// `content-length` when `drop_length` (the body is about to be rewritten).
pub(crate) fn answer_head(
    answer: &plugins::Response,
    drop_length: bool,
) -> axum::http::response::Builder {
    let mut response =
        Response::builder().status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK));
    for (name, value) in &answer.headers {
        if drop_length && name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response = response.header(name, value);
        }
    }
    response
}

/// The plain-text answer for a failed plugin call; 503s say when to retry.
pub(crate) fn fault_response(fault: &plugins::Fault) -> Response<Body> {
    let mut response = plain(
        StatusCode::from_u16(fault.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        fault.to_string(),
    );
    add_retry_after(fault, &mut response);
    response
}

/// `Retry-After` on the answer to a fault that passes (a busy plugin, the memory pool full).
pub(crate) fn add_retry_after(fault: &plugins::Fault, response: &mut Response<Body>) {
    if let Some(seconds) = fault.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}

fn unknown(name: &str) -> Response<Body> {
    plain(
        StatusCode::NOT_FOUND,
        plugins::Fault::NotFound(name.to_owned()).to_string(),
    )
}

fn plain(status: StatusCode, text: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(text + "\n"))
        .unwrap_or_default()
}

/// The path as the plugin sees it: every `%XX` decoded once (`&`, `=`, `+`, `?` and `#` stay
/// what they decode to), which must be UTF-8 without NUL.
fn percent_decode(path: &str) -> Result<String, String> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| "the path does not decode to UTF-8".to_owned())?;
    if decoded.contains('\0') {
        return Err("the path decodes to a NUL character".to_owned());
    }
    Ok(decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn paths_are_decoded_exactly() {
        assert_eq!(percent_decode("/a%26b%3Dc+d").unwrap(), "/a&b=c+d");
        assert_eq!(percent_decode("/%E2%9C%93/%2F").unwrap(), "/\u{2713}//");
        assert_eq!(percent_decode("/100%").unwrap(), "/100%");
        assert_eq!(percent_decode("/%zz%4").unwrap(), "/%zz%4");
        assert!(percent_decode("/a%00b").is_err());
        assert!(percent_decode("/%ff").is_err());
    }
}
