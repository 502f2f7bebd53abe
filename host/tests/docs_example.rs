//! docs/plugins.md's walkthrough plugin (`MyView`) is a real component: its `src/lib.rs` block is
//! `fixtures/plugins/my_view/src/lib.rs` byte for byte (built by `cargo xtask
//! build-test-plugins`), and it is served against the reference database over HTTP.

use crate::common;

use std::path::Path;

/// The code block that follows "`src/lib.rs` (...):" in docs/plugins.md.
fn guide_example() -> String {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/plugins.md"))
            .unwrap();
    let heading = guide
        .find("`src/lib.rs` (")
        .expect("the guide introduces src/lib.rs");
    let opening = "```rust\n";
    let start = heading + guide[heading..].find(opening).expect("a rust block") + opening.len();
    let end = start + guide[start..].find("```\n").expect("the block ends");
    guide[start..end].to_owned()
}

#[test]
fn the_guides_example_is_the_test_plugin() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/plugins/my_view/src/lib.rs");
    let source = std::fs::read_to_string(&file).unwrap();
    assert!(
        guide_example() == source,
        "docs/plugins.md's src/lib.rs block and {} differ: change both",
        file.display()
    );
}

/// GET over HTTP: status and body.
async fn get(base: &str, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The text of each `<li>` of a page.
fn items(page: &str) -> Vec<String> {
    let document = scraper::Html::parse_fragment(page);
    let li = scraper::Selector::parse("li").unwrap();
    document
        .select(&li)
        .map(|item| item.text().collect())
        .collect()
}

/// Serves my_view with these lines in `[www.plugins.my_view]`; returns the base URL.
async fn serve_my_view(options: &str) -> (tempfile::TempDir, String) {
    let (dir, config) = common::plugin_site(
        &[("my_view", "my_view")],
        &format!("[www.plugins.my_view]\n{options}"),
    );
    let state = common::load_state(&config)
        .await
        .expect("the server starts");
    (dir, common::serve_state(state).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_example_serves_builds() {
    let (_dir, base) = serve_my_view("").await;
    let (status, api) = get(&base, "/api/v2/builds?order=-buildid&limit=20").await;
    assert_eq!(status, 200, "{api}");
    let api: serde_json::Value = serde_json::from_str(&api).unwrap();
    let builds = api["builds"].as_array().unwrap();
    assert!(!builds.is_empty());
    let line = |b: &serde_json::Value| {
        format!(
            "build {}: {}",
            b["number"],
            b["state_string"].as_str().unwrap()
        )
    };

    // The index lists the 20 latest builds (the default `limit`), newest first.
    let (status, page) = get(&base, "/plugins/my_view/").await;
    assert_eq!(status, 200, "{page}");
    let expected: Vec<String> = builds.iter().map(line).collect();
    assert_eq!(items(&page), expected);
    // Each links to the build's page, relative to the index.
    let links: Vec<String> = builds
        .iter()
        .map(|b| format!("builds/{}", b["buildid"]))
        .collect();
    assert_eq!(common::attrs(&page, "href"), links);

    // A build's page.
    let newest = &builds[0];
    let (status, text) = get(
        &base,
        &format!("/plugins/my_view/builds/{}", newest["buildid"]),
    )
    .await;
    assert_eq!((status, text), (200, line(newest)));

    // Not a number, an unknown build, an unknown path, another method.
    for (path, want) in [
        ("/plugins/my_view/builds/abc", 404),
        ("/plugins/my_view/builds/99999999", 404),
        ("/plugins/my_view/nope", 404),
    ] {
        let (status, body) = get(&base, path).await;
        assert_eq!(status, want, "{path}: {body}");
    }
    // Its menu entry opens it in the page shell, under the entry's label, links unchanged.
    let (status, view) = get(&base, "/views/my_view/").await;
    assert_eq!(status, 200, "{view}");
    assert!(view.contains("class=\"sidebar\""), "{view}");
    assert!(
        view.contains("<h1 id=\"bb-heading\">My view</h1>"),
        "{view}"
    );
    let shown = items(&view); // the sidebar's entries, then the view's
    assert!(shown.ends_with(&expected), "{shown:?}");
    let posted = reqwest::Client::new()
        .post(format!("{base}/plugins/my_view/"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_example_takes_its_option_and_refuses_others() {
    let (_dir, base) = serve_my_view("limit = 2\n").await;
    let (status, page) = get(&base, "/plugins/my_view/").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(items(&page).len(), 2, "{page}");

    // The message the guide's comment shows.
    let (_dir, config) = common::plugin_site(
        &[("my_view", "my_view")],
        "[www.plugins.my_view]\nlimits = 3\n",
    );
    let err = format!("{:#}", common::load_state(&config).await.unwrap_err());
    assert!(
        err.contains("my_view: unknown option 'limits' (expected one of: limit)"),
        "{err}"
    );
    let guide = guide_example();
    assert!(
        guide.contains(
            "`limits = 3`: \"my_view: unknown option 'limits' (expected one of: limit)\""
        ),
        "the guide's comment changed: {guide}"
    );
}
