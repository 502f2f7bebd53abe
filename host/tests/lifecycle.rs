//! The server's lifecycle as a service manager sees it: `/healthz` and `/readyz` (the database
//! answering, the plugins loaded; 503 naming the database when it does not), and
//! SIGTERM stopping the `buildbot-www serve` process cleanly, open streams included.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let server = common::serve_reference().await;
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], true, "{body}");
    assert_eq!(body["database"], "ok");

    // The database goes away (its pool closed, as when the file's volume is lost): readiness
    // fails and says why, while health still answers.
    let dir = common::reference_database_dir();
    let path = common::MasterToml::reference().write(dir.path());
    let config = buildbot_www::config::load(&path).unwrap();
    let data = buildbot_www::server::data_api(&config).await.unwrap();
    let pool = data.pool().clone();
    let state = buildbot_www::server::AppState::new(
        config,
        data,
        buildbot_www::plugins::Registry::default(),
    )
    .unwrap();
    let base = common::serve_state(state).await;
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    pool.close().await;
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], false, "{body}");
    assert!(
        body["database"]
            .as_str()
            .unwrap()
            .starts_with("the database does not answer"),
        "{body}"
    );
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly() {
    let dir = common::reference_database_dir();
    let port = common::free_port();
    let config = dir.path().join("master.toml");
    std::fs::write(
        &config,
        format!("[db]\ndb_url = \"sqlite:///state.sqlite\"\n[www]\nport = \"tcp:{port}:interface=127.0.0.1\"\n"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An open event stream must not keep the process alive.
    let sse = reqwest::get(format!("{base}/sse/listen/builds/*/*"))
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "SIGTERM did not stop the server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("SIGTERM: stopping"), "{stderr}");
    drop(sse);
    // Nothing listens any more.
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err());
}
