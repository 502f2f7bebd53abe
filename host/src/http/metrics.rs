//! `/metrics`: every metric as Prometheus text (or OpenMetrics, when the client asks for it),
//! to whom `[www.metrics]` allows. See docs/deployment.md, "Metrics".

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Response, StatusCode};

use super::HttpState;
use crate::auth::CurrentUser;
use crate::config::MetricsAccess;
use crate::metrics::Format;

/// `GET /metrics`. With `[www.metrics] role`, only for users with that role (403 for the
/// others, anonymous ones included); otherwise for every client of the listener it is
/// served on (the main port, or the metrics port of its own).
pub(super) async fn scrape(
    State(state): State<HttpState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
) -> Response<Body> {
    if let Some(MetricsAccess::Role(role)) = &state.config.www.metrics {
        if !state.data.authz().has_role(&user, role) {
            return Response::builder()
                .status(StatusCode::FORBIDDEN)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Body::from(format!("you need to have role '{role}'")))
                .unwrap_or_default();
        }
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let format = Format::accepted(accept);
    Response::builder()
        .header(header::CONTENT_TYPE, format.content_type())
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(state.metrics.encode(format)))
        .unwrap_or_default()
}
