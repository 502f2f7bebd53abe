//! `cargo xtask bench api`: serve a generated database and load it with wrk.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{host_command, root, run_command};

/// The requests measured, relative to the server.
const API_REQUESTS: &[(&str, &str)] = &[
    ("builds?limit=50", "/api/v2/builds?limit=50"),
    ("builders", "/api/v2/builders"),
    ("filtered", "/api/v2/builds?results=2&builderid=7&limit=50"),
    ("ordered", "/api/v2/builds?order=-started_at&limit=50"),
];

pub(crate) fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("api") => api(db_url_arg(&args[1..])?),
        Some("plugins") => plugins(),
        Some("badges") => badges(),
        Some("ui") => ui(),
        Some("events") => events(),
        Some("views") => views(db_url_arg(&args[1..])?),
        Some("auth") => crate::bench_auth::auth(),
        Some("authz") => crate::bench_authz::authz(),
        Some("hooks") => crate::bench_hooks::hooks(),
        Some("metrics") => crate::bench_metrics::metrics(),
        Some("compare") => crate::bench_compare::compare(),
        Some("proxy") => crate::bench_proxy::proxy(),
        Some("buildbot-ui") => crate::bench_buildbot_ui::buildbot_ui(),
        Some("live-page") => crate::bench_live_page::live_page(),
        Some("postgres") => crate::bench_postgres::postgres(),
        Some("memory") => crate::bench_memory::memory().map(drop),
        _ => bail!(
            "usage: cargo xtask bench \
             api|plugins|memory|badges|ui|events|views|auth|authz|hooks|metrics|compare|proxy|\
             buildbot-ui|live-page|postgres"
        ),
    }
}

/// `--db-url URL`: the database to serve instead of a generated SQLite file (a PostgreSQL
/// database filled by `gen-data --out URL`, see docs/postgresql.md).
fn db_url_arg(args: &[String]) -> Result<Option<String>> {
    match args {
        [] => Ok(None),
        [flag, url] if flag == "--db-url" => Ok(Some(url.clone())),
        _ => bail!("usage: cargo xtask bench api|views [--db-url URL]"),
    }
}

/// What a benchmark server serves: a SQLite file or a database URL.
pub(crate) trait Database {
    /// The `[db] db_url` naming it.
    fn db_url(&self) -> String;
}

impl Database for Path {
    fn db_url(&self) -> String {
        format!("sqlite:///{}", self.display())
    }
}

impl Database for PathBuf {
    fn db_url(&self) -> String {
        self.as_path().db_url()
    }
}

impl Database for str {
    fn db_url(&self) -> String {
        self.to_owned()
    }
}

impl Database for String {
    fn db_url(&self) -> String {
        self.clone()
    }
}

pub(crate) fn ensure_wrk() -> Result<PathBuf> {
    if let Ok(path) = which("wrk") {
        return Ok(path);
    }
    println!("xtask: installing wrk (Debian package)");
    let _ = Command::new("apt-get").args(["update", "-qq"]).status();
    run_command(Command::new("apt-get").args(["install", "-y", "-qq", "wrk"]))?;
    which("wrk")
}

fn which(name: &str) -> Result<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .with_context(|| format!("{name} not found"))
}

pub(crate) struct Server {
    child: Child,
    /// When the process was spawned (after the build).
    spawned: Instant,
}

impl Server {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path, database: &(impl Database + ?Sized), port: u16) -> Result<Server> {
    start_server_with(dir, database, port, "")
}

pub(crate) fn start_server_with(
    dir: &Path,
    database: &(impl Database + ?Sized),
    port: u16,
    www_extra: &str,
) -> Result<Server> {
    spawn_server(host_command(true)?, dir, database, port, www_extra)
}

/// Starts `command` (a server binary) serving `database` on `port` with a config in `dir`
/// (`www_extra`: more `[www]` keys), once it accepts connections.
pub(crate) fn spawn_server(
    mut command: Command,
    dir: &Path,
    database: &(impl Database + ?Sized),
    port: u16,
    www_extra: &str,
) -> Result<Server> {
    std::fs::create_dir_all(dir)?;
    let config = dir.join("master.toml");
    std::fs::write(
        &config,
        format!(
            "buildbotURL = \"http://127.0.0.1:{port}/\"\n[db]\ndb_url = {:?}\n[www]\nport = \"tcp:{port}:interface=127.0.0.1\"\nlogfileName = \"http.log\"\n{www_extra}\n",
            database.db_url()
        ),
    )?;
    let spawned = Instant::now();
    let child = command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(Server { child, spawned });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    bail!("server did not start on port {port}")
}

