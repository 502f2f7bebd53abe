//! The builder page's trend charts (issue 20 item 1) on the reference database: one linked,
//! titled bar per finished build among the last `Builders.trendBuilds`, the rolling median, the
//! pass rate per day; none for a builder without finished builds; and, in headless Chromium, a
//! bar that opens its build.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use serde_json::Value;

use crate::common::html::{attr, Find};
use crate::common::{self};
use crate::ui::Browser;

/// The builder page as a browser with these settings (`bb_settings` cookie) gets it.
async fn builder_page(server: &common::Server, builderid: i64, settings: &str) -> String {
    let mut request = Request::get(format!("/builders/{builderid}"));
    if !settings.is_empty() {
        let value: String = url::form_urlencoded::byte_serialize(settings.as_bytes()).collect();
        request = request.header("cookie", format!("bb_settings={value}"));
    }
    let answer = server.send(request.body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, 200);
    answer.text()
}

/// The finished builds of a builder, newest first, over REST.
async fn finished(server: &common::Server, builderid: i64) -> Vec<Value> {
    let answer = server
        .get(&format!(
            "/api/v2/builders/{builderid}/builds?order=-number&complete=true"
        ))
        .await;
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    body["builds"].as_array().unwrap().clone()
}

#[tokio::test]
async fn one_bar_per_finished_build_with_its_link_and_result() {
    let server = common::serve_reference().await;
    let builds = finished(&server, 1).await;
    assert!(builds.len() >= 3, "{builds:?}");
    let page = common::html::parse(&builder_page(&server, 1, "").await);
    let bars = page.all("#trends svg a");
    assert_eq!(bars.len(), builds.len());
    // Oldest on the left: the bars follow the build numbers up.
    for (bar, build) in bars.iter().zip(builds.iter().rev()) {
        assert_eq!(
            attr(*bar, "href"),
            format!("../builders/1/builds/{}", build["number"])
        );
        let rect = bar.one("rect");
        let result = buildbot_plugin_sdk::results::name(build["results"].as_i64());
        assert_eq!(attr(rect, "class"), format!("results-{result}"));
        let title = common::html::text(rect.one("title"));
        assert!(
            title.starts_with(&format!("#{} {result}, ", build["number"])),
            "{title}"
        );
    }
    // The median line has a point per bar; each day's bar says its rate.
    let points = attr(page.one("#trends polyline.trend-median"), "points");
    assert_eq!(points.split(' ').count(), builds.len());
    let days = page.all("#trends rect.trend-pass title");
    assert!(!days.is_empty());
    let total: usize = days
        .iter()
        .map(|d| {
            let text = common::html::text(*d);
            // `2026-11-28: 8 of 10 passed (80 %)`
            let of = text.split(" of ").nth(1).unwrap();
            of.split(' ').next().unwrap().parse::<usize>().unwrap()
        })
        .sum();
    assert_eq!(total, builds.len());
}

#[tokio::test]
async fn the_setting_bounds_the_builds_drawn() {
    let server = common::serve_reference().await;
    let builds = finished(&server, 1).await;
    let page =
        common::html::parse(&builder_page(&server, 1, r#"{"Builders.trendBuilds": 2}"#).await);
    let bars = page.all("#trends svg a");
    // The last two builds, both finished in the reference database.
    assert_eq!(bars.len(), 2);
    assert_eq!(
        attr(bars[1], "href"),
        format!("../builders/1/builds/{}", builds[0]["number"])
    );
    // Out of range values are clamped, not refused.
    let page =
        common::html::parse(&builder_page(&server, 1, r#"{"Builders.trendBuilds": -5}"#).await);
    assert_eq!(page.all("#trends svg a").len(), 1);
}

#[tokio::test]
async fn a_builder_without_finished_builds_has_no_trends() {
    let server = common::serve_reference().await;
    let builders: Value =
        serde_json::from_slice(&server.get("/api/v2/builders").await.body).unwrap();
    let mut checked = 0;
    for builder in builders["builders"].as_array().unwrap() {
        let id = builder["builderid"].as_i64().unwrap();
        let page = builder_page(&server, id, "").await;
        assert_eq!(
            page.contains("id=\"trends\""),
            !finished(&server, id).await.is_empty(),
            "builder {id}"
        );
        checked += 1;
    }
    assert!(checked >= 4);
}

#[tokio::test]
async fn a_bar_opens_its_build_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = common::serve_reference().await;
    let builds = finished(&server, 1).await;
    browser.goto(&format!("{}/builders/1", server.base)).await;
    browser.screenshot("builder-trends").await;
    // The newest bar, as a person clicks it.
    browser
        .js("var a = document.querySelectorAll('#trends svg a');
             a[a.length - 1].dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, view: window}));
             return 1;")
        .await;
    let path = browser
        .wait_for(
            "the build's page",
            "return location.pathname.includes('/builds/') && location.pathname",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        path,
        Value::String(format!("/builders/1/builds/{}", builds[0]["number"]))
    );
    browser.quit().await;
}
