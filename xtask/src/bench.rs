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
        _ => bail!("usage: cargo xtask bench api"),
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

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(dir: &Path, database: &Path, port: u16) -> Result<Server> {
    std::fs::create_dir_all(dir)?;
    let config = dir.join("master.toml");
    std::fs::write(
        &config,
        format!(
            "buildbotURL = \"http://127.0.0.1:{port}/\"\n[db]\ndb_url = \"sqlite:///{}\"\n[www]\nport = \"tcp:{port}:interface=127.0.0.1\"\nlogfileName = \"http.log\"\n",
            database.display()
        ),
    )?;
    let child = host_command(true)?
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(Server(child));
        }
        std::thread::sleep(Duration::from_millis(100));
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
