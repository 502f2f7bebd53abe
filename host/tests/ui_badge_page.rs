//! `/badges` (issue 20 item 2, the page): a builder's badge previewed in every style by the
//! real badges plugin, the snippets pointing at `buildbotURL`, the options and the badge's kind
//! as form fields, hostile text escaped, the previews of each kind loaded as images by headless
//! Chromium, and no page without the plugin.

use std::time::Duration;

use crate::common::html::{attr, Find};
use crate::common::{self, MasterToml};
use crate::ui::Browser;

/// The reference site with the bundled badges plugin loaded (the views left out).
async fn site(buildbot_url: &str) -> common::Server {
    let dir = common::reference_database_dir();
    let path = MasterToml::reference()
        .set(&["buildbotURL"], buildbot_url)
        .remove(&["www", "plugins", "waterfall_view"])
        .remove(&["www", "plugins", "console_view"])
        .remove(&["www", "plugins", "grid_view"])
        .plugin_dirs(&[&common::bundled_plugins_dir(&["badges"])])
        .write(dir.path());
    let state = common::load_state(&path).await.expect("the site starts");
    common::Server::start(state, dir).await
}

#[tokio::test]
async fn previews_load_and_snippets_point_at_the_public_address() {
    let server = site("https://ci.example.org/buildbot/").await;
    let builders: serde_json::Value =
        serde_json::from_slice(&server.get("/api/v2/builders?order=name").await.body).unwrap();
    let first = &builders["builders"][0];
    let (id, name) = (
        first["builderid"].as_i64().unwrap(),
        first["name"].as_str().unwrap(),
    );

    let answer = server.get("/badges").await;
    assert_eq!(answer.status, 200);
    let page = common::html::parse(&answer.text());
    // The menu has the page; the first builder by name is chosen.
    assert_eq!(page.all("a[data-key=badges]").len(), 1, "{}", answer.text());
    assert_eq!(
        attr(page.one("select[name=builder] option[selected]"), "value"),
        id.to_string()
    );
    // A preview per style, each a badge the plugin draws.
    let previews = page.values(".badge-previews img", "src");
    assert_eq!(previews.len(), 4);
    for src in &previews {
        let badge = server
            .get(&format!("/{}", src.trim_start_matches("./")))
            .await;
        assert_eq!(badge.status, 200, "{src}");
        assert_eq!(badge.header("content-type"), "image/svg+xml", "{src}");
    }
    // The snippets use buildbotURL with its prefix, the chosen style and the builder's page.
    let snippets: Vec<String> = page
        .all("pre.snippet")
        .into_iter()
        .map(common::html::text)
        .collect();
    let image = format!("https://ci.example.org/buildbot/plugins/badges/{name}.svg?style=plastic");
    let target = format!("https://ci.example.org/buildbot/builders/{id}");
    assert_eq!(
        snippets,
        [
            format!("[![{name}]({image})]({target})"),
            format!(".. image:: {image}\n   :target: {target}\n   :alt: {name}"),
            format!("image:{image}[{name}, link=\"{target}\"]"),
            format!("<a href=\"{target}\"><img src=\"{image}\" alt=\"{name}\"></a>"),
        ]
    );
}

#[tokio::test]
async fn options_reach_the_urls_and_hostile_text_stays_text() {
    let server = site("http://127.0.0.1:8010/").await;
    let hostile = "CI \"><script>alert(1)</script> & co";
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("builder", "1")
        .append_pair("style", "flat")
        .append_pair("format", "png")
        .append_pair("left_text", hostile)
        .append_pair("left_color", "222")
        .finish();
    let answer = server.get(&format!("/badges?{query}")).await;
    assert_eq!(answer.status, 200);
    let text = answer.text();
    assert!(!text.contains("<script>alert(1)"), "{text}");
    let page = common::html::parse(&text);
    assert_eq!(attr(page.one("input[name=left_text]"), "value"), hostile);
    let previews = page.values(".badge-previews img", "src");
    for src in &previews {
        assert!(src.ends_with("left_text=CI%20%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E%20%26%20co&left_color=222"), "{src}");
        assert!(src.contains(".png?style="), "{src}");
        let badge = server
            .get(&format!("/{}", src.trim_start_matches("./")))
            .await;
        assert_eq!(badge.status, 200, "{src}");
        assert_eq!(badge.header("content-type"), "image/png", "{src}");
    }
    let markdown = common::html::text(page.one("pre.snippet[data-language=Markdown]"));
    assert!(
        markdown.contains(".png?style=flat&left_text=CI%20%22"),
        "{markdown}"
    );
    // An unknown style or builder falls back to the defaults rather than failing.
    let answer = server.get("/badges?builder=999&style=%3Cx%3E").await;
    let page = common::html::parse(&answer.text());
    assert_eq!(answer.status, 200);
    assert!(page.values(".badge-previews img", "src")[0].contains("style=plastic"));
}

