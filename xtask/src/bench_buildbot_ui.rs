//! `cargo xtask bench buildbot-ui`: how long Buildbot 4.3's own React UI takes to show the
//! builders page and a build page of 200 steps, in headless Chromium, served by this server
//! (`[www.buildbot_ui]`, release build) and by a real Buildbot 4.3 master, each alone on the
//! machine, on copies of the same database (the reference one plus the 200-step build).
//!
//! A page counts as shown when it holds as many table rows and result badges as it does once
//! settled (counted on a first, untimed load); the time is the page's `performance.now()` then,
//! from the start of its navigation.

use std::process::Command;

use anyhow::{bail, Result};

use crate::bench::{sqlite3, LONG_BUILD_SQL};
use crate::webdriver::Browser;

const OURS_PORT: u16 = 18_060;
const BUILDBOT_PORTS: (u16, u16) = (18_061, 18_062);
const DRIVER_PORT: u16 = 18_063;
const ROUNDS: usize = 7;

/// The pages timed: a label and the UI's route.
const PAGES: &[(&str, &str)] = &[
    ("builders", "#/builders"),
    ("build of 200 steps", "#/builders/1/builds/900000"),
];

/// What "shown" is counted by: table rows and result badges.
const COUNT: &str = "[document.querySelectorAll('tr, li.list-group-item').length, \
                     document.querySelectorAll('[class*=\"results_\"]').length]";

pub(crate) fn buildbot_ui() -> Result<()> {
    let venv = crate::buildbot::required_venv()?;
    let Some(static_dir) = crate::buildbot::ui_static_dir(&venv) else {
        bail!("no buildbot_www/static in {}", venv.display());
    };
    let (bench_dir, database) = crate::bench::fresh_bench_dir("buildbot-ui", "base.sqlite")?;
    crate::run_command(Command::new(sqlite3()?).arg(&database).arg(LONG_BUILD_SQL))?;

    let browser = Browser::start(DRIVER_PORT)?;
    let www = format!(
        "[www.buildbot_ui]\nstatic_dirs = [\"{}\"]\n",
        static_dir.display()
    );
    let (ours, buildbot) = crate::buildbot::side_by_side(
        &venv,
        &bench_dir,
        &database,
        OURS_PORT,
        BUILDBOT_PORTS,
        &www,
        |port| time_pages(&browser, port),
    )?;
    let mut report = format!(
        "Buildbot 4.3's UI in headless Chromium (chromedriver), the reference database plus a \
         build of 200 steps; median and slowest of {ROUNDS} loads after an untimed one, from \
         navigation start to the page holding all its rows and badges.\n\n\
         | page | buildbot-www median | slowest | Buildbot 4.3 median | slowest |\n\
         |---|---|---|---|---|\n"
    );
    for (((label, _), (m, w)), (bm, bw)) in PAGES.iter().zip(ours).zip(buildbot) {
        report.push_str(&format!(
            "| {label} | {m:.0} ms | {w:.0} ms | {bm:.0} ms | {bw:.0} ms |\n"
        ));
    }
    print!("{report}");
    std::fs::write(bench_dir.join("report.md"), &report)?;
    Ok(())
}

/// Each page's median and slowest time on the server at `port`.
fn time_pages(browser: &Browser, port: u16) -> Result<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    for (label, route) in PAGES {
        let url = format!("http://127.0.0.1:{port}/{route}");
        // The untimed load: what the settled page holds.
        load(browser, &url)?;
        let settled = browser.run_async(&format!(
            "const done = arguments[0]; setTimeout(() => done({COUNT}), 3000);"
        ))?;
        let (rows, badges) = (
            settled[0].as_u64().unwrap_or(0),
            settled[1].as_u64().unwrap_or(0),
        );
        if rows == 0 {
            bail!("{label} on port {port} shows no rows: {url}");
        }
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            load(browser, &url)?;
            let shown = browser.run_async(&format!(
                "const done = arguments[0];
                 (function wait() {{
                     const [rows, badges] = {COUNT};
                     if (rows >= {rows} && badges >= {badges}) done(performance.now());
                     else if (performance.now() > 60000) done(-1);
                     else setTimeout(wait, 2);
                 }})();"
            ))?;
            match shown.as_f64() {
                Some(ms) if ms >= 0.0 => times.push(ms),
                _ => bail!("{label} on port {port} never showed {rows} rows and {badges} badges"),
            }
        }
        times.sort_by(f64::total_cmp);
        out.push((times[times.len() / 2], times[times.len() - 1]));
    }
    Ok(out)
}

/// A fresh page load: through a blank page, so that the UI starts from nothing (no route
/// change inside an already running UI).
fn load(browser: &Browser, url: &str) -> Result<()> {
    browser.goto("about:blank")?;
    browser.goto(url)
}
