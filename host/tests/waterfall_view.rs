//! The waterfall view plugin (`plugins/waterfall_view`, built by `cargo xtask build-plugins`) in
//! a real server over HTTP, against the views dataset (`fixtures/views/dataset.sql`): columns
//! and boxes in order, heights on the linear and the log scale, result colours and links,
//! steps, escaping, the tag filter, empty states, paging, bad arguments, the page inside the
//! UI shell and the plugin's config.

use crate::common;

use common::{attrs, get, ids, Server};

/// T of the views dataset.
const T: i64 = 1_700_000_000;

/// Serves the views dataset with these TOML lines in `[www.plugins.waterfall_view]`.
async fn serve(config: &str) -> Server {
    common::serve_views(&[("waterfall_view", config)]).await
}

/// The view's HTML at `query` (`""` for the default page), which must be a 200 page.
async fn page(server: &Server, query: &str) -> String {
    common::plugin_page(server, "waterfall_view", query).await
}

/// The opening tag of build `buildid`'s box.
fn build_tag(html: &str, buildid: i64) -> &str {
    let at = html
        .find(&format!(" data-buildid=\"{buildid}\""))
        .unwrap_or_else(|| panic!("no box of build {buildid}"));
    let start = html[..at].rfind('<').unwrap();
    &html[start..start + html[start..].find('>').unwrap() + 1]
}

/// The whole box of build `buildid`, up to its `</a>`.
fn build_box(html: &str, buildid: i64) -> &str {
    let start = html.find(build_tag(html, buildid)).unwrap();
    &html[start..start + html[start..].find("</a>").unwrap()]
}

fn attr(tag: &str, name: &str) -> String {
    attrs(tag, name).into_iter().next().unwrap_or_default()
}

fn number(html: &str, buildid: i64, name: &str) -> f64 {
    attr(build_tag(html, buildid), name).parse().unwrap()
}

fn height(html: &str, buildid: i64) -> f64 {
    number(html, buildid, "data-height")
}

fn top(html: &str, buildid: i64) -> f64 {
    number(html, buildid, "data-top")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.051
}

/// The document's body (its style names every class).
fn body(html: &str) -> &str {
    &html[html.find("<body>").expect("a full document")..]
}

#[tokio::test]
async fn columns_and_boxes_in_order_with_links_and_colours() {
    let server = serve("").await;
    let html = page(&server, "").await;
    // builders scheduled together sit together; idle (no builds) is not shown; tools (forced
    // alone) comes last
    let headers = ids(&html, "data-builderid");
    assert_eq!(headers[..8], [1, 2, 3, 5, 4, 6, 9, 8]);
    let columns: Vec<i64> = html
        .match_indices("<div class=\"wf-column\" data-builderid=\"")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(columns, [1, 2, 3, 5, 4, 6, 9, 8]);
    // boxes column by column, newest first
    assert_eq!(
        ids(&html, "data-buildid"),
        [13, 11, 10, 6, 1, 14, 7, 2, 12, 8, 3, 5, 4, 16, 9, 15, 17]
    );
    // the rebuild (10) overlaps build 11: linux-build has two lanes
    assert_eq!(attrs(&html, "data-lanes")[0], "2");
    assert_eq!(attr(build_tag(&html, 11), "data-lane"), "1");
    assert!(html.contains("17 builds (ids 1 to 17) on 8 builders"));

    // every box links to its build and shows Buildbot's colours
    let cases = [
        (1, "1/builds/1", "success", "#8d4"),
        (3, "3/builds/1", "warnings", "#fa3"),
        (6, "1/builds/2", "failure", "#e88"),
        (5, "5/builds/1", "skipped", "#AADDEE"),
        (7, "2/builds/2", "exception", "#c6c"),
        (8, "3/builds/2", "retry", "#ecc"),
        (9, "6/builds/1", "cancelled", "#ecc"),
        (14, "2/builds/3", "running", "#E7D100"),
        (17, "8/builds/1", "success", "#8d4"),
    ];
    for (buildid, link, result, colour) in cases {
        let tag = build_tag(&html, buildid);
        assert_eq!(attr(tag, "href"), format!("../../builders/{link}"), "{tag}");
        assert_eq!(attr(tag, "data-result"), result, "{tag}");
        assert!(
            attr(tag, "style").contains(&format!("background:{colour};")),
            "{tag}"
        );
    }
    for buildid in 1..=17 {
        assert_eq!(
            html.matches(&format!(" data-buildid=\"{buildid}\""))
                .count(),
            1
        );
    }
    // the running build is marked
    assert!(attr(build_tag(&html, 14), "class").contains("wf-running"));
    assert!(attr(build_tag(&html, 14), "title").starts_with("linux-test #3: running (running for "));
    // builder headers link to the builder pages
    assert!(html.contains("<a href=\"../../builders/4\" title=\"win-test\">win-test</a>"));

    // the two tall boxes show their steps: build 4 (3 h) and the running build 14
    let four = build_box(&html, 4);
    assert_eq!(four.matches("class=\"wf-step\"").count(), 2);
    assert!(four.contains(
        "<span class=\"wf-step\" data-result=\"failure\" style=\"background:#e88;color:#000\" \
         title=\"test: failed test\">test</span>"
    ));
    let fourteen = build_box(&html, 14);
    assert!(fourteen.contains(
        "<span class=\"wf-step\" data-result=\"running\" style=\"background:#E7D100;color:#000\" \
         title=\"compile: compiling\">compile</span>"
    ));
    // build 1 has steps too, but its box (5 minutes, 20 px) is too small for them
    assert!(!build_box(&html, 1).contains("wf-step"));
    assert!(!body(&html).contains("<script"));
}

