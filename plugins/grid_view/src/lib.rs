//! The grid view plugin: builders as rows, changes of all branches as columns, newest first,
//! each cell the boxes of that builder's builds of that change; transposed on request. See
//! `docs/grid_view.md`.
//!
//! It shares its arguments, reads and HTML pieces with the console view through the
//! `view_common` library crate.

pub use view_common as common;

use buildbot_plugin_sdk::prelude::*;
use buildbot_plugin_sdk::serde::{Deserialize, Serialize};

use crate::common::{Args, Cell, Cells, ChangeRow, ChangeText, Frame, Heading, View};

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

/// The plugin: the operator's options, checked, and the page's templates.
#[derive(Debug)]
pub struct GridView {
    /// Changes per page (`changes`).
    pub changes: usize,
    /// Changes as rows and builders as columns by default (`transposed`).
    pub transposed: bool,
    templates: Templates,
}

impl Plugin for GridView {
    fn manifest() -> Manifest {
        Manifest::new("grid_view", env!("CARGO_PKG_VERSION"))
            .description("Builders as rows, changes of all branches as columns, newest first")
            .menu(MenuEntry::new("Grid View", "/").order(7).icon("⊞"))
            .events(["builds/*/*", "changes/*/new"])
    }

    fn init(config: Config) -> Result<Self, String> {
        let options: Options = config.parse()?;
        Ok(GridView {
            changes: common::check_changes(&config, options.changes)?,
            transposed: options.transposed,
            templates: templates()?,
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
        let html = render(&self.templates, &args, &view, transposed, &request.root)?;
        Ok(common::page(html))
    }
}

/// The grid's templates: view_common's and `grid.html`.
pub fn templates() -> Result<Templates, String> {
    common::templates(&[("grid.html", include_str!("../templates/grid.html"))])
}

/// What `grid.html` shows: one of the two layouts.
#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct Grid<'a> {
    title: &'static str,
    class: &'static str,
    root: &'a str,
    #[serde(flatten)]
    frame: Frame<'a>,
    swap: String,
    transposed: bool,
    /// Builders as rows: the changes heading the columns, the builders with their cells.
    changes: Vec<ChangeText<'a>>,
    builders: Vec<BuilderRow<'a>>,
    /// Transposed: the builders heading the columns, the changes with their cells.
    columns: Vec<Heading<'a>>,
    rows: Vec<ChangeRow<'a>>,
}

/// A builder's row: its builds of each change.
#[derive(Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
struct BuilderRow<'a> {
    heading: Heading<'a>,
    cells: Cells,
}

/// The grid page; `transposed`: changes as rows, builders as columns.
pub fn render(
    templates: &Templates,
    args: &Args,
    view: &View,
    transposed: bool,
    root: &str,
) -> Result<String, Error> {
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
    let changes = &view.page.changes;
    let mut grid = Grid {
        title: "Grid View",
        class: "bbv-grid",
        root,
        frame: Frame::new(args, view),
        swap,
        transposed,
        changes: Vec::new(),
        builders: Vec::new(),
        columns: Vec::new(),
        rows: Vec::new(),
    };
    if transposed {
        let columns: Vec<&Builder> = view.builders.iter().collect();
        grid.columns = columns.iter().map(|b| Heading::from(*b)).collect();
        grid.rows = changes
            .iter()
            .map(|row| ChangeRow::new(row, &columns, root))
            .collect();
    } else {
        grid.changes = changes.iter().map(ChangeText::new).collect();
        grid.builders = view
            .builders
            .iter()
            .map(|builder| BuilderRow {
                heading: Heading::from(builder),
                cells: Cells::new(changes.iter().map(|row| Cell::new(row, builder, root))),
            })
            .collect();
    }
    common::render(templates, "grid.html", grid)
}

register_plugin!(GridView);

#[cfg(test)]
mod tests;
