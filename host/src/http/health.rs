//! `/healthz` and `/readyz`, for service managers and load balancers: the process answers;
//! the server can serve (its database answers a query within a second, its plugins are
//! loaded). Neither needs a session nor says anything secret: a load balancer asks them
//! anonymously.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Response, StatusCode};
use serde_json::json;

use super::HttpState;
use crate::jsonfmt::{self, Layout};

/// How long `/readyz` waits for the database.
const DATABASE_WAIT: Duration = Duration::from_secs(1);

/// `/healthz`: `200 ok` while the process serves requests at all.
pub(super) async fn healthz() -> Response<Body> {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from("ok\n"))
        .unwrap_or_default()
}

/// `/readyz`: `200` with what was checked, or `503` naming what is not ready.
pub(super) async fn readyz(State(state): State<HttpState>) -> Response<Body> {
    let query = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(state.data.pool());
    let database = match tokio::time::timeout(DATABASE_WAIT, query).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("the database does not answer: {err}")),
        Err(_) => Err(format!(
            "the database did not answer within {} s",
            DATABASE_WAIT.as_secs()
        )),
    };
    let plugins: Vec<String> = state
        .plugins
        .plugins()
        .into_iter()
        .map(|p| p.name)
        .collect();
    let (status, body) = match database {
        Ok(()) => (
            StatusCode::OK,
            json!({"ready": true, "database": "ok", "plugins": plugins}),
        ),
        Err(reason) => {
            tracing::warn!("/readyz: {reason}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"ready": false, "database": reason, "plugins": plugins}),
            )
        }
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(jsonfmt::to_string(
            &body,
            Layout::Compact,
            false,
        )))
        .unwrap_or_default()
}
