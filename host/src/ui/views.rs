//! `views/<plugin>/...`: a plugin's page inside the UI's shell. The plugin answers as it would
//! under `/plugins/<plugin>/...`; an HTML answer is embedded in the shell's main area (and
//! refreshed live on the manifest's `events`), anything else passes through unchanged.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Response, StatusCode};
use serde_json::json;

use super::PageRequest;
use crate::http::AppState;

/// `views/<plugin>` → `views/<plugin>/`, so relative links inside the view work.
pub(super) async fn mount(
    Path(plugin): Path<String>,
    State(state): State<AppState>,
) -> Response<Body> {
    if !state.plugins.has(&plugin) {
        return crate::http::twisted_not_found("File not found.");
    }
    Response::builder()
        .status(StatusCode::MOVED_PERMANENTLY)
        .header(header::LOCATION, format!("{plugin}/"))
        .body(Body::empty())
        .unwrap_or_default()
}

pub(super) async fn view(State(state): State<AppState>, req: Request) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    let Ok(page) =
        <PageRequest as axum::extract::FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await;
    let req = Request::from_parts(parts, body);
    let (name, request) =
        match crate::http::plugin_request(&state, "/views/", req, Some(page.root.clone())).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let name = name.as_str();
    let Some(info) = state.plugins.plugins().into_iter().find(|p| p.name == name) else {
        return crate::http::twisted_not_found("File not found.");
    };
    let answer = match state.plugins.handle(name, request).await {
        Ok(answer) => answer,
        Err(fault) => {
            let status =
                StatusCode::from_u16(fault.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut context =
                super::shell(&state, &page, &format!("plugin:{name}"), &info.name, &[]);
            context["status"] = json!(status.as_u16());
            context["message"] = json!(fault.to_string());
            return super::html_status(&state, status, "error.html", &context);
        }
    };
    let content_type = answer
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    if answer.status != 200 || !content_type.starts_with("text/html") {
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
        return response.body(Body::from(answer.body)).unwrap_or_default();
    }
    let html = String::from_utf8_lossy(&answer.body);
    let (head, content) = split_document(&html);
    let label = state
        .plugins
        .menu()
        .into_iter()
        .find(|(plugin, _)| plugin == name)
        .map_or_else(|| info.name.clone(), |(_, entry)| entry.label);
    let mut context = super::shell(
        &state,
        &page,
        &format!("plugin:{name}"),
        &label,
        &info.events,
    );
    context["plugin"] = json!(name);
    context["head"] = json!(head);
    context["content"] = json!(content);
    super::html(&state, "view.html", &context)
}

/// A full HTML document → (its head's `<style>` and `<link>` elements, its body's content); a
/// fragment is the content as is.
fn split_document(html: &str) -> (String, String) {
    let lower = html.to_ascii_lowercase();
    let Some(body_start) = lower.find("<body") else {
        return (String::new(), html.to_owned());
    };
    let content_start = lower[body_start..]
        .find('>')
        .map_or(html.len(), |i| body_start + i + 1);
    let content_end = lower
        .rfind("</body>")
        .unwrap_or(html.len())
        .max(content_start);
    let mut head = String::new();
    let head_part = &lower[..body_start];
    let mut at = 0;
    while let Some(i) = head_part[at..].find("<style") {
        let start = at + i;
        let Some(end) = head_part[start..].find("</style>") else {
            break;
        };
        head.push_str(&html[start..start + end + "</style>".len()]);
        at = start + end;
    }
    at = 0;
    while let Some(i) = head_part[at..].find("<link") {
        let start = at + i;
        let Some(end) = head_part[start..].find('>') else {
            break;
        };
        head.push_str(&html[start..=start + end]);
        at = start + end;
    }
    (head, html[content_start..content_end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::split_document;

    #[test]
    fn documents_are_split_fragments_kept() {
        let (head, body) = split_document(
            "<!doctype html><html><head><title>x</title><style>p{}</style>\
             <link rel=stylesheet href=a.css></head><body class=x><p>hi</p></body></html>",
        );
        assert_eq!(head, "<style>p{}</style><link rel=stylesheet href=a.css>");
        assert_eq!(body, "<p>hi</p>");
        assert_eq!(split_document("<p>x</p>").1, "<p>x</p>");
    }
}
