//! Test helpers: a real server on 127.0.0.1 serving a copy of the reference database.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod buildbot;
pub mod html;
mod master;
pub mod nginx;
pub mod postgres;

pub use master::MasterToml;

/// A running server and the folder holding its config and database.
pub struct Server {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The same application, for requests that need no socket ([`Server::send`]).
    pub app: axum::Router,
    /// Keeps the temporary base directory alive.
    pub dir: tempfile::TempDir,
}

/// An answer of the application: status, headers and the whole body.
pub struct Answer {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: bytes::Bytes,
}

impl Answer {
    /// A header's value, `""` when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Server {
    /// Serves `state` on a free loopback port and keeps its router for in-process requests.
    pub async fn start(state: buildbot_www::server::AppState, dir: tempfile::TempDir) -> Server {
        let limits = state.http.config.www.limits;
        let app = buildbot_www::server::app(state);
        let base = serve_router(app.clone(), limits).await;
        Server { base, app, dir }
    }

    /// Answers `request` in-process (`tower::ServiceExt::oneshot` on the router), for tests
    /// that check only the response: the same handlers and layers as over a socket, without
    /// a connection, a client or the accept loop.
    pub async fn send(&self, request: axum::http::Request<axum::body::Body>) -> Answer {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.collect().await.expect("a whole body").to_bytes(),
        }
    }

    /// GET `path` in-process.
    pub async fn get(&self, path: &str) -> Answer {
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        self.send(request).await
    }
}

/// The Buildbot 4.3 recordings and database (`fixtures/reference/buildbot-4.3`).
pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/reference/buildbot-4.3")
}

/// A temporary folder holding a copy of the reference `state.sqlite`.
pub fn reference_database_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        reference_dir().join("state.sqlite"),
        dir.path().join("state.sqlite"),
    )
    .unwrap();
    dir
}

/// Copies `fixtures/reference/master.toml` and the reference `state.sqlite` into a temp dir,
/// optionally with TOML merged into the `[www]` table (see [`MasterToml::www_toml`]), and
/// serves it on a free loopback port.
pub async fn serve_reference_with(www_extra: &str) -> Server {
    serve_reference_config(MasterToml::reference().www_toml(www_extra)).await
}

/// The reference database served with `config` (usually [`MasterToml::reference`] changed).
pub async fn serve_reference_config(config: MasterToml) -> Server {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        reference_dir().join("state.sqlite"),
        dir.path().join("state.sqlite"),
    )
    .unwrap();
    let config_path = config.write(dir.path());
    // The reference config enables Buildbot's four UI plugins; these tests are about the REST
    // API and `/config`, so the server runs without loading them.
    let state = state_without_plugins(&config_path).await;
    Server::start(state, dir).await
}

/// The server state for the config file at `path` (its database as it names it) without
/// loading the config's plugins: for tests of REST, `/config` and the like.
pub async fn state_without_plugins(path: &Path) -> buildbot_www::server::AppState {
    let config = buildbot_www::config::load(path).unwrap_or_else(|e| panic!("{e}"));
    let data = buildbot_www::server::data_api(&config)
        .await
        .expect("database");
    buildbot_www::server::AppState::new(config, data, buildbot_www::plugins::Registry::default())
        .expect("state")
}

/// A websocket on `base`'s `/ws` (an `http://` URL) that consumes `path` (`builds/*/*`), its
/// answer to that read.
pub async fn ws_consuming(
    base: &str,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}/ws", base.replacen("http", "ws", 1)))
            .await
            .unwrap();
    let command = serde_json::json!({"cmd": "startConsuming", "path": path, "_id": 1});
    ws.send(Message::Text(command.to_string().into()))
        .await
        .unwrap();
    let answer = ws.next().await;
    assert!(matches!(answer, Some(Ok(Message::Text(_)))), "{answer:?}");
    ws
}

