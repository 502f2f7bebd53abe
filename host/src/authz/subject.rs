//! What a request is about, as far as the allow rules need to know: the builder, the build's
//! buildset (its branches, projects and `owner`), found from the path or from the entity itself
//! (a collection item, an event's message) with unchecked reads through the Data API.
//!
//! The relations looked up (a build's builder and request, a request's buildset, a buildset's
//! sourcestamps and owner, a builder's name) never change once written, so their answers are
//! kept in a bounded cache shared by every request: filtering a live event for a thousand
//! subscribers reads the database once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use crate::data::endpoints::{self, Endpoint, Kind, PathArgs};
use crate::data::{Answer, DataApi};

/// Entries kept by [`Lookups`] before it starts again from empty.
const CACHE_ENTRIES: usize = 20_000;

/// One lookup: filled once by whoever asks first; the others asking meanwhile wait for it.
type Slot = Arc<OnceCell<Option<Map<String, Value>>>>;

/// Cached answers to the lookups, by entity path (`builds/7`). Concurrent lookups of one path
/// (a thousand subscribers filtering the same event) read the database once.
#[derive(Debug, Default)]
pub(crate) struct Lookups(Mutex<HashMap<String, Slot>>);

impl Lookups {
    /// The fields of entity `path` the rules use (see [`kept_fields`]), read without checks.
    async fn entity(&self, data: &DataApi, path: &str) -> Option<Map<String, Value>> {
        let slot = {
            let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= CACHE_ENTRIES && !cache.contains_key(path) {
                cache.clear();
            }
            cache.entry(path.to_string()).or_default().clone()
        };
        let found = slot.get_or_init(|| read_kept(data, path)).await.clone();
        if found.is_none() {
            // What does not exist (yet), or could not be read, is asked again next time.
            let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if cache.get(path).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                cache.remove(path);
            }
        }
        found
    }
}

/// Reads entity `path` and keeps the fields the rules use.
async fn read_kept(data: &DataApi, path: &str) -> Option<Map<String, Value>> {
    match data.read(path, &[]).await {
        Ok(Answer::Items { mut items, .. }) if !items.is_empty() => {
            let mut item = items.swap_remove(0);
            let keep = kept_fields(path);
            item.retain(|k, _| keep.contains(&k.as_str()));
            Some(item)
        }
        Ok(_) => None,
        Err(err) if err.status == 404 => None,
        Err(err) => {
            tracing::warn!("authorization: cannot read {path}: {}", err.message);
            None
        }
    }
}

/// The fields kept of an entity read for the rules: only immutable ones.
fn kept_fields(path: &str) -> &'static [&'static str] {
    match path.split('/').next() {
        Some("builders") if !path.contains("/builds/") => &["builderid", "name"],
        Some("builds" | "builders") => &["buildid", "builderid", "buildrequestid"],
        Some("steps") => &["buildid"],
        Some("logs") => &["stepid"],
        Some("test_result_sets") => &["buildid"],
        Some("buildrequests") => &["builderid", "buildsetid"],
        // A buildset's properties (for `RolesFromOwner`), then the buildset itself.
        Some("buildsets") if path.ends_with("/properties") => &["owner"],
        Some("buildsets") => &["sourcestamps"],
        _ => &[],
    }
}

/// A build's or build request's context.
#[derive(Debug, Clone, Default)]
pub(crate) struct BuildContext {
    /// The builder's name.
    pub builder: Option<String>,
    /// The buildset's sourcestamps' branches.
    pub branches: Vec<String>,
    /// The buildset's sourcestamps' projects.
    pub projects: Vec<String>,
    /// The buildset's `owner` property.
    pub owner: Option<String>,
}

/// What one request (or one item of a collection, or one event) is about.
pub(crate) struct Subject<'a> {
    data: &'a DataApi,
    lookups: &'a Lookups,
    path: &'a str,
    /// The endpoint and arguments of `path`, resolved only when a matcher needs them (rules
    /// such as `AnyEndpointMatcher` decide without).
    resolved: OnceLock<Option<(&'static Endpoint, PathArgs)>>,
    /// The entity itself, when the caller has it.
    item: Option<&'a Map<String, Value>>,
    /// The JSON-RPC parameters of a control action.
    pub options: &'a Map<String, Value>,
    context: OnceCell<Option<Scope>>,
}

