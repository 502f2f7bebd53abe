//! The page handlers: each reads what it shows through `DataApi::get` in a fixed number of
//! batched reads (never one read per row), then renders its template inside the shell. HTML and
//! link URLs from the database pass the UI's sanitiser first, so that custom templates get them
//! clean too.

use std::collections::{BTreeSet, HashMap};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, Response, StatusCode};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::controls::{self, Controls};
use super::log_search;
use super::page_error::PageError;
use super::{html, html_status, sanitize, shell, PageRequest, UiState, SETTINGS};
use crate::data::{Answer, ApiError};
use crate::identity::User;

type Item = Map<String, Value>;

/// What `home.html` shows in the shell.
#[derive(Debug, Serialize)]
struct HomePage {
    running: Vec<Item>,
    recent: Vec<Item>,
    pending: usize,
}

/// What `builders.html` shows in the shell.
#[derive(Debug, Serialize)]
struct BuildersPage {
    builders: Vec<Item>,
    tags: Vec<String>,
    all_tags: BTreeSet<String>,
    name: String,
    hidden_old: usize,
    all_shown: bool,
    fetch: i64,
}

/// What `builder.html` shows in the shell.
#[derive(Debug, Serialize)]
struct BuilderPage {
    builder: Item,
    builds: Vec<Item>,
    workers: Vec<Item>,
    pending: Vec<Item>,
    page: i64,
    has_next: bool,
    /// The force schedulers whose button this user gets.
    forceschedulers: Vec<Item>,
    /// What the force form's `username` field shows.
    force_username: String,
    /// The charts of the last `Builders.trendBuilds` builds (none before one has finished).
    trends: Option<super::trends::Trends>,
}

/// What `build.html` shows in the shell.
#[derive(Debug, Serialize)]
struct BuildPage {
    builder: Item,
    build: Item,
    steps: Vec<Item>,
    properties: Vec<Value>,
    changes: Vec<Item>,
    responsible: Vec<String>,
    worker: Option<Item>,
    buildrequest: Option<Item>,
    buildset: Option<Item>,
    next_exists: bool,
    /// Whether this user gets the Stop button (a running build).
    may_stop: bool,
    /// Whether this user gets the Rebuild button (a finished build).
    may_rebuild: bool,
}

/// What `log.html` shows in the shell.
#[derive(Debug, Serialize)]
struct LogPage {
    log: Item,
    step: Item,
    build: Item,
    builder: Item,
    lines: Vec<Value>,
    from: i64,
    shown_to: i64,
    page_lines: i64,
    last_page_from: i64,
    prev_from: i64,
    /// Whether the page offers "jump to first error" (a step that failed).
    error_jump: bool,
    /// The jump found no line that looks like an error.
    no_error: bool,
    /// The search form's fields, when the page shows a search instead of the log.
    search: Option<log_search::Query>,
    /// What the search found (none with a bad query).
    found: Option<log_search::Found>,
    /// Why the query cannot be searched with (a 400 page).
    search_error: Option<String>,
    max_matches: usize,
    max_pattern: usize,
}

/// What `workers.html` shows in the shell.
#[derive(Debug, Serialize)]
struct WorkersPage {
    workers: Vec<Item>,
    show_builders: bool,
}

/// What `changes.html` shows in the shell.
#[derive(Debug, Serialize)]
struct ChangesPage {
    changes: Vec<Item>,
    page: i64,
    has_next: bool,
}

/// What `pending.html` shows in the shell.
#[derive(Debug, Serialize)]
struct PendingPage {
    requests: Vec<Item>,
}

/// What `about.html` shows in the shell.
#[derive(Debug, Serialize)]
struct AboutPage {
    versions: Value,
    plugins: Vec<Value>,
    buildbot_url: String,
    templates: Vec<String>,
}

/// What `settings.html` shows in the shell.
#[derive(Debug, Serialize)]
struct SettingsPage {
    list: Vec<Value>,
    defaults: Map<String, Value>,
}
pub(super) type PageResult = Result<Response<Body>, PageError>;

