//! docs/plugins.md's examples are real components served against the reference database over
//! HTTP: the walkthrough plugin (`MyView`), whose `src/lib.rs` block is
//! `fixtures/plugins/my_view/src/lib.rs` byte for byte, and the other blocks, which
//! `fixtures/plugins/guide_examples` compiles from the guide's text (both built by `cargo xtask
//! build-test-plugins`).

use crate::common;
use crate::common::html::{self, Find};

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
    let document = html::parse(page);
    document.all("li").into_iter().map(html::text).collect()
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
    assert_eq!(html::parse(&page).attrs("href"), links);

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

/// The guide's other examples (`fixtures/plugins/guide_examples`, compiled from the guide's own
/// text by its build script) answer over HTTP what their text says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_other_examples_run_against_the_server() {
    let (_dir, config) = common::plugin_site(
        &[("guide_examples", "guide_examples")],
        "[www.plugins]\nguide_examples = true\n",
    );
    let state = common::load_state(&config)
        .await
        .expect("the server starts");
    let base = common::serve_state(state).await;

    // "Reading build data": the five latest failed builds of builder 3.
    let (status, numbers) = get(&base, "/plugins/guide_examples/failures").await;
    assert_eq!(status, 200, "{numbers}");
    let numbers: Vec<i64> = serde_json::from_str(&numbers).unwrap();
    let (_, api) = get(
        &base,
        "/api/v2/builders/3/builds?results=2&order=-number&limit=5",
    )
    .await;
    let api: serde_json::Value = serde_json::from_str(&api).unwrap();
    let expected: Vec<i64> = api["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["number"].as_i64().unwrap())
        .collect();
    assert!(
        !expected.is_empty(),
        "the reference database has failures of builder 3"
    );
    assert_eq!(numbers, expected);

    // "Changes with their builds": a line per change of the page, newest first.
    let (status, text) = get(&base, "/plugins/guide_examples/console").await;
    assert_eq!(status, 200, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty(), "{text}");
    for line in &lines {
        let (id, builds) = line.split_once(' ').unwrap_or_else(|| panic!("{text}"));
        assert!(
            id.parse::<i64>().is_ok() && builds.ends_with(" builds"),
            "{text}"
        );
    }
    let (_, changes) = get(&base, "/api/v2/changes?order=-changeid&limit=1").await;
    let changes: serde_json::Value = serde_json::from_str(&changes).unwrap();
    let newest = changes["changes"][0]["changeid"].to_string();
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with(&format!("{newest} "))),
        "the newest change {newest} is missing:\n{text}"
    );

    // "Authentication plugins": the example's check, with `users = { snow = "white" }`.
    let (status, text) = get(
        &base,
        "/plugins/guide_examples/auth?user=snow&password=white",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.starts_with("Ok(UserInfo { username: \"snow\", full-name: Some(\"Snow White\")"),
        "{text}"
    );
    assert!(text.contains("groups: [\"dwarves\"]"), "{text}");
    let (_, text) = get(
        &base,
        "/plugins/guide_examples/auth?user=snow&password=black",
    )
    .await;
    assert_eq!(text, "Err(AuthError::BadCredentials)");
}
