//! The console and grid view plugins (`plugins/console_view`, `plugins/grid_view`, built by
//! `cargo xtask build-plugins`) in a real server over HTTP, against the views dataset
//! (`fixtures/views/dataset.sql`): rows and columns in order (tag grouping, the change made up
//! from `got_revision`, idle builders hidden), every build in its cell with its link and
//! colour, the branch and tag filters, the transposed grid, paging both ways, escaping, bad
//! arguments, empty states, the pages inside the UI shell and the plugins' config.

use crate::common;

use common::{attrs, get, ids, plugin_page as page, Server};

/// The made-up change of the dataset: build 17 of `tools`, forced without a change.
const MADE_UP: &str = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";

/// Serves the views dataset with these TOML lines for the console and the grid.
async fn serve(console: &str, grid: &str) -> Server {
    common::serve_views(&[("console_view", console), ("grid_view", grid)]).await
}

/// The changes named in `html` in order: the changeid, or `made-up` for the made-up change.
fn changes(html: &str) -> Vec<String> {
    let mut found: Vec<(usize, String)> = html
        .match_indices(" data-changeid=\"")
        .map(|(i, _)| (i, attrs(&html[i..], "data-changeid").remove(0)))
        .collect();
    for (i, _) in html.match_indices(" data-revision=\"") {
        assert_eq!(attrs(&html[i..], "data-revision")[0], MADE_UP);
        found.push((i, "made-up".into()));
    }
    found.sort();
    found.into_iter().map(|(_, name)| name).collect()
}

/// The table's head and body.
fn head(html: &str) -> &str {
    &html[html.find("<thead>").expect("a table")..html.find("<tbody>").unwrap()]
}

fn body(html: &str) -> &str {
    &html[html.find("<tbody>").unwrap()..html.find("</tbody>").unwrap()]
}

/// The body's rows, each from its `<tr` to the next.
fn rows(html: &str) -> Vec<&str> {
    body(html).split("<tr").skip(1).collect()
}

/// The row of change `changeid` (console, transposed grid).
fn change_row(html: &str, changeid: i64) -> &str {
    let start = format!(" data-changeid=\"{changeid}\"");
    rows(html)
        .into_iter()
        .find(|r| r.starts_with(&start) || r.contains(&format!("\"{start}")))
        .unwrap_or_else(|| panic!("no row of change {changeid}"))
}

/// The cell of builder `builderid` in a row.
fn cell(row: &str, builderid: i64) -> &str {
    let at = row
        .find(&format!(
            "<td class=\"bbv-cell\" data-builderid=\"{builderid}\">"
        ))
        .unwrap_or_else(|| panic!("no cell of builder {builderid} in {row}"));
    &row[at..at + row[at..].find("</td>").unwrap()]
}

/// The link of the pager with `rel` (`next`, `prev`, `first`), unescaped, if any.
fn pager_link(html: &str, rel: &str) -> Option<String> {
    let end = html.find(&format!("\" rel=\"{rel}\""))?;
    let start = html[..end].rfind("href=\"").unwrap() + "href=\"".len();
    Some(html[start..end].replace("&amp;", "&"))
}

#[tokio::test]
async fn console_rows_columns_and_cells() {
    let server = serve("", "").await;
    let html = page(&server, "console_view", "").await;
    // changes newest first, the one made up from got_revision (T+2990) on top
    assert_eq!(changes(body(&html)), ["made-up", "5", "4", "3", "2", "1"]);
    // builders grouped by tags: build (3 builders) first, split by linux/macos/windows; then
    // test; then the one-builder tags by name; tools (no tags) last; idle (no builds) hidden
    assert_eq!(ids(head(&html), "data-builderid"), [1, 6, 3, 2, 4, 9, 5, 8]);
    assert_eq!(
        attrs(head(&html), "data-tag"),
        [
            "build",
            "test",
            "&lt;i&gt;",
            "docs",
            "",
            "linux",
            "macos",
            "windows",
            "linux",
            "windows"
        ]
    );
    assert!(!html.contains(">idle<"));
    // the made-up change: its build on tools
    let made_up = rows(&html)[0];
    assert!(made_up.starts_with(&format!(
        " class=\"bbv-made-up\" data-revision=\"{MADE_UP}\""
    )));
    assert_eq!(ids(made_up, "data-buildid"), [17]);
    assert!(cell(made_up, 8).contains("href=\"../../builders/8/builds/1\""));
    // every build of change 2, the rebuild of linux-build first in its cell
    let change2 = change_row(&html, 2);
    assert_eq!(ids(change2, "data-buildid"), [10, 6, 9, 8, 7]);
    assert_eq!(ids(cell(change2, 1), "data-buildid"), [10, 6]);
    assert_eq!(
        attrs(change2, "data-result"),
        ["success", "failure", "cancelled", "retry", "exception"]
    );
    assert!(cell(change2, 1).contains(
        "<a class=\"bbv-build\" href=\"../../builders/1/builds/3\" data-buildid=\"10\" \
         data-result=\"success\" style=\"background:#8d4;color:#000\""
    ));
    assert!(cell(change2, 2).contains("style=\"background:#c6c;color:#FFFFFF\""));
    let change1 = change_row(&html, 1);
    assert_eq!(
        attrs(change1, "data-result"),
        ["success", "warnings", "success", "failure", "skipped"]
    );
    // the running build
    let change4 = change_row(&html, 4);
    assert!(cell(change4, 2).contains(
        "class=\"bbv-build bbv-running\" href=\"../../builders/2/builds/3\" data-buildid=\"14\" \
         data-result=\"running\" style=\"background:#E7D100"
    ));
    // builders link to their pages; no pager when everything fits
    assert!(head(&html).contains("<a href=\"../../builders/9\">x&lt;b&gt;&quot;&amp;&#39;</a>"));
    assert!(!html.contains("<nav class=\"bbv-pager\""));
}

