//! Log search and "jump to first error" in the log viewer, over a real loopback server: logs
//! stored in chunks compressed each their own way, matches listed with their line numbers and
//! links, the 1,000-line cap, regular expressions and the 400 of a bad one, hostile log text and
//! queries escaped, a log the authorization rules hide not searched, and the jump to the first
//! line that looks like a failure (or the page saying there is none).

use std::io::Write as _;

use crate::common;

/// Log 101: stdio, on a failed step of `win-test` (build 4), in four chunks stored raw, zlib,
/// bz2 and lz4; log 103, the same text, on a failed step of `linux-build`, which the rules
/// leave open to everyone.
const FAILED_LOG: [&[&str]; 4] = [
    &[
        "hgrep -r 'error:' src",
        "ocompiling a.c",
        "o<script>alert(1)</script> & <b>bold</b> needle",
    ],
    &["oneedle again NEEDLE", "esrc/a.c:3:1: error: expected ';'"],
    &["oafter"],
    &["oTraceback (most recent call last):", "odone"],
];

/// homer is an insider (may see `win-test`'s builds); marge is not.
const CONFIG: &str = r#"
[www.auth]
type = "UserPasswordAuth"
users = { homer = "doh!", marge = "hmm" }

[www.authz]
allowRules = [{ matcher = "ViewBuildsEndpointMatcher", builder = "win-test", role = "insiders" }]
roleMatchers = [{ type = "RolesFromUsername", roles = ["insiders"], usernames = ["homer"] }]
"#;

struct Site {
    server: common::Server,
    homer: String,
    marge: String,
}

async fn site() -> Site {
    let dir = common::views_database(
        "INSERT INTO logs (id, name, slug, stepid, complete, num_lines, type) VALUES \
         (101, 'stdio', 'stdio', 5, 1, 8, 's'), (102, 'output', 'output', 2, 1, 1500, 't'), \
         (103, 'stdio', 'stdio', 50, 1, 8, 's'); \
         INSERT INTO steps (id, number, name, buildid, started_at, locks_acquired_at, complete_at, \
         state_string, results, urls_json, hidden) VALUES \
         (50, 0, 'compile', 6, 1700000660, 1700000660, 1700000960, 'failed', 2, '[]', 0);",
    )
    .await;
    let pool = buildbot_www::db::open_file(&dir.path().join("state.sqlite"))
        .await
        .unwrap();
    let mut first = 0;
    for (compressed, lines) in FAILED_LOG.iter().enumerate() {
        let text = lines.join("\n");
        let content = match compressed {
            0 => text.into_bytes(),
            1 => {
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                z.write_all(text.as_bytes()).unwrap();
                z.finish().unwrap()
            }
            2 => {
                let mut b = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
                b.write_all(text.as_bytes()).unwrap();
                b.finish().unwrap()
            }
            _ => lz4_flex::block::compress_prepend_size(text.as_bytes()),
        };
        insert_chunk(&pool, 101, first, lines.len(), content.clone(), compressed).await;
        insert_chunk(&pool, 103, first, lines.len(), content, compressed).await;
        first += lines.len() as i64;
    }
    // Log 102: 1,500 lines that all match `needle`, on a step that passed.
    for chunk in 0..3 {
        let text: Vec<String> = (0..500)
            .map(|i| format!("line {} needle", chunk * 500 + i + 1))
            .collect();
        insert_chunk(
            &pool,
            102,
            chunk * 500,
            500,
            text.join("\n").into_bytes(),
            0,
        )
        .await;
    }
    pool.close().await;
    let path = common::MasterToml::sqlite()
        .www_toml(CONFIG)
        .write(dir.path());
    let state = common::state_without_plugins(&path).await;
    let server = common::Server::start(state, dir).await;
    let homer = login(&server.base, "homer", "doh!").await;
    let marge = login(&server.base, "marge", "hmm").await;
    Site {
        server,
        homer,
        marge,
    }
}

/// Logs in with a password (`/auth/login`, Basic credentials): the session cookie.
async fn login(base: &str, user: &str, password: &str) -> String {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/auth/login"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("TWISTED_SESSION="))
        .unwrap_or_else(|| panic!("{user} logs in: {}", response.status()));
    cookie.split(';').next().unwrap().to_owned()
}

