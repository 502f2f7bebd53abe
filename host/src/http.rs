//! The HTTP server's routes: the REST API under `/api`, `/config`, `/ws`, `/sse`, and
//! Twisted-style 404s.
//!
//! `app()` builds the router apart from serving it (`serve`, with the connection limits), so
//! tests drive it with `oneshot` or a real listener alike.

pub mod access_log;
mod cors;
mod listen;
mod plugins;
mod rest;

pub use listen::serve;

pub(crate) use plugins::plugin_request;
mod sse;
mod ws;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};

use crate::config::Config;
use crate::data::DataApi;
use crate::identity::User;
use crate::jsonfmt::{self, Layout};

/// What every request handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The loaded config.
    pub config: Arc<Config>,
    /// Read access to Buildbot's data.
    pub data: DataApi,
    /// The enabled UI plugins, loaded.
    pub plugins: crate::plugins::Registry,
    /// Allowed CORS origins, compiled.
    cors: Arc<cors::Origins>,
    /// Live updates for `/ws` and `/sse`: this process's events and the database watcher's.
    pub events: crate::events::Events,
    /// The web UI's compiled templates (built-in, or replaced from `custom_templates_dir`).
    pub ui: Arc<crate::ui::Ui>,
}

impl AppState {
    /// State for a config, a Data API and the loaded plugins.
    pub fn new(
        config: Config,
        data: DataApi,
        plugins: crate::plugins::Registry,
    ) -> anyhow::Result<Self> {
        let cors = cors::Origins::from_config(&config)?;
        let ui = Arc::new(crate::ui::Ui::new(&config)?);
        let events = crate::events::Events::watching(data.clone());
        Ok(AppState {
            config: Arc::new(config),
            data,
            plugins,
            cors: Arc::new(cors),
            events,
            ui,
        })
    }
}

/// The router with every route of this server.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/api", any(rest::api_versions))
        .route(
            "/api/",
            any(|| async { twisted_not_found("Sorry. No luck finding that resource.") }),
        )
        .route("/api/{version}", any(rest::root))
        .route("/api/{version}/", any(rest::trailing_slash))
        .route("/api/{version}/{*path}", any(rest::handle))
        .layer(
            tower_http::compression::CompressionLayer::new()
                .gzip(true)
                .no_br()
                .no_deflate()
                .no_zstd(),
        );
    Router::new()
        .merge(api)
        .merge(crate::ui::routes())
        .route("/config", any(frontend_config))
        .route("/ws", any(ws::handle))
        .route("/ws/", any(ws::handle))
        .route("/sse", any(sse::handle))
        .route("/sse/", any(sse::handle))
        .route("/sse/{*path}", any(sse::handle))
        .route("/plugins/{name}", any(plugins::mount))
        .route("/plugins/{name}/", any(plugins::handle))
        .route("/plugins/{name}/{*rest}", any(plugins::handle))
        .fallback(not_found)
        .with_state(state)
}

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

async fn not_found() -> Response<Body> {
    twisted_not_found("File not found.")
}

/// `/config`: what the UI needs to start, in Buildbot's key order and layout.
async fn frontend_config(State(state): State<AppState>) -> Response<Body> {
    let user = User::Anonymous;
    let body = jsonfmt::to_string(
        &frontend_config_value(&state.config, &user),
        Layout::Spaced,
        false,
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public,max-age=0"),
        )
        .body(Body::from(body))
        .unwrap_or_default()
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
    json!({
        "port": www.port.as_ref().map_or(Value::Null, |p| p.text.clone()),
        "plugins": plugins,
        "auth": {"name": "NoAuth"},
        "authz": {},
        "avatar_methods": {"name": "gravatar"},
        "logfileName": www.logfile_name,
        "versions": versions,
        "buildbotURL": config.buildbot_url,
        "title": config.title,
        "titleURL": config.title_url,
        "multiMaster": false,
        "user": user.user_info(),
    })
}
