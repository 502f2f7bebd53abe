//! `cargo xtask bench proxy`: `builds?limit=50` on the 1M-build database, directly and through
//! nginx (Debian's package, the deployment docs' configuration) over plain HTTP and over TLS,
//! with the same load generator; prints the three side by side.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::bench::{ensure_wrk, generated_database, http_status, json_load, start_server_with};
use crate::{root, run_command};

const PATH: &str = "/api/v2/builds?limit=50";

/// nginx, ended when dropped.
pub(crate) struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-QUIT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

pub(crate) fn ensure_nginx() -> Result<()> {
    if Path::new("/usr/sbin/nginx").is_file() {
        return Ok(());
    }
    println!("xtask: installing nginx (Debian package)");
    let _ = Command::new("apt-get").args(["update", "-qq"]).status();
    run_command(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "nginx"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// nginx with one worker per core, proxying `http_port` and `https_port` under `/buildbot/` to
/// the servers on `backends` (round robin) with keep-alive upstream connections.
pub(crate) fn start_nginx(
    dir: &Path,
    backends: &[u16],
    http_port: u16,
    https_port: u16,
) -> Result<Nginx> {
    std::fs::create_dir_all(dir)?;
    let d = dir.display();
    if !dir.join("server.pem").exists() {
        run_command(Command::new("openssl").current_dir(dir).args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.pem",
            "-days",
            "30",
            "-subj",
            "/CN=127.0.0.1",
        ]))?;
    }
    let user = if xtask::is_root() { "user root;" } else { "" };
    let servers: String = backends
        .iter()
        .map(|port| format!("server 127.0.0.1:{port}; "))
        .collect();
    let conf = format!(
        r#"{user}
worker_processes auto;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/client_temp;
  proxy_temp_path {d}/proxy_temp;
  fastcgi_temp_path {d}/fastcgi_temp;
  uwsgi_temp_path {d}/uwsgi_temp;
  scgi_temp_path {d}/scgi_temp;
  upstream buildbot {{ {servers}keepalive 16; }}
  server {{
    listen 127.0.0.1:{http_port};
    listen 127.0.0.1:{https_port} ssl;
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    ssl_session_cache shared:SSL:10m;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header HOST $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    location /buildbot/ {{
      proxy_pass http://buildbot/;
    }}
  }}
}}
"#
    );
    std::fs::write(dir.join("nginx.conf"), conf)?;
    let child = Command::new("/usr/sbin/nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start nginx")?;
    let nginx = Nginx(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while http_status(http_port, "/buildbot/healthz") != Some(200) {
        if Instant::now() > deadline {
            bail!(
                "nginx does not answer: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(nginx)
}

pub(crate) fn proxy() -> Result<()> {
    let wrk = ensure_wrk()?;
    ensure_nginx()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let database = generated_database(&bench_dir, 1000, 1_000_000)?;
    let (backend, http_port, https_port) = (18_030, 18_031, 18_032);
    let _server = start_server_with(
        &bench_dir.join("serve-proxy"),
        &database,
        backend,
        "trusted_proxies = [\"127.0.0.1\"]",
    )?;
    let _nginx = start_nginx(&bench_dir.join("nginx"), &[backend], http_port, https_port)?;
    let mut report = String::from("| route | req/s | p50 | p99 |\n|---|---|---|---|\n");
    for (label, url) in [
        ("direct", format!("http://127.0.0.1:{backend}{PATH}")),
        (
            "nginx, HTTP",
            format!("http://127.0.0.1:{http_port}/buildbot{PATH}"),
        ),
        (
            "nginx, TLS",
            format!("https://127.0.0.1:{https_port}/buildbot{PATH}"),
        ),
    ] {
        // Warm the caches, then measure.
        let _ = Command::new(&wrk)
            .args(["-t2", "-c8", "-d2s"])
            .arg(&url)
            .output()?;
        let (rps, p50, p99) = json_load(&wrk, &url)?;
        println!("{label:>12} {rps:>10} req/s  p50 {p50:>8}  p99 {p99:>8}");
        report.push_str(&format!("| {label} | {rps} | {p50} | {p99} |\n"));
    }
    println!("\n{report}");
    std::fs::write(bench_dir.join("proxy.md"), report)?;
    Ok(())
}
