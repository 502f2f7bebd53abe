//! `/plugins/<name>/...`: hands the request to the plugin and its answer (or fault) back.

use axum::body::{to_bytes, Body};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Response, StatusCode};

use super::AppState;
use crate::identity::User;
use crate::plugins;

/// The largest request body passed to a plugin.
const MAX_REQUEST_BODY: usize = 1 << 20;

/// `/plugins/<name>`: the mount point ends with a slash so the plugin's relative links work.
pub(super) async fn mount(
    Path(name): Path<String>,
    State(state): State<AppState>,
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
    state: &AppState,
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
    if !state.plugins.has(name) {
        return Err(unknown(name));
    }
    let root = root.unwrap_or_else(|| "../".repeat(1 + below.matches('/').count()));
    let query = req.uri().query().unwrap_or("").to_owned();
    let method = req.method().as_str().to_owned();
    let headers = req
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let path = percent_decode(below);
    let name = name.to_owned();
    let body = match to_bytes(req.into_body(), MAX_REQUEST_BODY).await {
        Ok(body) => body.to_vec(),
        Err(_) => {
            return Err(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over {} KiB", MAX_REQUEST_BODY >> 10),
            ))
        }
    };
    let request = plugins::Request {
        method,
        path,
        query,
        headers,
        body,
        user: User::Anonymous,
        root,
    };
    Ok((name, request))
}

/// `/plugins/<name>/` and everything below it.
pub(super) async fn handle(State(state): State<AppState>, req: Request) -> Response<Body> {
    let (name, request) = match plugin_request(&state, "/plugins/", req, None).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let name = name.as_str();
    match state.plugins.handle(name, request).await {
        Ok(answer) => {
            let mut response = Response::builder()
                .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK));
            for (name, value) in &answer.headers {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    response = response.header(name, value);
                }
            }
            response.body(Body::from(answer.body)).unwrap_or_default()
        }
        Err(fault) => plain(
            StatusCode::from_u16(fault.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            fault.to_string(),
        ),
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

fn percent_decode(s: &str) -> String {
    crate::data::query_args(&format!("p={}", s.replace('+', "%2B")))
        .pop()
        .map(|(_, v)| v)
        .unwrap_or_default()
}
