//! Unit tests of the waterfall view: the time line (linear and log scales, collapsed gaps),
//! lanes, builder order, options and URL arguments, and whole pages rendered from a stand-in
//! Data API holding the views dataset (`fixtures/views/dataset.sql`). The same dataset is
//! served by a real server in `host/tests/waterfall_view.rs`.

use std::cell::RefCell;
use std::rc::Rc;

use buildbot_plugin_sdk::serde_json::{json, Value};
use buildbot_plugin_sdk::{testing, Config, DataError, Request};

use super::*;
use crate::layout::{lanes, Gap, GapKind, GAP_HEIGHT};
use crate::options::{Scale, MAX_LIMIT};
use crate::order::order_builders;
use crate::render::{duration, utc};
use view_common::fixture::{hostile, texts, values as attributes};

/// T of the views dataset.
const T: i64 = 1_700_000_000;

// ---- the views dataset ---------------------------------------------------------------------

/// (id, name, tags)
const BUILDERS: [(i64, &str, &[&str]); 9] = [
    (1, "linux-build", &["linux", "build"]),
    (2, "linux-test", &["linux", "test"]),
    (3, "win-build", &["windows", "build"]),
    (4, "win-test", &["windows", "test"]),
    (5, "docs", &["docs"]),
    (6, "mac-build", &["macos", "build"]),
    (7, "idle", &["linux"]),
    (8, "tools", &[]),
    (9, "x<b>\"&'", &["<i>"]),
];

/// (buildid, number, builderid, buildrequestid, started_at - T, complete_at - T, results,
/// state_string)
type BuildRow = (
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    &'static str,
);
const BUILDS: [BuildRow; 17] = [
    (1, 1, 1, 1, 60, Some(360), Some(0), "build successful"),
    (2, 1, 2, 2, 60, Some(65), Some(0), "build successful"),
    (3, 1, 3, 3, 70, Some(670), Some(1), "warnings"),
    (4, 1, 4, 4, 70, Some(10870), Some(2), "failed test"),
    (5, 1, 5, 5, 80, Some(85), Some(3), "skipped"),
    (6, 2, 1, 6, 660, Some(960), Some(2), "failed compile"),
    (7, 2, 2, 7, 660, Some(700), Some(4), "exception"),
    (8, 2, 3, 8, 670, Some(1270), Some(5), "retry"),
    (9, 1, 6, 9, 680, Some(690), Some(6), "cancelled"),
    (10, 3, 1, 10, 1000, Some(1300), Some(0), "build successful"),
    (11, 4, 1, 11, 1260, Some(1560), Some(0), "build successful"),
    (12, 3, 3, 12, 1270, Some(1870), Some(0), "build successful"),
    (13, 5, 1, 13, 1860, Some(2160), Some(0), "build successful"),
    (14, 3, 2, 14, 1860, None, None, "running"),
    (
        15,
        1,
        9,
        15,
        1870,
        Some(1990),
        Some(0),
        "build <successful> & \"ok\"",
    ),
    (16, 2, 6, 16, 2460, Some(2560), Some(2), "failed test"),
    (17, 1, 8, 17, 3000, Some(3030), Some(0), "build successful"),
];

/// (buildrequestid, buildsetid) of the builds' requests.
const REQUESTS: [(i64, i64); 17] = [
    (1, 1),
    (2, 1),
    (3, 1),
    (4, 1),
    (5, 1),
    (6, 2),
    (7, 2),
    (8, 2),
    (9, 2),
    (10, 3),
    (11, 4),
    (12, 4),
    (13, 5),
    (14, 5),
    (15, 5),
    (16, 6),
    (17, 7),
];

/// (bsid, ssid)
const BUILDSETS: [(i64, i64); 7] = [(1, 1), (2, 2), (3, 2), (4, 3), (5, 4), (6, 5), (7, 6)];

/// (buildid, number, name, results; None = running)
const STEPS: [(i64, i64, &str, Option<i64>); 7] = [
    (1, 0, "git", Some(0)),
    (1, 1, "compile", Some(0)),
    (1, 2, "test", Some(0)),
    (4, 0, "git", Some(0)),
    (4, 1, "test", Some(2)),
    (14, 0, "git", Some(0)),
    (14, 1, "compile", None),
];

/// The query's parameters.
fn params(query: &str) -> Vec<(String, String)> {
    Request::get("/").with_query(query).query_params()
}

fn values(params: &[(String, String)], name: &str) -> Vec<i64> {
    params
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.parse().expect("an integer"))
        .collect()
}

