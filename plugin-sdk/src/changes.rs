//! Changes, newest first, each with all its builds, plus changes made up from the
//! `got_revision` property for builds that have no change: the rows of a console view and the
//! columns of a grid view, a page at a time.
//!
//! ```
//! use buildbot_plugin_sdk::changes::{self, Selection};
//! # use buildbot_plugin_sdk::testing;
//! # testing::set_data(|path, _| Ok(match path {
//! #     "changes" => r#"{"changes": [{"changeid": 7, "author": "alice", "when_timestamp": 100,
//! #         "sourcestamp": {"ssid": 3}}], "meta": {}}"#,
//! #     "changes/7/builds" => r#"{"builds": [{"buildid": 2, "builderid": 1, "number": 5,
//! #         "results": 0}], "meta": {}}"#,
//! #     _ => r#"{"buildsets": [], "meta": {}}"#,
//! # }.into()));
//!
//! // the 30 newest changes of branch main, each with its builds
//! let page = changes::page(&Selection::new(30).branch("main"))?;
//! for row in &page.changes {
//!     let builders: Vec<i64> = row.builds.iter().map(|b| b.builderid).collect();
//!     println!("{} by {}: builds on {builders:?}", row.change.changeid, row.change.author);
//! }
//! assert_eq!(page.changes[0].builds[0].number, 5);
//! assert!(page.older.is_none(), "the whole history fits on the page");
//! # Ok::<(), buildbot_plugin_sdk::DataError>(())
//! ```
//!
//! What a page holds:
//! - real changes in the order of their ids, newest first (on one branch with
//!   [`Selection::branch`]), each with every build of every build request made for it
//!   (rebuilds and triggered builds included), newest first;
//! - made-up changes: builds whose buildset's source stamps belong to no change (forced builds,
//!   nightly builds) are grouped by the revision they built, `got_revision` (one made-up change
//!   per codebase when it is a dictionary), else the source stamp's revision; builds without
//!   either are left out. A made-up change has `changeid` 0, the revision, the source stamp's
//!   branch, codebase, repository and project, and as `when_timestamp` the submission time of
//!   its newest buildset on the page (in a page of newer changes, its oldest). It stands among
//!   the real changes by that time. With a branch filter, only made-up changes whose source
//!   stamp is on the branch are kept;
//! - at most [`Selection::changes`] rows, real and made-up together (a few more when rows tie
//!   on the time of the last one); fewer when the page's time range holds more than
//!   [`MAX_BUILDSETS`] buildsets: the page then ends at the oldest of those read;
//! - cursors to the next older and newer pages: a position between two rows, made of the id
//!   of the last real change shown and the time of the last row. Revisions built again later
//!   may appear again on another page, each time with the builds of that page's time range.
//!
//! A page costs a fixed number of Data API reads: one for the changes, one per real change
//! shown for its builds, one for the buildsets in the page's time range; when some of those
//! belong to no change read, one for the changes of their revisions; when some have no change
//! at all, one each for their build requests and builds.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::data::{self, DataError, Query};
use crate::models::{Build, BuildRequest, BuildSet, Change, SourceStamp};
use crate::Request;

/// The most changes a page may hold.
pub const MAX_CHANGES: usize = 200;
/// The most buildsets a page reads to find builds without a change; when the page's time range
/// has more, the page ends at the time of the oldest one read.
pub const MAX_BUILDSETS: usize = 500;
/// The most builds read for one change.
pub const MAX_BUILDS_PER_CHANGE: i64 = 10_000;
/// The URL arguments [`Selection::from_request`] reads.
pub const ARGUMENTS: [&str; 6] = ["changes", "branch", "before", "until", "after", "since"];

/// The build fields a page fills (the others keep their defaults), plus `properties` with
/// `got_revision` for the builds of made-up changes.
pub const BUILD_FIELDS: [&str; 9] = [
    "buildid",
    "number",
    "builderid",
    "buildrequestid",
    "results",
    "complete",
    "state_string",
    "started_at",
    "complete_at",
];

/// The change fields a page fills.
const CHANGE_FIELDS: [&str; 12] = [
    "changeid",
    "author",
    "comments",
    "revision",
    "revlink",
    "branch",
    "when_timestamp",
    "category",
    "repository",
    "project",
    "codebase",
    "sourcestamp",
];

/// A position between two rows of the history: real changes with a smaller id than `changeid`
/// and made-up changes' buildsets submitted before `time` are below it, the rest above.
/// `None` means "above everything".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// Real changes with a smaller id are below the position.
    pub changeid: Option<i64>,
    /// Buildsets (of made-up changes) submitted before this time are below the position.
    pub time: Option<i64>,
}

impl Cursor {
    /// The top of the history: everything is below.
    pub const TOP: Cursor = Cursor {
        changeid: None,
        time: None,
    };

    /// The URL arguments of the page below this position: `before` and `until`.
    ///
    /// ```
    /// # use buildbot_plugin_sdk::changes::Cursor;
    /// let cursor = Cursor { changeid: Some(12), time: Some(1700000000) };
    /// assert_eq!(cursor.older_arguments(), [("before", 12), ("until", 1700000000)]);
    /// assert_eq!(cursor.newer_arguments(), [("after", 12), ("since", 1700000000)]);
    /// assert!(Cursor::TOP.older_arguments().is_empty());
    /// ```
    pub fn older_arguments(&self) -> Vec<(&'static str, i64)> {
        self.arguments("before", "until")
    }