/// How far a subject reaches: a whole builder (its page, its list of builds) or one build
/// (or request) of it.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// A builder.
    Builder(Option<String>),
    /// A build or a build request; `None` when it does not exist.
    Build(Option<BuildContext>),
}

impl<'a> Subject<'a> {
    /// The subject of a request on `path` (below `/api/v2/`), optionally with the entity.
    pub(crate) fn new(
        data: &'a DataApi,
        lookups: &'a Lookups,
        path: &'a str,
        item: Option<&'a Map<String, Value>>,
        options: &'a Map<String, Value>,
    ) -> Self {
        Subject {
            data,
            lookups,
            path,
            resolved: OnceLock::new(),
            item,
            options,
            context: OnceCell::new(),
        }
    }

    fn resolved(&self) -> Option<&(&'static Endpoint, PathArgs)> {
        self.resolved
            .get_or_init(|| endpoints::resolve(self.path))
            .as_ref()
    }

    /// The endpoint the path names, if any.
    pub(crate) fn kind(&self) -> Option<Kind> {
        self.resolved().map(|(e, _)| e.kind)
    }

    /// The force scheduler a `forceschedulers/NAME` path names.
    pub(crate) fn scheduler_name(&self) -> Option<&str> {
        self.resolved()?.1.str("schedulername")
    }

    /// The Data API the lookups read (for the config's force schedulers).
    pub(crate) fn data(&self) -> &DataApi {
        self.data
    }

    /// The builder name of a builder id.
    pub(crate) async fn builder_name(&self, builderid: i64) -> Option<String> {
        let builder = self
            .lookups
            .entity(self.data, &format!("builders/{builderid}"))
            .await?;
        builder.get("name")?.as_str().map(str::to_string)
    }

    /// What the request is about, or `None` when it is about no builder or build.
    pub(crate) async fn scope(&self) -> Option<Scope> {
        self.context
            .get_or_init(|| async { self.find_scope().await })
            .await
            .clone()
    }

