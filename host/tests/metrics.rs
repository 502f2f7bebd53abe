//! `/metrics` (`[www.metrics]`): read with the Prometheus project's own parsers (Debian's
//! `python3-prometheus-client`, OpenMetrics and the Prometheus text format), its counters
//! checked against the requests a test made; who may read it (everyone, a role, a port of its
//! own); absent without `[www.metrics]`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

/// The parsers' output: one `[name, labels, value]` per sample.
const PARSE: &str = r#"
import json, sys
if sys.argv[1] == "openmetrics":
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        samples.append([sample.name, sample.labels, sample.value])
print(json.dumps(samples))
"#;

/// Debian's Python, where `python3-prometheus-client` installs the parsers (a `python3` earlier
/// on the PATH may be another one).
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A scrape as the parser read it.
struct Scrape(Vec<(String, BTreeMap<String, String>, f64)>);

impl Scrape {
    /// Parses `text` with the Python parser of `format` (`openmetrics` or `prometheus`); the
    /// parser refusing the text fails the test with its message.
    fn parse(text: &str, format: &str) -> Scrape {
        let mut child = Command::new(DEBIAN_PYTHON)
            .args(["-c", PARSE, format])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("Debian's python3 runs (apt-get install python3-prometheus-client)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "the {format} parser refused /metrics: {}\n{text}",
            String::from_utf8_lossy(&output.stderr)
        );
        Scrape(serde_json::from_slice(&output.stdout).expect("the parser's JSON"))
    }

    /// The sample with exactly these labels; 0 when there is none (a series not yet seen).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0
            .iter()
            .find(|(n, l, _)| n == name && *l == wanted)
            .map_or(0.0, |(_, _, value)| *value)
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _, _)| n == name)
    }
}

/// GET `url` with `Accept` for `format`: the content type and the body, which must be a 200.
async fn scrape(url: &str, format: &str) -> Scrape {
    let accept = match format {
        "openmetrics" => "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        _ => "text/plain",
    };
    let answer = reqwest::Client::new()
        .get(url)
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let expected = match format {
        "openmetrics" => OPENMETRICS,
        _ => PROMETHEUS_TEXT,
    };
    assert_eq!(content_type, expected);
    Scrape::parse(&answer.text().await.unwrap(), format)
}

