//! The waterfall view plugin (`plugins/waterfall_view`, built by `cargo xtask build-plugins`) in
//! a real server over HTTP, against the views dataset (`fixtures/views/dataset.sql`): columns
//! and boxes in order, heights on the linear and the log scale, result colours and links,
//! steps, escaping, the tag filter, empty states, paging, bad arguments, the page inside the
//! UI shell and the plugin's config.

use crate::common;

use common::html::{self, attr, attrs_of, has_class, text, Find};
use common::{get, Server};
use scraper::{ElementRef, Html};

/// T of the views dataset.
const T: i64 = 1_700_000_000;

/// Serves the views dataset with these TOML lines in `[www.plugins.waterfall_view]`.
async fn serve(config: &str) -> Server {
    common::serve_views(&[("waterfall_view", config)]).await
}

/// The view's HTML at `query` (`""` for the default page), which must be a 200 page.
async fn raw_page(server: &Server, query: &str) -> String {
    common::plugin_page(server, "waterfall_view", query).await
}

/// The same, parsed.
async fn page(server: &Server, query: &str) -> Html {
    html::parse(&raw_page(server, query).await)
}

/// The box of build `buildid`.
fn build(doc: &Html, buildid: i64) -> ElementRef<'_> {
    doc.one(&format!("a.wf-build[data-buildid=\"{buildid}\"]"))
}

/// The boxes' build ids, column by column.
fn builds(doc: &Html) -> Vec<i64> {
    doc.numbers("a.wf-build", "data-buildid")
}

/// The same, sorted.
fn sorted_builds(doc: &Html) -> Vec<i64> {
    let mut ids = builds(doc);
    ids.sort_unstable();
    ids
}

/// The builders of the header, left to right.
fn headers(doc: &Html) -> Vec<i64> {
    doc.numbers("div.wf-head > div.wf-builder", "data-builderid")
}

/// The builders of the columns, left to right.
fn columns(doc: &Html) -> Vec<i64> {
    doc.numbers("div.wf-body > div.wf-column", "data-builderid")
}

