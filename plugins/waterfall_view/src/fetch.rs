//! The page's Data API reads. Each asks only for the fields the page shows, and their number
//! is fixed except for the steps, which cost one read per build and are capped by the caller,
//! and a tag filter's scan (at most [`SCAN_READS`] more per part of the page).

use std::collections::{BTreeSet, HashMap, HashSet};

use buildbot_plugin_sdk::data::{self, DataError, Op, Query};
use buildbot_plugin_sdk::models::{Build, BuildRequest, BuildSet, Builder, Step};

use crate::options::{Args, Cursor};

/// The build fields a page reads.
pub const BUILD_FIELDS: [&str; 8] = [
    "buildid",
    "builderid",
    "number",
    "buildrequestid",
    "started_at",
    "complete_at",
    "results",
    "state_string",
];

/// The builder fields a page reads.
pub const BUILDER_FIELDS: [&str; 3] = ["builderid", "name", "tags"];

/// The step fields a page reads.
/// (`hidden` because the read filters on it, and the Data API filters only on selected fields.)
pub const STEP_FIELDS: [&str; 6] = [
    "number",
    "name",
    "complete",
    "results",
    "state_string",
    "hidden",
];

/// A page of builds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BuildPage {
    /// The builds, newest (highest id) first.
    pub builds: Vec<Build>,
    /// Whether the page is the newest one.
    pub latest: bool,
    /// Whether there are builds with smaller ids (of the same builders).
    pub older: bool,
    /// Whether there are builds with larger ids.
    pub newer: bool,
}

/// Every builder, by name.
pub fn all_builders() -> Result<Vec<Builder>, DataError> {
    data::list(
        "builders",
        &Query::new().fields(BUILDER_FIELDS).order("name").limit(-1),
    )
}

/// The builders with these ids.
pub fn builders_by_id(ids: &BTreeSet<i64>) -> Result<Vec<Builder>, DataError> {
    let query = ids
        .iter()
        .fold(Query::new(), |q, id| q.eq("builderid", id))
        .fields(BUILDER_FIELDS)
        .limit(ids.len() as i64);
    data::list("builders", &query)
}

/// The builders a page is limited to (by a tag filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Only {
    ids: Vec<i64>,
    set: HashSet<i64>,
    /// Whether they are many among all builders: then the newest builds are scanned in id
    /// order and sorted out here, which SQLite does far faster than the `builderid IN (...)`
    /// query, whose cost grows with all the builds of those builders.
    scan: bool,
}

/// A tag filter scans when its builders are at least this fraction (1 / n) of all builders.
pub const SCAN_FRACTION: usize = 5;
/// Builds per scanning read.
pub const SCAN_CHUNK: usize = 1000;
/// Scanning reads per page part before the rest is read with the builder filter.
pub const SCAN_READS: usize = 2;

impl Only {
    /// The builders `ids` among `total` builders.
    pub fn new(ids: Vec<i64>, total: usize) -> Only {
        Only {
            scan: ids.len() * SCAN_FRACTION >= total,
            set: ids.iter().copied().collect(),
            ids,
        }
    }
}

/// The page of builds at `args.cursor`, of the builders `only` (all when `None`).
pub fn builds(args: &Args, only: Option<&Only>) -> Result<BuildPage, DataError> {
    let limit = args.limit as usize;
    let latest = || -> Result<BuildPage, DataError> {
        let mut builds = read(only, None, true, limit + 1)?;
        let older = builds.len() > limit;
        builds.truncate(limit);
        Ok(BuildPage {
            builds,
            latest: true,
            older,
            newer: false,
        })
    };
    match args.cursor {
        Cursor::Latest => latest(),
        Cursor::Before(id) => {
            let mut builds = read(only, Some((Op::Lt, id)), true, limit + 1)?;
            let older = builds.len() > limit;
            builds.truncate(limit);
            let newer = !read(only, Some((Op::Ge, id)), false, 1)?.is_empty();
            Ok(BuildPage {
                builds,
                latest: false,
                older,
                newer,
            })
        }
        Cursor::After(id) => {
            let mut builds = read(only, Some((Op::Gt, id)), false, limit + 1)?;
            if builds.len() <= limit {
                // the newest builds: show a full page of them
                return latest();
            }
            builds.truncate(limit);
            builds.reverse();
            let older = !read(only, Some((Op::Le, id)), true, 1)?.is_empty();
            Ok(BuildPage {
                builds,
                latest: false,
                older,
                newer: true,
            })
        }
    }
}

