//! The console and grid view plugins (`plugins/console_view`, `plugins/grid_view`, built by
//! `cargo xtask build-plugins`) in a real server over HTTP, against the views dataset
//! (`fixtures/views/dataset.sql`): rows and columns in order (tag grouping, the change made up
//! from `got_revision`, idle builders hidden), every build in its cell with its link and
//! colour, the branch and tag filters, the transposed grid, paging both ways, escaping, bad
//! arguments, empty states, the pages inside the UI shell and the plugins' config.

use crate::common;

use common::html::{self, attr, attrs_of, has_class, text, Find};
use common::{get, Server};
use scraper::{ElementRef, Html};

/// The made-up change of the dataset: build 17 of `tools`, forced without a change.
const MADE_UP: &str = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";

/// Serves the views dataset with these TOML lines for the console and the grid.
async fn serve(console: &str, grid: &str) -> Server {
    common::serve_views(&[("console_view", console), ("grid_view", grid)]).await
}

/// The page of `view` at `query`, which must be a 200 page, parsed.
async fn page(server: &Server, view: &str, query: &str) -> Html {
    html::parse(&common::plugin_page(server, view, query).await)
}

/// The changes below `scope` in order (the rows of the console and of the transposed grid,
/// the columns of the grid): the changeid, or `made-up` for the change made up from
/// `got_revision`.
fn changes<'a>(scope: impl Find<'a>) -> Vec<String> {
    scope
        .all("[data-changeid], [data-revision]")
        .into_iter()
        .map(|e| match e.value().attr("data-changeid") {
            Some(changeid) => changeid.to_owned(),
            None => {
                assert_eq!(attr(e, "data-revision"), MADE_UP);
                "made-up".to_owned()
            }
        })
        .collect()
}

/// The table's head and body.
fn head(doc: &Html) -> ElementRef<'_> {
    doc.one("table.bbv-table > thead")
}

fn body(doc: &Html) -> ElementRef<'_> {
    doc.one("table.bbv-table > tbody")
}

/// The body's rows.
fn rows(doc: &Html) -> Vec<ElementRef<'_>> {
    body(doc).all(":scope > tr")
}

/// The row of change `changeid` (console, transposed grid).
fn change_row(doc: &Html, changeid: i64) -> ElementRef<'_> {
    body(doc).one(&format!(":scope > tr[data-changeid=\"{changeid}\"]"))
}

/// The cell of builder `builderid` in a row.
fn cell(row: ElementRef<'_>, builderid: i64) -> ElementRef<'_> {
    row.one(&format!(
        ":scope > td.bbv-cell[data-builderid=\"{builderid}\"]"
    ))
}

/// The build box of build `buildid` below `scope`.
fn build<'a>(scope: impl Find<'a>, buildid: i64) -> ElementRef<'a> {
    scope.one(&format!("a.bbv-build[data-buildid=\"{buildid}\"]"))
}

/// The link of the pager with `rel` (`next`, `prev`, `first`), if any.
fn pager_link(doc: &Html, rel: &str) -> Option<String> {
    let links = doc.all(&format!("nav.bbv-pager > a[rel=\"{rel}\"]"));
    assert!(links.len() <= 1, "{} {rel} links", links.len());
    links.first().map(|a| attr(*a, "href").to_owned())
}

/// The text shown instead of a table.
fn empty_note(doc: &Html) -> String {
    text(doc.one("p.bbv-empty"))
}

/// The texts of the elements matching `css` below `scope`.
fn texts<'a>(scope: impl Find<'a>, css: &str) -> Vec<String> {
    scope.all(css).into_iter().map(text).collect()
}