#[tokio::test]
async fn heights_follow_durations_on_the_linear_and_the_log_scale() {
    let server = serve("").await;
    let html = page(&server, "").await;
    assert!(html.contains("<div class=\"wf\" data-scale=\"linear\">"));
    // 4 px per minute: 3 h = 720 px, 10 min = 40, 5 min = 20, 40 s = 2.7, 5 s = 0.3
    let expected = [
        (4, 720.0),
        (3, 40.0),
        (1, 20.0),
        (7, 2.7),
        (2, 0.3),
        (5, 0.3),
    ];
    for (buildid, px) in expected {
        assert_eq!(height(&html, buildid), px, "build {buildid}");
    }
    // the present is at the top; the years since T+10870 (build 14 runs, nothing else
    // happens) are one collapsed quiet gap of 28 px
    assert_eq!(html.matches("class=\"wf-gap wf-quiet\"").count(), 1);
    assert_eq!(html.matches("class=\"wf-gap").count(), 1);
    assert_eq!(top(&html, 14), 0.0);
    assert_eq!(top(&html, 4), 28.0);
    assert_eq!(height(&html, 14), 628.7, "28 + 9010 s");
    // the same moment sits at the same height in every column: builds 6 and 7 start at T+660
    assert!(close(
        top(&html, 6) + height(&html, 6),
        top(&html, 7) + height(&html, 7)
    ));
    assert!(close(top(&html, 1) - top(&html, 3), 310.0 / 15.0));

    // log: each piece between two starts or ends is 60 px * log10(1 + seconds)
    let log = page(&server, "?scale=log").await;
    assert!(log.contains("<div class=\"wf\" data-scale=\"log\">"));
    let piece = |seconds: i64| 60.0 * (1.0 + seconds as f64).log10();
    assert!(close(height(&log, 2), piece(5)), "{}", height(&log, 2));
    assert!(close(height(&log, 5), piece(5)));
    let sum = |cuts: &[i64]| -> f64 { cuts.windows(2).map(|w| piece(w[0] - w[1])).sum() };
    assert!(close(height(&log, 1), sum(&[360, 85, 80, 70, 65, 60])));
    let cuts = [
        10870, 3030, 3000, 2560, 2460, 2160, 1990, 1870, 1860, 1560, 1300, 1270, 1260, 1000, 960,
        700, 690, 680, 670, 660, 360, 85, 80, 70,
    ];
    assert!(close(height(&log, 4), sum(&cuts)), "{}", height(&log, 4));
    assert!(close(height(&log, 14), 28.0 + sum(&cuts[..9])));
    // 2160:1 on the linear scale, about 55:1 on the log scale
    let ratio = height(&log, 4) / height(&log, 2);
    assert!((54.0..56.0).contains(&ratio), "{ratio}");
    // the order of the boxes does not depend on the scale
    assert_eq!(ids(&log, "data-buildid"), ids(&html, "data-buildid"));
    // on the log scale every box is tall enough for steps; build 1 shows its three
    assert_eq!(build_box(&log, 1).matches("class=\"wf-step\"").count(), 3);
}

#[tokio::test]
async fn the_config_sets_the_scale_and_the_step_cap() {
    let server = serve("scale = \"log\"\nmax_step_builds = 1\npixels_per_decade = 30").await;
    let html = page(&server, "").await;
    assert!(html.contains("data-scale=\"log\""));
    assert!(close(height(&html, 2), 30.0 * 6f64.log10()));
    // only the tallest box (build 4) shows its steps
    assert_eq!(body(&html).matches("class=\"wf-steps\"").count(), 1);
    assert!(build_box(&html, 4).contains("wf-steps"));
    // the URL overrides the configured scale
    let linear = page(&server, "?scale=linear").await;
    assert_eq!(height(&linear, 4), 720.0);
    assert!(linear.contains("<option value=\"linear\" selected>"));
}

