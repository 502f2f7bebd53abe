//! The page walker shared by recording and comparing: every page of Buildbot 4.3's React UI
//! (and each tab whose text differs) on the recorded database, loaded fresh in the browser,
//! waited for until it has settled, and its visible text normalized so that it does not depend
//! on the day it runs.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::json;

use crate::ui::Browser;

/// A page of the UI: the file its text is kept in (`<name>.txt`), its route after `#/`, and
/// the tabs clicked after it loads (`(position, name)`: the text of each is kept in
/// `<name>.<tab>.txt`; the first tab is the page itself).
pub(super) struct Page {
    pub(super) name: &'static str,
    pub(super) route: &'static str,
    pub(super) tabs: &'static [(usize, &'static str)],
}

const BUILD_TABS: &[(usize, &str)] = &[
    (1, "properties"),
    (2, "worker"),
    (3, "responsible"),
    (4, "changes"),
    (5, "debug"),
];

/// Every page, with ids of `fixtures/buildbot-ui/state.sqlite`: builder 4 is `linux-build`,
/// its build 1 was started by change 1 (changes, responsible users), build 7 of `integration`
/// (3) ended in an exception with an HTML log, build 5 of `windows-build` (2) was retried,
/// build request 41 is that exception's, worker 2 is `local-worker`.
pub(super) const PAGES: &[Page] = &[
    page("home", ""),
    page("builders", "builders"),
    Page {
        name: "builder",
        route: "builders/4",
        tabs: &[(1, "workers")],
    },
    page("force", "builders/4/force/force"),
    Page {
        name: "build",
        route: "builders/4/builds/1",
        tabs: BUILD_TABS,
    },
    Page {
        name: "build-exception",
        route: "builders/3/builds/7",
        tabs: BUILD_TABS,
    },
    page("build-retry", "builders/2/builds/5"),
    page("log", "builders/4/builds/1/steps/1/logs/stdio"),
    page("log-html", "builders/3/builds/7/steps/4/logs/err_html"),
    Page {
        name: "buildrequest",
        route: "buildrequests/41",
        tabs: &[(1, "properties"), (2, "debug")],
    },
    page("pendingbuildrequests", "pendingbuildrequests"),
    page("changes", "changes"),
    page("change", "changes/1"),
    page("workers", "workers"),
    Page {
        name: "worker",
        route: "workers/2",
        tabs: &[(1, "builders")],
    },
    page("worker-offline", "workers/1"),
    page("masters", "masters"),
    page("schedulers", "schedulers"),
    page("projects", "projects"),
    page("project", "projects/1"),
    page("about", "about"),
    page("settings", "settings"),
    page("waterfall", "waterfall"),
    page("console", "console"),
    page("grid", "grid"),
];

const fn page(name: &'static str, route: &'static str) -> Page {
    Page {
        name,
        route,
        tabs: &[],
    }
}

/// Installed in every new document before the UI's own script: counts the requests in flight
/// (XHR and fetch) and notes when the DOM last changed (`performance.now()`, milliseconds since
/// the navigation started).
const PROBE: &str = "(function () {
  var inflight = 0;
  window.__bbInflight = function () { return inflight; };
  window.__bbChanged = 0;
  var send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function () {
    inflight++;
    this.addEventListener('loadend', function () { inflight--; });
    return send.apply(this, arguments);
  };
  var fetch = window.fetch;
  window.fetch = function () {
    inflight++;
    return fetch.apply(this, arguments).finally(function () { inflight--; });
  };
  new MutationObserver(function () { window.__bbChanged = performance.now(); })
    .observe(document, { subtree: true, childList: true, characterData: true });
})();";

/// The page is settled when the document is loaded, no request is in flight, no loading
/// marker shows and the DOM has not changed for this long.
const QUIET_MS: f64 = 1000.0;

/// How long a page may take to settle before the walk gives up on it.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

const SETTLED: &str = "var quiet = arguments[0];
  if (document.readyState !== 'complete' || !window.__bbInflight) return null;
  if (window.__bbInflight() > 0) return null;
  if (document.querySelector('[data-bb-test-id=loading], .spinner')) return null;
  if (/\\(loading \\.\\.\\.\\)|loading [a-z]+ details\\.\\.\\./.test(document.body.innerText)) return null;
  var changed = window.__bbChanged;
  if (performance.now() - changed < quiet) return null;
  return changed;";

/// A browser walking one server's UI at `base` (`http://127.0.0.1:PORT/`).
pub(super) struct Walker<'a> {
    pub(super) browser: &'a Browser,
    pub(super) base: String,
}

impl<'a> Walker<'a> {
    /// Prepares `browser` (the probe in every new document) for the UI at `base`.
    pub(super) async fn new(browser: &'a Browser, base: &str) -> Walker<'a> {
        browser
            .cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": PROBE }),
            )
            .await;
        Walker {
            browser,
            base: base.to_owned(),
        }
    }

    /// Loads `route` in a fresh document and waits until it has settled; returns how long the
    /// UI took to show it (navigation start to the last change of the page).
    pub(super) async fn open(&self, route: &str) -> Duration {
        // A new document each time: after a change of the hash alone the UI would keep its
        // data from the page before.
        self.browser.goto("about:blank").await;
        self.browser.goto(&format!("{}#/{route}", self.base)).await;
        self.settle(route).await
    }