/// The dataset's answer to `path?query`, for the reads the plugin makes.
fn answer(path: &str, query: &str) -> Result<String, DataError> {
    let p = params(query);
    // as Buildbot: filters and order only on selected fields
    let fields: Vec<&str> = p
        .iter()
        .filter(|(n, _)| n == "field")
        .map(|(_, v)| v.as_str())
        .collect();
    for (name, value) in &p {
        let field = match name.as_str() {
            "field" | "limit" | "offset" | "property" => continue,
            "order" => value.trim_start_matches('-'),
            filter => filter.split("__").next().unwrap(),
        };
        if !fields.is_empty() && !fields.contains(&field) {
            return Err(DataError::new(400, "cannot filter on un-selected fields"));
        }
    }
    let one = |name: &str| values(&p, name).first().copied();
    let limit = one("limit").filter(|&l| l >= 0).unwrap_or(1000) as usize;
    let answer = |key: &str, items: Vec<Value>| {
        let items: Vec<Value> = items.into_iter().take(limit).collect();
        Ok(json!({ key: items, "meta": {} }).to_string())
    };
    match path {
        "builders" => {
            let ids = values(&p, "builderid");
            let items = BUILDERS
                .iter()
                .filter(|(id, ..)| ids.is_empty() || ids.contains(id))
                .map(|(id, name, tags)| json!({"builderid": id, "name": name, "tags": tags}))
                .collect();
            answer("builders", items)
        }
        "builds" => {
            let builders = values(&p, "builderid");
            let buildids = values(&p, "buildid");
            let mut rows: Vec<&BuildRow> = BUILDS
                .iter()
                .filter(|b| builders.is_empty() || builders.contains(&b.2))
                .filter(|b| buildids.is_empty() || buildids.contains(&b.0))
                .filter(|b| one("buildid__lt").is_none_or(|x| b.0 < x))
                .filter(|b| one("buildid__le").is_none_or(|x| b.0 <= x))
                .filter(|b| one("buildid__gt").is_none_or(|x| b.0 > x))
                .filter(|b| one("buildid__ge").is_none_or(|x| b.0 >= x))
                .collect();
            if p.iter().any(|(n, v)| n == "order" && v == "-buildid") {
                rows.reverse();
            }
            let items = rows
                .into_iter()
                .map(|b| {
                    json!({"buildid": b.0, "number": b.1, "builderid": b.2,
                    "buildrequestid": b.3, "started_at": T + b.4,
                    "complete_at": b.5.map(|e| T + e), "results": b.6, "state_string": b.7})
                })
                .collect();
            answer("builds", items)
        }
        "buildrequests" => {
            let ids = values(&p, "buildrequestid");
            let items = REQUESTS
                .iter()
                .filter(|(id, _)| ids.contains(id))
                .map(|(id, bsid)| json!({"buildrequestid": id, "buildsetid": bsid}))
                .collect();
            answer("buildrequests", items)
        }
        "buildsets" => {
            let ids = values(&p, "bsid");
            let items = BUILDSETS
                .iter()
                .filter(|(id, _)| ids.contains(id))
                .map(|(id, ssid)| json!({"bsid": id, "sourcestamps": [{"ssid": ssid}]}))
                .collect();
            answer("buildsets", items)
        }
        _ => {
            let buildid: i64 = path
                .strip_prefix("builds/")
                .and_then(|rest| rest.strip_suffix("/steps"))
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| DataError::new(404, format!("Invalid path: {path}")))?;
            assert!(query.contains("hidden=false"), "{query}");
            let items = STEPS
                .iter()
                .filter(|s| s.0 == buildid)
                .map(|s| {
                    json!({"number": s.1, "name": s.2, "results": s.3,
                    "complete": s.3.is_some(), "state_string": s.2})
                })
                .collect();
            answer("steps", items)
        }
    }
}

/// Serves the dataset to this thread's reads; the returned list records each read's path.
fn dataset() -> Rc<RefCell<Vec<String>>> {
    let reads = Rc::new(RefCell::new(Vec::new()));
    let log = reads.clone();
    testing::set_data(move |path, query| {
        log.borrow_mut().push(path.to_owned());
        answer(path, query)
    });
    reads
}

fn view(config: Value) -> WaterfallView {
    let Value::Object(map) = config else {
        panic!("an object")
    };
    WaterfallView::init(Config::new("waterfall_view", map)).expect("a valid config")
}

fn args_of(plugin: &WaterfallView, query: &str) -> Args {
    Args::parse(&Request::get("/").with_query(query), &plugin.options).expect("valid arguments")
}

/// The page for `query` at `now`.
fn render(plugin: &WaterfallView, query: &str, now: i64) -> String {
    plugin
        .page(&args_of(plugin, query), "../../", now)
        .expect("the page renders")
}

/// Every value of attribute `name` in `html`, in document order.
fn attrs(html: &str, name: &str) -> Vec<String> {
    attributes(html, &format!("[{name}]"), name)
}

/// Attribute `name` of the build box of `buildid`.
fn box_attr(html: &str, buildid: i64, name: &str) -> String {
    let css = format!("a.wf-build[data-buildid='{buildid}']");
    assert_eq!(
        attributes(html, &css, "data-buildid").len(),
        1,
        "one box of build {buildid}"
    );
    attributes(html, &css, name).pop().unwrap_or_default()
}

/// The document's body (the style names every class).
fn body(html: &str) -> &str {
    &html[html.find("<body>").unwrap()..]
}

fn height_of(html: &str, buildid: i64) -> f64 {
    box_attr(html, buildid, "data-height").parse().unwrap()
}

fn top_of(html: &str, buildid: i64) -> f64 {
    box_attr(html, buildid, "data-top").parse().unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.051
}

// ---- the time line -------------------------------------------------------------------------

fn settings(scale: Scale) -> Settings {
    Settings::new(&Options::default(), scale)
}

#[test]
fn linear_heights_are_proportional_to_durations() {
    let s = settings(Scale::Linear);
    // two overlapping builds of 300 s and 5 s, and a 3-hour one
    let spans = [
        Span::new(T, T + 300),
        Span::new(T + 100, T + 105),
        Span::new(T, T + 10_800),
    ];
    let axis = Axis::new(&spans, None, &s);
    assert!(axis.gaps.is_empty());
    // 4 px per minute
    assert_eq!(axis.height(), 720.0);
    assert_eq!(axis.y(T + 10_800), 0.0);
    assert_eq!(axis.y(T), 720.0);
    assert_eq!(axis.y(T + 300) - axis.y(T + 10_800), 10_500.0 / 15.0);
    let box_height = |span: Span| axis.y(span.start) - axis.y(span.end);
    assert_eq!(box_height(spans[0]), 20.0);
    assert!(close(box_height(spans[1]), 5.0 / 15.0));
    assert_eq!(box_height(spans[2]), 720.0);
    // in between cuts, time is spread evenly; outside the line it is clamped
    assert_eq!(axis.y(T + 150), 720.0 - 10.0);
    assert_eq!(axis.y(T + 20_000), 0.0);
    assert_eq!(axis.y(T - 50), 720.0);
}

#[test]
fn log_heights_follow_the_logarithm_of_each_piece() {
    let s = settings(Scale::Log);
    assert!(close(s.height(5), 60.0 * 6f64.log10()));
    assert!(close(s.height(10_800), 60.0 * 10_801f64.log10()));
    assert!(close(s.height(9), 60.0));
    assert_eq!(s.height(0), 0.0);
    // a 5 s build and a 3 h build that do not overlap: each is one piece
    let axis = Axis::new(
        &[Span::new(T, T + 5), Span::new(T + 5, T + 10_805)],
        None,
        &s,
    );
    let short = axis.y(T) - axis.y(T + 5);
    let long = axis.y(T + 5) - axis.y(T + 10_805);
    assert!(close(short, 46.7) && close(long, 242.0), "{short} {long}");
    // 2160 times longer, drawn about 5 times taller
    assert!((5.0..5.3).contains(&(long / short)), "{}", long / short);
    // a build spanning several pieces is as tall as their sum
    let axis = Axis::new(
        &[Span::new(T, T + 100), Span::new(T + 10, T + 20)],
        None,
        &s,
    );
    let expected = s.height(10) + s.height(10) + s.height(80);
    assert!(close(axis.height(), expected));
}

