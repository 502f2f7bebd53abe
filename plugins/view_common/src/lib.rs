//! What the bundled views share. For the console and grid views: their URL arguments, the page
//! of changes with the builders it shows, and the HTML of build boxes, change descriptions, the
//! filter form and the pager. For every view (the waterfall too): the answers, a page or an
//! error naming the view. An ordinary library crate the view plugins depend on, so the views
//! look and behave alike without a second copy.

use buildbot_plugin_sdk::changes::{self, ChangeBuilds, Cursor, Page, Selection};
use buildbot_plugin_sdk::prelude::*;
use buildbot_plugin_sdk::results;
use buildbot_plugin_sdk::serde::Serialize;
use buildbot_plugin_sdk::time::UtcTime;

/// The URL arguments of a view: the SDK's selection (`changes`, `branch`, cursor), `tag`
/// (repeatable) and the view's own flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Which changes.
    pub selection: Selection,
    /// Only builders that have every one of these tags.
    pub tags: Vec<String>,
    /// The arguments links keep (everything but the cursor), in URL order.
    pub kept: Vec<(String, String)>,
}

impl Args {
    /// Reads the arguments; `flags` are the view's own (`transposed`). An unknown argument or a
    /// bad value is an error text naming it.
    pub fn parse(
        request: &Request,
        default_changes: usize,
        flags: &[&str],
    ) -> Result<Args, String> {
        let known = |name: &str| {
            name == "tag" || changes::ARGUMENTS.contains(&name) || flags.contains(&name)
        };
        let mut kept = Vec::new();
        for (name, value) in request.query_params() {
            if !known(&name) {
                let mut expected: Vec<&str> = changes::ARGUMENTS.to_vec();
                expected.push("tag");
                expected.extend(flags);
                return Err(format!(
                    "unknown argument '{name}' (expected one of: {})",
                    expected.join(", ")
                ));
            }
            if !matches!(name.as_str(), "before" | "until" | "after" | "since") && !value.is_empty()
            {
                kept.push((name, value));
            }
        }
        let selection = Selection::from_request(request, default_changes)?;
        let tags = request
            .query_params_named("tag")
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect();
        Ok(Args {
            selection,
            tags,
            kept,
        })
    }

    /// A relative link to this view: the kept arguments changed by `edit`, then `cursor`.
    pub fn link(
        &self,
        edit: impl FnOnce(&mut Vec<(String, String)>),
        cursor: &[(&str, i64)],
    ) -> String {
        let mut kept = self.kept.clone();
        edit(&mut kept);
        let mut query = Query::new();
        for (name, value) in &kept {
            query = query.param(name.as_str(), value);
        }
        for (name, value) in cursor {
            query = query.param(*name, value);
        }
        let query = query.to_string();
        if query.is_empty() {
            "./".to_owned()
        } else {
            format!("?{query}")
        }
    }

    /// A flag argument (`?transposed=1`): `Some(true)` for `1`/`true`/`yes`/`on`, `Some(false)`
    /// for `0`/`false`/`no`/`off`, `None` when absent; anything else is an error text.
    pub fn flag(request: &Request, name: &str) -> Result<Option<bool>, String> {
        match request.query_param(name) {
            None => Ok(None),
            Some(text) => match text.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(Some(true)),
                "0" | "false" | "no" | "off" | "" => Ok(Some(false)),
                _ => Err(format!("invalid {name} '{text}': expected 1 or 0")),
            },
        }
    }
}

/// A page of changes and the builders it shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    /// The changes, newest first, with their builds.
    pub page: Page,
    /// The builders with at least one build on the page that have every tag asked for,
    /// sorted by name.
    pub builders: Vec<Builder>,
}

/// Reads a page of changes and its builders: the SDK's reads plus one for the builders.
pub fn read(args: &Args) -> Result<View, DataError> {
    let page = changes::page(&args.selection)?;
    let ids = page.builder_ids();
    let mut builders: Vec<Builder> = if ids.is_empty() {
        Vec::new()
    } else {
        data::list(
            "builders",
            &Query::new()
                .any_of("builderid", &ids)
                .fields(["builderid", "name", "tags"])
                .limit(-1),
        )?
    };
    filter_builders(&mut builders, &args.tags);
    Ok(View { page, builders })
}

