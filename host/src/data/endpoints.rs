//! The Data API's endpoints: Buildbot's path patterns (`builds/n:buildid/steps/i:step_name`), which
//! resource each returns, and matching a request path to one of them.

use super::types::{self, ResourceType};

/// What an endpoint does; each variant is one Buildbot endpoint class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Kind {
    Builders,
    Builder,
    ForceSchedulers,
    ForceScheduler,
    BuildRequests,
    BuildRequest,
    Builds,
    Build,
    TriggeredBuilds,
    Changes,
    Change,
    BuildDataList,
    BuildData,
    BuildDataValue,
    BuildProperties,
    BuildPropertyList,
    BuildsetProperties,
    BuildsetPropertyList,
    ChangePropertyList,
    Steps,
    Step,
    Logs,
    Log,
    LogContents,
    LogRaw,
    LogRawInline,
    Masters,
    Master,
    TestResultSets,
    TestResultSet,
    TestResults,
    Workers,
    Worker,
    Buildsets,
    Buildset,
    Sourcestamps,
    Sourcestamp,
    Changesources,
    Changesource,
    Schedulers,
    Scheduler,
    Projects,
    Project,
    Codebases,
    Codebase,
    Branches,
    Branch,
    Commits,
    Commit,
    CommitGraph,
    RootLinks,
    Spec,
}

/// One endpoint: its kind, resource type, whether it is a collection, and its path patterns in
/// Buildbot's order (as printed in "not found" errors).
#[derive(Debug)]
pub struct Endpoint {
    /// What it does.
    pub kind: Kind,
    /// The resource type it returns.
    pub rtype: &'static ResourceType,
    /// Collections answer with `meta.total` and accept filters.
    pub collection: bool,
    /// Path patterns.
    pub patterns: &'static [&'static str],
}

macro_rules! endpoints {
    ($($kind:ident $rtype:ident $coll:literal [$($pattern:literal),* $(,)?];)*) => {
        /// Every endpoint of the Data API.
        pub static ENDPOINTS: &[Endpoint] = &[
            $(Endpoint { kind: Kind::$kind, rtype: &types::$rtype, collection: $coll, patterns: &[$($pattern),*] },)*
        ];
    };
}