#[test]
fn idle_gaps_collapse_beyond_the_threshold() {
    let s = settings(Scale::Linear);
    // 60 s of build, 1 h of nothing, 60 s of build
    let spans = [Span::new(T, T + 60), Span::new(T + 3660, T + 3720)];
    let axis = Axis::new(&spans, None, &s);
    assert_eq!(
        axis.gaps,
        [Gap {
            kind: GapKind::Idle,
            newer: T + 3660,
            older: T + 60,
            top: 4.0,
            height: GAP_HEIGHT
        }]
    );
    assert_eq!(axis.height(), 4.0 + GAP_HEIGHT + 4.0);
    assert_eq!(axis.y(T + 60), 4.0 + GAP_HEIGHT);
    // a gap of 300 s (the threshold) stays
    let spans = [Span::new(T, T + 60), Span::new(T + 360, T + 420)];
    let axis = Axis::new(&spans, None, &s);
    assert!(axis.gaps.is_empty());
    assert_eq!(axis.height(), 4.0 + 20.0 + 4.0);
    // threshold 0: never collapsed
    let never = Settings {
        idle_threshold: 0,
        ..s
    };
    let axis = Axis::new(
        &[Span::new(T, T + 60), Span::new(T + 3660, T + 3720)],
        None,
        &never,
    );
    assert!(axis.gaps.is_empty());
    assert_eq!(axis.height(), 248.0);
    // the present on top of the newest page: a long wait since the last build collapses too
    let axis = Axis::new(&[Span::new(T, T + 60)], Some(T + 86_000), &s);
    assert_eq!(axis.gaps.len(), 1);
    assert_eq!((axis.gaps[0].newer, axis.gaps[0].top), (T + 86_000, 0.0));
    assert_eq!(axis.y(T + 60), GAP_HEIGHT);
}

#[test]
fn quiet_gaps_collapse_even_while_a_build_runs() {
    let s = settings(Scale::Linear);
    // a build started two days ago still runs; another one ran at the start
    let spans = [Span::new(T, T + 172_800), Span::new(T + 10, T + 70)];
    let axis = Axis::new(&spans, Some(T + 172_800), &s);
    assert_eq!(axis.gaps.len(), 1);
    assert_eq!(axis.gaps[0].kind, GapKind::Quiet);
    assert_eq!(
        (axis.gaps[0].newer, axis.gaps[0].older),
        (T + 172_800, T + 70)
    );
    // the running build spans the collapsed piece: 28 + 70 s
    assert!(close(
        axis.y(T) - axis.y(T + 172_800),
        GAP_HEIGHT + 70.0 / 15.0
    ));
    // the quiet threshold is not the idle one: 2 h while something runs stays
    let axis = Axis::new(&[Span::new(T, T + 7200)], None, &s);
    assert!(axis.gaps.is_empty());
    assert_eq!(axis.height(), 480.0);
}

#[test]
fn ticks_are_spaced() {
    let s = settings(Scale::Linear);
    let spans = [Span::new(T, T + 600), Span::new(T + 60, T + 120)];
    let axis = Axis::new(&spans, None, &s);
    // cuts at 600 (0 px), 120 (32), 60 (36), 0 (40)
    let ticks = axis.ticks(30.0);
    assert_eq!(ticks, [(T + 600, 0.0), (T + 120, 32.0)]);
    assert_eq!(axis.ticks(0.0).len(), 4);
    // the top of a collapsed gap is not labelled, its bottom is
    let spans = [Span::new(T, T + 60), Span::new(T + 3660, T + 3720)];
    let axis = Axis::new(&spans, None, &s);
    assert_eq!(
        axis.ticks(0.0),
        [
            (T + 3720, 0.0),
            (T + 60, 4.0 + GAP_HEIGHT),
            (T, 8.0 + GAP_HEIGHT)
        ]
    );
}

#[test]
fn overlapping_builds_get_lanes() {
    let spans = [
        Span::new(100, 200),
        Span::new(150, 300),
        Span::new(200, 250),
        Span::new(120, 130),
        Span::new(400, 500),
    ];
    // 100-200 lane 0; 120-130 lane 1; 150-300 lane 1 (free at 130); 200-250 lane 0 (free at
    // 200); 400-500 lane 0
    assert_eq!(lanes(&spans), (vec![0, 1, 0, 1, 0], 2));
    assert_eq!(lanes(&[]), (vec![], 1));
    assert_eq!(lanes(&[Span::new(5, 1)]), (vec![0], 1), "end before start");
}

// ---- builder order -------------------------------------------------------------------------

fn columns<'a>(names: &[(i64, &'a str)]) -> Vec<order::Column<'a>> {
    names
        .iter()
        .map(|&(builderid, name)| order::Column { builderid, name })
        .collect()
}

#[test]
fn builders_scheduled_together_sit_together() {
    let builders = columns(&[(1, "a"), (2, "b"), (3, "c"), (4, "d")]);
    // without links: by name
    assert_eq!(order_builders(&builders, &[]), [1, 2, 3, 4]);
    // a with c, b with d
    assert_eq!(
        order_builders(&builders, &[vec![1, 3], vec![2, 4], vec![3, 1]]),
        [1, 3, 2, 4]
    );
    // the most linked builder starts; ties go by name
    assert_eq!(
        order_builders(&builders, &[vec![4, 2], vec![4, 3], vec![4, 1]]),
        [4, 1, 2, 3]
    );
    // a chain follows the strongest link from the last builder placed
    let groups = [
        vec![1, 2],
        vec![2, 3],
        vec![2, 3],
        vec![3, 4],
        vec![3, 4],
        vec![3, 4],
    ];
    assert_eq!(order_builders(&builders, &groups), [3, 4, 2, 1]);
    // unknown ids, repeats and duplicates are ignored
    assert_eq!(order_builders(&builders, &[vec![9, 4, 4, 1]]), [1, 4, 2, 3]);
    assert!(order_builders(&[], &[vec![1, 2]]).is_empty());
}