#[tokio::test]
async fn console_escapes_database_text() {
    let server = serve("", "").await;
    let html = page(&server, "console_view", "").await;
    for raw in ["<script>", "<b>", "<i>", "x<b>\"&'"] {
        assert!(!html.contains(raw), "{raw} is not escaped");
    }
    let change4 = change_row(&html, 4);
    assert!(change4
        .contains("title=\"&lt;script&gt;alert(1)&lt;/script&gt; &amp; fix &quot;quotes&quot;\""));
    assert!(change4.contains("title=\"Dave &lt;dave@example.org&gt;\">Dave</span>"));
    assert!(cell(change4, 9).contains(
        "title=\"x&lt;b&gt;&quot;&amp;&#39; #1: build &lt;successful&gt; &amp; &quot;ok&quot;\""
    ));
    assert!(head(&html).contains("data-tag=\"&lt;i&gt;\"><a href=\"?tag=%3Ci%3E\">&lt;i&gt;</a>"));
    // in the filter form too
    let filtered = page(&server, "console_view", "?branch=%22%3E%3Cb%3E").await;
    assert!(filtered.contains("name=\"branch\" value=\"&quot;&gt;&lt;b&gt;\""));
    assert!(filtered.contains("No changes on branch &quot;&gt;&lt;b&gt; yet."));
}

#[tokio::test]
async fn console_filters_by_branch_and_tag() {
    let server = serve("", "").await;
    let main = page(&server, "console_view", "?branch=main").await;
    // the made-up change's source stamp is on main
    assert_eq!(changes(body(&main)), ["made-up", "4", "2", "1"]);
    assert!(main.contains("name=\"branch\" value=\"main\""));
    let feature = page(&server, "console_view", "?branch=feature%2Fx").await;
    assert_eq!(changes(body(&feature)), ["5"]);
    assert_eq!(ids(head(&feature), "data-builderid"), [6]);

    // every tag asked for: linux builders with builds, grouped again below linux
    let linux = page(&server, "console_view", "?tag=linux").await;
    assert_eq!(ids(head(&linux), "data-builderid"), [1, 2]);
    assert_eq!(attrs(head(&linux), "data-tag"), ["linux", "build", "test"]);
    assert!(linux.contains(
        "<span class=\"bbv-chosen\" data-tag=\"linux\">linux<a href=\"./\" title=\"remove this tag\">"
    ));
    let both = page(&server, "console_view", "?tag=windows&tag=test&branch=main").await;
    assert_eq!(ids(head(&both), "data-builderid"), [4]);
    assert_eq!(changes(body(&both)), ["made-up", "4", "2", "1"]);
    let none = page(&server, "console_view", "?tag=nope").await;
    assert!(none.contains("No builds of these changes for builders tagged nope."));
    assert!(head(&none).contains("<th class=\"bbv-change\">Change</th></tr>"));
}