    /// The URL arguments of the page above this position: `after` and `since`.
    pub fn newer_arguments(&self) -> Vec<(&'static str, i64)> {
        self.arguments("after", "since")
    }

    fn arguments(&self, id: &'static str, time: &'static str) -> Vec<(&'static str, i64)> {
        let mut out = Vec::new();
        if let Some(changeid) = self.changeid {
            out.push((id, changeid));
        }
        if let Some(t) = self.time {
            out.push((time, t));
        }
        out
    }
}

/// Which page to read: how many changes, on which branch, from which position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The most rows of the page, real and made-up changes together (1 to [`MAX_CHANGES`]).
    pub changes: usize,
    /// Only changes on this branch; `None` for all branches.
    pub branch: Option<String>,
    /// Where the page starts.
    pub cursor: Cursor,
    /// `false`: the rows below the cursor (older); `true`: the rows above it (newer).
    pub newer: bool,
}

impl Selection {
    /// The newest `changes` changes of all branches (clamped to 1..=[`MAX_CHANGES`]).
    pub fn new(changes: usize) -> Selection {
        Selection {
            changes: changes.clamp(1, MAX_CHANGES),
            branch: None,
            cursor: Cursor::TOP,
            newer: false,
        }
    }

    /// The same selection on one branch.
    pub fn branch(mut self, branch: impl Into<String>) -> Selection {
        self.branch = Some(branch.into());
        self
    }

    /// The same selection starting below `cursor` (older rows).
    pub fn older_than(mut self, cursor: Cursor) -> Selection {
        self.cursor = cursor;
        self.newer = false;
        self
    }

    /// The same selection ending above `cursor` (newer rows).
    pub fn newer_than(mut self, cursor: Cursor) -> Selection {
        self.cursor = cursor;
        self.newer = true;
        self
    }

    /// Reads the selection from a request's URL arguments: `changes` (rows, else
    /// `default_changes`), `branch` (empty for all), and a cursor: `before` (changeid) and
    /// `until` (time) for an older page, or `after` and `since` for a newer one. The error text
    /// says which argument is wrong; answer it with status 400.
    ///
    /// ```
    /// use buildbot_plugin_sdk::{changes::{Cursor, Selection}, Request};
    ///
    /// let request = Request::get("/").with_query("branch=main&before=12&until=1700000000");
    /// let selection = Selection::from_request(&request, 30).unwrap();
    /// assert_eq!(selection, Selection::new(30).branch("main")
    ///     .older_than(Cursor { changeid: Some(12), time: Some(1700000000) }));
    ///
    /// let bad = Request::get("/").with_query("changes=-5");
    /// assert_eq!(Selection::from_request(&bad, 30).unwrap_err(),
    ///            "invalid changes '-5': expected a whole number from 1 to 200");
    /// ```
    pub fn from_request(request: &Request, default_changes: usize) -> Result<Selection, String> {
        let mut selection = Selection::new(default_changes);
        if let Some(text) = request.query_param("changes") {
            selection.changes = match text.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_CHANGES).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "invalid changes '{text}': expected a whole number from 1 to {MAX_CHANGES}"
                    ))
                }
            };
        }
        selection.branch = request.query_param("branch").filter(|b| !b.is_empty());
        let number = |name: &str, what: &str| -> Result<Option<i64>, String> {
            match request.query_param(name) {
                None => Ok(None),
                Some(text) => match text.trim().parse::<i64>() {
                    Ok(n) if n >= 0 => Ok(Some(n)),
                    _ => Err(format!(
                        "invalid {name} '{text}': expected {what} (a whole number, 0 or more)"
                    )),
                },
            }
        };
        let older = Cursor {
            changeid: number("before", "a changeid")?,
            time: number("until", "a time in seconds since 1970")?,
        };
        let newer = Cursor {
            changeid: number("after", "a changeid")?,
            time: number("since", "a time in seconds since 1970")?,
        };
        match (older == Cursor::TOP, newer == Cursor::TOP) {
            (_, true) => selection.cursor = older,
            (true, false) => {
                selection.cursor = newer;
                selection.newer = true;
            }
            (false, false) => {
                return Err("before/until and after/since cannot be combined".into());
            }
        }
        Ok(selection)
    }
}

/// A change, real or made up, with its builds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeBuilds {
    /// The change; a made-up one has `changeid` 0 (see the [module](self) documentation).
    pub change: Change,
    /// Whether the change is made up from builds without a change.
    pub made_up: bool,
    /// Its builds, newest (highest `buildid`) first, with the fields of [`BUILD_FIELDS`].
    pub builds: Vec<Build>,
}

impl ChangeBuilds {
    /// The builds of builder `builderid`, newest first.
    pub fn builds_of(&self, builderid: i64) -> impl Iterator<Item = &Build> + '_ {
        self.builds.iter().filter(move |b| b.builderid == builderid)
    }
}

