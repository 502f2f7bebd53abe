//! `assets/<file>`: the UI's stylesheet, script and icon, embedded in the binary, with
//! `ETag` (content hash) and `Last-Modified` (server start) for revalidation.

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderMap, Response, StatusCode};
use sha2::{Digest, Sha256};

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
            let digest = Sha256::digest(body);
            let etag = format!(
                "\"{}\"",
                digest[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            );
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
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag))
        || (headers.get(header::IF_NONE_MATCH).is_none()
            && headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == last_modified));
    let builder = Response::builder()
        .header(header::ETAG, &asset.etag)
        .header(header::LAST_MODIFIED, last_modified.as_str())
        .header(header::CACHE_CONTROL, "no-cache");
    if fresh {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    builder
        .header(header::CONTENT_TYPE, asset.content_type)
        .body(Body::from(asset.body))
        .unwrap_or_default()
}