/// The steps shown in a box.
fn steps(build: ElementRef<'_>) -> Vec<ElementRef<'_>> {
    build.all(":scope > span.wf-steps > span.wf-step")
}

/// The pager's links: (class, link, text).
fn pages(doc: &Html) -> Vec<(String, String, String)> {
    doc.one("nav.wf-pages")
        .all(":scope > a")
        .into_iter()
        .map(|a| {
            (
                attr(a, "class").to_owned(),
                attr(a, "href").to_owned(),
                text(a),
            )
        })
        .collect()
}

fn number(doc: &Html, buildid: i64, name: &str) -> f64 {
    attr(build(doc, buildid), name).parse().unwrap()
}

fn height(doc: &Html, buildid: i64) -> f64 {
    number(doc, buildid, "data-height")
}

fn top(doc: &Html, buildid: i64) -> f64 {
    number(doc, buildid, "data-top")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.051
}

/// The scale the page says it shows.
fn scale(doc: &Html) -> &str {
    attr(doc.one("div.wf"), "data-scale")
}

/// The text shown instead of the grid.
fn empty_note(doc: &Html) -> String {
    text(doc.one("p.wf-empty"))
}

#[tokio::test]
async fn columns_and_boxes_in_order_with_links_and_colours() {
    let server = serve("").await;
    let doc = page(&server, "").await;
    // builders scheduled together sit together; idle (no builds) is not shown; tools (forced
    // alone) comes last
    assert_eq!(headers(&doc), [1, 2, 3, 5, 4, 6, 9, 8]);
    assert_eq!(columns(&doc), [1, 2, 3, 5, 4, 6, 9, 8]);
    // boxes column by column, newest first
    assert_eq!(
        builds(&doc),
        [13, 11, 10, 6, 1, 14, 7, 2, 12, 8, 3, 5, 4, 16, 9, 15, 17]
    );
    // the rebuild (10) overlaps build 11: linux-build has two lanes
    assert_eq!(attr(doc.all("div.wf-column")[0], "data-lanes"), "2");
    assert_eq!(attr(build(&doc, 11), "data-lane"), "1");
    assert!(text(doc.one("p.wf-summary")).starts_with("17 builds (ids 1 to 17) on 8 builders"));

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
        let b = build(&doc, buildid);
        assert_eq!(
            attr(b, "href"),
            format!("../../builders/{link}"),
            "{}",
            b.html()
        );
        assert_eq!(attr(b, "data-result"), result, "{}", b.html());
        assert!(
            attr(b, "style").contains(&format!("background:{colour};")),
            "{}",
            b.html()
        );
    }
    for buildid in 1..=17 {
        assert_eq!(doc.all(&format!("[data-buildid=\"{buildid}\"]")).len(), 1);
    }
    // the running build is marked
    let running = build(&doc, 14);
    assert!(has_class(running, "wf-running"));
    assert!(attr(running, "title").starts_with("linux-test #3: running (running for "));
    // builder headers link to the builder pages
    let win_test = doc.one("div.wf-head > div.wf-builder[data-builderid=\"4\"] > a");
    assert_eq!(
        (
            attr(win_test, "href"),
            attr(win_test, "title"),
            text(win_test).as_str()
        ),
        ("../../builders/4", "win-test", "win-test")
    );

    // the two tall boxes show their steps: build 4 (3 h) and the running build 14
    for (buildid, result, colour, title, name) in [
        (4, "failure", "#e88", "test: failed test", "test"),
        (14, "running", "#E7D100", "compile: compiling", "compile"),
    ] {
        let shown = steps(build(&doc, buildid));
        assert_eq!(shown.len(), 2, "build {buildid}");
        let style = format!("background:{colour};color:#000");
        assert_eq!(
            attrs_of(shown[1]),
            [
                ("class", "wf-step"),
                ("data-result", result),
                ("style", style.as_str()),
                ("title", title)
            ]
        );
        assert_eq!(text(shown[1]), name);
    }
    // build 1 has steps too, but its box (5 minutes, 20 px) is too small for them
    assert!(build(&doc, 1).all(".wf-steps, .wf-step").is_empty());
    assert!(doc.all("body script").is_empty());
}

#[tokio::test]
async fn heights_follow_durations_on_the_linear_and_the_log_scale() {
    let server = serve("").await;
    let doc = page(&server, "").await;
    assert_eq!(scale(&doc), "linear");
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
        assert_eq!(height(&doc, buildid), px, "build {buildid}");
    }
    // the present is at the top; the years since T+10870 (build 14 runs, nothing else
    // happens) are one collapsed quiet gap of 28 px
    assert_eq!(doc.all("div.wf-gap").len(), 1);
    assert_eq!(doc.all("div.wf-gap.wf-quiet").len(), 1);
    assert_eq!(top(&doc, 14), 0.0);
    assert_eq!(top(&doc, 4), 28.0);
    assert_eq!(height(&doc, 14), 628.7, "28 + 9010 s");
    // the same moment sits at the same height in every column: builds 6 and 7 start at T+660
    assert!(close(
        top(&doc, 6) + height(&doc, 6),
        top(&doc, 7) + height(&doc, 7)
    ));
    assert!(close(top(&doc, 1) - top(&doc, 3), 310.0 / 15.0));

    // log: each piece between two starts or ends is 60 px * log10(1 + seconds)
    let log = page(&server, "?scale=log").await;
    assert_eq!(scale(&log), "log");
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
    assert_eq!(builds(&log), builds(&doc));
    // on the log scale every box is tall enough for steps; build 1 shows its three
    assert_eq!(steps(build(&log, 1)).len(), 3);
}