/// Keeps the builders that have every one of `tags`, sorted by name.
pub fn filter_builders(builders: &mut Vec<Builder>, tags: &[String]) {
    builders.retain(|b| tags.iter().all(|t| b.tags.contains(t)));
    builders.sort_by(|a, b| a.name.cmp(&b.name).then(a.builderid.cmp(&b.builderid)));
}

/// A view's page as its answer: `200 text/html`, never cached (the page follows the builds).
pub fn page(html: String) -> Response {
    Response::html(html).with_header("cache-control", "no-cache")
}

/// The 400 answer to a request with a bad argument, naming the view (`bad console request:
/// ...`).
pub fn bad_request(view: &str, message: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("bad {view} request: {message}\n"))
}

/// The answer to a failed data read: its status and message, naming the view; a server-side
/// failure (5xx) is logged too.
pub fn data_error(view: &str, error: DataError) -> Error {
    if error.code >= 500 {
        log::error!("reading the {view}'s data: {error}");
    }
    Error::new(error.code, format!("{view}: {}\n", error.message))
}

/// Checks the `changes` option (rows per page) after parsing: 1 to [`changes::MAX_CHANGES`].
pub fn check_changes(config: &Config, changes: i64) -> Result<usize, String> {
    let max = changes::MAX_CHANGES;
    usize::try_from(changes)
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| config.out_of_range("changes", format_args!("from 1 to {max}"), changes))
}

/// The shared templates (`templates/`, compiled into the plugin) under `view_common/`, with
/// the view's own templates: `(name, source)`.
pub fn templates(own: &[(&'static str, &'static str)]) -> Result<Templates, String> {
    let shared = [
        (
            "view_common/page.html",
            include_str!("../templates/page.html"),
        ),
        (
            "view_common/style.css",
            include_str!("../templates/style.css"),
        ),
        (
            "view_common/changes.html",
            include_str!("../templates/changes.html"),
        ),
        (
            "view_common/changes_table.html",
            include_str!("../templates/changes_table.html"),
        ),
        (
            "view_common/cell.html",
            include_str!("../templates/cell.html"),
        ),
    ];
    shared
        .into_iter()
        .chain(own.iter().copied())
        .try_fold(Templates::new(), |templates, (name, source)| {
            templates.with(name, source)
        })
}

/// Renders template `name`; the text is the page's HTML.
///
/// minijinja writes `/` as `&#x2f;` and `'` as `&#x27;`: the page gets `/` and `&#39;` back,
/// the same characters in fewer bytes (a console or waterfall page has thousands of links), as
/// the views wrote them before templates. Neither entity can come from the data: a `&` in it
/// is already `&amp;`, and `/` needs no escaping in HTML text or quoted attributes.
pub fn render(templates: &Templates, name: &str, context: impl Serialize) -> Result<String, Error> {
    let html = templates.render_text(name, context)?;
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let entity = &rest[at..];
        rest = if let Some(after) = entity.strip_prefix("&#x2f;") {
            out.push('/');
            after
        } else if let Some(after) = entity.strip_prefix("&#x27;") {
            out.push_str("&#39;");
            after
        } else {
            out.push('&');
            &entity[1..]
        };
    }
    out.push_str(rest);
    Ok(out)
}

/// What `view_common/page.html` shows around a view's table: the filter form, what an empty
/// page says, the pager.
#[derive(Debug, Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
pub struct Frame<'a> {
    /// The filter form.
    pub filters: Filters<'a>,
    /// Why the page shows no builds, when it does not.
    pub empty: Option<EmptyState<'a>>,
    /// Links to other pages, when there are other pages.
    pub pager: Option<Pager>,
}

