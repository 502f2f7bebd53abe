//! Hostile clients against a real server on 127.0.0.1 (the accept loop `serve` runs): slow and
//! idle connections, the connection cap, oversized websocket frames, subscription floods, huge
//! query strings, paging integers at and past their bounds, CORS globs, and plugin settings
//! that come from secrets kept out of `/config`.

use std::time::{Duration, Instant};

use axum::routing::post;
use buildbot_www::config::Limits;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::common;

use common::{serve_reference_with, Server};

/// Longer than any bound a test expects to hit: a test failing waits this much, not forever.
const PATIENCE: Duration = Duration::from_secs(10);

async fn connect(base: &str) -> TcpStream {
    TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// One request on an open connection (kept alive): its status and body.
async fn request(stream: &mut TcpStream, path: &str) -> (u16, String) {
    let head = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    read_response(stream).await
}

/// Reads one response with a `Content-Length` body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut byte))
            .await
            .expect("a response in time")
            .unwrap();
        assert_eq!(
            n,
            1,
            "closed mid-response: {}",
            String::from_utf8_lossy(&data)
        );
        data.push(byte[0]);
    }
    let head = String::from_utf8(data).unwrap();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .expect("a content-length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

/// Reads until the server closes the connection; what it sent, and how long that took.
async fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let start = Instant::now();
    let mut data = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "still open after {PATIENCE:?}: {}",
                String::from_utf8_lossy(&data)
            ),
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => data.extend_from_slice(&buf[..n]),
        }
    }
    (String::from_utf8_lossy(&data).into_owned(), start.elapsed())
}