#[test]
fn the_dataset_order() {
    // linux-build shares the most; docs and win-test tie after win-build and docs comes first
    // by name; x<b>"&' shares change 4 with the linux builders; tools was forced alone.
    let names: Vec<(i64, &str)> = BUILDERS
        .iter()
        .filter(|b| b.0 != 7)
        .map(|b| (b.0, b.1))
        .collect();
    let _reads = dataset();
    let builds: Vec<Build> = data::list("builds", &Query::new()).unwrap();
    let requests = builds.iter().map(|b| b.buildrequestid).collect();
    let groups = order::groups(&builds, &fetch::origins(&requests).unwrap());
    assert_eq!(
        order_builders(&columns(&names), &groups),
        [1, 2, 3, 5, 4, 6, 9, 8]
    );
}

// ---- options and arguments ------------------------------------------------------------------

#[test]
fn options_have_defaults_and_are_checked() {
    let plugin = view(json!({}));
    assert_eq!(plugin.options, Options::default());
    let plugin = view(
        json!({"scale": "log", "limit": 50, "pixels_per_minute": 1.5,
        "idle_threshold": 0, "show_builders_without_builds": true, "max_step_builds": 0}),
    );
    assert_eq!(plugin.options.scale, Scale::Log);
    assert_eq!(plugin.options.limit, 50);
    assert_eq!(plugin.options.pixels_per_minute, 1.5);
    let error = |config: Value| {
        let Value::Object(map) = config else { panic!() };
        WaterfallView::init(Config::new("waterfall_view", map)).unwrap_err()
    };
    assert_eq!(
        error(json!({"scales": "log"})),
        "waterfall_view: unknown option 'scales' (expected one of: limit, scale, \
         pixels_per_minute, pixels_per_decade, idle_threshold, quiet_threshold, \
         min_column_width, show_builders_without_builds, max_step_builds, min_height_for_steps)"
    );
    assert_eq!(
        error(json!({"scale": "logarithmic"})),
        "waterfall_view: invalid config: option 'scale': unknown variant `logarithmic`, \
         expected `linear` or `log`"
    );
    assert_eq!(
        error(json!({"limit": 5000})),
        "waterfall_view: option 'limit' must be between 1 and 1000, not 5000"
    );
    assert_eq!(
        error(json!({"pixels_per_minute": 0})),
        "waterfall_view: option 'pixels_per_minute' must be above 0 and at most 600, not 0"
    );
    assert_eq!(
        error(json!({"idle_threshold": "5m"})),
        "waterfall_view: invalid config: option 'idle_threshold': invalid type: string \"5m\", \
         expected i64"
    );
    assert_eq!(
        error(json!({"min_height_for_steps": -1})),
        "waterfall_view: option 'min_height_for_steps' must be between 0 and 10000, not -1"
    );
    assert_eq!(
        error(json!({"show_builders_without_builds": 1})),
        "waterfall_view: invalid config: option 'show_builders_without_builds': \
         invalid type: integer `1`, expected a boolean"
    );
}

fn get(plugin: &mut WaterfallView, query: &str) -> Response {
    plugin.respond(&Request::get("/").with_query(query))
}

#[test]
fn bad_arguments_are_400_with_a_reason() {
    let _reads = dataset();
    let mut plugin = view(json!({}));
    let cases = [
        (
            "before=abc",
            "'before' must be a build id (a positive integer), not 'abc'",
        ),
        (
            "after=-3",
            "'after' must be a build id (a positive integer), not '-3'",
        ),
        ("before=99999999999999999999", "'before' must be a build id"),
        ("before=3&after=5", "give one of 'before' and 'after', once"),
        (
            "scale=bogus",
            "'scale' must be 'linear' or 'log', not 'bogus'",
        ),
        (
            "limit=0",
            "'limit' must be a number of builds from 1 to 1000, not '0'",
        ),
        ("limit=1000000", "not '1000000'"),
        ("limit=", "not ''"),
    ];
    for (query, message) in cases {
        let response = get(&mut plugin, query);
        assert_eq!(response.status, 400, "{query}");
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        let body = response.body_text().unwrap();
        assert!(body.starts_with("bad waterfall request: "), "{body}");
        assert!(body.contains(message), "{query}: {body}");
    }
    let long = "x".repeat(101);
    assert!(get(&mut plugin, &format!("tag={long}"))
        .body_text()
        .unwrap()
        .contains("at most 100 characters"));
    let many: Vec<String> = (0..21).map(|i| format!("tag=t{i}")).collect();
    assert_eq!(get(&mut plugin, &many.join("&")).status, 400);
    // a long value is cut in the message
    let body = get(&mut plugin, &format!("scale={}", "y".repeat(500)))
        .body_text()
        .unwrap()
        .to_owned();
    assert!(body.len() < 150, "{body}");
    // other paths and methods
    assert_eq!(plugin.respond(&Request::get("/x")).status, 404);
    let post = plugin.respond(&Request::new("POST", "/"));
    assert_eq!(
        (post.status, post.header("allow")),
        (405, Some("GET, HEAD"))
    );
    assert_eq!(plugin.respond(&Request::new("HEAD", "/")).status, 200);
    // unknown arguments are ignored; the limit may reach MAX_LIMIT
    assert_eq!(get(&mut plugin, "foo=bar").status, 200);
    assert_eq!(get(&mut plugin, &format!("limit={MAX_LIMIT}")).status, 200);
}

#[test]
fn links_keep_the_other_arguments() {
    let plugin = view(json!({}));
    let args = args_of(
        &plugin,
        "before=9&scale=log&tag=a%20b&tag=c%26d&tag=&limit=5&x=1",
    );
    assert_eq!(args.cursor, Cursor::Before(9));
    assert_eq!((args.scale, args.limit), (Scale::Log, 5));
    assert_eq!(args.tags, ["a b", "c&d"]);
    assert_eq!(
        args.link(Cursor::After(12)),
        "?after=12&scale=log&tag=a%20b&tag=c%26d&limit=5"
    );
    assert_eq!(
        args.link(Cursor::Latest),
        "?scale=log&tag=a%20b&tag=c%26d&limit=5"
    );
    assert_eq!(args_of(&plugin, "").link(Cursor::Before(3)), "?before=3");
}

// ---- whole pages -----------------------------------------------------------------------------

/// Long after the dataset: the running build 14 has run for more than a day.
const LATER: i64 = T + 200_000;

#[test]
fn the_manifest() {
    let manifest = WaterfallView::manifest();
    assert_eq!(manifest.name, "waterfall_view");
    assert_eq!(manifest.menu[0].label, "Waterfall View");
    assert_eq!(manifest.menu[0].path, "/");
    assert_eq!(manifest.events, ["builds/*/*", "builds/*/steps/*/*"]);
}

