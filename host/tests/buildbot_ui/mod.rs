//! Buildbot 4.3's own React UI (the pip packages `buildbot-www` and the waterfall, console and
//! grid views, from the tests' Python environment) served by this server through
//! `[www.buildbot_ui]`, in a real headless Chromium: every page shows the same text as the same
//! UI showed against a real Buildbot 4.3 master on the same database (recorded once into
//! `fixtures/buildbot-ui/`, see its README), a login through the UI's own controls, and a build
//! forced from the UI whose progress shows without a reload.
//!
//! Without the Python environment (the package registry cannot be reached) the tests are
//! skipped unless `BUILDBOT_WWW_REQUIRE_BUILDBOT` is set; without chromedriver, unless
//! `BUILDBOT_WWW_REQUIRE_BROWSER` is set. Recording (`record_from_real_buildbot`) and the
//! timings (`time_to_show_against_real_buildbot`) run only on demand (`--ignored`).

mod reference;
mod walker;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;
use crate::ui::Browser;
use walker::{Walker, PAGES};

/// Pages (file stems) whose text still differs from real Buildbot's, each with the reason: the
/// server work that will make them equal. The comparison fails for a page listed here that has
/// become equal, so the list only shrinks.
const STILL_DIFFERENT: &[(&str, &str)] = &[];

/// `fixtures/buildbot-ui`: the recorded texts and database.
fn recordings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/buildbot-ui")
}

/// The `static` folders of the UI's packages in the Python environment: the base UI first,
/// then the three views.
fn static_dirs(venv: &Path) -> Vec<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .map(|e| e.unwrap().path().join("site-packages"))
        .find(|p| p.join("buildbot_www").is_dir())
        .unwrap_or_else(|| panic!("no buildbot_www under {}/lib", venv.display()));
    [
        "buildbot_www",
        "buildbot_waterfall_view",
        "buildbot_console_view",
        "buildbot_grid_view",
    ]
    .iter()
    .map(|package| lib.join(package).join("static"))
    .collect()
}

/// The browser for these tests: UTC (`ui::Browser`) and American English, as recorded.
async fn browser() -> Option<Browser> {
    Browser::start_with(&["--lang=en-US"]).await
}

/// This server's config for Buildbot's UI on `state.sqlite` next to it at `base`
/// (`http://127.0.0.1:PORT`): the reference master's, its UI from `venv`, the three views
/// (Buildbot's, not this server's plugins), no avatars, and `www` TOML added.
fn our_config(venv: &Path, base: &str, www: &str) -> common::MasterToml {
    let port = base.rsplit(':').next().unwrap();
    let dirs: toml_edit::Array = static_dirs(venv)
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    common::MasterToml::reference()
        .set(&["buildbotURL"], format!("{base}/"))
        .set(&["www", "port"], format!("tcp:{port}:interface=127.0.0.1"))
        .set(&["www", "avatar_methods"], toml_edit::Array::new())
        .remove(&["www", "plugins", "badges"])
        .set(&["www", "buildbot_ui", "static_dirs"], dirs)
        .www_toml(www)
}

/// This server in-process on a copy of the recorded database, as [`our_config`] sets it up.
struct OurSite {
    base: String,
    _dir: tempfile::TempDir,
}

async fn our_site(venv: &Path, www: &str) -> OurSite {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        recordings_dir().join("state.sqlite"),
        dir.path().join("state.sqlite"),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let path = our_config(venv, &base, www).write(dir.path());
    // The views are Buildbot's JavaScript plugins here: this server's wasm plugins of the same
    // names are not loaded.
    let state = common::state_without_plugins(&path).await;
    common::serve_state_on(listener, state);
    OurSite { base, _dir: dir }
}