#[tokio::test]
async fn console_pages_older_and_newer() {
    let server = serve("changes = 2", "").await;
    let first = page(&server, "console_view", "").await;
    assert_eq!(changes(body(&first)), ["made-up", "5"]);
    assert_eq!(pager_link(&first, "prev"), None);
    let older = pager_link(&first, "next").unwrap();
    assert_eq!(older, "?before=5&until=1700002400");

    let second = page(&server, "console_view", &older).await;
    assert_eq!(changes(body(&second)), ["4", "3"]);
    let third = page(
        &server,
        "console_view",
        &pager_link(&second, "next").unwrap(),
    )
    .await;
    assert_eq!(changes(body(&third)), ["2", "1"]);
    assert_eq!(pager_link(&third, "next"), None);

    let up = page(
        &server,
        "console_view",
        &pager_link(&third, "prev").unwrap(),
    )
    .await;
    assert_eq!(changes(body(&up)), ["4", "3"]);
    assert_eq!(pager_link(&up, "first").as_deref(), Some("./"));
    let top = page(&server, "console_view", &pager_link(&up, "prev").unwrap()).await;
    assert_eq!(changes(body(&top)), ["made-up", "5"]);

    // the page size from the URL, kept with the filters in the links
    let url = page(&server, "console_view", "?changes=3&branch=main").await;
    assert_eq!(changes(body(&url)), ["made-up", "4", "2"]);
    assert_eq!(
        pager_link(&url, "next").as_deref(),
        Some("?changes=3&branch=main&before=2&until=1700000600")
    );
    let last = page(
        &server,
        "console_view",
        "?changes=3&branch=main&before=2&until=1700000600",
    )
    .await;
    assert_eq!(changes(body(&last)), ["1"]);
    // past the end
    let past = page(&server, "console_view", "?before=1&until=1600000000").await;
    assert!(past.contains("No more changes."));
}