#[test]
fn columns_and_boxes_in_order() {
    let reads = dataset();
    let plugin = view(json!({}));
    let html = render(&plugin, "", LATER);
    // columns: headers then columns, each in display order; idle (no builds) is not shown
    let order = ["1", "2", "3", "5", "4", "6", "9", "8"];
    let ids = attrs(&html, "data-builderid");
    let headers: Vec<&str> = ids[..8].iter().map(String::as_str).collect();
    assert_eq!(headers, order);
    // linux-build's rebuild (10, T+1000 to T+1300) overlaps build 11 (from T+1260): two lanes
    let lanes = attrs(&html, "data-lanes");
    assert_eq!(lanes, ["2", "1", "1", "1", "1", "1", "1", "1"]);
    let lane = |id| box_attr(&html, id, "data-lane");
    assert_eq!(
        [lane(13), lane(11), lane(10), lane(6), lane(1)],
        ["0", "1", "0", "0", "0"]
    );
    assert!(box_attr(&html, 11, "style").contains("left:50.000%;width:50.000%"));
    assert!(html.contains("data-builderid=\"1\" style=\"flex:2 0 180px;width:180px\""));
    // boxes: column by column, newest first within a column
    let boxes: Vec<i64> = attrs(&html, "data-buildid")
        .iter()
        .map(|id| id.parse().unwrap())
        .collect();
    assert_eq!(
        boxes,
        [13, 11, 10, 6, 1, 14, 7, 2, 12, 8, 3, 5, 4, 16, 9, 15, 17]
    );
    // reads: builds, builders, build requests, buildsets, then the steps of the two boxes
    // tall enough (the 3 h build 4 and the running build 14)
    assert_eq!(
        *reads.borrow(),
        [
            "builds",
            "builders",
            "buildrequests",
            "buildsets",
            "builds/4/steps",
            "builds/14/steps"
        ]
    );
    // the summary
    assert!(
        html.contains("17 builds (ids 1 to 17) on 8 builders"),
        "{html}"
    );
}

#[test]
fn boxes_link_to_their_builds_in_result_colours() {
    let _reads = dataset();
    let html = render(&view(json!({})), "", LATER);
    let attr = |name| box_attr(&html, 6, name);
    assert_eq!(attr("href"), "../../builders/1/builds/2");
    assert_eq!(attr("data-builderid"), "1");
    assert_eq!(attr("data-number"), "2");
    assert_eq!(attr("data-result"), "failure");
    assert!(attr("style").contains("background:#e88;color:#000"));
    let results: Vec<(i64, &str)> = vec![
        (1, "success"),
        (3, "warnings"),
        (4, "failure"),
        (5, "skipped"),
        (7, "exception"),
        (8, "retry"),
        (9, "cancelled"),
        (14, "running"),
    ];
    for (buildid, result) in results {
        assert_eq!(
            box_attr(&html, buildid, "data-result"),
            result,
            "build {buildid}"
        );
    }
    let running = |name| box_attr(&html, 14, name);
    assert!(running("class").contains("wf-running"));
    assert!(running("style").contains("background:#E7D100"));
    assert!(running("title").starts_with("linux-test #3: running (running for 2 d 7 h"));
    // builder headers link to the builder pages
    assert!(html.contains("<a href=\"../../builders/4\" title=\"win-test\">win-test</a>"));
}

#[test]
fn heights_follow_durations_linear_and_log() {
    let _reads = dataset();
    let html = render(&view(json!({})), "", LATER);
    // build 4 runs until T+10870 and build 14 runs on to now: the only gap is the quiet day
    // and more between T+10870 and now
    assert_eq!(html.matches("class=\"wf-gap").count(), 1);
    assert!(html.contains("class=\"wf-gap wf-quiet\""));
    // linear, 4 px per minute
    assert!(close(height_of(&html, 4), 720.0));
    assert!(close(height_of(&html, 1), 20.0));
    assert!(close(height_of(&html, 2), 0.3));
    assert!(close(height_of(&html, 3), 40.0));
    assert!(close(height_of(&html, 7), 40.0 / 15.0));
    // the top is now: build 14 starts the line, build 4 ends below the collapsed gap
    assert_eq!(top_of(&html, 14), 0.0);
    assert_eq!(top_of(&html, 4), GAP_HEIGHT);
    assert!(close(
        height_of(&html, 14),
        GAP_HEIGHT + (10_870 - 1860) as f64 / 15.0
    ));
    // builds that start together end level in different columns (6 and 7 at T+660)
    let bottom = |id| top_of(&html, id) + height_of(&html, id);
    assert!(close(bottom(6), bottom(7)));
    assert!(close(top_of(&html, 1) - top_of(&html, 3), 310.0 / 15.0));

    // log: pieces between every start and end, 60 px per decade
    let html = render(&view(json!({})), "scale=log", LATER);
    let piece = |seconds: f64| 60.0 * (1.0 + seconds).log10();
    // build 2 (60-65) and build 5 (80-85) are single pieces of 5 s
    assert!(close(height_of(&html, 2), piece(5.0)));
    assert!(close(height_of(&html, 5), piece(5.0)));
    // build 1 (60-360): pieces 360-85, 85-80, 80-70, 70-65, 65-60
    let expected: f64 = [275.0, 5.0, 10.0, 5.0, 5.0].into_iter().map(piece).sum();
    assert!(
        close(height_of(&html, 1), expected),
        "{}",
        height_of(&html, 1)
    );
    // build 4 (70-10870): 23 pieces
    let cuts = [
        10870, 3030, 3000, 2560, 2460, 2160, 1990, 1870, 1860, 1560, 1300, 1270, 1260, 1000, 960,
        700, 690, 680, 670, 660, 360, 85, 80, 70,
    ];
    let expected: f64 = cuts.windows(2).map(|w| piece((w[0] - w[1]) as f64)).sum();
    assert!(
        close(height_of(&html, 4), expected),
        "{}",
        height_of(&html, 4)
    );
    // a 2160:1 ratio on the linear scale is about 55:1 on the log scale
    let ratio = height_of(&html, 4) / height_of(&html, 2);
    assert!((54.0..56.0).contains(&ratio), "{ratio}");
    assert!(html.contains("<div class=\"wf\" data-scale=\"log\">"));
}

