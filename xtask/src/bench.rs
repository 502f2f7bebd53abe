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
        Some("api") => api(),
        Some("plugins") => plugins(),
        _ => bail!("usage: cargo xtask bench api|plugins"),
    }
}

fn ensure_wrk() -> Result<PathBuf> {
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

struct Server {
    child: Child,
    /// When the process was spawned (after the build).
    spawned: Instant,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path, database: &Path, port: u16) -> Result<Server> {
    start_server_with(dir, database, port, "")
}

fn start_server_with(dir: &Path, database: &Path, port: u16, www_extra: &str) -> Result<Server> {
    std::fs::create_dir_all(dir)?;
    let config = dir.join("master.toml");
    std::fs::write(
        &config,
        format!(
            "buildbotURL = \"http://127.0.0.1:{port}/\"\n[db]\ndb_url = \"sqlite:///{}\"\n[www]\nport = \"tcp:{port}:interface=127.0.0.1\"\nlogfileName = \"http.log\"\n{www_extra}\n",
            database.display()
        ),
    )?;
    let mut command = host_command(true)?;
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

fn api() -> Result<()> {
    let wrk = ensure_wrk()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let mut report =
        String::from("| database | request | req/s | p50 | p99 |\n|---|---|---|---|---|\n");
    for (label, builders, builds) in [
        ("1k builds", 1000u64, 1000u64),
        ("1M builds", 1000, 1_000_000),
    ] {
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
        }
        let port = 18_010;
        let _server = start_server(&bench_dir.join(format!("serve-{builds}")), &database, port)?;
        for (name, path) in API_REQUESTS {
            let output = Command::new(&wrk)
                .args([
                    "-t2",
                    "-c8",
                    "-d10s",
                    "--latency",
                    "-H",
                    "Accept: application/json",
                ])
                .arg(format!("http://127.0.0.1:{port}{path}"))
                .output()?;
            let text = String::from_utf8_lossy(&output.stdout);
            let (rps, p50, p99) = parse_wrk(&text);
            println!("{label:>10} {name:<16} {rps:>10} req/s  p50 {p50:>8}  p99 {p99:>8}");
            report.push_str(&format!("| {label} | `{path}` | {rps} | {p50} | {p99} |\n"));
        }
    }
    println!("\n{report}");
    std::fs::write(bench_dir.join("api.md"), report)?;
    Ok(())
}

fn parse_wrk(text: &str) -> (String, String, String) {
    let find = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
            .unwrap_or_else(|| "?".into())
    };
    (find("Requests/sec:"), find("50%"), find("99%"))
}

/// One HTTP/1.0 GET on loopback; the status code, or `None` when nothing answers yet.
fn http_status(port: u16, path: &str) -> Option<u16> {
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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// `cargo xtask bench plugins`: dispatch overhead in process (criterion-free timing loop in
/// `host/benches/plugins.rs`), then over HTTP with wrk, start-up time to the first plugin
/// response with a warm compile cache, and idle RSS with four plugins loaded.
fn plugins() -> Result<()> {
    crate::plugins::build_test_plugins()?;
    crate::plugins::scaffold_check()?;
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
    std::fs::write(bench_dir.join("plugins.md"), &report)?;
    println!("\n{report}");
    Ok(())
}
