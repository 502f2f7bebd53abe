//! The page's HTML, from the template `templates/waterfall.html`: a full document whose
//! `<style>` the UI shell moves into its head and whose body it shows in its main area.
//! Server-rendered, no script: options are a GET form, pages are links. The template escapes
//! every value it inserts, attributes included; this module prepares what it shows.

use buildbot_plugin_sdk::models::{Build, Builder, Step};
use buildbot_plugin_sdk::serde::Serialize;
use buildbot_plugin_sdk::time::UtcTime;
use buildbot_plugin_sdk::{results, Error, Templates};

use crate::layout::{Axis, GapKind};
use crate::options::{Args, Cursor, Scale, MAX_LIMIT};

/// Pixels between two labels of the time axis, at least.
pub const TICK_SPACING: f64 = 36.0;
/// Room below the time line for the last label, pixels.
pub const BOTTOM_MARGIN: f64 = 30.0;

/// Why a page has no builds to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Empty {
    /// No builder carries every tag asked for.
    NoBuilderWithTags,
    /// No build at all (of the builders with the tags, when some were asked for).
    NoBuilds,
    /// No build before the `?before=` build.
    NoBuildsBefore(i64),
}

/// A build's box.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildBox {
    /// The build (the fields the page reads).
    pub build: Build,
    /// Its lane within the column, from 0.
    pub lane: usize,
    /// Pixels from the top of the time line.
    pub top: f64,
    /// Drawn height.
    pub height: f64,
    /// How long it ran (so far, when running), in seconds.
    pub seconds: i64,
    /// Its steps, when the box shows them.
    pub steps: Option<Steps>,
}

/// The steps a box shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Steps {
    /// The first visible steps.
    pub steps: Vec<Step>,
    /// Whether more steps did not fit.
    pub more: bool,
}

/// A builder's column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The builder.
    pub builder: Builder,
    /// Number of lanes (side-by-side overlapping builds).
    pub lanes: usize,
    /// Its boxes, newest first.
    pub boxes: Vec<BuildBox>,
}

/// Everything a page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<'a> {
    /// The page's arguments (for links and the form).
    pub args: &'a Args,
    /// Relative URL of the server's root.
    pub root: &'a str,
    /// Width of a lane, pixels.
    pub min_column_width: i64,
    /// The columns in display order.
    pub columns: Vec<Column>,
    /// The time line.
    pub axis: Axis,
    /// Link to older builds (`?before=`), when there are some.
    pub older: Option<Cursor>,
    /// Link to newer builds (`?after=`), when there are some.
    pub newer: Option<Cursor>,
    /// Why there is nothing to show, if so.
    pub empty: Option<Empty>,
}

/// The page's templates: `waterfall.html` and its style sheet (class names start with `wf-`).
pub fn templates() -> Result<Templates, String> {
    Templates::new()
        .with(
            "waterfall.html",
            include_str!("../templates/waterfall.html"),
        )?
        .with("waterfall.css", include_str!("../templates/waterfall.css"))
}

/// What `waterfall.html` shows; numbers of pixels are written with one decimal here, as
/// layouts are compared by them.
#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct Document<'a> {
    scale: &'static str,
    root: &'a str,
    scales: [ScaleChoice; 2],
    /// The tags asked for, then an empty field to add one.
    tags: Vec<&'a str>,
    limit: i64,
    max_limit: i64,
    newest: Option<String>,
    newer: Option<String>,
    older: Option<String>,
    empty: Option<EmptyText<'a>>,
    summary: String,
    columns: Vec<ColumnView<'a>>,
    height: String,
    gaps: Vec<GapView>,
    ticks: Vec<Tick>,
}

#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct ScaleChoice {
    name: &'static str,
    selected: bool,
}

/// Why the page is empty: `no_builder_with_tags`, `no_builds` or `no_builds_before`.
#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct EmptyText<'a> {
    kind: &'static str,
    tags: &'a [String],
    before: Option<i64>,
}

#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct ColumnView<'a> {
    builderid: i64,
    name: &'a str,
    tags: &'a [String],
    lanes: usize,
    width: i64,
    boxes: Vec<BoxView<'a>>,
}

#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct GapView {
    class: &'static str,
    newer: i64,
    older: i64,
    top: String,
    height: String,
    title: String,
    text: String,
}

#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct Tick {
    date: String,
    clock: String,
    y: String,
    /// The first tick of its day shows the date.
    new_date: bool,
}

#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct BoxView<'a> {
    buildid: i64,
    number: i64,
    running: bool,
    /// The result's name, or `running`.
    result: &'static str,
    /// The `results-` class: the result's name, or `pending`.
    class_result: &'static str,
    lane: usize,
    top: String,
    height: String,
    /// The link to the build's page.
    href: String,
    /// Position and colours (the attributes made of several values are put together here: a
    /// page has hundreds of boxes, and each value a template looks up costs time).
    style: String,
    title: String,
    state: &'a str,
    steps: Option<StepsView<'a>>,
}

#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct StepsView<'a> {
    steps: Vec<StepView<'a>>,
    more: bool,
}

#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct StepView<'a> {
    name: &'a str,
    state: &'a str,
    result: &'static str,
    background: &'static str,
    color: &'static str,
}