/// A page of the history: changes newest first, and where the next pages start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The rows, newest first.
    pub changes: Vec<ChangeBuilds>,
    /// The position below the last row, when older rows exist: read them with
    /// [`Selection::older_than`] (URL arguments [`Cursor::older_arguments`]).
    pub older: Option<Cursor>,
    /// The position above the first row, unless this is the newest page: read the rows above
    /// with [`Selection::newer_than`] (URL arguments [`Cursor::newer_arguments`]).
    pub newer: Option<Cursor>,
}

impl Page {
    /// The builders that have at least one build on the page.
    pub fn builder_ids(&self) -> BTreeSet<i64> {
        self.changes
            .iter()
            .flat_map(|row| row.builds.iter().map(|b| b.builderid))
            .collect()
    }
}

/// Reads one page of changes with their builds.
///
/// A page of newer changes that reaches the top of the history is the newest page.
pub fn page(selection: &Selection) -> Result<Page, DataError> {
    let page = read(selection)?;
    if selection.newer && page.newer.is_none() {
        return read(&Selection {
            cursor: Cursor::TOP,
            newer: false,
            ..selection.clone()
        });
    }
    Ok(page)
}

/// One row while a page is assembled: its sort time and, for made-up changes, the submission
/// time of the buildset of each build.
struct Row {
    time: i64,
    changeid: Option<i64>,
    entry: ChangeBuilds,
    buildset_times: Vec<i64>,
}

fn read(selection: &Selection) -> Result<Page, DataError> {
    let n = selection.changes.clamp(1, MAX_CHANGES);
    let newer = selection.newer;
    let cursor = selection.cursor;
    // Rows are walked away from the cursor: down (newest first) for older pages, up (oldest
    // first) for newer ones. `ahead(a, b)`: time `a` comes before time `b` on the walk.
    let ahead = |a: i64, b: i64| if newer { a < b } else { a > b };

    let real = real_changes(selection, n)?;
    let more_real = real.len() > n;
    let known_ssids: HashSet<i64> = real.iter().map(|c| c.sourcestamp.ssid).collect();
    // Made-up changes beyond the n-th real change cannot make the page.
    let bound = real.get(n - 1).map(|c| c.when_timestamp);
    let (buildsets, edge) = buildsets_in_range(cursor.time, bound, newer)?;
    let made_up = made_up_changes(buildsets, &known_ssids, selection.branch.as_deref(), newer)?;

    // Merge: a made-up change comes first when its time is ahead; at equal times the real
    // change is nearer the top. Real changes at or past the edge of the buildsets read belong
    // to the next page.
    let mut rows: Vec<Row> = Vec::with_capacity(real.len() + made_up.len());
    let mut made_up = made_up.into_iter().peekable();
    for change in real {
        if edge.is_some_and(|e| !ahead(change.when_timestamp, e)) {
            break;
        }
        let time = change.when_timestamp;
        while let Some(row) = made_up.next_if(|m| ahead(m.time, time) || (newer && m.time == time))
        {
            rows.push(row);
        }
        rows.push(Row {
            time,
            changeid: Some(change.changeid),
            entry: ChangeBuilds {
                change,
                made_up: false,
                builds: Vec::new(),
            },
            buildset_times: Vec::new(),
        });
    }
    rows.extend(made_up);

    // Keep n rows, and the rows that tie with the last one kept.
    let mut kept = rows.len().min(n);
    if let Some(last) = kept.checked_sub(1).map(|i| rows[i].time) {
        while kept < rows.len() && rows[kept].time == last {
            kept += 1;
        }
    }
    let more = kept < rows.len() || edge.is_some() || more_real;
    let cut = (kept < rows.len()).then(|| rows[kept - 1].time);
    rows.truncate(kept);

    let far = if more {
        // The buildsets at and beyond `time` belong to the next page.
        let time = match (cut, edge) {
            (Some(t), _) => t,
            (None, Some(e)) => {
                if newer {
                    e - 1
                } else {
                    e + 1
                }
            }
            (None, None) => rows
                .last()
                .map_or(cursor.time.unwrap_or(i64::MAX), |r| r.time),
        };
        for row in rows.iter_mut().filter(|r| r.changeid.is_none()) {
            drop_beyond(row, time, newer);
        }
        let changeid = rows
            .iter()
            .rev()
            .find_map(|r| r.changeid)
            .map(|id| if newer { id + 1 } else { id })
            .or(cursor.changeid);
        Some(Cursor {
            changeid,
            time: Some(if newer { time + 1 } else { time }),
        })
    } else {
        None
    };

    for row in rows.iter_mut().filter(|r| r.changeid.is_some()) {
        row.entry.builds = data::list::<Build>(
            &format!("changes/{}/builds", row.entry.change.changeid),
            &Query::new()
                .fields(BUILD_FIELDS)
                .order("-buildid")
                .limit(MAX_BUILDS_PER_CHANGE),
        )?;
    }
    let mut changes: Vec<ChangeBuilds> = rows.into_iter().map(|r| r.entry).collect();
    let near = (cursor != Cursor::TOP).then_some(cursor);
    if newer {
        changes.reverse();
        Ok(Page {
            changes,
            older: near,
            newer: far,
        })
    } else {
        Ok(Page {
            changes,
            older: far,
            newer: near,
        })
    }
}