endpoints! {
    RootLinks ROOTLINK true [""];
    Spec SPEC true ["application.spec"];
    Builders BUILDER true ["builders", "masters/n:masterid/builders", "projects/n:projectid/builders", "workers/n:workerid/builders"];
    Builder BUILDER false ["builders/n:builderid", "builders/s:buildername", "masters/n:masterid/builders/n:builderid"];
    ForceSchedulers FORCESCHEDULER true ["forceschedulers", "builders/:builderid/forceschedulers"];
    ForceScheduler FORCESCHEDULER false ["forceschedulers/i:schedulername"];
    BuildRequests BUILDREQUEST true ["buildrequests", "builders/n:builderid/buildrequests"];
    BuildRequest BUILDREQUEST false ["buildrequests/n:buildrequestid"];
    Builds BUILD true ["builds", "builders/n:builderid/builds", "builders/s:buildername/builds", "buildrequests/n:buildrequestid/builds", "changes/n:changeid/builds", "workers/n:workerid/builds"];
    Build BUILD false ["builds/n:buildid", "builders/n:builderid/builds/n:build_number", "builders/s:buildername/builds/n:build_number"];
    TriggeredBuilds BUILD true ["builds/n:buildid/triggered_builds"];
    Changes CHANGE true ["changes", "builds/n:buildid/changes", "builders/n:builderid/builds/n:build_number/changes", "sourcestamps/n:ssid/changes"];
    Change CHANGE false ["changes/n:changeid"];
    BuildDataList BUILD_DATA true ["builds/n:buildid/data", "builders/n:builderid/builds/n:build_number/data", "builders/s:buildername/builds/n:build_number/data"];
    BuildData BUILD_DATA false ["builds/n:buildid/data/i:name", "builders/n:builderid/builds/n:build_number/data/i:name", "builders/s:buildername/builds/n:build_number/data/i:name"];
    BuildDataValue BUILD_DATA false ["builds/n:buildid/data/i:name/value", "builders/n:builderid/builds/n:build_number/data/i:name/value", "builders/s:buildername/builds/n:build_number/data/i:name/value"];
    BuildProperties SOURCEDPROPERTIES false ["builds/n:buildid/properties", "builders/n:builderid/builds/n:build_number/properties"];
    BuildPropertyList PROPERTY true ["builds/n:buildid/property_list"];
    BuildsetProperties SOURCEDPROPERTIES false ["buildsets/n:bsid/properties"];
    BuildsetPropertyList PROPERTY true ["buildsets/n:bsid/properties_list"];
    ChangePropertyList PROPERTY true ["changes/n:changeid/properties_list"];
    Steps STEP true ["builds/n:buildid/steps", "builders/n:builderid/builds/n:build_number/steps", "builders/s:buildername/builds/n:build_number/steps"];
    Step STEP false ["steps/n:stepid", "builds/n:buildid/steps/i:step_name", "builds/n:buildid/steps/n:step_number", "builders/n:builderid/builds/n:build_number/steps/i:step_name", "builders/n:builderid/builds/n:build_number/steps/n:step_number", "builders/s:buildername/builds/n:build_number/steps/i:step_name", "builders/s:buildername/builds/n:build_number/steps/n:step_number"];
    Logs LOG true ["steps/n:stepid/logs", "builds/n:buildid/steps/i:step_name/logs", "builds/n:buildid/steps/n:step_number/logs", "builders/n:builderid/builds/n:build_number/steps/i:step_name/logs", "builders/n:builderid/builds/n:build_number/steps/n:step_number/logs", "builders/s:buildername/builds/n:build_number/steps/i:step_name/logs", "builders/s:buildername/builds/n:build_number/steps/n:step_number/logs"];
    Log LOG false ["logs/n:logid", "steps/n:stepid/logs/i:log_slug", "builds/n:buildid/steps/i:step_name/logs/i:log_slug", "builds/n:buildid/steps/n:step_number/logs/i:log_slug", "builders/n:builderid/builds/n:build_number/steps/i:step_name/logs/i:log_slug", "builders/n:builderid/builds/n:build_number/steps/n:step_number/logs/i:log_slug", "builders/s:buildername/builds/n:build_number/steps/i:step_name/logs/i:log_slug", "builders/s:buildername/builds/n:build_number/steps/n:step_number/logs/i:log_slug"];
    LogContents LOGCHUNK false ["logchunks", "logs/n:logid/contents", "steps/n:stepid/logs/i:log_slug/contents", "builds/n:buildid/steps/i:step_name/logs/i:log_slug/contents", "builds/n:buildid/steps/n:step_number/logs/i:log_slug/contents", "builders/n:builderid/builds/n:build_number/steps/i:step_name/logs/i:log_slug/contents", "builders/n:builderid/builds/n:build_number/steps/n:step_number/logs/i:log_slug/contents"];
    LogRaw LOGCHUNK false ["logs/n:logid/raw", "steps/n:stepid/logs/i:log_slug/raw", "builds/n:buildid/steps/i:step_name/logs/i:log_slug/raw", "builds/n:buildid/steps/n:step_number/logs/i:log_slug/raw", "builders/n:builderid/builds/n:build_number/steps/i:step_name/logs/i:log_slug/raw", "builders/n:builderid/builds/n:build_number/steps/n:step_number/logs/i:log_slug/raw"];
    LogRawInline LOGCHUNK false ["logs/n:logid/raw_inline", "steps/n:stepid/logs/i:log_slug/raw_inline", "builds/n:buildid/steps/i:step_name/logs/i:log_slug/raw_inline", "builds/n:buildid/steps/n:step_number/logs/i:log_slug/raw_inline", "builders/n:builderid/builds/n:build_number/steps/i:step_name/logs/i:log_slug/raw_inline", "builders/n:builderid/builds/n:build_number/steps/n:step_number/logs/i:log_slug/raw_inline"];
    Masters MASTER true ["masters", "builders/n:builderid/masters"];
    Master MASTER false ["masters/n:masterid", "builders/n:builderid/masters/n:masterid"];
    TestResultSets TEST_RESULT_SET true ["test_result_sets", "builders/n:builderid/test_result_sets", "builders/s:buildername/test_result_sets", "builds/n:buildid/test_result_sets", "steps/n:stepid/test_result_sets", "codebases/n:codebaseid/commit_range/n:commitid1/n:commitid2/test_result_sets"];
    TestResultSet TEST_RESULT_SET false ["test_result_sets/n:test_result_setid"];
    TestResults TEST_RESULT true ["test_result_sets/n:test_result_setid/results"];
    Workers WORKER true ["workers", "builders/n:builderid/workers", "masters/n:masterid/builders/n:builderid/workers", "masters/n:masterid/workers"];
    Worker WORKER false ["workers/i:name", "workers/n:workerid", "builders/n:builderid/workers/i:name", "builders/n:builderid/workers/n:workerid", "masters/n:masterid/builders/n:builderid/workers/i:name", "masters/n:masterid/builders/n:builderid/workers/n:workerid", "masters/n:masterid/workers/i:name", "masters/n:masterid/workers/n:workerid"];
    Buildsets BUILDSET true ["buildsets"];
    Buildset BUILDSET false ["buildsets/n:bsid"];
    Sourcestamps SOURCESTAMP true ["sourcestamps", "buildsets/:buildsetid/sourcestamps"];
    Sourcestamp SOURCESTAMP false ["sourcestamps/n:ssid"];
    Changesources CHANGESOURCE true ["changesources", "masters/n:masterid/changesources"];
    Changesource CHANGESOURCE false ["changesources/n:changesourceid", "masters/n:masterid/changesources/n:changesourceid"];
    Schedulers SCHEDULER true ["schedulers", "masters/n:masterid/schedulers"];
    Scheduler SCHEDULER false ["schedulers/n:schedulerid", "masters/n:masterid/schedulers/n:schedulerid"];
    Projects PROJECT true ["projects"];
    Project PROJECT false ["projects/n:projectid", "projects/i:projectname"];
    Codebases CODEBASE true ["codebases"];
    Codebase CODEBASE false ["codebases/n:codebaseid", "projects/n:projectid/codebases/i:codebasename"];
    Branches BRANCH true ["codebases/n:codebaseid/branches"];
    Branch BRANCH false ["branches/n:branchid"];
    Commits COMMIT true ["codebases/n:codebaseid/commits"];
    Commit COMMIT false ["commits/n:commitid", "codebases/n:codebaseid/commits_by_revision/s:revision"];
    CommitGraph COMMIT_GRAPH false ["codebases/n:codebaseid/commit_range/n:commitid1/n:commitid2/commits_common_parent"];
}