async fn insert_chunk(
    pool: &buildbot_www::db::Pool,
    logid: i64,
    first: i64,
    lines: usize,
    content: Vec<u8>,
    compressed: usize,
) {
    sqlx::query(
        "INSERT INTO logchunks (logid, first_line, last_line, content, compressed) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(logid)
    .bind(first)
    .bind(first + lines as i64 - 1)
    .bind(content)
    .bind(compressed as i64)
    .execute(pool)
    .await
    .unwrap();
}

impl Site {
    /// GET `path` over the socket, redirects not followed: (status, Location, body).
    async fn get(&self, path: &str, cookie: &str) -> (u16, String, String) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let response = client
            .get(format!("{}{path}", self.server.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }

    /// A page that must answer 200, as homer.
    async fn page(&self, path: &str) -> String {
        let (status, _, body) = self.get(path, &self.homer).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

/// The `<li>` items of the match list.
fn matches(body: &str) -> Vec<&str> {
    let Some((_, list)) = body.split_once("<ol class=\"log-match-list\">") else {
        return Vec::new();
    };
    let list = list.split_once("</ol>").unwrap().0;
    list.split("<li>").skip(1).collect()
}

#[tokio::test]
async fn matches_are_listed_highlighted_escaped_and_linked() {
    let site = site().await;
    // Plain text, case-sensitive, across chunks compressed three ways.
    let body = site.page("/logs/101?q=needle").await;
    assert!(body.contains("2 matching lines."), "{body}");
    let found = matches(&body);
    assert_eq!(found.len(), 2, "{body}");
    assert!(
        found[0].starts_with(
            "<a class=\"o\" href=\"..&#x2f;logs/101?from=0#L3\"><span class=\"line-number\">3</span>"
        ),
        "{}",
        found[0]
    );
    // The hostile line is text, its match marked.
    assert!(
        found[0].contains(
            "<code>&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; &lt;b&gt;bold&lt;&#x2f;b&gt; <mark>needle</mark></code>"
        ),
        "{}",
        found[0]
    );
    assert!(!body.contains("<script>alert(1)"));
    assert!(found[1].contains("<mark>needle</mark> again NEEDLE</code>"));
    // The log itself is not on a results page; the form keeps the query.
    assert!(!body.contains("id=\"log\""));
    assert!(body.contains("name=\"q\" value=\"needle\""), "{body}");

    // Ignoring case: both words of line 4 are marked.
    let body = site.page("/logs/101?q=NeEdLe&icase=1").await;
    assert!(body.contains("2 matching lines."));
    assert!(body.contains("<mark>needle</mark> again <mark>NEEDLE</mark>"));
    assert!(body.contains("name=\"icase\" value=\"1\" checked"));

    // A hostile query is escaped in the form and searched as plain text.
    let body = site
        .page("/logs/101?q=%22%3E%3Cscript%3Ex%3C%2Fscript%3E")
        .await;
    assert!(!body.contains("\"><script>x"), "{body}");
    assert!(body.contains("value=\"&quot;&gt;&lt;script&gt;x&lt;&#x2f;script&gt;\""));
    assert!(body.contains("No line matches."));

    // A regular expression: `^` is the start of the line, after the stdio channel letter.
    let body = site
        .page("/logs/101?q=%5Esrc%2F%5Cw%2B%5C.c%3A%5Cd%2B&regex=1")
        .await;
    assert!(body.contains("1 matching line."), "{body}");
    assert!(body.contains(
        "<a class=\"e\" href=\"..&#x2f;logs/101?from=0#L5\"><span class=\"line-number\">5</span><code><mark>src&#x2f;a.c:3</mark>:1: error: expected &#x27;;&#x27;</code>"
    ), "{body}");
    // The same text, not as a regex, matches nothing.
    let body = site.page("/logs/101?q=%5Esrc%2F%5Cw%2B").await;
    assert!(body.contains("No line matches."));

    // The link opens the log at that line, which carries the anchor.
    let body = site.page("/logs/101?from=0").await;
    assert!(body.contains("<span class=\"e\" id=\"L5\">src&#x2f;a.c:3:1: error:"));
}

#[tokio::test]
async fn bad_queries_are_a_400_with_a_message_and_the_form() {
    let site = site().await;
    let (status, _, body) = site
        .get("/logs/101?q=%28unclosed&regex=1", &site.homer)
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("id=\"log-search-error\">not a valid regular expression"));
    assert!(body.contains("name=\"q\" value=\"(unclosed\""));
    assert!(body.contains("name=\"regex\" value=\"1\" checked"));
    // The same text as plain text is fine.
    site.page("/logs/101?q=%28unclosed").await;
    // Too long, and too big once compiled.
    let long = "a".repeat(1001);
    let (status, _, body) = site.get(&format!("/logs/101?q={long}"), &site.homer).await;
    assert_eq!(status, 400);
    assert!(body.contains("at most 1000 are accepted"), "{body}");
    let (status, _, body) = site
        .get(
            "/logs/101?q=%5Cw%7B500%7D%5Cw%7B500%7D&regex=1",
            &site.homer,
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("too big to search with"), "{body}");
}

#[tokio::test]
async fn a_search_lists_at_most_1000_lines_and_says_so() {
    let site = site().await;
    let body = site.page("/logs/102?q=needle").await;
    assert!(
        body.contains("More than 1000 lines match; the first 1000 are listed."),
        "{body}"
    );
    let found = matches(&body);
    assert_eq!(found.len(), 1000);
    assert!(found[999].contains("href=\"..&#x2f;logs/102?from=989#L1000\""));
    assert!(found[999].contains("line 1000 <mark>needle</mark>"));
    // Fewer than the cap: all of them, no "more".
    let body = site.page("/logs/102?q=line+14").await;
    assert!(body.contains("111 matching lines."), "{body}");
}

#[tokio::test]
async fn jump_to_first_error_opens_the_failing_line() {
    let site = site().await;
    // Offered for the failed step's log, not for the passing step's.
    let body = site.page("/logs/101").await;
    assert!(
        body.contains("href=\"..&#x2f;logs/101?error=1\" id=\"log-first-error\""),
        "{body}"
    );
    let body = site.page("/logs/102").await;
    assert!(!body.contains("log-first-error"));
    // The header naming `error:` is skipped; line 5 is the compiler's error.
    let (status, location, _) = site.get("/logs/101?error=1", &site.homer).await;
    assert_eq!((status, location.as_str()), (302, "../logs/101?from=0#L5"));
    // Asked for on a log with no marker: the page says so.
    let body = site.page("/logs/102?error=1").await;
    assert!(body.contains("id=\"log-no-error\""), "{body}");
    assert!(body.contains("id=\"log\""));
}

#[tokio::test]
async fn a_hidden_log_is_not_searched() {
    let site = site().await;
    for cookie in ["", site.marge.as_str()] {
        for path in [
            "/logs/101?q=needle",
            "/logs/101?q=needle&regex=1",
            "/logs/101?error=1",
        ] {
            let (status, location, body) = site.get(path, cookie).await;
            assert_eq!(status, 403, "{path}");
            assert!(location.is_empty());
            assert!(body.contains("you need to have role"), "{body}");
            assert!(!body.contains("needle</"), "{body}");
        }
    }
    // The rules leave other builders' logs open to everyone.
    let (status, _, body) = site.get("/logs/102?q=line+1500", &site.marge).await;
    assert_eq!(status, 200);
    assert!(body.contains("1 matching line."));
}

/// In a real headless Chromium: the form searches, a match is a link, and following it shows
/// the log with that line in view and marked; "jump to first error" does the same for the
/// first failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_open_a_match_in_a_real_browser() {
    use std::time::Duration;
    let Some(browser) = crate::ui::Browser::start().await else {
        return;
    };
    let site = site().await;
    browser
        .goto(&format!("{}/logs/102", site.server.base))
        .await;
    browser
        .js_with(
            "var form = document.getElementById('log-search');\
             form.querySelector('input[name=q]').value = arguments[0];\
             form.querySelector('button[type=submit]').click(); return 1;",
            vec![serde_json::json!("line 1400 ")],
        )
        .await;
    let count = browser
        .wait_for(
            "the search results",
            "var p = document.getElementById('log-match-count'); return p && p.textContent",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(count, serde_json::json!("1 matching line."));
    assert_eq!(
        browser
            .js("return document.querySelector('.log-match-list mark').textContent")
            .await,
        serde_json::json!("line 1400 ")
    );
    browser.screenshot("log-search").await;
    browser
        .js("document.querySelector('.log-match-list a').click(); return 1")
        .await;
    let target = browser
        .wait_for(
            "the log opened at the match",
            "var t = document.querySelector('#log > span:target'); return t && t.id",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(target, serde_json::json!("L1400"));
    let shown = browser
        .js(
            "var t = document.getElementById('L1400'), r = t.getBoundingClientRect();\
             return [t.textContent, r.top >= 0 && r.bottom <= window.innerHeight,\
                     getComputedStyle(t).backgroundColor, location.search];",
        )
        .await;
    assert_eq!(shown[0], serde_json::json!("line 1400 needle"));
    assert_eq!(shown[1], serde_json::json!(true), "{shown}");
    assert_ne!(
        shown[2],
        serde_json::json!("rgba(0, 0, 0, 0)"),
        "marked: {shown}"
    );
    assert_eq!(shown[3], serde_json::json!("?from=1389"));
    browser.screenshot("log-search-opened").await;

    // "jump to first error" on a failed step's log: the compiler's error, in view and marked.
    browser
        .goto(&format!("{}/logs/103", site.server.base))
        .await;
    browser
        .js("document.getElementById('log-first-error').click(); return 1")
        .await;
    let target = browser
        .wait_for(
            "the log opened at its first error",
            "var t = document.querySelector('#log > span:target'); return t && t.id",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(target, serde_json::json!("L5"));
    assert_eq!(
        browser
            .js("return document.getElementById('L5').textContent")
            .await,
        serde_json::json!("src/a.c:3:1: error: expected ';'")
    );
    browser.screenshot("log-first-error").await;
    let errors = crate::ui::severe(&browser.console().await);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.quit().await;
}