impl<'a> Frame<'a> {
    /// The frame of `view` read with `args`.
    pub fn new(args: &'a Args, view: &View) -> Frame<'a> {
        let page = &view.page;
        let empty = (page.changes.is_empty() || view.builders.is_empty()).then(|| EmptyState {
            kind: if !page.changes.is_empty() {
                "no_builds"
            } else if args.selection.cursor == Cursor::TOP {
                "no_changes"
            } else {
                "no_more_changes"
            },
            branch: args.selection.branch.as_deref(),
            tags: &args.tags,
        });
        let pager = (page.newer.is_some() || page.older.is_some()).then(|| Pager {
            newest: args.link(|_| {}, &[]),
            newer: page.newer.map(|c| args.link(|_| {}, &c.newer_arguments())),
            older: page.older.map(|c| args.link(|_| {}, &c.older_arguments())),
        });
        Frame {
            filters: Filters::new(args),
            empty,
            pager,
        }
    }
}

/// The filter form: branch, the tags chosen, a tag to add, the other arguments kept; plain
/// GET, so it works without scripts.
#[derive(Debug, Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
pub struct Filters<'a> {
    /// The branch asked for, or empty.
    pub branch: &'a str,
    /// The tags asked for, each with the link that drops it.
    pub chosen: Vec<ChosenTag<'a>>,
    /// The other arguments (page size, the view's flags), kept as they are.
    pub hidden: Vec<&'a (String, String)>,
}

/// A tag the page is filtered by.
#[derive(Debug, Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
pub struct ChosenTag<'a> {
    /// The tag.
    pub tag: &'a str,
    /// The page without it.
    pub without: String,
}

impl<'a> Filters<'a> {
    fn new(args: &'a Args) -> Filters<'a> {
        Filters {
            branch: args.selection.branch.as_deref().unwrap_or(""),
            chosen: args
                .tags
                .iter()
                .map(|tag| ChosenTag {
                    tag,
                    without: args.link(|kept| kept.retain(|(n, v)| n != "tag" || v != tag), &[]),
                })
                .collect(),
            hidden: args
                .kept
                .iter()
                .filter(|(n, _)| n != "branch" && n != "tag")
                .collect(),
        }
    }
}

/// What an empty page says, with what filtered it.
#[derive(Debug, Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
pub struct EmptyState<'a> {
    /// `no_changes`, `no_more_changes` (past the first page) or `no_builds` (of the builders
    /// shown).
    pub kind: &'static str,
    /// The branch asked for.
    pub branch: Option<&'a str>,
    /// The tags asked for.
    pub tags: &'a [String],
}

/// Links to the newest, newer and older pages.
#[derive(Debug, Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
pub struct Pager {
    /// The first page.
    pub newest: String,
    /// The page before, if any.
    pub newer: Option<String>,
    /// The page after, if any.
    pub older: Option<String>,
}

/// A builder as a column or row heading.
#[derive(Debug, Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
pub struct Heading<'a> {
    /// Its id.
    pub builderid: i64,
    /// Its name.
    pub name: &'a str,
    /// Its tags.
    pub tags: &'a [String],
}

impl<'a> From<&'a Builder> for Heading<'a> {
    fn from(builder: &'a Builder) -> Heading<'a> {
        Heading {
            builderid: builder.builderid,
            name: &builder.name,
            tags: &builder.tags,
        }
    }
}

/// A change as `view_common/changes.html` describes it.
#[derive(Debug, Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
pub struct ChangeText<'a> {
    /// Made up from `got_revision`, not a change in the database.
    pub made_up: bool,
    /// Its id (0 when made up).
    pub changeid: i64,
    /// The whole revision.
    pub revision: &'a str,
    /// Its first 10 characters.
    pub short_revision: String,
    /// The link to the revision, when it is an `http(s)` URL.
    pub revlink: Option<&'a str>,
    /// The author as written (`Name <mail>`).
    pub author: &'a str,
    /// The name part.
    pub author_name: &'a str,
    /// The branch, when not empty.
    pub branch: Option<&'a str>,
    /// The whole comments.
    pub comments: &'a str,
    /// The first line of the comments, at most 100 characters (for a made-up change, what it
    /// is).
    pub first_line: String,
    /// `YYYY-MM-DD HH:MM`, UTC.
    pub when: String,
}

