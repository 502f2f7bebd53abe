//! The page's HTML: a full document whose `<style>` the UI shell moves into its head and whose
//! body it shows in its main area. Server-rendered, no script: options are a GET form, pages
//! are links. Everything that comes from the database is escaped, attributes included.

use std::fmt::Write;

use buildbot_plugin_sdk::models::{Build, Builder, Step};
use buildbot_plugin_sdk::time::UtcTime;
use buildbot_plugin_sdk::{escape_html, results};

use crate::layout::{Axis, GapKind};
use crate::options::{Args, Cursor, Scale, MAX_LIMIT};

/// Pixels between two labels of the time axis, at least.
pub const TICK_SPACING: f64 = 36.0;
/// Room below the time line for the last label, pixels.
pub const BOTTOM_MARGIN: f64 = 30.0;

/// The page's style; class names start with `wf-`.
pub const STYLE: &str = "\
.wf{--wf-axis:96px;font-size:12px}
.wf-bar{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin:0 0 8px}
.wf-options{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0}
.wf-options input[type=number]{width:6em}
.wf-pages{display:flex;gap:12px;margin-left:auto}
.wf-summary{color:#667;margin:0 0 8px}
.wf-empty{color:#667;font-style:italic;padding:24px 0}
.wf-scroll{overflow:auto;max-height:calc(100vh - 150px);border:1px solid #dde1e7;background:#fff}
.wf-grid{display:inline-block;min-width:100%}
.wf-head{display:flex;position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid #dde1e7}
.wf-corner,.wf-axis{flex:0 0 var(--wf-axis);position:sticky;left:0;background:#fff;z-index:1}
.wf-corner{color:#667;padding:4px 6px;z-index:6}
.wf-builder{padding:4px;border-left:1px solid #eef0f3;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.wf-builder a{font-weight:600}
.wf-tags{display:block;color:#889;font-size:11px;overflow:hidden;text-overflow:ellipsis}
.wf-body{display:flex;position:relative}
.wf-axis{border-right:1px solid #dde1e7}
.wf-tick{position:absolute;left:4px;right:4px;border-top:1px solid #dde1e7;color:#556;font-size:11px;line-height:13px;white-space:nowrap}
.wf-tick b{display:block;font-weight:600}
.wf-column{position:relative;border-left:1px solid #eef0f3}
.wf-gap{position:absolute;left:0;right:0;z-index:2;background:repeating-linear-gradient(135deg,#f3f4f6 0 6px,#e8eaee 6px 12px);border-top:1px dashed #c8ccd4;border-bottom:1px dashed #c8ccd4;color:#556;font-size:11px;line-height:26px;padding-left:6px;white-space:nowrap;overflow:hidden}
.wf-build{position:absolute;z-index:3;min-height:2px;overflow:hidden;border:1px solid rgba(0,0,0,.3);border-radius:2px;padding:0 3px;line-height:14px;font-size:11px;white-space:nowrap;text-overflow:ellipsis}
.wf-build:hover{z-index:4;outline:2px solid #2a5db0;text-decoration:none}
.wf-build.wf-running{border-style:dashed}
.wf-steps{display:block;margin-top:2px}
.wf-step{display:block;margin:0 0 1px;padding:0 2px;border-radius:2px;overflow:hidden;text-overflow:ellipsis;line-height:13px}
.wf-more{display:block;color:inherit;opacity:.7}
";

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

/// The whole document.
pub fn document(page: &Page<'_>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Waterfall View</title><style>\n");
    out.push_str(STYLE);
    out.push_str("</style></head><body>\n");
    let _ = writeln!(
        out,
        "<div class=\"wf\" data-scale=\"{}\">",
        page.args.scale.name()
    );
    bar(&mut out, page);
    match &page.empty {
        Some(empty) => empty_state(&mut out, page.args, empty),
        None => grid(&mut out, page),
    }
    out.push_str("</div>\n</body></html>\n");
    out
}

/// The options form and the page links.
fn bar(out: &mut String, page: &Page<'_>) {
    let args = page.args;
    out.push_str("<div class=\"wf-bar\"><form class=\"wf-options\" method=\"get\">");
    out.push_str("<label>Scale <select name=\"scale\">");
    for scale in [Scale::Linear, Scale::Log] {
        let selected = if scale == args.scale { " selected" } else { "" };
        let _ = write!(
            out,
            "<option value=\"{0}\"{selected}>{0}</option>",
            scale.name()
        );
    }
    out.push_str("</select></label>");
    for tag in args.tags.iter().map(String::as_str).chain([""]) {
        let _ = write!(
            out,
            "<label>Tag <input name=\"tag\" value=\"{}\" size=\"10\"></label>",
            escape_html(tag)
        );
    }
    let _ = write!(
        out,
        "<label>Builds <input name=\"limit\" type=\"number\" min=\"1\" max=\"{MAX_LIMIT}\" \
         value=\"{}\"></label><button type=\"submit\">Show</button></form>",
        args.limit
    );
    out.push_str("<nav class=\"wf-pages\">");
    if args.cursor != Cursor::Latest {
        let _ = write!(
            out,
            "<a class=\"wf-newest\" href=\"{}\">« newest</a>",
            escape_html(&args.link(Cursor::Latest))
        );
    }
    if let Some(newer) = page.newer {
        let _ = write!(
            out,
            "<a class=\"wf-newer\" href=\"{}\">‹ newer</a>",
            escape_html(&args.link(newer))
        );
    }
    if let Some(older) = page.older {
        let _ = write!(
            out,
            "<a class=\"wf-older\" href=\"{}\">older ›</a>",
            escape_html(&args.link(older))
        );
    }
    out.push_str("</nav></div>\n");
}

fn empty_state(out: &mut String, args: &Args, empty: &Empty) {
    let tags = || {
        args.tags
            .iter()
            .map(|t| format!("<code>{}</code>", escape_html(t)))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let text = match empty {
        Empty::NoBuilderWithTags => format!(
            "No builder has the tag{} {}: nothing to show. Clear the tag field to see every \
             builder.",
            if args.tags.len() > 1 { "s" } else { "" },
            tags()
        ),
        Empty::NoBuilds if args.tags.is_empty() => {
            "No builds yet: builds appear here, newest at the top, as soon as a builder starts \
             one."
                .to_owned()
        }
        Empty::NoBuilds => format!("The builders tagged {} have no builds yet.", tags()),
        Empty::NoBuildsBefore(id) => format!("No builds before build {id}."),
    };
    let _ = writeln!(out, "<p class=\"wf-empty\">{text}</p>");
}

fn grid(out: &mut String, page: &Page<'_>) {
    let builds: usize = page.columns.iter().map(|c| c.boxes.len()).sum();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for b in page.columns.iter().flat_map(|c| &c.boxes) {
        first = first.min(b.build.buildid);
        last = last.max(b.build.buildid);
    }
    let _ = writeln!(
        out,
        "<p class=\"wf-summary\">{builds} build{} ({}) on {} builder{}, newest at the top; \
         {} scale; times in UTC.</p>",
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
    let min = page.min_column_width;
    let _ = write!(
        out,
        "<div class=\"wf-scroll\"><div class=\"wf-grid\">\n<div class=\"wf-head\">\
         <div class=\"wf-corner\">UTC</div>"
    );
    for column in &page.columns {
        let b = &column.builder;
        let name = escape_html(&b.name);
        let _ = write!(
            out,
            "<div class=\"wf-builder\" data-builderid=\"{}\" style=\"flex:{1} 0 {2}px;width:{2}px\">\
             <a href=\"{3}builders/{0}\" title=\"{name}\">{name}</a>",
            b.builderid,
            column.lanes,
            column.lanes as i64 * min,
            escape_html(page.root),
        );
        if !b.tags.is_empty() {
            let tags: Vec<_> = b.tags.iter().map(|t| escape_html(t)).collect();
            let _ = write!(out, "<span class=\"wf-tags\">{}</span>", tags.join(" "));
        }
        out.push_str("</div>");
    }
    let _ = write!(
        out,
        "</div>\n<div class=\"wf-body\" style=\"height:{:.1}px\">\n",
        page.axis.height() + BOTTOM_MARGIN
    );
    for gap in &page.axis.gaps {
        let (class, what) = match gap.kind {
            GapKind::Idle => ("wf-idle", "idle"),
            GapKind::Quiet => ("wf-quiet", "no build started or finished for"),
        };
        let _ = writeln!(
            out,
            "<div class=\"wf-gap {class}\" data-newer=\"{}\" data-older=\"{}\" \
             style=\"top:{:.1}px;height:{:.1}px\" title=\"{} to {}\">{what} {}</div>",
            gap.newer,
            gap.older,
            gap.top,
            gap.height,
            utc(gap.older).join(" "),
            utc(gap.newer).join(" "),
            duration(gap.newer - gap.older),
        );
    }
    out.push_str("<div class=\"wf-axis\">");
    let mut last_date = String::new();
    for (time, y) in page.axis.ticks(TICK_SPACING) {
        let [date, clock] = utc(time);
        let _ = write!(
            out,
            "<time class=\"wf-tick\" datetime=\"{date}T{clock}Z\" style=\"top:{y:.1}px\">"
        );
        if date != last_date {
            let _ = write!(out, "<b>{date}</b>");
            last_date = date;
        }
        let _ = write!(out, "{clock}</time>");
    }
    out.push_str("</div>\n");
    for column in &page.columns {
        let _ = write!(
            out,
            "<div class=\"wf-column\" data-builderid=\"{}\" data-lanes=\"{1}\" \
             style=\"flex:{1} 0 {2}px;width:{2}px\">",
            column.builder.builderid,
            column.lanes,
            column.lanes as i64 * min,
        );
        for build_box in &column.boxes {
            build_html(out, page.root, &column.builder, column.lanes, build_box);
        }
        out.push_str("</div>\n");
    }
    out.push_str("</div></div></div>\n");
}

fn build_html(out: &mut String, root: &str, builder: &Builder, lanes: usize, b: &BuildBox) {
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
    let state = escape_html(&build.state_string);
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
    let _ = write!(
        out,
        "<a class=\"wf-build results-{}{}\" href=\"{}builders/{}/builds/{}\" data-buildid=\"{}\" \
         data-builderid=\"{}\" data-number=\"{}\" data-result=\"{result}\" data-lane=\"{}\" \
         data-top=\"{:.1}\" data-height=\"{:.1}\" style=\"top:{:.1}px;height:{:.1}px;\
         left:{:.3}%;width:{width:.3}%;background:{background};color:{color}\" title=\"{}\">\
         <b>#{}</b> {state}",
        if running { "pending" } else { result },
        if running { " wf-running running" } else { "" },
        escape_html(root),
        builder.builderid,
        build.number,
        build.buildid,
        builder.builderid,
        build.number,
        b.lane,
        b.top,
        b.height,
        b.top,
        b.height,
        width * b.lane as f64,
        escape_html(&title),
        build.number,
    );
    if let Some(steps) = &b.steps {
        out.push_str("<span class=\"wf-steps\">");
        for step in &steps.steps {
            let (result, background, color) = match (step.complete, step.result()) {
                (false, _) => ("running", results::PENDING_COLOR, "#000"),
                (true, Some(r)) => (r.name(), r.color(), r.text_color()),
                (true, None) => ("unknown", results::UNKNOWN_COLOR, "#000"),
            };
            let name = escape_html(&step.name);
            let _ = write!(
                out,
                "<span class=\"wf-step\" data-result=\"{result}\" \
                 style=\"background:{background};color:{color}\" title=\"{name}: {}\">{name}</span>",
                escape_html(&step.state_string),
            );
        }
        if steps.more {
            out.push_str("<span class=\"wf-more\">more steps…</span>");
        }
        out.push_str("</span>");
    }
    out.push_str("</a>");
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
