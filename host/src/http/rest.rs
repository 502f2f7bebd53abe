//! The REST API (`/api/v2/...`): methods, formatting by `Accept`, caching headers, errors.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde_json::{json, Map};

use super::answer_cache::{Cached, Read};
use super::{cors, HttpState};
use crate::answers::twisted_not_found;
use crate::data::ApiError;
use crate::jsonfmt::{self, Layout};

/// The only REST API version this server speaks.
const API_VERSION: u32 = 2;

/// `/api`: the available versions.
pub(super) async fn api_versions(State(state): State<HttpState>) -> Response<Body> {
    let mut versions = Map::new();
    if state.config.www.rest_minimum_version <= API_VERSION {
        versions.insert(
            "v2".into(),
            json!(format!("{}api/v2", state.config.buildbot_url)),
        );
    }
    let body = jsonfmt::to_string(&json!({ "api_versions": versions }), Layout::Spaced, true);
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

/// `/api/v2` itself: the root links.
pub(super) async fn root(
    state: State<HttpState>,
    Path(version): Path<String>,
    query: RawQuery,
    req: Request,
) -> Response<Body> {
    serve(state, version, String::new(), query, req).await
}

/// `/api/v2/`: Buildbot treats the empty path after the slash as an invalid path.
pub(super) async fn trailing_slash(
    state: State<HttpState>,
    Path(version): Path<String>,
    query: RawQuery,
    req: Request,
) -> Response<Body> {
    serve(state, version, "/".into(), query, req).await
}

/// `/api/v2/<path>`.
pub(super) async fn handle(
    state: State<HttpState>,
    Path((version, path)): Path<(String, String)>,
    query: RawQuery,
    req: Request,
) -> Response<Body> {
    serve(state, version, path, query, req).await
}

fn version_ok(state: &HttpState, version: &str) -> bool {
    let number = match version {
        "latest" => API_VERSION,
        v => match v.strip_prefix('v').and_then(|n| n.parse::<u32>().ok()) {
            Some(n) => n,
            None => return false,
        },
    };
    number == API_VERSION && number >= state.config.www.rest_minimum_version
}

async fn serve(
    State(state): State<HttpState>,
    version: String,
    path: String,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response<Body> {
    if !version_ok(&state, &version) {
        return twisted_not_found("Sorry. No luck finding that resource.");
    }
    let headers = req.headers().clone();
    let cors = match state.cors.check(req.method(), &headers) {
        Ok(cors) => cors,
        Err(message) => {
            let mut response = error_response(&state, &ApiError::bad_request(message), None);
            cors::vary(response.headers_mut());
            return response;
        }
    };
    if let Some(preflight) = cors.preflight {
        return preflight;
    }
    let mut response = match *req.method() {
        Method::GET | Method::HEAD => {
            let user = crate::auth::CurrentUser::of(req.extensions());
            read(&state, path, query, &user, &headers).await
        }
        Method::POST => {
            let user = crate::auth::CurrentUser::of(req.extensions());
            match axum::body::to_bytes(req.into_body(), crate::control::MAX_CALL_BYTES).await {
                Ok(body) => {
                    let ctx = crate::control::Context {
                        config: &state.config,
                        data: &state.data,
                        control: &state.control,
                        user: &user,
                    };
                    crate::control::handle(ctx, &path, &headers, body).await
                }
                Err(_) => error_response(
                    &state,
                    &ApiError::bad_request("request body too large"),
                    Some(StatusCode::PAYLOAD_TOO_LARGE),
                ),
            }
        }
        _ => error_response(&state, &ApiError::bad_request("invalid HTTP method"), None),
    };
    cors.decorate(response.headers_mut());
    response
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.contains("application/json")))
}

/// A GET or HEAD: from the answer cache while the data's generation stays, else read from the
/// Data API (and kept when it is a collection or an entity).
async fn read(
    state: &HttpState,
    path: String,
    query: Option<String>,
    user: &crate::identity::User,
    headers: &HeaderMap,
) -> Response<Body> {
    let query = query.unwrap_or_default();
    let max_args = state.config.www.limits.max_query_args;
    let args = || match crate::data::query_args_at_most(&query, max_args) {
        Ok(_) if path == "/" => Err(ApiError::invalid_path("")),
        result => result,
    };
    match state
        .reads()
        .read(user, &path, &query, wants_json(headers), args)
        .await
    {
        Ok(Read::Items(answer)) => items_response(state, &answer, headers),
        Ok(Read::Raw {
            body,
            content_type,
            filename,
        }) => raw_response(body, content_type, filename),
        Err(err) => error_response(state, &err, None),
    }
}

/// A collection or an entity, with its `ETag` (`304` when `If-None-Match` names it).
fn items_response(state: &HttpState, answer: &Cached, headers: &HeaderMap) -> Response<Body> {
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, answer.content_type)
        .header(header::ETAG, &answer.etag);
    if state.config.www.json_cache_seconds > 0 {
        let expires = std::time::SystemTime::now()
            + std::time::Duration::from_secs(state.config.www.json_cache_seconds);
        builder = builder
            .header(header::EXPIRES, httpdate::fmt_http_date(expires))
            .header(header::PRAGMA, "no-cache");
    }
    if crate::answers::if_none_match(headers, &answer.etag) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    builder
        .header(header::CONTENT_LENGTH, answer.body.len())
        .body(Body::from(answer.body.clone()))
        .unwrap_or_default()
}

/// A raw answer (a log's text or a file).
fn raw_response(body: Vec<u8>, content_type: &str, filename: Option<String>) -> Response<Body> {
    let content_type = if content_type.starts_with("text/") {
        format!("{content_type}; charset=utf-8")
    } else {
        content_type.to_string()
    };
    // A log is the build's text, not the UI's: opened in the browser (`raw_inline`, HTML
    // logs) it gets an opaque origin and no script.
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_SECURITY_POLICY, "sandbox");
    if let Some(filename) = filename {
        let value = format!(
            "attachment; filename={}",
            filename.replace(['"', '\r', '\n'], "_")
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            builder = builder.header(header::CONTENT_DISPOSITION, value);
        }
    }
    builder.body(Body::from(body)).unwrap_or_default()
}

/// Buildbot's REST error: `{"error": "..."}` as `text/plain`.
pub(crate) fn error_response(
    state: &HttpState,
    err: &ApiError,
    status: Option<StatusCode>,
) -> Response<Body> {
    let message = if err.internal && !state.config.www.debug {
        tracing::error!("internal error: {}", err.message);
        "internal error (set debug = true in [www] to see details)".to_string()
    } else {
        err.message.clone()
    };
    let body = jsonfmt::to_string(&json!({ "error": message }), Layout::Spaced, true);
    let status = status
        .unwrap_or(StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(body))
        .unwrap_or_default()
}
