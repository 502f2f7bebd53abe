//! The UI's HTML cannot be turned against its users: a hostile plugin view
//! (`fixtures/plugins/html_attack`, built by `cargo xtask build-test-plugins`) comes out of
//! `/views/` inert, hostile URLs and `description_html` in the database render as text while
//! `http(s)` and relative URLs stay links, and logs opened in the browser are sandboxed.

use crate::common;

use std::path::Path;

use common::{get, Server};
use regex::Regex;

/// The views dataset plus hostile rows: change links, step URLs, a description and an HTML
/// log; served with the `html_attack` plugin enabled.
async fn serve() -> Server {
    let plugin_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-plugins");
    assert!(
        plugin_dir.join("html_attack.wasm").is_file(),
        "{}/html_attack.wasm is missing: run `cargo xtask build-test-plugins`",
        plugin_dir.display()
    );
    let dir = common::views_database(HOSTILE_ROWS).await;
    let path = common::MasterToml::sqlite()
        .plugin_dirs(&[&plugin_dir])
        .plugin("html_attack", "")
        .write(dir.path());
    let state = common::load_state(&path).await.expect("the site starts");
    Server::start(state, dir).await
}

/// Change 1 (build 1's change) links to `javascript:`, change 4 to `javascript:` behind a
/// tab and upper case, change 5 to `data:`; change 2's link is relative, change 3's https.
/// Build 1's first step has one hostile, one https and one relative URL. Builder 1's
/// description carries script. Log 1 is an HTML log.
const HOSTILE_ROWS: &str = r#"
UPDATE changes SET revlink = 'javascript:document.title=1' WHERE changeid = 1;
UPDATE changes SET revlink = '../rev/b2b2' WHERE changeid = 2;
UPDATE changes SET revlink = 'https://example.org/rev/c3c3' WHERE changeid = 3;
UPDATE changes SET revlink = ' JAVA' || char(9) || 'SCRIPT:document.title=4' WHERE changeid = 4;
UPDATE changes SET revlink = 'data:text/html,<script>document.title=5</script>' WHERE changeid = 5;
UPDATE steps SET urls_json = '[{"name": "evil-url", "url": "javascript:document.title=2"},
  {"name": "vb-url", "url": "VBScript:msgbox(1)"},
  {"name": "ci-url", "url": "https://ci.example.org/run/1"},
  {"name": "artifact-url", "url": "../artifacts/1"}]' WHERE id = 1;
UPDATE builders SET description_html = '<p class="about">Builds <b>linux</b>, see
  <a href="https://example.org/doc">the doc</a> or <a href="javascript:document.title=3">this</a>
  <script>document.title=6</script><img src=x onerror="document.title=7">
  <iframe src="https://evil.example/"></iframe><style>@import "https://evil.example/a.css";</style></p>'
  WHERE id = 1;
INSERT INTO logs (id, name, slug, stepid, complete, num_lines, type)
  VALUES (1, 'report', 'report', 1, 1, 1, 'h');
INSERT INTO logchunks (logid, first_line, last_line, content, compressed)
  VALUES (1, 0, 0, '<script>document.title=8</script>' || char(10), 0);
"#;

/// What `html_attack` puts between two payloads.
const SEPARATOR: &str = "<i class=\"ha-sep\"></i>";

/// minijinja writes `/` in attributes as `&#x2f;`: the text as a browser reads it.
fn unescaped(html: &str) -> String {
    html.replace("&#x2f;", "/")
}