    async fn find_scope(&self) -> Option<Scope> {
        let (endpoint, args) = self.resolved()?;
        if let Some(item) = self.item {
            return self.scope_of_item(endpoint.rtype.plural, item).await;
        }
        use Kind as K;
        match endpoint.kind {
            K::Builder => Some(Scope::Builder(self.builder_of_path(args).await)),
            K::BuildRequest => Some(Scope::Build(
                self.request_context(args.int("buildrequestid")?).await,
            )),
            K::Builds
            | K::Build
            | K::BuildRequests
            | K::TriggeredBuilds
            | K::Changes
            | K::BuildDataList
            | K::BuildData
            | K::BuildDataValue
            | K::BuildProperties
            | K::BuildPropertyList
            | K::Steps
            | K::Step
            | K::Logs
            | K::Log
            | K::LogContents
            | K::LogRaw
            | K::LogRawInline
            | K::TestResultSets
            | K::TestResultSet
            | K::TestResults => {
                if let Some(brid) = args.int("buildrequestid") {
                    return Some(Scope::Build(self.request_context(brid).await));
                }
                let names_build = [
                    "buildid",
                    "build_number",
                    "stepid",
                    "logid",
                    "test_result_setid",
                ]
                .iter()
                .any(|a| args.has(a));
                if names_build {
                    let context = match self.build_of_path(args).await {
                        Some(id) => self.build_context(id).await,
                        None => None,
                    };
                    Some(Scope::Build(context))
                } else if args.has("builderid") || args.has("buildername") {
                    Some(Scope::Builder(self.builder_of_path(args).await))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// The scope of an entity in hand: a build, step, log, build request, builder or test
    /// result set (by its type's plural name).
    async fn scope_of_item(&self, plural: &str, item: &Map<String, Value>) -> Option<Scope> {
        let int = |field: &str| item.get(field).and_then(Value::as_i64);
        match plural {
            "builders" => Some(Scope::Builder(
                item.get("name").and_then(Value::as_str).map(str::to_string),
            )),
            "builds" => Some(Scope::Build(
                self.context_of_request(int("builderid"), int("buildrequestid"))
                    .await,
            )),
            "buildrequests" => Some(Scope::Build(
                self.context_of_buildset(int("builderid"), int("buildsetid"))
                    .await,
            )),
            "steps" | "test_result_sets" => Some(Scope::Build(match int("buildid") {
                Some(id) => self.build_context(id).await,
                None => None,
            })),
            "logs" => {
                let step = self
                    .lookups
                    .entity(self.data, &format!("steps/{}", int("stepid")?))
                    .await?;
                let buildid = step.get("buildid").and_then(Value::as_i64)?;
                Some(Scope::Build(self.build_context(buildid).await))
            }
            _ => None,
        }
    }

    async fn builder_of_path(&self, args: &PathArgs) -> Option<String> {
        match args.int("builderid") {
            Some(id) => self.builder_name(id).await,
            None => args.str("buildername").map(str::to_string),
        }
    }

    /// The build a path is under: by id, by builder and number, or through a step, log or
    /// test result set.
    async fn build_of_path(&self, args: &PathArgs) -> Option<i64> {
        if let Some(id) = args.int("buildid") {
            return Some(id);
        }
        if let Some(number) = args.int("build_number") {
            let builder = match args.int("builderid") {
                Some(id) => id.to_string(),
                None => args.str("buildername")?.to_string(),
            };
            let build = self
                .lookups
                .entity(self.data, &format!("builders/{builder}/builds/{number}"))
                .await?;
            return build.get("buildid").and_then(Value::as_i64);
        }
        let field_of = |path: String, field: &'static str| async move {
            let entity = self.lookups.entity(self.data, &path).await?;
            entity.get(field).and_then(Value::as_i64)
        };
        let stepid = match (args.int("stepid"), args.int("logid")) {
            (Some(id), _) => Some(id),
            (None, Some(logid)) => field_of(format!("logs/{logid}"), "stepid").await,
            (None, None) => None,
        };
        if let Some(stepid) = stepid {
            return field_of(format!("steps/{stepid}"), "buildid").await;
        }
        let set = args.int("test_result_setid")?;
        field_of(format!("test_result_sets/{set}"), "buildid").await
    }

    async fn build_context(&self, buildid: i64) -> Option<BuildContext> {
        let build = self
            .lookups
            .entity(self.data, &format!("builds/{buildid}"))
            .await?;
        let int = |field: &str| build.get(field).and_then(Value::as_i64);
        self.context_of_request(int("builderid"), int("buildrequestid"))
            .await
    }

    async fn request_context(&self, brid: i64) -> Option<BuildContext> {
        let request = self
            .lookups
            .entity(self.data, &format!("buildrequests/{brid}"))
            .await?;
        let int = |field: &str| request.get(field).and_then(Value::as_i64);
        self.context_of_buildset(int("builderid"), int("buildsetid"))
            .await
    }

    async fn context_of_request(
        &self,
        builderid: Option<i64>,
        brid: Option<i64>,
    ) -> Option<BuildContext> {
        let buildsetid = match brid {
            Some(brid) => self
                .lookups
                .entity(self.data, &format!("buildrequests/{brid}"))
                .await
                .and_then(|r| r.get("buildsetid").and_then(Value::as_i64)),
            None => None,
        };
        self.context_of_buildset(builderid, buildsetid).await
    }

    async fn context_of_buildset(
        &self,
        builderid: Option<i64>,
        buildsetid: Option<i64>,
    ) -> Option<BuildContext> {
        let mut context = BuildContext::default();
        if let Some(id) = builderid {
            context.builder = self.builder_name(id).await;
        }
        if let Some(bsid) = buildsetid {
            if let Some(buildset) = self
                .lookups
                .entity(self.data, &format!("buildsets/{bsid}"))
                .await
            {
                let stamps = buildset.get("sourcestamps").and_then(Value::as_array);
                for stamp in stamps.into_iter().flatten() {
                    let text = |f: &str| stamp.get(f).and_then(Value::as_str).map(str::to_string);
                    context.branches.extend(text("branch"));
                    context.projects.extend(text("project"));
                }
            }
            context.owner = self.owner_of(bsid).await;
        }
        Some(context)
    }

    /// The buildset's `owner` property (its value), as Buildbot's `RolesFromOwner` reads it.
    async fn owner_of(&self, bsid: i64) -> Option<String> {
        let props = self
            .lookups
            .entity(self.data, &format!("buildsets/{bsid}/properties"))
            .await?;
        let owner = props.get("owner")?.as_array()?.first()?;
        owner.as_str().map(str::to_string)
    }
}
