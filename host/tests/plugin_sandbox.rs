//! The plugin sandbox against a hostile plugin, over real HTTP: deadlines that hold while the
//! host works for the guest, bounded concurrency, memory and data caps, the response policy,
//! credentials kept from plugins, log floods and odd paths.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every log record the server writes while these tests run (one test binary, one process).
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .try_init();
        log
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serves the hostile plugin (with `limits` in its `[www.plugin_limits.hostile]`) and hello,
/// with `www_extra` in `[www]`.
async fn serve_hostile(limits: &str, www_extra: &str) -> (tempfile::TempDir, String) {
    captured_log();
    let (dir, config) = common::plugin_site(
        &[("hostile", "hostile"), ("hello", "hello")],
        &format!(
            "{www_extra}\n[www.plugins]\nhostile = true\nhello = true\n\
             [www.plugin_limits.hostile]\n{limits}\n"
        ),
    );
    let state = common::load_state(&config)
        .await
        .expect("the server starts");
    (dir, common::serve_state(state).await)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(base: &str, path: &str) -> reqwest::Response {
    client().get(format!("{base}{path}")).send().await.unwrap()
}

async fn text(base: &str, path: &str) -> (u16, String) {
    let response = get(base, path).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_bounds_time_the_host_spends_for_the_guest() {
    let (_dir, base) = serve_hostile("deadline_ms = 300", "").await;
    for route in ["/sleep?ms=60000", "/loop", "/font-flood?n=100000000"] {
        let started = Instant::now();
        let (status, body) = text(&base, &format!("/plugins/hostile{route}")).await;
        let took = started.elapsed();
        println!("{route}: {status} after {took:?}");
        if route.starts_with("/font") && status == 200 {
            continue; // a machine with few fonts may answer 100M look-ups of cached misses
        }
        assert_eq!(status, 504, "{route}: {body}");
        assert!(body.contains("did not answer within 300 ms"), "{body}");
        // The figure that matters (deadline + a few ms) is reported above; the bound here
        // only allows for a loaded CI machine.
        assert!(
            took < Duration::from_millis(300 + 1500),
            "{route} took {took:?}"
        );
        // the plugin answers the next request with a fresh instance
        assert_eq!(text(&base, "/plugins/hostile/ok").await, (200, "ok".into()));
    }
    // a short sleep is fine: the clocks work, they just cannot outlast the deadline
    assert_eq!(
        text(&base, "/plugins/hostile/sleep?ms=20").await,
        (200, "slept".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_turned_away_and_others_keep_answering() {
    let (_dir, base) =
        serve_hostile("deadline_ms = 800\nmax_concurrent = 2\nmax_queued = 3", "").await;
    let spinning: Vec<_> = (0..12)
        .map(|_| {
            let base = base.clone();
            tokio::spawn(async move {
                let response = get(&base, "/plugins/hostile/loop").await;
                let retry = response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                (response.status().as_u16(), retry)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let (rest, _) = text(&base, "/api/v2/builders").await;
    let (hello, _) = text(&base, "/plugins/hello/").await;
    println!(
        "REST and another plugin during the flood: {:?}",
        started.elapsed()
    );
    assert_eq!((rest, hello), (200, 200));
    let mut busy = 0;
    let mut timed_out = 0;
    for task in spinning {
        match task.await.unwrap() {
            (503, Some(retry)) => {
                assert_eq!(retry, "1");
                busy += 1;
            }
            (504, None) => timed_out += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    // 2 running and 3 queued at a time; the rest find the queue full
    assert!(busy >= 5, "{busy} turned away, {timed_out} timed out");
    assert!(timed_out >= 2, "{busy} turned away, {timed_out} timed out");
    assert_eq!(text(&base, "/plugins/hostile/ok").await, (200, "ok".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_spinning_calls_leave_rest_and_other_plugins_answering() {
    let (_dir, base) = serve_hostile("deadline_ms = 2000", "").await;
    let spinning: Vec<_> = (0..300)
        .map(|_| {
            let base = base.clone();
            tokio::spawn(async move { get(&base, "/plugins/hostile/loop").await.status() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut rest_times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(text(&base, "/api/v2/builds?limit=10").await.0, 200);
        rest_times.push(started.elapsed());
        assert_eq!(text(&base, "/plugins/hello/").await.0, 200);
    }
    rest_times.sort();
    println!(
        "REST while 300 calls spin: median {:?}, max {:?}",
        rest_times[rest_times.len() / 2],
        rest_times.last().unwrap()
    );
    for task in spinning {
        let status = task.await.unwrap().as_u16();
        assert!(status == 503 || status == 504, "{status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_is_capped_per_instance_and_server_wide() {
    let (_dir, base) = serve_hostile("memory_mib = 64", "plugin_memory_mib = 40").await;
    let response = get(&base, "/plugins/hostile/alloc").await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body = response.text().await.unwrap();
    assert!(body.contains("plugin_memory_mib"), "{body}");
    assert_eq!(text(&base, "/plugins/hostile/ok").await, (200, "ok".into()));
    assert_eq!(text(&base, "/plugins/hello/").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_reads_are_capped_in_number_and_bytes() {
    let (_dir, base) = serve_hostile("max_data_reads = 5", "").await;
    let (status, body) = text(&base, "/plugins/hostile/data-flood?limit=1").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("reads=5 code=429"), "{body}");
    assert!(body.contains("max_data_reads"), "{body}");

    // each read of all 41 recorded builds is tens of KiB: the byte cap ends the flood after a
    // number of reads that follows from data_mib, with the read that would pass it refused
    let (_dir, base) = serve_hostile("max_data_reads = 100000\ndata_mib = 1", "").await;
    let (status, body) = text(&base, "/plugins/hostile/data-flood?limit=1000").await;
    assert_eq!(status, 200);
    assert!(body.contains("code=413"), "{body}");
    assert!(body.contains("data_mib"), "{body}");
    let reads: usize = body["reads=".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((5..200).contains(&reads), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_answers_obey_the_response_policy() {
    let (_dir, base) = serve_hostile("response_mib = 1", "").await;
    let response = get(
        &base,
        "/plugins/hostile/headers?set-cookie=session%3Dstolen&access-control-allow-origin=*\
         &access-control-allow-credentials=true&clear-site-data=%22*%22\
         &service-worker-allowed=/&strict-transport-security=max-age%3D1\
         &content-length=1&transfer-encoding=chunked&connection=close&keep-alive=1\
         &upgrade=websocket&te=trailers&trailer=x&x-content-type-options=sniff\
         &x-plugin=kept&content-security-policy=img-src%20%27self%27",
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    for dropped in [
        "set-cookie",
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "clear-site-data",
        "service-worker-allowed",
        "strict-transport-security",
        "transfer-encoding",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
    ] {
        assert!(!headers.contains_key(dropped), "{dropped}: {headers:?}");
    }
    assert_eq!(headers["x-plugin"], "kept");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let csp: Vec<_> = headers
        .get_all("content-security-policy")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(csp.contains(&"img-src 'self'"), "{csp:?}");
    assert!(csp.iter().any(|v| v.starts_with("sandbox")), "{csp:?}");
    assert_eq!(response.text().await.unwrap(), "headers");

    for (route, status, says) in [
        ("/status?code=101", 502, "status 101 is not allowed"),
        ("/status?code=199", 502, "status 199"),
        ("/status?code=600", 502, "status 600"),
        (
            "/headers?location=https://evil.example/",
            502,
            "within the site",
        ),
        ("/headers?location=//evil.example/", 502, "within the site"),
        ("/many-headers?n=2000", 502, "headers and body"),
        ("/headers?location=../hello/", 200, "headers"),
    ] {
        let (got, body) = text(&base, &format!("/plugins/hostile{route}")).await;
        assert_eq!(got, status, "{route}: {body}");
        assert!(body.contains(says), "{route}: {body}");
    }
}

/// Two requests on one keep-alive connection: a plugin's framing headers cannot desynchronise
/// the second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_headers_cannot_split_a_keep_alive_connection() {
    let (_dir, base) = serve_hostile("", "").await;
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let first = "GET /plugins/hostile/headers?content-length=0&transfer-encoding=chunked\
                 &connection=close HTTP/1.1\r\nHost: x\r\n\r\n";
    stream.write_all(first.as_bytes()).await.unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, b"headers");
    stream
        .write_all(b"GET /plugins/hostile/ok HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, b"ok");
}

/// One HTTP/1.1 response with a `content-length` from `stream`.
async fn read_response(stream: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "connection closed"
        );
        buffer.push(byte[0]);
    }
    let head = String::from_utf8(buffer).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .expect("a content-length")
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (head, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_never_see_credentials_and_see_exact_paths() {
    let (_dir, base) = serve_hostile("", "").await;
    let response = client()
        .get(format!("{base}/plugins/hostile/echo/a%26b%3Dc+d%2Fe%3F"))
        .header("cookie", "TWISTED_SESSION=secret")
        .header("authorization", "Basic c2VjcmV0")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("remote_user", "admin")
        .header("x-visible", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let echo: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(echo["path"], "/echo/a&b=c+d/e?");
    let text = echo["headers"].to_string();
    assert!(
        !text.contains("secret") && !text.contains("c2VjcmV0"),
        "{text}"
    );
    assert!(!text.contains("admin"), "{text}");
    assert!(text.contains("x-visible"), "{text}");

    for odd in ["/echo/%00", "/echo/a%00b", "/echo/%ff"] {
        let (status, body) = self::text(&base, &format!("/plugins/hostile{odd}")).await;
        assert_eq!(status, 400, "{odd}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_logs_cannot_be_forged_or_flooded() {
    let (_dir, base) = serve_hostile("", "").await;
    let log = captured_log();
    assert_eq!(
        text(&base, "/plugins/hostile/stderr-flood?n=2000").await,
        (200, "written".into())
    );
    // the bucket refills at 20 lines a second
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        text(&base, "/plugins/hostile/log-flood?n=2000").await,
        (200, "logged".into())
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // the next line after a flood says how many were dropped
    assert_eq!(
        text(&base, "/plugins/hostile/log-flood?n=1").await,
        (200, "logged".into())
    );
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    let forged: Vec<&str> = text.lines().filter(|l| l.contains("forged")).collect();
    assert!(!forged.is_empty());
    // every record mentioning the forged text is a record of the plugin, escaped on one line
    for line in &forged {
        assert!(
            line.contains("plugin=\"hostile\"") || line.contains("plugin=hostile"),
            "{line}"
        );
        assert!(!line.starts_with("2026-12-03T00:00:00.000000Z"), "{line}");
        assert!(!line.contains('\x1b') && !line.contains('\x07') && !line.contains('\r'));
    }
    assert!(forged
        .iter()
        .any(|l| l.contains("\\n2026-12-03T00:00:00.000000Z ERROR")));
    assert!(forged.iter().any(|l| l.contains("\\u{1b}[31mred")));
    // at most a burst (100) plus what the rate refills while flooding, not 4000 lines
    assert!(forged.len() < 400, "{} forged lines logged", forged.len());
    assert!(
        text.contains("log line(s) of plugin hostile dropped"),
        "no drop count"
    );
}

/// A plugin component with three linear memories (one core module, multi-memory), built from
/// WebAssembly text against `plugin-sdk/wit/since_v0.1.0`. Its `handle` grows the second and third memories by
/// 300 pages (18.75 MiB) each and traps if either growth fails.
fn many_memories_component() -> Vec<u8> {
    let module = r#"
    (module
      (memory (export "memory") 1)
      (memory $second 0)
      (memory $third 0)
      (global $heap (mut i32) (i32.const 4096))
      (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
        (local $p i32)
        (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 15)) (i32.const -16)))
        (global.set $heap (i32.add (local.get $p) (local.get 3)))
        (block $fits
          (br_if $fits (i32.le_u (global.get $heap)
                                 (i32.mul (memory.size 0) (i32.const 65536))))
          (drop (memory.grow 0 (i32.add (i32.shr_u (global.get $heap) (i32.const 16))
                                        (i32.const 1)))))
        (local.get $p))
      (data (i32.const 16) "many_memories")
      (data (i32.const 32) "1.0.0")
      (data (i32.const 64) "grew")
      ;; manifest: name, version, description, menu, events
      (data (i32.const 128) "\10\00\00\00\0d\00\00\00\20\00\00\00\05\00\00\00"
                            "\30\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
                            "\00\00\00\00\00\00\00\00")
      ;; response: status 200, no headers, body "grew"
      (data (i32.const 256) "\c8\00\00\00\00\00\00\00\00\00\00\00\40\00\00\00\04\00\00\00")
      (func (export "manifest") (result i32) (i32.const 128))
      ;; result<_, string>: ok (the area at 192 is zeroes)
      (func (export "init") (param i32 i32) (result i32) (i32.const 192))
      (func (export "handle") (param i32) (result i32)
        (if (i32.eq (memory.grow $second (i32.const 300)) (i32.const -1)) (then unreachable))
        (if (i32.eq (memory.grow $third (i32.const 300)) (i32.const -1)) (then unreachable))
        (i32.const 256)))
    "#;
    let mut bytes = wat::parse_str(module).unwrap();
    let mut resolve = wit_parser::Resolve::default();
    let wit =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk/wit/since_v0.1.0");
    let (package, _) = resolve.push_dir(wit).unwrap();
    let world = resolve.select_world(&[package], Some("ui-plugin")).unwrap();
    wit_component::embed_component_metadata(
        &mut bytes,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&bytes)
        .unwrap()
        .encode()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_mib_caps_all_memories_of_an_instance_together() {
    // each memory alone stays under 32 MiB, together they do not; with 64 there is room
    let cases = [
        (32, 500, "exceeded its memory cap of 32 MiB"),
        (64, 200, "grew"),
    ];
    for (memory_mib, status, says) in cases {
        let (dir, config) = common::plugin_site(
            &[],
            &format!(
                "[www.plugins]\nmany_memories = true\n\
                 [www.plugin_limits.many_memories]\nmemory_mib = {memory_mib}\n"
            ),
        );
        std::fs::write(
            dir.path().join("plugins/many_memories.wasm"),
            many_memories_component(),
        )
        .unwrap();
        let base = common::serve_state(common::load_state(&config).await.unwrap()).await;
        let (got, body) = text(&base, "/plugins/many_memories/").await;
        assert_eq!(got, status, "memory_mib = {memory_mib}: {body}");
        assert!(body.contains(says), "memory_mib = {memory_mib}: {body}");
    }
}

/// A server in its own process (`serve`), so that no other test's plugin calls keep its epoch
/// ticker awake; killed when dropped.
struct ServerProcess {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve_hostile_process(limits: &str) -> ServerProcess {
    let (dir, _) = common::plugin_site(&[("hostile", "hostile")], "");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = common::MasterToml::sqlite()
        .plugin_dirs(&[std::path::Path::new("plugins")])
        .set(&["www", "port"], format!("tcp:{port}:interface=127.0.0.1"))
        .www_toml(&format!(
            "[www.plugins]\nhostile = true\n[www.plugin_limits.hostile]\n{limits}\n"
        ))
        .write(dir.path());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = ServerProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let started = Instant::now();
    loop {
        if let Ok(response) = client()
            .get(format!("{}/plugins/hostile/ok", server.base))
            .send()
            .await
        {
            assert_eq!(response.status(), 200);
            return server;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many times the process's `plugin-epoch` thread has gone to sleep so far.
#[cfg(target_os = "linux")]
fn ticker_sleeps(pid: u32) -> u64 {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if comm.trim() != "plugin-epoch" {
            continue;
        }
        let status = std::fs::read_to_string(task.join("status")).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("voluntary_ctxt_switches:"))
            .unwrap();
        return line.split_whitespace().nth(1).unwrap().parse().unwrap();
    }
    panic!("no plugin-epoch thread in process {pid}");
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_epoch_ticker_sleeps_while_no_plugin_runs_and_wakes_for_the_next_call() {
    let server = serve_hostile_process("deadline_ms = 300").await;
    let pid = server.child.id();
    // Ticking, it sleeps a thousand times a second; parked after 100 ms without a call, never.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = ticker_sleeps(pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = ticker_sleeps(pid) - before;
    assert!(
        idle < 50,
        "the ticker woke {idle} times in 500 ms with no call"
    );
    // The first call after that is still stopped at its deadline: a guest that never yields
    // is interrupted only by a ticking epoch.
    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(30),
        get(&server.base, "/plugins/hostile/loop"),
    )
    .await
    .expect("the spinning call was never stopped");
    let took = started.elapsed();
    assert_eq!(response.status(), 504, "{took:?}");
    assert!(took < Duration::from_millis(300 + 1500), "took {took:?}");
    assert!(
        ticker_sleeps(pid) - before > idle,
        "the ticker did not wake"
    );
    // and the server goes on answering
    assert_eq!(
        text(&server.base, "/plugins/hostile/ok").await,
        (200, "ok".into())
    );
}

/// The scheduling policy of each thread of process `pid` named `name` (Linux `/proc`).
#[cfg(target_os = "linux")]
fn policies(pid: u32, name: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if !comm.trim().starts_with(name) {
            continue;
        }
        let sched = std::fs::read_to_string(task.join("sched")).unwrap_or_default();
        if let Some(policy) = sched
            .lines()
            .find(|l| l.starts_with("policy"))
            .and_then(|l| l.split(':').nth(1))
        {
            found.push(policy.trim().parse().unwrap());
        }
    }
    found
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_ran_past_its_deadline_runs_on_idle_priority_threads() {
    const SCHED_OTHER: u32 = 0;
    const SCHED_IDLE: u32 = 5;
    let server = serve_hostile_process("deadline_ms = 300").await;
    let pid = server.child.id();
    // A call that waits runs on the normal plugin threads.
    assert_eq!(
        text(&server.base, "/plugins/hostile/sleep?ms=20").await,
        (200, "slept".into())
    );
    let normal = policies(pid, "plugin-call");
    assert!(!normal.is_empty(), "no plugin-call thread");
    assert!(normal.iter().all(|p| *p == SCHED_OTHER), "{normal:?}");
    assert!(
        policies(pid, "plugin-idle").is_empty(),
        "no idle threads yet"
    );
    // The first spin runs there too, until its deadline...
    assert_eq!(
        get(&server.base, "/plugins/hostile/loop").await.status(),
        504
    );
    assert!(policies(pid, "plugin-idle").is_empty());
    // ...and the plugin's next calls run at idle priority.
    assert_eq!(
        get(&server.base, "/plugins/hostile/loop").await.status(),
        504
    );
    let idle = policies(pid, "plugin-idle");
    assert!(
        !idle.is_empty(),
        "the second spin did not start the idle threads"
    );
    assert!(idle.iter().all(|p| *p == SCHED_IDLE), "{idle:?}");
    assert!(policies(pid, "plugin-call")
        .iter()
        .all(|p| *p == SCHED_OTHER));
    assert_eq!(
        text(&server.base, "/plugins/hostile/ok").await,
        (200, "ok".into())
    );
}