/// A certificate authority and a certificate for 127.0.0.1 it signed, made with openssl in
/// `dir`: `ca.pem` (what clients trust), `server.pem` and `server.key` (rustls refuses a CA
/// as a server's own certificate, so the two are apart).
pub fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        run(std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args))
    };
    let key = ["-newkey", "rsa:2048", "-nodes"];
    openssl(
        &[
            &["req", "-x509", "-days", "2"][..],
            &key,
            &[
                "-subj",
                "/CN=buildbot-www test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &key,
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
}

/// Serves an application state on a free loopback port, as `serve` does (the same accept
/// loop and connection limits); returns `http://127.0.0.1:PORT`.
pub async fn serve_state(state: buildbot_www::server::AppState) -> String {
    let limits = state.http.config.www.limits;
    serve_router(buildbot_www::server::app(state), limits).await
}

/// Serves any router through the server's accept loop with these limits on a free loopback
/// port; returns `http://127.0.0.1:PORT`.
pub async fn serve_router(router: axum::Router, limits: buildbot_www::config::Limits) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    serve_router_on(listener, router, limits);
    base
}

/// Serves `state` on a listener bound beforehand (for a config that names its own address,
/// `buildbotURL`).
pub fn serve_state_on(listener: tokio::net::TcpListener, state: buildbot_www::server::AppState) {
    let limits = state.http.config.www.limits;
    serve_router_on(listener, buildbot_www::server::app(state), limits);
}

fn serve_router_on(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: buildbot_www::config::Limits,
) {
    tokio::spawn(buildbot_www::http::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
}

/// The reference database served with the reference config.
pub async fn serve_reference() -> Server {
    serve_reference_with("").await
}

/// Loads a config file and builds the whole server state (database and plugins).
pub async fn load_state(config: &Path) -> anyhow::Result<buildbot_www::server::AppState> {
    let config = buildbot_www::config::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    buildbot_www::server::state(config).await
}

/// Where `cargo xtask build-plugins` puts the bundled plugins; panics with what to run when
/// one of `needed` is missing.
pub fn bundled_plugins_dir(needed: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins");
    for name in needed {
        assert!(
            dir.join(format!("{name}.wasm")).is_file(),
            "{}/{name}.wasm is missing: run `cargo xtask build-plugins` (or `cargo xtask test`)",
            dir.display()
        );
    }
    dir
}

/// The compile cache shared by the plugin tests.
pub fn plugin_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-plugin-cache")
}

/// A config serving `state.sqlite` next to it with bundled plugins enabled, each with the TOML
/// lines of its `[www.plugins.<name>]` table: `&[("badges", "left_color = \"#222\"")]`.
pub fn bundled_plugins_config(plugins: &[(&str, &str)]) -> String {
    let names: Vec<&str> = plugins.iter().map(|(name, _)| *name).collect();
    let dir = bundled_plugins_dir(&names);
    let mut config = MasterToml::sqlite().plugin_dirs(&[&dir]);
    for (name, lines) in plugins {
        config = config.plugin(name, lines);
    }
    config.text()
}

/// The start-up error of a server with this config (and no database yet); panics if it starts.
pub async fn start_up_error(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.toml");
    std::fs::write(&path, config).unwrap();
    match load_state(&path).await {
        Ok(_) => panic!("the server started with:\n{config}"),
        Err(error) => format!("{error:#}"),
    }
}

/// A temporary folder holding `state.sqlite`: a new database filled from
/// `fixtures/views/dataset.sql`, then with `extra_sql`.
pub async fn views_database(extra_sql: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pool = buildbot_www::db::open_file(&dir.path().join("state.sqlite"))
        .await
        .unwrap();
    let dataset = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/views/dataset.sql");
    sqlx::raw_sql(&std::fs::read_to_string(dataset).unwrap())
        .execute(&pool)
        .await
        .expect("fixtures/views/dataset.sql loads");
    if !extra_sql.is_empty() {
        sqlx::raw_sql(extra_sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    dir
}

/// The plugins `cargo xtask build-plugins` builds (and a release ships).
pub const BUNDLED: [&str; 4] = ["badges", "console_view", "grid_view", "waterfall_view"];

/// The three view plugins, which [`serve_views`] enables.
pub const VIEWS: [&str; 3] = ["waterfall_view", "console_view", "grid_view"];

/// A fresh database filled from `fixtures/views/dataset.sql`, served with the three view plugins
/// enabled. `configs` gives TOML lines for a plugin's `[www.plugins.<name>]` table, e.g.
/// `&[("console_view", "changes = 2")]`; the others get an empty table.
pub async fn serve_views(configs: &[(&str, &str)]) -> Server {
    serve_views_on(views_database("").await, None, configs).await
}

/// [`serve_views`] with the dataset in PostgreSQL: copied into a database with Buildbot's
/// schema there; `None` (skip) without PostgreSQL.
pub async fn serve_views_postgres(configs: &[(&str, &str)]) -> Option<Server> {
    let url = postgres::schema_database().await?;
    let dir = views_database("").await;
    postgres::copy_rows(&dir.path().join("state.sqlite"), &url)
        .await
        .unwrap_or_else(|e| panic!("copying the views dataset to PostgreSQL: {e}"));
    Some(serve_views_on(dir, Some(url), configs).await)
}

async fn serve_views_on(
    dir: tempfile::TempDir,
    db_url: Option<String>,
    configs: &[(&str, &str)],
) -> Server {
    let tables: Vec<(&str, &str)> = VIEWS
        .iter()
        .map(|view| {
            let lines = configs.iter().find(|(name, _)| name == view);
            (*view, lines.map_or("", |(_, lines)| *lines))
        })
        .collect();
    let path = dir.path().join("master.toml");
    std::fs::write(&path, bundled_plugins_config(&tables)).unwrap();
    if let Some(url) = db_url {
        MasterToml::load(&path)
            .set(&["db", "db_url"], url)
            .write(dir.path());
    }
    let state = load_state(&path).await.expect("the views site starts");
    Server::start(state, dir).await
}

/// GET `path` below the server's root, in-process: (status, content type, body).
pub async fn get(server: &Server, path: &str) -> (u16, String, String) {
    let answer = server.get(path).await;
    let content_type = answer.header("content-type").to_owned();
    (answer.status, content_type, answer.text())
}

/// The HTML of `/plugins/<plugin>/<query>`, which must be a 200 page.
pub async fn plugin_page(server: &Server, plugin: &str, query: &str) -> String {
    let (status, content_type, body) = get(server, &format!("/plugins/{plugin}/{query}")).await;
    assert_eq!(status, 200, "{plugin} {query}: {body}");
    assert_eq!(content_type, "text/html; charset=utf-8");
    body
}

/// Where `cargo xtask build-test-plugins` puts the test components.
pub fn test_plugin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-plugins")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask build-test-plugins` (or `cargo xtask test`)",
        path.display()
    );
    path
}

/// A base directory with the reference database, a `plugins/` folder holding the given
/// components (`(component, file name)`), and a config with `www_extra` in `[www]`.
pub fn plugin_site(plugins: &[(&str, &str)], www_extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        reference_dir().join("state.sqlite"),
        dir.path().join("state.sqlite"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    for (component, file) in plugins {
        std::fs::copy(
            test_plugin(component),
            dir.path().join("plugins").join(format!("{file}.wasm")),
        )
        .unwrap();
    }
    let path = MasterToml::sqlite()
        .plugin_dirs(&[Path::new("plugins")])
        .www_toml(www_extra)
        .write(dir.path());
    (dir, path)
}

/// What `buildbot-www ARGS...` printed and how it ended (the binary under test).
pub fn buildbot_www(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
        .args(args)
        .output()
        .expect("the buildbot-www binary runs")
}

/// `buildbot-www plugins list --config CONFIG`.
pub fn plugins_list(config: &Path) -> std::process::Output {
    buildbot_www(&[
        "plugins".as_ref(),
        "list".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ])
}

/// A served process (`buildbot-www serve`), killed if a test ends (or panics) before it stopped.
pub struct Serving(std::process::Child);

impl Serving {
    /// Spawns `command` and waits until `base` answers `/healthz`; panics if the process ends
    /// first.
    pub async fn start(command: &mut std::process::Command, base: &str) -> Serving {
        let mut child = Serving(command.spawn().expect("the server starts"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while reqwest::get(format!("{base}/healthz")).await.is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the server ended with {status} before serving");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        child
    }

    /// Sends a signal with `kill`: `"-TERM"`, `"-HUP"`.
    pub fn signal(&self, name: &str) {
        let sent = std::process::Command::new("kill")
            .args([name, &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for Serving {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Serving {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// A loopback port free at the time of the call, for a server a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a set-up command (no input), which must succeed; panics with what it printed.
pub fn run(command: &mut std::process::Command) {
    let output = command
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Seconds from now until the Unix time `exp` (a token's expiry).
pub fn seconds_until(exp: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    exp - i64::try_from(now).unwrap()
}

/// A keeper shell running `script` (its arguments are `$0`, `$1`...) with its stdin a pipe this
/// binary holds open: the script starts the servers a test needs in the background, waits with
/// `cat >/dev/null`, and stops them when the stdin closes, that is when this binary exits,
/// however it ends.
pub fn keeper(script: &str, args: &[&std::ffi::OsStr]) -> std::process::Child {
    use std::process::{Command, Stdio};
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("sh runs: {e}"))
}

/// The database's session secret, as Buildbot stores it.
pub async fn session_secret(server: &Server) -> String {
    let pool = buildbot_www::db::open_file(&server.dir.path().join("state.sqlite"))
        .await
        .unwrap();
    let (value,): (String,) = sqlx::query_as(
        "SELECT value_json FROM object_state JOIN objects ON objects.id = object_state.objectid \
         WHERE objects.name = 'www' AND objects.class_name = 'buildbot.www.service.WWWService' \
         AND object_state.name = 'session_secret'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    serde_json::from_str(&value).unwrap()
}

/// A `TWISTED_SESSION` cookie for `user_info`, signed as Buildbot signs sessions (HS256 with
/// the database's secret, an hour to live): any user a Buildbot master could have logged in.
pub async fn session_cookie(server: &Server, user_info: serde_json::Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use hmac::Mac as _;
    let secret = session_secret(server).await;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({"user_info": user_info, "exp": exp});
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("TWISTED_SESSION={header}.{payload}.{signature}")
}

/// Splits curl arguments as a POSIX shell would (quotes and backslashes).
pub fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    current.push(n);
                    in_word = true;
                }
            }
            '\'' => {
                in_word = true;
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    current.push(n);
                }
            }
            '"' => {
                in_word = true;
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => current.extend(chars.next()),
                        n => current.push(n),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}