    /// Waits until the current page has settled (see [`SETTLED`]); the time of its last
    /// change since the navigation started.
    pub(super) async fn settle(&self, what: &str) -> Duration {
        let deadline = Instant::now() + SETTLE_LIMIT;
        loop {
            let changed = self.browser.js_with(SETTLED, vec![json!(QUIET_MS)]).await;
            if let Some(ms) = changed.as_f64() {
                return Duration::from_secs_f64(ms / 1000.0);
            }
            assert!(
                Instant::now() < deadline,
                "{}#/{what} did not settle in {SETTLE_LIMIT:?}",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page's visible text, normalized.
    pub(super) async fn text(&self) -> String {
        let text = self.browser.js("return document.body.innerText").await;
        normalize(text.as_str().unwrap_or_default())
    }

    /// Clicks the tab at `position` of the current page and waits until it has settled.
    pub(super) async fn click_tab(&self, route: &str, position: usize) {
        let clicked = self
            .browser
            .js_with(
                "var tab = document.querySelectorAll('[role=tab]')[arguments[0]];
                 if (!tab) return false;
                 tab.click(); return true;",
                vec![json!(position)],
            )
            .await;
        assert_eq!(clicked, json!(true), "#/{route} has no tab {position}");
        self.settle(route).await;
    }

    /// Every page and tab: `(file stem, normalized text)`, in [`PAGES`] order.
    pub(super) async fn walk(&self) -> Vec<(String, String)> {
        let mut texts = Vec::new();
        for page in PAGES {
            self.open(page.route).await;
            texts.push((page.name.to_owned(), self.text().await));
            for (position, tab) in page.tabs {
                self.click_tab(page.route, *position).await;
                texts.push((format!("{}.{tab}", page.name), self.text().await));
            }
        }
        texts
    }
}

/// The sidebar entries of the three views.
const VIEW_ENTRIES: [&str; 3] = ["Console View", "Grid View", "Waterfall View"];

/// Text that does not depend on the day the page is shown, the ports the servers listen on,
/// or which server answers: relative times (`7 days ago`) become `<ago>`, ports `<port>`,
/// and the versions of the server's own components (Python, Twisted, Buildbot against Rust
/// and buildbot-www: each server names its own on the About page) are left out. The views'
/// menu entries are sorted: each view's script adds its entry once it has loaded, so their
/// order changes from one load to the next; so do their groups on the Settings page, sorted
/// too. Lines are trimmed at the end and empty ones
/// dropped.
pub(super) fn normalize(text: &str) -> String {
    static AGO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"\b(a few seconds|a second|a minute|an hour|a day|a month|a year|\d+ (seconds|minutes|hours|days|months|years)) ago\b",
        )
        .unwrap()
    });
    static FUTURE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"\bin (a few seconds|a second|a minute|an hour|a day|a month|a year|\d+ (seconds|minutes|hours|days|months|years))\b",
        )
        .unwrap()
    });
    static PORT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(127\.0\.0\.1:|tcp:)\d+").unwrap());
    static VERSION_LINE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\S.* version: \S+$").unwrap());
    let text = AGO.replace_all(text, "<ago>");
    let text = FUTURE.replace_all(&text, "in <time>");
    let text = PORT.replace_all(&text, "${1}<port>");
    let mut lines = Vec::new();
    let mut versions_value = false;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || VERSION_LINE.is_match(line) {
            continue;
        }
        if std::mem::take(&mut versions_value) {
            lines.push("<versions>".to_owned());
            continue;
        }
        // The About page's configuration: `versions` and, on the next line, its value.
        versions_value = line == "versions";
        lines.push(line.to_owned());
    }
    sort_view_settings(&mut lines);
    for run in lines.chunk_by_mut(|a, b| {
        VIEW_ENTRIES.contains(&a.as_str()) == VIEW_ENTRIES.contains(&b.as_str())
    }) {
        if VIEW_ENTRIES.contains(&run[0].as_str()) {
            run.sort();
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The Settings page's groups of the three views (a heading, then its settings up to the next
/// heading), in the order of their headings.
fn sort_view_settings(lines: &mut Vec<String>) {
    const HEADINGS: [&str; 3] = [
        "Console related settings",
        "Grid related settings",
        "Waterfall related settings",
    ];
    let is_view = |line: &String| HEADINGS.contains(&line.as_str());
    let Some(start) = lines.iter().position(is_view) else {
        return;
    };
    let mut groups = Vec::new();
    let mut at = start;
    while at < lines.len() && is_view(&lines[at]) {
        let end = (at + 1..lines.len())
            .find(|&i| {
                lines[i].ends_with(" related settings")
                    || lines[i] == "Override defaults for all users"
            })
            .unwrap_or(lines.len());
        groups.push(lines[at..end].to_vec());
        at = end;
    }
    groups.sort();
    lines.splice(start..at, groups.into_iter().flatten());
}

/// The lines of `expected` and `actual` that differ, as a unified-style listing (`-` only in
/// expected, `+` only in actual, two lines of context), from their longest common subsequence.
pub(super) fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ops.push(('+', b[j]));
            j += 1;
        } else {
            ops.push(('-', a[i]));
            i += 1;
        }
    }
    let near_change = |k: usize| {
        ops[k.saturating_sub(2)..(k + 3).min(ops.len())]
            .iter()
            .any(|(op, _)| *op != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if near_change(k) {
            if skipped {
                out.push_str("  ...\n");
                skipped = false;
            }
            out.push_str(&format!("{op} {line}\n"));
        } else {
            skipped = true;
        }
    }
    out
}
