//! The grid view plugin: builders as rows, changes of all branches as columns, newest first,
//! each cell the boxes of that builder's builds of that change; transposed on request. See
//! `docs/grid_view.md`.
//!
//! It shares its arguments, reads and HTML pieces with the console view through the
//! `view_common` library crate.

pub use view_common as common;

use std::fmt::Write;

use buildbot_plugin_sdk::prelude::*;
use buildbot_plugin_sdk::serde::Deserialize;

use crate::common::{Args, Detail, View};

/// Changes per page unless configured: Buildbot's grid shows 5 revisions (`revisionLimit`).
pub const DEFAULT_CHANGES: i64 = 5;

/// The operator's options, `[www.plugins.grid_view]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(crate = "buildbot_plugin_sdk::serde", deny_unknown_fields, default)]
pub struct Options {
    /// Changes per page, 1 to [`changes::MAX_CHANGES`](buildbot_plugin_sdk::changes::MAX_CHANGES).
    pub changes: i64,
    /// Changes as rows and builders as columns unless the URL says otherwise.
    pub transposed: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            changes: DEFAULT_CHANGES,
            transposed: false,
        }
    }
}

/// The plugin: the operator's options, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridView {
    /// Changes per page (`changes`).
    pub changes: usize,
    /// Changes as rows and builders as columns by default (`transposed`).
    pub transposed: bool,
}

impl Plugin for GridView {
    fn manifest() -> Manifest {
        Manifest::new("grid_view", env!("CARGO_PKG_VERSION"))
            .description("Builders as rows, changes of all branches as columns, newest first")
            .menu(MenuEntry::new("Grid View", "/").order(7).icon("⊞"))
            .events(["builds/*/*", "changes/*/new"])
    }

    fn init(config: Config) -> Result<Self, String> {
        let options: Options = plugin_options::parse(&config)?;
        Ok(GridView {
            changes: common::check_changes(&config, options.changes)?,
            transposed: options.transposed,
        })
    }

    fn routes() -> Routes<Self> {
        Routes::new().get("/", GridView::index)
    }
}

impl GridView {
    /// The grid page; `?transposed=` overrides the configured layout.
    fn index(&mut self, request: &Request, _: &Params) -> Result<Response, Error> {
        let (args, transposed) = Args::parse(request, self.changes, &["transposed"])
            .and_then(|args| {
                let transposed = Args::flag(request, "transposed")?.unwrap_or(self.transposed);
                Ok((args, transposed))
            })
            .map_err(|message| common::bad_request("grid", message))?;
        let view = common::read(&args).map_err(|error| common::data_error("grid", error))?;
        Ok(common::page(render(
            &args,
            &view,
            transposed,
            &request.root,
        )))
    }
}

/// Styles of the grid's table.
const STYLE: &str = "\
.bbv-grid th.bbv-builder{text-align:left;white-space:nowrap}\
.bbv-grid thead th.bbv-change{vertical-align:bottom}\
.bbv-grid thead th.bbv-builder{writing-mode:vertical-rl;transform:rotate(180deg);max-height:14em;\
overflow:hidden;padding:4px 2px}";

/// The grid page; `transposed`: changes as rows, builders as columns.
pub fn render(args: &Args, view: &View, transposed: bool, root: &str) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<div class=\"bbv bbv-grid\">\n");
    let swap = args.link(
        |kept| {
            kept.retain(|(n, _)| n != "transposed");
            kept.push((
                "transposed".into(),
                if transposed { "0" } else { "1" }.into(),
            ));
        },
        &[],
    );
    let controls = format!("<a href=\"{swap}\">Swap rows and columns</a> ");
    common::filter_form(args, &controls, &mut out);
    if view.page.changes.is_empty() || view.builders.is_empty() {
        common::empty_state(args, view, &mut out);
    }
    if !view.page.changes.is_empty() {
        if transposed {
            changes_as_rows(view, root, &mut out);
        } else {
            builders_as_rows(view, root, &mut out);
        }
    }
    common::pager(args, &view.page, &mut out);
    out.push_str("</div>\n");
    common::document("Grid View", STYLE, &out)
}

/// Builders as rows, changes as columns (the default layout).
fn builders_as_rows(view: &View, root: &str, out: &mut String) {
    out.push_str("<table class=\"bbv-table bbv-grid\">\n<thead>\n<tr><th>Builder</th>");
    for row in &view.page.changes {
        let _ = write!(
            out,
            "<th class=\"bbv-change\"{}>",
            common::change_attribute(row)
        );
        common::describe_change(row, Detail::Short, out);
        out.push_str("</th>");
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    for builder in &view.builders {
        let _ = write!(
            out,
            "<tr data-builderid=\"{}\"><th class=\"bbv-builder\">",
            builder.builderid
        );
        common::builder_link(builder, root, out);
        for tag in &builder.tags {
            let _ = write!(out, " <span class=\"bbv-tag\">{}</span>", escape_html(tag));
        }
        out.push_str("</th>");
        for row in &view.page.changes {
            common::cell(row, builder, root, out);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Changes as rows, builders as columns (transposed).
fn changes_as_rows(view: &View, root: &str, out: &mut String) {
    let columns: Vec<&Builder> = view.builders.iter().collect();
    out.push_str("<table class=\"bbv-table bbv-grid bbv-transposed\">\n");
    common::changes_table("", &view.page.changes, &columns, root, out);
}

register_plugin!(GridView);

#[cfg(test)]
mod tests;