impl<'a> ChangeText<'a> {
    /// What is shown of `row`'s change.
    pub fn new(row: &'a ChangeBuilds) -> ChangeText<'a> {
        let change = &row.change;
        let revision = change.revision.as_deref().unwrap_or("");
        let comments = if row.made_up {
            "built without a change, revision from got_revision"
        } else {
            change.comments.lines().next().unwrap_or("")
        };
        ChangeText {
            made_up: row.made_up,
            changeid: change.changeid,
            revision,
            short_revision: revision.chars().take(10).collect(),
            revlink: change
                .revlink
                .as_deref()
                .filter(|link| link.starts_with("https://") || link.starts_with("http://")),
            author: &change.author,
            author_name: change.author.split(" <").next().unwrap_or(""),
            branch: change.branch.as_deref().filter(|b| !b.is_empty()),
            comments: &change.comments,
            first_line: comments.chars().take(100).collect(),
            when: utc_time(change.when_timestamp),
        }
    }
}

/// A row of a table of changes: the change and its builds per column.
#[derive(Debug, Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
pub struct ChangeRow<'a> {
    /// The change.
    pub change: ChangeText<'a>,
    /// Its builds, per column.
    pub cells: Cells,
}

impl<'a> ChangeRow<'a> {
    /// The row of `row` against `columns`, with links relative to `root`.
    pub fn new(row: &'a ChangeBuilds, columns: &[&'a Builder], root: &str) -> ChangeRow<'a> {
        ChangeRow {
            change: ChangeText::new(row),
            cells: Cells::new(columns.iter().map(|builder| Cell::new(row, builder, root))),
        }
    }
}

/// The cells of a row, most of them usually empty: the cells with builds, each after the
/// number of empty cells before it, and the number of empty cells after the last.
#[derive(Debug, Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
pub struct Cells {
    /// The cells with builds.
    pub cells: Vec<Cell>,
    /// Empty cells after the last one.
    pub trailing: usize,
}

impl Cells {
    /// The cells of a row, in column order (`None`: an empty cell).
    pub fn new(row: impl Iterator<Item = Option<Cell>>) -> Cells {
        let mut cells = Vec::new();
        let mut empty = 0;
        for cell in row {
            match cell {
                None => empty += 1,
                Some(cell) => {
                    cells.push(Cell {
                        skip: empty,
                        ..cell
                    });
                    empty = 0;
                }
            }
        }
        Cells {
            cells,
            trailing: empty,
        }
    }
}

/// One builder's builds of one change.
#[derive(Debug, Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
pub struct Cell {
    /// Empty cells before this one in its row.
    pub skip: usize,
    /// The builder.
    pub builderid: i64,
    /// Its builds of the change, newest first.
    pub builds: Vec<BuildBox>,
}

impl Cell {
    /// The builds of `builder` in `row`, or `None` when it has none; links are relative to
    /// `root`.
    pub fn new(row: &ChangeBuilds, builder: &Builder, root: &str) -> Option<Cell> {
        let builds: Vec<BuildBox> = row
            .builds_of(builder.builderid)
            .map(|build| BuildBox::new(build, builder, root))
            .collect();
        (!builds.is_empty()).then_some(Cell {
            skip: 0,
            builderid: builder.builderid,
            builds,
        })
    }
}

/// A build's box: its number on its result's colour, linking to the build's page. The
/// attributes made of several values are put together here (a page has thousands of boxes, and
/// each value a template looks up costs time); the template escapes them like any value.
#[derive(Debug, Serialize)]
#[serde(crate = "buildbot_plugin_sdk::serde")]
pub struct BuildBox {
    /// The build.
    pub buildid: i64,
    /// Its number.
    pub number: i64,
    /// Still running.
    pub running: bool,
    /// The result's name, or `running`.
    pub result: &'static str,
    /// The link to the build's page, relative to the server's root.
    pub href: String,
    /// Its colours: `background:...;color:...`.
    pub style: String,
    /// `<builder> #<number>: <state, or the result's name>`.
    pub title: String,
}

impl BuildBox {
    /// The box of `build` of `builder`, on a page whose root is `root`.
    pub fn new(build: &Build, builder: &Builder, root: &str) -> BuildBox {
        let (result, color, text_color) = if build.complete {
            let code = build.results;
            let text = build.result().map_or("#000", BuildResult::text_color);
            (results::name(code), results::color(code), text)
        } else {
            ("running", results::PENDING_COLOR, "#000")
        };
        let state = if build.state_string.is_empty() {
            result
        } else {
            &build.state_string
        };
        BuildBox {
            buildid: build.buildid,
            number: build.number,
            running: !build.complete,
            result,
            href: format!("{root}builders/{}/builds/{}", build.builderid, build.number),
            style: format!("background:{color};color:{text_color}"),
            title: format!("{} #{}: {state}", builder.name, build.number),
        }
    }
}