#[tokio::test]
async fn console_rows_columns_and_cells() {
    let server = serve("", "").await;
    let doc = page(&server, "console_view", "").await;
    // changes newest first, the one made up from got_revision (T+2990) on top
    assert_eq!(changes(body(&doc)), ["made-up", "5", "4", "3", "2", "1"]);
    // builders grouped by tags: build (3 builders) first, split by linux/macos/windows; then
    // test; then the one-builder tags by name; tools (no tags) last; idle (no builds) hidden
    assert_eq!(head(&doc).ids("data-builderid"), [1, 6, 3, 2, 4, 9, 5, 8]);
    assert_eq!(
        texts(head(&doc), "th.bbv-builder"),
        [
            "linux-build",
            "mac-build",
            "win-build",
            "linux-test",
            "win-test",
            "x<b>\"&'",
            "docs",
            "tools"
        ]
    );
    assert_eq!(
        head(&doc).attrs("data-tag"),
        ["build", "test", "<i>", "docs", "", "linux", "macos", "windows", "linux", "windows"]
    );
    // the made-up change: its build on tools
    let made_up = rows(&doc)[0];
    assert!(has_class(made_up, "bbv-made-up"));
    assert_eq!(attr(made_up, "data-revision"), MADE_UP);
    assert_eq!(made_up.ids("data-buildid"), [17]);
    assert_eq!(
        attr(build(cell(made_up, 8), 17), "href"),
        "../../builders/8/builds/1"
    );
    // every build of change 2, the rebuild of linux-build first in its cell
    let change2 = change_row(&doc, 2);
    assert_eq!(change2.ids("data-buildid"), [10, 6, 9, 8, 7]);
    assert_eq!(cell(change2, 1).ids("data-buildid"), [10, 6]);
    assert_eq!(
        change2.attrs("data-result"),
        ["success", "failure", "cancelled", "retry", "exception"]
    );
    assert_eq!(
        attrs_of(cell(change2, 1).all("a")[0])[..5],
        [
            ("class", "bbv-build"),
            ("href", "../../builders/1/builds/3"),
            ("data-buildid", "10"),
            ("data-result", "success"),
            ("style", "background:#8d4;color:#000")
        ]
    );
    assert_eq!(
        attr(build(cell(change2, 2), 7), "style"),
        "background:#c6c;color:#FFFFFF"
    );
    let change1 = change_row(&doc, 1);
    assert_eq!(
        change1.attrs("data-result"),
        ["success", "warnings", "success", "failure", "skipped"]
    );
    // the running build
    let running = build(cell(change_row(&doc, 4), 2), 14);
    assert_eq!(
        attrs_of(running)[..4],
        [
            ("class", "bbv-build bbv-running"),
            ("href", "../../builders/2/builds/3"),
            ("data-buildid", "14"),
            ("data-result", "running")
        ]
    );
    assert!(attr(running, "style").starts_with("background:#E7D100;"));
    // builders link to their pages; no pager when everything fits
    let builder9 = head(&doc).one("th.bbv-builder[data-builderid=\"9\"] > a");
    assert_eq!(attr(builder9, "href"), "../../builders/9");
    assert_eq!(text(builder9), "x<b>\"&'");
    assert!(doc.all("nav.bbv-pager").is_empty());
}

#[tokio::test]
async fn console_escapes_database_text() {
    let server = serve("", "").await;
    let raw = common::plugin_page(&server, "console_view", "").await;
    for unescaped in ["<script>", "<b>", "<i>", "x<b>\"&'"] {
        assert!(!raw.contains(unescaped), "{unescaped} is not escaped");
    }
    // what the escaped text reads as
    let doc = html::parse(&raw);
    let change4 = change_row(&doc, 4);
    assert_eq!(
        attr(change4.one("span.bbv-comments"), "title"),
        "<script>alert(1)</script> & fix \"quotes\""
    );
    let author = change4.one("span.bbv-author");
    assert_eq!(
        (attr(author, "title"), text(author).as_str()),
        ("Dave <dave@example.org>", "Dave")
    );
    assert_eq!(
        attr(build(cell(change4, 9), 15), "title"),
        "x<b>\"&' #1: build <successful> & \"ok\""
    );
    let tag = head(&doc).one("th[data-tag=\"<i>\"] > a");
    assert_eq!(
        (attr(tag, "href"), text(tag).as_str()),
        ("?tag=%3Ci%3E", "<i>")
    );
    // in the filter form too
    let filtered = page(&server, "console_view", "?branch=%22%3E%3Cb%3E").await;
    assert_eq!(attr(filtered.one("input[name=branch]"), "value"), "\"><b>");
    assert_eq!(empty_note(&filtered), "No changes on branch \"><b> yet.");
}

