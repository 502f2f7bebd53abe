//! `assets/<file>`: the UI's stylesheet, script and icon, embedded in the binary, with
//! `ETag` (content hash) and `Last-Modified` (server start) for revalidation.

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderMap, Response};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    etag: String,
}

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "ui.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/ui.css"),
    ),
    (
        "ui.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/ui.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("assets/icon.svg"),
    ),
];

static ASSETS: LazyLock<(Vec<Asset>, String)> = LazyLock::new(|| {
    let assets = FILES
        .iter()
        .map(|(name, content_type, body)| {
            let etag = crate::answers::content_etag(body);
            Asset {
                name,
                content_type,
                body,
                etag,
            }
        })
        .collect();
    (
        assets,
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    )
});

pub(super) async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response<Body> {
    let (assets, last_modified) = &*ASSETS;
    let Some(asset) = assets.iter().find(|a| a.name == file) else {
        return crate::answers::twisted_not_found("File not found.");
    };
    let fresh = crate::answers::if_none_match(&headers, &asset.etag)
        || (headers.get(header::IF_NONE_MATCH).is_none()
            && headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == last_modified));
    crate::answers::file_answer(
        Response::builder().header(header::LAST_MODIFIED, last_modified.as_str()),
        &asset.etag,
        fresh,
        asset.content_type,
        Body::from(asset.body),
    )
}