#[tokio::test]
async fn database_text_is_escaped() {
    let server = serve("").await;
    let html = page(&server, "").await;
    assert!(html.contains(
        "<a href=\"../../builders/9\" title=\"x&lt;b&gt;&quot;&amp;&#39;\">x&lt;b&gt;&quot;&amp;&#39;</a>\
         <span class=\"wf-tags\">&lt;i&gt;</span>"
    ));
    assert!(
        build_box(&html, 15).ends_with("<b>#1</b> build &lt;successful&gt; &amp; &quot;ok&quot;")
    );
    assert!(attr(build_tag(&html, 15), "title").starts_with(
        "x&lt;b&gt;&quot;&amp;&#39; #1: build &lt;successful&gt; &amp; &quot;ok&quot; (2 min"
    ));
    assert!(!html.contains("x<b>") && !html.contains("<i>"));
    // the tag filter with HTML specials: only builder 9, the tag echoed escaped in the form
    let html = page(&server, "?tag=%3Ci%3E").await;
    assert_eq!(ids(&html, "data-buildid"), [15]);
    assert!(html.contains("<input name=\"tag\" value=\"&lt;i&gt;\" size=\"10\">"));
    assert!(!html.contains("<i>"));
}

#[tokio::test]
async fn tag_filters_idle_gaps_and_empty_states() {
    let server = serve("").await;
    // linux: linux-build and linux-test (idle has no builds)
    let html = page(&server, "?tag=linux").await;
    assert_eq!(ids(&html, "data-buildid"), [13, 11, 10, 6, 1, 14, 7, 2]);
    // every tag must match
    let html = page(&server, "?tag=linux&tag=test").await;
    assert_eq!(ids(&html, "data-buildid"), [14, 7, 2]);
    // macOS: 29.5 idle minutes between its two builds, and the years since, are collapsed
    let html = page(&server, "?tag=macos").await;
    assert_eq!(ids(&html, "data-buildid"), [16, 9]);
    assert_eq!(html.matches("class=\"wf-gap wf-idle\"").count(), 2);
    assert!(html.contains(&format!(
        "<div class=\"wf-gap wf-idle\" data-newer=\"{}\" data-older=\"{}\" \
         style=\"top:34.7px;height:28.0px\" title=\"2023-11-14 22:24:50 to 2023-11-14 22:54:20\">\
         idle 29 min 30 s</div>",
        T + 2460,
        T + 690
    )));
    assert_eq!(top(&html, 16), 28.0);
    assert_eq!(height(&html, 16), 6.7);
    assert_eq!(top(&html, 9), 62.7);

    // a filter that matches nothing: a message, no table
    let html = page(&server, "?tag=nosuchtag").await;
    assert!(body(&html).contains(
        "<p class=\"wf-empty\">No builder has the tag <code>nosuchtag</code>: nothing to show."
    ));
    assert!(!body(&html).contains("wf-grid") && !html.contains("data-buildid"));
    assert!(html.contains("<form class=\"wf-options\" method=\"get\">"));
    // no builds before the first one
    let html = page(&server, "?before=1").await;
    assert!(body(&html).contains("<p class=\"wf-empty\">No builds before build 1.</p>"));
    assert!(html.contains("<a class=\"wf-newest\" href=\"?\">"));
}

#[tokio::test]
async fn builders_without_builds_on_request() {
    let server = serve("show_builders_without_builds = true").await;
    let html = page(&server, "?tag=linux").await;
    // idle has no builds and no links to the others: last
    assert_eq!(attrs(&html, "data-lanes").len(), 3);
    let headers = ids(&html, "data-builderid");
    assert_eq!(headers[..3], [1, 2, 7]);
    let html = page(&server, "").await;
    assert_eq!(attrs(&html, "data-lanes").len(), 9);
}