#[tokio::test]
async fn console_filters_by_branch_and_tag() {
    let server = serve("", "").await;
    let main = page(&server, "console_view", "?branch=main").await;
    // the made-up change's source stamp is on main
    assert_eq!(changes(body(&main)), ["made-up", "4", "2", "1"]);
    assert_eq!(attr(main.one("input[name=branch]"), "value"), "main");
    let feature = page(&server, "console_view", "?branch=feature%2Fx").await;
    assert_eq!(changes(body(&feature)), ["5"]);
    assert_eq!(head(&feature).ids("data-builderid"), [6]);

    // every tag asked for: linux builders with builds, grouped again below linux
    let linux = page(&server, "console_view", "?tag=linux").await;
    assert_eq!(head(&linux).ids("data-builderid"), [1, 2]);
    assert_eq!(head(&linux).attrs("data-tag"), ["linux", "build", "test"]);
    let chosen = linux.one("form.bbv-filters span.bbv-chosen");
    assert_eq!(attr(chosen, "data-tag"), "linux");
    assert_eq!(text(chosen), "linux×");
    let remove = chosen.one("a");
    assert_eq!(
        (attr(remove, "href"), attr(remove, "title")),
        ("./", "remove this tag")
    );
    let both = page(&server, "console_view", "?tag=windows&tag=test&branch=main").await;
    assert_eq!(head(&both).ids("data-builderid"), [4]);
    assert_eq!(changes(body(&both)), ["made-up", "4", "2", "1"]);
    let none = page(&server, "console_view", "?tag=nope").await;
    assert_eq!(
        empty_note(&none),
        "No builds of these changes for builders tagged nope."
    );
    // the head keeps its Change column, without builders
    assert_eq!(texts(head(&none), "th.bbv-change"), ["Change"]);
    assert!(head(&none).all("th.bbv-builder").is_empty());
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
    assert_eq!(empty_note(&past), "No more changes.");
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
    let raw = common::plugin_page(&server, "grid_view", "").await;
    assert!(!raw.contains("<script>") && !raw.contains("<b>"));
    let doc = html::parse(&raw);
    // five changes by default, newest first, the made-up one included
    assert_eq!(changes(head(&doc)), ["made-up", "5", "4", "3", "2"]);
    // builders with builds in those changes, by name (docs and win-test only built change 1)
    let builders = body(&doc).numbers(":scope > tr", "data-builderid");
    assert_eq!(builders, [1, 2, 6, 8, 3, 9]);
    // cells in column order; both builds of linux-build for change 2
    let linux_build = rows(&doc)[0];
    assert_eq!(linux_build.ids("data-buildid"), [13, 11, 10, 6]);
    assert_eq!(
        linux_build
            .all(":scope > td")
            .iter()
            .map(|td| td.ids("data-buildid"))
            .collect::<Vec<_>>(),
        [vec![], vec![], vec![13], vec![11], vec![10, 6]]
    );
    assert_eq!(
        texts(linux_build, "th.bbv-builder span.bbv-tag"),
        ["linux", "build"]
    );
    let six = build(linux_build, 6);
    assert_eq!(
        (attr(six, "href"), attr(six, "data-result")),
        ("../../builders/1/builds/2", "failure")
    );
    let special = rows(&doc)[5].one("th.bbv-builder");
    let link = special.one("a");
    assert_eq!(
        (attr(link, "href"), text(link).as_str()),
        ("../../builders/9", "x<b>\"&'")
    );
    assert_eq!(texts(special, "span.bbv-tag"), ["<i>"]);
    // the next page holds change 1 and its builders
    let older = pager_link(&doc, "next").unwrap();
    let second = page(&server, "grid_view", &older).await;
    assert_eq!(changes(head(&second)), ["1"]);
    assert_eq!(
        body(&second).ids("data-builderid").len(),
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
    assert_eq!(body(&release).ids("data-builderid"), [1, 1, 3, 3]);
    let windows = page(&server, "grid_view", "?tag=windows&changes=10").await;
    assert_eq!(
        changes(head(&windows)),
        ["made-up", "5", "4", "3", "2", "1"]
    );
    let builders = body(&windows).numbers(":scope > tr", "data-builderid");
    assert_eq!(builders, [3, 4]);

    // transposed: changes as rows, builders as columns by name
    let transposed = page(&server, "grid_view", "?transposed=1").await;
    assert_eq!(changes(body(&transposed)), ["made-up", "5", "4", "3", "2"]);
    assert_eq!(head(&transposed).ids("data-builderid"), [1, 2, 6, 8, 3, 9]);
    assert_eq!(
        cell(change_row(&transposed, 2), 1).ids("data-buildid"),
        [10, 6]
    );
    let swap = transposed.one("form.bbv-filters a[href=\"?transposed=0\"]");
    assert_eq!(text(swap), "Swap rows and columns");

    // transposed by the config, and back by the URL
    let server = serve("", "transposed = true\nchanges = 2").await;
    let doc = page(&server, "grid_view", "").await;
    assert_eq!(changes(body(&doc)), ["made-up", "5"]);
    assert_eq!(head(&doc).ids("data-builderid"), [6, 8]);
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
        let doc = html::parse(&html);
        // the styles in the shell's head, the table in its main area
        assert!(
            texts(&doc, "head > style")
                .iter()
                .any(|css| css.contains(".bbv-build{")),
            "{view}: styles in the head"
        );
        let main = doc.one("main");
        assert_eq!(attr(main.one("div.bbv"), "class"), format!("bbv {table}"));
        // relative links from /views/<view>/ reach the build pages
        assert_eq!(main.all("a[href=\"../../builders/1/builds/3\"]").len(), 1);
        // the sidebar lists both views
        for (key, entry) in [
            ("plugin:console_view", "▤Console View"),
            ("plugin:grid_view", "⊞Grid View"),
        ] {
            let link = doc.one(&format!("a[data-key=\"{key}\"]"));
            assert_eq!(text(link), entry);
            assert_eq!(texts(link, "span.icon").len(), 1);
        }
    }
    // the filters work inside the shell too
    let (status, _, html) = get(&server, "/views/console_view/?branch=release").await;
    assert_eq!(status, 200);
    assert_eq!(changes(body(&html::parse(&html))), ["3"]);
}

#[tokio::test]
async fn empty_database() {
    let server = serve("", "").await;
    // a branch without changes is what an empty database shows
    let console = page(&server, "console_view", "?branch=none").await;
    assert_eq!(empty_note(&console), "No changes on branch none yet.");
    assert!(console.all("table").is_empty());
    let grid = page(&server, "grid_view", "?branch=none&tag=linux").await;
    assert_eq!(
        empty_note(&grid),
        "No changes on branch none for builders tagged linux yet."
    );
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