/// Every way the page could still run script or load from elsewhere, as `(what, excerpt)`.
fn live_script(html: &str) -> Vec<(&'static str, String)> {
    let checks: &[(&str, &str)] = &[
        ("script element", r"(?i)<script(?:[\s>])"),
        ("event handler", r#"(?i)<[^>]*\son[a-z]+\s*="#),
        ("script url", r"(?i)(?:java|vb)\s*script\s*:"),
        ("data url", r"(?i)(?:href|src|action)=.data:"),
        (
            "frame or object",
            r"(?i)<(?:iframe|object|embed|frame)[\s>]",
        ),
        ("base or meta refresh", r"(?i)<base[\s>]|http-equiv"),
        ("foreign stylesheet", r"(?i)<link[^>]*evil"),
        ("import", r"(?i)(?:^|[^-])@import"),
        ("css url", r"(?i)(?:^|[^-])url\(\s*['\x22]?[a-z]"),
        ("expression", r"(?i)(?:^|[^-])expression\("),
        (
            "form action or password",
            r"(?i)formaction|type=.password|method=.post",
        ),
        ("noscript or template", r"(?i)<(?:noscript|template)[\s>]"),
    ];
    let mut found = Vec::new();
    for (what, pattern) in checks {
        if let Some(m) = Regex::new(pattern).unwrap().find(html) {
            let start = html[..m.start()]
                .char_indices()
                .rev()
                .nth(60)
                .map_or(0, |(i, _)| i);
            let end = (m.end() + 60).min(html.len());
            let end = (end..=html.len())
                .find(|&i| html.is_char_boundary(i))
                .unwrap();
            found.push((*what, html[start..end].to_owned()));
        }
    }
    found
}

/// What a view adds to the shell's head (between the shell's stylesheet and its scripts).
/// These checks read the raw text the browser receives, not a parsed tree: a parser repairs
/// and moves markup (an element misplaced in the head moves to the body), which could carry a
/// payload out of the part a check looks at.
fn view_head(html: &str) -> &str {
    &html[html.find("assets/ui.css").unwrap()..html.find("<script id=\"bb-page\"").unwrap()]
}

/// A shell page's main area.
fn main_area(html: &str) -> &str {
    &html[html.find("<main").unwrap()..html.find("</main>").unwrap()]
}

#[tokio::test]
async fn the_hostile_view_comes_out_inert() {
    let server = serve().await;
    // the plugin's own page is hostile indeed (so the checks below can fail)
    let (status, _, raw) = get(&server, "/plugins/html_attack/").await;
    assert_eq!(status, 200);
    assert!(live_script(&raw).len() >= 10, "{:?}", live_script(&raw));
    let separators = raw.matches(SEPARATOR).count();
    assert!(separators > 25, "{raw}");

    for path in ["/views/html_attack/", "/views/html_attack/fragment"] {
        let (status, content_type, html) = get(&server, path).await;
        assert_eq!(status, 200, "{path}: {html}");
        assert!(content_type.starts_with("text/html"));
        let html = unescaped(&html);
        let (head, main) = (view_head(&html), main_area(&html));
        assert_eq!(live_script(head), [], "{path}");
        assert_eq!(live_script(main), [], "{path}");
        // nothing of the payloads' code is left as markup
        assert!(!main.contains("pwned"), "{path}: {main}");
        // and no payload swallowed the ones after it (but the last may swallow the last
        // separator), so each was checked
        let expected = if path.ends_with('/') {
            separators
        } else {
            separators - 1
        };
        assert!(
            main.matches(SEPARATOR).count() >= expected - 1,
            "{path}: {main}"
        );
        // what views need is kept
        for kept in [
            "<div class=\"ha-kept\" data-kept=\"yes\" style=\"color:red;top:2px\">",
            "<a class=\"ha-relative\" href=\"../../builders/1\" rel=\"noopener noreferrer\">",
            "<a class=\"ha-https\" href=\"https://example.org/change/1\" rel=\"noopener noreferrer\">",
            "<form class=\"ha-get\" action=\"./\"><input name=\"q\" value=\"v\"><button type=\"submit\">",
            "<svg class=\"ha-svg\" viewBox=\"0 0 10 10\"><rect x=\"1\" y=\"1\" width=\"5\" height=\"5\" fill=\"#8d4\"></rect></svg>",
        ] {
            assert!(main.contains(kept), "{path}: {kept} missing from {main}");
        }
        // the hostile form stays a plain GET form: no script action, POST, password or
        // formaction
        assert!(
            main.contains("<form class=\"ha-form\"><input name=\"pw\"><button>go</button></form>"),
            "{path}: {main}"
        );
        assert!(
            main.contains("<div class=\"ha-css\" style=\"\">css</div>"),
            "{main}"
        );
        // hostile links lose their target, not their text
        assert_eq!(main.matches("<a class=\"ha-js\" rel=").count(), 6, "{main}");
        if path.ends_with('/') {
            // the document's style reaches the head, without its imports and URLs
            assert!(head.contains(".ha-kept { color: green }"), "{head}");
            assert!(head.contains("blocked-@import blocked-url(https://evil.example/import.css)"));
            assert!(head.contains("blocked-@IMPORT"), "{head}");
            assert!(head.contains("background: blocked-URL("), "{head}");
            assert!(head.contains("background: u72l("), "{head}");
            assert!(
                !head.contains("<base") && !head.contains("<meta") && !head.contains("link.css")
            );
        }
    }
    // an HTML error page passes through without the shell, sanitised all the same
    let (status, _, html) = get(&server, "/views/html_attack/error").await;
    assert_eq!(status, 404);
    assert!(!html.contains("class=\"sidebar\""));
    assert!(html.contains("<div class=\"ha-kept\""), "{html}");
    assert_eq!(live_script(&html), []);
}

#[tokio::test]
async fn database_urls_and_html_render_safely() {
    let server = serve().await;

    let (status, _, changes) = get(&server, "/changes").await;
    assert_eq!(status, 200, "{changes}");
    let changes = unescaped(&changes);
    assert_eq!(live_script(main_area(&changes)), []);
    assert!(changes
        .contains("<a href=\"https://example.org/rev/c3c3\" rel=\"noopener\">c3c3c3c3c3c3</a>"));
    assert!(changes.contains("<a href=\"../rev/b2b2\" rel=\"noopener\">b2b2b2b2b2b2</a>"));
    // the hostile links' revisions are shown as text
    for revision in ["a1a1a1a1a1a1", "d4d4d4d4d4d4", "e5e5e5e5e5e5"] {
        assert!(
            changes.contains(&format!("<td>{revision}</td>")),
            "{revision}: {changes}"
        );
    }
    assert!(!changes.contains("data:text"));

    let (status, _, build) = get(&server, "/builders/1/builds/1").await;
    assert_eq!(status, 200, "{build}");
    let build = unescaped(&build);
    assert_eq!(live_script(main_area(&build)), []);
    assert!(build.contains("<a href=\"https://ci.example.org/run/1\" rel=\"noopener\">ci-url</a>"));
    assert!(build.contains("<a href=\"../artifacts/1\" rel=\"noopener\">artifact-url</a>"));
    assert!(
        build.contains("<span class=\"url\">evil-url</span>"),
        "{build}"
    );
    assert!(
        build.contains("<span class=\"url\">vb-url</span>"),
        "{build}"
    );
    // change 1's javascript: revlink
    assert!(build.contains("a1a1a1a1a1a1 on main"), "{build}");
    assert!(!build.contains("document.title"), "{build}");

    let (status, _, builder) = get(&server, "/builders/1").await;
    assert_eq!(status, 200, "{builder}");
    let builder = unescaped(&builder);
    assert_eq!(live_script(main_area(&builder)), []);
    assert!(
        builder.contains(
            "<div class=\"description\"><p class=\"about\">Builds <b>linux</b>, see\n  \
             <a href=\"https://example.org/doc\" rel=\"noopener noreferrer\">the doc</a> or \
             <a rel=\"noopener noreferrer\">this</a>"
        ),
        "{builder}"
    );
    assert!(!builder.contains("document.title") && !builder.contains("evil.example"));
}

#[tokio::test]
async fn logs_opened_in_the_browser_are_sandboxed() {
    let server = serve().await;
    for path in ["/api/v2/logs/1/raw_inline", "/api/v2/logs/1/raw"] {
        let response = reqwest::get(format!("{}{path}", server.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers().get("content-security-policy").unwrap(),
            "sandbox",
            "{path}"
        );
    }
    // the log viewer shows the HTML log in a sandboxed frame
    let (status, _, page) = get(&server, "/logs/1").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<iframe class=\"log-html\" sandbox src="),
        "{page}"
    );
}
