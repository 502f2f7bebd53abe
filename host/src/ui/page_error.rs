//! The one error type of the UI's pages, after axum's error-handling pattern: a page handler
//! returns `Result<Response, PageError>` and uses `?` on Data API reads; `render` (the pages'
//! middleware) turns the error into the error page inside the shell, which needs the request's
//! relative root and settings that the error itself does not carry.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Response, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;

use super::{html_status, shell, ErrorPage, PageRequest, UiState};
use crate::auth::CurrentUser;
use crate::data::ApiError;

/// A page that cannot be shown: the Data API's answer (404 for a missing builder, 400 for a bad
/// argument, 500 for a database failure).
#[derive(Debug, Clone)]
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(err: ApiError) -> Self {
        PageError(err)
    }
}

impl IntoResponse for PageError {
    /// A bare response carrying the error, for `render` to dress; without the middleware the
    /// client still gets the status and no detail.
    fn into_response(self) -> Response<Body> {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Middleware over the page routes: a response that carries a `PageError` becomes the error
/// page (internal details only with `[www] debug`; they always go to the server's log).
pub(super) async fn render(
    State(state): State<UiState>,
    req: Request,
    next: Next,
) -> Response<Body> {
    let uri = req.uri().clone();
    let user = CurrentUser::of(req.extensions());
    let cookies: Vec<_> = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .cloned()
        .collect();
    let mut response = next.run(req).await;
    let Some(PageError(err)) = response.extensions_mut().remove::<PageError>() else {
        return response;
    };
    let page = PageRequest::read(&uri, cookies.iter(), user);
    if err.internal {
        tracing::error!("page {}: {}", page.path, err.message);
    }
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = if err.internal && !state.config.www.debug {
        "internal error (details in the server's log)".to_owned()
    } else {
        err.message
    };
    let body = ErrorPage {
        status: status.as_u16(),
        message,
    };
    html_status(
        &state,
        status,
        "error.html",
        &shell(&state, &page, "", "Error", &[]),
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use tower::ServiceExt;

    use crate::config::Config;

    async fn get(path: &str) -> (StatusCode, String) {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::defaults(&dir.path().join("master.toml"));
        let data = crate::server::data_api(&config).await.unwrap();
        let state = crate::server::AppState::new(config, data, crate::plugins::Registry::default())
            .unwrap();
        let request = axum::http::Request::get(path)
            .header(header::COOKIE, "bb_settings=%7B%7D")
            .body(Body::empty())
            .unwrap();
        let response = crate::server::app(state).oneshot(request).await.unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_missing_builder_is_the_error_page_in_the_shell() {
        let (status, body) = get("/builders/9999/builds/1").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
        assert!(
            body.contains("<p class=\"error-message\">not found while getting"),
            "{body}"
        );
        // The shell's links are relative to the page's depth.
        assert!(body.contains("href=\"..&#x2f;..&#x2f;..&#x2f;\""), "{body}");
    }
}
