//! The layout of each view on the views dataset (`fixtures/views/dataset.sql`), compared with
//! `fixtures/views/expected/<case>.txt`: every element that carries `data-*` attributes, in
//! document order, with those attributes (tag groups, builders, changes, made-up changes, build
//! boxes and their results and lanes, gaps). Positions in pixels and times are shown as `*`:
//! the dataset's running build reaches up to the present. Regenerate with `UPDATE_EXPECT=1` and
//! review the diff; never edit the expected files by hand.

use crate::common;

use std::path::Path;

/// (expected file, plugin, query)
const CASES: &[(&str, &str, &str)] = &[
    ("console", "console_view", ""),
    ("console-branch-main", "console_view", "?branch=main"),
    ("console-tag-build", "console_view", "?tag=build"),
    (
        "console-older",
        "console_view",
        "?changes=2&before=4&until=1700001800",
    ),
    ("grid", "grid_view", ""),
    ("grid-transposed", "grid_view", "?transposed=1"),
    ("grid-branch-release", "grid_view", "?branch=release"),
    ("waterfall", "waterfall_view", ""),
    ("waterfall-log", "waterfall_view", "?scale=log"),
    ("waterfall-tag-linux", "waterfall_view", "?tag=linux"),
    ("waterfall-older", "waterfall_view", "?before=10&limit=5"),
];

/// Attributes that depend on the present (the running build) or on pixel layout.
const UNSTABLE: &[&str] = &["data-top", "data-height", "data-newer", "data-older"];

/// One line per element with `data-*` attributes, in document order: `<tag> name=value ...`.
fn layout(html: &str) -> String {
    let document = scraper::Html::parse_document(html);
    let mut out = String::new();
    for element in document.root_element().descendent_elements() {
        let data: Vec<(&str, &str)> = element
            .value()
            .attrs()
            .filter(|(name, _)| name.starts_with("data-"))
            .collect();
        if data.is_empty() {
            continue;
        }
        out.push_str(&format!("<{}>", element.value().name()));
        for (name, value) in data {
            if UNSTABLE.contains(&name) {
                out.push_str(&format!(" {name}=*"));
            } else {
                out.push_str(&format!(" {name}={value}"));
            }
        }
        out.push('\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_layouts_match_their_expected_files() {
    compare_layouts(
        &common::serve_views(&[]).await,
        std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1"),
    )
    .await;
}

/// The same dataset in PostgreSQL gives the same layouts, compared with the same files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_layouts_are_the_same_on_postgresql() {
    if let Some(server) = common::serve_views_postgres(&[]).await {
        compare_layouts(&server, false).await;
    }
}

async fn compare_layouts(server: &common::Server, update: bool) {
    let expected_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/views/expected");
    let mut problems = Vec::new();
    for (case, plugin, query) in CASES {
        let html = common::plugin_page(server, plugin, query).await;
        let got = layout(&html);
        assert!(
            got.contains("data-buildid"),
            "{case}: no build boxes:\n{html}"
        );
        let file = expected_dir.join(format!("{case}.txt"));
        if update {
            std::fs::create_dir_all(&expected_dir).unwrap();
            std::fs::write(&file, &got).unwrap();
            continue;
        }
        let Ok(expected) = std::fs::read_to_string(&file) else {
            problems.push(format!(
                "{case}: missing {} (run with UPDATE_EXPECT=1)",
                file.display()
            ));
            continue;
        };
        if expected != got {
            problems.push(format!(
                "{case} (/plugins/{plugin}/{query}) differs from {}:\n--- expected\n{expected}--- got\n{got}",
                file.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_layout_keeps_data_attributes_in_order_and_drops_positions() {
    let html = "<div class=x><span data-tag=\"linux\">l</span>\
                <a href=\"b\" data-buildid=\"3\" data-result=\"success\" data-top=\"12.5\" \
                data-height=\"40\">#3</a></div>";
    assert_eq!(
        layout(html),
        "<span> data-tag=linux\n<a> data-buildid=3 data-result=success data-top=* data-height=*\n"
    );
}