#[tokio::test]
async fn the_kind_and_its_count_reach_the_previews_and_snippets() {
    let server = site("https://ci.example.org/buildbot/").await;
    let answer = server
        .get("/badges?builder=4&kind=pass_rate&builds=20&style=flat&left_text=ok")
        .await;
    assert_eq!(answer.status, 200);
    let page = common::html::parse(&answer.text());
    assert_eq!(
        common::html::text(page.one("select[name=kind] option[selected]")),
        "pass_rate"
    );
    assert_eq!(attr(page.one("input[name=builds]"), "value"), "20");
    let previews = page.values(".badge-previews img", "src");
    assert_eq!(previews.len(), 4);
    for src in &previews {
        assert!(
            src.contains(".svg?style=") && src.ends_with("&kind=pass_rate&builds=20&left_text=ok"),
            "{src}"
        );
        let badge = server
            .get(&format!("/{}", src.trim_start_matches("./")))
            .await;
        assert_eq!(badge.status, 200, "{src}");
        assert!(badge.text().contains(">ok</text>"), "{src}");
    }
    let markdown = common::html::text(page.one("pre.snippet[data-language=Markdown]"));
    assert!(
        markdown.contains(
            "https://ci.example.org/buildbot/plugins/badges/linux-build.svg?style=flat&kind=pass_rate&builds=20&left_text=ok)"
        ),
        "{markdown}"
    );
    // A duration has no count; its default left text names it.
    let answer = server
        .get("/badges?builder=4&kind=duration&builds=20&format=png")
        .await;
    let page = common::html::parse(&answer.text());
    for src in page.values(".badge-previews img", "src") {
        assert!(
            src.contains(".png?style=") && src.contains("&kind=duration"),
            "{src}"
        );
        assert!(!src.contains("builds="), "{src}");
        let badge = server
            .get(&format!("/{}", src.trim_start_matches("./")))
            .await;
        assert_eq!(
            (badge.status, badge.header("content-type")),
            (200, "image/png"),
            "{src}"
        );
    }
    // An unknown kind is the status badge, as by default (no kind in the URLs).
    let answer = server.get("/badges?kind=%3Cx%3E&builds=%22").await;
    assert_eq!(answer.status, 200);
    let text = answer.text();
    assert!(!text.contains("<x>"), "{text}");
    let page = common::html::parse(&text);
    assert_eq!(
        common::html::text(page.one("select[name=kind] option[selected]")),
        "status"
    );
    assert_eq!(attr(page.one("input[name=builds]"), "value"), "\"");
    for src in page.values(".badge-previews img", "src") {
        assert!(!src.contains("kind=") && !src.contains("builds="), "{src}");
    }
}

/// In headless Chromium, the previews of every kind load as images (the plugin's SVG and PNG
/// as a browser takes them), and the page is photographed for docs/ui.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_of_every_kind_load_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = site("https://ci.example.org/buildbot/").await;
    let loaded = "var imgs = Array.from(document.querySelectorAll('.badge-previews img'));
                  return imgs.length == 4 && imgs.every(function (i) { return i.complete; })
                      && imgs.map(function (i) { return i.naturalWidth + 'x' + i.naturalHeight; });";
    for (query, screenshot) in [
        ("builder=4&kind=status", None),
        ("builder=4&kind=duration&format=png", None),
        ("builder=4&kind=pass_rate&builds=10", Some("badges-page")),
        ("builder=4&kind=pass_rate&format=png&style=flat", None),
    ] {
        browser
            .goto(&format!("{}/badges?{query}", server.base))
            .await;
        let sizes = browser
            .wait_for("the previews to load", loaded, Duration::from_secs(10))
            .await;
        let sizes: Vec<String> = serde_json::from_value(sizes).unwrap();
        for size in &sizes {
            let (w, h) = size.split_once('x').unwrap();
            let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
            assert!(w > 40 && (18..=20).contains(&h), "{query}: {sizes:?}");
        }
        if let Some(name) = screenshot {
            browser.screenshot(name).await;
        }
    }
    browser.quit().await;
}

#[tokio::test]
async fn without_the_badges_plugin_there_is_no_page() {
    let server = common::serve_reference_config(
        MasterToml::reference().remove(&["www", "plugins", "badges"]),
    )
    .await;
    assert_eq!(server.get("/badges").await.status, 404);
    let home = server.get("/builders").await.text();
    assert!(!home.contains("data-key=\"badges\""), "{home}");
}