#[tokio::test]
async fn pages_through_history() {
    let server = serve("").await;
    let sorted = |html: &str| {
        let mut ids = ids(html, "data-buildid");
        ids.sort_unstable();
        ids
    };
    let html = page(&server, "?limit=5").await;
    assert_eq!(sorted(&html), [13, 14, 15, 16, 17]);
    assert!(html.contains("<nav class=\"wf-pages\"><a class=\"wf-older\" href=\"?before=13&amp;limit=5\">older ›</a></nav>"));
    // follow the links
    let html = page(&server, "?before=13&limit=5").await;
    assert_eq!(sorted(&html), [8, 9, 10, 11, 12]);
    assert!(html.contains(
        "<nav class=\"wf-pages\"><a class=\"wf-newest\" href=\"?limit=5\">« newest</a>\
         <a class=\"wf-newer\" href=\"?after=12&amp;limit=5\">‹ newer</a>\
         <a class=\"wf-older\" href=\"?before=8&amp;limit=5\">older ›</a></nav>"
    ));
    // an older page's line starts at its newest moment, not at the present
    assert_eq!(top(&html, 12), 0.0);
    let html = page(&server, "?before=8&limit=5").await;
    assert_eq!(sorted(&html), [3, 4, 5, 6, 7]);
    let html = page(&server, "?before=3&limit=5").await;
    assert_eq!(sorted(&html), [1, 2]);
    assert!(!html.contains("wf-older"));
    // newer pages: after 2 are 3 to 7; after 12 only five are left, the newest page
    let html = page(&server, "?after=2&limit=5").await;
    assert_eq!(sorted(&html), [3, 4, 5, 6, 7]);
    assert!(html.contains("href=\"?after=7&amp;limit=5\""));
    let html = page(&server, "?after=12&limit=5").await;
    assert_eq!(sorted(&html), [13, 14, 15, 16, 17]);
    assert!(!html.contains("wf-newer"));
    // the other arguments go along
    let html = page(&server, "?limit=3&scale=log&tag=linux").await;
    assert!(html.contains("href=\"?before=11&amp;limit=3&amp;scale=log&amp;tag=linux\""));
}

#[tokio::test]
async fn bad_arguments_are_400() {
    let server = serve("").await;
    let cases = [
        ("before=abc", "bad waterfall request: 'before' must be a build id (a positive integer), not 'abc'\n"),
        ("after=0", "bad waterfall request: 'after' must be a build id (a positive integer), not '0'\n"),
        ("before=1&after=2", "bad waterfall request: give one of 'before' and 'after', once\n"),
        ("scale=bogus", "bad waterfall request: 'scale' must be 'linear' or 'log', not 'bogus'\n"),
        ("limit=100000", "bad waterfall request: 'limit' must be a number of builds from 1 to 1000, not '100000'\n"),
        ("limit=-1", "bad waterfall request: 'limit' must be a number of builds from 1 to 1000, not '-1'\n"),
    ];
    for (query, message) in cases {
        for prefix in ["/plugins/waterfall_view/", "/views/waterfall_view/"] {
            let (status, content_type, body) = get(&server, &format!("{prefix}?{query}")).await;
            assert_eq!(status, 400, "{prefix}?{query}");
            assert_eq!(content_type, "text/plain; charset=utf-8");
            assert_eq!(body, message);
        }
    }
    let (status, _, _) = get(&server, "/plugins/waterfall_view/nothing").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_view_inside_the_ui_shell() {
    let server = serve("").await;
    let (status, _, html) = get(&server, "/views/waterfall_view/?scale=log").await;
    assert_eq!(status, 200);
    // the sidebar entry, the style in the shell's head, the view in its main area
    assert!(html.contains("Waterfall View</a>"), "{html}");
    let head = &html[..html.find("</head>").unwrap()];
    assert!(head.contains(".wf-build{"));
    let main = &html[html
        .find("<div class=\"plugin-view\" data-plugin=\"waterfall_view\">")
        .unwrap()..];
    assert!(main.contains("<div class=\"wf\" data-scale=\"log\">"));
    // links work from the view's URL too: relative to /views/waterfall_view/
    assert!(main.contains("href=\"../../builders/1/builds/1\""));
    // the shell refreshes the view on build and step events
    assert!(
        html.contains("\"events\": [\"builds/*/*\", \"builds/*/steps/*/*\"]"),
        "{html}"
    );
}

#[tokio::test]
async fn config_mistakes_stop_start_up() {
    for (lines, message) in [
        (
            "scales = \"log\"",
            "waterfall_view: unknown option 'scales' (expected one of: limit, scale,",
        ),
        (
            "scale = \"logarithmic\"",
            "waterfall_view: invalid config: option 'scale': unknown variant `logarithmic`, \
             expected `linear` or `log`",
        ),
        (
            "limit = 0",
            "waterfall_view: option 'limit' must be between 1 and 1000, not 0",
        ),
    ] {
        let error = common::start_up_error(&common::bundled_plugins_config(&[(
            "waterfall_view",
            lines,
        )]))
        .await;
        assert!(error.contains(message), "{lines}: {error}");
    }
}
