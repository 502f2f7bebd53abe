//! Answers more than one part of the server gives, kept in a leaf module (it names neither
//! `http` nor `ui`): Twisted's 404 page and the frontend config object (`/config`, the About
//! page).

use axum::body::Body;
use axum::http::{header, HeaderMap, Response, StatusCode};
use serde_json::{json, Value};

use crate::config::Config;
use crate::identity::User;

/// Twisted's 404 page, which Buildbot answers for paths it does not serve.
pub fn twisted_not_found(detail: &str) -> Response<Body> {
    let body = format!(
        "\n<html>\n  <head><title>404 - No Such Resource</title></head>\n  <body>\n    <h1>No Such Resource</h1>\n    <p>{detail}</p>\n  </body>\n</html>\n"
    );
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(body))
        .unwrap_or_default()
}

/// The `ETag` of a file served as it is (the UI's assets, Buildbot's UI files): the first 8
/// bytes of its SHA-256, quoted.
pub fn content_etag(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether `If-None-Match` names `tag` (or is `*`), compared weakly as RFC 9110 asks for this
/// header: the answer is then `304 Not Modified`.
pub fn if_none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// A file's answer, revalidated on every use (`no-cache`, its `ETag`): `304 Not Modified`
/// when the client's copy is `fresh`, else the body. `builder` may carry headers of its own.
pub fn file_answer(
    builder: axum::http::response::Builder,
    etag: &str,
    fresh: bool,
    content_type: &str,
    body: Body,
) -> Response<Body> {
    let builder = builder
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, "no-cache");
    if fresh {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    builder
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .unwrap_or_default()
}

/// The fallback for paths no route serves.
pub async fn not_found() -> Response<Body> {
    twisted_not_found("File not found.")
}

/// `avatar_methods` as Buildbot shows it: the default (one `AvatarGravatar`) as an object, a
/// list otherwise.
fn avatar_methods(methods: &[crate::config::AvatarMethod]) -> Value {
    match methods {
        [crate::config::AvatarMethod::AvatarGravatar {}] => json!({"name": "gravatar"}),
        methods => methods.iter().map(|m| json!({"name": m.name()})).collect(),
    }
}

/// The frontend config object (also embedded in the UI page by a later issue).
pub fn frontend_config_value(config: &Config, user: &User) -> Value {
    let www = &config.www;
    // Settings that come from a secret are the plugin's, not the world's.
    let mut plugins = serde_json::Map::new();
    for (name, options) in &www.plugins_public {
        plugins.insert(name.clone(), options.clone());
    }
    let mut versions = vec![
        json!(["Rust", env!("BUILDBOT_WWW_RUSTC_VERSION")]),
        json!(["buildbot-www", env!("CARGO_PKG_VERSION")]),
    ];
    versions.extend(
        www.versions
            .iter()
            .map(|(name, version)| json!([name, version])),
    );
    let mut value = json!({
        "port": www.port.as_ref().map_or(Value::Null, |p| p.text.clone()),
        "plugins": plugins,
        "auth": crate::auth::oauth2::config_dict(&www.auth),
        "authz": {},
        "avatar_methods": avatar_methods(&www.avatar_methods),
        "logfileName": www.logfile_name,
    });
    // Buildbot passes on every `www` key it has no reason to hide; of ours, the default
    // settings are the one Buildbot's UI reads (its settings page starts from them).
    if !www.ui_default_config.is_empty() {
        value["ui_default_config"] = Value::Object(www.ui_default_config.clone());
    }
    value["versions"] = json!(versions);
    value["buildbotURL"] = json!(config.buildbot_url);
    value["title"] = json!(config.title);
    value["titleURL"] = json!(config.title_url);
    value["multiMaster"] = json!(false);
    value["user"] = user.user_info();
    value
}