fn api(db_url: Option<String>) -> Result<()> {
    let wrk = ensure_wrk()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let mut report =
        String::from("| database | request | req/s | p50 | p99 |\n|---|---|---|---|---|\n");
    let databases: Vec<(&str, String)> = match db_url {
        Some(url) => vec![("given", url)],
        None => [
            ("1k builds", 1000u64, 1000u64),
            ("1M builds", 1000, 1_000_000),
        ]
        .into_iter()
        .map(|(label, builders, builds)| {
            Ok((
                label,
                generated_database(&bench_dir, builders, builds)?.db_url(),
            ))
        })
        .collect::<Result<_>>()?,
    };
    for (label, database) in databases {
        let builds = label.replace(' ', "-");
        let port = 18_010;
        let _server = start_server(&bench_dir.join(format!("serve-{builds}")), &database, port)?;
        for (name, path) in API_REQUESTS {
            let (rps, p50, p99) = json_load(&wrk, &format!("http://127.0.0.1:{port}{path}"))?;
            println!("{label:>10} {name:<16} {rps:>10} req/s  p50 {p50:>8}  p99 {p99:>8}");
            report.push_str(&format!("| {label} | `{path}` | {rps} | {p50} | {p99} |\n"));
        }
    }
    println!("\n{report}");
    std::fs::write(bench_dir.join("api.md"), report)?;
    Ok(())
}

/// The database Buildbot 4.3 wrote (`fixtures/reference`); benches serve copies of it.
pub(crate) fn reference_database() -> PathBuf {
    root().join("fixtures/reference/buildbot-4.3/state.sqlite")
}

/// `target/bench/<name>`, emptied, holding a copy of the reference database named `database`;
/// returns both paths.
pub(crate) fn fresh_bench_dir(name: &str, database: &str) -> Result<(PathBuf, PathBuf)> {
    let bench_dir = root().join("target/bench").join(name);
    let _ = std::fs::remove_dir_all(&bench_dir);
    std::fs::create_dir_all(&bench_dir)?;
    let copy = bench_dir.join(database);
    std::fs::copy(reference_database(), &copy)?;
    Ok((bench_dir, copy))
}

/// `target/bench/api-<builders>x<builds>.sqlite`, generated by `gen-data` (release build) unless
/// it exists.
pub(crate) fn generated_database(bench_dir: &Path, builders: u64, builds: u64) -> Result<PathBuf> {
    let database = bench_dir.join(format!("api-{builders}x{builds}.sqlite"));
    if !database.exists() {
        let started = Instant::now();
        let mut gen = host_command(true)?;
        gen.args([
            "gen-data",
            "--builders",
            &builders.to_string(),
            "--builds",
            &builds.to_string(),
            "--out",
        ])
        .arg(&database);
        run_command(&mut gen)?;
        println!(
            "xtask: generated {} in {:.1?}",
            database.display(),
            started.elapsed()
        );
    } else {
        // A file generated before an index was added to the schema gets it now, as an
        // operator would add it: every `bbwww_` index of host/src/db/schema.sql.
        let schema = std::fs::read_to_string(root().join("host/src/db/schema.sql"))?;
        let indexes: String = schema
            .lines()
            .filter(|l| l.starts_with("CREATE INDEX IF NOT EXISTS bbwww_"))
            .collect::<Vec<_>>()
            .join("\n");
        run_command(Command::new(sqlite3()?).arg(&database).arg(indexes))?;
    }
    Ok(database)
}

/// wrk's standard run here (2 threads, 8 connections, 10 s, `Accept: application/json`) on
/// `url`: requests per second, p50 and p99 latency.
pub(crate) fn json_load(wrk: &Path, url: &str) -> Result<(String, String, String)> {
    let output = Command::new(wrk)
        .args([
            "-t2",
            "-c8",
            "-d10s",
            "--latency",
            "-H",
            "Accept: application/json",
        ])
        .arg(url)
        .output()?;
    Ok(parse_wrk(&String::from_utf8_lossy(&output.stdout)))
}

pub(crate) fn parse_wrk(text: &str) -> (String, String, String) {
    let find = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
            .unwrap_or_else(|| "?".into())
    };
    (find("Requests/sec:"), find("50%"), find("99%"))
}

/// One HTTP/1.0 GET on loopback; the status code, or `None` when nothing answers yet.
pub(crate) fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .ok()?;
    let mut head = Vec::new();
    stream.read_to_end(&mut head).ok()?;
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace().nth(1)?.parse().ok()
}

fn rss_kib(pid: u32) -> Result<u64> {
    status_kib(pid, "VmRSS")
}

/// A `/proc/PID/status` size field (`VmRSS`, `VmHWM`: the peak RSS), in KiB.
fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {field} in /proc/PID/status"))
}