#[test]
fn steps_show_in_tall_boxes_within_the_cap() {
    let reads = dataset();
    let html = render(&view(json!({})), "", LATER);
    // build 4: its two steps, the failed one in the failure colour
    let start = html.find("data-buildid=\"4\"").unwrap();
    let end = start + html[start..].find("</a>").unwrap();
    let inside = &html[start..end];
    assert!(inside.contains(
        "<span class=\"wf-step\" data-result=\"success\" style=\"background:#8d4;color:#000\" \
         title=\"git: git\">git</span>"
    ));
    assert!(inside.contains("data-result=\"failure\" style=\"background:#e88;color:#000\""));
    // build 14: the compile step is running
    let start = html.find("data-buildid=\"14\"").unwrap();
    let inside = &html[start..start + html[start..].find("</a>").unwrap()];
    assert!(inside.contains("data-result=\"running\""));
    assert!(inside.contains(">compile</span>"));
    // build 1 is 20 px high: no steps
    let start = html.find("data-buildid=\"1\"").unwrap();
    let inside = &html[start..start + html[start..].find("</a>").unwrap()];
    assert!(!inside.contains("wf-step"));

    // on the log scale every box is tall enough; the cap keeps the reads bounded
    reads.borrow_mut().clear();
    let plugin = view(json!({"max_step_builds": 3, "scale": "log"}));
    let html = render(&plugin, "", LATER);
    let step_reads: Vec<String> = reads
        .borrow()
        .iter()
        .filter(|p| p.ends_with("/steps"))
        .cloned()
        .collect();
    // the three tallest: 4 (3 h), 14 (running), then 8 (600 s across many pieces)
    assert_eq!(
        step_reads,
        ["builds/4/steps", "builds/14/steps", "builds/8/steps"]
    );
    assert_eq!(html.matches("class=\"wf-steps\"").count(), 3);
    // no steps at all
    reads.borrow_mut().clear();
    let html = render(&view(json!({"max_step_builds": 0})), "", LATER);
    assert!(!body(&html).contains("wf-step"));
    assert_eq!(reads.borrow().len(), 4);
}

#[test]
fn a_warm_instance_reads_only_what_can_change() {
    let reads = dataset();
    let plugin = view(json!({}));
    let first = render(&plugin, "", LATER);
    reads.borrow_mut().clear();
    let second = render(&plugin, "", LATER);
    assert_eq!(first, second);
    // the builders (for a while), the build requests' origins and the finished build 4's
    // steps are kept; the running build 14's steps are read again
    assert_eq!(*reads.borrow(), ["builds", "builds/14/steps"]);
    // a page with other builds reads the origins of those only
    reads.borrow_mut().clear();
    let plugin = view(json!({}));
    render(&plugin, "limit=3", LATER);
    reads.borrow_mut().clear();
    testing::set_data({
        let log = reads.clone();
        move |path, query| {
            log.borrow_mut().push(format!("{path}?{query}"));
            answer(path, query)
        }
    });
    render(&plugin, "limit=5", LATER);
    let requests: Vec<String> = reads
        .borrow()
        .iter()
        .filter(|r| r.starts_with("buildrequests?"))
        .cloned()
        .collect();
    assert_eq!(
        requests,
        ["buildrequests?buildrequestid=13&buildrequestid=14\
          &field=buildrequestid&field=buildsetid&limit=2"]
    );
    // steps are kept per reader: another user reads them again
    reads.borrow_mut().clear();
    let mut timing = Timing::start();
    let args = args_of(&plugin, "");
    plugin
        .timed_page(&args, "../../", "alice", LATER, &mut timing)
        .unwrap();
    assert!(reads
        .borrow()
        .iter()
        .any(|r| r.starts_with("builds/4/steps?")));
    assert!(reads.borrow().iter().any(|r| r.starts_with("builders?")));
    assert!(timing.header().starts_with("builds;dur="));
    assert_eq!(
        reader_key(&buildbot_plugin_sdk::User {
            groups: vec!["admins".into()],
            ..buildbot_plugin_sdk::User::named("alice")
        }),
        "alice\u{1}admins"
    );
}

#[test]
fn builders_are_reused_for_a_while() {
    let mut caches = Caches::default();
    let builder = Builder {
        builderid: 3,
        ..Builder::default()
    };
    caches.builders_of("", 1000).by_id.insert(3, builder);
    assert!(caches
        .builders_of("", 1000 + BUILDER_TTL_MS - 1)
        .by_id
        .contains_key(&3));
    assert!(caches.builders_of("bob", 1000).by_id.is_empty());
    assert!(caches
        .builders_of("", 1000 + BUILDER_TTL_MS)
        .by_id
        .is_empty());
    for reader in 0..=BUILDER_READERS {
        caches.builders_of(&reader.to_string(), 0);
    }
    assert!(caches.builders.len() <= BUILDER_READERS);
}

#[test]
fn steps_that_do_not_fit_are_cut() {
    let _reads = dataset();
    // build 1 on the log scale is about 349 px high: all three steps fit
    let tall = render(&view(json!({"scale": "log"})), "", LATER);
    let start = tall.find("data-buildid=\"1\"").unwrap();
    let inside = &tall[start..start + tall[start..].find("</a>").unwrap()];
    assert_eq!(inside.matches("class=\"wf-step\"").count(), 3);
    assert!(!inside.contains("wf-more"));
    // a box with room for one line only and two steps: one step, then "more steps"
    let plugin = WaterfallView::new(Options {
        min_height_for_steps: 0.0,
        ..Options::default()
    })
    .unwrap();
    let mut columns = vec![Column {
        builder: Builder::default(),
        lanes: 1,
        boxes: vec![BuildBox {
            build: Build {
                buildid: 4,
                ..Build::default()
            },
            lane: 0,
            top: 0.0,
            height: BOX_HEADER_HEIGHT + STEP_LINE_HEIGHT,
            seconds: 10,
            steps: None,
        }],
    }];
    plugin.add_steps(&mut columns, "").unwrap();
    let steps = columns[0].boxes[0].steps.clone().unwrap();
    assert_eq!(steps.steps.len(), 1);
    assert!(steps.more);
}

