//! The console view plugin: changes as rows, newest first, builders as columns grouped by
//! their tags, each cell the boxes of that builder's builds of that change. See
//! `docs/console_view.md`.
//!
//! A page costs the reads of [`buildbot_plugin_sdk::changes::page`] (one per change shown plus
//! a few) and one for the builders shown.

pub use view_common as common;
pub mod tags;

use buildbot_plugin_sdk::prelude::*;
use buildbot_plugin_sdk::serde::{Deserialize, Serialize};

use crate::common::{Args, ChangeRow, Frame, Heading, View};
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

/// The plugin: the operator's options, checked, and the page's templates.
#[derive(Debug)]
pub struct ConsoleView {
    /// Changes per page (`changes`).
    pub changes: usize,
    templates: Templates,
}

impl Plugin for ConsoleView {
    fn manifest() -> Manifest {
        Manifest::new("console_view", env!("CARGO_PKG_VERSION"))
            .description("Changes as rows, newest first, builders as columns grouped by tags")
            .menu(MenuEntry::new("Console View", "/").order(6).icon("▤"))
            .events(["builds/*/*", "changes/*/new"])
    }

    fn init(config: Config) -> Result<Self, String> {
        let options: Options = config.parse()?;
        Ok(ConsoleView {
            changes: common::check_changes(&config, options.changes)?,
            templates: templates()?,
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
        let html = render(&self.templates, &args, &view, &request.root)?;
        Ok(common::page(html))
    }
}

/// The console's templates: view_common's and `console.html`.
pub fn templates() -> Result<Templates, String> {
    common::templates(&[("console.html", include_str!("../templates/console.html"))])
}

/// What `console.html` shows.
#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct Console<'a> {
    title: &'static str,
    class: &'static str,
    root: &'a str,
    #[serde(flatten)]
    frame: Frame<'a>,
    header_rows: Vec<Vec<TagCell<'a>>>,
    columns: Vec<Heading<'a>>,
    rows: Vec<ChangeRow<'a>>,
}

/// A cell of the tag header rows: a group's tag (`None`: the builders without a further tag)
/// with the link to the view filtered by the tags down to it, or a blank under a group that is
/// not split that far.
#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct TagCell<'a> {
    width: usize,
    blank: bool,
    tag: Option<&'a str>,
    href: Option<String>,
}

/// The console page.
pub fn render(
    templates: &Templates,
    args: &Args,
    view: &View,
    root: &str,
) -> Result<String, Error> {
    let groups = tags::group(&view.builders);
    let columns: Vec<&Builder> = groups.iter().flat_map(TagGroup::columns).collect();
    let depth = groups.iter().map(TagGroup::depth).max().unwrap_or(0);
    let header_rows = (0..depth)
        .map(|level| {
            let mut cells = Vec::new();
            for group in &groups {
                tag_cells(args, group, level, &[], &mut cells);
            }
            cells
        })
        .collect();
    let console = Console {
        title: "Console View",
        class: "bbv-console",
        root,
        frame: Frame::new(args, view),
        header_rows,
        columns: columns.iter().map(|b| Heading::from(*b)).collect(),
        rows: view
            .page
            .changes
            .iter()
            .map(|row| ChangeRow::new(row, &columns, root))
            .collect(),
    };
    common::render(templates, "console.html", console)
}

/// The cells of header row `level` below `group`: the group's own cell at its level, a blank
/// cell under a group that is not split that far.
fn tag_cells<'a>(
    args: &Args,
    group: &TagGroup<'a>,
    level: usize,
    path: &[&'a str],
    out: &mut Vec<TagCell<'a>>,
) {
    let width = group.width();
    if level > 0 {
        if group.groups.is_empty() {
            out.push(TagCell {
                width,
                blank: true,
                tag: None,
                href: None,
            });
        } else {
            let mut below = path.to_vec();
            below.extend(group.tag);
            for sub in &group.groups {
                tag_cells(args, sub, level - 1, &below, out);
            }
        }
        return;
    }
    let href = group.tag.map(|tag| {
        args.link(
            |kept| {
                for t in path.iter().chain([&tag]) {
                    if !kept.iter().any(|(n, v)| n == "tag" && v == t) {
                        kept.push(("tag".into(), (*t).to_owned()));
                    }
                }
            },
            &[],
        )
    });
    out.push(TagCell {
        width,
        blank: false,
        tag: group.tag,
        href,
    });
}

register_plugin!(ConsoleView);

#[cfg(test)]
mod tests;
