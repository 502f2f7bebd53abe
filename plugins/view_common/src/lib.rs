//! What the bundled views share. For the console and grid views: their URL arguments, the page
//! of changes with the builders it shows, and the HTML of build boxes, change descriptions, the
//! filter form and the pager. For every view (the waterfall too): the answers, a page or an
//! error naming the view. An ordinary library crate the view plugins depend on, so the views
//! look and behave alike without a second copy.

use std::fmt::Write;

use buildbot_plugin_sdk::changes::{self, ChangeBuilds, Cursor, Page, Selection};
use buildbot_plugin_sdk::prelude::*;
use buildbot_plugin_sdk::results;
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

    /// A relative link to this view: the kept arguments changed by `edit`, then `cursor`;
    /// HTML-escaped for an attribute.
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
            escape_html(&format!("?{query}")).into_owned()
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
        .ok_or_else(|| {
            plugin_options::out_of_range(
                config,
                "changes",
                format_args!("from 1 to {max}"),
                changes,
            )
        })
}

/// A table with changes as rows and `columns` as builders: `header_rows` (e.g. tag groups)
/// above the row of builder names, then one row per change.
pub fn changes_table(
    header_rows: &str,
    changes: &[ChangeBuilds],
    columns: &[&Builder],
    root: &str,
    out: &mut String,
) {
    out.push_str("<thead>\n");
    out.push_str(header_rows);
    out.push_str("<tr class=\"bbv-builders\"><th class=\"bbv-change\">Change</th>");
    for builder in columns {
        let _ = write!(
            out,
            "<th class=\"bbv-builder\" data-builderid=\"{}\">",
            builder.builderid
        );
        builder_link(builder, root, out);
        out.push_str("</th>");
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    for row in changes {
        let class = if row.made_up {
            " class=\"bbv-made-up\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr{class}{}><th class=\"bbv-change\">",
            change_attribute(row)
        );
        describe_change(row, Detail::Full, out);
        out.push_str("</th>");
        for builder in columns {
            cell(row, builder, root, out);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A builder's name linking to its page.
pub fn builder_link(builder: &Builder, root: &str, out: &mut String) {
    let _ = write!(
        out,
        "<a href=\"{root}builders/{}\">{}</a>",
        builder.builderid,
        escape_html(&builder.name)
    );
}

/// The cell of one builder and one change: empty, or the boxes of its builds.
pub fn cell(row: &ChangeBuilds, builder: &Builder, root: &str, out: &mut String) {
    if row.builds_of(builder.builderid).next().is_none() {
        out.push_str("<td></td>");
        return;
    }
    let _ = write!(
        out,
        "<td class=\"bbv-cell\" data-builderid=\"{}\">",
        builder.builderid
    );
    build_boxes(root, row, builder, out);
    out.push_str("</td>");
}

/// A whole HTML document: the shared styles, the view's `style`, and `body`.
pub fn document(title: &str, style: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>{STYLE}{style}</style></head>\n<body>\n{body}</body></html>\n"
    )
}

/// The styles both views use (`bbv-` classes).
pub const STYLE: &str = "\
.bbv-filters{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0 0 10px}\
.bbv-filters input[type=text]{padding:3px 6px;width:12em}\
.bbv-chosen{display:inline-block;background:#30426a;color:#fff;border-radius:3px;padding:0 6px;font-size:12px}\
.bbv-chosen a{color:#fff;margin-left:4px}\
.bbv-table{border-collapse:collapse;background:#fff;border:1px solid #dde1e7}\
.bbv-table th,.bbv-table td{border:1px solid #eef0f3;padding:2px 3px;vertical-align:middle}\
.bbv-table thead th{background:#f0f2f5;font-size:12px;font-weight:600;color:#445}\
.bbv-change{text-align:left;font-size:12px;min-width:14em;max-width:28em;font-weight:normal}\
.bbv-change .bbv-comments{display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}\
.bbv-meta{color:#667;font-size:11px}\
.bbv-revision{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px}\
.bbv-branch{display:inline-block;background:#e5e9f0;color:#334;border-radius:3px;padding:0 4px;font-size:11px}\
.bbv-made-up .bbv-change{font-style:italic}\
.bbv-cell{text-align:center;white-space:nowrap}\
.bbv-build{display:inline-block;min-width:1.6em;margin:1px;padding:0 3px;border-radius:3px;font-size:11px;\
line-height:1.5;text-align:center;color:#000}\
.bbv-build:hover{text-decoration:none;outline:1px solid #445}\
.bbv-running{animation:bbv-pulse 2s ease-in-out infinite}\
@keyframes bbv-pulse{50%{opacity:.55}}\
.bbv-pager{display:flex;gap:16px;margin:10px 0}\
.bbv-empty{color:#889;font-style:italic}\
.bbv-tag{display:inline-block;background:#e5e9f0;color:#334;border-radius:3px;padding:0 4px;margin-right:2px;font-size:11px}";

/// One box per build, newest first: the build's number on its result's colour, linking to the
/// build's page.
pub fn build_boxes(root: &str, row: &ChangeBuilds, builder: &Builder, out: &mut String) {
    for build in row.builds_of(builder.builderid) {
        let (result, color, text) = if build.complete {
            let code = build.results;
            let text = build.result().map_or("#000", BuildResult::text_color);
            (results::name(code), results::color(code), text)
        } else {
            ("running", results::PENDING_COLOR, "#000")
        };
        let running = if build.complete { "" } else { " bbv-running" };
        let state = if build.state_string.is_empty() {
            result
        } else {
            &build.state_string
        };
        let _ = write!(
            out,
            "<a class=\"bbv-build{running}\" href=\"{root}builders/{}/builds/{}\" data-buildid=\"{}\" \
             data-result=\"{result}\" style=\"background:{color};color:{text}\" title=\"{} #{}: {}\">{}</a>",
            build.builderid,
            build.number,
            build.buildid,
            escape_html(&builder.name),
            build.number,
            escape_html(state),
            build.number,
        );
    }
}

/// The attribute naming a change's row or column: `data-changeid`, or `data-revision` for a
/// made-up change.
pub fn change_attribute(row: &ChangeBuilds) -> String {
    if row.made_up {
        format!(
            " data-revision=\"{}\"",
            escape_html(row.change.revision.as_deref().unwrap_or(""))
        )
    } else {
        format!(" data-changeid=\"{}\"", row.change.changeid)
    }
}

/// How much of a change to describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Author, first line of the comments, revision, branch and time.
    Full,
    /// Author, revision, branch and time.
    Short,
}

/// The description of a change: who, what, which revision on which branch, and when; a made-up
/// change says it has no change.
pub fn describe_change(row: &ChangeBuilds, detail: Detail, out: &mut String) {
    let change = &row.change;
    let revision = change.revision.as_deref().unwrap_or("");
    let short: String = revision.chars().take(10).collect();
    let revision_html = match change.revlink.as_deref() {
        Some(link) if link.starts_with("https://") || link.starts_with("http://") => format!(
            "<a class=\"bbv-revision\" href=\"{}\" title=\"{}\">{}</a>",
            escape_html(link),
            escape_html(revision),
            escape_html(&short)
        ),
        _ => format!(
            "<span class=\"bbv-revision\" title=\"{}\">{}</span>",
            escape_html(revision),
            escape_html(&short)
        ),
    };
    if row.made_up {
        out.push_str("<span class=\"bbv-author\">no change</span> ");
    } else {
        let author = change.author.split(" <").next().unwrap_or("");
        let _ = write!(
            out,
            "<span class=\"bbv-author\" title=\"{}\">{}</span> ",
            escape_html(&change.author),
            escape_html(author)
        );
    }
    out.push_str(&revision_html);
    if let Some(branch) = change.branch.as_deref().filter(|b| !b.is_empty()) {
        let _ = write!(
            out,
            " <span class=\"bbv-branch\">{}</span>",
            escape_html(branch)
        );
    }
    if detail == Detail::Full {
        let comments = if row.made_up {
            "built without a change, revision from got_revision"
        } else {
            change.comments.lines().next().unwrap_or("")
        };
        let first: String = comments.chars().take(100).collect();
        let _ = write!(
            out,
            "<span class=\"bbv-comments\" title=\"{}\">{}</span>",
            escape_html(&change.comments),
            escape_html(&first)
        );
    }
    let _ = write!(
        out,
        "<span class=\"bbv-meta\"> {}</span>",
        utc_time(change.when_timestamp)
    );
}

/// `YYYY-MM-DD HH:MM` (UTC) of a time in seconds since 1970.
pub fn utc_time(seconds: i64) -> String {
    let time = UtcTime::from_unix(seconds);
    format!("{} {:02}:{:02}", time.date(), time.hour, time.minute)
}

/// The filter form (branch, tags chosen, tag to add) with the view's own `controls`; plain GET,
/// so it works without scripts.
pub fn filter_form(args: &Args, controls: &str, out: &mut String) {
    out.push_str("<form class=\"bbv-filters\" method=\"get\" action=\"./\">");
    let branch = args.selection.branch.as_deref().unwrap_or("");
    let _ = write!(
        out,
        "<label>Branch <input type=\"text\" name=\"branch\" value=\"{}\" placeholder=\"all branches\"></label>",
        escape_html(branch)
    );
    for tag in &args.tags {
        let without = args.link(|kept| kept.retain(|(n, v)| n != "tag" || v != tag), &[]);
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"tag\" value=\"{0}\"><span class=\"bbv-chosen\" \
             data-tag=\"{0}\">{0}<a href=\"{without}\" title=\"remove this tag\">×</a></span>",
            escape_html(tag)
        );
    }
    out.push_str("<label>Tag <input type=\"text\" name=\"tag\" placeholder=\"add a tag\"></label>");
    // The other arguments (page size, the view's flags) stay as they are.
    for (name, value) in args
        .kept
        .iter()
        .filter(|(n, _)| n != "branch" && n != "tag")
    {
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape_html(name),
            escape_html(value)
        );
    }
    out.push_str(controls);
    out.push_str("<button type=\"submit\">Filter</button> <a href=\"./\">Clear</a></form>\n");
}