/// Every page and tab of Buildbot's UI on this server shows the text recorded against real
/// Buildbot 4.3, except the pages listed in [`STILL_DIFFERENT`], which must still differ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_shows_what_real_buildbot_shows() {
    let Some(venv) = common::buildbot::venv() else {
        return;
    };
    let Some(browser) = browser().await else {
        return;
    };
    let site = our_site(&venv, "").await;
    let walker = Walker::new(&browser, &format!("{}/", site.base)).await;
    let texts = walker.walk().await;
    browser.quit().await;
    let mut failures = Vec::new();
    let mut still_different = Vec::new();
    for (name, text) in &texts {
        let path = recordings_dir().join(format!("{name}.txt"));
        let recorded = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (record it: see its README)", path.display()));
        // Normalized again: the rules may have grown since it was recorded.
        let recorded = walker::normalize(&recorded);
        let listed = STILL_DIFFERENT.iter().find(|(page, _)| page == name);
        match (recorded == *text, listed) {
            (true, None) => {}
            (false, Some((_, reason))) => still_different.push(format!(
                "{name} ({reason}):\n{}",
                walker::diff(&recorded, text)
            )),
            (true, Some(_)) => failures.push(format!(
                "{name} now shows what Buildbot shows: remove it from STILL_DIFFERENT"
            )),
            (false, None) => failures.push(format!(
                "{name} differs from {} (- recorded, + ours):\n{}",
                path.display(),
                walker::diff(&recorded, text)
            )),
        }
    }
    for text in &still_different {
        eprintln!("still different, as listed: {text}");
    }
    assert_eq!(
        texts.len(),
        PAGES.iter().map(|p| 1 + p.tabs.len()).sum::<usize>()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Records `fixtures/buildbot-ui/` from a real Buildbot 4.3 master on a copy of the reference
/// database: each page's text, and the database as the master left it while it showed them.
/// On demand only: `BUILDBOT_WWW_RECORD_UI=1 cargo test -p buildbot-www --test www
/// buildbot_ui::record_from_real_buildbot -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "records fixtures/buildbot-ui from a real Buildbot master: on demand only"]
async fn record_from_real_buildbot() {
    if std::env::var_os("BUILDBOT_WWW_RECORD_UI").is_none() {
        eprintln!("skipped: set BUILDBOT_WWW_RECORD_UI=1 to record fixtures/buildbot-ui");
        return;
    }
    let venv = common::buildbot::venv().expect("the Python environment, to record");
    let browser = browser().await.expect("chromedriver, to record");
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("state.sqlite");
    std::fs::copy(common::reference_dir().join("state.sqlite"), &database).unwrap();
    let master = reference::RealMaster::start(&venv, dir.path(), &database).await;
    let walker = Walker::new(&browser, &master.base).await;
    let texts = walker.walk().await;
    browser.quit().await;
    let out = recordings_dir();
    std::fs::create_dir_all(&out).unwrap();
    // The database as the master showed it, before stopping it writes its end.
    reference::snapshot(&database, &out.join("state.sqlite")).await;
    drop(master);
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "txt") {
            std::fs::remove_file(path).unwrap();
        }
    }
    for (name, text) in &texts {
        std::fs::write(out.join(format!("{name}.txt")), text).unwrap();
    }
    eprintln!("recorded {} pages into {}", texts.len(), out.display());
}

/// A `buildbot-www serve --demo-activity` process (the demo runner playing the master) on a
/// copy of the recorded database, Buildbot's UI at its root, `www` TOML added; ended on drop.
struct Serving {
    base: String,
    process: common::Serving,
    _dir: tempfile::TempDir,
}

async fn serve_demo_activity(venv: &Path, www: &str) -> Serving {
    use std::os::unix::process::CommandExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        recordings_dir().join("state.sqlite"),
        dir.path().join("state.sqlite"),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{}", common::free_port());
    let config = our_config(venv, &base, www)
        // This server's plugins are not loaded: the views are Buildbot's scripts here.
        .remove(&["www", "plugins"])
        .write(dir.path());
    let process = common::Serving::start(
        Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
            .args(["serve", "--demo-activity", "--config"])
            .arg(&config)
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        &base,
    )
    .await;
    Serving {
        base,
        process,
        _dir: dir,
    }
}

const WAIT: Duration = Duration::from_secs(30);

/// A script expression: the build page's steps shown so far (the lines `<number>  <name>` of
/// the step list, number and name apart by two white-space characters) and its result once finished (`null` while it runs).
const BUILD_PROGRESS: &str = "(function () {
    var view = document.querySelector('.bb-build-view');
    var text = view ? view.innerText : '';
    var steps = text.split('\\n').filter(function (l) { return /^\\d+\\s\\s+\\S/.test(l); });
    var result = text.match(/\\b(SUCCESS|WARNINGS|FAILURE|SKIPPED|EXCEPTION|RETRY|CANCELLED)\\b/);
    return { steps: steps.length, result: result && result[1] };
})()";