#[tokio::test]
async fn bad_arguments_are_400_with_a_clear_text() {
    let server = serve("", "").await;
    for (view, query, text) in [
        (
            "console_view",
            "?page=abc",
            "bad console request: unknown argument 'page' (expected one of: changes, branch, \
             before, until, after, since, tag)\n",
        ),
        (
            "console_view",
            "?changes=-5",
            "bad console request: invalid changes '-5': expected a whole number from 1 to 200\n",
        ),
        (
            "console_view",
            "?before=abc",
            "bad console request: invalid before 'abc': expected a changeid (a whole number, 0 \
             or more)\n",
        ),
        (
            "grid_view",
            "?before=1&after=2",
            "bad grid request: before/until and after/since cannot be combined\n",
        ),
        (
            "grid_view",
            "?transposed=maybe",
            "bad grid request: invalid transposed 'maybe': expected 1 or 0\n",
        ),
    ] {
        for prefix in ["plugins", "views"] {
            let (status, content_type, body) =
                get(&server, &format!("/{prefix}/{view}/{query}")).await;
            assert_eq!(
                (status, body.as_str()),
                (400, text),
                "{prefix}/{view}{query}"
            );
            assert_eq!(content_type, "text/plain; charset=utf-8");
        }
    }
    let (status, _, _) = get(&server, "/plugins/console_view/nothing/here").await;
    assert_eq!(status, 404);
    let response = reqwest::Client::new()
        .post(format!("{}/plugins/grid_view/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
}

#[tokio::test]
async fn grid_builders_as_rows_changes_as_columns() {
    let server = serve("", "").await;
    let html = page(&server, "grid_view", "").await;
    // five changes by default, newest first, the made-up one included
    assert_eq!(changes(head(&html)), ["made-up", "5", "4", "3", "2"]);
    // builders with builds in those changes, by name (docs and win-test only built change 1)
    let rows: Vec<i64> = rows(&html)
        .iter()
        .map(|r| ids(&r[..r.find('>').unwrap()], "data-builderid")[0])
        .collect();
    assert_eq!(rows, [1, 2, 6, 8, 3, 9]);
    // cells in column order; both builds of linux-build for change 2
    let linux_build = self::rows(&html)[0];
    assert_eq!(ids(linux_build, "data-buildid"), [13, 11, 10, 6]);
    assert_eq!(ids(cell(linux_build, 1), "data-buildid"), [13]);
    assert!(linux_build.contains("<span class=\"bbv-tag\">linux</span>"));
    assert!(linux_build
        .contains("href=\"../../builders/1/builds/2\" data-buildid=\"6\" data-result=\"failure\""));
    let special = self::rows(&html)[5];
    assert!(special.contains("<a href=\"../../builders/9\">x&lt;b&gt;&quot;&amp;&#39;</a> <span class=\"bbv-tag\">&lt;i&gt;</span>"));
    assert!(!html.contains("<script>") && !html.contains("<b>"));
    // the next page holds change 1 and its builders
    let older = pager_link(&html, "next").unwrap();
    let second = page(&server, "grid_view", &older).await;
    assert_eq!(changes(head(&second)), ["1"]);
    assert_eq!(
        ids(body(&second), "data-builderid").len(),
        10,
        "5 rows, 5 cells"
    );
    assert_eq!(pager_link(&second, "first").as_deref(), Some("./"));
}

#[tokio::test]
async fn grid_filters_and_transposed_layout() {
    let server = serve("", "").await;
    let release = page(&server, "grid_view", "?branch=release").await;
    assert_eq!(changes(head(&release)), ["3"]);
    assert_eq!(ids(body(&release), "data-builderid"), [1, 1, 3, 3]);
    let windows = page(&server, "grid_view", "?tag=windows&changes=10").await;
    assert_eq!(
        changes(head(&windows)),
        ["made-up", "5", "4", "3", "2", "1"]
    );
    let rows: Vec<i64> = rows(&windows)
        .iter()
        .map(|r| ids(&r[..r.find('>').unwrap()], "data-builderid")[0])
        .collect();
    assert_eq!(rows, [3, 4]);

    // transposed: changes as rows, builders as columns by name
    let transposed = page(&server, "grid_view", "?transposed=1").await;
    assert_eq!(changes(body(&transposed)), ["made-up", "5", "4", "3", "2"]);
    assert_eq!(ids(head(&transposed), "data-builderid"), [1, 2, 6, 8, 3, 9]);
    assert_eq!(
        ids(cell(change_row(&transposed, 2), 1), "data-buildid"),
        [10, 6]
    );
    assert!(transposed.contains("<a href=\"?transposed=0\">Swap rows and columns</a>"));

    // transposed by the config, and back by the URL
    let server = serve("", "transposed = true\nchanges = 2").await;
    let html = page(&server, "grid_view", "").await;
    assert_eq!(changes(body(&html)), ["made-up", "5"]);
    assert_eq!(ids(head(&html), "data-builderid"), [6, 8]);
    let back = page(&server, "grid_view", "?transposed=0").await;
    assert_eq!(changes(head(&back)), ["made-up", "5"]);
    assert_eq!(
        pager_link(&back, "next").as_deref(),
        Some("?transposed=0&before=5&until=1700002400")
    );
}

#[tokio::test]
async fn views_inside_the_ui_shell() {
    let server = serve("", "").await;
    for (view, table) in [("console_view", "bbv-console"), ("grid_view", "bbv-grid")] {
        let (status, content_type, html) = get(&server, &format!("/views/{view}/")).await;
        assert_eq!(status, 200, "{html}");
        assert!(content_type.starts_with("text/html"));
        // the styles in the shell's head, the table in its main area
        let head = &html[..html.find("</head>").unwrap()];
        assert!(head.contains(".bbv-build{"), "{view}: styles in the head");
        let main = &html[html.find("<main").unwrap()..];
        assert!(main.contains(&format!("<div class=\"bbv {table}\">")));
        // relative links from /views/<view>/ reach the build pages
        assert!(main.contains("href=\"../../builders/1/builds/3\""));
        // the sidebar lists both views
        assert!(html.contains(
            "data-key=\"plugin:console_view\"><span class=\"icon\">▤</span>Console View"
        ));
        assert!(
            html.contains("data-key=\"plugin:grid_view\"><span class=\"icon\">⊞</span>Grid View")
        );
    }
    // the filters work inside the shell too
    let (status, _, html) = get(&server, "/views/console_view/?branch=release").await;
    assert_eq!(status, 200);
    assert_eq!(changes(body(&html)), ["3"]);
}

#[tokio::test]
async fn empty_database() {
    let server = serve("", "").await;
    // a branch without changes is what an empty database shows
    let console = page(&server, "console_view", "?branch=none").await;
    assert!(console.contains("<p class=\"bbv-empty\">No changes on branch none yet.</p>"));
    assert!(!console.contains("<table"));
    let grid = page(&server, "grid_view", "?branch=none&tag=linux").await;
    assert!(grid.contains("No changes on branch none for builders tagged linux yet."));
}

#[tokio::test]
async fn config_errors_stop_the_start() {
    for (config, message) in [
        (
            "chnages = 3",
            "console_view: unknown option 'chnages' (expected one of: changes)",
        ),
        (
            "changes = 0",
            "console_view: option 'changes' must be from 1 to 200, not 0",
        ),
        (
            "changes = \"x\"",
            "console_view: invalid config: option 'changes': invalid type: string \"x\", expected i64",
        ),
    ] {
        let error =
            common::start_up_error(&common::bundled_plugins_config(&[("console_view", config)]))
                .await;
        assert!(error.contains(message), "{config}: {error}");
    }
}