/// Links to the newest, newer and older pages, when there are such pages.
pub fn pager(args: &Args, page: &Page, out: &mut String) {
    if page.newer.is_none() && page.older.is_none() {
        return;
    }
    out.push_str("<nav class=\"bbv-pager\">");
    if let Some(newer) = page.newer {
        let _ = write!(
            out,
            "<a href=\"{}\" rel=\"first\">« Newest</a><a href=\"{}\" rel=\"prev\">‹ Newer</a>",
            args.link(|_| {}, &[]),
            args.link(|_| {}, &newer.newer_arguments())
        );
    }
    if let Some(older) = page.older {
        let _ = write!(
            out,
            "<a href=\"{}\" rel=\"next\">Older ›</a>",
            args.link(|_| {}, &older.older_arguments())
        );
    }
    out.push_str("</nav>\n");
}

/// What an empty page says, with what filtered it.
pub fn empty_state(args: &Args, view: &View, out: &mut String) {
    let mut filters = Vec::new();
    if let Some(branch) = &args.selection.branch {
        filters.push(format!("on branch {}", escape_html(branch)));
    }
    if !args.tags.is_empty() {
        let tags: Vec<String> = args
            .tags
            .iter()
            .map(|t| escape_html(t).into_owned())
            .collect();
        filters.push(format!("for builders tagged {}", tags.join(" and ")));
    }
    let filtered = if filters.is_empty() {
        String::new()
    } else {
        format!(" {}", filters.join(" "))
    };
    let text = if view.page.changes.is_empty() {
        if args.selection.cursor == Cursor::TOP {
            format!("No changes{filtered} yet.")
        } else {
            format!("No more changes{filtered}.")
        }
    } else {
        format!("No builds of these changes{filtered}.")
    };
    let _ = writeln!(out, "<p class=\"bbv-empty\">{text}</p>");
}

/// The views dataset (`fixtures/views/dataset.sql`) as the first page reads it, for the unit
/// tests of both views (native builds only, like the SDK's `testing`).
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fixture {
    use buildbot_plugin_sdk::changes::ChangeBuilds;
    use buildbot_plugin_sdk::models::{Build, Builder, Change};
    use buildbot_plugin_sdk::serde_json::json;

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

    /// The values of attribute `name` in `html`, in order.
    pub fn attributes(html: &str, name: &str) -> Vec<String> {
        let needle = format!(" {name}=\"");
        html.match_indices(&needle)
            .map(|(i, _)| {
                let rest = &html[i + needle.len()..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
            .collect()
    }
}