/// Removes from a made-up change the builds whose buildset is beyond `time` (they belong to the
/// next page): going down, buildsets submitted before `time`; going up, after it.
fn drop_beyond(row: &mut Row, time: i64, newer: bool) {
    let mut keep = row
        .buildset_times
        .iter()
        .map(|&t| if newer { t <= time } else { t >= time });
    row.entry.builds.retain(|_| keep.next().unwrap_or(true));
    row.buildset_times
        .retain(|&t| if newer { t <= time } else { t >= time });
}

/// The real changes of the page and one more (to know whether older ones exist), in walking
/// order.
fn real_changes(selection: &Selection, n: usize) -> Result<Vec<Change>, DataError> {
    let mut query = Query::new();
    if let Some(branch) = &selection.branch {
        query = query.eq("branch", branch);
    }
    query = match (selection.newer, selection.cursor.changeid) {
        (false, Some(id)) => query.lt("changeid", id),
        (false, None) => query,
        (true, Some(id)) => query.ge("changeid", id),
        // Nothing real is above a cursor that has every real change below it.
        (true, None) => return Ok(Vec::new()),
    };
    let order = if selection.newer {
        "changeid"
    } else {
        "-changeid"
    };
    data::list(
        "changes",
        &query.fields(CHANGE_FIELDS).order(order).limit(n as i64 + 1),
    )
}

/// The buildsets submitted in the page's time range, in walking order: below (or, going up,
/// at or above) the cursor's time, and not beyond `bound`. When there are more than
/// [`MAX_BUILDSETS`], those of the last second read are dropped and that second is returned
/// as the edge: the page ends there.
fn buildsets_in_range(
    time: Option<i64>,
    bound: Option<i64>,
    newer: bool,
) -> Result<(Vec<BuildSet>, Option<i64>), DataError> {
    let mut query = Query::new();
    if newer {
        let Some(since) = time else {
            return Ok((Vec::new(), None));
        };
        query = query.ge("submitted_at", since);
        if let Some(bound) = bound {
            query = query.le("submitted_at", bound);
        }
        query = query.order("submitted_at").order("bsid");
    } else {
        if let Some(until) = time {
            query = query.lt("submitted_at", until);
        }
        if let Some(bound) = bound {
            query = query.ge("submitted_at", bound);
        }
        query = query.order("-submitted_at").order("-bsid");
    }
    let mut buildsets: Vec<BuildSet> = data::list(
        "buildsets",
        &query
            .fields(["bsid", "submitted_at", "sourcestamps"])
            .limit(MAX_BUILDSETS as i64 + 1),
    )?;
    if buildsets.len() <= MAX_BUILDSETS {
        return Ok((buildsets, None));
    }
    let edge = buildsets[MAX_BUILDSETS].submitted_at;
    buildsets.retain(|b| b.submitted_at != edge);
    Ok((buildsets, Some(edge)))
}

/// Builds without a change, grouped into made-up changes (walking order).
fn made_up_changes(
    buildsets: Vec<BuildSet>,
    known_ssids: &HashSet<i64>,
    branch: Option<&str>,
    newer: bool,
) -> Result<Vec<Row>, DataError> {
    // Buildsets of the changes read are theirs; for the others, ask whether a change has
    // their source stamps.
    let others: Vec<BuildSet> = buildsets
        .into_iter()
        .filter(|bs| {
            !bs.sourcestamps
                .iter()
                .any(|ss| known_ssids.contains(&ss.ssid))
        })
        .collect();
    if others.is_empty() {
        return Ok(Vec::new());
    }
    let revisions: BTreeSet<&str> = others
        .iter()
        .flat_map(|bs| {
            bs.sourcestamps
                .iter()
                .filter_map(|ss| ss.revision.as_deref())
        })
        .collect();
    let mut change_ssids = HashSet::new();
    if !revisions.is_empty() {
        let changes: Vec<Change> = data::list(
            "changes",
            &Query::new()
                .any_of("revision", &revisions)
                .fields(["changeid", "revision", "sourcestamp"])
                .limit(-1),
        )?;
        change_ssids.extend(changes.iter().map(|c| c.sourcestamp.ssid));
    }
    let changeless: HashMap<i64, BuildSet> = others
        .into_iter()
        .filter(|bs| {
            !bs.sourcestamps
                .iter()
                .any(|ss| change_ssids.contains(&ss.ssid))
                && branch.is_none_or(|b| {
                    bs.sourcestamps
                        .iter()
                        .any(|ss| ss.branch.as_deref() == Some(b))
                })
        })
        .map(|bs| (bs.bsid, bs))
        .collect();
    if changeless.is_empty() {
        return Ok(Vec::new());
    }
    let requests: Vec<BuildRequest> = data::list(
        "buildrequests",
        &Query::new()
            .any_of("buildsetid", changeless.keys())
            .fields(["buildrequestid", "buildsetid"])
            .limit(-1),
    )?;
    let buildset_of: HashMap<i64, i64> = requests
        .iter()
        .map(|r| (r.buildrequestid, r.buildsetid))
        .collect();
    if buildset_of.is_empty() {
        return Ok(Vec::new());
    }
    let builds: Vec<Build> = data::list(
        "builds",
        &Query::new()
            .any_of("buildrequestid", buildset_of.keys())
            .fields(BUILD_FIELDS)
            .field("properties")
            .property("got_revision")
            .order("-buildid")
            .limit(-1),
    )?;
    // Group by (codebase, revision).
    let mut groups: BTreeMap<(String, String), Row> = BTreeMap::new();
    for build in builds {
        let Some(buildset) = buildset_of
            .get(&build.buildrequestid)
            .and_then(|bsid| changeless.get(bsid))
        else {
            continue;
        };
        for (stamp, revision) in revisions_built(&build, buildset) {
            let key = (stamp.codebase.clone(), revision.clone());
            let row = groups.entry(key).or_insert_with(|| Row {
                time: buildset.submitted_at,
                changeid: None,
                entry: ChangeBuilds {
                    change: made_up_change(stamp, revision),
                    made_up: true,
                    builds: Vec::new(),
                },
                buildset_times: Vec::new(),
            });
            row.time = if newer {
                row.time.min(buildset.submitted_at)
            } else {
                row.time.max(buildset.submitted_at)
            };
            row.entry.builds.push(build.clone());
            row.buildset_times.push(buildset.submitted_at);
        }
    }
    let mut rows: Vec<Row> = groups.into_values().collect();
    for row in &mut rows {
        row.entry.change.when_timestamp = row.time;
    }
    // Walking order: by time, then by the newest build.
    rows.sort_by_key(|r| {
        let newest = r.entry.builds.first().map_or(0, |b| b.buildid);
        if newer {
            (r.time, newest)
        } else {
            (-r.time, -newest)
        }
    });
    Ok(rows)
}

