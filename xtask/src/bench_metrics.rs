//! `cargo xtask bench metrics`: what counting requests for `/metrics` costs on the request
//! path. REST throughput of `builds?limit=50` with `[www.metrics]` against the same server
//! without it (1,000 builders, 1,000 builds), wrk rounds taken in turn; then the size and time
//! of one scrape.

use std::time::Instant;

use anyhow::{bail, Result};

use crate::bench::{ensure_wrk, generated_database, start_server_with};
use crate::bench_auth::{alternate_rounds, get};
use crate::root;

const READ: &str = "/api/v2/builds?limit=50";
const OFF_PORT: u16 = 18_050;
const ON_PORT: u16 = 18_051;

pub(crate) fn metrics() -> Result<()> {
    let wrk = ensure_wrk()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let database = generated_database(&bench_dir, 1000, 1000)?;
    let _off = start_server_with(
        &bench_dir.join("serve-metrics-off"),
        &database,
        OFF_PORT,
        "",
    )?;
    let _on = start_server_with(
        &bench_dir.join("serve-metrics-on"),
        &database,
        ON_PORT,
        "[www.metrics]\n",
    )?;
    for port in [OFF_PORT, ON_PORT] {
        let (status, _) = get(port, READ, "")?;
        if status != 200 {
            bail!("{READ} on port {port} answered {status}");
        }
    }
    let rounds = alternate_rounds(&wrk, &[(OFF_PORT, None), (ON_PORT, None)], READ)?;
    let (off, on) = (&rounds[0], &rounds[1]);
    let started = Instant::now();
    let body = scrape_body(ON_PORT)?;
    let scrape_time = started.elapsed();
    if !body.contains("buildbot_www_http_requests_total{") {
        bail!("/metrics counts no request:\n{body}");
    }
    let series = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    let report = format!(
        "| `{READ}` | req/s (median of 4) | p50 | p99 |\n|---|---|---|---|\n\
         | without `[www.metrics]` | {:.0} | {} | {} |\n| with `[www.metrics]` | {:.0} | {} | {} |\n\
         \nWith metrics: {:.1} % of the throughput without.\n\
         \nOne scrape after the rounds: {} series, {} bytes, {:.1?}.\n",
        off.0,
        off.1,
        off.2,
        on.0,
        on.1,
        on.2,
        on.0 / off.0 * 100.0,
        series,
        body.len(),
        scrape_time,
    );
    println!("\n{report}");
    std::fs::write(bench_dir.join("metrics.md"), report)?;
    Ok(())
}

/// The body of `/metrics`.
fn scrape_body(port: u16) -> Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default())
}
