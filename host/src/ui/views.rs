//! `views/<plugin>/...`: a plugin's page inside the UI's shell. The plugin answers as it would
//! under `/plugins/<plugin>/...`; an HTML answer is sanitised and embedded in the shell's main
//! area (and refreshed live on the manifest's `events`), anything else passes through.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, Response, StatusCode};

use super::{sanitize, PageRequest, UiState};

/// `views/<plugin>` → `views/<plugin>/`, so relative links inside the view work.
pub(super) async fn mount(
    Path(plugin): Path<String>,
    State(state): State<UiState>,
) -> Response<Body> {
    if !state.plugins.has(&plugin) {
        return crate::answers::twisted_not_found("File not found.");
    }
    Response::builder()
        .status(StatusCode::MOVED_PERMANENTLY)
        .header(header::LOCATION, format!("{plugin}/"))
        .body(Body::empty())
        .unwrap_or_default()
}

pub(super) async fn view(State(state): State<UiState>, req: Request) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    let Ok(page) =
        <PageRequest as axum::extract::FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await;
    let req = Request::from_parts(parts, body);
    let (name, request) = match crate::http::plugin_request(
        &state.config,
        &state.plugins,
        "/views/",
        req,
        Some(page.root.clone()),
    )
    .await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let name = name.as_str();
    let Some(info) = state.plugins.plugins().into_iter().find(|p| p.name == name) else {
        return crate::answers::twisted_not_found("File not found.");
    };
    let answer = match state.plugins.handle(name, request).await {
        Ok(answer) => answer,
        Err(fault) => {
            let status =
                StatusCode::from_u16(fault.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let shell = super::shell(&state, &page, &format!("plugin:{name}"), &info.name, &[]);
            let body = super::ErrorPage {
                status: status.as_u16(),
                message: fault.to_string(),
            };
            let mut response = super::html_status(&state, status, "error.html", &shell, &body);
            crate::http::add_retry_after(&fault, &mut response);
            return response;
        }
    };
    let content_type = answer
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    let is_html = content_type.starts_with("text/html");
    if answer.status != 200 || !is_html {
        let response = crate::http::answer_head(&answer, is_html);
        // An HTML error page is not embedded, but it is still sanitised.
        let body = if is_html {
            sanitize::html(&String::from_utf8_lossy(&answer.body)).into_bytes()
        } else {
            answer.body
        };
        return response.body(Body::from(body)).unwrap_or_default();
    }
    let html = String::from_utf8_lossy(&answer.body);
    let (styles, content) = split_document(&html);
    let head: String = styles
        .iter()
        .map(|css| format!("<style>{}</style>", sanitize::stylesheet(css)))
        .collect();
    let content = sanitize::html(content);
    let label = state
        .plugins
        .menu()
        .into_iter()
        .find(|(plugin, _)| plugin == name)
        .map_or_else(|| info.name.clone(), |(_, entry)| entry.label);
    let shell = super::shell(
        &state,
        &page,
        &format!("plugin:{name}"),
        &label,
        &info.events,
    );
    let body = ViewPage {
        plugin: name,
        head: &head,
        content: &content,
    };
    super::html(&state, "view.html", &shell, &body)
}

/// What `view.html` shows in the shell: the plugin's sanitised page.
#[derive(Debug, serde::Serialize)]
struct ViewPage<'a> {
    plugin: &'a str,
    head: &'a str,
    content: &'a str,
}

/// A full HTML document → (the text of its head's `<style>` elements, its body's content); a
/// fragment is the content as is. The head's other elements (`<link>`, `<base>`, `<meta>`,
/// `<script>`...) are left out.
fn split_document(html: &str) -> (Vec<&str>, &str) {
    let lower = html.to_ascii_lowercase();
    let Some(body_start) = lower.find("<body") else {
        return (Vec::new(), html);
    };
    let content_start = lower[body_start..]
        .find('>')
        .map_or(html.len(), |i| body_start + i + 1);
    let content_end = lower
        .rfind("</body>")
        .unwrap_or(html.len())
        .max(content_start);
    let mut styles = Vec::new();
    let head_part = &lower[..body_start];
    let mut at = 0;
    while let Some(i) = head_part[at..].find("<style") {
        let start = at + i;
        let Some(open_end) = head_part[start..].find('>').map(|e| start + e + 1) else {
            break;
        };
        let Some(end) = head_part[open_end..].find("</style").map(|e| open_end + e) else {
            break;
        };
        styles.push(&html[open_end..end]);
        at = end;
    }
    (styles, &html[content_start..content_end])
}

#[cfg(test)]
mod tests {
    use super::split_document;

    #[test]
    fn documents_are_split_fragments_kept() {
        let (styles, body) = split_document(
            "<!doctype html><html><head><title>x</title><style media=x>p{}</style>\
             <link rel=stylesheet href=a.css><STYLE>q{}</STYLE></head><body class=x><p>hi</p></body></html>",
        );
        assert_eq!(styles, ["p{}", "q{}"]);
        assert_eq!(body, "<p>hi</p>");
        assert_eq!(split_document("<p>x</p>").1, "<p>x</p>");
    }
}
