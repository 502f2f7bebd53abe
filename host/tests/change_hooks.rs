//! Change hooks (`/change_hook/<dialect>`) over real HTTP on 127.0.0.1 and a real SQLite file:
//! every request of Buildbot 4.3's scenario 7 replayed and its answer (status, reason phrase,
//! Content-Type, body) and changes compared, a GitHub API stub, pushes generated from a real git
//! repository, bad, oversized, large and concurrent deliveries, the standalone runner's
//! schedulers, and deliveries beyond the recordings checked against Buildbot 4.3.0's answers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use hmac::Mac as _;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common;

const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client: reqwest hides the reason phrase and the chunking.

/// A request as it goes on the wire.
#[derive(Debug, Clone)]
struct RawRequest {
    method: String,
    /// Path and query, as sent.
    target: String,
    /// Headers in order (a name may repeat, as curl sends two `-H Content-Type`).
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl RawRequest {
    fn new(method: &str, target: &str) -> Self {
        RawRequest {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The request's bytes, with `Host`, the body's `Content-Length` and `Connection: close`.
    fn bytes(&self, host: &str) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {host}\r\n",
            self.method, self.target
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = &self.body {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(self.body.as_deref().unwrap_or_default());
        out
    }
}

/// An answer as it came: the status line's parts, the headers, the body (de-chunked).
#[derive(Debug, Clone)]
struct RawAnswer {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawAnswer {
    /// The last value of a header (as Twisted's `getHeader`), `None` when absent.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Seconds since the epoch of the `Date` header (when a recording was taken).
    fn date(&self) -> i64 {
        let date = self.header("date").expect("a Date header");
        let at = httpdate::parse_http_date(date).expect("an HTTP date");
        at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
    }
}

/// Parses a whole answer. `strict_chunks`: a chunked body must be well formed (our answers);
/// otherwise (the recordings, whose bodies were saved de-chunked) it is kept when it is not.
fn parse_answer(bytes: &[u8], strict_chunks: bool) -> RawAnswer {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(bytes)));
    let head = std::str::from_utf8(&bytes[..split]).expect("ASCII headers");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap();
    assert_eq!(version, "HTTP/1.1", "{status_line}");
    let status = parts.next().unwrap().parse().unwrap();
    let reason = parts.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header line");
            (name.to_owned(), value.trim().to_owned())
        })
        .collect();
    let raw_body = &bytes[split + 4..];
    let mut answer = RawAnswer {
        status,
        reason,
        headers,
        body: raw_body.to_vec(),
    };
    if answer
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        match dechunk(raw_body) {
            Some(body) => answer.body = body,
            None if strict_chunks => panic!(
                "a malformed chunked body: {:?}",
                String::from_utf8_lossy(raw_body)
            ),
            None => {}
        }
    } else if let Some(length) = answer.header("content-length") {
        let length: usize = length.parse().unwrap();
        if strict_chunks {
            assert_eq!(raw_body.len(), length, "Content-Length and the body differ");
        }
    }
    answer
}

/// A chunked body's data; `None` when it is not well formed or not ended by a zero chunk.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Some(out);
        }
        if rest.len() < size + 2 || &rest[size..size + 2] != b"\r\n" {
            return None;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Sends `request` on a new connection and reads the answer to the end.
async fn send_raw(base: &str, request: &RawRequest) -> RawAnswer {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.unwrap();
    stream.write_all(&request.bytes(host)).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut received))
        .await
        .unwrap_or_else(|_| panic!("no answer in time to {request:?}"))
        .unwrap();
    // The answer to a HEAD has its headers only.
    parse_answer(&received, request.method != "HEAD")
}

async fn get_json(base: &str, path: &str) -> Value {
    let answer = send_raw(base, &RawRequest::new("GET", path)).await;
    assert_eq!(answer.status, 200, "GET {path}: {}", answer.text());
    answer.json()
}

// ---------------------------------------------------------------------------------------------
// The recordings of scenario 7.

fn scenario_dir() -> PathBuf {
    common::reference_dir().join("auth/7-change-hooks")
}

/// A recorded answer (`<name>`, a whole HTTP answer).
fn recorded(name: &str) -> RawAnswer {
    let bytes = std::fs::read(scenario_dir().join(name))
        .unwrap_or_else(|e| panic!("cannot read recording {name}: {e}"));
    parse_answer(&bytes, false)
}

/// One line of `requests.tsv`.
#[derive(Debug, Clone)]
struct Recorded {
    /// The recording of the answer.
    file: String,
    /// Path and query.
    target: String,
    /// curl's arguments, shell-escaped.
    curl: String,
}

fn requests_tsv() -> Vec<Recorded> {
    std::fs::read_to_string(scenario_dir().join("requests.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            Recorded {
                file: fields.next().unwrap().into(),
                target: fields.next().unwrap().into(),
                curl: fields.next().unwrap_or("").into(),
            }
        })
        .collect()
}