/// The whole document.
pub fn document(templates: &Templates, page: &Page<'_>) -> Result<String, Error> {
    let args = page.args;
    let link = |cursor: Cursor| args.link(cursor);
    let empty = page.empty.as_ref().map(|empty| EmptyText {
        kind: match empty {
            Empty::NoBuilderWithTags => "no_builder_with_tags",
            Empty::NoBuilds => "no_builds",
            Empty::NoBuildsBefore(_) => "no_builds_before",
        },
        tags: &args.tags,
        before: match empty {
            Empty::NoBuildsBefore(id) => Some(*id),
            _ => None,
        },
    });
    let mut document = Document {
        scale: args.scale.name(),
        root: page.root,
        scales: [Scale::Linear, Scale::Log].map(|scale| ScaleChoice {
            name: scale.name(),
            selected: scale == args.scale,
        }),
        tags: args.tags.iter().map(String::as_str).chain([""]).collect(),
        limit: args.limit,
        max_limit: MAX_LIMIT,
        newest: (args.cursor != Cursor::Latest).then(|| link(Cursor::Latest)),
        newer: page.newer.map(link),
        older: page.older.map(link),
        empty,
        summary: String::new(),
        columns: Vec::new(),
        height: String::new(),
        gaps: Vec::new(),
        ticks: Vec::new(),
    };
    if document.empty.is_none() {
        grid(&mut document, page);
    }
    view_common::render(templates, "waterfall.html", document)
}

/// The summary, the columns with their boxes, the gaps and the time axis.
fn grid<'a>(document: &mut Document<'a>, page: &'a Page<'_>) {
    let builds: usize = page.columns.iter().map(|c| c.boxes.len()).sum();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for b in page.columns.iter().flat_map(|c| &c.boxes) {
        first = first.min(b.build.buildid);
        last = last.max(b.build.buildid);
    }
    document.summary = format!(
        "{builds} build{} ({}) on {} builder{}, newest at the top; {} scale; times in UTC.",
        plural(builds),
        if builds > 0 {
            format!("ids {first} to {last}")
        } else {
            "none".into()
        },
        page.columns.len(),
        plural(page.columns.len()),
        page.args.scale.name(),
    );
    document.height = format!("{:.1}", page.axis.height() + BOTTOM_MARGIN);
    document.gaps = page
        .axis
        .gaps
        .iter()
        .map(|gap| {
            let (class, what) = match gap.kind {
                GapKind::Idle => ("wf-idle", "idle"),
                GapKind::Quiet => ("wf-quiet", "no build started or finished for"),
            };
            GapView {
                class,
                newer: gap.newer,
                older: gap.older,
                top: format!("{:.1}", gap.top),
                height: format!("{:.1}", gap.height),
                title: format!(
                    "{} to {}",
                    utc(gap.older).join(" "),
                    utc(gap.newer).join(" ")
                ),
                text: format!("{what} {}", duration(gap.newer - gap.older)),
            }
        })
        .collect();
    let mut last_date = String::new();
    document.ticks = page
        .axis
        .ticks(TICK_SPACING)
        .into_iter()
        .map(|(time, y)| {
            let [date, clock] = utc(time);
            let new_date = date != last_date;
            if new_date {
                last_date.clone_from(&date);
            }
            Tick {
                date,
                clock,
                y: format!("{y:.1}"),
                new_date,
            }
        })
        .collect();
    document.columns = page
        .columns
        .iter()
        .map(|column| ColumnView {
            builderid: column.builder.builderid,
            name: &column.builder.name,
            tags: &column.builder.tags,
            lanes: column.lanes,
            width: column.lanes as i64 * page.min_column_width,
            boxes: column
                .boxes
                .iter()
                .map(|b| box_view(page.root, &column.builder, column.lanes, b))
                .collect(),
        })
        .collect();
}

fn box_view<'a>(root: &str, builder: &Builder, lanes: usize, b: &'a BuildBox) -> BoxView<'a> {
    let build = &b.build;
    let running = build.complete_at.is_none();
    let (result, background, color) = if running {
        ("running", results::PENDING_COLOR, "#000")
    } else {
        match build.result() {
            Some(r) => (r.name(), r.color(), r.text_color()),
            None => ("unknown", results::UNKNOWN_COLOR, "#000"),
        }
    };
    let width = 100.0 / lanes as f64;
    let title = format!(
        "{} #{}: {} ({}{}, started {})",
        builder.name,
        build.number,
        if build.state_string.is_empty() {
            result
        } else {
            &build.state_string
        },
        if running { "running for " } else { "" },
        duration(b.seconds),
        utc(build.started_at).join(" "),
    );
    let steps = b.steps.as_ref().map(|steps| StepsView {
        steps: steps
            .steps
            .iter()
            .map(|step| {
                let (result, background, color) = match (step.complete, step.result()) {
                    (false, _) => ("running", results::PENDING_COLOR, "#000"),
                    (true, Some(r)) => (r.name(), r.color(), r.text_color()),
                    (true, None) => ("unknown", results::UNKNOWN_COLOR, "#000"),
                };
                StepView {
                    name: &step.name,
                    state: &step.state_string,
                    result,
                    background,
                    color,
                }
            })
            .collect(),
        more: steps.more,
    });
    BoxView {
        buildid: build.buildid,
        number: build.number,
        running,
        result,
        class_result: if running { "pending" } else { result },
        lane: b.lane,
        top: format!("{:.1}", b.top),
        height: format!("{:.1}", b.height),
        href: format!(
            "{root}builders/{}/builds/{}",
            builder.builderid, build.number
        ),
        style: format!(
            "top:{:.1}px;height:{:.1}px;left:{:.3}%;width:{width:.3}%;background:{background};\
             color:{color}",
            b.top,
            b.height,
            width * b.lane as f64
        ),
        title,
        state: &build.state_string,
        steps,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A duration in words: `5 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`, `2 y 14 d` (years of
/// 365 days).
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d >= 365 {
        return format!("{} y {} d", d / 365, d % 365);
    }
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) if s == 0 => format!("{m} min"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// Unix seconds as `["YYYY-MM-DD", "HH:MM:SS"]` in UTC.
pub fn utc(secs: i64) -> [String; 2] {
    let time = UtcTime::from_unix(secs);
    [time.date(), time.clock()]
}