/// `YYYY-MM-DD HH:MM` (UTC) of a time in seconds since 1970.
pub fn utc_time(seconds: i64) -> String {
    let time = UtcTime::from_unix(seconds);
    format!("{} {:02}:{:02}", time.date(), time.hour, time.minute)
}

/// The views dataset (`fixtures/views/dataset.sql`) as the first page reads it, and pages read
/// with an HTML parser (`scraper`), for the unit tests of the views (native builds only, like
/// the SDK's `testing`).
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fixture {
    use buildbot_plugin_sdk::changes::ChangeBuilds;
    use buildbot_plugin_sdk::models::{Build, Builder, Change};
    use buildbot_plugin_sdk::serde_json::json;
    pub use scraper;
    use scraper::{Html, Selector};

    use super::*;

    /// T of the dataset.
    pub const T: i64 = 1_700_000_000;

    /// The builders with builds (7, idle, has none).
    pub fn builders() -> Vec<Builder> {
        let builder = |id: i64, name: &str, tags: &[&str]| Builder {
            builderid: id,
            name: name.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Builder::default()
        };
        vec![
            builder(1, "linux-build", &["linux", "build"]),
            builder(2, "linux-test", &["linux", "test"]),
            builder(3, "win-build", &["windows", "build"]),
            builder(4, "win-test", &["windows", "test"]),
            builder(5, "docs", &["docs"]),
            builder(6, "mac-build", &["macos", "build"]),
            builder(8, "tools", &[]),
            builder(9, "x<b>\"&'", &["<i>"]),
        ]
    }

    fn build(buildid: i64, builderid: i64, number: i64, results: Option<i64>) -> Build {
        Build {
            buildid,
            builderid,
            number,
            results,
            complete: results.is_some(),
            state_string: if buildid == 15 {
                "build <successful> & \"ok\"".into()
            } else {
                String::new()
            },
            ..Build::default()
        }
    }

    fn change(
        id: i64,
        author: &str,
        branch: &str,
        comments: &str,
        builds: Vec<Build>,
    ) -> ChangeBuilds {
        let revision: String =
            std::iter::repeat_n(format!("{}{id}", (b'a' + id as u8 - 1) as char), 20).collect();
        ChangeBuilds {
            change: Change {
                changeid: id,
                author: format!("{author} <{}@example.org>", author.to_lowercase()),
                comments: comments.into(),
                revision: Some(revision),
                branch: Some(branch.into()),
                when_timestamp: T + (id - 1) * 600,
                ..Change::default()
            },
            made_up: false,
            builds,
        }
    }

    /// The whole history on one page, newest first.
    pub fn page() -> Page {
        let mut made_up = ChangeBuilds {
            change: Change {
                revision: Some("f0".repeat(20)),
                branch: Some("main".into()),
                when_timestamp: T + 2990,
                ..Change::default()
            },
            made_up: true,
            builds: vec![build(17, 8, 1, Some(0))],
        };
        made_up.builds[0].properties =
            buildbot_plugin_sdk::serde_json::from_value(json!({"got_revision": ["f0", "Git"]}))
                .unwrap();
        Page {
            changes: vec![
                made_up,
                change(
                    5,
                    "Eve",
                    "feature/x",
                    "Try feature x",
                    vec![build(16, 6, 2, Some(2))],
                ),
                change(
                    4,
                    "Dave",
                    "main",
                    "<script>alert(1)</script> & fix \"quotes\"",
                    vec![
                        build(15, 9, 1, Some(0)),
                        build(14, 2, 3, None),
                        build(13, 1, 5, Some(0)),
                    ],
                ),
                change(
                    3,
                    "Carol",
                    "release",
                    "Release 1.0",
                    vec![build(12, 3, 3, Some(0)), build(11, 1, 4, Some(0))],
                ),
                change(
                    2,
                    "Bob",
                    "main",
                    "Speed up the widget",
                    vec![
                        build(10, 1, 3, Some(0)),
                        build(9, 6, 1, Some(6)),
                        build(8, 3, 2, Some(5)),
                        build(7, 2, 2, Some(4)),
                        build(6, 1, 2, Some(2)),
                    ],
                ),
                change(
                    1,
                    "Alice",
                    "main",
                    "Add the widget",
                    vec![
                        build(5, 5, 1, Some(3)),
                        build(4, 4, 1, Some(2)),
                        build(3, 3, 1, Some(1)),
                        build(2, 2, 1, Some(0)),
                        build(1, 1, 1, Some(0)),
                    ],
                ),
            ],
            older: None,
            newer: None,
        }
    }

    /// The page and builders with the tag filter of `args` applied.
    pub fn view(args: &Args) -> View {
        let mut builders = builders();
        filter_builders(&mut builders, &args.tags);
        View {
            page: page(),
            builders,
        }
    }

    /// The arguments of a request with this query string.
    pub fn args(query: &str, flags: &[&str]) -> Args {
        Args::parse(&Request::get("/").with_query(query), 30, flags).unwrap()
    }

    /// The values of `attribute` on the elements the CSS selector `css` picks in `html`, in
    /// document order, as a browser reads them (entities decoded).
    pub fn values(html: &str, css: &str, attribute: &str) -> Vec<String> {
        let selector = Selector::parse(css).expect("a valid selector");
        Html::parse_document(html)
            .select(&selector)
            .filter_map(|element| element.value().attr(attribute).map(str::to_owned))
            .collect()
    }

    /// The text of each element the CSS selector `css` picks in `html`, in document order.
    pub fn texts(html: &str, css: &str) -> Vec<String> {
        let selector = Selector::parse(css).expect("a valid selector");
        Html::parse_document(html)
            .select(&selector)
            .map(|element| element.text().collect())
            .collect()
    }

    /// Text made to break out of wherever it is written: an element, an attribute, a URL.
    pub const HOSTILE: &str = "\"'><img src=x onerror=alert(1)>&amp;</td><script>alert(2)</script>";

    /// [`HOSTILE`] followed by `what`.
    pub fn hostile(what: &str) -> String {
        format!("{HOSTILE}{what}")
    }

    /// Checks a page of [`hostile_view`]: no element got in, and what both views show of
    /// change 5 and of the builds reads back exactly as written, in elements and attributes.
    pub fn assert_hostile_text_reads_back(html: &str) {
        for element in ["img", "script", "b", "i"] {
            assert!(texts(html, element).is_empty(), "a <{element}> got in");
        }
        let change = "[data-changeid='5'] ";
        let author = format!("{change}.bbv-author");
        assert_eq!(
            values(html, &author, "title"),
            [format!("{} <{}>", hostile("author"), hostile("mail"))]
        );
        assert_eq!(texts(html, &author), [hostile("author")]);
        assert_eq!(
            texts(html, &format!("{change}.bbv-branch")),
            [hostile("branch")]
        );
        let revision = format!("{change}.bbv-revision");
        assert_eq!(
            values(html, &revision, "href"),
            [format!("https://example.org/{}", hostile("link"))]
        );
        assert_eq!(values(html, &revision, "title"), [hostile("revision")]);
        let titles = values(html, ".bbv-build", "title");
        let box_title = format!("{} #5: {}", hostile("name"), hostile("state"));
        assert!(titles.contains(&box_title), "{titles:?}");
    }

    /// The page and builders with every text the views show from the database replaced by
    /// [`HOSTILE`] (with a suffix telling them apart): builder name and tag, author, comments,
    /// branch, revision and revision link, build state.
    pub fn hostile_view(args: &Args) -> View {
        let mut view = view(args);
        let text = hostile;
        for builder in &mut view.builders {
            if builder.builderid == 1 {
                builder.name = text("name");
                builder.tags.push(text("tag"));
            }
        }
        for row in &mut view.page.changes {
            if row.change.changeid == 5 {
                row.change.author = format!("{} <{}>", text("author"), text("mail"));
                row.change.comments = text("comments");
                row.change.branch = Some(text("branch"));
                row.change.revision = Some(text("revision"));
                row.change.revlink = Some(format!("https://example.org/{}", text("link")));
            }
            for build in &mut row.builds {
                build.state_string = text("state");
            }
        }
        view
    }
}