/// `cargo xtask bench plugins`: dispatch overhead in process (criterion-free timing loop in
/// `host/benches/plugins.rs`), then over HTTP with wrk, start-up time to the first plugin
/// response with a warm compile cache, idle RSS with four test plugins loaded, and the
/// resident memory with the four bundled plugins (`bench_memory`).
fn plugins() -> Result<()> {
    crate::plugins::build_test_plugins()?;
    let wrk = ensure_wrk()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let mut report = String::new();

    let output = crate::cargo()
        .args([
            "bench",
            "--quiet",
            "-p",
            "buildbot-www",
            "--bench",
            "plugins",
        ])
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        bail!("cargo bench failed");
    }
    let text = String::from_utf8_lossy(&output.stdout);
    print!("{text}");
    report.push_str("In process (`host/benches/plugins.rs`, 20,000 sequential calls):\n\n");
    for line in text.lines().filter(|l| l.contains("µs")) {
        report.push_str(&format!("- {line}\n"));
    }

    let plugins_dir = root().join("target/test-plugins");
    let www = format!(
        "plugin_dirs = [{:?}]\nplugin_cache_dir = {:?}\n[www.plugins]\nnoop = true\nhello = true\nhostile = true\nscaffolded = true\n",
        plugins_dir.display().to_string(),
        bench_dir.join("plugin-cache").display().to_string()
    );
    let database = bench_dir.join("plugins.sqlite");
    let port = 18_011;
    let serve_dir = bench_dir.join("serve-plugins");
    let first_response = |server: &Server| -> Result<Duration> {
        let deadline = server.spawned + Duration::from_secs(120);
        while Instant::now() < deadline {
            if http_status(port, "/plugins/noop/") == Some(200) {
                return Ok(server.spawned.elapsed());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        bail!("no plugin response within 120 s")
    };
    // The first start fills the compile cache; the measured ones find it warm.
    {
        let _ = std::fs::remove_dir_all(bench_dir.join("plugin-cache"));
        let server = start_server_with(&serve_dir, &database, port, &www)?;
        let cold = first_response(&server)?;
        println!("first start (cold compile cache): {cold:.1?}");
        report.push_str(&format!(
            "\nStart to first plugin response, cold compile cache (4 plugins): {} ms\n",
            cold.as_millis()
        ));
    }
    let mut warm = Vec::new();
    let mut rss = 0;
    for run in 0..5 {
        let server = start_server_with(&serve_dir, &database, port, &www)?;
        warm.push(first_response(&server)?);
        if run == 0 {
            for path in [
                "/plugins/noop/",
                "/plugins/hello/",
                "/plugins/hostile/ok",
                "/plugins/scaffolded/",
            ] {
                http_status(port, path);
            }
            std::thread::sleep(Duration::from_secs(2));
            rss = rss_kib(server.child.id())?;
            for (name, path) in [("plugin no-op", "/plugins/noop/"), ("native /api", "/api")] {
                for (conns, label) in [("1", "1 connection"), ("8", "8 connections")] {
                    let output = Command::new(&wrk)
                        .args(["-t1", "-c", conns, "-d5s", "--latency"])
                        .arg(format!("http://127.0.0.1:{port}{path}"))
                        .output()?;
                    let (rps, p50, p99) = parse_wrk(&String::from_utf8_lossy(&output.stdout));
                    println!("{name:<14} {label:<14} {rps:>10} req/s  p50 {p50:>8}  p99 {p99:>8}");
                    report.push_str(&format!(
                        "\n- HTTP, {name}, {label}: {rps} req/s, p50 {p50}, p99 {p99}"
                    ));
                }
            }
            report.push('\n');
            report.push_str(&rest_under_spinning_plugin(&wrk, port, || {
                let www = format!("{www}[www.plugin_limits.hostile]\nmax_concurrent = 300\n");
                start_server_with(&serve_dir, &database, port + 1, &www)
            })?);
        }
    }
    warm.sort();
    println!(
        "start to first plugin response, warm cache: median {:.1?} (of {warm:.1?})",
        warm[2]
    );
    println!(
        "idle RSS with 4 plugins loaded and used once: {} MiB",
        rss / 1024
    );
    report.push_str(&format!(
        "\nStart to first plugin response, warm compile cache: median {} ms of 5 (min {} ms, max {} ms)\n\nIdle RSS with 4 plugins loaded and each used once: {:.1} MiB\n",
        warm[2].as_millis(),
        warm[0].as_millis(),
        warm[4].as_millis(),
        rss as f64 / 1024.0
    ));
    report.push_str("\nWith the four bundled plugins instead (`bench memory`):\n\n");
    report.push_str(&crate::bench_memory::memory()?);
    std::fs::write(bench_dir.join("plugins.md"), &report)?;
    println!("\n{report}");
    Ok(())
}

/// REST latency (`builds?limit=10`, 4 connections) idle, then while 300 connections keep
/// requests in the hostile plugin's endless loop: with its default limits (2 calls at once on
/// this machine, the rest queued or turned away with 503 and sent again at once), and on a
/// second server (`second`, on `port + 1`) where `max_concurrent = 300`, so all 300 spin at once.
/// The machine is a VM whose speed drifts from minute to minute, so the idle and the spinning
/// figures of the second server are taken in alternating rounds and their medians compared.
fn rest_under_spinning_plugin(
    wrk: &Path,
    port: u16,
    second: impl FnOnce() -> Result<Server>,
) -> Result<String> {
    const ROUNDS: usize = 5;
    let measure = |port: u16| -> Result<(String, String, String)> {
        let output = Command::new(wrk)
            .args(["-t1", "-c4", "-d5s", "--latency"])
            .arg(format!("http://127.0.0.1:{port}/api/v2/builds?limit=10"))
            .output()?;
        Ok(parse_wrk(&String::from_utf8_lossy(&output.stdout)))
    };
    let spinning = |port: u16| -> Result<(String, String, String)> {
        let mut flood = Command::new(wrk)
            .args(["-t1", "-c300", "-d8s"])
            .arg(format!("http://127.0.0.1:{port}/plugins/hostile/loop"))
            .stdout(Stdio::null())
            .spawn()?;
        std::thread::sleep(Duration::from_secs(1));
        let busy = measure(port);
        let _ = flood.wait();
        // The last calls end at their deadline before the next round starts.
        std::thread::sleep(Duration::from_millis(1500));
        busy
    };
    let queued = spinning(port)?;
    let server = second()?;
    let deadline = server.spawned + Duration::from_secs(120);
    while http_status(port + 1, "/api/v2") != Some(200) {
        if Instant::now() > deadline {
            bail!("the second server did not answer within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut idle, mut all) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        idle.push(measure(port + 1)?);
        all.push(spinning(port + 1)?);
    }
    drop(server);
    let mut report = String::new();
    for (label, runs) in [
        ("idle", &idle),
        ("300 calls spinning at once (max_concurrent = 300)", &all),
    ] {
        let p99s: Vec<&str> = runs.iter().map(|(_, _, p99)| p99.as_str()).collect();
        let (rps, p50, p99) = median_by_p99(runs);
        println!(
            "REST builds?limit=10, {label}: median of {ROUNDS} by p99: {rps} req/s  p50 {p50}  p99 {p99} (p99s {p99s:?})"
        );
        report.push_str(&format!(
            "\n- HTTP, REST `builds?limit=10`, 4 connections, {label}, median of {ROUNDS} rounds by p99: {rps} req/s, p50 {p50}, p99 {p99} (each round's p99: {})",
            p99s.join(", ")
        ));
    }
    let (rps, p50, p99) = queued;
    println!("REST builds?limit=10, 300 connections on a spinning plugin, default limits: {rps} req/s  p50 {p50}  p99 {p99}");
    report.push_str(&format!(
        "\n- HTTP, REST `builds?limit=10`, 4 connections, 300 connections on a spinning plugin, default limits: {rps} req/s, p50 {p50}, p99 {p99}\n"
    ));
    Ok(report)
}

/// The run whose p99 is the median of `runs` (wrk's figures as printed).
fn median_by_p99(runs: &[(String, String, String)]) -> (String, String, String) {
    let mut sorted: Vec<_> = runs.to_vec();
    sorted.sort_by(|a, b| wrk_duration_us(&a.2).total_cmp(&wrk_duration_us(&b.2)));
    sorted[sorted.len() / 2].clone()
}

/// A wrk duration (`812.00us`, `1.22ms`, `1.01s`) in microseconds; NaN when unreadable.
fn wrk_duration_us(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1_000.0,
        "s" => 1_000_000.0,
        _ => f64::NAN,
    };
    number.parse::<f64>().map_or(f64::NAN, |n| n * scale)
}

/// A wrk script whose every request asks for a badge no instance has drawn yet (a new
/// `left_text` each time), so each one is rendered.
const UNCACHED_SCRIPT: &str = r#"
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/plugins/badges/builder-0001.png?left_text=build%20" .. counter)
end
"#;

/// `cargo xtask bench badges`: the badges plugin (release component from `build-plugins`)
/// against the 1,000,000-build database: SVG and PNG throughput and latency at 8 connections,
/// 304 answers, the uncached PNG render over HTTP (one connection, a new badge per request),
/// and the render alone, natively (the plugin's ignored timing test in release mode).
fn badges() -> Result<()> {
    crate::plugins::build_plugins()?;
    let wrk = ensure_wrk()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let database = generated_database(&bench_dir, 1000, 1_000_000)?;
    let www = format!(
        "plugin_dirs = [{:?}]\nplugin_cache_dir = {:?}\n[www.plugins]\nbadges = true\n",
        root().join("target/plugins").display().to_string(),
        bench_dir.join("plugin-cache").display().to_string()
    );
    let port = 18_012;
    let server = start_server_with(&bench_dir.join("serve-badges"), &database, port, &www)?;
    let base = "/plugins/badges/builder-0001";
    let deadline = server.spawned + Duration::from_secs(120);
    while http_status(port, &format!("{base}.svg")) != Some(200) {
        if Instant::now() > deadline {
            bail!("no badge within 120 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let etag = etag_of(port, &format!("{base}.svg"))?;
    let script = bench_dir.join("badges-uncached.lua");
    std::fs::write(&script, UNCACHED_SCRIPT)?;

    let mut report =
        String::from("| request | connections | req/s | p50 | p99 |\n|---|---|---|---|---|\n");
    let runs: [(&str, &str, Vec<String>); 5] = [
        (
            "SVG",
            "8",
            vec![format!("http://127.0.0.1:{port}{base}.svg")],
        ),
        (
            "PNG",
            "8",
            vec![format!("http://127.0.0.1:{port}{base}.png")],
        ),
        (
            "SVG, If-None-Match → 304",
            "8",
            vec![
                "-H".into(),
                format!("If-None-Match: {etag}"),
                format!("http://127.0.0.1:{port}{base}.svg"),
            ],
        ),
        (
            "PNG, uncached (new left_text each request)",
            "1",
            vec![
                "-s".into(),
                script.display().to_string(),
                format!("http://127.0.0.1:{port}"),
            ],
        ),
        (
            "PNG, uncached (new left_text each request)",
            "8",
            vec![
                "-s".into(),
                script.display().to_string(),
                format!("http://127.0.0.1:{port}"),
            ],
        ),
    ];
    for (label, connections, args) in runs {
        // Two threads each with their own counter would repeat badges: uncached runs use one.
        let threads = if args.iter().any(|a| a == "-s") || connections == "1" {
            "-t1"
        } else {
            "-t2"
        };
        // Warm every instance first.
        Command::new(&wrk)
            .args([threads, "-c", connections, "-d2s"])
            .args(&args)
            .output()?;
        let output = Command::new(&wrk)
            .args([threads, "-c", connections, "-d10s", "--latency"])
            .args(&args)
            .output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        if text.contains("Non-2xx") {
            let non_2xx = text.lines().find(|l| l.contains("Non-2xx")).unwrap_or("");
            if !label.contains("304") {
                bail!("{label}: {non_2xx}\n{text}");
            }
        }
        let (rps, p50, p99) = parse_wrk(&text);
        println!("{label:<45} c{connections:<2} {rps:>10} req/s  p50 {p50:>8}  p99 {p99:>8}");
        report.push_str(&format!(
            "| {label} | {connections} | {rps} | {p50} | {p99} |\n"
        ));
    }
    // The drawing alone, inside the component: the `Server-Timing` of badges drawn afresh.
    report.push_str("\nDrawing time inside the component (`Server-Timing: draw`, 300 sequential new badges each):\n\n");
    for (label, ext) in [("SVG", "svg"), ("PNG", "png")] {
        let mut times = Vec::new();
        for i in 0..300 {
            let path = format!("{base}.{ext}?left_text=timing%20{ext}%20{i}");
            times.push(draw_ms(port, &path)?);
        }
        times.sort_by(f64::total_cmp);
        let (p50, p99) = (times[times.len() / 2], times[times.len() * 99 / 100]);
        println!("{label} drawn afresh in the component: p50 {p50:.3} ms, p99 {p99:.3} ms");
        report.push_str(&format!("- {label}: p50 {p50:.3} ms, p99 {p99:.3} ms\n"));
    }
    drop(server);

    // The render alone, natively: the plugin's timing test in release mode.
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root().join("plugins"))
        .args([
            "test",
            "--quiet",
            "--release",
            "-p",
            "badges",
            "--lib",
            "--",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    report.push_str(
        "\nNative (`cargo test --release -p badges --lib -- --ignored --test-threads=1`):\n\n",
    );
    // libtest prints "test <name> ... " before a test's own output, on the same line.
    for line in text
        .lines()
        .filter_map(|l| l.find("uncached").map(|i| &l[i..]))
    {
        println!("native {line}");
        report.push_str(&format!("- {line}\n"));
    }
    println!("\n{report}");
    std::fs::write(bench_dir.join("badges.md"), &report)?;
    Ok(())
}

/// The `Server-Timing: draw;dur=<ms>` of a GET on loopback (a badge the server had to draw).
fn draw_ms(port: u16, path: &str) -> Result<f64> {
    let head = get_head(port, path)?;
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("server-timing")
                .then(|| value.trim().strip_prefix("draw;dur=")?.parse().ok())?
        })
        .with_context(|| format!("no Server-Timing in the answer to {path}:\n{head}"))
}

/// The status line and headers of a GET on loopback.
fn get_head(port: u16, path: &str) -> Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    Ok(answer.split("\r\n\r\n").next().unwrap_or("").to_owned())
}

/// The `ETag` of a GET on loopback.
fn etag_of(port: u16, path: &str) -> Result<String> {
    let head = get_head(port, path)?;
    head.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("etag"))
                .map(|(_, v)| v.trim().to_owned())
        })
        .context("no ETag in the badge's answer")
}

