//! Starting the server: open the database, assemble the application (the HTTP server's
//! routes and the UI's, each with its own state), listen on `[www] port`.
//!
//! This is the one module that knows both `http` and `ui`; neither names the other's state.

use std::sync::Arc;

use anyhow::{bail, Context};
use axum::Router;

use crate::config::{Config, MetricsAccess};
use crate::data::DataApi;
use crate::http::{access_log, HttpState};
use crate::ui::UiState;

/// Everything the server's handlers share: the HTTP side's state and the UI's.
#[derive(Debug, Clone)]
pub struct AppState {
    /// What `/api`, `/config`, `/ws`, `/sse` and `/plugins/` read.
    pub http: HttpState,
    /// What the pages and plugin views read.
    pub ui: UiState,
    /// `/avatar`'s methods and cache.
    pub avatars: Arc<crate::avatar::Avatars>,
    /// Buildbot's own UI at `/`, when `[www.buildbot_ui]` names its files.
    pub buildbot_ui: Option<Arc<crate::buildbot_ui::BuildbotUi>>,
}

impl AppState {
    /// State for a config, a Data API and the loaded plugins: starts the event bus, compiles
    /// the templates and the CORS origins (either may fail on a bad config).
    pub fn new(
        config: Config,
        data: DataApi,
        plugins: crate::plugins::Registry,
    ) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let avatars = crate::avatar::Avatars::new(&config)?;
        let buildbot_ui = crate::buildbot_ui::BuildbotUi::load(&config, &plugins)?;
        let mut ui = UiState::new(config.clone(), data.clone(), plugins.clone())?;
        let events = crate::events::Events::watching(data.clone());
        let http = HttpState::new(config, data, plugins, events)?;
        // The pages offer the actions of whoever carries them out (a linked master).
        ui.control = http.control.clone();
        ui.deliveries = http.hooks.deliveries().clone();
        Ok(AppState {
            http,
            ui,
            avatars,
            buildbot_ui,
        })
    }

    /// The state with `control` carrying out control actions, for the JSON-RPC calls and
    /// for the pages (which offer the actions only when someone can carry them out).
    pub fn with_control(mut self, control: crate::control::Control) -> Self {
        let control = Arc::new(control);
        self.http.control = control.clone();
        self.ui.control = control;
        self
    }
}

/// The router with every route of this server: the HTTP server's, the UI's, and Twisted's 404
/// for the rest. With `[www.metrics]`, every request is counted, and `/metrics` is served here
/// unless it has a port of its own ([`metrics_app`]).
pub fn app(state: AppState) -> Router {
    app_logged(state, None)
}

/// [`app`], with one line in `access` for each request when given. The outermost layer
/// finds each request's client (`http::forwarded`), so the log, the metrics and every handler
/// see the same one.
pub fn app_logged(state: AppState, access: Option<access_log::AccessLog>) -> Router {
    let auth = state.http.auth.clone();
    let trusted = Arc::new(state.http.config.www.trusted_proxies.clone());
    let metrics = state.http.metrics.clone();
    let metrics_access = state.http.config.www.metrics.clone();
    let mut router = Router::new()
        .merge(crate::http::routes().with_state(state.http.clone()))
        .merge(crate::ui::router(state.ui))
        .merge(crate::avatar::routes(state.avatars));
    if matches!(
        metrics_access,
        Some(MetricsAccess::Open | MetricsAccess::Role(_))
    ) {
        router = router.merge(crate::http::metrics_routes().with_state(state.http));
    }
    let mut router = router.fallback(crate::answers::not_found);
    if let Some(buildbot_ui) = state.buildbot_ui {
        // Inside `identify`: the index page carries the user.
        router = router.layer(axum::middleware::from_fn_with_state(
            buildbot_ui,
            crate::buildbot_ui::serve,
        ));
    }
    let mut router = router.layer(axum::middleware::from_fn_with_state(
        auth,
        crate::auth::identify,
    ));
    if metrics_access.is_some() {
        router = router.layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::record,
        ));
    }
    if let Some(access) = access {
        router = router.layer(axum::middleware::from_fn_with_state(
            access,
            access_log::record,
        ));
    }
    router.layer(axum::middleware::from_fn_with_state(
        trusted,
        crate::http::forwarded::resolve,
    ))
}

/// What the metrics port of `[www.metrics] port` serves: `/metrics`, and 404 for the rest.
pub fn metrics_app(state: &AppState) -> Router {
    crate::http::metrics_routes()
        .with_state(state.http.clone())
        .fallback(crate::answers::not_found)
}

/// Opens the database named by the config and puts the Data API over it.
pub async fn data_api(config: &Config) -> anyhow::Result<DataApi> {
    let pool = crate::db::open_with(
        &config.db.db_url,
        config
            .db
            .password
            .as_ref()
            .map(crate::config::Secret::expose),
        &config.base_dir,
    )
    .await?;
    Ok(DataApi::new(
        pool,
        config.forceschedulers.clone(),
        crate::data::Paging {
            default_limit: config.www.rest_default_limit,
            max_limit: config.www.limits.rest_max_limit,
        },
    )
    .with_authz(crate::authz::Authz::new(&config.www.authz)))
}

