//! Unit tests of the console's page with the views dataset (`common::fixture`); the same
//! cases run against the real component over HTTP in `host/tests/console_view.rs`.

use buildbot_plugin_sdk::{testing, DataError};

use super::*;
use crate::common::fixture::scraper::{Html, Selector};
use crate::common::fixture::{self, args, hostile, texts, values};

fn console(query: &str) -> String {
    let args = args(query, &[]);
    render(
        &templates().unwrap(),
        &args,
        &fixture::view(&args),
        "../../",
    )
    .unwrap()
}

/// The rows' changeids (`r<revision>` for made-up changes).
fn rows(html: &str) -> Vec<String> {
    let page = Html::parse_document(html);
    page.select(&Selector::parse("tbody tr").unwrap())
        .map(|row| {
            let row = row.value();
            match (row.attr("data-changeid"), row.attr("data-revision")) {
                (Some(changeid), _) => changeid.to_owned(),
                (None, Some(revision)) => format!("r{}", &revision[..4]),
                (None, None) => panic!("a row without a change"),
            }
        })
        .collect()
}

#[test]
fn rows_are_changes_newest_first_with_the_made_up_one_on_top() {
    let html = console("");
    assert_eq!(rows(&html), ["rf0f0", "5", "4", "3", "2", "1"]);
    assert_eq!(
        values(&html, "tbody tr:first-child", "data-revision"),
        ["f0".repeat(20)]
    );
    assert!(html.contains("<tr class=\"bbv-made-up\" data-revision=\"f0f0"));
    assert!(html.contains("built without a change"));
}

#[test]
fn builders_are_columns_grouped_by_tags() {
    let html = console("");
    let head = &html[..html.find("<tbody>").unwrap()];
    assert_eq!(
        values(&html, "thead [data-builderid]", "data-builderid"),
        ["1", "6", "3", "2", "4", "9", "5", "8"]
    );
    assert_eq!(
        values(&html, "thead [data-tag]", "data-tag"),
        ["build", "test", "<i>", "docs", "", "linux", "macos", "windows", "linux", "windows"]
    );
    // the second header row: the subgroups of build and test, a blank cell under the others
    let second = head.split("<tr class=\"bbv-tags\">").nth(2).unwrap();
    assert!(
        second.starts_with("<th></th><th class=\"bbv-group\" colspan=\"1\" data-tag=\"linux\">")
    );
    assert!(second.contains(
        "data-tag=\"windows\"><a href=\"?tag=test&amp;tag=windows\">windows</a></th>\
         <th colspan=\"1\"></th><th colspan=\"1\"></th><th colspan=\"1\"></th></tr>"
    ));
    assert!(head.contains("data-tag=\"linux\"><a href=\"?tag=build&amp;tag=linux\">linux</a>"));
}

#[test]
fn cells_link_every_build_in_buildbot_colours() {
    let html = console("");
    // change 2 on linux-build: the rebuild first, then the failed build
    let row = html
        .split("<tr")
        .find(|r| r.starts_with(" data-changeid=\"2\""))
        .unwrap();
    let boxes = "tr[data-changeid='2'] [data-buildid]";
    assert_eq!(
        values(&html, boxes, "data-buildid"),
        ["10", "6", "9", "8", "7"]
    );
    assert_eq!(
        values(&html, boxes, "data-result"),
        ["success", "failure", "cancelled", "retry", "exception"]
    );
    assert!(row.contains(
        "<a class=\"bbv-build\" href=\"../../builders/1/builds/3\" data-buildid=\"10\" \
         data-result=\"success\" style=\"background:#8d4;color:#000\""
    ));
    let running = html
        .split("<tr")
        .find(|r| r.starts_with(" data-changeid=\"4\""))
        .unwrap();
    assert!(running.contains("class=\"bbv-build bbv-running\" href=\"../../builders/2/builds/3\" data-buildid=\"14\" data-result=\"running\""));
}

#[test]
fn database_text_is_escaped() {
    let html = console("");
    assert!(!html.contains("<script>") && !html.contains("<b>") && !html.contains("<i>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; fix &quot;quotes&quot;"));
    assert!(html.contains(">x&lt;b&gt;&quot;&amp;&#39;</a>"));
    assert!(html.contains(
        "title=\"x&lt;b&gt;&quot;&amp;&#39; #1: build &lt;successful&gt; &amp; &quot;ok&quot;\""
    ));
}

#[test]
fn hostile_database_text_stays_text() {
    let args = args("", &[]);
    let html = render(
        &templates().unwrap(),
        &args,
        &fixture::hostile_view(&args),
        "../../",
    )
    .unwrap();
    fixture::assert_hostile_text_reads_back(&html);
    // the builder's name and tag in the headers, the comments in full
    assert!(texts(&html, "th.bbv-builder a").contains(&hostile("name")));
    assert!(values(&html, "thead [data-tag]", "data-tag").contains(&hostile("tag")));
    assert!(texts(&html, "th.bbv-group a").contains(&hostile("tag")));
    assert_eq!(
        values(&html, "[data-changeid='5'] .bbv-comments", "title"),
        [hostile("comments")]
    );
}

