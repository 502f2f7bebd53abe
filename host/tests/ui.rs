//! The web UI in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven over
//! WebDriver): every page loads without console errors (screenshots in
//! `target/ui-screenshots/`), the theme sets the sidebar colour, a custom template replaces a
//! page, everything resolves behind a path prefix, a finishing build updates the builder page
//! live, the three view plugins render in the shell and show a build start and finish
//! without a reload, and the hostile `html_attack` view runs none of its payloads, live refresh
//! included. Without chromedriver these tests are skipped unless
//! `BUILDBOT_WWW_REQUIRE_BROWSER=1` (set by `cargo xtask test`, which installs the packages).

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;

/// The demo dataset in a temp dir, served at `/` and under `/buildbot/` by one server.
struct Site {
    base: String,
    pool: buildbot_www::db::Pool,
    _dir: tempfile::TempDir,
}

const THEME_COLOUR: &str = "#123456";
const OVERRIDE_MARKER: &str = "custom about page from custom_templates_dir";

async fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("state.sqlite");
    let pool = buildbot_www::db::open_file(&database).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    buildbot_www::fixtures::fill_demo(&pool, now).await.unwrap();
    let templates = dir.path().join("templates-ui");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("about.html"),
        format!(
            "{{% extends \"base.html\" %}}{{% block main %}}<p id=\"custom\">{OVERRIDE_MARKER}</p>\
             {{% for v in versions %}}<p>{{{{ v[0] }}}} {{{{ v[1] }}}}</p>{{% endfor %}}{{% endblock %}}"
        ),
    )
    .unwrap();
    let plugin_dir = common::bundled_plugins_dir(&common::VIEWS);
    let test_plugin_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-plugins");
    assert!(
        test_plugin_dir.join("html_attack.wasm").is_file(),
        "html_attack.wasm is missing: run `cargo xtask build-test-plugins`"
    );
    let mut master = common::MasterToml::sqlite()
        .set(&["title"], "UI test")
        .set(&["titleURL"], "https://example.org/")
        .set(&["www", "custom_templates_dir"], "templates-ui")
        .www_toml("versions = [[\"master.cfg\", \"0.1\"]]")
        .plugin_dirs(&[&plugin_dir, &test_plugin_dir])
        .set(
            &["www", "theme", "bb-sidebar-background-color"],
            THEME_COLOUR,
        )
        .set(
            &["www", "ui_default_config", "Builders.buildFetchLimit"],
            300,
        );
    for plugin in common::VIEWS.into_iter().chain(["html_attack"]) {
        master = master.plugin(plugin, "");
    }
    let config_path = master.write(dir.path());
    let config = buildbot_www::config::load(&config_path).expect("config loads");
    let state = buildbot_www::server::state(config).await.expect("state");
    let app = buildbot_www::server::app(state);
    // A reverse proxy under /buildbot/: the same application, prefix stripped.
    let router = axum::Router::new()
        .nest_service("/buildbot", app.clone())
        .fallback_service(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Site {
        base,
        pool,
        _dir: dir,
    }
}

/// A chromedriver process and one browser session.
pub(crate) struct Browser {
    driver: Child,
    client: fantoccini::Client,
}

impl Drop for Browser {
    /// Ends chromedriver with the browser it started (its process group), also when a test
    /// failed before closing the session.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

impl Browser {
    pub(crate) async fn start() -> Option<Browser> {
        Self::start_with(&[]).await
    }

