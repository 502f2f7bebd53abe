//! `cargo xtask bench memory` (also run by `bench plugins`): the server's resident memory with
//! the four bundled plugins enabled, as an operator runs it (release build, warm compile cache,
//! the reference database): at start, and after each plugin has served once (an SVG and a PNG
//! badge, the three views). Each figure is the median of several starts; with it, where the
//! memory is, read from `/proc/PID/smaps`: the server's own code and read-only data, the
//! plugins' compiled code (mapped from the compile cache), anonymous memory (the heap, thread
//! stacks, the plugins' linear memories) and the shared libraries.
//!
//! Code pages are mapped from files and shared: the kernel maps the 64 KiB around each page
//! touched when those pages are in its page cache, or the whole folio when the page cache holds
//! the file in large folios (Linux 6.18), so what is resident there is what the process touched
//! rounded up to those windows; anonymous memory is what the process alone holds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::bench::{http_status, spawn_server};
use crate::root;

const PORT: u16 = 18_090;
const STARTS: usize = 5;
/// What each plugin serves once: both badge formats and every view.
const FIRST_REQUESTS: &[&str] = &[
    "/plugins/badges/runtests.svg",
    "/plugins/badges/runtests.png",
    "/plugins/waterfall_view/",
    "/plugins/console_view/",
    "/plugins/grid_view/",
];

/// Resident KiB of one process, by where the pages come from.
#[derive(Debug, Default, Clone)]
struct Resident {
    total: u64,
    parts: BTreeMap<&'static str, u64>,
}

/// Runs the measurement and returns its report (Markdown).
pub(crate) fn memory() -> Result<String> {
    crate::plugins::build_plugins()?;
    let (bench_dir, database) = crate::bench::fresh_bench_dir("memory", "state.sqlite")?;
    let www = crate::bench::views_www(
        &bench_dir,
        &["badges", "waterfall_view", "console_view", "grid_view"],
    );
    let serve_dir = bench_dir.join("serve");
    // The first start fills the compile cache; the measured ones find it warm.
    // Built once: the binary measured, and the one whose layout is checked below.
    let binary = crate::host_binary(true)?;
    let start = || {
        spawn_server(
            crate::server_command(&binary),
            &serve_dir,
            &database,
            PORT,
            &www,
        )
    };
    drop(ready(start()?)?);
    let mut at_start = Vec::new();
    let mut after = Vec::new();
    for _ in 0..STARTS {
        let server = ready(start()?)?;
        std::thread::sleep(Duration::from_secs(2));
        at_start.push(resident(server.pid())?);
        for path in FIRST_REQUESTS {
            if http_status(PORT, path) != Some(200) {
                bail!("{path} did not answer 200");
            }
        }
        std::thread::sleep(Duration::from_secs(2));
        after.push(resident(server.pid())?);
    }
    let mut report = report(&median(at_start), &median(after));
    if let Some(warning) = crate::hot_text::stale_warning(&binary) {
        report.push_str(&format!("\n{warning}\n"));
    }
    println!("{report}");
    std::fs::write(root().join("target/bench/memory.md"), &report)?;
    Ok(report)
}

/// The server once it answers (it listens once its plugins are loaded).
fn ready(server: crate::bench::Server) -> Result<crate::bench::Server> {
    let deadline = Instant::now() + Duration::from_secs(180);
    while http_status(PORT, "/api/v2/builders?limit=1") != Some(200) {
        if Instant::now() > deadline {
            bail!("the server did not answer within 180 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

/// The process's resident memory by source, from `/proc/PID/smaps`.
fn resident(pid: u32) -> Result<Resident> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps"))?;
    let mut out = Resident::default();
    let mut part = "other";
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if first.contains('-') && !first.ends_with(':') {
            let perms = fields.next().unwrap_or("");
            let name = fields.nth(3).unwrap_or("");
            part = source(name, perms);
        } else if first == "Rss:" {
            let kib: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            out.total += kib;
            *out.parts.entry(part).or_default() += kib;
        }
    }
    Ok(out)
}

/// Where a mapping's pages come from.
fn source(name: &str, perms: &str) -> &'static str {
    if name.ends_with("/buildbot-www") {
        if perms.contains('x') {
            "server code"
        } else {
            "server read-only data and relocations"
        }
    } else if name.ends_with(".cwasm") {
        "plugins' compiled code and data (compile cache)"
    } else if name.contains(".so") {
        "shared libraries"
    } else if name.is_empty() || name.starts_with('[') || name.starts_with("/memfd:") {
        "anonymous: heap, stacks, plugin memories"
    } else {
        "other"
    }
}

/// The start with the median total, as a whole (its parts add up).
fn median(mut runs: Vec<Resident>) -> Resident {
    runs.sort_by_key(|r| r.total);
    runs.swap_remove(runs.len() / 2)
}

fn report(at_start: &Resident, after: &Resident) -> String {
    let mib = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
    let mut out = format!(
        "Resident memory with the four bundled plugins (release build, warm compile cache, \
         reference database), the start with the median total of {STARTS}:\n\n\
         | | at start | after each plugin served once |\n|---|---|---|\n"
    );
    let mut parts: Vec<&str> = at_start
        .parts
        .keys()
        .chain(after.parts.keys())
        .copied()
        .collect();
    parts.sort_unstable();
    parts.dedup();
    for part in parts {
        let kib = |r: &Resident| r.parts.get(part).copied().unwrap_or(0);
        if kib(at_start) + kib(after) < 100 {
            continue;
        }
        let of = |r: &Resident| mib(kib(r));
        out.push_str(&format!(
            "| {part} | {} MiB | {} MiB |\n",
            of(at_start),
            of(after)
        ));
    }
    out.push_str(&format!(
        "| **RSS** | **{} MiB** | **{} MiB** |\n",
        mib(at_start.total),
        mib(after.total)
    ));
    out
}