#[test]
fn database_text_is_escaped() {
    let _reads = dataset();
    let html = render(&view(json!({})), "tag=%3Ci%3E", LATER);
    // the builder's name in the header, its title and the box title; its tag
    assert!(html.contains(
        "<a href=\"../../builders/9\" title=\"x&lt;b&gt;&quot;&amp;&#39;\">x&lt;b&gt;&quot;&amp;&#39;</a>"
    ));
    assert!(html.contains("<span class=\"wf-tags\">&lt;i&gt;</span>"));
    // the state string in the box and its title
    assert!(html.contains("<b>#1</b> build &lt;successful&gt; &amp; &quot;ok&quot;"));
    let title = box_attr(&html, 15, "title");
    assert!(title.starts_with("x<b>\"&' #1: build <successful> & \"ok\" ("));
    // the tag filter echoed in the form
    assert!(html.contains("<input name=\"tag\" value=\"&lt;i&gt;\""));
    assert!(!html.contains("<i>"));
    assert!(!html.contains("x<b>"));
}

#[test]
fn hostile_database_text_stays_text() {
    let builder = Builder {
        builderid: 3,
        name: hostile("name"),
        tags: vec![hostile("tag")],
        ..Builder::default()
    };
    let step = Step {
        name: hostile("step"),
        state_string: hostile("step state"),
        complete: true,
        results: Some(0),
        ..Step::default()
    };
    let build = Build {
        buildid: 7,
        builderid: 3,
        number: 2,
        state_string: hostile("state"),
        complete: true,
        complete_at: Some(T + 60),
        started_at: T,
        results: Some(2),
        ..Build::default()
    };
    let plugin = view(json!({}));
    let args = Args::parse(
        &Request::get("/").with_query("tag=%3Cscript%3Ex"),
        &plugin.options,
    )
    .unwrap();
    let page = Page {
        args: &args,
        root: "../../",
        min_column_width: 90,
        columns: vec![Column {
            builder,
            lanes: 1,
            boxes: vec![BuildBox {
                build,
                lane: 0,
                top: 0.0,
                height: 100.0,
                seconds: 60,
                steps: Some(Steps {
                    steps: vec![step],
                    more: false,
                }),
            }],
        }],
        axis: Axis::new(&[], None, &Settings::new(&plugin.options, Scale::Linear)),
        older: None,
        newer: None,
        empty: None,
    };
    let html = render::document(&render::templates().unwrap(), &page).unwrap();
    for element in ["img", "script", "i"] {
        assert!(texts(&html, element).is_empty(), "a <{element}> got in");
    }
    assert_eq!(texts(&html, ".wf-builder a"), [hostile("name")]);
    assert_eq!(
        attributes(&html, ".wf-builder a", "title"),
        [hostile("name")]
    );
    assert_eq!(texts(&html, ".wf-tags"), [hostile("tag")]);
    assert!(box_attr(&html, 7, "title").starts_with(&format!(
        "{} #2: {} (1 min",
        hostile("name"),
        hostile("state")
    )));
    assert_eq!(texts(&html, ".wf-step"), [hostile("step")]);
    assert_eq!(
        attributes(&html, ".wf-step", "title"),
        [format!("{}: {}", hostile("step"), hostile("step state"))]
    );
    assert!(texts(&html, "a.wf-build")
        .concat()
        .contains(&hostile("state")));
    assert_eq!(
        attributes(&html, "input[name=tag]", "value"),
        ["<script>x", ""]
    );
}

#[test]
fn a_tag_filter_narrows_the_builders() {
    let reads = dataset();
    let plugin = view(json!({}));
    let html = render(&plugin, "tag=linux", LATER);
    let boxes = attrs(&html, "data-buildid");
    assert_eq!(boxes, ["13", "11", "10", "6", "1", "14", "7", "2"]);
    // builders first (for the tags), then the builds of the matching ones
    assert_eq!(reads.borrow()[..2], ["builders", "builds"]);
    // every tag must match
    let html = render(&plugin, "tag=linux&tag=test", LATER);
    assert_eq!(attrs(&html, "data-buildid"), ["14", "7", "2"]);
    // macOS: two builds far apart, the hour between them is collapsed, and so is the wait
    // since the last one
    let html = render(&plugin, "tag=macos", LATER);
    assert_eq!(attrs(&html, "data-buildid"), ["16", "9"]);
    assert_eq!(html.matches("class=\"wf-gap wf-idle\"").count(), 2);
    assert!(html.contains("idle 29 min 30 s"), "{html}");
    // 28 px (now down to 2560) + 100 s; then 28 px for 2460 down to 690
    assert_eq!(top_of(&html, 16), GAP_HEIGHT);
    assert!(close(height_of(&html, 16), 100.0 / 15.0));
    assert!(close(top_of(&html, 9), 2.0 * GAP_HEIGHT + 100.0 / 15.0));
    // with idle gaps kept, the hour is drawn: 1770 s
    let plugin = view(json!({"idle_threshold": 0}));
    let html = render(&plugin, "tag=macos&before=17", LATER);
    assert!(close(
        top_of(&html, 9) - height_of(&html, 16),
        1770.0 / 15.0
    ));
}

#[test]
fn a_tag_of_many_builders_scans_the_newest_builds() {
    // 3000 builds; builder 1 built only the first 100, builders 2 to 5 the others
    let reads = Rc::new(RefCell::new(Vec::new()));
    let log = reads.clone();
    testing::set_data(move |path, query| {
        assert_eq!(path, "builds");
        log.borrow_mut().push(query.to_owned());
        let p = params(query);
        let one = |name: &str| values(&p, name).first().copied();
        let (builders, ids) = (values(&p, "builderid"), values(&p, "buildid"));
        let mut builds: Vec<Value> = (1..=3000i64)
            .filter(|id| one("buildid__lt").is_none_or(|x| *id < x))
            .filter(|id| ids.is_empty() || ids.contains(id))
            .map(|id| (id, if id <= 100 { 1 } else { 2 + id % 4 }))
            .filter(|(_, b)| builders.is_empty() || builders.contains(b))
            .map(|(id, b)| json!({"buildid": id, "builderid": b}))
            .collect();
        builds.reverse();
        builds.truncate(one("limit").unwrap() as usize);
        Ok(json!({"builds": builds, "meta": {}}).to_string())
    });
    let plugin = view(json!({}));
    let args = args_of(&plugin, "limit=50");
    // builder 1 is one of five: scanned, twice 1000 builds without a match, then the rest
    // through the builder filter
    let page = fetch::builds(&args, Some(&fetch::Only::new(vec![1], 5))).unwrap();
    let ids: Vec<i64> = page.builds.iter().map(|b| b.buildid).collect();
    assert_eq!(ids, (51..=100).rev().collect::<Vec<_>>());
    assert!(page.older && page.latest);
    let reads = reads.borrow();
    assert_eq!(reads.len(), 3, "{reads:?}");
    assert!(reads[0].starts_with("field=buildid&field=builderid&order=-buildid&limit=1000"));
    assert!(reads[1].starts_with("field=buildid&field=builderid&buildid__lt=2001&order"));
    assert!(
        reads[2].starts_with("builderid=1&field=buildid"),
        "{}",
        reads[2]
    );
    assert!(reads[2].ends_with("buildid__lt=1001&order=-buildid&limit=51"));
    drop(reads);
    // builders 2 and 3, two of five: the first 1000 builds hold enough
    let page = fetch::builds(&args, Some(&fetch::Only::new(vec![2, 3], 5))).unwrap();
    assert_eq!(page.builds.len(), 50);
    assert_eq!(page.builds[0].buildid, 3000);
    assert!(page.builds.iter().all(|b| [2, 3].contains(&b.builderid)));
}

