//! Unit tests of the grid's page with the views dataset (`common::fixture`); the same cases
//! run against the real component over HTTP in `host/tests/console_view.rs`.

use buildbot_plugin_sdk::{testing, DataError};

use super::*;
use crate::common::fixture::{self, args, hostile, texts, values};

fn grid(query: &str, transposed: bool) -> String {
    let args = args(query, &["transposed"]);
    render(
        &templates().unwrap(),
        &args,
        &fixture::view(&args),
        transposed,
        "../../",
    )
    .unwrap()
}

fn body(html: &str) -> &str {
    &html[html.find("<tbody>").unwrap()..]
}

#[test]
fn builders_as_rows_changes_as_columns_newest_first() {
    let html = grid("", false);
    assert_eq!(
        values(&html, "thead [data-changeid]", "data-changeid"),
        ["5", "4", "3", "2", "1"]
    );
    // the made-up change first
    assert_eq!(
        values(&html, "thead th.bbv-change:nth-child(2)", "data-revision"),
        ["f0".repeat(20)]
    );
    // by name: docs linux-build linux-test mac-build tools win-build win-test x<b>"&'
    assert_eq!(
        values(&html, "tbody tr", "data-builderid"),
        ["5", "1", "2", "6", "8", "3", "4", "9"]
    );
    // linux-build under change 2: both builds, newest first
    let linux = "tbody tr[data-builderid='1']";
    assert_eq!(
        values(&html, &format!("{linux} [data-buildid]"), "data-buildid"),
        ["13", "11", "10", "6", "1"]
    );
    assert_eq!(
        texts(&html, &format!("{linux} .bbv-tag")),
        ["linux", "build"]
    );
}

#[test]
fn transposed_puts_changes_in_rows() {
    for html in [grid("", true), grid("transposed=1", true)] {
        assert_eq!(
            values(&html, "thead [data-builderid]", "data-builderid"),
            ["5", "1", "2", "6", "8", "3", "4", "9"]
        );
        assert!(body(&html).starts_with("<tbody>\n<tr class=\"bbv-made-up\" data-revision=\"f0f0"));
        assert_eq!(
            values(&html, "tbody tr", "data-changeid"),
            ["5", "4", "3", "2", "1"]
        );
        assert!(html.contains("bbv-transposed"));
    }
    // the swap link keeps the other arguments
    assert!(grid("branch=main&transposed=1", true)
        .contains("<a href=\"?branch=main&amp;transposed=0\">Swap rows and columns</a>"));
    assert!(grid("", false).contains("<a href=\"?transposed=1\">Swap rows and columns</a>"));
}

#[test]
fn tag_filter_and_escaping() {
    let html = grid("tag=%3Ci%3E", false);
    assert_eq!(
        values(&html, "tbody [data-builderid]", "data-builderid"),
        ["9", "9"]
    );
    assert!(html.contains("<span class=\"bbv-tag\">&lt;i&gt;</span>"));
    assert!(html.contains("data-tag=\"&lt;i&gt;\""));
    assert!(!html.contains("<i>") && !html.contains("<script>"));
}

#[test]
fn hostile_database_text_stays_text() {
    for transposed in [false, true] {
        let args = args("", &["transposed"]);
        let html = render(
            &templates().unwrap(),
            &args,
            &fixture::hostile_view(&args),
            transposed,
            "../../",
        )
        .unwrap();
        fixture::assert_hostile_text_reads_back(&html);
        let builders = if transposed {
            "th.bbv-builder a"
        } else {
            "tbody th.bbv-builder a"
        };
        assert!(texts(&html, builders).contains(&hostile("name")));
        if !transposed {
            assert!(texts(&html, ".bbv-tag").contains(&hostile("tag")));
        }
        // the comments only in the transposed layout's full descriptions
        let comments = values(&html, "[data-changeid='5'] .bbv-comments", "title");
        assert_eq!(comments.len(), usize::from(transposed));
        assert!(comments.iter().all(|c| *c == hostile("comments")));
    }
}

#[test]
fn arguments_config_and_manifest() {
    testing::set_data(|_, _| Err(DataError::new(500, "no data in this test")));
    let mut grid = GridView::init(Config::empty("grid_view")).unwrap();
    assert_eq!((grid.changes, grid.transposed), (5, false));
    let mut get = |query: &str| grid.respond(&Request::get("/").with_query(query));
    assert_eq!(
        get("transposed=maybe").body_text().unwrap(),
        "bad grid request: invalid transposed 'maybe': expected 1 or 0\n"
    );
    assert_eq!(get("before=-1").status, 400);
    assert_eq!(get("").status, 500);
    assert_eq!(grid.respond(&Request::get("/transposed")).status, 404);
    assert_eq!(grid.respond(&Request::new("PUT", "/")).status, 405);
    let config = |json: &str| GridView::init(Config::from_json("grid_view", json).unwrap());
    let configured = config(r#"{"changes": 8, "transposed": true}"#).unwrap();
    assert_eq!((configured.changes, configured.transposed), (8, true));
    assert_eq!(
        config(r#"{"transposed": "yes"}"#).unwrap_err(),
        "grid_view: invalid config: option 'transposed': invalid type: string \"yes\", expected a boolean"
    );
    assert_eq!(
        config(r#"{"changes": 0}"#).unwrap_err(),
        "grid_view: option 'changes' must be from 1 to 200, not 0"
    );
    assert!(config(r#"{"revisionLimit": 5}"#)
        .unwrap_err()
        .contains("unknown option 'revisionLimit'"));
    let manifest = GridView::manifest();
    assert_eq!(
        (manifest.name.as_str(), manifest.menu[0].label.as_str()),
        ("grid_view", "Grid View")
    );
}
