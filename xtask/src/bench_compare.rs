//! `cargo xtask bench compare`: Buildbot 4.3 (its master's web server, from the tests' cached
//! Python environment) and this server (release) on copies of the same database, answering the
//! same REST requests to the same load generator (wrk, 2 threads, 8 connections), one server at
//! a time on this machine; prints each one's throughput and latency and the ratio.

use std::process::Command;

use anyhow::{bail, Result};

use crate::bench::{ensure_wrk, parse_wrk};
use crate::root;

const OURS_PORT: u16 = 18_050;
const BUILDBOT_PORTS: (u16, u16) = (18_051, 18_052);
const SECONDS: &str = "5s";

/// The requests compared: what the UI's pages read most.
const REQUESTS: &[&str] = &[
    "/api/v2/builds?limit=50",
    "/api/v2/builders",
    "/api/v2/builds?order=-buildid&limit=50&property=*",
    "/api/v2/changes?limit=50",
    "/api/v2/builds/10/steps",
    "/api/v2/workers",
    "/api/v2/buildrequests?complete=false",
];

/// One server's answers to every request: (req/s, p50, p99).
type Round = Vec<(String, String, String)>;

pub(crate) fn compare() -> Result<()> {
    let wrk = ensure_wrk()?;
    let venv = crate::buildbot::required_venv()?;
    let bench_dir = root().join("target/bench/compare");
    let _ = std::fs::remove_dir_all(&bench_dir);
    std::fs::create_dir_all(&bench_dir)?;
    let database = crate::bench::reference_database();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let (ours, buildbot) = crate::buildbot::side_by_side(
        &venv,
        &bench_dir,
        &database,
        OURS_PORT,
        BUILDBOT_PORTS,
        "",
        |port| round(&wrk, port),
    )?;

    let mut report = format!(
        "The reference database (41 builds), each server alone on the machine, wrk -t2 -c8 \
         -d{SECONDS} per request after a 1 s warm-up; load average before: {}.\n\n\
         | request | buildbot-www req/s | p50 | p99 | Buildbot 4.3 req/s | p50 | p99 | ratio |\n\
         |---|---|---|---|---|---|---|---|\n",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for ((path, (rps, p50, p99)), (b_rps, b_p50, b_p99)) in REQUESTS.iter().zip(ours).zip(buildbot)
    {
        let ratio = match (rps.parse::<f64>(), b_rps.parse::<f64>()) {
            (Ok(a), Ok(b)) if b > 0.0 => format!("{:.0}×", a / b),
            _ => "?".into(),
        };
        report.push_str(&format!(
            "| `{path}` | {rps} | {p50} | {p99} | {b_rps} | {b_p50} | {b_p99} | {ratio} |\n"
        ));
    }
    println!("\n{report}");
    std::fs::write(root().join("target/bench/compare.md"), report)?;
    Ok(())
}

/// Every request against the server on `port`: a warm-up, then the measure.
fn round(wrk: &std::path::Path, port: u16) -> Result<Round> {
    let mut out = Vec::new();
    for path in REQUESTS {
        let url = format!("http://127.0.0.1:{port}{path}");
        let run = |seconds: &str| {
            Command::new(wrk)
                .args(["-t2", "-c8", "-d", seconds, "--latency"])
                .args(["-H", "Accept: application/json"])
                .arg(&url)
                .output()
        };
        run("1s")?;
        let output = run(SECONDS)?;
        let text = String::from_utf8_lossy(&output.stdout);
        if text.contains("Non-2xx") {
            bail!("{url}: answers that are not 2xx:\n{text}");
        }
        let measured = parse_wrk(&text);
        println!(
            "{port} {path:<55} {:>10} req/s  p50 {:>8}  p99 {:>8}",
            measured.0, measured.1, measured.2
        );
        out.push(measured);
    }
    Ok(out)
}