#[tokio::test]
async fn the_config_sets_the_scale_and_the_step_cap() {
    let server = serve("scale = \"log\"\nmax_step_builds = 1\npixels_per_decade = 30").await;
    let doc = page(&server, "").await;
    assert_eq!(scale(&doc), "log");
    assert!(close(height(&doc, 2), 30.0 * 6f64.log10()));
    // only the tallest box (build 4) shows its steps
    assert_eq!(doc.all("span.wf-steps").len(), 1);
    assert_eq!(steps(build(&doc, 4)).len(), 2);
    // the URL overrides the configured scale
    let linear = page(&server, "?scale=linear").await;
    assert_eq!(height(&linear, 4), 720.0);
    let chosen = linear.all("select[name=scale] > option[selected]");
    assert_eq!(chosen.len(), 1);
    assert_eq!(attr(chosen[0], "value"), "linear");
}

#[tokio::test]
async fn database_text_is_escaped() {
    let server = serve("").await;
    let raw = raw_page(&server, "").await;
    assert!(!raw.contains("x<b>") && !raw.contains("<i>"));
    // what the escaped text reads as
    let doc = html::parse(&raw);
    let header = doc.one("div.wf-head > div.wf-builder[data-builderid=\"9\"]");
    let link = header.one(":scope > a");
    assert_eq!(
        (attr(link, "href"), attr(link, "title"), text(link).as_str()),
        ("../../builders/9", "x<b>\"&'", "x<b>\"&'")
    );
    assert_eq!(text(header.one(":scope > span.wf-tags")), "<i>");
    let fifteen = build(&doc, 15);
    assert_eq!(text(fifteen), "#1 build <successful> & \"ok\"");
    assert_eq!(fifteen.all("*").len(), 1, "only the <b> of the number");
    assert!(attr(fifteen, "title").starts_with("x<b>\"&' #1: build <successful> & \"ok\" (2 min"));
    // the tag filter with HTML specials: only builder 9, the tag echoed escaped in the form
    let raw = raw_page(&server, "?tag=%3Ci%3E").await;
    assert!(!raw.contains("<i>"));
    let doc = html::parse(&raw);
    assert_eq!(builds(&doc), [15]);
    // the chosen tag, then an empty field to add one
    let tags: Vec<&str> = doc
        .all("form.wf-options input[name=tag]")
        .into_iter()
        .map(|input| attr(input, "value"))
        .collect();
    assert_eq!(tags, ["<i>", ""]);
}

#[tokio::test]
async fn tag_filters_idle_gaps_and_empty_states() {
    let server = serve("").await;
    // linux: linux-build and linux-test (idle has no builds)
    let doc = page(&server, "?tag=linux").await;
    assert_eq!(builds(&doc), [13, 11, 10, 6, 1, 14, 7, 2]);
    // every tag must match
    let doc = page(&server, "?tag=linux&tag=test").await;
    assert_eq!(builds(&doc), [14, 7, 2]);
    // macOS: 29.5 idle minutes between its two builds, and the years since, are collapsed
    let doc = page(&server, "?tag=macos").await;
    assert_eq!(builds(&doc), [16, 9]);
    assert_eq!(doc.all("div.wf-gap.wf-idle").len(), 2);
    let gap = doc.one(&format!("div.wf-gap[data-newer=\"{}\"]", T + 2460));
    assert_eq!(
        attrs_of(gap),
        [
            ("class", "wf-gap wf-idle"),
            ("data-newer", (T + 2460).to_string().as_str()),
            ("data-older", (T + 690).to_string().as_str()),
            ("style", "top:34.7px;height:28.0px"),
            ("title", "2023-11-14 22:24:50 to 2023-11-14 22:54:20")
        ]
    );
    assert_eq!(text(gap), "idle 29 min 30 s");
    assert_eq!(top(&doc, 16), 28.0);
    assert_eq!(height(&doc, 16), 6.7);
    assert_eq!(top(&doc, 9), 62.7);

    // a filter that matches nothing: a message, no grid
    let doc = page(&server, "?tag=nosuchtag").await;
    let note = doc.one("p.wf-empty");
    assert!(
        text(note).starts_with("No builder has the tag nosuchtag: nothing to show."),
        "{}",
        note.html()
    );
    assert_eq!(text(note.one("code")), "nosuchtag");
    assert!(doc.all(".wf-grid").is_empty() && doc.all("[data-buildid]").is_empty());
    assert_eq!(attr(doc.one("form.wf-options"), "method"), "get");
    // no builds before the first one
    let doc = page(&server, "?before=1").await;
    assert_eq!(empty_note(&doc), "No builds before build 1.");
    assert_eq!(attr(doc.one("a.wf-newest"), "href"), "?");
}

