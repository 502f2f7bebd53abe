//! The HTTP server's own routes: the REST API under `/api`, `/config`, `/ws`, `/sse`,
//! `/plugins/`, `/change_hook/`, `/healthz`, `/readyz` and `/metrics`. It knows nothing of the UI:
//! `server::app` merges these routes with the UI's.
//!
//! `routes()` is separate from serving (`serve`, with the connection limits), so tests drive
//! the assembled router with `oneshot` or a real listener alike.

pub mod access_log;
pub mod answer_cache;
mod cors;
pub mod forwarded;
mod health;
mod listen;
mod metrics;
mod plugins;
mod rest;

pub use listen::serve;

pub(crate) use plugins::{add_retry_after, answer_head, plugin_request};
mod sse;
mod ws;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Response};
use axum::routing::any;
use axum::Router;

use crate::answers::{frontend_config_value, twisted_not_found};
use crate::config::Config;
use crate::data::DataApi;
use crate::jsonfmt::{self, Layout};

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct HttpState {
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
    /// Sessions, login and logout.
    pub auth: Arc<crate::auth::Authentication>,
    /// Who carries out control actions (JSON-RPC).
    pub control: Arc<crate::control::Control>,
    /// `/change_hook/`: the enabled dialects and the delivery log.
    pub hooks: Arc<crate::hooks::ChangeHooks>,
    /// REST answers kept while the data stays the same (`[www] rest_cache_mib`).
    pub answers: Arc<answer_cache::AnswerCache>,
    /// Reads through that cache, shared with the plugins' data reads.
    reads: answer_cache::Reads,
    /// What `/metrics` shows; the HTTP side's meters.
    pub metrics: crate::metrics::Metrics,
}

impl axum::extract::FromRef<HttpState> for Arc<crate::auth::Authentication> {
    fn from_ref(state: &HttpState) -> Self {
        state.auth.clone()
    }
}

impl HttpState {
    /// Reads through the answer cache (REST, and the plugins' data reads).
    pub fn reads(&self) -> &answer_cache::Reads {
        &self.reads
    }

    /// State for a config, a Data API, the loaded plugins and the event bus; fails on a bad
    /// CORS origin.
    pub fn new(
        config: Arc<Config>,
        data: DataApi,
        plugins: crate::plugins::Registry,
        events: crate::events::Events,
    ) -> anyhow::Result<Self> {
        let cors = cors::Origins::from_config(&config)?;
        let auth = crate::auth::Authentication::new(&config, data.pool().clone(), &plugins)?;
        let control = match crate::control::link::MasterLink::new(&config, auth.sessions())? {
            Some(link) => crate::control::Control::Linked(Arc::new(link)),
            None => crate::control::Control::Unavailable,
        };
        if let Some(master) = &config.www.master {
            let fed = master.live_updates == crate::config::LiveUpdates::Master;
            if fed && tokio::runtime::Handle::try_current().is_ok() {
                crate::events::master_feed::spawn(&events, &master.url, auth.sessions());
            }
        }
        let hooks = Arc::new(crate::hooks::ChangeHooks::new(&config)?);
        let answers = Arc::new(answer_cache::AnswerCache::new(config.www.rest_cache_bytes));
        let reads = answer_cache::Reads {
            cache: answers.clone(),
            events: events.clone(),
            data: data.clone(),
        };
        plugins.read_through(reads.clone());
        let metrics = crate::metrics::Metrics::new(crate::metrics::Sources {
            pool: data.pool().clone(),
            plugins: plugins.metrics(),
            events: events.metrics(),
            logins: auth.metrics(),
            answers: answers.clone(),
        });
        Ok(HttpState {
            answers,
            reads,
            hooks,
            metrics,
            auth,
            config,
            data,
            plugins,
            cors: Arc::new(cors),
            events,
            control: Arc::new(control),
        })
    }
}

/// The HTTP server's routes (no fallback: `server::app` adds Twisted's 404 once).
pub fn routes() -> Router<HttpState> {
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
        .route("/config", any(frontend_config))
        .route("/healthz", axum::routing::get(health::healthz))
        .route("/readyz", axum::routing::get(health::readyz))
        .route("/auth/login", any(crate::auth::login))
        .route("/auth/logout", any(crate::auth::logout))
        .route("/ws", any(ws::handle))
        .route("/ws/", any(ws::handle))
        .route("/sse", any(sse::handle))
        .route("/sse/", any(sse::handle))
        .route("/sse/{*path}", any(sse::handle))
        .route("/change_hook", any(crate::hooks::handle))
        .route("/change_hook/", any(crate::hooks::handle))
        .route("/change_hook/{*rest}", any(crate::hooks::handle))
        .route("/plugins/{name}", any(plugins::mount))
        .route("/plugins/{name}/", any(plugins::handle))
        .route("/plugins/{name}/{*rest}", any(plugins::handle))
}

/// `/metrics` (see `[www.metrics]`): merged into the main router when it is served on the main
/// port, the whole router of the metrics port otherwise.
pub fn metrics_routes() -> Router<HttpState> {
    Router::new().route("/metrics", axum::routing::get(metrics::scrape))
}

/// `/config`: what the UI needs to start, in Buildbot's key order and layout.
async fn frontend_config(
    State(state): State<HttpState>,
    crate::auth::CurrentUser(user): crate::auth::CurrentUser,
) -> Response<Body> {
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