/// Writes `bytes` one at a time, `every` apart, until done or the server hangs up.
fn trickle(mut writer: tokio::net::tcp::OwnedWriteHalf, bytes: Vec<u8>, every: Duration) {
    tokio::spawn(async move {
        for byte in bytes {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    });
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn get_json(server: &Server, path: &str) -> (u16, Value) {
    let response = get(&format!("{}{path}", server.base), &[]).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn slowloris_is_cut_at_the_header_timeout_while_others_are_served() {
    let server = serve_reference_with("http_header_timeout_ms = 600").await;
    // Headers a byte every 50 ms, never finished; and a client that sends nothing.
    let (mut reader, writer) = connect(&server.base).await.into_split();
    let endless: Vec<u8> = b"GET /api HTTP/1.1\r\nX-Slow: "
        .iter()
        .copied()
        .chain(std::iter::repeat_n(b'a', 10_000))
        .collect();
    trickle(writer, endless, Duration::from_millis(50));
    let mut silent = connect(&server.base).await;
    let served = async {
        let mut answered = 0;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(900) {
            assert_eq!(get_json(&server, "/api/v2/builders?limit=1").await.0, 200);
            answered += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        answered
    };
    let slow_cut = async {
        let start = Instant::now();
        let mut buf = [0u8; 256];
        loop {
            match tokio::time::timeout(PATIENCE, reader.read(&mut buf)).await {
                Err(_) => panic!("the slow client was never cut"),
                Ok(Ok(0) | Err(_)) => return start.elapsed(),
                Ok(Ok(_)) => {}
            }
        }
    };
    let (answered, slow_after, (_, silent_after)) =
        tokio::join!(served, slow_cut, until_closed(&mut silent));
    assert!(answered >= 5, "only {answered} requests answered meanwhile");
    for after in [slow_after, silent_after] {
        assert!(
            after >= Duration::from_millis(500) && after < Duration::from_secs(3),
            "cut after {after:?}, the timeout is 600 ms"
        );
    }
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let server = serve_reference_with("http_header_timeout_ms = 600").await;
    let mut stream = connect(&server.base).await;
    assert_eq!(request(&mut stream, "/api").await.0, 200);
    // Still open for a request within the timeout, and the wait starts over after it.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(request(&mut stream, "/api").await.0, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(request(&mut stream, "/api").await.0, 200);
    let (rest, after) = until_closed(&mut stream).await;
    assert!(
        after >= Duration::from_millis(500) && after < Duration::from_secs(3),
        "closed after {after:?}: {rest}"
    );
}

#[tokio::test]
async fn a_slow_body_is_cut_at_the_body_timeout() {
    // Only handlers that read a body wait for one (a plugin's, here a stand-in): served by the
    // same accept loop, with the body deadline it puts on every request.
    let router = axum::Router::new().route(
        "/echo",
        post(|body: bytes::Bytes| async move { body.len().to_string() }),
    );
    let limits = Limits {
        body_timeout: Duration::from_millis(600),
        ..Limits::default()
    };
    let base = common::serve_router(router, limits).await;
    let head = "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n";

    let mut fast = connect(&base).await;
    fast.write_all(format!("{head}{}", "x".repeat(100)).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut fast).await, (200, "100".into()));

    let mut slow = connect(&base).await;
    slow.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, writer) = slow.into_split();
    trickle(writer, vec![b'x'; 100], Duration::from_millis(50));
    let start = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(PATIENCE, reader.read(&mut buf)).await {
            Err(_) => panic!("the slow body was never cut"),
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let after = start.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    // 100 bytes at 50 ms would take 5 s: the body was cut, then the connection closed.
    assert!(
        after >= Duration::from_millis(500) && after < Duration::from_secs(3),
        "cut after {after:?}"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_without_starving_the_others() {
    let server = serve_reference_with("max_connections = 3\nhttp_header_timeout_ms = 5000").await;
    let mut client = connect(&server.base).await;
    assert_eq!(request(&mut client, "/api").await.0, 200);
    let idle = connect(&server.base).await;
    let _idle_too = connect(&server.base).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    // The fourth connection is answered 503 and closed, at once.
    let mut extra = connect(&server.base).await;
    let (answer, after) = until_closed(&mut extra).await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.ends_with("too many connections"), "{answer}");
    assert!(after < Duration::from_secs(1), "refused after {after:?}");

    // The connected client keeps being served.
    for _ in 0..3 {
        assert_eq!(request(&mut client, "/api").await.0, 200);
    }
    // A place freed is a place taken again.
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut next = connect(&server.base).await;
    assert_eq!(request(&mut next, "/api").await.0, 200);
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn websocket(server: &Server) -> Ws {
    let url = format!("{}/ws", server.base.replacen("http://", "ws://", 1));
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Sends a text frame and returns the reply, or `None` when the connection ends instead.
async fn exchange(ws: &mut Ws, text: String) -> Option<String> {
    if ws.send(Message::Text(text.into())).await.is_err() {
        return None;
    }
    match tokio::time::timeout(PATIENCE, ws.next())
        .await
        .expect("a reply or the end in time")
    {
        Some(Ok(Message::Text(reply))) => Some(reply.as_str().to_owned()),
        _ => None,
    }
}

#[tokio::test]
async fn an_oversized_websocket_frame_closes_that_websocket_only() {
    let server = serve_reference_with("ws_max_message_kib = 1").await;
    let mut hostile = websocket(&server).await;
    let mut other = websocket(&server).await;
    // Just under the bound: answered.
    let id = "i".repeat(900);
    let ping = format!(r#"{{"cmd":"ping","_id":"{id}"}}"#);
    assert_eq!(
        exchange(&mut hostile, ping.clone()).await,
        Some(format!(r#"{{"msg":"pong","code":200,"_id":"{id}"}}"#))
    );
    let big = format!(r#"{{"cmd":"ping","_id":"{}"}}"#, "i".repeat(2000));
    assert_eq!(exchange(&mut hostile, big).await, None);
    assert!(
        exchange(&mut hostile, ping.clone()).await.is_none(),
        "the websocket was closed"
    );
    assert!(exchange(&mut other, ping).await.unwrap().contains("pong"));
}

#[tokio::test]
async fn websocket_subscriptions_are_bounded_and_duplicates_take_no_room() {
    let server = serve_reference_with("ws_max_subscriptions = 3").await;
    let mut ws = websocket(&server).await;
    let start =
        |path: &str, id: usize| format!(r#"{{"cmd":"startConsuming","path":"{path}","_id":{id}}}"#);
    let ok = |id: usize| format!(r#"{{"msg":"OK","code":200,"_id":{id}}}"#);
    for (i, path) in ["builds/*/*", "builders/*/*", "changes/*/*"]
        .iter()
        .enumerate()
    {
        assert_eq!(exchange(&mut ws, start(path, i)).await, Some(ok(i)));
    }
    for i in 10..1010 {
        assert_eq!(exchange(&mut ws, start("builds/*/*", i)).await, Some(ok(i)));
    }
    assert_eq!(
        exchange(&mut ws, start("workers/*/*", 2000))
            .await
            .as_deref(),
        Some(
            r#"{"error":"too many subscriptions: at most 3 paths per connection","code":400,"_id":2000}"#
        )
    );
    let stop = r#"{"cmd":"stopConsuming","path":"builds/*/*","_id":2001}"#;
    assert_eq!(exchange(&mut ws, stop.into()).await, Some(ok(2001)));
    assert_eq!(
        exchange(&mut ws, start("workers/*/*", 2002)).await,
        Some(ok(2002))
    );
}

#[tokio::test]
async fn sse_add_beyond_its_bound_is_refused() {
    let server = serve_reference_with("sse_max_subscriptions = 2").await;
    let mut stream = get(&format!("{}/sse/listen/builds/*/*", server.base), &[]).await;
    let handshake = tokio::time::timeout(PATIENCE, stream.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let handshake = String::from_utf8_lossy(&handshake);
    let uuid = handshake
        .trim_end()
        .strip_prefix("event: handshake\ndata: ")
        .unwrap();
    let call = |command: &str, path: &str| {
        let url = format!("{}/sse/{command}/{uuid}/{path}", server.base);
        async move {
            let response = get(&url, &[]).await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    // The listened path is one of the two.
    assert_eq!(call("add", "changes/*/*").await, (200, "ok".into()));
    assert_eq!(call("add", "changes/*/*").await, (200, "ok".into()));
    assert_eq!(
        call("add", "workers/*/*").await,
        (
            400,
            "too many subscriptions: at most 2 paths per stream".into()
        )
    );
    assert_eq!(call("remove", "changes/*/*").await, (200, "ok".into()));
    assert_eq!(call("add", "workers/*/*").await, (200, "ok".into()));
}

#[tokio::test]
async fn a_query_with_a_huge_number_of_arguments_gets_400_quickly() {
    let server = serve_reference_with("").await;
    // 5000 arguments: as many as fit in a URI (64 KiB, the most `http` parses).
    let query = "builderid=1&".repeat(5000);
    let start = Instant::now();
    let (status, body) = get_json(&server, &format!("/api/v2/builds?{query}")).await;
    let elapsed = start.elapsed();
    assert_eq!(status, 400);
    assert_eq!(
        body,
        serde_json::json!({"error": "too many query arguments: 5000, at most 1000"})
    );
    assert!(elapsed < Duration::from_secs(2), "answered in {elapsed:?}");
    eprintln!("5000 arguments refused in {elapsed:?}");
    // At the bound (999 + `limit`): served, and repeated values count once.
    let query = "builderid=1&".repeat(999);
    let (status, body) = get_json(&server, &format!("/api/v2/builds?{query}limit=-1")).await;
    assert_eq!(status, 200);
    assert_eq!(body["builds"].as_array().unwrap().len(), 12);
    let query = "builderid=1&".repeat(1001);
    assert_eq!(
        get_json(&server, &format!("/api/v2/builds?{query}"))
            .await
            .0,
        400
    );
    // With the bound raised, 5000 distinct names (ignored, as Buildbot ignores `<not a
    // field>__<op>`) are read in one pass.
    let server = serve_reference_with("max_query_args = 100000").await;
    let query: String = (0..5000).map(|i| format!("x{i}__=&")).collect();
    let start = Instant::now();
    let (status, body) = get_json(&server, &format!("/api/v2/builds?{query}limit=2")).await;
    assert_eq!(
        (status, body["meta"]["total"].as_i64()),
        (200, Some(2)),
        "{body}"
    );
    eprintln!("5000 distinct arguments answered in {:?}", start.elapsed());
    // A longer query string is refused by the HTTP parser itself.
    let mut stream = connect(&server.base).await;
    let head = format!(
        "GET /api/v2/builds?{} HTTP/1.1\r\nHost: test\r\n\r\n",
        "a".repeat(100_000)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (answer, _) = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 414 "), "{answer}");
}

#[tokio::test]
async fn limit_has_a_ceiling_and_paging_integers_never_overflow() {
    let server = serve_reference_with("rest_default_limit = 5\nrest_max_limit = 10").await;
    let count = |body: &Value| body["builds"].as_array().map(Vec::len);
    for (query, expected) in [
        ("", 5),
        ("limit=3", 3),
        ("limit=10", 10),
        ("limit=11", 10),
        ("limit=-1", 10),
        ("limit=-7", 10),
        ("limit=9223372036854775807", 10),
        ("limit=0", 0),
        ("offset=9223372036854775807", 0),
        ("offset=9223372036854775807&limit=9223372036854775807", 0),
        // Two builders: one subquery per value, each cut at offset + limit.
        (
            "builderid=1&builderid=2&offset=9223372036854775807&limit=-1",
            0,
        ),
        ("builderid=1&builderid=2&limit=-1", 10),
        ("offset=-3&limit=2", 2),
    ] {
        let (status, body) = get_json(&server, &format!("/api/v2/builds?{query}")).await;
        assert_eq!(
            (status, count(&body)),
            (200, Some(expected)),
            "{query}: {body}"
        );
    }
    // Integers that do not fit in 64 bits, or are not integers: Buildbot's 400.
    for (query, message) in [
        ("limit=9223372036854775808", "invalid limit"),
        ("limit=-9223372036854775809", "invalid limit"),
        ("offset=99999999999999999999999", "invalid offset"),
        ("limit=1e3", "invalid limit"),
        ("offset=", "invalid offset"),
    ] {
        let response = get(&format!("{}/api/v2/builds?{query}", server.base), &[]).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            response.text().await.unwrap(),
            format!(r#"{{"error": "{message}"}}"#),
            "{query}"
        );
    }
    // Log lines take their own offset and limit: past the end is Buildbot's 404, not a panic.
    let (status, body) = get_json(
        &server,
        "/api/v2/logs/75/contents?offset=9223372036854775807&limit=9223372036854775807",
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get_json(
        &server,
        "/api/v2/logs/75/contents?offset=1&limit=9223372036854775807",
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn cors_origins_match_brace_globs_and_answers_vary_on_origin() {
    let server = serve_reference_with(
        "allowed_origins = [\"https://{ci,docs}.example.com\", \"http://127.0.0.?:80[0-9][0-9]\"]",
    )
    .await;
    let url = format!("{}/api/v2/builders?limit=1", server.base);
    let varies = |response: &reqwest::Response| {
        response
            .headers()
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().to_ascii_lowercase().contains("origin"))
    };
    for origin in [
        "https://ci.example.com",
        "https://docs.example.com",
        "http://127.0.0.1:8010",
    ] {
        let response = get(&url, &[("Origin", origin)]).await;
        assert_eq!(response.status(), 200, "{origin}");
        assert_eq!(response.headers()["access-control-allow-origin"], origin);
        assert!(varies(&response), "{origin}");
    }
    for origin in [
        "https://www.example.com",
        "https://{ci,docs}.example.com",
        "https://ci.example.com.evil.net",
        "http://127.0.0.1:9010",
    ] {
        let response = get(&url, &[("Origin", origin)]).await;
        assert_eq!(response.status(), 400, "{origin}");
        assert!(response
            .headers()
            .get("access-control-allow-origin")
            .is_none());
        assert!(varies(&response), "{origin}");
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"error": "invalid origin"}"#
        );
    }
    let plain = get(&url, &[]).await;
    assert_eq!(plain.status(), 200);
    assert!(
        varies(&plain),
        "an answer without Origin is one a cache must not reuse"
    );
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "https://docs.example.com")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert!(varies(&preflight));
}

#[tokio::test]
async fn plugin_settings_from_secrets_stay_out_of_config() {
    // Set once, before any config reads it; the name is this test's own.
    std::env::set_var("BBWWW_HARDENING_PLUGIN_TOKEN", "tok-3141592653");
    let settings = "left_text = \"ci\"\ntoken = { env = \"BBWWW_HARDENING_PLUGIN_TOKEN\" }\n\
                    nested = { key = { env = \"BBWWW_HARDENING_PLUGIN_TOKEN\" }, shown = 1 }\n\
                    list = [\"kept\", { env = \"BBWWW_HARDENING_PLUGIN_TOKEN\" }]";
    let server =
        common::serve_reference_config(common::MasterToml::reference().plugin("badges", settings))
            .await;

    // The plugin gets the value...
    let config = buildbot_www::config::load(&server.dir.path().join("master.toml")).unwrap();
    let badges = config.www.plugin("badges").unwrap();
    assert_eq!(badges["token"], "tok-3141592653");
    assert_eq!(badges["nested"]["key"], "tok-3141592653");
    assert_eq!(badges["list"][1], "tok-3141592653");

    // ...the world sees neither it nor where it comes from.
    let response = get(&format!("{}/config", server.base), &[]).await;
    let text = response.text().await.unwrap();
    assert!(!text.contains("tok-3141592653"), "{text}");
    assert!(!text.contains("BBWWW_HARDENING_PLUGIN_TOKEN"), "{text}");
    let config: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        config["plugins"]["badges"],
        serde_json::json!({"left_text": "ci", "nested": {"shown": 1}, "list": ["kept"]})
    );
    assert_eq!(config["plugins"]["waterfall_view"], serde_json::json!({}));

    // A secret that cannot be read stops the server from starting, naming the key.
    let error = common::start_up_error(
        "[www.plugins.badges]\ntoken = { env = \"BBWWW_HARDENING_SURELY_UNSET\" }\n",
    )
    .await;
    assert!(
        error.contains("[www.plugins.badges] token: environment variable 'BBWWW_HARDENING_SURELY_UNSET' is not set"),
        "{error}"
    );
}