/// curl 7.88's `--data-urlencode`: every byte but `A-Za-z0-9-._~` as `%XX`, a space as `+`.
fn curl_urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The request curl sends for `target` and these arguments (`-H`, `--data-binary @file`,
/// `--data-urlencode`, `-u`, `-X`): a body makes it a POST, else a GET unless `-X`.
fn curl_request(target: &str, args: &str) -> RawRequest {
    let words = common::shell_words(args);
    let mut method = None;
    let mut custom: Vec<(String, String)> = Vec::new();
    let mut data: Vec<Vec<u8>> = Vec::new();
    let mut user = None;
    let mut words = words.into_iter();
    while let Some(flag) = words.next() {
        let value = words
            .next()
            .unwrap_or_else(|| panic!("{flag} without a value"));
        match flag.as_str() {
            "-H" => {
                let (name, value) = value.split_once(':').expect("Name: value");
                custom.push((name.to_owned(), value.trim_start().to_owned()));
            }
            "--data-binary" => data.push(match value.strip_prefix('@') {
                Some(file) => std::fs::read(scenario_dir().join(file)).unwrap(),
                None => value.into_bytes(),
            }),
            "--data-urlencode" => {
                let (name, content) = value.split_once('=').expect("name=value");
                data.push(format!("{name}={}", curl_urlencode(content)).into_bytes());
            }
            "-u" => user = Some(value),
            "-X" => method = Some(value),
            other => panic!("curl argument {other} is not handled"),
        }
    }
    let has = |name: &str| custom.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let method = method.unwrap_or_else(|| if data.is_empty() { "GET" } else { "POST" }.into());
    let mut request = RawRequest::new(&method, target);
    if let Some(user) = user {
        let token = base64::engine::general_purpose::STANDARD.encode(user);
        request = request.header("Authorization", &format!("Basic {token}"));
    }
    if !has("User-Agent") {
        request = request.header("User-Agent", "curl/7.88.1");
    }
    request = request.header("Accept", "*/*");
    for (name, value) in &custom {
        request = request.header(name, value);
    }
    if !data.is_empty() {
        if !has("Content-Type") {
            request = request.header("Content-Type", "application/x-www-form-urlencoded");
        }
        request = request.body(data.join(&b'&'));
    }
    request
}

// ---------------------------------------------------------------------------------------------
// Comparisons, gathered so that one run lists every difference.

/// The test's clock: the receive time of a delivery made during the test lies in it.
#[derive(Debug, Clone, Copy)]
struct RunTime {
    started: i64,
}

impl RunTime {
    fn start() -> Self {
        RunTime { started: now() }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Compares a recorded JSON document with ours, field for field; differences go to `out`.
/// `when_timestamp` and `created_at` that are Buildbot's receive time (within five minutes before
/// the recording was taken at `recorded_at`) must be ours: within the test's run time.
fn diff_json(
    at: &str,
    expected: &Value,
    got: &Value,
    recorded_at: i64,
    run: RunTime,
    out: &mut Vec<String>,
) {
    let key = at.rsplit('.').next().unwrap_or("");
    match (expected, got) {
        (Value::Number(e), _)
            if matches!(key, "when_timestamp" | "created_at")
                && e.as_i64()
                    .is_some_and(|e| (recorded_at - 300..=recorded_at).contains(&e)) =>
        {
            let ok = got
                .as_i64()
                .is_some_and(|g| (run.started..=now()).contains(&g));
            if !ok {
                out.push(format!(
                    "{at}: the receive time expected (within {}..now), got {got}",
                    run.started
                ));
            }
        }
        (Value::Object(e), Value::Object(g)) => {
            for (k, v) in e {
                match g.get(k) {
                    Some(gv) => diff_json(&format!("{at}.{k}"), v, gv, recorded_at, run, out),
                    None => out.push(format!("{at}.{k}: missing (expected {v})")),
                }
            }
            for k in g.keys().filter(|k| !e.contains_key(*k)) {
                out.push(format!("{at}.{k}: not expected (got {})", g[k]));
            }
        }
        (Value::Array(e), Value::Array(g)) if e.len() == g.len() => {
            for (i, (ev, gv)) in e.iter().zip(g).enumerate() {
                diff_json(&format!("{at}[{i}]"), ev, gv, recorded_at, run, out);
            }
        }
        _ if expected == got => {}
        _ => out.push(format!("{at}: expected {expected}, got {got}")),
    }
}

/// Compares our answer to a delivery with the recorded one: status, reason phrase,
/// Content-Type and body.
fn diff_answer(name: &str, expected: &RawAnswer, got: &RawAnswer, out: &mut Vec<String>) {
    let mut wrong = Vec::new();
    if (expected.status, &expected.reason) != (got.status, &got.reason) {
        wrong.push(format!(
            "status line `{} {}`, got `{} {}`",
            expected.status, expected.reason, got.status, got.reason
        ));
    }
    if expected.header("content-type") != got.header("content-type") {
        wrong.push(format!(
            "Content-Type {:?}, got {:?}",
            expected.header("content-type"),
            got.header("content-type")
        ));
    }
    if let Some(challenge) = expected.header("www-authenticate") {
        if got.header("www-authenticate") != Some(challenge) {
            wrong.push(format!(
                "WWW-Authenticate {challenge:?}, got {:?}",
                got.header("www-authenticate")
            ));
        }
    }
    if got.header("set-cookie").is_some() {
        wrong.push("a Set-Cookie (Buildbot sends none on a hook's answer)".into());
    }
    if expected.body != got.body {
        wrong.push(format!("body {:?}, got {:?}", expected.text(), got.text()));
    }
    if !wrong.is_empty() {
        out.push(format!("{name}: {}", wrong.join("; ")));
    }
}

// ---------------------------------------------------------------------------------------------
// Servers.

/// The scenario's `change_hook_dialects` (`www_scenario-7-hooks.py`) with the API stub's port.
fn scenario_dialects(stub_port: u16) -> String {
    format!(
        "[www.change_hook_dialects]\nbase = {{}}\n\
         github = {{ secret = \"s3cret\", strict = true, github_api_endpoint = \"http://127.0.0.1:{stub_port}\" }}\n\
         gitlab = {{ secret = \"tok\" }}\nbitbucketcloud = {{}}\n"
    )
}

/// Serves the config at `path` (its database next to it) without plugins; the base URL.
async fn serve_config(path: &Path) -> String {
    common::serve_state(common::state_without_plugins(path).await).await
}

/// The reference database and config with `www` TOML merged in, served.
async fn hooks_server(www: &str) -> common::Server {
    common::serve_reference_config(common::MasterToml::reference().www_toml(www)).await
}

/// Rows in the tables a delivery writes to: changes, sourcestamps, users.
async fn written(dir: &Path) -> (i64, i64, i64) {
    let pool = buildbot_www::db::open_file(&dir.join("state.sqlite"))
        .await
        .unwrap();
    let count = |table: &str| format!("SELECT COUNT(*) FROM {table}");
    let mut counts = [0i64; 3];
    for (i, table) in ["changes", "sourcestamps", "users"].iter().enumerate() {
        counts[i] = sqlx::query_scalar(&count(table))
            .fetch_one(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    (counts[0], counts[1], counts[2])
}

async fn last_changeid(dir: &Path) -> i64 {
    let pool = buildbot_www::db::open_file(&dir.join("state.sqlite"))
        .await
        .unwrap();
    let id: Option<i64> = sqlx::query_scalar("SELECT MAX(changeid) FROM changes")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    id.unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The GitHub API stub (`scripts/auth/github_stub.py`'s answers for the recorded changes).

struct GithubStub {
    port: u16,
    log: Arc<Mutex<Vec<Value>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl GithubStub {
    async fn start() -> Self {
        use axum::extract::State;
        let log: Arc<Mutex<Vec<Value>>> = Arc::default();
        let app = axum::Router::new()
            .fallback(
                |State(log): State<Arc<Mutex<Vec<Value>>>>,
                 request: axum::extract::Request| async move {
                    let path = request.uri().path().to_owned();
                    let agent = request
                        .headers()
                        .get("user-agent")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    log.lock().unwrap().push(json!({
                        "method": request.method().as_str(),
                        "path": path,
                        "headers": {"User-Agent": agent},
                    }));
                    stub_answer(&path)
                },
            )
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        GithubStub {
            port,
            log,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops it: its port refuses connections afterwards (every connection closed).
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("the stub stops")
                .unwrap();
        }
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err(),
            "the stub's port still accepts connections"
        );
    }

    fn requests(&self) -> Vec<Value> {
        self.log.lock().unwrap().clone()
    }
}

/// What the stub answers: a head commit without `[ci skip]` for 3333…, one with it for
/// deadbeef…, and the pull request's files (one renamed).
fn stub_answer(path: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    let repo = "/repos/simpsons/springfield";
    let commit = |sha: &str, message: &str| {
        json!({"sha": sha, "commit": {"message": message,
            "author": {"name": "Marge Simpson", "email": "marge@example.com"}}})
    };
    let body = match path.strip_prefix(repo) {
        Some("/commits/3333333333333333333333333333333333333333") => commit(
            "3333333333333333333333333333333333333333",
            "Add donut dispenser",
        ),
        Some("/commits/deadbeefdeadbeefdeadbeefdeadbeefdeadbeef") => commit(
            "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef",
            "Tweak the dispenser [ci skip]",
        ),
        // Answers that are not JSON, for the checks beyond the recordings.
        Some("/commits/badbadbadbadbadbadbadbadbadbadbadbadbadb") | Some("/pulls/99/files") => {
            return (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                "not json",
            )
                .into_response()
        }
        Some("/pulls/7/files") => json!([
            {"filename": "src/feature.c", "status": "modified"},
            {"filename": "docs/new-name.md", "previous_filename": "docs/old-name.md",
             "status": "renamed"},
        ]),
        _ => {
            return (
                axum::http::StatusCode::NOT_FOUND,
                axum::Json(json!({"message": "Not Found"})),
            )
                .into_response()
        }
    };
    axum::Json(body).into_response()
}

// ---------------------------------------------------------------------------------------------
// 1. The recordings replayed.

/// Replays requests.tsv's lines on `base`; a `*-changes.http` line (or a REST path) is a GET
/// compared as JSON.
async fn replay(base: &str, lines: &[Recorded], run: RunTime, out: &mut Vec<String>) {
    for line in lines {
        let expected = recorded(&line.file);
        let request = curl_request(&line.target, &line.curl);
        let got = send_raw(base, &request).await;
        if line.target.starts_with("/api/") {
            if got.status != expected.status {
                out.push(format!(
                    "{}: status {}, got {} ({})",
                    line.file,
                    expected.status,
                    got.status,
                    got.text()
                ));
                continue;
            }
            diff_json(
                &line.file,
                &our_order(&line.target, expected.json()),
                &got.json(),
                expected.date(),
                run,
                out,
            );
        } else {
            diff_answer(&line.file, &expected, &got, out);
        }
    }
}

/// A recorded `/api/v2/changes?order=-changeid&limit=N` page as we answer it: Buildbot reverses
/// the page (oldest first), we keep the order asked for (`fixtures/api/differences.toml`,
/// `query/changes-order-desc-limit2.http`).
fn our_order(target: &str, mut recorded: Value) -> Value {
    if target.starts_with("/api/v2/changes?") && target.contains("order=-changeid") {
        if let Some(changes) = recorded["changes"].as_array_mut() {
            changes.reverse();
        }
    }
    recorded
}

/// Every request of scenario 7, in order, on servers configured as Buildbot's were: the main
/// config (with the GitHub API stub, stopped before the "API down" delivery), then the
/// `change_hook_auth` variants over the same database.
#[tokio::test]
async fn scenario_7_replayed() {
    let run = RunTime::start();
    let mut stub = GithubStub::start().await;
    let server = hooks_server(&scenario_dialects(stub.port)).await;
    let lines = requests_tsv();
    let (auth_memory, rest): (Vec<_>, Vec<_>) =
        lines.into_iter().partition(|l| l.file.starts_with("auth-"));
    let (auth_file, main): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|l| l.file.starts_with("authfile-"));
    let mut failures = Vec::new();

    // The main scenario; the stub goes down before the delivery that finds it down.
    let mut down = false;
    for line in &main {
        if line.file == "github-pull_request-opened-api-down.http" && !down {
            stub.stop().await;
            down = true;
        }
        replay(&server.base, std::slice::from_ref(line), run, &mut failures).await;
    }
    assert!(down, "the API-down delivery is in requests.tsv");
    let expected_log: Vec<Value> =
        std::fs::read_to_string(scenario_dir().join("github-stub-requests.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    if stub.requests() != expected_log {
        failures.push(format!(
            "github-stub-requests.jsonl: the API requests were {:#?}",
            stub.requests()
        ));
    }

    // `[strcred.makeChecker("memory:user:pass")]` on a copy of the database as it is now.
    // Buildbot refuses even the right password (str against bytes); we accept it.
    let memory_dir = tempfile::tempdir().unwrap();
    {
        let pool = buildbot_www::db::open_file(&server.dir.path().join("state.sqlite"))
            .await
            .unwrap();
        sqlx::query("VACUUM INTO $1")
            .bind(memory_dir.path().join("state.sqlite").display().to_string())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let memory_config = common::MasterToml::reference()
        .www_toml("change_hook_auth = [\"memory:user:pass\"]")
        .write(memory_dir.path());
    let memory = serve_config(&memory_config).await;
    for line in &auth_memory {
        match line.file.as_str() {
            "auth-ok.http" => {
                assert_eq!(
                    recorded(&line.file).status,
                    401,
                    "Buildbot refused the right password"
                );
                let got = send_raw(&memory, &curl_request(&line.target, &line.curl)).await;
                let ours = RawAnswer {
                    status: 200,
                    reason: "OK".into(),
                    headers: vec![("Content-Type".into(), "text/html".into())],
                    body: b"1 change found".to_vec(),
                };
                diff_answer("auth-ok.http (ours accepts it)", &ours, &got, &mut failures);
            }
            // Without `order`, Buildbot pages oldest first and reverses; we answer the newest
            // first (`fixtures/api/differences.toml`, `query/changes-limit2.http`).
            "auth-api-unaffected.http" => {
                assert_eq!(
                    recorded(&line.file).json()["changes"],
                    json!([{"changeid": 1}])
                );
                let got = get_json(&memory, &line.target).await;
                let newest = last_changeid(memory_dir.path()).await;
                if got != json!({"changes": [{"changeid": newest}], "meta": {"total": 1}}) {
                    failures.push(format!(
                        "auth-api-unaffected.http: expected the newest change {newest}, got {got}"
                    ));
                }
            }
            // What Buildbot wrote for the same delivery with the file checker.
            "auth-ok-changes.http" => {
                let expected = recorded("authfile-ok-changes.http");
                let got = get_json(&memory, &line.target).await;
                diff_json(
                    "auth-ok-changes.http (as authfile-ok-changes.http)",
                    &expected.json(),
                    &got,
                    expected.date(),
                    run,
                    &mut failures,
                );
            }
            _ => replay(&memory, std::slice::from_ref(line), run, &mut failures).await,
        }
    }

    // `[strcred.makeChecker("file:changehook.passwd")]` over the main database, as recorded.
    std::fs::copy(
        scenario_dir().join("changehook.passwd"),
        server.dir.path().join("changehook.passwd"),
    )
    .unwrap();
    let file_config = server.dir.path().join("authfile.toml");
    std::fs::write(
        &file_config,
        common::MasterToml::reference()
            .www_toml("change_hook_auth = [\"file:changehook.passwd\"]")
            .text(),
    )
    .unwrap();
    let file = serve_config(&file_config).await;
    replay(&file, &auth_file, run, &mut failures).await;

    assert!(
        failures.is_empty(),
        "{} difference(s) from Buildbot 4.3:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `change_hook_auth = ["user:pass"]`: Buildbot does not start (a str is not a checker); our
/// config check refuses it with what to write instead, without echoing the string.
#[tokio::test]
async fn plain_string_auth_is_refused_at_start() {
    let failure =
        std::fs::read_to_string(scenario_dir().join("change-hook-auth-string-startup-failure.txt"))
            .unwrap();
    assert!(failure.contains("'str' object has no attribute 'credentialInterfaces'"));
    let config = common::MasterToml::reference()
        .www_toml("change_hook_auth = [\"user:pass\"]")
        .text();
    let error = common::start_up_error(&config).await;
    assert!(error.contains("change_hook_auth"), "{error}");
    assert!(error.contains("\"file:PATH\""), "{error}");
    assert!(error.contains("\"memory:USER:PASSWORD\""), "{error}");
    // The message never repeats the string (it may be a password); the file's line is shown
    // below it, as for every config error.
    let message = error.lines().next().unwrap();
    assert!(
        !message.contains("\"user:pass\""),
        "the string is echoed: {message}"
    );
}

// ---------------------------------------------------------------------------------------------
// Pushes made here: GitHub's and GitLab's payloads for a list of commits, signed as GitHub signs.

/// One commit of a push, as the forges describe it.
#[derive(Debug, Clone)]
struct Commit {
    id: String,
    /// The whole message as git keeps it (ending with a newline).
    message: String,
    /// ISO 8601 with the commit's own offset (`2026-11-27T10:15:30+01:00`).
    timestamp: String,
    /// The same instant, seconds since the epoch.
    when: i64,
    author: (String, String),
    committer: (String, String),
    added: Vec<String>,
    modified: Vec<String>,
    removed: Vec<String>,
}

impl Commit {
    /// A made-up commit `n` (distinct ids and files), authored at `when` UTC.
    fn synthetic(n: usize, when: i64) -> Self {
        Commit {
            id: format!("{n:040x}"),
            message: format!("Synthetic commit {n}\n\nBody of {n}.\n"),
            timestamp: String::new(),
            when,
            author: ("Lisa Simpson".into(), "lisa@example.com".into()),
            committer: ("Bart Simpson".into(), "bart@example.com".into()),
            added: vec![format!("src/gen/{n}.c")],
            modified: vec!["src/gen/list.txt".into()],
            removed: vec![],
        }
        .with_utc_timestamp()
    }

    fn with_utc_timestamp(mut self) -> Self {
        let days = self.when.div_euclid(86_400);
        let secs = self.when.rem_euclid(86_400);
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        self.timestamp = format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        self
    }

    fn files(&self) -> Vec<String> {
        [&self.added, &self.modified, &self.removed]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

const GITHUB_REPO: &str = "https://github.com/simpsons/springfield";
const GITLAB_SSH: &str = "git@gitlab.example.com:simpsons/springfield.git";

/// GitHub's `push` payload for `commits` on `git_ref` (`created`: a new branch or tag).
fn github_push(git_ref: &str, commits: &[Commit], created: bool) -> Vec<u8> {
    let person = |(name, email): &(String, String)| json!({"name": name, "email": email, "username": name.split(' ').next().unwrap().to_lowercase()});
    let described: Vec<Value> = commits
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "tree_id": "f".repeat(40), "distinct": true,
                "message": c.message.trim_end_matches('\n'),
                "timestamp": c.timestamp, "url": format!("{GITHUB_REPO}/commit/{}", c.id),
                "author": person(&c.author), "committer": person(&c.committer),
                "added": c.added, "removed": c.removed, "modified": c.modified,
            })
        })
        .collect();
    let head = described.last().cloned().unwrap_or(Value::Null);
    json!({
        "ref": git_ref,
        "before": "0".repeat(40),
        "after": commits.last().map_or("0".repeat(40), |c| c.id.clone()),
        "repository": {
            "id": 700001, "name": "springfield", "full_name": "simpsons/springfield",
            "private": false, "html_url": GITHUB_REPO, "url": GITHUB_REPO,
            "clone_url": format!("{GITHUB_REPO}.git"), "default_branch": "main",
        },
        "pusher": {"name": "homer", "email": "homer@example.com"},
        "sender": {"login": "homer", "id": 1001},
        "created": created, "deleted": false, "forced": false, "base_ref": null,
        "compare": format!("{GITHUB_REPO}/compare/x...y"),
        "commits": described,
        "head_commit": head,
    })
    .to_string()
    .into_bytes()
}

/// GitLab's `push` (or `tag_push`) payload for `commits` on `git_ref`.
fn gitlab_push(kind: &str, git_ref: &str, commits: &[Commit]) -> Vec<u8> {
    let described: Vec<Value> = commits
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "message": c.message, "title": c.message.lines().next(),
                "timestamp": c.timestamp,
                "url": format!("https://gitlab.example.com/simpsons/springfield/-/commit/{}", c.id),
                "author": {"name": c.author.0, "email": c.author.1},
                "added": c.added, "modified": c.modified, "removed": c.removed,
            })
        })
        .collect();
    json!({
        "object_kind": kind, "event_name": kind,
        "before": "0".repeat(40),
        "after": commits.last().map_or("0".repeat(40), |c| c.id.clone()),
        "ref": git_ref,
        "user_name": "Lenny Leonard", "user_username": "lenny",
        "project_id": 15,
        "project": {"id": 15, "name": "Springfield", "path_with_namespace": "simpsons/springfield",
                    "git_ssh_url": GITLAB_SSH, "url": GITLAB_SSH},
        "repository": {"name": "Springfield", "url": GITLAB_SSH,
                       "homepage": "https://gitlab.example.com/simpsons/springfield",
                       "git_http_url": "https://gitlab.example.com/simpsons/springfield.git",
                       "git_ssh_url": GITLAB_SSH},
        "commits": described,
        "total_commits_count": commits.len(),
    })
    .to_string()
    .into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha1=<hex>` and `sha256=<hex>`: GitHub's two signatures of `body` with `secret`.
pub(crate) fn github_signatures(body: &[u8], secret: &str) -> (String, String) {
    let mut sha1 = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    sha1.update(body);
    let mut sha256 = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    sha256.update(body);
    (
        format!("sha1={}", hex(&sha1.finalize().into_bytes())),
        format!("sha256={}", hex(&sha256.finalize().into_bytes())),
    )
}

/// A GitHub delivery of `event` without signatures.
fn github_delivery(event: &str, body: &[u8]) -> RawRequest {
    RawRequest::new("POST", "/change_hook/github")
        .header("User-Agent", "GitHub-Hookshot/044aadd")
        .header("Content-Type", "application/json")
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .body(body)
}

/// A GitHub delivery signed as GitHub signs (both headers) with the scenario's secret.
fn github_signed(event: &str, body: &[u8]) -> RawRequest {
    let (sha1, sha256) = github_signatures(body, "s3cret");
    github_delivery(event, body)
        .header("X-Hub-Signature", &sha1)
        .header("X-Hub-Signature-256", &sha256)
}

/// A GitLab delivery with the scenario's token.
fn gitlab_delivery(event: &str, body: &[u8]) -> RawRequest {
    RawRequest::new("POST", "/change_hook/gitlab")
        .header("Content-Type", "application/json")
        .header("X-Gitlab-Event", event)
        .header("X-Gitlab-Token", "tok")
        .body(body)
}

// ---------------------------------------------------------------------------------------------
// 3. Bad input writes nothing.

/// Refused deliveries (signatures, content types, dialects, tokens, truncated bodies) answer as
/// Buildbot does and write no change, sourcestamp or user.
#[tokio::test]
async fn bad_deliveries_write_nothing() {
    let stub = GithubStub::start().await;
    let server = hooks_server(&scenario_dialects(stub.port)).await;
    let dir = server.dir.path();
    let before = written(dir).await;
    let push = std::fs::read(scenario_dir().join("payloads/github-push.json")).unwrap();
    let (sha1, sha256) = github_signatures(&push, "s3cret");
    // Our signing is GitHub's: the recorded delivery carried these.
    let recorded = requests_tsv()
        .into_iter()
        .find(|l| l.file == "github-push-ok.http")
        .unwrap();
    assert!(recorded.curl.contains(&sha1) && recorded.curl.contains(&sha256));
    let (wrong_sha1, wrong_sha256) = github_signatures(&push, "not the secret");
    let mismatch = "Hash mismatch";
    let no_signature = "Request has no required signature";
    let cases: Vec<(&str, RawRequest, u16, String)> = vec![
        (
            "a wrong X-Hub-Signature",
            github_delivery("push", &push).header("X-Hub-Signature", &wrong_sha1),
            400,
            mismatch.into(),
        ),
        (
            "no signature",
            github_delivery("push", &push),
            400,
            no_signature.into(),
        ),
        (
            "an empty signature",
            github_delivery("push", &push).header("X-Hub-Signature", ""),
            400,
            no_signature.into(),
        ),
        (
            "only X-Hub-Signature-256, right",
            github_delivery("push", &push).header("X-Hub-Signature-256", &sha256),
            400,
            no_signature.into(),
        ),
        (
            "uppercase hex",
            github_delivery("push", &push).header(
                "X-Hub-Signature",
                &format!("sha1={}", sha1[5..].to_uppercase()),
            ),
            400,
            mismatch.into(),
        ),
        (
            "a right sha1 with a wrong X-Hub-Signature-256",
            github_delivery("push", &push)
                .header("X-Hub-Signature", &sha1)
                .header("X-Hub-Signature-256", &wrong_sha256),
            400,
            mismatch.into(),
        ),
        (
            "a right signature of another body",
            github_delivery("push", &[&push[..], b" "].concat()).header("X-Hub-Signature", &sha1),
            400,
            mismatch.into(),
        ),
        (
            "sha256 in X-Hub-Signature",
            github_delivery("push", &push).header("X-Hub-Signature", &sha256),
            400,
            "Unknown hash type: sha256".into(),
        ),
        (
            "md5 in X-Hub-Signature",
            github_delivery("push", &push).header("X-Hub-Signature", "md5=00"),
            400,
            "Unknown hash type: md5".into(),
        ),
        (
            "two = in the signature",
            github_delivery("push", &push).header("X-Hub-Signature", "sha1=a=b"),
            400,
            "Wrong signature format: sha1=a=b".into(),
        ),
        (
            "text/plain, signed",
            RawRequest {
                headers: github_signed("push", &push)
                    .headers
                    .into_iter()
                    .map(|(n, v)| {
                        if n == "Content-Type" {
                            (n, "text/plain".into())
                        } else {
                            (n, v)
                        }
                    })
                    .collect(),
                ..github_signed("push", &push)
            },
            400,
            "Unknown content type: b'text/plain'".into(),
        ),
        (
            "no Content-Type, signed",
            RawRequest {
                headers: github_signed("push", &push)
                    .headers
                    .into_iter()
                    .filter(|(n, _)| n != "Content-Type")
                    .collect(),
                ..github_signed("push", &push)
            },
            400,
            "Unknown content type: None".into(),
        ),
        (
            "an unknown dialect",
            RawRequest::new("POST", "/change_hook/nosuch").body(&push[..]),
            400,
            "The dialect specified, 'nosuch', wasn't whitelisted in change_hook".into(),
        ),
        (
            "a dialect Buildbot has but not enabled",
            RawRequest::new("POST", "/change_hook/bitbucketserver")
                .header("Content-Type", "application/json")
                .body(&push[..]),
            400,
            "The dialect specified, 'bitbucketserver', wasn't whitelisted in change_hook".into(),
        ),
        (
            "GitLab, a wrong token",
            RawRequest {
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("X-Gitlab-Event".into(), "Push Hook".into()),
                    ("X-Gitlab-Token".into(), "tok2".into()),
                ],
                ..gitlab_delivery("Push Hook", &push)
            },
            400,
            "Invalid secret".into(),
        ),
        (
            "GitLab, the token's prefix",
            RawRequest {
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("X-Gitlab-Token".into(), "to".into()),
                ],
                ..gitlab_delivery("Push Hook", &push)
            },
            400,
            "Invalid secret".into(),
        ),
        (
            "Bitbucket Cloud, text/plain",
            RawRequest::new("POST", "/change_hook/bitbucketcloud")
                .header("Content-Type", "text/plain")
                .header("X-Event-Key", "repo:push")
                .body(&push[..]),
            400,
            "Unknown content type: text/plain".into(),
        ),
    ];
    let mut failures = Vec::new();
    for (case, request, status, message) in &cases {
        let answer = send_raw(&server.base, request).await;
        if (answer.status, answer.reason.as_str(), answer.text())
            != (*status, message.as_str(), message.clone())
            || answer.header("content-type") != Some("text/html")
        {
            failures.push(format!(
                "{case}: expected `{status} {message}`, got `{} {}` {:?} ({:?})",
                answer.status,
                answer.reason,
                answer.text(),
                answer.header("content-type")
            ));
        }
        let now_written = written(dir).await;
        if now_written != before {
            failures.push(format!("{case}: wrote {before:?} -> {now_written:?}"));
        }
    }
    assert!(stub.requests().is_empty(), "no API call for a refused push");

    // A body shorter than its Content-Length, then the connection half-closed or dropped.
    for drop_whole in [false, true] {
        let host = server.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).await.unwrap();
        let request = github_signed("push", &push);
        let mut bytes = request.bytes(host);
        let cut = bytes.len() - push.len() / 2;
        bytes.truncate(cut);
        stream.write_all(&bytes).await.unwrap();
        if drop_whole {
            drop(stream);
        } else {
            stream.shutdown().await.unwrap();
            let mut received = Vec::new();
            let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut received)).await;
            if !received.is_empty() {
                let answer = parse_answer(&received, true);
                if answer.status == 200 {
                    failures.push(format!("a truncated body was answered {}", answer.text()));
                }
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now_written = written(dir).await;
    if now_written != before {
        failures.push(format!(
            "truncated bodies wrote {before:?} -> {now_written:?}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Still working: the right delivery is taken.
    let answer = send_raw(&server.base, &github_signed("push", &push)).await;
    assert_eq!(
        (answer.status, answer.text()),
        (200, "2 change found".into())
    );
}

/// `change_hook_max_body_kib = 1`: a larger delivery is refused with 413 before any dialect
/// reads it, whether its length is declared or chunked; nothing is written.
#[tokio::test]
async fn oversized_deliveries_are_refused() {
    let server = hooks_server(&format!(
        "change_hook_max_body_kib = 1\n{}",
        scenario_dialects(1)
    ))
    .await;
    let dir = server.dir.path();
    let before = written(dir).await;
    let comments = "x".repeat(1100);
    let form = format!("comments={comments}");
    let big_push = github_push(
        "refs/heads/main",
        &[Commit::synthetic(1, 1_795_800_000)],
        false,
    );
    assert!(big_push.len() > 1024);
    for request in [
        RawRequest::new("POST", "/change_hook/base")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.clone()),
        github_signed("push", &[&big_push[..], &[b' '; 1024][..]].concat()),
    ] {
        let answer = send_raw(&server.base, &request).await;
        assert_eq!(answer.status, 413, "{}: {}", request.target, answer.text());
        assert_eq!(written(dir).await, before, "{}", request.target);
    }
    // Chunked, with no length given.
    let host = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.unwrap();
    let mut raw = format!(
        "POST /change_hook/base HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for piece in form.as_bytes().chunks(300) {
        raw.push_str(&format!(
            "{:x}\r\n{}\r\n",
            piece.len(),
            std::str::from_utf8(piece).unwrap()
        ));
    }
    raw.push_str("0\r\n\r\n");
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut received))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parse_answer(&received, true).status, 413);
    assert_eq!(written(dir).await, before);
    // Just under the cap is taken.
    let small = format!("comments={}", "x".repeat(1000));
    let answer = send_raw(
        &server.base,
        &RawRequest::new("POST", "/change_hook/base")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(small),
    )
    .await;
    assert_eq!(
        (answer.status, answer.text()),
        (200, "1 change found".into())
    );
}

/// 16 signed pushes of 2 distinct commits each, all at once: 32 new changes, every id once,
/// every commit once, every answer `2 change found`.
#[tokio::test]
async fn concurrent_deliveries_each_write_their_changes() {
    let server = hooks_server(&scenario_dialects(1)).await;
    let first_new = last_changeid(server.dir.path()).await + 1;
    let pushes: Vec<Vec<u8>> = (0..16)
        .map(|i| {
            let commits = [
                Commit::synthetic(100 + 2 * i, 1_795_800_000 + i as i64),
                Commit::synthetic(101 + 2 * i, 1_795_800_001 + i as i64),
            ];
            github_push("refs/heads/main", &commits, false)
        })
        .collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(pushes.len()));
    let tasks: Vec<_> = pushes
        .into_iter()
        .map(|push| {
            let base = server.base.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                send_raw(&base, &github_signed("push", &push)).await
            })
        })
        .collect();
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(
            (answer.status, answer.text()),
            (200, "2 change found".into())
        );
    }
    let changes = get_json(&server.base, "/api/v2/changes?limit=-1").await;
    let new: Vec<&Value> = changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["changeid"].as_i64().unwrap() >= first_new)
        .collect();
    assert_eq!(new.len(), 32);
    let mut ids: Vec<i64> = new
        .iter()
        .map(|c| c["changeid"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (first_new..first_new + 32).collect::<Vec<_>>());
    let mut revisions: Vec<&str> = new
        .iter()
        .map(|c| c["revision"].as_str().unwrap())
        .collect();
    revisions.sort_unstable();
    let expected: Vec<String> = (100..132).map(|n| format!("{n:040x}")).collect();
    assert_eq!(
        revisions,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    // Each push's two commits are written together, in payload order.
    for change in &new {
        let n = usize::from_str_radix(change["revision"].as_str().unwrap(), 16).unwrap();
        if n % 2 == 1 {
            let first = new
                .iter()
                .find(|c| c["revision"] == format!("{:040x}", n - 1))
                .unwrap();
            assert_eq!(
                change["changeid"].as_i64().unwrap(),
                first["changeid"].as_i64().unwrap() + 1,
                "one delivery's changes are consecutive"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Pushes of a real git repository.

/// Runs git in `dir` with the author and committer of `env` (name, email, date); its output.
fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A repository made here: commits by two authors (with their own time zones, one name not
/// ASCII) adding, modifying and removing files (some named with spaces and accents), and a
/// tag `v1.0` on the last; its commits as git reports
/// them, oldest first.
fn made_repository(dir: &Path) -> Vec<Commit> {
    git(dir, &["init", "-q", "-b", "main"], &[]);
    let homer = ("Homer Simpson", "homer@example.com");
    let marge = ("Märge Simpsön", "marge@example.com");
    type Step<'a> = (
        (&'a str, &'a str),
        (&'a str, &'a str),
        &'a str,
        &'a str,
        &'a [(&'a str, Option<&'a str>)],
    );
    let steps: &[Step] = &[
        (
            homer,
            homer,
            "2026-11-27T10:15:30+01:00",
            "Add the reactor\n\nFirst cut, no cooling yet.",
            &[
                ("README.md", Some("# Springfield\n")),
                ("src/reactor.c", Some("int main(void) { return 0; }\n")),
                ("src/rods.c", Some("/* rods */\n")),
            ],
        ),
        (
            marge,
            homer,
            "2026-11-27T11:00:00-05:00",
            "Document the plant ☢",
            &[
                ("README.md", Some("# Springfield\n\nSee docs/.\n")),
                ("docs/read me.md", Some("Safety first.\n")),
                ("docs/naïve résumé.md", Some("Ça va.\n")),
            ],
        ),
        (
            homer,
            marge,
            "2026-11-28T08:00:00+05:30",
            "Move the rods \"out\"\n\n- remove rods.c\n- edit reactor.c",
            &[
                ("src/rods.c", None),
                ("src/reactor.c", Some("int main(void) { return 1; }\n")),
                ("src/cooling/pump.c", Some("/* pump */\n")),
            ],
        ),
        (
            marge,
            marge,
            "2026-11-29T00:00:00+00:00",
            "Release notes",
            &[
                ("NEWS", Some("1.0\n")),
                ("docs/read me.md", None),
                ("docs/naïve résumé.md", Some("Ça va bien.\n")),
            ],
        ),
    ];
    for (author, committer, date, message, files) in steps {
        for (path, content) in *files {
            let path = dir.join(path);
            match content {
                Some(text) => {
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(&path, text).unwrap();
                }
                None => std::fs::remove_file(&path).unwrap(),
            }
        }
        git(dir, &["add", "-A"], &[]);
        git(
            dir,
            &["commit", "-q", "-m", message],
            &[
                ("GIT_AUTHOR_NAME", author.0),
                ("GIT_AUTHOR_EMAIL", author.1),
                ("GIT_AUTHOR_DATE", date),
                ("GIT_COMMITTER_NAME", committer.0),
                ("GIT_COMMITTER_EMAIL", committer.1),
                ("GIT_COMMITTER_DATE", date),
            ],
        );
    }
    git(dir, &["tag", "v1.0"], &[]);
    let log = git(
        dir,
        &[
            "log",
            "--reverse",
            "--format=%H%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%aI%x1f%at%x1f%B%x1e",
        ],
        &[],
    );
    log.split('\x1e')
        .map(|record| record.trim_start_matches('\n'))
        .filter(|record| !record.is_empty())
        .map(|record| {
            let f: Vec<&str> = record.split('\x1f').collect();
            let mut commit = Commit {
                id: f[0].into(),
                author: (f[1].into(), f[2].into()),
                committer: (f[3].into(), f[4].into()),
                timestamp: f[5].into(),
                when: f[6].parse().unwrap(),
                message: f[7].into(),
                added: Vec::new(),
                modified: Vec::new(),
                removed: Vec::new(),
            };
            let status = git(
                dir,
                &[
                    "-c",
                    "core.quotePath=false",
                    "show",
                    "--no-renames",
                    "--name-status",
                    "--format=",
                    f[0],
                ],
                &[],
            );
            for line in status.lines().filter(|l| !l.is_empty()) {
                let (kind, path) = line.split_once('\t').unwrap();
                match kind {
                    "A" => commit.added.push(path.into()),
                    "M" => commit.modified.push(path.into()),
                    "D" => commit.removed.push(path.into()),
                    other => panic!("git status {other}"),
                }
            }
            commit
        })
        .collect()
}

/// The new changes since `first_new`, by id, as the REST API gives them.
async fn changes_from(base: &str, first_new: i64, count: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for id in first_new..first_new + count as i64 {
        let answer = get_json(base, &format!("/api/v2/changes/{id}")).await;
        out.push(answer["changes"][0].clone());
    }
    let after = RawRequest::new(
        "GET",
        &format!("/api/v2/changes/{}", first_new + count as i64),
    );
    assert_eq!(
        send_raw(base, &after).await.status,
        404,
        "more changes than expected"
    );
    out
}

/// The fields of a change that come from the repository (and the forge's names for it).
fn change_fields(change: &Value) -> Value {
    let keys = [
        "revision",
        "author",
        "committer",
        "comments",
        "files",
        "when_timestamp",
        "branch",
        "category",
        "repository",
        "project",
        "codebase",
        "revlink",
        "properties",
    ];
    Value::Object(
        keys.iter()
            .map(|k| (k.to_string(), change[*k].clone()))
            .collect(),
    )
}

/// GitHub and GitLab pushes generated from a real repository (`git log`, `git show
/// --name-status`) and delivered: the changes are the repository's commits.
#[tokio::test]
async fn pushes_of_a_real_repository() {
    let repo = tempfile::tempdir().unwrap();
    let commits = made_repository(repo.path());
    assert_eq!(commits.len(), 4);
    assert_eq!(commits[2].removed, ["src/rods.c"]);
    assert_eq!(commits[0].timestamp, "2026-11-27T10:15:30+01:00");
    assert_eq!(
        commits[1].added,
        ["docs/naïve résumé.md", "docs/read me.md"]
    );
    assert_eq!(commits[1].author.0, "Märge Simpsön");
    let server = hooks_server(&scenario_dialects(1)).await;
    let person = |(name, email): &(String, String)| format!("{name} <{email}>");

    // GitHub: three commits pushed to main, then the tag (created: its head commit only).
    let first_new = last_changeid(server.dir.path()).await + 1;
    let push = github_push("refs/heads/main", &commits[..3], false);
    let answer = send_raw(&server.base, &github_signed("push", &push)).await;
    assert_eq!(
        (answer.status, answer.text()),
        (200, "3 change found".into())
    );
    let tag = github_push("refs/tags/v1.0", &commits[3..], true);
    let answer = send_raw(&server.base, &github_signed("push", &tag)).await;
    assert_eq!(
        (answer.status, answer.text()),
        (200, "1 change found".into())
    );
    let got = changes_from(&server.base, first_new, 4).await;
    for (i, (commit, change)) in commits.iter().zip(&got).enumerate() {
        let tagged = i == 3;
        let expected = json!({
            "revision": commit.id,
            "author": person(&commit.author),
            "committer": person(&commit.committer),
            "comments": commit.message.trim_end_matches('\n'),
            "files": commit.files(),
            "when_timestamp": commit.when,
            "branch": if tagged { "v1.0" } else { "main" },
            "category": if tagged { json!("tag") } else { Value::Null },
            "repository": GITHUB_REPO,
            "project": "simpsons/springfield",
            "codebase": "",
            "revlink": format!("{GITHUB_REPO}/commit/{}", commit.id),
            "properties": {"event": ["push", "Change"], "github_distinct": [true, "Change"]},
        });
        assert_eq!(change_fields(change), expected, "GitHub, commit {i}");
        assert_eq!(change["sourcestamp"]["revision"], json!(commit.id));
    }
    // One after the other on main: each change's parent is the one before.
    assert_eq!(got[1]["parent_changeids"], json!([first_new]));
    assert_eq!(got[2]["parent_changeids"], json!([first_new + 1]));

    // The same push form-encoded (`payload=`, the signature over the form body): the same
    // changes again.
    let form = format!(
        "payload={}",
        curl_urlencode(std::str::from_utf8(&push).unwrap())
    );
    let (sha1, sha256) = github_signatures(form.as_bytes(), "s3cret");
    let mut request = github_delivery("push", form.as_bytes())
        .header("X-Hub-Signature", &sha1)
        .header("X-Hub-Signature-256", &sha256);
    request.headers.retain(|(n, _)| n != "Content-Type");
    let request = request.header("Content-Type", "application/x-www-form-urlencoded");
    let answer = send_raw(&server.base, &request).await;
    assert_eq!(
        (answer.status, answer.text()),
        (200, "3 change found".into())
    );
    let again = changes_from(&server.base, first_new + 4, 3).await;
    for (first, second) in got.iter().zip(&again) {
        assert_eq!(change_fields(first), change_fields(second), "form-encoded");
    }
    // A head commit asking to skip CI: nothing.
    let mut skipped = commits[3].clone();
    skipped.message = "Release notes [skip ci]\n".into();
    let answer = send_raw(
        &server.base,
        &github_signed("push", &github_push("refs/heads/main", &[skipped], false)),
    )
    .await;
    assert_eq!(
        (answer.status, answer.text()),
        (200, "no change found".into())
    );

    // GitLab: all four pushed to main.
    let first_new = first_new + 7;
    let push = gitlab_push("push", "refs/heads/main", &commits);
    let answer = send_raw(&server.base, &gitlab_delivery("Push Hook", &push)).await;
    assert_eq!(
        (answer.status, answer.text()),
        (200, "4 change found".into())
    );
    let got = changes_from(&server.base, first_new, 4).await;
    for (i, (commit, change)) in commits.iter().zip(&got).enumerate() {
        let expected = json!({
            "revision": commit.id,
            "author": person(&commit.author),
            "committer": null,
            "comments": commit.message,
            "files": commit.files(),
            "when_timestamp": commit.when,
            "branch": "main",
            "category": "push",
            "repository": GITLAB_SSH,
            "project": "Springfield",
            "codebase": "",
            "revlink": format!("https://gitlab.example.com/simpsons/springfield/-/commit/{}", commit.id),
            "properties": {"event": ["push", "Change"]},
        });
        assert_eq!(change_fields(change), expected, "GitLab, commit {i}");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. The standalone runner's schedulers, and live events.

#[cfg(feature = "demo")]
mod standalone {
    use super::*;
    use tokio_tungstenite::tungstenite::Message;

    type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    const REASON: &str = "The AnyBranchScheduler scheduler named 'hooks' triggered this build";

    /// The next event's key on `ws` (pings and pongs skipped).
    async fn next_key(ws: &mut Ws) -> String {
        use futures_util::StreamExt;
        loop {
            let frame = tokio::time::timeout(WAIT, ws.next())
                .await
                .expect("an event in time")
                .expect("the websocket open")
                .unwrap();
            if let Message::Text(text) = frame {
                let message: Value = serde_json::from_str(text.as_str()).unwrap();
                if let Some(key) = message["k"].as_str() {
                    return key.to_owned();
                }
            }
        }
    }

    async fn buildsets(site: &crate::control::Site) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM buildsets")
            .fetch_one(&site.pool)
            .await
            .unwrap()
    }

    /// Delivers a signed push of one commit on `branch`; the new change's id.
    async fn push(site: &crate::control::Site, n: usize, branch: &str) -> i64 {
        let body = github_push(
            &format!("refs/heads/{branch}"),
            &[Commit::synthetic(n, 1_795_800_000)],
            false,
        );
        let answer = send_raw(&site.server.base, &github_signed("push", &body)).await;
        assert_eq!(
            (answer.status, answer.text()),
            (200, "1 change found".into())
        );
        sqlx::query_scalar("SELECT MAX(changeid) FROM changes")
            .fetch_one(&site.pool)
            .await
            .unwrap()
    }

    /// A delivered push that the `[[schedulers]]` filter passes adds the scheduler's buildset
    /// for the change's sourcestamp and the runner starts its build; one the filter rejects,
    /// or one arriving while the scheduler is disabled, starts nothing. A `/ws` client
    /// following `changes/*/*` hears of each change.
    #[tokio::test]
    async fn schedulers_start_builds_for_delivered_pushes() {
        let config = common::MasterToml::reference()
            .www_toml(&format!(
                "{}\n[[schedulers]]\nname = \"hooks\"\ntype = \"AnyBranchScheduler\"\n\
                 builder_names = [\"docs\"]\n\
                 change_filter = {{ project = \"simpsons/springfield\", branch_re = \"main$|feature/\" }}\n",
                scenario_dialects(1)
            ))
            .text();
        let mut site = crate::control::site_with(&config, true).await;
        let url = format!("{}/ws", site.server.base.replacen("http://", "ws://", 1));
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        {
            use futures_util::SinkExt;
            ws.send(Message::Text(
                r#"{"cmd":"startConsuming","path":"changes/*/*","_id":1}"#.into(),
            ))
            .await
            .unwrap();
        }

        // Passes the filter: a buildset, then a build.
        let before = buildsets(&site).await;
        let changeid = push(&site, 501, "main").await;
        assert_eq!(next_key(&mut ws).await, format!("changes/{changeid}/new"));
        assert_eq!(buildsets(&site).await, before + 1);
        let change = &site.get(&format!("changes/{changeid}")).await["changes"][0];
        let ssid = change["sourcestamp"]["ssid"].clone();
        let sets = site.get("buildsets?order=-bsid&limit=1").await;
        let buildset = &sets["buildsets"][0];
        assert_eq!(buildset["reason"], REASON);
        assert_eq!(buildset["sourcestamps"][0]["ssid"], ssid);
        assert_eq!(buildset["sourcestamps"][0]["revision"], change["revision"]);
        let bsid = buildset["bsid"].as_i64().unwrap();
        let props = site.get(&format!("buildsets/{bsid}/properties")).await;
        assert_eq!(
            props["properties"][0]["scheduler"],
            json!(["hooks", "Scheduler"])
        );
        let requests = site.get(&format!("buildrequests?buildsetid={bsid}")).await;
        let request = &requests["buildrequests"][0];
        assert_eq!(requests["buildrequests"].as_array().unwrap().len(), 1);
        let docs = site.get("builders?name=docs").await["builders"][0]["builderid"].clone();
        assert_eq!(request["builderid"], docs);
        let brid = request["buildrequestid"].as_i64().unwrap();
        site.tick().await;
        let builds = site.get(&format!("buildrequests/{brid}/builds")).await;
        assert_eq!(builds["meta"]["total"], 1, "the runner started its build");
        assert_eq!(builds["builds"][0]["builderid"], docs);

        // Rejected by the filter (branch): the change, no buildset.
        let before = buildsets(&site).await;
        let changeid = push(&site, 502, "wip/x").await;
        assert_eq!(next_key(&mut ws).await, format!("changes/{changeid}/new"));
        assert_eq!(buildsets(&site).await, before, "the filter rejects wip/x");

        // Disabled through JSON-RPC: nothing; enabled again: a buildset.
        let schedulers = site.get("schedulers?name=hooks").await;
        let id = schedulers["schedulers"][0]["schedulerid"].as_i64().unwrap();
        let path = format!("schedulers/{id}");
        let (status, body) = site
            .rpc(&path, None, "enable", json!({"enabled": false}))
            .await;
        assert_eq!(status, 200, "{body}");
        push(&site, 503, "feature/a").await;
        assert_eq!(
            buildsets(&site).await,
            before,
            "a disabled scheduler starts nothing"
        );
        let (status, _) = site
            .rpc(&path, None, "enable", json!({"enabled": true}))
            .await;
        assert_eq!(status, 200);
        push(&site, 504, "feature/b").await;
        assert_eq!(buildsets(&site).await, before + 1);
        // Disabled in the database (as a master or another tool writes it).
        sqlx::query("UPDATE schedulers SET enabled = 0 WHERE id = $1")
            .bind(id)
            .execute(&site.pool)
            .await
            .unwrap();
        push(&site, 505, "main").await;
        assert_eq!(buildsets(&site).await, before + 1);
    }
}

/// GitHub's largest push (2,048 commits, about 1.4 MB): every commit a change, in one answer.
#[tokio::test]
async fn the_largest_github_push() {
    let server = hooks_server(&scenario_dialects(1)).await;
    let first_new = last_changeid(server.dir.path()).await + 1;
    let commits: Vec<Commit> = (0..2048)
        .map(|n| Commit::synthetic(10_000 + n, 1_795_800_000 + n as i64))
        .collect();
    let push = github_push("refs/heads/main", &commits, false);
    assert!(push.len() > 1 << 20);
    let started = std::time::Instant::now();
    let answer = send_raw(&server.base, &github_signed("push", &push)).await;
    assert_eq!(
        (answer.status, answer.text()),
        (200, "2048 change found".into())
    );
    eprintln!("2,048 changes delivered in {:?}", started.elapsed());
    assert_eq!(last_changeid(server.dir.path()).await, first_new + 2047);
    let last = get_json(
        &server.base,
        &format!("/api/v2/changes/{}", first_new + 2047),
    )
    .await;
    assert_eq!(
        last["changes"][0]["revision"],
        json!(commits[2047].id),
        "in payload order"
    );
}

/// What a delivery left in the database: nothing, or one change with these `comments` and
/// `files`.
#[derive(Debug)]
enum Wrote {
    Nothing,
    Change(&'static str, &'static [&'static str]),
}

/// Deliveries outside scenario 7's recordings, each answered as Buildbot 4.3.0 answered the
/// same request (its master from `fixtures/buildbot/venv.sh`, scenario 7's dialects, asked
/// side by side with ours on 2026-12-04): methods other than GET, HEAD and POST, `base`'s
/// arguments as `BaseHookHandler` reads them, numbers Python cannot store, the GitHub API's
/// answers, and a few that already agree (kept so they stay so); JSON nesting as documented.
#[tokio::test]
async fn deliveries_beyond_the_recordings_answer_as_buildbot() {
    let stub = GithubStub::start().await;
    let server = hooks_server(&scenario_dialects(stub.port)).await;
    let pull_request = |sha: &str, number: u64| {
        let path = scenario_dir().join("payloads/github-pull_request-opened.json");
        let mut payload: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        payload["number"] = json!(number);
        payload["pull_request"]["head"]["sha"] = json!(sha);
        github_signed("pull_request", payload.to_string().as_bytes())
    };
    let form = |body: &str| {
        RawRequest::new("POST", "/change_hook/base")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let twisted_501 = |method: &str| {
        format!(
            "\n<html>\n  <head><title>501 - Huh?</title></head>\n  <body>\n    <h1>Huh?</h1>\n    \
             <p>I don't know how to treat a {method} request.</p>\n  </body>\n</html>\n"
        )
    };
    let error = "Error processing changes.";
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let ping = |body: &[u8]| github_signed("ping", body);
    let cases: Vec<(&str, RawRequest, u16, String, &str, Wrote)> = vec![
        // Twisted's Resource has render_GET and render_POST only (HEAD is a GET).
        (
            "PUT",
            RawRequest {
                method: "PUT".into(),
                ..form("comments=put")
            },
            501,
            twisted_501("PUT"),
            "text/html; charset=utf-8",
            Wrote::Nothing,
        ),
        (
            "DELETE",
            RawRequest::new("DELETE", "/change_hook/base?comments=delete"),
            501,
            twisted_501("DELETE"),
            "text/html; charset=utf-8",
            Wrote::Nothing,
        ),
        (
            "OPTIONS",
            RawRequest::new("OPTIONS", "/change_hook/base?comments=options"),
            501,
            twisted_501("OPTIONS"),
            "text/html; charset=utf-8",
            Wrote::Nothing,
        ),
        (
            "HEAD (a GET without the body)",
            RawRequest::new("HEAD", "/change_hook/base?comments=head"),
            200,
            String::new(),
            "text/html",
            Wrote::Change("head", &[]),
        ),
        // `if args.get(b'files')` tests the list of values, never empty when given.
        (
            "base, files= empty",
            form("files=&comments=fe"),
            400,
            "Expecting value: line 1 column 1 (char 0)".into(),
            "text/html",
            Wrote::Nothing,
        ),
        (
            "base, properties= empty",
            form("properties=&comments=pe"),
            400,
            "Expecting value: line 1 column 1 (char 0)".into(),
            "text/html",
            Wrote::Nothing,
        ),
        // A JSON string is iterated as its characters; a number cannot be a file name.
        (
            "base, files a JSON string",
            form("files=%22abc%22&comments=fs"),
            200,
            "1 change found".into(),
            "text/html",
            Wrote::Change("fs", &["a", "b", "c"]),
        ),
        (
            "base, files with a number",
            form("files=%5B%22a%22%2C+1%5D&comments=fm"),
            500,
            error.into(),
            "text/html",
            Wrote::Nothing,
        ),
        // float() then the database's integer.
        (
            "base, when_timestamp=1e20 (past SQLite's integers)",
            form("when_timestamp=1e20&comments=w1"),
            500,
            error.into(),
            "text/html",
            Wrote::Nothing,
        ),
        (
            "base, when_timestamp=nan",
            form("when_timestamp=nan&comments=wn"),
            400,
            "Invalid value NaN (not a number)".into(),
            "text/html",
            Wrote::Nothing,
        ),
        (
            "base, when_timestamp=inf",
            form("when_timestamp=inf&comments=wi"),
            500,
            error.into(),
            "text/html",
            Wrote::Nothing,
        ),
        // Arguments are bytes decoded as UTF-8 (bytes2unicode).
        (
            "base, an argument not UTF-8",
            RawRequest::new("POST", "/change_hook/base?author=%FF&comments=ff"),
            400,
            "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte".into(),
            "text/html",
            Wrote::Nothing,
        ),
        // Twisted parses a multipart/form-data body into request.args too.
        (
            "base, multipart/form-data",
            RawRequest::new("POST", "/change_hook/base")
                .header("Content-Type", "multipart/form-data; boundary=XX")
                .body(
                    "--XX\r\nContent-Disposition: form-data; name=\"comments\"\r\n\r\nmp\r\n--XX--\r\n",
                ),
            200,
            "1 change found".into(),
            "text/html",
            Wrote::Change("mp", &[]),
        ),
        // JSON nesting stops at 128 levels (docs/change-hooks.md, "Differences from Buildbot")
        // where Buildbot reaches Python's recursion limit; past it, the answers are Buildbot's
        // to a RecursionError: GitHub's hook a 500, GitLab's (which catches every error) a 400.
        (
            "GitHub, JSON nested 128 deep",
            ping(nested(128).as_bytes()),
            200,
            "no change found".into(),
            "text/html",
            Wrote::Nothing,
        ),
        (
            "GitHub, JSON nested 129 deep",
            ping(nested(129).as_bytes()),
            500,
            error.into(),
            "text/html",
            Wrote::Nothing,
        ),
        (
            "GitLab, JSON nested 100,000 deep",
            RawRequest {
                headers: vec![("X-Gitlab-Token".into(), "tok".into())],
                ..gitlab_delivery("Push Hook", nested(100_000).as_bytes())
            },
            400,
            "Error loading JSON: maximum recursion depth exceeded while decoding a JSON array \
             from a unicode string"
                .into(),
            "text/html",
            Wrote::Nothing,
        ),
        // The GitHub API's answer is read with json.loads: a ValueError when it is not JSON.
        (
            "GitHub, the API's commit not JSON",
            pull_request("badbadbadbadbadbadbadbadbadbadbadbadbadb", 7),
            400,
            "Expecting value: line 1 column 1 (char 0)".into(),
            "text/html",
            Wrote::Nothing,
        ),
        (
            "GitHub, the API's pull request files not JSON",
            pull_request("3333333333333333333333333333333333333333", 99),
            400,
            "Expecting value: line 1 column 1 (char 0)".into(),
            "text/html",
            Wrote::Nothing,
        ),
        // Already as Buildbot.
        (
            "GitHub, a BOM",
            ping(b"\xef\xbb\xbf{}"),
            400,
            "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)".into(),
            "text/html",
            Wrote::Nothing,
        ),
        (
            "GitHub, a body not UTF-8",
            ping(b"{\"zen\": \"\xff\"}"),
            400,
            "'utf-8' codec can't decode byte 0xff in position 9: invalid start byte".into(),
            "text/html",
            Wrote::Nothing,
        ),
        (
            "GitHub, NaN and 1e400 in the payload",
            ping(b"{\"zen\": NaN, \"a\": 1e400}"),
            200,
            "no change found".into(),
            "text/html",
            Wrote::Nothing,
        ),
        (
            "GitHub, Content-Type in capitals",
            RawRequest {
                headers: vec![
                    ("Content-Type".into(), "Application/JSON".into()),
                    ("X-GitHub-Event".into(), "ping".into()),
                    ("X-Hub-Signature".into(), github_signatures(b"{}", "s3cret").0),
                ],
                ..ping(b"{}")
            },
            400,
            "Unknown content type: b'Application/JSON'".into(),
            "text/html",
            Wrote::Nothing,
        ),
        (
            "GitHub, two X-Hub-Signature: the last counts",
            RawRequest {
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("X-GitHub-Event".into(), "ping".into()),
                    ("X-Hub-Signature".into(), "sha1=00".into()),
                    ("X-Hub-Signature".into(), github_signatures(b"{}", "s3cret").0),
                ],
                ..ping(b"{}")
            },
            200,
            "no change found".into(),
            "text/html",
            Wrote::Nothing,
        ),
        (
            "GitHub, a push timestamp dateutil cannot read",
            {
                let mut commit = Commit::synthetic(900, 1_795_800_000);
                commit.timestamp = "yesterday".into();
                github_signed(
                    "push",
                    &github_push("refs/heads/main", &[commit], false),
                )
            },
            400,
            "Unknown string format: yesterday".into(),
            "text/html",
            Wrote::Nothing,
        ),
    ];
    let mut failures = Vec::new();
    for (case, request, status, body, content_type, wrote) in cases {
        let before = last_changeid(server.dir.path()).await;
        let answer = send_raw(&server.base, &request).await;
        let reason = match status {
            200 => "OK".to_owned(),
            501 => "Not Implemented".to_owned(),
            _ => body.clone(),
        };
        if (
            answer.status,
            answer.reason.as_str(),
            answer.text().as_str(),
        ) != (status, reason.as_str(), body.as_str())
            || answer.header("content-type") != Some(content_type)
        {
            failures.push(format!(
                "{case}: Buildbot answers `{status} {reason}` ({content_type}) {body:?}, we answer \
                 `{} {}` ({:?}) {:?}",
                answer.status,
                answer.reason,
                answer.header("content-type"),
                answer.text()
            ));
        }
        let after = last_changeid(server.dir.path()).await;
        let got = if after == before {
            None
        } else {
            let change =
                &get_json(&server.base, &format!("/api/v2/changes/{after}")).await["changes"][0];
            Some((change["comments"].clone(), change["files"].clone()))
        };
        let expected = match &wrote {
            Wrote::Nothing => None,
            Wrote::Change(comments, files) => Some((json!(comments), json!(files))),
        };
        if after > before + 1 || got != expected {
            failures.push(format!(
                "{case}: Buildbot wrote {wrote:?}, we wrote {} change(s): {got:?}",
                after - before
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} difference(s) from Buildbot 4.3:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `change_hook_auth = ["file:..."]` reads the file and the Basic credentials as Twisted's
/// `FilePasswordDB` and Buildbot 4.3.0 do (asked side by side on 2026-12-04): the second
/// field of a line is the password, the scheme's case and extra spaces do not matter,
/// anything else is a 401.
#[tokio::test]
async fn change_hook_auth_reads_credentials_as_twisted() {
    let dir = common::reference_database_dir();
    std::fs::write(
        dir.path().join("changehook.passwd"),
        "user:pass\ncolon:pa:ss\nsp ace:p w\n",
    )
    .unwrap();
    let config = common::MasterToml::reference()
        .www_toml("change_hook_auth = [\"file:changehook.passwd\"]")
        .write(dir.path());
    let base = serve_config(&config).await;
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let cases = [
        (
            "the right password",
            format!("Basic {}", b64("user:pass")),
            200,
        ),
        ("another case", format!("Basic {}", b64("user:PASS")), 401),
        (
            "a password with a colon, whole",
            format!("Basic {}", b64("colon:pa:ss")),
            401,
        ),
        (
            "a password with a colon, its first field",
            format!("Basic {}", b64("colon:pa")),
            200,
        ),
        ("spaces", format!("Basic {}", b64("sp ace:p w")), 200),
        (
            "basic in lower case",
            format!("basic {}", b64("user:pass")),
            200,
        ),
        ("two spaces", format!("Basic  {}", b64("user:pass")), 200),
        ("not base64", "Basic ***".to_owned(), 401),
        ("no colon", format!("Basic {}", b64("user")), 401),
        ("no user", format!("Basic {}", b64(":pass")), 401),
        ("another scheme", "Bearer x".to_owned(), 401),
        (
            "a newline after",
            format!("Basic {}", b64("user:pass\n")),
            401,
        ),
        (
            "base64 without its padding",
            format!("Basic {}", b64("user:pas").trim_end_matches('=')),
            401,
        ),
    ];
    let mut failures = Vec::new();
    for (case, authorization, status) in cases {
        let request = RawRequest::new("POST", "/change_hook/base")
            .header("Authorization", &authorization)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("comments=auth");
        let answer = send_raw(&base, &request).await;
        let body = if status == 200 {
            "1 change found"
        } else {
            "Unauthorized"
        };
        if (answer.status, answer.text().as_str()) != (status, body) {
            failures.push(format!(
                "{case}: expected {status} {body:?}, got {} {:?}",
                answer.status,
                answer.text()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The delivery log page (`/change_hooks`): each delivery with its event, answer and changes,
/// the forge's text escaped; only for users who may read changes, while the hook itself stays
/// open to forges (which never log in).
#[tokio::test]
async fn the_delivery_log_shows_why_a_delivery_was_refused() {
    let www = "[www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"doh!\" }\n\
               [www.authz]\nallowRules = [{ matcher = \"AnyEndpointMatcher\", role = \"admins\" }]\n\
               roleMatchers = [{ type = \"RolesFromUsername\", roles = [\"admins\"], usernames = [\"homer\"] }]\n"
        .to_owned()
        + &scenario_dialects(1);
    let server = hooks_server(&www).await;
    let ok = send_raw(
        &server.base,
        &RawRequest::new("POST", "/change_hook/base")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("comments=logged&author=lisa"),
    )
    .await;
    assert_eq!((ok.status, ok.text()), (200, "1 change found".to_owned()));
    let refused = send_raw(
        &server.base,
        &RawRequest {
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-GitHub-Event".into(), "<script>alert(1)</script>".into()),
                ("X-GitHub-Delivery".into(), "d-42".into()),
                ("X-Hub-Signature".into(), "sha1=0000".into()),
            ],
            ..RawRequest::new("POST", "/change_hook/github").body("{}")
        },
    )
    .await;
    assert_eq!(
        (refused.status, refused.text()),
        (400, "Hash mismatch".to_owned())
    );

    let page = |cookie: Option<String>| {
        let base = server.base.clone();
        async move {
            let mut request = reqwest::Client::new().get(format!("{base}/change_hooks"));
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            let answer = request.send().await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    let (status, _) = page(None).await;
    assert_eq!(status, 403, "anonymous may not read changes here");
    let homer =
        common::session_cookie(&server, json!({"username": "homer", "email": "homer"})).await;
    let (status, html) = page(Some(homer)).await;
    assert_eq!(status, 200, "{html}");
    let changeid = last_changeid(server.dir.path()).await;
    for expected in [
        "data-dialect=\"base\"",
        "1 change found",
        &format!("<td>{changeid}</td>"),
        "data-dialect=\"github\"",
        "Hash mismatch",
        "d-42",
        "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;",
        "data-dialect=\"gitlab\"",
    ] {
        assert!(html.contains(expected), "{expected} missing: {html}");
    }
    assert!(!html.contains("<script>alert"), "{html}");
    // The menu leads there.
    assert!(
        html.contains("change_hooks\" class=\"current\" data-key=\"change_hooks\""),
        "{html}"
    );
}