#[tokio::test]
async fn builders_without_builds_on_request() {
    let server = serve("show_builders_without_builds = true").await;
    let doc = page(&server, "?tag=linux").await;
    // idle has no builds and no links to the others: last
    assert_eq!(headers(&doc), [1, 2, 7]);
    assert_eq!(columns(&doc), [1, 2, 7]);
    let doc = page(&server, "").await;
    assert_eq!(columns(&doc).len(), 9);
}

#[tokio::test]
async fn pages_through_history() {
    let server = serve("").await;
    let link =
        |class: &str, href: &str, text: &str| (class.to_owned(), href.to_owned(), text.to_owned());
    let doc = page(&server, "?limit=5").await;
    assert_eq!(sorted_builds(&doc), [13, 14, 15, 16, 17]);
    assert_eq!(
        pages(&doc),
        [link("wf-older", "?before=13&limit=5", "older ›")]
    );
    // follow the links
    let doc = page(&server, "?before=13&limit=5").await;
    assert_eq!(sorted_builds(&doc), [8, 9, 10, 11, 12]);
    assert_eq!(
        pages(&doc),
        [
            link("wf-newest", "?limit=5", "« newest"),
            link("wf-newer", "?after=12&limit=5", "‹ newer"),
            link("wf-older", "?before=8&limit=5", "older ›")
        ]
    );
    // an older page's line starts at its newest moment, not at the present
    assert_eq!(top(&doc, 12), 0.0);
    let doc = page(&server, "?before=8&limit=5").await;
    assert_eq!(sorted_builds(&doc), [3, 4, 5, 6, 7]);
    let doc = page(&server, "?before=3&limit=5").await;
    assert_eq!(sorted_builds(&doc), [1, 2]);
    assert!(doc.all("a.wf-older").is_empty());
    // newer pages: after 2 are 3 to 7; after 12 only five are left, the newest page
    let doc = page(&server, "?after=2&limit=5").await;
    assert_eq!(sorted_builds(&doc), [3, 4, 5, 6, 7]);
    assert!(pages(&doc).contains(&link("wf-newer", "?after=7&limit=5", "‹ newer")));
    let doc = page(&server, "?after=12&limit=5").await;
    assert_eq!(sorted_builds(&doc), [13, 14, 15, 16, 17]);
    assert!(doc.all("a.wf-newer").is_empty());
    // the other arguments go along
    let doc = page(&server, "?limit=3&scale=log&tag=linux").await;
    assert!(pages(&doc).contains(&link(
        "wf-older",
        "?before=11&limit=3&scale=log&tag=linux",
        "older ›"
    )));
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
    let doc = html::parse(&html);
    // the sidebar entry, the style in the shell's head, the view in its main area
    let entry = doc.one("a[data-key=\"plugin:waterfall_view\"]");
    assert!(text(entry).ends_with("Waterfall View"), "{html}");
    assert!(doc
        .all("head > style")
        .into_iter()
        .any(|style| text(style).contains(".wf-build{")));
    let main = doc.one("main div.plugin-view[data-plugin=\"waterfall_view\"]");
    assert_eq!(attr(main.one("div.wf"), "data-scale"), "log");
    // links work from the view's URL too: relative to /views/waterfall_view/
    assert_eq!(main.all("a[href=\"../../builders/1/builds/1\"]").len(), 1);
    // the shell refreshes the view on build and step events
    let shell: serde_json::Value =
        serde_json::from_str(&text(doc.one("script#bb-page"))).expect("the page's JSON");
    assert_eq!(
        shell["events"],
        serde_json::json!(["builds/*/*", "builds/*/steps/*/*"]),
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