#[test]
fn tag_filter_keeps_builders_with_every_tag() {
    let html = console("tag=linux&tag=build");
    assert_eq!(
        values(&html, "thead [data-builderid]", "data-builderid"),
        ["1"]
    );
    assert!(html.contains("data-tag=\"linux\">linux<a href=\"?tag=build\""));
    let none = console("tag=nope");
    assert!(none.contains("No builds of these changes for builders tagged nope."));
}

#[test]
fn pager_and_filters_keep_the_arguments() {
    let args = args("branch=feature%2Fx&tag=linux&changes=2", &[]);
    let mut view = fixture::view(&args);
    view.page.older = Some(buildbot_plugin_sdk::changes::Cursor {
        changeid: Some(4),
        time: Some(1_700_001_800),
    });
    let html = render(&templates().unwrap(), &args, &view, "../../").unwrap();
    assert!(html.contains(
        "<a href=\"?branch=feature%2Fx&amp;tag=linux&amp;changes=2&amp;before=4&amp;until=1700001800\" rel=\"next\">Older ›</a>"
    ));
    assert!(!html.contains("Newer"));
    assert!(html.contains("name=\"branch\" value=\"feature/x\""));
    assert!(html.contains("<input type=\"hidden\" name=\"changes\" value=\"2\">"));
}

#[test]
fn bad_arguments_and_methods() {
    testing::set_data(|_, _| Err(DataError::new(500, "no data in this test")));
    let mut console = ConsoleView::init(Config::empty("console_view")).unwrap();
    let mut get = |query: &str| console.respond(&Request::get("/").with_query(query));
    let bad = get("page=abc");
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body_text().unwrap(),
        "bad console request: unknown argument 'page' (expected one of: changes, branch, before, until, after, since, tag)\n"
    );
    assert_eq!(
        get("changes=-5").body_text().unwrap(),
        "bad console request: invalid changes '-5': expected a whole number from 1 to 200\n"
    );
    let failed = get("");
    assert_eq!(failed.status, 500);
    assert_eq!(
        failed.body_text().unwrap(),
        "console: no data in this test\n"
    );
    assert_eq!(console.respond(&Request::get("/x")).status, 404);
    assert_eq!(console.respond(&Request::get("/x/")).status, 404);
    let post = console.respond(&Request::new("POST", "/"));
    assert_eq!(
        (post.status, post.header("allow")),
        (405, Some("GET, HEAD"))
    );
    assert_eq!(console.respond(&Request::new("HEAD", "/")).status, 500);
}

#[test]
fn empty_history() {
    testing::set_data(|path, _| {
        Ok(format!(
            r#"{{"{}": [], "meta": {{}}}}"#,
            path.split('/').next().unwrap()
        ))
    });
    let mut console = ConsoleView::init(Config::empty("console_view")).unwrap();
    let page = console.respond(&Request::get("/"));
    assert_eq!(page.status, 200);
    assert!(page
        .body_text()
        .unwrap()
        .contains("<p class=\"bbv-empty\">No changes yet.</p>"));
    let filtered = console.respond(&Request::get("/").with_query("branch=x%3Cy"));
    assert!(filtered
        .body_text()
        .unwrap()
        .contains("No changes on branch x&lt;y yet."));
}

#[test]
fn config_options() {
    let config = |json: &str| ConsoleView::init(Config::from_json("console_view", json).unwrap());
    assert_eq!(config("{}").unwrap().changes, 30);
    assert_eq!(config(r#"{"changes": 5}"#).unwrap().changes, 5);
    assert_eq!(
        config(r#"{"changes": 0}"#).unwrap_err(),
        "console_view: option 'changes' must be from 1 to 200, not 0"
    );
    assert_eq!(
        config(r#"{"changes": 201}"#).unwrap_err(),
        "console_view: option 'changes' must be from 1 to 200, not 201"
    );
    assert_eq!(
        config(r#"{"changes": "x"}"#).unwrap_err(),
        "console_view: invalid config: option 'changes': invalid type: string \"x\", expected i64"
    );
    assert_eq!(
        config(r#"{"change": 5}"#).unwrap_err(),
        "console_view: unknown option 'change' (expected one of: changes)"
    );
    let manifest = ConsoleView::manifest();
    assert_eq!(manifest.name, "console_view");
    assert_eq!(manifest.menu[0].label, "Console View");
    assert_eq!(manifest.events, ["builds/*/*", "changes/*/new"]);
}