/// A build forced from the builder page's own button and dialog: the UI follows it to its
/// build page, where its steps appear and it finishes, all without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_build_shows_its_progress_live() {
    let Some(venv) = common::buildbot::venv() else {
        return;
    };
    let Some(browser) = browser().await else {
        return;
    };
    let site = serve_demo_activity(&venv, "").await;
    let walker = Walker::new(&browser, &format!("{}/", site.base)).await;
    walker.open("builders/2").await;
    browser.js("window.__notReloaded = true; return 1").await;
    // The button comes with the builder's force schedulers, read after the page's rows; the
    // dialog's fields after the dialog: each is clicked once it is there.
    browser
        .wait_for(
            "the Force build button",
            "var b = Array.from(document.querySelectorAll('button'))
               .find(b => b.textContent.trim() === 'Force build');
             if (!b) return false; b.click(); return true;",
            WAIT,
        )
        .await;
    browser
        .wait_for(
            "the force dialog's Start build button",
            "var b = Array.from(document.querySelectorAll('.modal-dialog button'))
               .find(b => b.textContent.trim() === 'Start build');
             if (!b) return false; b.click(); return true;",
            WAIT,
        )
        .await;
    // The UI goes to the build request, then to the build once it has started. Where it is
    // and what the build page shows are sampled from the click on, so that a failure says
    // what the UI did and when.
    let clicked_at = Instant::now();
    let sample = format!(
        "return {{ hash: location.hash, notReloaded: window.__notReloaded === true, \
                   progress: {BUILD_PROGRESS} }}"
    );
    let on_build_page = |s: &Value| {
        let hash = s["hash"].as_str().unwrap_or_default();
        hash.strip_prefix("#/builders/2/builds/")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut history: Vec<(f64, Value)> = Vec::new();
    let mut route: Option<Value> = None;
    loop {
        let now = browser.js(&sample).await;
        let elapsed = clicked_at.elapsed().as_secs_f64();
        let changed = history.last().is_none_or(|(_, last)| *last != now);
        if changed {
            history.push((elapsed, now.clone()));
        }
        assert!(
            now["notReloaded"] == json!(true),
            "the UI reloaded the page:\n{}",
            timeline(&history)
        );
        if on_build_page(&now) {
            if route.is_none() {
                route = Some(now["hash"].clone());
                browser.screenshot("buildbot-ui-forced-build-running").await;
            }
            assert_eq!(
                now["hash"],
                route.clone().unwrap(),
                "the UI left the build page"
            );
            if !now["progress"]["result"].is_null() {
                break;
            }
        }
        assert!(
            clicked_at.elapsed() < Duration::from_secs(150),
            "the forced build did not finish on its page in time:\n{}",
            timeline(&history)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser
        .screenshot("buildbot-ui-forced-build-finished")
        .await;
    let on_page: Vec<&Value> = history
        .iter()
        .map(|(_, s)| s)
        .filter(|s| on_build_page(s))
        .collect();
    let (at_first, at_end) = (
        on_page[0]["progress"].clone(),
        on_page[on_page.len() - 1]["progress"].clone(),
    );
    let report = timeline(&history);
    eprintln!("the forced build, sampled from the click on:\n{report}");
    assert_eq!(
        at_first["result"],
        Value::Null,
        "the build page showed the build only once it had finished:\n{report}"
    );
    assert!(
        at_end["steps"].as_u64() > at_first["steps"].as_u64(),
        "no step appeared live:\n{report}"
    );
    browser.quit().await;
    drop(site.process);
}

/// Samples taken in the browser, one line each with the seconds since the first.
fn timeline(history: &[(f64, Value)]) -> String {
    history
        .iter()
        .map(|(t, s)| format!("  {t:.1} s: {s}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Opens the top bar's user menu and clicks its entry `label`.
async fn user_menu_entry(browser: &Browser, label: &str) {
    browser
        .js("document.querySelector('#bb-loginbar-dropdown').click(); return 1")
        .await;
    browser
        .wait_for(
            &format!("the {label} entry"),
            &format!(
                "var a = Array.from(document.querySelectorAll('.dropdown-menu a'))
                   .find(a => a.textContent.trim() === '{label}');
                 if (!a) return false; a.click(); return true;"
            ),
            WAIT,
        )
        .await;
}

/// The top bar's own controls: "Anonymous", then "Login" (the browser answers the server's
/// password challenge, as a person would in its dialog), the user's name shown, then "Logout"
/// and anonymous again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_in_and_out_with_the_ui_controls() {
    let Some(venv) = common::buildbot::venv() else {
        return;
    };
    let Some(browser) = browser().await else {
        return;
    };
    let site = our_site(
        &venv,
        "[www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"doh!\" }\n",
    )
    .await;
    let walker = Walker::new(&browser, &format!("{}/", site.base)).await;
    walker.open("builders").await;
    let menu = "#bb-loginbar-dropdown";
    let anonymous = browser
        .js(&format!(
            "var m = document.querySelector('{menu}'); return m && m.textContent"
        ))
        .await;
    assert_eq!(anonymous, json!("Anonymous"));
    // What the browser sends once the user has typed the password into its dialog.
    browser.cdp("Network.enable", json!({})).await;
    browser
        .cdp(
            "Network.setExtraHTTPHeaders",
            json!({"headers": {"Authorization": "Basic aG9tZXI6ZG9oIQ=="}}),
        )
        .await;
    user_menu_entry(&browser, "Login").await;
    let name = browser
        .wait_for(
            "the user in the top bar",
            &format!(
                "var m = document.querySelector('{menu}');
                 return location.hash === '#/builders' && m && m.textContent.includes('homer') && m.textContent"
            ),
            WAIT,
        )
        .await;
    browser
        .cdp("Network.setExtraHTTPHeaders", json!({"headers": {}}))
        .await;
    browser.screenshot("buildbot-ui-logged-in").await;
    eprintln!("logged in: {name}");
    user_menu_entry(&browser, "Logout").await;
    browser
        .wait_for(
            "anonymous again",
            &format!(
                "var m = document.querySelector('{menu}');
                 return m && m.textContent === 'Anonymous'"
            ),
            WAIT,
        )
        .await;
    browser.quit().await;
}

/// Clicks the button labelled `label` once it shows (the UI's top bar actions).
async fn click_button(browser: &Browser, label: &str) {
    browser
        .wait_for(
            &format!("the {label} button"),
            &format!(
                "var b = Array.from(document.querySelectorAll('button'))
                   .find(b => b.textContent.trim() === '{label}' && !b.disabled);
                 if (!b) return false; b.click(); return true;"
            ),
            WAIT,
        )
        .await;
}

/// Cancel, Stop and Rebuild from the UI's own buttons, carried out by the standalone runner,
/// which the test ticks itself so that a request stays pending until it is claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stop_and_rebuild_from_the_ui() {
    let Some(venv) = common::buildbot::venv() else {
        return;
    };
    let Some(browser) = browser().await else {
        return;
    };
    // The browser's origin is the test server's port, not buildbotURL's.
    let config = our_config(
        &venv,
        "http://127.0.0.1:8010",
        "allowed_origins = [\"http://127.0.0.1:*\"]",
    )
    .remove(&["www", "plugins"]);
    let mut site = crate::control::site_with(&config.text(), true).await;
    let walker = Walker::new(&browser, &format!("{}/", site.server.base)).await;
    let force = || {
        site.rpc(
            "forceschedulers/force-docs",
            None,
            "force",
            json!({"builderid": 1}),
        )
    };
    let request_of = |answer: (u16, Value)| {
        assert_eq!(answer.0, 200, "{}", answer.1);
        answer.1["result"][1]["1"].as_i64().expect("a request id")
    };

    // Cancel: a pending request's page.
    let pending = request_of(force().await);
    walker.open(&format!("buildrequests/{pending}")).await;
    click_button(&browser, "Cancel").await;
    let request = crate::ui_control::until(
        &site,
        "the request cancelled",
        &format!("buildrequests/{pending}"),
        |r| r["buildrequests"][0]["complete"] == json!(true),
    )
    .await;
    assert_eq!(
        request["buildrequests"][0]["results"],
        json!(6),
        "{request}"
    );

    // Stop: a running build's page.
    let running = request_of(force().await);
    site.tick().await;
    let builds = site.get(&format!("builds?buildrequestid={running}")).await;
    let number = builds["builds"][0]["number"]
        .as_i64()
        .expect("a started build");
    let buildid = builds["builds"][0]["buildid"].as_i64().unwrap();
    // A running build's page never settles (its duration ticks): the button is enough.
    browser.goto("about:blank").await;
    browser
        .goto(&format!("{}#/builders/1/builds/{number}", walker.base))
        .await;
    click_button(&browser, "Stop").await;
    let mut build = Value::Null;
    for _ in 0..50 {
        site.tick().await;
        build = site.get(&format!("builds/{buildid}")).await;
        if build["builds"][0]["complete"] == json!(true) {
            break;
        }
    }
    assert_eq!(build["builds"][0]["results"], json!(6), "{build}");

    // Rebuild: the same page, now finished, shows the button live; the UI follows the new
    // request.
    click_button(&browser, "Rebuild").await;
    let hash = browser
        .wait_for(
            "the rebuilt request's page",
            "return /^#\\/buildrequests\\/\\d+/.test(location.hash) && location.hash",
            WAIT,
        )
        .await;
    let rebuilt: i64 = hash.as_str().unwrap()["#/buildrequests/".len()..]
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rebuilt > running, "{hash}");
    let request = site.get(&format!("buildrequests/{rebuilt}")).await;
    assert_eq!(
        request["buildrequests"][0]["builderid"],
        json!(1),
        "{request}"
    );
    browser.quit().await;
}