/// `cargo xtask bench ui`: time to first byte and full page for the builders page at 4,000
/// builders, a build of 200 steps, the first lines of the demo's 10.7 MB log.
/// The `sqlite3` shell, installed (Debian package) when missing.
/// Adds a build of 200 steps, each with a 20-line log, to builder 1 (number 900000), after
/// the database's last build: the long build page the UI benchmarks open.
pub(crate) const LONG_BUILD_SQL: &str = "
            INSERT INTO builds (id, number, builderid, buildrequestid, workerid, masterid,
                started_at, complete_at, locks_duration_s, state_string, results)
            SELECT (SELECT max(id) + 1 FROM builds), 900000, 1, (SELECT min(id) FROM buildrequests),
                (SELECT min(id) FROM workers), (SELECT min(id) FROM masters), 1700000000,
                1700003600, 0, 'build successful', 0;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
            INSERT INTO steps (id, number, name, buildid, started_at, complete_at, state_string,
                results, urls_json, hidden)
            SELECT (SELECT coalesce(max(id), 0) FROM steps) + i, i, 'step_' || i,
                (SELECT max(id) FROM builds), 1700000000 + i * 10, 1700000000 + i * 10 + 9,
                'step ' || i || ' done', i % 3 = 0, '[]', 0 FROM n;
            INSERT INTO logs (id, name, slug, stepid, complete, num_lines, type)
            SELECT (SELECT coalesce(max(id), 0) FROM logs) + s.number, 'stdio', 'stdio', s.id, 1, 20, 's'
            FROM steps s WHERE s.buildid = (SELECT max(id) FROM builds);
            INSERT INTO logchunks (logid, first_line, last_line, content, compressed)
            SELECT l.id, 0, 19, rtrim(replace(hex(zeroblob(20)), '00', 'oline of output' || char(10)), char(10)), 0
            FROM logs l JOIN steps s ON l.stepid = s.id WHERE s.buildid = (SELECT max(id) FROM builds);
        ";