    /// A browser started with these Chromium arguments too (`--ignore-certificate-errors`
    /// for a proxy's test certificate).
    pub(crate) async fn start_with(extra_args: &[&str]) -> Option<Browser> {
        let Some(driver) = find_program(&["chromedriver"]) else {
            assert!(
                std::env::var("BUILDBOT_WWW_REQUIRE_BROWSER").is_err(),
                "chromedriver not found: apt-get install chromium chromium-driver"
            );
            eprintln!("skipped: chromedriver not found (apt-get install chromium chromium-driver)");
            return None;
        };
        let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"])
            .expect("chromium not found next to chromedriver");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        // Dates the pages show in the browser's time zone read the same on every machine.
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .env("TZ", "UTC")
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args: Vec<&str> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ]
        .into_iter()
        .chain(extra_args.iter().copied())
        .collect();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args
            },
            "goog:loggingPrefs": {"browser": "ALL"}
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = fantoccini::ClientBuilder::new(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        )
        .capabilities(caps)
        .connect(&base)
        .await
        .unwrap_or_else(|e| panic!("no session: {e}"));
        Some(Browser {
            driver: child,
            client,
        })
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }

    pub(crate) async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Runs `script` with `arguments` set to `args`; its result.
    pub(crate) async fn js_with(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Console entries since the last call (chromedriver's log command, which WebDriver
    /// itself lacks).
    pub(crate) async fn console(&self) -> Vec<Value> {
        let answer = self
            .client
            .issue_cmd(SessionCommand {
                path: "se/log",
                body: json!({"type": "browser"}),
            })
            .await
            .unwrap_or_else(|e| panic!("browser log: {e}"));
        answer.as_array().cloned().unwrap_or_default()
    }

    /// Runs a Chrome DevTools Protocol command (chromedriver's `goog/cdp/execute`), e.g.
    /// `Page.addScriptToEvaluateOnNewDocument`; its result.
    pub(crate) async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.client
            .issue_cmd(SessionCommand {
                path: "goog/cdp/execute",
                body: json!({"cmd": cmd, "params": params}),
            })
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }

    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub(crate) async fn wait_for(&self, what: &str, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.js(script).await;
            if !value.is_null() && value != json!(false) {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn quit(&self) {
        let _ = self.client.clone().close().await;
    }
}

/// A `POST /session/{id}/<path>` command with a JSON body: the browser's console since the
/// last read (`se/log`, `{"type": "browser"}`), a DevTools command (`goog/cdp/execute`,
/// `{"cmd", "params"}`).
#[derive(Debug)]
struct SessionCommand {
    path: &'static str,
    body: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(self.body.to_string()))
    }
}

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots")
}

/// Ids the pages need: a builder with a running build, a finished build, the big log.
pub(crate) struct Ids {
    running_builder: i64,
    running_number: i64,
    running_buildid: i64,
    build_builder: i64,
    build_number: i64,
    big_log: i64,
}

