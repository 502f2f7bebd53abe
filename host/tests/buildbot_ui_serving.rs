//! `[www.buildbot_ui]` over a real socket: the index rendered as Buildbot renders it, the UI's
//! files and its view plugins' bundles, and this server's own routes beside them. The folders
//! are made here in Buildbot's layout; the suite that runs Buildbot's real UI packages in a
//! browser is `buildbot_ui.rs`.

use std::path::Path;

use axum::body::Body;
use axum::http::Request;

use crate::common::{self, MasterToml};

const INDEX: &str = r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <title>Buildbot</title>
    <!-- BUILDBOT_THEME_CSS_PLACEHOLDER_BEGIN -->
    <style id="bb-style">
      :root { --bb-sidebar-background-color: #30426a; }
    </style>
    <!-- BUILDBOT_THEME_CSS_PLACEHOLDER_END -->
    <script type="module" crossorigin src="./assets/index-abc.js"></script>
  </head>
  <body><div id="root"></div></body>
  <!-- BUILDBOT_CONFIG_PLACEHOLDER -->
</html>"#;

/// `site-packages/` with the buildbot-www package and one view plugin, `grid_view`.
fn site_packages(root: &Path) {
    let www = root.join("buildbot_www/static");
    std::fs::create_dir_all(www.join("assets")).unwrap();
    std::fs::write(www.join("index.html"), INDEX).unwrap();
    std::fs::write(www.join("assets/index-abc.js"), "console.log('bb');").unwrap();
    std::fs::write(www.join("robots.txt"), "User-agent: *\n").unwrap();
    let grid = root.join("buildbot_grid_view/static");
    std::fs::create_dir_all(&grid).unwrap();
    std::fs::write(grid.join("scripts.js"), "/* grid */").unwrap();
    std::fs::write(grid.join("styles.css"), ".grid{}").unwrap();
}

async fn serve(title: &str) -> common::Server {
    let config = MasterToml::reference()
        .set(&["title"], title)
        .set(&["www", "theme", "bb-sidebar-background-color"], "#101010")
        .www_toml(
            "[www.buildbot_ui]\nstatic_dirs = [\"site-packages/buildbot_www/static\", \
             \"site-packages/buildbot_grid_view\"]\n",
        );
    let dir = common::reference_database_dir();
    site_packages(&dir.path().join("site-packages"));
    let path = config.write(dir.path());
    let state = common::state_without_plugins(&path).await;
    common::Server::start(state, dir).await
}

/// The object assigned to `window.buildbotFrontendConfig` in an index page.
fn frontend_config(page: &str) -> serde_json::Value {
    let start = page
        .find("window.buildbotFrontendConfig = ")
        .expect("the config script")
        + "window.buildbotFrontendConfig = ".len();
    let end = start + page[start..].find(";\n</script>").expect("its end");
    serde_json::from_str(&page[start..end]).expect("JSON")
}

#[tokio::test]
async fn the_index_carries_the_config_the_user_and_the_theme() {
    let server = serve("Oracle </script><script>alert(1)</script> & co").await;
    for path in ["/", "/index.html", "/?x=1"] {
        let answer = server.get(path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.header("content-type"), "text/html");
        assert_eq!(answer.header("cache-control"), "public,max-age=0");
        let page = answer.text();
        // The placeholder is replaced by the script, in Buildbot's layout.
        assert!(!page.contains("BUILDBOT_CONFIG_PLACEHOLDER"), "{page}");
        assert!(
            page.contains(
                "<script id=\"bb-config\">\n    window.buildbotFrontendConfig = {\"port\": "
            ),
            "{page}"
        );
        // The title cannot end the script: `<` and `&` are escaped inside the JSON.
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        assert!(page.contains("\\u003c/script\\u003e"), "{page}");
        let config = frontend_config(&page);
        assert_eq!(
            config["title"],
            "Oracle </script><script>alert(1)</script> & co"
        );
        // The same object /config gives.
        let answer = server.get("/config").await;
        let mut expected: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(config, expected, "{path}");
        expected["user"] = serde_json::json!({"anonymous": true});
        assert_eq!(config["user"], expected["user"]);
        assert_eq!(
            config["plugins"],
            serde_json::json!({"waterfall_view": {}, "console_view": {}, "grid_view": {}, "badges": {}})
        );
        // The theme: all twelve variables, the configured one in place of its default.
        assert!(
            page.contains(
                "<style>\n      :root {\n        --bb-sidebar-background-color: #101010;\n        --bb-sidebar-header-background-color: #273759;"
            ),
            "{page}"
        );
        assert!(!page.contains("bb-style"), "{page}");
    }
}

#[tokio::test]
async fn a_logged_in_user_is_in_the_index() {
    let server = serve("Oracle").await;
    let cookie = common::session_cookie(
        &server,
        serde_json::json!({"username": "marge", "email": "marge@example.org", "groups": []}),
    )
    .await;
    let request = Request::get("/")
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let config = frontend_config(&server.send(request).await.text());
    assert_eq!(config["user"]["username"], "marge", "{config}");
}

#[tokio::test]
async fn the_ui_files_and_plugin_bundles_are_served_beside_this_servers_routes() {
    let server = serve("Oracle").await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{}{path}", server.base)).send();

    let answer = get("/assets/index-abc.js").await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = answer.headers()["etag"].clone();
    assert_eq!(answer.text().await.unwrap(), "console.log('bb');");
    let again = client
        .get(format!("{}/assets/index-abc.js", server.base))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let answer = get("/robots.txt").await.unwrap();
    assert_eq!(answer.status(), 200);
    let answer = get("/plugins/grid_view/scripts.js").await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "/* grid */");
    let answer = get("/plugins/grid_view/styles.css").await.unwrap();
    assert_eq!(answer.headers()["content-type"], "text/css; charset=utf-8");
    // Nothing but the folders' files is reachable (sent as written, not normalised by a
    // client): no dot segments, no package paths, no plugin without a folder.
    for path in [
        "/buildbot_www/static/robots.txt",
        "/assets/../robots.txt",
        "/assets/%2e%2e/robots.txt",
        "/plugins/grid_view/../../robots.txt",
        "/plugins/grid_view/%2e%2e/%2e%2e/robots.txt",
        "/plugins/waterfall_view/scripts.js",
    ] {
        let answer = server.get(path).await;
        assert_ne!(answer.status, 200, "{path}");
    }

    // This server's own routes are still there: its assets, pages (the home page at /home),
    // the API and the config.
    let answer = get("/assets/ui.css").await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("--bb-sidebar"));
    for path in ["/home", "/builders", "/api/v2/builders", "/config"] {
        assert_eq!(get(path).await.unwrap().status(), 200, "{path}");
    }
    let home = get("/home").await.unwrap().text().await.unwrap();
    assert!(!home.contains("buildbotFrontendConfig"), "{home}");
    // Other methods than GET pass through to the routes (Twisted's answer for a POST to /).
    let answer = client
        .post(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_ne!(answer.status(), 200);
}

#[tokio::test]
async fn without_the_table_the_root_is_this_servers_home_page() {
    let server = common::serve_reference().await;
    let page = server.get("/").await.text();
    assert!(!page.contains("buildbotFrontendConfig"), "{page}");
    assert!(page.contains("Oracle Buildbot"), "{page}");
}