/// A value taken from the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// From an `n:` segment.
    Int(i64),
    /// From an `i:`, `s:` or untyped segment.
    Str(String),
}

/// The values a matched path carries, in path order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathArgs(pub Vec<(&'static str, Arg)>);

impl PathArgs {
    /// An integer argument.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, a)| match a {
                Arg::Int(i) => Some(*i),
                Arg::Str(s) => s.parse().ok(),
            })
    }

    /// A string argument.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, a)| match a {
                Arg::Str(s) => Some(s.as_str()),
                Arg::Int(_) => None,
            })
    }

    /// Whether the path has this argument.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| *n == name)
    }

    /// Python's repr of the arguments dict, as in Buildbot's "not found" errors.
    pub fn python_repr(&self) -> String {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|(name, arg)| {
                let value = match arg {
                    Arg::Int(i) => i.to_string(),
                    Arg::Str(s) => super::query::py_str(s),
                };
                format!("'{name}': {value}")
            })
            .collect();
        format!("{{{}}}", items.join(", "))
    }
}

/// Whether a segment is a Buildbot identifier.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '-')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Finds the endpoint for a path (below `/api/v2/`). Literal segments win over numbers, numbers
/// over identifiers, identifiers over free strings, as in Buildbot.
pub fn resolve(path: &str) -> Option<(&'static Endpoint, PathArgs)> {
    let segments: Vec<&str> = if path.is_empty() {
        vec![]
    } else {
        path.split('/').collect()
    };
    let mut best: Option<(Vec<u8>, &'static Endpoint, PathArgs)> = None;
    for endpoint in ENDPOINTS {
        for pattern in endpoint.patterns {
            let parts: Vec<&'static str> = if pattern.is_empty() {
                vec![]
            } else {
                pattern.split('/').collect()
            };
            if parts.len() != segments.len() {
                continue;
            }
            if let Some((rank, args)) = match_pattern(&parts, &segments) {
                if best.as_ref().is_none_or(|(r, _, _)| rank < *r) {
                    best = Some((rank, endpoint, args));
                }
            }
        }
    }
    best.map(|(_, e, a)| (e, a))
}

fn match_pattern(parts: &[&'static str], segments: &[&str]) -> Option<(Vec<u8>, PathArgs)> {
    let mut rank = Vec::with_capacity(parts.len());
    let mut args = PathArgs::default();
    for (part, segment) in parts.iter().zip(segments) {
        match part.split_once(':') {
            None => {
                if part != segment {
                    return None;
                }
                rank.push(0);
            }
            Some((ty, name)) => {
                let arg = match ty {
                    "n" => {
                        let digits = segment.strip_prefix('-').unwrap_or(segment);
                        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                            return None;
                        }
                        rank.push(1);
                        Arg::Int(segment.parse().ok()?)
                    }
                    "i" => {
                        if !is_identifier(segment) {
                            return None;
                        }
                        rank.push(2);
                        Arg::Str(segment.to_string())
                    }
                    _ => {
                        if segment.is_empty() {
                            return None;
                        }
                        rank.push(3);
                        Arg::Str(segment.to_string())
                    }
                };
                args.0.push((name, arg));
            }
        }
    }
    Some((rank, args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_has_buildbots_138_paths() {
        let n: usize = ENDPOINTS.iter().map(|e| e.patterns.len()).sum();
        assert_eq!(n, 138);
    }

    #[test]
    fn numbers_win_over_names_and_bad_ids_do_not_match() {
        let (e, a) = resolve("builders/4").unwrap();
        assert_eq!((e.kind, a.int("builderid")), (Kind::Builder, Some(4)));
        let (e, a) = resolve("builders/linux-build/builds").unwrap();
        assert_eq!(
            (e.kind, a.str("buildername")),
            (Kind::Builds, Some("linux-build"))
        );
        let (e, a) = resolve("builds/10/steps/test").unwrap();
        assert_eq!((e.kind, a.str("step_name")), (Kind::Step, Some("test")));
        let (e, a) = resolve("builds/10/steps/3").unwrap();
        assert_eq!((e.kind, a.int("step_number")), (Kind::Step, Some(3)));
        assert!(resolve("builds/abc").is_none());
        assert!(resolve("builds/").is_none());
        assert!(resolve("nosuch").is_none());
        assert_eq!(resolve("").unwrap().0.kind, Kind::RootLinks);
        assert_eq!(a.python_repr(), "{'buildid': 10, 'step_number': 3}");
    }
}