/// Builds the application state for a config: opens the database, loads the plugins.
pub async fn state(config: Config) -> anyhow::Result<AppState> {
    let data = data_api(&config).await?;
    let plugins = crate::plugins::Registry::load(&config, data.clone()).await?;
    AppState::new(config, data, plugins)
}

/// Serves until interrupted.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    serve_with(config, false).await
}

/// Serves until interrupted; with `demo_activity`, also keeps demo builds running in the
/// database (`serve --demo-activity`, see `fixtures::activity`).
pub async fn serve_with(config: Config, demo_activity: bool) -> anyhow::Result<()> {
    #[cfg(not(feature = "demo"))]
    if demo_activity {
        bail!("--demo-activity: this binary was built without the `demo` feature");
    }
    init_tracing();
    let Some(port) = config.www.port.clone() else {
        bail!(
            "{}: [www] has no `port`, so there is nothing to listen on; add e.g. port = 8010 \
             or port = \"tcp:8010:interface=127.0.0.1\"",
            config.path.display()
        );
    };
    let log_file = config
        .www
        .logfile_name
        .as_ref()
        .map(|name| config.base_dir.join(name));
    let access = access_log::AccessLog::open(
        log_file,
        config.www.log_rotate_length,
        config.www.max_rotated_files,
    )
    .context("cannot open the access log")?;
    let buildbot_url = config.buildbot_url.clone();
    let limits = config.www.limits;
    #[allow(unused_mut)]
    let mut state = state(config).await?;
    #[cfg(feature = "demo")]
    if demo_activity {
        // The runner plays the master: control actions write requests it claims and runs.
        let runner = std::sync::Arc::new(crate::control::standalone::Runner::default());
        let standalone = crate::control::standalone::Standalone::new(
            state.http.data.pool().clone(),
            state.http.events.clone(),
            runner.clone(),
        )
        .with_schedulers(state.http.config.schedulers.clone());
        state = state.with_control(crate::control::Control::Standalone(standalone));
        tokio::spawn(crate::fixtures::activity::run(
            state.http.data.pool().clone(),
            state.http.events.clone(),
            std::time::Duration::from_millis(700),
            Some(runner),
        ));
    }
    reload_on_sighup(access.clone(), state.ui.ui.clone());
    if let Some(MetricsAccess::Port(port)) = &state.http.config.www.metrics {
        let address = port.socket_addr();
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .with_context(|| format!("[www.metrics] port: cannot listen on {address}"))?;
        println!(
            "buildbot-www: metrics on http://{}/metrics",
            listener.local_addr()?
        );
        // It ends with the process: the main listener's shutdown is the server's.
        tokio::spawn(crate::http::serve(
            listener,
            metrics_app(&state),
            limits,
            std::future::pending(),
        ));
    }
    let router = app_logged(state, Some(access));
    let address = port.socket_addr();
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    tracing::info!(
        "buildbot-www serving on http://{} (buildbotURL {buildbot_url})",
        listener.local_addr()?
    );
    println!(
        "buildbot-www: serving {buildbot_url} on http://{}/",
        listener.local_addr()?
    );
    crate::http::serve(listener, router, limits, stop_signal()).await;
    Ok(())
}

/// On each SIGHUP, opens the access log file again (logrotate's `postrotate` sends one after
/// moving the file away) and compiles the UI's templates again from `custom_templates_dir`
/// (a template that does not compile is logged and the running ones stay). Plugins reload
/// by themselves when their file changes, and password files are read at each login; the
/// rest of the config needs a restart.
fn reload_on_sighup(access: access_log::AccessLog, templates: Arc<crate::ui::Templates>) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        tracing::warn!("SIGHUP cannot be caught: the access log will not be reopened on it");
        return;
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match access.reopen() {
                Ok(()) => tracing::info!("SIGHUP: access log reopened"),
                Err(err) => tracing::warn!("SIGHUP: cannot reopen the access log: {err}"),
            }
            let reloaded = templates.clone();
            match tokio::task::spawn_blocking(move || reloaded.reload()).await {
                Ok(Ok(())) => tracing::info!("SIGHUP: templates compiled again"),
                Ok(Err(err)) => {
                    tracing::warn!("SIGHUP: templates not reloaded, the running ones stay: {err:#}")
                }
                Err(err) => tracing::warn!("SIGHUP: templates not reloaded: {err}"),
            }
        }
    });
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM (what service managers send to stop a service):
/// the server then stops accepting and lets requests in progress finish (`http::serve`).
async fn stop_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async {
        match terminate.as_mut() {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping"),
        () = term => tracing::info!("SIGTERM: stopping"),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