#[test]
fn empty_states() {
    let _reads = dataset();
    let plugin = view(json!({}));
    let html = render(&plugin, "tag=nosuchtag", LATER);
    assert!(html.contains(
        "<p class=\"wf-empty\">No builder has the tag <code>nosuchtag</code>: nothing to show."
    ));
    assert!(!body(&html).contains("wf-grid"));
    assert!(!html.contains("data-buildid"));
    let html = render(&plugin, "tag=linux&tag=docs", LATER);
    assert!(html.contains("No builder has the tags <code>linux</code> and <code>docs</code>"));
    // a tag whose builders have no builds
    let html = render(
        &view(json!({"show_builders_without_builds": true})),
        "tag=linux",
        LATER,
    );
    assert_eq!(attrs(&html, "data-lanes").len(), 3, "idle is shown, empty");
    let html = render(&plugin, "tag=linux&before=1", LATER);
    assert!(html.contains("No builds before build 1."));
    assert!(html.contains("<a class=\"wf-newest\" href=\"?tag=linux\">"));
    assert!(!html.contains("wf-newer") && !html.contains("wf-older"));
    // no builds at all
    testing::set_data(|path, _| match path {
        "builds" => Ok(r#"{"builds": [], "meta": {}}"#.into()),
        _ => Err(DataError::new(404, "unexpected")),
    });
    let html = render(&plugin, "", LATER);
    assert!(
        html.contains("<p class=\"wf-empty\">No builds yet"),
        "{html}"
    );
    assert!(html.contains("<form class=\"wf-options\""));
}

#[test]
fn pages_through_history() {
    let reads = dataset();
    let plugin = view(json!({}));
    // newest 5: 17..13; older link
    let html = render(&plugin, "limit=5", LATER);
    assert_eq!(attrs(&html, "data-buildid").len(), 5);
    let ids = sorted_build_ids(&html);
    assert_eq!(ids, [13, 14, 15, 16, 17]);
    assert!(html.contains("<a class=\"wf-older\" href=\"?before=13&amp;limit=5\">"));
    assert!(!html.contains("wf-newer") && !html.contains("wf-newest"));
    // before 13: 12..8, newer and older
    reads.borrow_mut().clear();
    let html = render(&plugin, "before=13&limit=5", LATER);
    let ids = sorted_build_ids(&html);
    assert_eq!(ids, [8, 9, 10, 11, 12]);
    assert!(html.contains("class=\"wf-newer\" href=\"?after=12&amp;limit=5\""));
    assert!(html.contains("class=\"wf-older\" href=\"?before=8&amp;limit=5\""));
    assert!(html.contains("class=\"wf-newest\" href=\"?limit=5\""));
    // an older page's line starts at its newest build, not now: build 12 ends at the top
    assert_eq!(top_of(&html, 12), 0.0);
    // the last page: no older link
    let html = render(&plugin, "before=3&limit=5", LATER);
    assert_eq!(attrs(&html, "data-buildid").len(), 2);
    assert!(!html.contains("wf-older"));
    // after 2: 3..7 (oldest first above 2, shown newest first), newer and older links
    let html = render(&plugin, "after=2&limit=5", LATER);
    let ids = sorted_build_ids(&html);
    assert_eq!(ids, [3, 4, 5, 6, 7]);
    assert!(html.contains("href=\"?after=7&amp;limit=5\""));
    assert!(html.contains("href=\"?before=3&amp;limit=5\""));
    // after 12: only 5 newer builds, so it is the newest page
    let html = render(&plugin, "after=12&limit=5", LATER);
    let ids = sorted_build_ids(&html);
    assert_eq!(ids, [13, 14, 15, 16, 17]);
    assert!(!html.contains("wf-newer"));
}

#[test]
fn the_page_is_a_document_with_its_style() {
    let _reads = dataset();
    let response = get(&mut view(json!({})), "");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(response.header("cache-control"), Some("no-cache"));
    let html = response.body_text().unwrap();
    assert!(html.starts_with("<!DOCTYPE html>\n<html><head>"));
    assert!(html.contains("<style>\n.wf{"));
    assert!(!html.contains("<script"));
    // a failing read is the request's error
    testing::set_data(|_, _| Err(DataError::new(403, "not allowed")));
    let response = get(&mut view(json!({})), "");
    assert_eq!(response.status, 403);
    assert_eq!(response.body_text(), Some("waterfall: not allowed\n"));
}

#[test]
fn durations_and_times_in_words() {
    assert_eq!(duration(5), "5 s");
    assert_eq!(duration(60), "1 min");
    assert_eq!(duration(200), "3 min 20 s");
    assert_eq!(duration(10_800), "3 h 0 min");
    assert_eq!(duration(200_000), "2 d 7 h");
    assert_eq!(duration(-5), "0 s");
    assert_eq!(duration((3 * 365 + 14) * 86_400 + 7200), "3 y 14 d");
    assert_eq!(utc(T), ["2023-11-14", "22:13:20"]);
    assert_eq!(utc(0), ["1970-01-01", "00:00:00"]);
    assert_eq!(utc(951_782_400), ["2000-02-29", "00:00:00"]);
    assert_eq!(utc(-1), ["1969-12-31", "23:59:59"]);
}

/// The build ids of the boxes in `html`, sorted.
fn sorted_build_ids(html: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = attrs(html, "data-buildid")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}