pub(crate) fn sqlite3() -> Result<PathBuf> {
    if let Ok(path) = which("sqlite3") {
        return Ok(path);
    }
    let _ = Command::new("apt-get").args(["update", "-qq"]).status();
    run_command(Command::new("apt-get").args(["install", "-y", "-qq", "sqlite3"]))?;
    which("sqlite3")
}

fn ui() -> Result<()> {
    let sqlite3 = sqlite3()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let database = bench_dir.join("ui-4000x100000.sqlite");
    if !database.exists() {
        let mut command = host_command(true)?;
        run_command(command.args([
            "gen-data",
            "--builders",
            "4000",
            "--builds",
            "100000",
            "--out",
            &database.display().to_string(),
        ]))?;
        run_command(Command::new(&sqlite3).arg(&database).arg(LONG_BUILD_SQL))?;
    }
    let demo_dir = bench_dir.join("ui-demo");
    let demo_db = demo_dir.join("state.sqlite");
    if !demo_db.exists() {
        std::fs::create_dir_all(&demo_dir)?;
        let config = demo_dir.join("load.toml");
        std::fs::write(&config, "[db]\ndb_url = \"sqlite:///state.sqlite\"\n")?;
        run_command(
            host_command(true)?
                .arg("load-fixtures")
                .arg("--config")
                .arg(&config),
        )?;
    }
    let query = |db: &Path, sql: &str| -> Result<String> {
        let out = Command::new(&sqlite3).arg(db).arg(sql).output()?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let build_number = query(
        &database,
        "SELECT number FROM builds ORDER BY id DESC LIMIT 1",
    )?;
    let big_log = query(
        &demo_db,
        "SELECT id FROM logs ORDER BY num_lines DESC LIMIT 1",
    )?;

    let mut report = String::from(
        "| page | bytes | first byte p50 | first byte p90 | full p50 | full p90 |\n|---|---|---|---|---|---|\n",
    );
    let port = 8471;
    {
        let _server = start_server(&bench_dir.join("serve-ui"), &database, port)?;
        for (label, path) in [
            (
                "builders page, 4,000 builders".to_owned(),
                "/builders".to_owned(),
            ),
            (
                "builders page, tag filter".to_owned(),
                "/builders?tag=linux".to_owned(),
            ),
            (
                "build page, 200 steps".to_owned(),
                format!("/builders/1/builds/{build_number}"),
            ),
        ] {
            report.push_str(&page_timing(port, &label, &path)?);
        }
    }
    {
        let port = port + 1;
        let server = start_server(&bench_dir.join("serve-ui-demo"), &demo_db, port)?;
        report.push_str(&page_timing(
            port,
            "log viewer, first 1,000 of 150,000 lines (10.7 MB)",
            &format!("/logs/{big_log}"),
        )?);
        report.push_str(&page_timing(
            port,
            "log viewer, last lines",
            &format!("/logs/{big_log}?from=149000"),
        )?);
        report.push_str(&log_search_timing(&server, port, &big_log)?);
    }
    {
        // A builder's page with its trend charts (the last 100 builds) among 1M builds.
        let port = port + 2;
        let big = generated_database(&bench_dir, 1000, 1_000_000)?;
        let _server = start_server(&bench_dir.join("serve-ui-1m"), &big, port)?;
        report.push_str(&page_timing(
            port,
            "builder page with trends, 1M builds",
            "/builders/1",
        )?);
    }
    println!("\n{report}");
    std::fs::write(bench_dir.join("ui.md"), &report)?;
    Ok(())
}

/// Searches of the whole 10.7 MB demo log (`/logs/N?q=`): the page timings, then the peak RSS
/// growth of the server while they ran (the peak reset first through `/proc/PID/clear_refs`,
/// then `VmHWM` after the searches less `VmRSS` before).
fn log_search_timing(server: &Server, port: u16, big_log: &str) -> Result<String> {
    let pid = server.child.id();
    page_timing(port, "warm-up", &format!("/logs/{big_log}?q=warm"))?;
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")?;
    let before = rss_kib(pid)?;
    let mut lines = String::new();
    for (label, query) in [
        (
            "log search, plain text, 30 of 150,000 lines match",
            "q=slow+response",
        ),
        (
            "log search, regex ignoring case, 30 match",
            "q=warning.*server%5C.py%3A%5Cd%2B+slow&regex=1&icase=1",
        ),
        (
            "log search, no line matches (whole log read)",
            "q=no+such+text+anywhere",
        ),
        ("log search, first 1,000 of 149,970 matches", "q=PASSED"),
    ] {
        lines.push_str(&page_timing(
            port,
            label,
            &format!("/logs/{big_log}?{query}"),
        )?);
    }
    let peak = status_kib(pid, "VmHWM")?;
    let line = format!(
        "| log search peak RSS growth: {:.1} MiB (RSS {:.1} MiB before, peak {:.1} MiB during) | | | | | |\n",
        peak.saturating_sub(before) as f64 / 1024.0,
        before as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    print!("{line}");
    lines.push_str(&line);
    Ok(lines)
}

/// 3 warm-up and 20 measured sequential GETs: time to the first byte and to the last.
pub(crate) fn page_timing(port: u16, label: &str, path: &str) -> Result<String> {
    use std::io::{Read, Write};
    let mut first = Vec::new();
    let mut full = Vec::new();
    let mut bytes = 0;
    for round in 0..23 {
        let start = Instant::now();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())?;
        let mut buffer = [0u8; 65536];
        let n = stream.read(&mut buffer)?;
        let first_byte = start.elapsed();
        let head = String::from_utf8_lossy(&buffer[..n.min(20)]).to_string();
        if !head.contains(" 200 ") {
            bail!("{path}: {head}");
        }
        let mut total = n;
        loop {
            let n = stream.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            total += n;
        }
        if round >= 3 {
            first.push(first_byte);
            full.push(start.elapsed());
            bytes = total;
        }
    }
    first.sort();
    full.sort();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let line = format!(
        "| {label} | {bytes} | {} | {} | {} | {} |\n",
        ms(first[first.len() / 2]),
        ms(first[first.len() * 9 / 10]),
        ms(full[full.len() / 2]),
        ms(full[full.len() * 9 / 10]),
    );
    print!("{line}");
    Ok(line)
}

/// Runs the host's example `name` (release build) with `args`; what it prints, or an error with
/// what it printed to stderr.
pub(crate) fn run_example(name: &str, args: &[&std::ffi::OsStr]) -> Result<String> {
    let output = crate::cargo()
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "buildbot-www",
            "--example",
            name,
            "--",
        ])
        .args(args)
        .output()?;
    if !output.status.success() {
        bail!(
            "{name} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `cargo xtask bench events`: latency from a database write to a `/ws` client (median and max
/// of 20 writes), on a copy of the reference database and on a copy of the 1M-build database.
fn events() -> Result<()> {
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let reference = reference_database();
    let big = generated_database(&bench_dir, 1000, 1_000_000)?;
    let mut report = String::from("| database | event latency |\n|---|---|\n");
    for (label, source) in [("reference (41 builds)", reference), ("1M builds", big)] {
        let copy = bench_dir.join("events.sqlite");
        let remove_copy = || {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(bench_dir.join(format!("events.sqlite{suffix}")));
            }
        };
        remove_copy();
        std::fs::copy(&source, &copy)
            .with_context(|| format!("cannot copy {}", source.display()))?;
        let output = run_example("event_latency", &[copy.as_os_str(), "20".as_ref()]);
        remove_copy();
        let line = output?.trim().to_owned();
        println!("{label:>22}: {line}");
        report.push_str(&format!("| {label} | {line} |\n"));
    }
    println!("\n{report}");
    std::fs::write(bench_dir.join("events.md"), report)?;
    Ok(())
}

/// `[www]` lines enabling the bundled plugins `views` (built in `target/plugins`, compiled
/// components cached in the bench folder).
pub(crate) fn views_www(bench_dir: &Path, views: &[&str]) -> String {
    let mut www = format!(
        "plugin_dirs = [{:?}]\nplugin_cache_dir = {:?}\n[www.plugins]\n",
        root().join("target/plugins").display().to_string(),
        bench_dir.join("plugin-cache").display().to_string()
    );
    for view in views {
        www.push_str(&format!("{view} = true\n"));
    }
    www
}

/// Waits until the server on `port` has its console view loaded (plugins compile at start).
pub(crate) fn wait_for_views(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while http_status(port, "/plugins/console_view/") != Some(200) {
        if Instant::now() > deadline {
            bail!("no console view on port {port} within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// `cargo xtask bench views`: server render time of each view plugin with its default range on
/// the generated 1,000 builders × 1,000,000 builds database, alone (`/plugins/<name>/`) and in
/// the page shell (`/views/<name>/`), with the answer cache and without it.
fn views(db_url: Option<String>) -> Result<()> {
    crate::plugins::build_plugins()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let database = match db_url {
        Some(url) => url,
        None => generated_database(&bench_dir, 1000, 1_000_000)?.db_url(),
    };
    const VIEWS: [&str; 3] = ["waterfall_view", "console_view", "grid_view"];
    let port = 18_014;
    let mut report = String::from(
        "| view | bytes | first byte p50 | first byte p90 | full p50 | full p90 |\n|---|---|---|---|---|---|\n",
    );
    // With the answer cache (the default) a page rendered again before the data changed
    // reads nothing; without it every render reads the database, as the first one after a
    // change does.
    for (reads, www) in [
        ("reads cached", String::new()),
        ("no answer cache", "rest_cache_mib = 0\n".to_owned()),
    ] {
        let server = start_server_with(
            &bench_dir.join("serve-views"),
            &database,
            port,
            &format!("{www}{}", views_www(&bench_dir, &VIEWS)),
        )?;
        wait_for_views(port)?;
        for view in VIEWS {
            report.push_str(&page_timing(
                port,
                &format!("{view}, default range, {reads}"),
                &format!("/plugins/{view}/"),
            )?);
            report.push_str(&page_timing(
                port,
                &format!("{view} in the page shell, {reads}"),
                &format!("/views/{view}/"),
            )?);
        }
        drop(server);
    }
    println!("\n{report}");
    std::fs::write(bench_dir.join("views.md"), &report)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_durations_are_read_in_microseconds() {
        assert_eq!(wrk_duration_us("812.00us"), 812.0);
        assert_eq!(wrk_duration_us("1.22ms"), 1_220.0);
        assert_eq!(wrk_duration_us("1.01s"), 1_010_000.0);
        assert!(wrk_duration_us("?").is_nan());
    }

    #[test]
    fn the_median_run_is_chosen_by_p99() {
        let run = |p99: &str| ("1".to_owned(), "2".to_owned(), p99.to_owned());
        let runs = [run("3.1ms"), run("900.00us"), run("1.20ms")];
        assert_eq!(median_by_p99(&runs).2, "1.20ms");
    }
}