async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_follow_the_requests_made() {
    let (dir, config) = common::plugin_site(
        &[("hello", "hello"), ("hostile", "hostile")],
        "[www.plugins.hello]\n[www.plugins.hostile]\n\
         [www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"doh\" }\n\
         [www.metrics]\n",
    );
    let state = common::load_state(&config).await.unwrap();
    let server = common::Server::start(state, dir).await;
    let base = &server.base;
    let metrics = format!("{base}/metrics");
    let client = reqwest::Client::new();
    let before = scrape(&metrics, "openmetrics").await;

    for _ in 0..3 {
        let status = status_of(client.get(format!("{base}/api/v2/builds?limit=1"))).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        status_of(client.get(format!("{base}/api/v2/nosuchthing"))).await,
        404
    );
    assert_eq!(status_of(client.get(format!("{base}/"))).await, 200);
    for path in ["/nowhere", "/no/such/page"] {
        assert_eq!(status_of(client.get(format!("{base}{path}"))).await, 404);
    }
    assert_eq!(
        status_of(client.get(format!("{base}/plugins/hello/"))).await,
        200
    );
    assert_eq!(
        status_of(client.get(format!("{base}/plugins/hostile/panic"))).await,
        500
    );
    let login = client
        .get(format!("{base}/auth/login"))
        .basic_auth("homer", Some("wrong"));
    assert_eq!(status_of(login).await, 401);
    let ws_url = format!("{}/ws", base.replacen("http://", "ws://", 1));
    let (socket, response) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    assert_eq!(response.status(), 101);

    let after = scrape(&metrics, "prometheus").await;
    let requests = |route: &str, status: &str| {
        let labels = [("route", route), ("method", "GET"), ("status", status)];
        let name = "buildbot_www_http_requests_total";
        after.value(name, &labels) - before.value(name, &labels)
    };
    let api = "/api/{version}/{*path}";
    for (route, status, expected) in [
        (api, "200", 3.0),
        (api, "404", 1.0),
        ("/", "200", 1.0),
        ("other", "404", 2.0),
        ("/plugins/{name}/", "200", 1.0),
        ("/plugins/{name}/{*rest}", "500", 1.0),
        ("/auth/login", "401", 1.0),
        ("/ws", "101", 1.0),
        // the first scrape; this one is counted once answered
        ("/metrics", "200", 1.0),
    ] {
        assert_eq!(requests(route, status), expected, "{route} {status}");
    }
    let api_count = "buildbot_www_http_request_duration_seconds_count";
    assert_eq!(
        after.value(api_count, &[("route", api)]) - before.value(api_count, &[("route", api)]),
        4.0
    );
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(
        delta("buildbot_www_plugin_calls_total", &[("plugin", "hello")]),
        1.0
    );
    assert_eq!(
        delta("buildbot_www_plugin_calls_total", &[("plugin", "hostile")]),
        1.0
    );
    assert_eq!(
        delta(
            "buildbot_www_plugin_faults_total",
            &[("plugin", "hostile"), ("kind", "crashed")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "buildbot_www_plugin_call_duration_seconds_count",
            &[("plugin", "hello")]
        ),
        1.0
    );
    assert_eq!(
        after.value("buildbot_www_plugin_calls_queued", &[("plugin", "hello")]),
        0.0
    );
    assert_eq!(
        delta(
            "buildbot_www_login_failures_total",
            &[("reason", "bad_credentials")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "buildbot_www_login_failures_total",
            &[("reason", "throttled")]
        ),
        0.0
    );
    assert_eq!(after.value("buildbot_www_ws_clients", &[]), 1.0);
    assert_eq!(after.value("buildbot_www_sse_clients", &[]), 0.0);
    assert!(after.value("buildbot_www_db_pool_max_connections", &[]) >= 1.0);
    assert!(after.has("buildbot_www_db_pool_connections"));
    assert!(after.has("buildbot_www_event_watcher_poll_duration_seconds_count"));
    assert!(after.has("buildbot_www_events_published_total"));
    assert!(after.value("process_resident_memory_bytes", &[]) > 0.0);
    // Every REST read looked in the answer cache once; it stays within its budget.
    assert_eq!(
        delta("buildbot_www_rest_cache_hits_total", &[])
            + delta("buildbot_www_rest_cache_misses_total", &[]),
        4.0
    );
    let budget = after.value("buildbot_www_rest_cache_budget_bytes", &[]);
    assert_eq!(budget, f64::from(32u32 << 20));
    assert!(after.value("buildbot_www_rest_cache_size_bytes", &[]) <= budget);
    assert!(after.has("buildbot_www_rest_cache_entries"));
    drop(socket);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_without_the_table() {
    let server = common::serve_reference().await;
    let answer = server.get("/metrics").await;
    assert_eq!(answer.status, 404);
    assert!(
        answer.text().contains("No Such Resource"),
        "{}",
        answer.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_limits_who_reads_them() {
    let (dir, config) = common::plugin_site(
        &[],
        "[www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"doh\", marge = \"hmm\" }\n\
         [www.authz]\n\
         roleMatchers = [{ type = \"RolesFromUsername\", roles = [\"ops\"], usernames = [\"homer\"] }]\n\
         [www.metrics]\nrole = \"ops\"\n",
    );
    let state = common::load_state(&config).await.unwrap();
    let server = common::Server::start(state, dir).await;
    let anonymous = server.get("/metrics").await;
    assert_eq!(anonymous.status, 403);
    assert_eq!(anonymous.text(), "you need to have role 'ops'");
    let session = |user: &'static str, password: &'static str| {
        let server = &server;
        async move {
            use base64::Engine as _;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let login = axum::http::Request::get("/auth/login")
                .header("authorization", format!("Basic {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let answer = server.send(login).await;
            assert_eq!(answer.status, 302, "{user}");
            let cookie = answer.header("set-cookie");
            cookie.split(';').next().unwrap().to_owned()
        }
    };
    let as_user = |cookie: String| {
        axum::http::Request::get("/metrics")
            .header("cookie", cookie)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let marge = server.send(as_user(session("marge", "hmm").await)).await;
    assert_eq!(marge.status, 403);
    let homer = server.send(as_user(session("homer", "doh").await)).await;
    assert_eq!(homer.status, 200);
    assert_eq!(homer.header("content-type"), PROMETHEUS_TEXT);
    let scraped = Scrape::parse(&homer.text(), "prometheus");
    let labels = [("route", "/metrics"), ("method", "GET"), ("status", "403")];
    assert_eq!(
        scraped.value("buildbot_www_http_requests_total", &labels),
        2.0
    );
}

/// `buildbot-www serve`, killed if the test ends before it stopped.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_of_their_own() {
    let dir = common::reference_database_dir();
    let (main, metrics) = (common::free_port(), common::free_port());
    let config = dir.path().join("master.toml");
    std::fs::write(
        &config,
        format!(
            "[db]\ndb_url = \"sqlite:///state.sqlite\"\n\
             [www]\nport = \"tcp:{main}:interface=127.0.0.1\"\nlogfileName = \"http.log\"\n\
             [www.metrics]\nport = \"tcp:{metrics}:interface=127.0.0.1\"\n"
        ),
    )
    .unwrap();
    let _serving = Serving(
        Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{main}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The metrics listener is bound before the main one.
    let own = format!("http://127.0.0.1:{metrics}");
    let scraped = scrape(&format!("{own}/metrics"), "openmetrics").await;
    let healthz = [("route", "/healthz"), ("method", "GET"), ("status", "200")];
    assert!(scraped.value("buildbot_www_http_requests_total", &healthz) >= 1.0);
    let client = reqwest::Client::new();
    assert_eq!(status_of(client.get(format!("{base}/metrics"))).await, 404);
    assert_eq!(status_of(client.get(format!("{own}/healthz"))).await, 404);
    assert_eq!(status_of(client.post(format!("{own}/metrics"))).await, 405);
}
