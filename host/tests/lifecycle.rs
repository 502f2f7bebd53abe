//! The server's lifecycle as a service manager sees it: `/healthz` and `/readyz` (the database
//! answering, the plugins loaded; 503 naming the database when it does not), SIGTERM stopping
//! the `buildbot-www serve` process cleanly (open SSE answers complete, websockets get a close
//! frame), and SIGHUP reopening the access log after logrotate moved it, losing no line.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;
use crate::common::Serving;

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

/// `buildbot-www serve` on a copy of the reference database, with its access log `http.log`;
/// the process, its base URL, and the folder.
async fn served() -> (Serving, String, tempfile::TempDir) {
    let dir = common::reference_database_dir();
    let port = common::free_port();
    let config = dir.path().join("master.toml");
    std::fs::write(
        &config,
        format!(
            "[db]\ndb_url = \"sqlite:///state.sqlite\"\n[www]\nport = \"tcp:{port}:interface=127.0.0.1\"\n\
             logfileName = \"http.log\"\n"
        ),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let child = Serving::start(
        Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
        &base,
    )
    .await;
    (child, base, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reopens_the_access_log_and_no_line_is_lost() {
    let (mut child, base, dir) = served().await;
    let log = dir.path().join("http.log");
    let moved = dir.path().join("http.log.rotated");
    let hit = |n: usize| {
        let base = base.clone();
        async move {
            for _ in 0..n {
                let url = format!("{base}/api/v2/builders?limit=1");
                assert_eq!(reqwest::get(url).await.unwrap().status(), 200);
            }
            n
        }
    };
    let mut sent = hit(5).await;
    // logrotate: the file is moved away; lines keep going to it until the server reopens.
    std::fs::rename(&log, &moved).unwrap();
    sent += hit(3).await;
    child.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log.exists() {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reopen the access log"
        );
        sent += hit(1).await;
    }
    sent += hit(4).await;
    let lines = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| l.contains("/api/v2/builders?limit=1"))
            .count()
    };
    let (before, after) = (lines(&moved), lines(&log));
    assert!(
        before >= 8,
        "the moved file keeps the lines written before the reopen: {before}"
    );
    assert!(after >= 4, "the new file has the lines after it: {after}");
    assert_eq!(
        before + after,
        sent,
        "every request is in one file or the other, once"
    );
    child.signal("-TERM");
    assert!(child.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let (mut child, base, _dir) = served().await;
    // Open event streams end cleanly: the SSE answer completes, the websocket gets a close
    // frame saying the server goes away.
    let sse = reqwest::get(format!("{base}/sse/listen/builds/*/*"))
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}/ws", base.replace("http", "ws")))
            .await
            .unwrap();
    ws.send(Message::Text(
        r#"{"cmd":"startConsuming","path":"builds/*/*","_id":1}"#.into(),
    ))
    .await
    .unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Text(_)))));

    child.signal("-TERM");
    let sse_body = sse.text().await;
    assert!(sse_body.is_ok(), "the SSE answer was cut: {sse_body:?}");
    assert!(sse_body.unwrap().starts_with("event: handshake"));
    let closed = loop {
        match ws.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    let frame = closed.expect("a close code");
    assert_eq!(u16::from(frame.code), 1001, "{frame:?}");
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
    assert!(
        !stderr.contains("requests still in progress"),
        "nothing had to be cut: {stderr}"
    );
    // Nothing listens any more.
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err());
}
