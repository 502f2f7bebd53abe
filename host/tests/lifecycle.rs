//! The server's lifecycle as a service manager sees it: `/healthz` and `/readyz` (the database
//! answering, the plugins loaded; 503 naming the database when it does not), SIGTERM stopping
//! the `buildbot-www serve` process cleanly (open SSE answers complete, websockets get a close
//! frame), and SIGHUP reopening the access log after logrotate moved it, losing no line.

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

/// `buildbot-www serve` on a copy of the reference database, with its access log `http.log`
/// and the test plugin `hello` (its `/slow` answers late); the process, its base URL, and the
/// folder. `www_extra` is TOML added to `[www]`; `files` are written into the folder first
/// (`(relative path, text)`).
async fn served_with(
    www_extra: &str,
    files: &[(&str, &str)],
) -> (common::Serving, String, tempfile::TempDir) {
    let (dir, config) = common::plugin_site(
        &[("hello", "hello")],
        &format!(
            "logfileName = \"http.log\"\n{www_extra}\n[www.plugins]\nhello = true\n\
             [www.plugin_limits.hello]\ndeadline_ms = 20000\n"
        ),
    );
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let port = common::free_port();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "port = 8010",
        &format!("port = \"tcp:{port}:interface=127.0.0.1\""),
    );
    std::fs::write(&config, text).unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let child = common::Serving::start(
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

async fn served() -> (common::Serving, String, tempfile::TempDir) {
    served_with("", &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reopens_the_access_log_and_no_line_is_lost() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (mut child, base, dir) = served().await;
    let log = dir.path().join("http.log");
    let moved = dir.path().join("http.log.rotated");
    // Load from four clients at once, until told to stop; each counts what it sent.
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (base, stop) = (base.clone(), stop.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut sent = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let url = format!("{base}/api/v2/builders?limit=1");
                    assert_eq!(http.get(url).send().await.unwrap().status(), 200);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let pause = || tokio::time::sleep(Duration::from_millis(300));
    pause().await;
    // logrotate: the file is moved away; lines keep going to it until the server reopens.
    std::fs::rename(&log, &moved).unwrap();
    pause().await;
    child.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log.exists() {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reopen the access log"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pause().await;
    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    for client in clients {
        sent += client.await.unwrap();
    }
    let lines = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| l.contains("/api/v2/builders?limit=1"))
            .count()
    };
    let (before, after) = (lines(&moved), lines(&log));
    assert!(
        before > 0,
        "the moved file keeps the lines written before the reopen"
    );
    assert!(after > 0, "the new file has the lines after it");
    assert_eq!(
        before + after,
        sent,
        "every request is in one file or the other, once"
    );
    child.signal("-TERM");
    assert!(child.wait().unwrap().success());
}

/// SIGHUP compiles `custom_templates_dir` again: a changed template shows at once; one that no
/// longer compiles is logged and the running templates stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_compiles_custom_templates_again() {
    let about = |marker: &str| {
        format!("{{% extends \"base.html\" %}}{{% block main %}}<p id=\"custom\">{marker}</p>{{% endblock %}}")
    };
    let first = about("first about page");
    let (mut child, base, dir) = served_with(
        "custom_templates_dir = \"templates\"",
        &[("templates/about.html", &first)],
    )
    .await;
    let page = || async {
        reqwest::get(format!("{base}/about"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert!(page().await.contains("first about page"));
    let file = dir.path().join("templates/about.html");
    std::fs::write(&file, about("second about page")).unwrap();
    assert!(
        page().await.contains("first about page"),
        "not before the signal"
    );
    child.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !page().await.contains("second about page") {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the template"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The server's log, read as it is written.
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let (stderr, mut pipe) = (stderr.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = std::io::Read::read(&mut pipe, &mut buf) {
                stderr
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    std::fs::write(&file, "{% block main %}{{ unclosed").unwrap();
    child.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stderr.lock().unwrap().contains("templates not reloaded") {
        assert!(Instant::now() < deadline, "no word of the broken template");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        page().await.contains("second about page"),
        "the running template stays"
    );
    child.signal("-TERM");
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
    let stderr = stderr.lock().unwrap();
    assert!(
        stderr.contains("SIGHUP: templates not reloaded, the running ones stay")
            && stderr.contains("about.html"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly() {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let (mut child, base, _dir) = served().await;
    // Open event streams end cleanly: the SSE answer completes, the websocket gets a close
    // frame saying the server goes away.
    let sse = reqwest::get(format!("{base}/sse/listen/builds/*/*"))
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let mut ws = common::ws_consuming(&base, "builds/*/*").await;

    // A slow request in progress (the test plugin answers after 2 s) is finished, not cut.
    let slow = tokio::spawn({
        let base = base.clone();
        async move {
            let answer = reqwest::get(format!("{base}/plugins/hello/slow?ms=2000"))
                .await
                .unwrap();
            (answer.status(), answer.text().await.unwrap())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.signal("-TERM");
    let (status, body) = slow.await.unwrap();
    assert_eq!((status.as_u16(), body.as_str()), (200, "slow done v1"));
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

/// `port = "tcp:PORT:interface=::1"`: the server listens on the IPv6 loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_on_an_ipv6_interface() {
    let dir = common::reference_database_dir();
    let port = common::free_port();
    let config = dir.path().join("master.toml");
    std::fs::write(
        &config,
        format!(
            "[db]\ndb_url = \"sqlite:///state.sqlite\"\n[www]\nport = \"tcp:{port}:interface=::1\"\n"
        ),
    )
    .unwrap();
    let url = format!("http://[::1]:{port}");
    let mut child = common::Serving::start(
        Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        &url,
    )
    .await;
    let url = format!("{url}/healthz");
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    child.signal("-TERM");
    assert!(child.wait().unwrap().success());
}