pub(crate) async fn ids(pool: &buildbot_www::db::Pool) -> Ids {
    let (running_buildid, running_builder, running_number): (i64, i64, i64) = sqlx::query_as(
        "SELECT id, builderid, number FROM builds WHERE complete_at IS NULL ORDER BY id LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let (build_builder, build_number): (i64, i64) = sqlx::query_as(
        "SELECT b.builderid, b.number FROM builds b WHERE b.complete_at IS NOT NULL \
         AND (SELECT count(*) FROM steps s WHERE s.buildid = b.id) > 3 ORDER BY b.id DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let (big_log,): (i64,) = sqlx::query_as("SELECT id FROM logs ORDER BY num_lines DESC LIMIT 1")
        .fetch_one(pool)
        .await
        .unwrap();
    Ids {
        running_builder,
        running_number,
        running_buildid,
        build_builder,
        build_number,
        big_log,
    }
}

pub(crate) fn pages(ids: &Ids) -> Vec<(&'static str, String)> {
    vec![
        ("home", String::new()),
        ("builders", "builders".into()),
        ("builders-tag", "builders?tag=linux".into()),
        ("builder", format!("builders/{}", ids.running_builder)),
        (
            "build",
            format!("builders/{}/builds/{}", ids.build_builder, ids.build_number),
        ),
        (
            "build-running",
            format!(
                "builders/{}/builds/{}",
                ids.running_builder, ids.running_number
            ),
        ),
        ("log", format!("logs/{}", ids.big_log)),
        ("workers", "workers".into()),
        ("changes", "changes".into()),
        ("pending", "pendingbuildrequests".into()),
        ("about", "about".into()),
        ("settings", "settings".into()),
        ("waterfall", "views/waterfall_view/".into()),
        ("console", "views/console_view/".into()),
        ("grid", "views/grid_view/".into()),
    ]
}

pub(crate) fn severe(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let site = site().await;
    let ids = ids(&site.pool).await;

    // Every page, at the root and behind the prefix: no console errors, a screenshot each.
    for (prefix, tag) in [("/", ""), ("/buildbot/", "prefixed-")] {
        for (name, path) in pages(&ids) {
            let url = format!("{}{prefix}{path}", site.base);
            browser.goto(&url).await;
            browser
                .wait_for(
                    "the page's script",
                    "return document.readyState === 'complete' && \
                     document.querySelector('.sidebar') !== null",
                    Duration::from_secs(10),
                )
                .await;
            let events = browser
                .js("return JSON.parse(document.getElementById('bb-page').textContent).events.length")
                .await;
            if events.as_i64().unwrap_or(0) > 0 {
                browser
                    .wait_for(
                        &format!("the websocket of {url}"),
                        "return document.documentElement.getAttribute('data-ws') === 'open'",
                        Duration::from_secs(10),
                    )
                    .await;
            }
            let errors = severe(&browser.console().await);
            assert!(errors.is_empty(), "{url}: console errors: {errors:#?}");
            if prefix == "/" {
                browser.screenshot(&format!("{tag}{name}")).await;
            }
        }
    }

    // The theme's sidebar colour is applied.
    browser.goto(&format!("{}/builders", site.base)).await;
    let colour = browser
        .js("return getComputedStyle(document.querySelector('.sidebar')).backgroundColor")
        .await;
    assert_eq!(colour, json!("rgb(18, 52, 86)"));

    // The custom template replaced the about page.
    browser.goto(&format!("{}/about", site.base)).await;
    let text = browser
        .js("return document.getElementById('custom') && document.getElementById('custom').textContent")
        .await;
    assert_eq!(text, json!(OVERRIDE_MARKER));

    // The big log shows its first lines at once, and loads more when scrolled to the end.
    browser
        .goto(&format!("{}/logs/{}", site.base, ids.big_log))
        .await;
    let shown = browser
        .js("return document.querySelectorAll('#log > span').length")
        .await;
    assert_eq!(shown, json!(1000));
    browser
        .js("document.getElementById('log-load').click(); return 1")
        .await;
    browser
        .wait_for(
            "the next log lines",
            "return document.querySelectorAll('#log > span').length >= 2000",
            Duration::from_secs(10),
        )
        .await;

    // A build finishing in the database updates its builder page without a reload.
    browser
        .goto(&format!("{}/builders/{}", site.base, ids.running_builder))
        .await;
    browser
        .wait_for(
            "the websocket",
            "return document.documentElement.getAttribute('data-ws') === 'open'",
            Duration::from_secs(10),
        )
        .await;
    browser.js("window.__notReloaded = true; return 1").await;
    let row = format!("#builds tr[data-buildid='{}'] .result", ids.running_buildid);
    let before = browser
        .js(&format!(
            "return document.querySelector(\"{row}\").textContent"
        ))
        .await;
    assert_eq!(before, json!("running"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    sqlx::query(
        "UPDATE builds SET complete_at = $1, results = 2, state_string = 'failed test' WHERE id = $2",
    )
    .bind(now)
    .bind(ids.running_buildid)
    .execute(&site.pool)
    .await
    .unwrap();
    browser
        .wait_for(
            "the finished build on the builder page",
            &format!(
                "return window.__notReloaded === true && \
                 document.querySelector(\"{row}\").textContent === 'failure'"
            ),
            Duration::from_secs(15),
        )
        .await;
    browser.screenshot("builder-after-live-update").await;

    for view in common::VIEWS {
        view_updates_live(&browser, &site, view).await;
    }
    hostile_view_stays_inert(&browser, &site).await;
    browser.quit().await;
}

/// Starts a build for the newest change, on a builder already building it: (build id, now).
async fn start_build(site: &Site) -> (i64, i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // A new build request in the newest change's buildset, on a builder already building it.
    let (buildsetid, builderid, masterid): (i64, i64, i64) = sqlx::query_as(
        "SELECT br.buildsetid, b.builderid, b.masterid FROM changes c \
         JOIN buildset_sourcestamps bss ON bss.sourcestampid = c.sourcestampid \
         JOIN buildrequests br ON br.buildsetid = bss.buildsetid \
         JOIN builds b ON b.buildrequestid = br.id ORDER BY c.changeid DESC, b.id DESC LIMIT 1",
    )
    .fetch_one(&site.pool)
    .await
    .unwrap();
    let (requestid,): (i64,) = sqlx::query_as(
        "INSERT INTO buildrequests (id, buildsetid, builderid, priority, complete, submitted_at) \
         VALUES ((SELECT max(id) + 1 FROM buildrequests), $1, $2, 0, 0, $3) RETURNING id",
    )
    .bind(buildsetid)
    .bind(builderid)
    .bind(now)
    .fetch_one(&site.pool)
    .await
    .unwrap();
    let (buildid,): (i64,) = sqlx::query_as(
        "INSERT INTO builds (id, number, builderid, buildrequestid, workerid, masterid, started_at, \
         locks_duration_s, state_string) VALUES ((SELECT max(id) + 1 FROM builds), \
         (SELECT max(number) + 1 FROM builds WHERE builderid = $1), $1, $2, \
         (SELECT min(id) FROM workers), $3, $4, 0, 'building') RETURNING id",
    )
    .bind(builderid)
    .bind(requestid)
    .bind(masterid)
    .bind(now)
    .fetch_one(&site.pool)
    .await
    .unwrap();
    (buildid, now)
}

/// The `html_attack` test plugin's view runs none of its payloads (each would set the title),
/// neither when loaded nor when the shell refreshes it live, and keeps its harmless markup.
async fn hostile_view_stays_inert(browser: &Browser, site: &Site) {
    browser
        .goto(&format!("{}/views/html_attack/", site.base))
        .await;
    browser
        .wait_for(
            "the websocket of html_attack",
            "return document.documentElement.getAttribute('data-ws') === 'open'",
            Duration::from_secs(10),
        )
        .await;
    browser.js("window.__notReloaded = true; return 1").await;
    start_build(site).await;
    browser
        .wait_for(
            "a live refresh of html_attack",
            "return window.__notReloaded === true && \
             document.documentElement.getAttribute('data-refreshed') !== null",
            Duration::from_secs(15),
        )
        .await;
    // let late handlers (image errors, toggles) fire
    tokio::time::sleep(Duration::from_millis(500)).await;
    browser.screenshot("html-attack").await;
    let state = browser
        .js("return [document.title, !!document.querySelector('#bb-main .ha-kept[data-kept]'), \
             document.querySelectorAll('#bb-main script, #bb-main iframe, #bb-main [onerror]').length, \
             getComputedStyle(document.body).display !== 'none']")
        .await;
    assert_eq!(
        state,
        json!(["HTML attack - UI test", true, 0, true]),
        "{state}"
    );
}

/// A build starting for the newest change appears in `view` without a reload, and its box
/// changes when it finishes.
async fn view_updates_live(browser: &Browser, site: &Site, view: &str) {
    browser.goto(&format!("{}/views/{view}/", site.base)).await;
    browser
        .wait_for(
            &format!("the websocket of {view}"),
            "return document.documentElement.getAttribute('data-ws') === 'open'",
            Duration::from_secs(10),
        )
        .await;
    browser.js("window.__notReloaded = true; return 1").await;
    let (buildid, now) = start_build(site).await;
    let cell = format!("[data-buildid='{buildid}']");
    let running = browser
        .wait_for(
            &format!("the new build {buildid} in {view}"),
            &format!(
                "var e = document.querySelector(\"{cell}\"); \
                 return window.__notReloaded === true && e && e.getAttribute('data-result')"
            ),
            Duration::from_secs(15),
        )
        .await;
    browser.screenshot(&format!("{view}-build-started")).await;
    sqlx::query(
        "UPDATE builds SET complete_at = $1, results = 2, state_string = 'failed test' WHERE id = $2",
    )
    .bind(now + 1)
    .bind(buildid)
    .execute(&site.pool)
    .await
    .unwrap();
    browser
        .wait_for(
            &format!("the finished build {buildid} in {view}"),
            &format!(
                "var e = document.querySelector(\"{cell}\"); \
                 return window.__notReloaded === true && e && e.getAttribute('data-result') !== {running}"
            ),
            Duration::from_secs(15),
        )
        .await;
    browser.screenshot(&format!("{view}-build-finished")).await;
    let errors = severe(&browser.console().await);
    assert!(errors.is_empty(), "{view}: console errors: {errors:#?}");
}

/// Behind `/buildbot/`, every link, stylesheet, script and image of every page answers 200
/// (followed over HTTP, one level deep), and each points below the prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_prefix_every_url_resolves() {
    let site = site().await;
    let ids = ids(&site.pool).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .unwrap();
    let root = reqwest::Url::parse(&format!("{}/buildbot/", site.base)).unwrap();
    let checked = crawl(&http, &root, &pages(&ids)).await;
    assert!(checked > 50, "only {checked} URLs checked");
    // The websocket URL the script builds (`<root>ws`) resolves to the prefixed endpoint.
    let upgrade = http
        .get(format!("{}/buildbot/ws", site.base))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(upgrade.status(), 101);
}

/// Loads each of `pages` under `root` and every link, stylesheet, script and image they name
/// (one level deep): each answers 200 and stays under `root`'s path. Returns how many URLs
/// were checked.
pub(crate) async fn crawl(
    http: &reqwest::Client,
    root: &reqwest::Url,
    pages: &[(&str, String)],
) -> usize {
    let attr = regex::Regex::new(r#"(?:href|src)="([^"]*)""#).unwrap();
    let mut checked = std::collections::BTreeSet::new();
    for (_, path) in pages {
        let page = root.join(path).unwrap();
        let response = http.get(page.clone()).send().await.unwrap();
        assert_eq!(response.status(), 200, "{page}");
        let html = response.text().await.unwrap();
        assert!(html.contains("<script id=\"bb-page\""), "{page}");
        for capture in attr.captures_iter(&html) {
            let decoded = capture[1].replace("&amp;", "&").replace("&#x2f;", "/");
            let raw = decoded.split('#').next().unwrap_or("");
            if raw.starts_with("http") || raw.is_empty() {
                continue; // titleURL, revlinks: outside the server
            }
            let target = page.join(raw).unwrap();
            assert!(
                target.path().starts_with(root.path()),
                "{page}: {raw} leaves {} ({target})",
                root.path()
            );
            if !checked.insert(target.to_string()) || target.path().contains("/raw") {
                continue;
            }
            let status = http.get(target.clone()).send().await.unwrap().status();
            assert_eq!(status, 200, "{page}: {raw} -> {target}");
        }
    }
    checked.len()
}

/// A custom template that does not compile stops start-up, naming the file.
#[tokio::test]
async fn a_broken_template_override_fails_start_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("t")).unwrap();
    std::fs::write(
        dir.path().join("t/builders.html"),
        "{% extends \"base.html\" %}\n{% block main %}\n{{ oops(\n{% endblock %}",
    )
    .unwrap();
    let path = dir.path().join("master.toml");
    std::fs::write(
        &path,
        "[db]\ndb_url = \"sqlite:///state.sqlite\"\n[www]\ncustom_templates_dir = \"t\"\n",
    )
    .unwrap();
    let config = buildbot_www::config::load(&path).unwrap();
    let err = format!(
        "{:#}",
        buildbot_www::server::state(config).await.unwrap_err()
    );
    assert!(err.contains("builders.html"), "{err}");
    assert!(err.contains("line 3") || err.contains("line 4"), "{err}");
}

/// The demo dataset served with `www_toml` added, `buildbotURL` being the server's own address
/// (logging in and out redirects there). Returns the base URL and the folder to keep.
async fn site_with_auth(www_toml: &str) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pool = buildbot_www::db::open_file(&dir.path().join("state.sqlite"))
        .await
        .unwrap();
    buildbot_www::fixtures::fill_demo(&pool, 1_700_000_000)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config_path = common::MasterToml::sqlite()
        .set(&["buildbotURL"], format!("{base}/"))
        .www_toml(www_toml)
        .write(dir.path());
    let config = buildbot_www::config::load(&config_path).expect("config loads");
    let state = buildbot_www::server::state(config).await.expect("state");
    common::serve_state_on(listener, state);
    (base, dir)
}

