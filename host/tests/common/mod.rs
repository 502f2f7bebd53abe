//! Test helpers: a real server on 127.0.0.1 serving a copy of the reference database.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A running server and the folder holding its config and database.
pub struct Server {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Keeps the temporary base directory alive.
    pub dir: tempfile::TempDir,
}

/// The shared reference folder.
pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/buildbot-4.3")
}

/// Copies `fixtures/reference/master.toml` and the reference `state.sqlite` into a temp dir,
/// optionally appending TOML to the `[www]` table, and serves it on a free loopback port.
pub async fn serve_reference_with(www_extra: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        reference_dir().join("state.sqlite"),
        dir.path().join("state.sqlite"),
    )
    .unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/reference/master.toml");
    let mut text = std::fs::read_to_string(fixture).unwrap();
    if !www_extra.is_empty() {
        text = text.replacen("[www]\n", &format!("[www]\n{www_extra}\n"), 1);
    }
    let config_path = dir.path().join("master.toml");
    std::fs::write(&config_path, text).unwrap();
    let config = buildbot_www::config::load(&config_path).expect("reference config loads");
    // The reference config enables Buildbot's four UI plugins; these tests are about the REST
    // API and `/config`, so the server runs without loading them.
    let data = buildbot_www::server::data_api(&config)
        .await
        .expect("database");
    let state =
        buildbot_www::http::AppState::new(config, data, buildbot_www::plugins::Registry::default())
            .expect("state");
    let base = serve_state(state).await;
    Server { base, dir }
}

/// Serves an application state on a free loopback port; returns `http://127.0.0.1:PORT`.
pub async fn serve_state(state: buildbot_www::http::AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, buildbot_www::http::app(state))
            .await
            .unwrap();
    });
    base
}

/// The reference database served with the reference config.
pub async fn serve_reference() -> Server {
    serve_reference_with("").await
}

/// Loads a config file and builds the whole server state (database and plugins).
pub async fn load_state(config: &Path) -> anyhow::Result<buildbot_www::http::AppState> {
    let config = buildbot_www::config::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    buildbot_www::server::state(config).await
}
