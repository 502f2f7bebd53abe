//! The console view plugin: changes as rows, newest first, builders as columns grouped by
//! their tags, each cell the boxes of that builder's builds of that change. See
//! `docs/console_view.md`.
//!
//! A page costs the reads of [`buildbot_plugin_sdk::changes::page`] (one per change shown plus
//! a few) and one for the builders shown.

pub use view_common as common;
pub mod tags;

use std::fmt::Write;

use buildbot_plugin_sdk::prelude::*;
use buildbot_plugin_sdk::serde::Deserialize;

use crate::common::{Args, View};
use crate::tags::TagGroup;

/// Changes per page unless configured: Buildbot's console shows 30.
pub const DEFAULT_CHANGES: i64 = 30;

/// The operator's options, `[www.plugins.console_view]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(crate = "buildbot_plugin_sdk::serde", deny_unknown_fields, default)]
pub struct Options {
    /// Changes per page, 1 to [`changes::MAX_CHANGES`](buildbot_plugin_sdk::changes::MAX_CHANGES).
    pub changes: i64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            changes: DEFAULT_CHANGES,
        }
    }
}

/// The plugin: the operator's options, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleView {
    /// Changes per page (`changes`).
    pub changes: usize,
}

impl Plugin for ConsoleView {
    fn manifest() -> Manifest {
        Manifest::new("console_view", env!("CARGO_PKG_VERSION"))
            .description("Changes as rows, newest first, builders as columns grouped by tags")
            .menu(MenuEntry::new("Console View", "/").order(6).icon("▤"))
            .events(["builds/*/*", "changes/*/new"])
    }

    fn init(config: Config) -> Result<Self, String> {
        let options: Options = plugin_options::parse(&config)?;
        Ok(ConsoleView {
            changes: common::check_changes(&config, options.changes)?,
        })
    }

    fn routes() -> Routes<Self> {
        Routes::new().get("/", ConsoleView::index)
    }
}

impl ConsoleView {
    /// The console page.
    fn index(&mut self, request: &Request, _: &Params) -> Result<Response, Error> {
        let args = Args::parse(request, self.changes, &[])
            .map_err(|message| common::bad_request("console", message))?;
        let view = common::read(&args).map_err(|error| common::data_error("console", error))?;
        Ok(common::page(render(&args, &view, &request.root)))
    }
}

/// Styles of the console's table.
const STYLE: &str = "\
.bbv-console th.bbv-builder{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;\
white-space:nowrap;max-height:14em;overflow:hidden;padding:4px 2px}\
.bbv-console th.bbv-group{text-align:center;font-size:11px}\
.bbv-console th.bbv-group a{color:#334}";

/// The console page.
pub fn render(args: &Args, view: &View, root: &str) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<div class=\"bbv bbv-console\">\n");
    common::filter_form(args, "", &mut out);
    if view.page.changes.is_empty() || view.builders.is_empty() {
        common::empty_state(args, view, &mut out);
    }
    if !view.page.changes.is_empty() {
        table(args, view, root, &mut out);
    }
    common::pager(args, &view.page, &mut out);
    out.push_str("</div>\n");
    common::document("Console View", STYLE, &out)
}

/// The table: tag headers above the builders' names, then one row per change.
fn table(args: &Args, view: &View, root: &str, out: &mut String) {
    let groups = tags::group(&view.builders);
    let columns: Vec<&Builder> = groups.iter().flat_map(TagGroup::columns).collect();
    let depth = groups.iter().map(TagGroup::depth).max().unwrap_or(0);
    let mut headers = String::new();
    for level in 0..depth {
        headers.push_str("<tr class=\"bbv-tags\"><th></th>");
        for group in &groups {
            tag_headers(args, group, level, &[], &mut headers);
        }
        headers.push_str("</tr>\n");
    }
    out.push_str("<table class=\"bbv-table bbv-console\">\n");
    common::changes_table(&headers, &view.page.changes, &columns, root, out);
}

/// The header cells of header row `level` below `group`: the group's own cell at its level, a
/// blank cell under a group that is not split that far. A tag cell links to the view filtered
/// by the tags down to it.
fn tag_headers(args: &Args, group: &TagGroup, level: usize, path: &[&str], out: &mut String) {
    let width = group.width();
    if level > 0 {
        if group.groups.is_empty() {
            let _ = write!(out, "<th colspan=\"{width}\"></th>");
        } else {
            let mut below = path.to_vec();
            below.extend(group.tag);
            for sub in &group.groups {
                tag_headers(args, sub, level - 1, &below, out);
            }
        }
        return;
    }
    match group.tag {
        None => {
            let _ = write!(
                out,
                "<th class=\"bbv-group\" colspan=\"{width}\" data-tag=\"\"></th>"
            );
        }
        Some(tag) => {
            let href = args.link(
                |kept| {
                    for t in path.iter().chain([&tag]) {
                        if !kept.iter().any(|(n, v)| n == "tag" && v == t) {
                            kept.push(("tag".into(), (*t).to_owned()));
                        }
                    }
                },
                &[],
            );
            let _ = write!(
                out,
                "<th class=\"bbv-group\" colspan=\"{width}\" data-tag=\"{0}\"><a href=\"{href}\">{0}</a></th>",
                escape_html(tag)
            );
        }
    }
}

register_plugin!(ConsoleView);

#[cfg(test)]
mod tests;