/// At most `want` builds of the builders `only`, by id from `bound` on, newest first when
/// `descending`.
fn read(
    only: Option<&Only>,
    bound: Option<(Op, i64)>,
    descending: bool,
    want: usize,
) -> Result<Vec<Build>, DataError> {
    let order = if descending { "-buildid" } else { "buildid" };
    let bounded = |query: Query, bound: Option<(Op, i64)>| match bound {
        Some((op, id)) => query.filter("buildid", op, id),
        None => query,
    };
    let Some(scanned) = only.filter(|only| only.scan) else {
        let query = match only {
            Some(only) => only
                .ids
                .iter()
                .fold(Query::new(), |q, id| q.eq("builderid", id)),
            None => Query::new(),
        };
        let query = bounded(query.fields(BUILD_FIELDS), bound);
        return data::list("builds", &query.order(order).limit(want as i64));
    };
    // scan the ids, then read the builds that belong
    let mut picked: Vec<i64> = Vec::new();
    let mut bound = bound;
    let mut finished = false;
    for _ in 0..SCAN_READS {
        let query = bounded(Query::new().fields(["buildid", "builderid"]), bound);
        let chunk: Vec<Build> = data::list("builds", &query.order(order).limit(SCAN_CHUNK as i64))?;
        finished = chunk.len() < SCAN_CHUNK;
        if let Some(last) = chunk.last() {
            bound = Some((if descending { Op::Lt } else { Op::Gt }, last.buildid));
        }
        picked.extend(
            chunk
                .iter()
                .filter(|b| scanned.set.contains(&b.builderid))
                .map(|b| b.buildid),
        );
        if picked.len() >= want || finished {
            break;
        }
    }
    picked.truncate(want);
    let mut builds: Vec<Build> = if picked.is_empty() {
        Vec::new()
    } else {
        let query = picked
            .iter()
            .fold(Query::new(), |q, id| q.eq("buildid", id));
        data::list(
            "builds",
            &query
                .fields(BUILD_FIELDS)
                .order(order)
                .limit(picked.len() as i64),
        )?
    };
    if builds.len() < want && !finished {
        let indexed = Only {
            scan: false,
            ..scanned.clone()
        };
        builds.extend(read(
            Some(&indexed),
            bound,
            descending,
            want - builds.len(),
        )?);
    }
    Ok(builds)
}

/// What build requests were scheduled with: for each build request id, its buildset and that
/// buildset's source stamps. Immutable once the request exists, so callers may keep it.
pub type Origins = HashMap<i64, (i64, Vec<i64>)>;

/// The origins of these build requests, in two reads: the requests (for their buildsets),
/// then those buildsets (for their source stamps).
pub fn origins(requestids: &BTreeSet<i64>) -> Result<Origins, DataError> {
    if requestids.is_empty() {
        return Ok(Origins::new());
    }
    let query = requestids
        .iter()
        .fold(Query::new(), |q, id| q.eq("buildrequestid", id))
        .fields(["buildrequestid", "buildsetid"])
        .limit(requestids.len() as i64);
    let requests: Vec<BuildRequest> = data::list("buildrequests", &query)?;
    let bsids: BTreeSet<i64> = requests.iter().map(|r| r.buildsetid).collect();
    let buildsets: Vec<BuildSet> = if bsids.is_empty() {
        Vec::new()
    } else {
        let query = bsids
            .iter()
            .fold(Query::new(), |q, id| q.eq("bsid", id))
            .fields(["bsid", "sourcestamps"])
            .limit(bsids.len() as i64);
        data::list("buildsets", &query)?
    };
    let stamps_of: HashMap<i64, Vec<i64>> = buildsets
        .into_iter()
        .map(|bs| (bs.bsid, bs.sourcestamps.iter().map(|ss| ss.ssid).collect()))
        .collect();
    Ok(requests
        .into_iter()
        .map(|r| {
            let stamps = stamps_of.get(&r.buildsetid).cloned().unwrap_or_default();
            (r.buildrequestid, (r.buildsetid, stamps))
        })
        .collect())
}

/// The first `count` visible steps of build `buildid`, in order.
pub fn steps(buildid: i64, count: i64) -> Result<Vec<Step>, DataError> {
    data::list(
        &format!("builds/{buildid}/steps"),
        &Query::new()
            .eq("hidden", false)
            .fields(STEP_FIELDS)
            .order("number")
            .limit(count),
    )
}