/// The top bar's login form: a wrong password shows a message in the page (no browser
/// dialog), a good one shows the user and a logout link, and logging out comes back to the
/// same page through Buildbot's `<buildbotURL>#/path` redirect, anonymous again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_in_and_out_from_the_top_bar() {
    let (base, _dir) =
        site_with_auth(
            // no avatars from the internet: the placeholder picture
            "avatar_methods = []\n[www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"doh!\" }\n",
        )
            .await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let wait = Duration::from_secs(15);
    browser.goto(&format!("{base}/builders")).await;
    let fill = |password: &str| {
        format!(
            "var f = document.querySelector('#bb-login form');\
             document.getElementById('bb-login').open = true;\
             f.username.value = 'homer'; f.password.value = '{password}';\
             f.querySelector('button').click(); return true;"
        )
    };
    browser.js(&fill("wrong")).await;
    let message = browser
        .wait_for(
            "the wrong-password message",
            "var e = document.querySelector('#bb-login .account-error');\
             return e && !e.hidden && e.textContent;",
            wait,
        )
        .await;
    assert_eq!(message, "Wrong user name or password.");
    browser.js(&fill("doh!")).await;
    let name = browser
        .wait_for(
            "the user in the top bar",
            "var n = document.querySelector('#bb-account .account-name');\
             return n && n.textContent;",
            wait,
        )
        .await;
    assert_eq!(name, "homer");
    assert!(browser
        .js("return location.pathname")
        .await
        .as_str()
        .unwrap()
        .ends_with("/builders"));
    let config: Value = serde_json::from_str(
        browser
            .js("var r = new XMLHttpRequest(); r.open('GET', 'config', false); r.send(); return r.responseText;")
            .await
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(config["user"]["username"], "homer");
    browser.screenshot("logged-in").await;
    browser
        .js("document.getElementById('bb-logout').click(); return true;")
        .await;
    browser
        .wait_for(
            "the builders page again, anonymous",
            "return location.pathname.endsWith('/builders') && !location.hash \
             && document.querySelector('#bb-login summary') !== null;",
            wait,
        )
        .await;
    // The wrong password's 401 is the only error the browser logged.
    let errors: Vec<String> = severe(&browser.console().await)
        .into_iter()
        .filter(|e| !(e.contains("auth/login") && e.contains("401")))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    browser.quit().await;
}