/// Items of a Data API read (empty for a raw answer).
pub(super) async fn items(
    state: &UiState,
    user: &User,
    path: &str,
    args: &[(&str, String)],
) -> Result<Vec<Item>, ApiError> {
    let args: Vec<(String, String)> = args
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    match state.data.get(user, path, &args).await? {
        Answer::Items { items, .. } => Ok(items),
        Answer::Raw { .. } => Ok(Vec::new()),
    }
}

/// The single item of a Data API read, or the Data API's 404.
async fn one(
    state: &UiState,
    user: &User,
    path: &str,
    args: &[(&str, String)],
) -> Result<Item, ApiError> {
    items(state, user, path, args)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("no such resource: {path}")))
}

fn int(item: &Item, key: &str) -> i64 {
    item.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn setting_i64(settings: &Map<String, Value>, key: &str, default: i64, max: i64) -> i64 {
    settings
        .get(key)
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
        .unwrap_or(default)
        .clamp(1, max)
}

fn setting_bool(settings: &Map<String, Value>, key: &str) -> bool {
    settings
        .get(key)
        .is_some_and(|v| v.as_bool().unwrap_or_else(|| v.as_str() == Some("true")))
}

/// `builderid → name` for the given ids, in one read.
async fn builder_names(
    state: &UiState,
    user: &User,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, String>, ApiError> {
    let ids: BTreeSet<i64> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut args: Vec<(&str, String)> =
        ids.iter().map(|id| ("builderid", id.to_string())).collect();
    args.push(("field", "builderid".into()));
    args.push(("field", "name".into()));
    args.push(("limit", ids.len().to_string()));
    Ok(items(state, user, "builders", &args)
        .await?
        .into_iter()
        .map(|b| {
            (
                int(&b, "builderid"),
                b.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect())
}

/// A link URL from the database that is not `http`, `https` or relative becomes null: the page
/// shows its text without a link.
fn drop_unsafe_url(item: &mut Item, key: &str) {
    let unsafe_url = item
        .get(key)
        .and_then(Value::as_str)
        .is_some_and(|url| sanitize::link_url(url).is_none());
    if unsafe_url {
        item.insert(key.into(), Value::Null);
    }
}

/// HTML from the database (`description_html`), sanitised in place.
fn sanitize_html(item: &mut Item, key: &str) {
    if let Some(text) = item.get(key).and_then(Value::as_str) {
        let clean = sanitize::html(text);
        item.insert(key.into(), Value::String(clean));
    }
}

/// Adds `builder_name` to builds or requests.
fn name_builders(list: &mut [Item], names: &HashMap<i64, String>) {
    for item in list {
        let name = names
            .get(&int(item, "builderid"))
            .cloned()
            .unwrap_or_default();
        item.insert("builder_name".into(), Value::String(name));
    }
}

fn redirect(to: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, to)
        .body(Body::empty())
        .unwrap_or_default()
}

/// Pages `default_page` may name.
const PAGES: &[&str] = &[
    "builders",
    "workers",
    "changes",
    "pendingbuildrequests",
    "about",
    "settings",
];

/// `/`: `default_page` when set (a plugin view or a page), else recent activity.
pub(super) async fn home(State(state): State<UiState>, req: PageRequest) -> PageResult {
    if let Some(page) = state.config.www.default_page.as_deref() {
        let page = page.trim_matches('/');
        for plugin in [page.to_owned(), format!("{page}_view")] {
            if state.plugins.has(&plugin) {
                return Ok(redirect(&format!("{}views/{plugin}/", req.root)));
            }
        }
        if PAGES.contains(&page) {
            return Ok(redirect(&format!("{}{page}", req.root)));
        }
        if !page.is_empty() && page != "home" {
            tracing::debug!("default_page {page:?} names no enabled plugin or page");
        }
    }
    home_page(&state, &req).await
}

async fn home_page(state: &UiState, req: &PageRequest) -> PageResult {
    let settings = req.settings(&state.config);
    let limit = setting_i64(&settings, "Home.recentBuilds", 30, 1000);
    let mut running = items(
        state,
        &req.user,
        "builds",
        &[
            ("complete", "false".into()),
            ("order", "-buildid".into()),
            ("limit", "100".into()),
        ],
    )
    .await?;
    let mut recent = items(
        state,
        &req.user,
        "builds",
        &[
            ("complete", "true".into()),
            ("order", "-buildid".into()),
            ("limit", limit.to_string()),
        ],
    )
    .await?;
    let pending = items(
        state,
        &req.user,
        "buildrequests",
        &[
            ("claimed", "false".into()),
            ("complete", "false".into()),
            ("field", "buildrequestid".into()),
            ("field", "claimed".into()),
            ("field", "complete".into()),
            ("limit", "1000".into()),
        ],
    )
    .await?
    .len();
    let names = builder_names(
        state,
        &req.user,
        running
            .iter()
            .chain(recent.iter())
            .map(|b| int(b, "builderid")),
    )
    .await?;
    name_builders(&mut running, &names);
    name_builders(&mut recent, &names);
    let shell = shell(
        state,
        req,
        "home",
        "Home",
        &["builds/*/*".into(), "buildrequests/*/*".into()],
    );
    let body = HomePage {
        running,
        recent,
        pending,
    };
    Ok(html(state, "home.html", &shell, &body))
}

/// `/builders?tag=T&name=N`: every builder with its recent builds, in three reads.
pub(super) async fn builders(State(state): State<UiState>, req: PageRequest) -> PageResult {
    builders_page(&state, &req).await
}

/// The most builders one page lists.
const MAX_BUILDERS: usize = 20_000;

async fn builders_page(state: &UiState, req: &PageRequest) -> PageResult {
    let settings = req.settings(&state.config);
    let fetch = setting_i64(&settings, "Builders.buildFetchLimit", 200, 10_000);
    let show_old = setting_bool(&settings, "Builders.show_old_builders");
    let args = crate::data::query_args(&req.query);
    let tags: Vec<String> = args
        .iter()
        .filter(|(k, v)| k == "tag" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let name = req.arg("name").unwrap_or_default();
    let mut query: Vec<(&str, String)> = vec![
        ("order", "name".into()),
        ("limit", MAX_BUILDERS.to_string()),
        ("field", "builderid".into()),
        ("field", "name".into()),
        ("field", "masterids".into()),
        ("field", "tags".into()),
        ("field", "description".into()),
    ];
    for tag in &tags {
        query.push(("tags__contains", tag.clone()));
    }
    if !name.is_empty() {
        query.push(("name__contains", name.clone()));
    }
    let mut builders = items(state, &req.user, "builders", &query).await?;
    let all_shown = builders.len() < MAX_BUILDERS;
    let hidden_old = if show_old {
        0
    } else {
        let before = builders.len();
        builders.retain(|b| {
            b.get("masterids")
                .and_then(Value::as_array)
                .is_some_and(|m| !m.is_empty())
        });
        before - builders.len()
    };
    let recent = items(
        state,
        &req.user,
        "builds",
        &[
            ("order", "-buildid".into()),
            ("limit", fetch.to_string()),
            ("field", "buildid".into()),
            ("field", "number".into()),
            ("field", "builderid".into()),
            ("field", "results".into()),
            ("field", "complete".into()),
            ("field", "state_string".into()),
        ],
    )
    .await?;
    let mut by_builder: HashMap<i64, Vec<Value>> = HashMap::new();
    for build in recent {
        by_builder
            .entry(int(&build, "builderid"))
            .or_default()
            .push(Value::Object(build));
    }
    let mut all_tags = BTreeSet::new();
    for builder in &mut builders {
        if let Some(list) = builder.get("tags").and_then(Value::as_array) {
            all_tags.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        let builds = by_builder
            .remove(&int(builder, "builderid"))
            .unwrap_or_default();
        builder.insert("builds".into(), Value::Array(builds));
    }
    let shell = shell(state, req, "builders", "Builders", &["builds/*/*".into()]);
    let body = BuildersPage {
        builders,
        tags,
        all_tags,
        name,
        hidden_old,
        all_shown,
        fetch,
    };
    Ok(html(state, "builders.html", &shell, &body))
}

/// `/builders/<id>?page=N`: a builder's builds, newest first, paged.
pub(super) async fn builder(
    State(state): State<UiState>,
    Path(builderid): Path<i64>,
    req: PageRequest,
) -> PageResult {
    builder_page(&state, &req, builderid).await
}

async fn builder_page(state: &UiState, req: &PageRequest, builderid: i64) -> PageResult {
    let settings = req.settings(&state.config);
    let size = setting_i64(&settings, "Builders.page_size", 30, 1000);
    let page = req
        .arg("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(0)
        .max(0);
    let mut builder = one(state, &req.user, &format!("builders/{builderid}"), &[]).await?;
    sanitize_html(&mut builder, "description_html");
    let mut builds = items(
        state,
        &req.user,
        &format!("builders/{builderid}/builds"),
        &[
            ("order", "-number".into()),
            ("limit", (size + 1).to_string()),
            ("offset", (page * size).to_string()),
            ("property", "owners".into()),
            ("property", "branch".into()),
            ("property", "got_revision".into()),
        ],
    )
    .await?;
    let has_next = builds.len() as i64 > size;
    builds.truncate(size as usize);
    let worker_ids: BTreeSet<i64> = builds.iter().map(|b| int(b, "workerid")).collect();
    let workers = items(
        state,
        &req.user,
        &format!("builders/{builderid}/workers"),
        &[("field", "workerid".into()), ("field", "name".into())],
    )
    .await?;
    let mut worker_names: HashMap<i64, Value> = workers
        .iter()
        .map(|w| {
            (
                int(w, "workerid"),
                w.get("name").cloned().unwrap_or_default(),
            )
        })
        .collect();
    let missing: Vec<i64> = worker_ids
        .iter()
        .filter(|id| !worker_names.contains_key(id))
        .copied()
        .collect();
    if !missing.is_empty() {
        let mut args: Vec<(&str, String)> = missing
            .iter()
            .map(|id| ("workerid", id.to_string()))
            .collect();
        args.push(("field", "workerid".into()));
        args.push(("field", "name".into()));
        for w in items(state, &req.user, "workers", &args).await? {
            worker_names.insert(
                int(&w, "workerid"),
                w.get("name").cloned().unwrap_or_default(),
            );
        }
    }
    for build in &mut builds {
        let name = worker_names
            .get(&int(build, "workerid"))
            .cloned()
            .unwrap_or_default();
        build.insert("worker_name".into(), name);
    }
    let mut pending = items(
        state,
        &req.user,
        "buildrequests",
        &[
            ("builderid", builderid.to_string()),
            ("claimed", "false".into()),
            ("complete", "false".into()),
            ("order", "submitted_at".into()),
            ("limit", "100".into()),
        ],
    )
    .await?;
    let title = builder
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("builder")
        .to_owned();
    let mut shell = shell(
        state,
        req,
        "builders",
        &title,
        &["builds/*/*".into(), "buildrequests/*/*".into()],
    );
    shell.live_filter = Some(json!({"builderid": builderid}));
    let controls = Controls::new(state, &req.user);
    controls.mark_cancel(&mut pending).await;
    let schedulers = items(
        state,
        &req.user,
        &format!("builders/{builderid}/forceschedulers"),
        &[],
    )
    .await?;
    let trend_size = setting_i64(&settings, "Builders.trendBuilds", 100, 1000);
    let recent = items(
        state,
        &req.user,
        &format!("builders/{builderid}/builds"),
        &[
            ("order", "-number".into()),
            ("limit", trend_size.to_string()),
            ("field", "number".into()),
            ("field", "results".into()),
            ("field", "complete".into()),
            ("field", "started_at".into()),
            ("field", "complete_at".into()),
        ],
    )
    .await?;
    let body = BuilderPage {
        trends: super::trends::trends(&recent),
        builder,
        builds,
        workers,
        pending,
        page,
        has_next,
        forceschedulers: controls.force_schedulers(builderid, schedulers).await,
        force_username: controls::force_username(&req.user),
    };
    Ok(html(state, "builder.html", &shell, &body))
}

/// `/builders/<id>/builds/<number>`: steps with logs, properties, changes, responsible users.
pub(super) async fn build(
    State(state): State<UiState>,
    Path((builderid, number)): Path<(i64, i64)>,
    req: PageRequest,
) -> PageResult {
    build_page(&state, &req, builderid, number).await
}

async fn build_page(state: &UiState, req: &PageRequest, builderid: i64, number: i64) -> PageResult {
    let build = one(
        state,
        &req.user,
        &format!("builders/{builderid}/builds/{number}"),
        &[("property", "*".into())],
    )
    .await?;
    let buildid = int(&build, "buildid");
    let builder = one(state, &req.user, &format!("builders/{builderid}"), &[]).await?;
    let mut steps = items(
        state,
        &req.user,
        &format!("builds/{buildid}/steps"),
        &[("order", "number".into()), ("limit", "100000".into())],
    )
    .await?;
    // One read per step for its logs (the Data API has no logs collection across steps); run
    // them together.
    let reads = steps.iter().map(|step| {
        let path = format!("steps/{}/logs", int(step, "stepid"));
        async move { items(state, &req.user, &path, &[("limit", "1000".into())]).await }
    });
    let logs = futures_util::future::join_all(reads).await;
    for (step, logs) in steps.iter_mut().zip(logs) {
        step.insert("logs".into(), json!(logs?));
        for url in step
            .get_mut("urls")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            drop_unsafe_url(url, "url");
        }
    }
    let mut changes = items(
        state,
        &req.user,
        &format!("builds/{buildid}/changes"),
        &[("limit", "1000".into())],
    )
    .await?;
    for change in &mut changes {
        drop_unsafe_url(change, "revlink");
    }
    let worker = match items(
        state,
        &req.user,
        &format!("workers/{}", int(&build, "workerid")),
        &[],
    )
    .await
    {
        Ok(list) => list.into_iter().next(),
        Err(_) => None,
    };
    let buildrequest = items(
        state,
        &req.user,
        &format!("buildrequests/{}", int(&build, "buildrequestid")),
        &[],
    )
    .await
    .ok()
    .and_then(|l| l.into_iter().next());
    let buildset = match &buildrequest {
        Some(br) => items(
            state,
            &req.user,
            &format!("buildsets/{}", int(br, "buildsetid")),
            &[],
        )
        .await
        .ok()
        .and_then(|l| l.into_iter().next()),
        None => None,
    };
    let next_exists = items(
        state,
        &req.user,
        &format!("builders/{builderid}/builds"),
        &[
            ("number", (number + 1).to_string()),
            ("field", "number".into()),
        ],
    )
    .await
    .is_ok_and(|l| !l.is_empty());
    // Responsible users: the changes' authors and the build's owners, once each.
    let mut responsible: Vec<String> = Vec::new();
    for change in &changes {
        if let Some(author) = change.get("author").and_then(Value::as_str) {
            if !responsible.iter().any(|r| r == author) {
                responsible.push(author.to_owned());
            }
        }
    }
    let properties: Vec<Value> = build
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, pair)| {
                    let value = pair.get(0).cloned().unwrap_or(Value::Null);
                    let source = pair.get(1).cloned().unwrap_or(Value::Null);
                    let text = match &value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    json!({"name": name, "value": text, "source": source})
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(owners) = build
        .get("properties")
        .and_then(|p| p.get("owners"))
        .and_then(|o| o.get(0))
        .and_then(Value::as_array)
    {
        for owner in owners.iter().filter_map(Value::as_str) {
            if !responsible.iter().any(|r| r == owner) {
                responsible.push(owner.to_owned());
            }
        }
    }
    let builder_name = builder
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("builder")
        .to_owned();
    let shell = shell(
        state,
        req,
        "builders",
        &format!("{builder_name} #{number}"),
        &[
            format!("builds/{buildid}/*"),
            format!("builds/{buildid}/steps/*/*"),
        ],
    );
    let controls = Controls::new(state, &req.user);
    let path = format!("builds/{buildid}");
    let complete = build
        .get("complete")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let may_stop = !complete && controls.may(&path, "stop", json!({})).await;
    let may_rebuild = complete && controls.may(&path, "rebuild", json!({})).await;
    let body = BuildPage {
        may_stop,
        may_rebuild,
        builder,
        build,
        steps,
        properties,
        changes,
        responsible,
        worker,
        buildrequest,
        buildset,
        next_exists,
    };
    Ok(html(state, "build.html", &shell, &body))
}

/// `/logs/<id>?from=N`: the first lines at once (or from line N); the script loads more while
/// scrolling and follows a running log.
pub(super) async fn log(
    State(state): State<UiState>,
    Path(logid): Path<i64>,
    req: PageRequest,
) -> PageResult {
    log_page(&state, &req, logid).await
}

async fn log_page(state: &UiState, req: &PageRequest, logid: i64) -> PageResult {
    let settings = req.settings(&state.config);
    let lines_per_page = setting_i64(&settings, "Log.initialLines", 1000, 100_000);
    let log = one(state, &req.user, &format!("logs/{logid}"), &[]).await?;
    let num_lines = int(&log, "num_lines");
    let from = req
        .arg("from")
        .and_then(|f| f.parse::<i64>().ok())
        .unwrap_or(0)
        .clamp(0, (num_lines - 1).max(0));
    let step = one(
        state,
        &req.user,
        &format!("steps/{}", int(&log, "stepid")),
        &[],
    )
    .await?;
    let build = one(
        state,
        &req.user,
        &format!("builds/{}", int(&step, "buildid")),
        &[],
    )
    .await?;
    let builder = one(
        state,
        &req.user,
        &format!("builders/{}", int(&build, "builderid")),
        &[],
    )
    .await?;
    let kind = log
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("s")
        .to_owned();
    // HTML logs are shown as pages, not searched.
    let searchable = kind != "h";
    let mut no_error = false;
    if searchable && req.arg("error").is_some() {
        match log_search::first_error(&state.data, &req.user, logid, &kind).await? {
            Some(line) => {
                return Ok(redirect(&format!(
                    "{}logs/{logid}?from={}#L{}",
                    req.root,
                    log_search::open_from(line),
                    line + 1
                )))
            }
            None => no_error = true,
        }
    }
    let search = log_search::Query::read(req).filter(|_| searchable);
    let mut found = None;
    let mut search_error = None;
    if let Some(query) = &search {
        match query.compile() {
            Ok(regex) => {
                found = Some(log_search::search(&state.data, &req.user, logid, &kind, regex).await?)
            }
            Err(message) => search_error = Some(message),
        }
    }
    let mut lines: Vec<Value> = Vec::new();
    if num_lines > 0 && kind != "h" && search.is_none() {
        let chunk = one(
            state,
            &req.user,
            &format!("logs/{logid}/contents"),
            &[
                ("offset", from.to_string()),
                ("limit", lines_per_page.to_string()),
            ],
        )
        .await?;
        let content = chunk.get("content").and_then(Value::as_str).unwrap_or("");
        for line in content.split_terminator('\n') {
            lines.push(split_channel(line, &kind));
        }
    }
    // A step that did not succeed: failure, exception, retry or cancelled.
    let error_jump = searchable
        && step
            .get("results")
            .and_then(Value::as_i64)
            .is_some_and(|r| matches!(r, 2 | 4 | 5 | 6));
    let shown_to = from + lines.len() as i64;
    let title = format!(
        "{} #{} {} {}",
        builder.get("name").and_then(Value::as_str).unwrap_or(""),
        int(&build, "number"),
        step.get("name").and_then(Value::as_str).unwrap_or(""),
        log.get("name").and_then(Value::as_str).unwrap_or("")
    );
    let shell = shell(state, req, "builders", &title, &[format!("logs/{logid}/*")]);
    let body = LogPage {
        log,
        step,
        build,
        builder,
        lines,
        from,
        shown_to,
        page_lines: lines_per_page,
        last_page_from: (num_lines - lines_per_page).max(0),
        prev_from: (from - lines_per_page).max(0),
        error_jump,
        no_error,
        search,
        found,
        search_error,
        max_matches: log_search::MAX_MATCHES,
        max_pattern: log_search::MAX_PATTERN,
    };
    let status = if body.search_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(html_status(state, status, "log.html", &shell, &body))
}

/// A stdio log line starts with its channel (`o` out, `e` err, `h` header).
fn split_channel(line: &str, kind: &str) -> Value {
    if kind == "s" {
        let mut chars = line.chars();
        let channel = match chars.next() {
            Some('e') => "e",
            Some('h') => "h",
            _ => "o",
        };
        json!([channel, chars.as_str()])
    } else {
        json!(["o", line])
    }
}

/// `/workers`: every worker, its masters, builders and recent builds.
pub(super) async fn workers(State(state): State<UiState>, req: PageRequest) -> PageResult {
    workers_page(&state, &req).await
}

async fn workers_page(state: &UiState, req: &PageRequest) -> PageResult {
    let settings = req.settings(&state.config);
    let show_builders = setting_bool(&settings, "Workers.showWorkerBuilders");
    let mut workers = items(
        state,
        &req.user,
        "workers",
        &[("order", "name".into()), ("limit", "10000".into())],
    )
    .await?;
    let recent = items(
        state,
        &req.user,
        "builds",
        &[
            ("order", "-buildid".into()),
            ("limit", "200".into()),
            ("field", "buildid".into()),
            ("field", "number".into()),
            ("field", "builderid".into()),
            ("field", "workerid".into()),
            ("field", "results".into()),
            ("field", "complete".into()),
        ],
    )
    .await?;
    let masters = items(state, &req.user, "masters", &[("limit", "1000".into())]).await?;
    let master_names: HashMap<i64, Value> = masters
        .iter()
        .map(|m| {
            (
                int(m, "masterid"),
                m.get("name").cloned().unwrap_or_default(),
            )
        })
        .collect();
    let mut builder_ids: BTreeSet<i64> = recent.iter().map(|b| int(b, "builderid")).collect();
    if show_builders {
        for worker in &workers {
            for c in worker
                .get("configured_on")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                builder_ids.insert(c.get("builderid").and_then(Value::as_i64).unwrap_or(0));
            }
        }
    }
    let names = builder_names(state, &req.user, builder_ids).await?;
    let mut by_worker: HashMap<i64, Vec<Value>> = HashMap::new();
    for mut build in recent {
        let name = names
            .get(&int(&build, "builderid"))
            .cloned()
            .unwrap_or_default();
        build.insert("builder_name".into(), json!(name));
        let list = by_worker.entry(int(&build, "workerid")).or_default();
        if list.len() < 10 {
            list.push(Value::Object(build));
        }
    }
    for worker in &mut workers {
        let connected: Vec<Value> = worker
            .get("connected_to")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("masterid").and_then(Value::as_i64))
            .map(|id| master_names.get(&id).cloned().unwrap_or(json!(id)))
            .collect();
        let mut builders: Vec<(String, i64)> = if show_builders {
            worker
                .get("configured_on")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("builderid").and_then(Value::as_i64))
                .map(|id| (names.get(&id).cloned().unwrap_or_default(), id))
                .collect()
        } else {
            Vec::new()
        };
        builders.sort();
        builders.dedup();
        let builds = by_worker
            .remove(&int(worker, "workerid"))
            .unwrap_or_default();
        worker.insert("masters".into(), json!(connected));
        worker.insert(
            "builders".into(),
            json!(builders
                .into_iter()
                .map(|(name, id)| json!({"name": name, "builderid": id}))
                .collect::<Vec<_>>()),
        );
        worker.insert("builds".into(), json!(builds));
    }
    Controls::new(state, &req.user)
        .mark_workers(&mut workers)
        .await;
    let shell = shell(
        state,
        req,
        "workers",
        "Workers",
        &["workers/*/*".into(), "builds/*/*".into()],
    );
    let body = WorkersPage {
        workers,
        show_builders,
    };
    Ok(html(state, "workers.html", &shell, &body))
}

/// `/changes?page=N`: the newest changes, paged.
pub(super) async fn changes(State(state): State<UiState>, req: PageRequest) -> PageResult {
    changes_page(&state, &req).await
}

async fn changes_page(state: &UiState, req: &PageRequest) -> PageResult {
    let settings = req.settings(&state.config);
    let size = setting_i64(&settings, "Changes.changesFetchLimit", 50, 1000);
    let page = req
        .arg("page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(0)
        .max(0);
    let mut changes = items(
        state,
        &req.user,
        "changes",
        &[
            ("order", "-changeid".into()),
            ("limit", (size + 1).to_string()),
            ("offset", (page * size).to_string()),
        ],
    )
    .await?;
    let has_next = changes.len() as i64 > size;
    changes.truncate(size as usize);
    for change in &mut changes {
        drop_unsafe_url(change, "revlink");
    }
    let shell = shell(state, req, "changes", "Changes", &["changes/*/*".into()]);
    let body = ChangesPage {
        changes,
        page,
        has_next,
    };
    Ok(html(state, "changes.html", &shell, &body))
}

/// `/pendingbuildrequests`: unclaimed build requests, highest priority first.
pub(super) async fn pending(State(state): State<UiState>, req: PageRequest) -> PageResult {
    pending_page(&state, &req).await
}

async fn pending_page(state: &UiState, req: &PageRequest) -> PageResult {
    let mut requests = items(
        state,
        &req.user,
        "buildrequests",
        &[
            ("claimed", "false".into()),
            ("complete", "false".into()),
            ("order", "-priority".into()),
            ("order", "submitted_at".into()),
            ("limit", "1000".into()),
        ],
    )
    .await?;
    let names = builder_names(
        state,
        &req.user,
        requests.iter().map(|r| int(r, "builderid")),
    )
    .await?;
    name_builders(&mut requests, &names);
    let bsids: BTreeSet<i64> = requests.iter().map(|r| int(r, "buildsetid")).collect();
    let mut reasons: HashMap<i64, Value> = HashMap::new();
    if !bsids.is_empty() {
        let mut args: Vec<(&str, String)> =
            bsids.iter().map(|id| ("bsid", id.to_string())).collect();
        args.push(("field", "bsid".into()));
        args.push(("field", "reason".into()));
        args.push(("limit", bsids.len().to_string()));
        for bs in items(state, &req.user, "buildsets", &args).await? {
            reasons.insert(
                int(&bs, "bsid"),
                bs.get("reason").cloned().unwrap_or_default(),
            );
        }
    }
    for request in &mut requests {
        let reason = reasons
            .get(&int(request, "buildsetid"))
            .cloned()
            .unwrap_or_default();
        request.insert("reason".into(), reason);
    }
    Controls::new(state, &req.user)
        .mark_cancel(&mut requests)
        .await;
    let shell = shell(
        state,
        req,
        "pending",
        "Pending build requests",
        &["buildrequests/*/*".into()],
    );
    let body = PendingPage { requests };
    Ok(html(state, "pending.html", &shell, &body))
}

/// `/about`: versions (Rust, buildbot-www, then `[www] versions`), plugins, config summary.
pub(super) async fn about(State(state): State<UiState>, req: PageRequest) -> Response<Body> {
    let config = crate::answers::frontend_config_value(&state.config, &req.user);
    let plugins: Vec<Value> = state
        .plugins
        .plugins()
        .into_iter()
        .map(|p| {
            json!({"name": p.name, "version": p.version, "description": p.description,
                   "wit_version": p.wit_version})
        })
        .collect();
    let shell = shell(&state, &req, "about", "About", &[]);
    let body = AboutPage {
        versions: config["versions"].clone(),
        plugins,
        buildbot_url: state.config.buildbot_url.clone(),
        templates: state.ui.current().overridden().to_vec(),
    };
    html(&state, "about.html", &shell, &body)
}

/// `/settings`: the browser's settings (the script stores them), with the config defaults.
pub(super) async fn settings(State(state): State<UiState>, req: PageRequest) -> Response<Body> {
    let config = &state.config;
    let mut defaults = Map::new();
    let list: Vec<Value> = SETTINGS
        .iter()
        .map(|(key, builtin, help)| {
            let builtin: Value = serde_json::from_str(builtin).unwrap_or(Value::Null);
            let default = config
                .www
                .ui_default_config
                .get(*key)
                .cloned()
                .unwrap_or(builtin);
            defaults.insert((*key).to_owned(), default.clone());
            json!({
                "key": key,
                "help": help,
                "kind": if default.is_boolean() { "bool" } else if default.is_number() { "int" } else { "text" },
                "default": default,
            })
        })
        .collect();
    let shell = shell(&state, &req, "settings", "Settings", &[]);
    let body = SettingsPage { list, defaults };
    html(&state, "settings.html", &shell, &body)
}
