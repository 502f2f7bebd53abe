//! `cargo xtask bench live-page`: from a database write by another process to the new build
//! showing in a page open in headless Chromium, on this server (release build): this server's
//! own builder page (which reloads its content on the websocket's events) and the same builder
//! in Buildbot's React UI served by this server (`[www.buildbot_ui]`, when the tests'
//! virtualenv holds it), which applies the events itself.
//!
//! Each write is one `sqlite3` process inserting a build of a number never used before; the
//! browser watches the page's text for that number. Both times are the machine's wall clock:
//! the write's is taken before `sqlite3` starts (so the figure includes starting it), the
//! page's when a `MutationObserver` first sees the number.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};

use crate::bench::{sqlite3, start_server_with};
use crate::webdriver::Browser;

const PORT: u16 = 18_070;
const DRIVER_PORT: u16 = 18_071;
const WRITES: u32 = 10;

pub(crate) fn live_page() -> Result<()> {
    let sqlite3 = sqlite3()?;
    let (bench_dir, database) = crate::bench::fresh_bench_dir("live-page", "state.sqlite")?;
    let buildbot_static =
        crate::buildbot::venv().and_then(|venv| crate::buildbot::ui_static_dir(&venv));
    let www = buildbot_static.as_ref().map_or(String::new(), |dir| {
        format!("[www.buildbot_ui]\nstatic_dirs = [\"{}\"]\n", dir.display())
    });
    let _server = start_server_with(&bench_dir.join("serve"), &database, PORT, &www)?;
    let browser = Browser::start(DRIVER_PORT)?;

    let mut pages = vec![("this server's builder page", "builders/1")];
    if buildbot_static.is_some() {
        pages.push(("Buildbot's UI, builder page", "#/builders/1"));
    } else {
        println!("(Buildbot's UI left out: the tests' virtualenv is not there)");
    }
    let mut report = format!(
        "A build inserted by another process (`sqlite3`) until its number shows in the page, \
         {WRITES} writes per page; reference database, release build.\n\n\
         | page | median | slowest |\n|---|---|---|\n"
    );
    let mut number = 700_000;
    for (label, path) in pages {
        browser.goto(&format!("http://127.0.0.1:{PORT}/{path}"))?;
        // Let the page settle and open its websocket.
        std::thread::sleep(Duration::from_secs(3));
        let mut times = Vec::new();
        for _ in 0..WRITES {
            number += 1;
            let sql = format!(
                "INSERT INTO builds (number, builderid, buildrequestid, workerid, masterid,
                     started_at, locks_duration_s, state_string, results)
                 SELECT {number}, 1, (SELECT min(id) FROM buildrequests),
                     (SELECT min(id) FROM workers), (SELECT min(id) FROM masters),
                     CAST(strftime('%s', 'now') AS INTEGER), 0, 'building', NULL;"
            );
            let writer = {
                let sqlite3 = sqlite3.clone();
                let database = database.clone();
                std::thread::spawn(move || -> Result<f64> {
                    // The browser's watcher is in place before the write starts.
                    std::thread::sleep(Duration::from_millis(300));
                    let at = now_ms();
                    crate::run_command(Command::new(&sqlite3).arg(&database).arg(&sql))?;
                    Ok(at)
                })
            };
            let seen = browser.run_async(&format!(
                "const done = arguments[0];
                 const seen = () => document.body.innerText.includes('{number}');
                 if (seen()) {{ done(Date.now()); }} else {{
                     const watch = new MutationObserver(() => {{
                         if (seen()) {{ watch.disconnect(); done(Date.now()); }}
                     }});
                     watch.observe(document.body,
                                   {{childList: true, subtree: true, characterData: true}});
                     setTimeout(() => {{ watch.disconnect(); done(-1); }}, 30000);
                 }}"
            ))?;
            let written = match writer.join() {
                Ok(at) => at?,
                Err(_) => bail!("the writer thread panicked"),
            };
            let Some(seen) = seen.as_f64().filter(|ms| *ms >= 0.0) else {
                bail!("{label}: build {number} never showed");
            };
            times.push(seen - written);
        }
        times.sort_by(f64::total_cmp);
        let line = format!(
            "| {label} | {:.0} ms | {:.0} ms |\n",
            times[times.len() / 2],
            times[times.len() - 1]
        );
        print!("{line}");
        report.push_str(&line);
    }
    println!("\n{report}");
    std::fs::write(bench_dir.join("report.md"), &report)?;
    Ok(())
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