/// The revisions a build of a change-less buildset built, with the source stamp of each:
/// `got_revision` (a string, or a dictionary by codebase), else the source stamps' revisions.
fn revisions_built<'a>(build: &Build, buildset: &'a BuildSet) -> Vec<(&'a SourceStamp, String)> {
    let stamp_of = |codebase: &str| {
        buildset
            .sourcestamps
            .iter()
            .find(|ss| ss.codebase == codebase)
            .or(buildset.sourcestamps.first())
    };
    let mut out = Vec::new();
    match build.properties.get("got_revision") {
        Some(serde_json::Value::String(revision)) if !revision.is_empty() => {
            if let Some(ss) = buildset.sourcestamps.first() {
                out.push((ss, revision.clone()));
            }
        }
        Some(serde_json::Value::Object(by_codebase)) => {
            for (codebase, revision) in by_codebase {
                if let (Some(ss), Some(revision)) = (stamp_of(codebase), revision.as_str()) {
                    out.push((ss, revision.to_owned()));
                }
            }
        }
        _ => {
            for ss in &buildset.sourcestamps {
                if let Some(revision) = &ss.revision {
                    out.push((ss, revision.clone()));
                }
            }
        }
    }
    out
}

/// A change made up for `revision` of source stamp `stamp`.
fn made_up_change(stamp: &SourceStamp, revision: String) -> Change {
    Change {
        changeid: 0,
        revision: Some(revision),
        branch: stamp.branch.clone(),
        codebase: stamp.codebase.clone(),
        repository: stamp.repository.clone(),
        project: stamp.project.clone(),
        sourcestamp: stamp.clone(),
        ..Change::default()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::testing;

    const T: i64 = 1_700_000_000;

    /// A build: (buildid, builderid, bsid, results, got_revision).
    type BuildRow = (i64, i64, i64, Option<i64>, Option<Value>);

    /// A history in memory: (changeid, branch, revision, when, ssid); buildsets (bsid,
    /// submitted_at, ssid); sourcestamps (ssid, branch, revision); builds (buildid, builderid,
    /// bsid, results, got_revision).
    struct History {
        changes: Vec<(i64, &'static str, &'static str, i64, i64)>,
        stamps: Vec<(i64, &'static str, Option<&'static str>)>,
        buildsets: Vec<(i64, i64, i64)>,
        builds: Vec<BuildRow>,
    }

    /// The views dataset (fixtures/views/dataset.sql), without steps.
    fn views() -> History {
        History {
            changes: vec![
                (1, "main", "a1", T, 1),
                (2, "main", "b2", T + 600, 2),
                (3, "release", "c3", T + 1200, 3),
                (4, "main", "d4", T + 1800, 4),
                (5, "feature/x", "e5", T + 2400, 5),
            ],
            stamps: vec![
                (1, "main", Some("a1")),
                (2, "main", Some("b2")),
                (3, "release", Some("c3")),
                (4, "main", Some("d4")),
                (5, "feature/x", Some("e5")),
                (6, "main", None),
            ],
            buildsets: vec![
                (1, T + 30, 1),
                (2, T + 630, 2),
                (3, T + 990, 2),
                (4, T + 1230, 3),
                (5, T + 1830, 4),
                (6, T + 2430, 5),
                (7, T + 2990, 6),
                (8, T + 2440, 5),
            ],
            builds: vec![
                (1, 1, 1, Some(0), Some(json!("a1"))),
                (2, 2, 1, Some(0), None),
                (3, 3, 1, Some(1), None),
                (4, 4, 1, Some(2), None),
                (5, 5, 1, Some(3), None),
                (6, 1, 2, Some(2), Some(json!("b2"))),
                (7, 2, 2, Some(4), None),
                (8, 3, 2, Some(5), None),
                (9, 6, 2, Some(6), None),
                (10, 1, 3, Some(0), Some(json!("b2"))),
                (11, 1, 4, Some(0), None),
                (12, 3, 4, Some(0), None),
                (13, 1, 5, Some(0), Some(json!("d4"))),
                (14, 2, 5, None, None),
                (15, 9, 5, Some(0), None),
                (16, 6, 6, Some(2), None),
                (17, 8, 7, Some(0), Some(json!("f0"))),
            ],
        }
    }

    /// Answers the reads a page makes, checking their shape; `calls` counts them.
    fn serve(history: History) -> std::rc::Rc<std::cell::Cell<usize>> {
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let counter = calls.clone();
        testing::set_data(move |path, query| {
            counter.set(counter.get() + 1);
            let params = crate::http::parse_query(query);
            let all = |name: &str| -> Vec<String> {
                params
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .collect()
            };
            // as the server: filters and order only on selected fields
            let fields = all("field");
            for (name, value) in &params {
                let field = match name.as_str() {
                    "order" => value.trim_start_matches('-'),
                    "field" | "limit" | "offset" | "property" => continue,
                    filter => filter.split("__").next().unwrap(),
                };
                if !fields.is_empty() && !fields.iter().any(|f| f == field) {
                    return Err(DataError::new(
                        400,
                        format!("{field} is not selected in {path}"),
                    ));
                }
            }
            let one = |name: &str| all(name).into_iter().next();
            let int = |name: &str| one(name).map(|v| v.parse::<i64>().unwrap());
            let limit = int("limit").unwrap_or(1000);
            let take = |items: Vec<Value>| -> Vec<Value> {
                if limit < 0 {
                    items
                } else {
                    items.into_iter().take(limit as usize).collect()
                }
            };
            let stamp = |ssid: i64| {
                let (_, branch, revision) = *history.stamps.iter().find(|s| s.0 == ssid).unwrap();
                json!({"ssid": ssid, "branch": branch, "revision": revision, "codebase": ""})
            };
            let build = |b: &BuildRow| {
                let mut item = json!({"buildid": b.0, "number": b.0, "builderid": b.1,
                    "buildrequestid": b.0, "results": b.3, "complete": b.3.is_some()});
                if all("property").contains(&"got_revision".to_string()) {
                    item["properties"] = match &b.4 {
                        Some(rev) => json!({"got_revision": [rev, "Git"]}),
                        None => json!({}),
                    };
                }
                item
            };
            let answer =
                |key: &str, items: Vec<Value>| Ok(json!({key: items, "meta": {}}).to_string());
            if let Some(id) = path
                .strip_prefix("changes/")
                .and_then(|p| p.strip_suffix("/builds"))
            {
                let id: i64 = id.parse().unwrap();
                assert_eq!(one("order").as_deref(), Some("-buildid"));
                let ssid = history.changes.iter().find(|c| c.0 == id).unwrap().4;
                let mut builds: Vec<_> = history
                    .builds
                    .iter()
                    .filter(|b| {
                        history
                            .buildsets
                            .iter()
                            .any(|bs| bs.0 == b.2 && bs.2 == ssid)
                    })
                    .collect();
                builds.sort_by_key(|b| -b.0);
                return answer("builds", take(builds.into_iter().map(build).collect()));
            }
            match path {
                "changes" => {
                    let revisions = all("revision__in");
                    let mut changes: Vec<_> = history
                        .changes
                        .iter()
                        .filter(|c| one("branch").is_none_or(|b| b == c.1))
                        .filter(|c| int("changeid__lt").is_none_or(|id| c.0 < id))
                        .filter(|c| int("changeid__ge").is_none_or(|id| c.0 >= id))
                        .filter(|c| revisions.is_empty() || revisions.iter().any(|r| r == c.2))
                        .collect();
                    if one("order").as_deref() == Some("changeid") {
                        changes.sort_by_key(|c| c.0);
                    } else {
                        changes.sort_by_key(|c| -c.0);
                    }
                    let items = changes
                        .into_iter()
                        .map(|c| {
                            json!({"changeid": c.0, "branch": c.1, "revision": c.2,
                            "when_timestamp": c.3, "author": format!("author {}", c.0),
                            "sourcestamp": stamp(c.4)})
                        })
                        .collect();
                    answer("changes", take(items))
                }
                "buildsets" => {
                    let mut sets: Vec<_> = history
                        .buildsets
                        .iter()
                        .filter(|b| int("submitted_at__lt").is_none_or(|t| b.1 < t))
                        .filter(|b| int("submitted_at__le").is_none_or(|t| b.1 <= t))
                        .filter(|b| int("submitted_at__ge").is_none_or(|t| b.1 >= t))
                        .collect();
                    sets.sort_by_key(|b| (b.1, b.0));
                    if one("order").as_deref() == Some("-submitted_at") {
                        sets.reverse();
                    }
                    let items = sets
                        .into_iter()
                        .map(|b| json!({"bsid": b.0, "submitted_at": b.1, "sourcestamps": [stamp(b.2)]}))
                        .collect();
                    answer("buildsets", take(items))
                }
                "buildrequests" => {
                    let sets = all("buildsetid__in");
                    let items = history
                        .builds
                        .iter()
                        .filter(|b| sets.contains(&b.2.to_string()))
                        .map(|b| json!({"buildrequestid": b.0, "buildsetid": b.2}))
                        .collect();
                    answer("buildrequests", take(items))
                }
                "builds" => {
                    let requests = all("buildrequestid__in");
                    let mut builds: Vec<_> = history
                        .builds
                        .iter()
                        .filter(|b| requests.contains(&b.0.to_string()))
                        .collect();
                    builds.sort_by_key(|b| -b.0);
                    answer("builds", take(builds.into_iter().map(build).collect()))
                }
                _ => Err(DataError::new(404, format!("Invalid path: {path}"))),
            }
        });
        calls
    }

    /// Each row as its changeid, or `r<revision>` for a made-up one, with its buildids.
    fn rows(page: &Page) -> Vec<(String, Vec<i64>)> {
        page.changes
            .iter()
            .map(|row| {
                let name = if row.made_up {
                    format!("r{}", row.change.revision.as_deref().unwrap_or(""))
                } else {
                    row.change.changeid.to_string()
                };
                (name, row.builds.iter().map(|b| b.buildid).collect())
            })
            .collect()
    }

    fn names(page: &Page) -> Vec<String> {
        rows(page).into_iter().map(|(name, _)| name).collect()
    }

    #[test]
    fn changes_newest_first_with_all_builds_and_a_made_up_change() {
        let calls = serve(views());
        let page = page(&Selection::new(30)).unwrap();
        assert_eq!(
            rows(&page),
            [
                ("rf0".to_string(), vec![17]),
                ("5".into(), vec![16]),
                ("4".into(), vec![15, 14, 13]),
                ("3".into(), vec![12, 11]),
                ("2".into(), vec![10, 9, 8, 7, 6]),
                ("1".into(), vec![5, 4, 3, 2, 1]),
            ]
        );
        let made_up = &page.changes[0];
        assert!(made_up.made_up);
        assert_eq!(made_up.change.changeid, 0);
        assert_eq!(made_up.change.branch.as_deref(), Some("main"));
        assert_eq!(made_up.change.when_timestamp, T + 2990);
        assert_eq!(
            made_up.builds[0].properties.get_str("got_revision"),
            Some("f0")
        );
        assert_eq!(
            page.changes[4]
                .builds_of(1)
                .map(|b| b.buildid)
                .collect::<Vec<_>>(),
            [10, 6]
        );
        assert_eq!((page.older, page.newer), (None, None));
        assert_eq!(
            page.builder_ids().into_iter().collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6, 8, 9]
        );
        // changes, one per change for its builds, buildsets, then for the change-less one its
        // build requests and builds
        assert_eq!(calls.get(), 1 + 5 + 1 + 2);
    }

    #[test]
    fn pages_down_and_back_up() {
        serve(views());
        let first = page(&Selection::new(2)).unwrap();
        assert_eq!(names(&first), ["rf0", "5"]);
        let cursor = Cursor {
            changeid: Some(5),
            time: Some(T + 2400),
        };
        assert_eq!((first.older, first.newer), (Some(cursor), None));

        let second = page(&Selection::new(2).older_than(cursor)).unwrap();
        assert_eq!(names(&second), ["4", "3"]);
        assert_eq!(second.newer, Some(cursor));
        let third = page(&Selection::new(2).older_than(second.older.unwrap())).unwrap();
        assert_eq!(names(&third), ["2", "1"]);
        assert_eq!(third.older, None);

        // newer from the third page: the two rows above it, then the newest page
        let up = page(&Selection::new(2).newer_than(third.newer.unwrap())).unwrap();
        assert_eq!(names(&up), ["4", "3"]);
        assert_eq!(up.older, third.newer);
        let top = page(&Selection::new(2).newer_than(up.newer.unwrap())).unwrap();
        assert_eq!(top, first);
    }

    #[test]
    fn branch_filter_applies_to_made_up_changes_by_their_source_stamp() {
        serve(views());
        let main = page(&Selection::new(30).branch("main")).unwrap();
        assert_eq!(names(&main), ["rf0", "4", "2", "1"]);
        let release = page(&Selection::new(30).branch("release")).unwrap();
        assert_eq!(rows(&release), [("3".to_string(), vec![12, 11])]);
        let none = page(&Selection::new(30).branch("nope")).unwrap();
        assert!(none.changes.is_empty() && none.older.is_none());
    }

    #[test]
    fn builds_sharing_a_revision_collapse_and_codebases_split() {
        let mut history = views();
        // two more forced buildsets: one builds f0 again, one two codebases at once
        history.stamps.push((7, "main", None));
        history.buildsets.push((9, T + 3100, 7));
        history.buildsets.push((10, T + 3200, 7));
        history.builds.push((18, 5, 9, Some(2), Some(json!("f0"))));
        history
            .builds
            .push((19, 1, 10, None, Some(json!({"": "aa", "lib": "bb"}))));
        // a later rebuild of change 1 (its own source stamp): not made up, even on a page
        // that does not show change 1
        history.buildsets.push((11, T + 3300, 1));
        history.builds.push((20, 3, 11, Some(0), None));
        // a forced build of revision d4 on a source stamp of its own, without got_revision:
        // made up from the source stamp's revision, placed by time between changes 1 and 2
        history.stamps.push((8, "main", Some("d4")));
        history.buildsets.push((12, T + 50, 8));
        history.builds.push((21, 4, 12, Some(2), None));
        let calls = serve(history);
        let page = page(&Selection::new(30)).unwrap();
        assert_eq!(
            names(&page),
            ["raa", "rbb", "rf0", "5", "4", "3", "2", "rd4", "1"]
        );
        assert_eq!(
            rows(&page)[..3],
            [
                ("raa".to_string(), vec![19]),
                ("rbb".into(), vec![19]),
                ("rf0".into(), vec![18, 17]),
            ]
        );
        assert_eq!(
            page.changes[2].change.when_timestamp,
            T + 3100,
            "its newest buildset"
        );
        assert_eq!(page.changes[2].change.codebase, "");
        assert_eq!(page.changes[8].builds[0].buildid, 20);
        assert_eq!(page.changes[7].builds[0].buildid, 21);
        calls.set(0);
        let short = super::page(&Selection::new(3)).unwrap();
        assert_eq!(names(&short), ["raa", "rbb", "rf0"]);
        // changes, buildsets, the changes of unknown source stamps, build requests, builds;
        // no change is shown, so no builds of changes are read
        assert_eq!(calls.get(), 5);
    }

    #[test]
    fn made_up_changes_page_like_real_ones() {
        // no change source at all: forced builds only, one revision each
        let mut history = History {
            changes: vec![],
            stamps: vec![(1, "main", None)],
            buildsets: vec![],
            builds: vec![],
        };
        for i in 1..=5 {
            history.buildsets.push((i, T + i * 100, 1));
            history
                .builds
                .push((i, 1, i, Some(0), Some(json!(format!("v{i}")))));
        }
        serve(history);
        let first = page(&Selection::new(2)).unwrap();
        assert_eq!(names(&first), ["rv5", "rv4"]);
        let second = page(&Selection::new(2).older_than(first.older.unwrap())).unwrap();
        assert_eq!(names(&second), ["rv3", "rv2"]);
        let third = page(&Selection::new(2).older_than(second.older.unwrap())).unwrap();
        assert_eq!(names(&third), ["rv1"]);
        assert_eq!(third.older, None);
        let back = page(&Selection::new(2).newer_than(third.newer.unwrap())).unwrap();
        assert_eq!((names(&back), back.older), (names(&second), second.older));
    }

    #[test]
    fn a_page_ends_early_when_its_time_range_has_too_many_buildsets() {
        // 40 changes 100 s apart, each with 20 buildsets (say, one per builder)
        let mut history = History {
            changes: vec![],
            stamps: vec![],
            buildsets: vec![],
            builds: vec![],
        };
        for c in 1..=40 {
            history.changes.push((c, "main", "r", T + c * 100, c));
            history.stamps.push((c, "main", Some("r")));
            for k in 0..20 {
                let bsid = c * 100 + k;
                history.buildsets.push((bsid, T + c * 100 + 1 + k, c));
                history.builds.push((bsid, k, bsid, Some(0), None));
            }
        }
        serve(history);
        let mut seen = Vec::new();
        let mut selection = Selection::new(30);
        let mut pages = 0;
        loop {
            let page = page(&selection).unwrap();
            pages += 1;
            assert!(page.changes.iter().all(|row| row.builds.len() == 20));
            let ids: Vec<i64> = page.changes.iter().map(|r| r.change.changeid).collect();
            if pages == 1 {
                // the 500 newest buildsets are those of changes 40 to 16: the page ends there
                assert_eq!(ids, (16..=40).rev().collect::<Vec<_>>());
            }
            seen.extend(ids);
            match page.older {
                Some(cursor) => selection = selection.older_than(cursor),
                None => break,
            }
        }
        assert_eq!(seen, (1..=40).rev().collect::<Vec<_>>());
        assert_eq!(pages, 2);
    }

    #[test]
    fn url_arguments() {
        let parse = |query: &str| Selection::from_request(&Request::get("/").with_query(query), 5);
        assert_eq!(parse("").unwrap(), Selection::new(5));
        assert_eq!(parse("changes=7&branch=").unwrap(), Selection::new(7));
        assert_eq!(
            parse("after=3&since=10").unwrap(),
            Selection::new(5).newer_than(Cursor {
                changeid: Some(3),
                time: Some(10)
            })
        );
        assert_eq!(
            parse("changes=abc").unwrap_err(),
            "invalid changes 'abc': expected a whole number from 1 to 200"
        );
        assert!(parse("changes=0").is_err() && parse("changes=201").is_err());
        assert_eq!(
            parse("before=x").unwrap_err(),
            "invalid before 'x': expected a changeid (a whole number, 0 or more)"
        );
        assert_eq!(
            parse("until=-1").unwrap_err(),
            "invalid until '-1': expected a time in seconds since 1970 (a whole number, 0 or more)"
        );
        assert_eq!(
            parse("before=1&since=2").unwrap_err(),
            "before/until and after/since cannot be combined"
        );
        assert_eq!(Selection::new(0).changes, 1);
        assert_eq!(Selection::new(1000).changes, MAX_CHANGES);
    }

    #[test]
    fn errors_of_the_data_api_pass_through() {
        testing::set_data(|_, _| Err(DataError::new(403, "not allowed")));
        assert_eq!(page(&Selection::new(3)).unwrap_err().code, 403);
    }
}
