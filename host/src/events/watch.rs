//! The database watcher: finds what another process (a running Buildbot master) or this one
//! wrote since the last poll, and turns it into Buildbot's events.
//!
//! Cost per poll does not depend on the database's size: new rows are found by primary key
//! (`id > last seen`, a range scan of what is new), and the rows that can still change (builds,
//! steps, logs, build requests and buildsets not complete yet, connected workers) are kept in
//! memory and re-read by primary key. Where the database stands is recorded at the first poll:
//! incomplete build requests and buildsets through their `complete` indexes, running builds
//! through their requests (plus the newest 1,000 builds, steps and logs), their steps and logs
//! through the `(buildid, …)` and `(stepid, …)` indexes.
//!
//! Events go out in Buildbot's causal order: an entity's `new` before anything of its children
//! (buildset, build request, build, step, log), also across polls: a new row whose parent has
//! not been published yet (a page ended before it, or it was written between two of the
//! poll's reads) waits for the next poll, together with the rows after it.
//!
//! Build properties have no id to find new ones by: the properties of the builds with an event
//! (of their own or of a step) in this poll are re-read by `buildid` and compared with what was
//! seen, so their cost follows what changed. Buildbot writes them only as a build starts and
//! right after each step, always followed by such an event.

use std::collections::{HashMap, HashSet};

use sqlx::Row as _;

use serde_json::{Map, Value};

use super::messages::{self, Entity};
use super::Event;
use crate::data::DataApi;
use crate::db::{Pool, Row};

/// New rows read per table and poll; more are picked up by the next polls.
const PAGE: i64 = 1000;
/// How far back (in ids) the first poll looks for incomplete builds, steps and logs.
const WINDOW: i64 = 1000;

#[derive(Debug)]
pub(super) struct Watcher {
    data: DataApi,
    state: tokio::sync::Mutex<Option<State>>,
}

impl Watcher {
    pub(super) fn new(data: DataApi) -> Self {
        Watcher {
            data,
            state: tokio::sync::Mutex::new(None),
        }
    }

    /// Polls once; returns whether anything the watcher follows changed, and the events to
    /// publish (none if `publish` is false: the state still advances, but nobody listens, so
    /// no entity is read).
    pub(super) async fn poll(&self, publish: bool) -> (bool, Vec<Event>) {
        let mut guard = self.state.lock().await;
        let pool = self.data.pool();
        let Some(state) = guard.as_mut() else {
            match State::baseline(pool).await {
                Ok(state) => *guard = Some(state),
                Err(err) => tracing::warn!("live updates: cannot read the database: {err}"),
            }
            return (false, Vec::new());
        };
        let changes = match state.poll(pool).await {
            Ok(changes) => changes,
            Err(err) => {
                tracing::warn!("live updates: polling the database failed: {err}");
                return (false, Vec::new());
            }
        };
        let changed = !changes.is_empty();
        let mut events = Vec::new();
        if !publish {
            return (changed, events);
        }
        for change in changes {
            match change {
                Change::Entity(entity, id, event) => {
                    if let Some(message) = messages::message(&self.data, entity, id, event).await {
                        events.extend(messages::events(entity, id, event, message));
                    }
                }
                Change::Properties(buildid, properties) => {
                    events.push(messages::properties_update(buildid, properties));
                }
            }
        }
        (changed, events)
    }
}

/// What changed between two polls.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    /// What an entity did.
    Entity(Entity, i64, &'static str),
    /// A build's properties that are new or changed: name to `[value, source]`.
    Properties(i64, Map<String, Value>),
}

/// A build's properties as stored: name to value (JSON text) and source.
type Properties = HashMap<String, (Option<String>, Option<String>)>;

#[derive(Debug, Default)]
struct Last {
    change: i64,
    buildset: i64,
    buildrequest: i64,
    build: i64,
    step: i64,
    log: i64,
}

#[derive(Debug, Clone, PartialEq)]
struct BuildRow {
    id: i64,
    buildrequestid: i64,
    state_string: Option<String>,
    complete: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct StepRow {
    id: i64,
    buildid: i64,
    started: bool,
    complete: bool,
    state_string: Option<String>,
    urls_json: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct LogRow {
    id: i64,
    stepid: i64,
    complete: bool,
    num_lines: i64,
}

#[derive(Debug, Clone, PartialEq)]
struct RequestRow {
    id: i64,
    buildsetid: i64,
    complete: bool,
    claimed_by: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
struct BuildsetRow {
    id: i64,
    complete: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct WorkerRow {
    id: i64,
    paused: Option<i64>,
    graceful: Option<i64>,
    pause_reason: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    last: Last,
    builds: HashMap<i64, BuildRow>,
    steps: HashMap<i64, StepRow>,
    logs: HashMap<i64, LogRow>,
    requests: HashMap<i64, RequestRow>,
    buildsets: HashSet<i64>,
    workers: HashMap<i64, WorkerRow>,
    /// The properties of the builds in `builds`.
    properties: HashMap<i64, Properties>,
}

const BUILD_COLS: &str = "SELECT id, buildrequestid, state_string, \
     complete_at IS NOT NULL AS complete FROM builds WHERE ";
const STEP_COLS: &str =
    "SELECT id, buildid, started_at IS NOT NULL AS started, complete_at IS NOT NULL AS complete, \
     state_string, urls_json FROM steps WHERE ";
const LOG_COLS: &str = "SELECT id, stepid, complete != 0 AS complete, num_lines FROM logs WHERE ";
const REQUEST_COLS: &str = "SELECT br.id, br.buildsetid, br.complete != 0 AS complete, \
     c.masterid AS claimed_by \
     FROM buildrequests br LEFT JOIN buildrequest_claims c ON c.brid = br.id WHERE ";
const BUILDSET_COLS: &str = "SELECT id, complete != 0 AS complete FROM buildsets WHERE ";
const WORKER_COLS: &str = "SELECT id, paused, graceful, pause_reason FROM workers WHERE ";

async fn max_id(pool: &Pool, table: &str, column: &str) -> sqlx::Result<i64> {
    let max: Option<i64> = sqlx::query_scalar(&format!("SELECT max({column}) FROM {table}"))
        .fetch_one(pool)
        .await?;
    Ok(max.unwrap_or(0))
}

/// A row type read from a query's columns by name.
trait FromRow: Sized {
    fn read(row: &Row) -> sqlx::Result<Self>;
}

/// A 0/1 column, or a comparison selected as a value (an integer on SQLite, a boolean on
/// PostgreSQL).
fn flag(row: &Row, column: &str) -> sqlx::Result<bool> {
    match row.try_get::<Option<bool>, _>(column) {
        Ok(value) => Ok(value.unwrap_or(false)),
        Err(_) => Ok(row.try_get::<Option<i64>, _>(column)?.unwrap_or(0) != 0),
    }
}

impl FromRow for BuildRow {
    fn read(row: &Row) -> sqlx::Result<Self> {
        Ok(BuildRow {
            id: row.try_get("id")?,
            buildrequestid: row.try_get("buildrequestid")?,
            state_string: row.try_get("state_string")?,
            complete: flag(row, "complete")?,
        })
    }
}

impl FromRow for StepRow {
    fn read(row: &Row) -> sqlx::Result<Self> {
        Ok(StepRow {
            id: row.try_get("id")?,
            buildid: row.try_get("buildid")?,
            started: flag(row, "started")?,
            complete: flag(row, "complete")?,
            state_string: row.try_get("state_string")?,
            urls_json: row.try_get("urls_json")?,
        })
    }
}

impl FromRow for LogRow {
    fn read(row: &Row) -> sqlx::Result<Self> {
        Ok(LogRow {
            id: row.try_get("id")?,
            stepid: row.try_get("stepid")?,
            complete: flag(row, "complete")?,
            num_lines: row.try_get::<Option<i64>, _>("num_lines")?.unwrap_or(0),
        })
    }
}

impl FromRow for RequestRow {
    fn read(row: &Row) -> sqlx::Result<Self> {
        Ok(RequestRow {
            id: row.try_get("id")?,
            buildsetid: row.try_get("buildsetid")?,
            complete: flag(row, "complete")?,
            claimed_by: row.try_get("claimed_by")?,
        })
    }
}

impl FromRow for BuildsetRow {
    fn read(row: &Row) -> sqlx::Result<Self> {
        Ok(BuildsetRow {
            id: row.try_get("id")?,
            complete: flag(row, "complete")?,
        })
    }
}

impl FromRow for WorkerRow {
    fn read(row: &Row) -> sqlx::Result<Self> {
        Ok(WorkerRow {
            id: row.try_get("id")?,
            paused: row.try_get("paused")?,
            graceful: row.try_get("graceful")?,
            pause_reason: row.try_get("pause_reason")?,
        })
    }
}

async fn fetch<'q, T: FromRow>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    pool: &Pool,
) -> sqlx::Result<Vec<T>> {
    query.fetch_all(pool).await?.iter().map(T::read).collect()
}

/// Rows whose `column` is one of `ids` (chunked, so any number of ids works).
async fn rows_in<T>(pool: &Pool, head: &str, column: &str, ids: &[i64]) -> sqlx::Result<Vec<T>>
where
    T: FromRow,
{
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("{head}{column} IN ({})", marks.join(", "));
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(id);
        }
        out.extend(fetch::<T>(query, pool).await?);
    }
    Ok(out)
}

/// Rows with `column > after`, oldest first, at most one page.
async fn rows_after<T>(pool: &Pool, head: &str, column: &str, after: i64) -> sqlx::Result<Vec<T>>
where
    T: FromRow,
{
    let sql = format!("{head}{column} > $1 ORDER BY {column} LIMIT {PAGE}");
    fetch(sqlx::query(&sql).bind(after), pool).await
}

fn keys<V>(map: &HashMap<i64, V>) -> Vec<i64> {
    let mut ids: Vec<i64> = map.keys().copied().collect();
    ids.sort_unstable();
    ids
}

impl State {
    /// Where the database stands now: the newest ids and every row that can still change.
    async fn baseline(pool: &Pool) -> sqlx::Result<State> {
        let mut state = State {
            last: Last {
                change: max_id(pool, "changes", "changeid").await?,
                buildset: max_id(pool, "buildsets", "id").await?,
                buildrequest: max_id(pool, "buildrequests", "id").await?,
                build: max_id(pool, "builds", "id").await?,
                step: max_id(pool, "steps", "id").await?,
                log: max_id(pool, "logs", "id").await?,
            },
            ..State::default()
        };
        let requests: Vec<RequestRow> =
            fetch(sqlx::query(&format!("{REQUEST_COLS}br.complete = 0")), pool).await?;
        let request_ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
        state.requests = requests.into_iter().map(|r| (r.id, r)).collect();
        let buildsets: Vec<BuildsetRow> =
            fetch(sqlx::query(&format!("{BUILDSET_COLS}complete = 0")), pool).await?;
        state.buildsets = buildsets.into_iter().map(|b| b.id).collect();

        let mut builds: Vec<BuildRow> = rows_in(pool, BUILD_COLS, "buildrequestid", &request_ids)
            .await?
            .into_iter()
            .chain(
                fetch::<BuildRow>(
                    sqlx::query(&format!("{BUILD_COLS}id > $1")).bind(state.last.build - WINDOW),
                    pool,
                )
                .await?,
            )
            .collect();
        builds.retain(|b| !b.complete);
        state.builds = builds.into_iter().map(|b| (b.id, b)).collect();

        let mut steps: Vec<StepRow> = rows_in(pool, STEP_COLS, "buildid", &keys(&state.builds))
            .await?
            .into_iter()
            .chain(
                fetch::<StepRow>(
                    sqlx::query(&format!("{STEP_COLS}id > $1")).bind(state.last.step - WINDOW),
                    pool,
                )
                .await?,
            )
            .collect();
        steps.retain(|s| !s.complete);
        state.steps = steps.into_iter().map(|s| (s.id, s)).collect();

        let mut logs: Vec<LogRow> = rows_in(pool, LOG_COLS, "stepid", &keys(&state.steps))
            .await?
            .into_iter()
            .chain(
                fetch::<LogRow>(
                    sqlx::query(&format!("{LOG_COLS}id > $1")).bind(state.last.log - WINDOW),
                    pool,
                )
                .await?,
            )
            .collect();
        logs.retain(|l| !l.complete);
        state.logs = logs.into_iter().map(|l| (l.id, l)).collect();

        state.properties = build_properties(pool, &keys(&state.builds)).await?;
        state.workers = connected_workers(pool).await?;
        Ok(state)
    }

    /// What changed since the last poll, in the order Buildbot would publish it.
    async fn poll(&mut self, pool: &Pool) -> sqlx::Result<Vec<Change>> {
        let mut early: Vec<Change> = Vec::new();
        let mut late: Vec<Change> = Vec::new();

        let changes: Vec<(i64,)> = sqlx::query_as(&format!(
            "SELECT changeid FROM changes WHERE changeid > $1 ORDER BY changeid LIMIT {PAGE}"
        ))
        .bind(self.last.change)
        .fetch_all(pool)
        .await?;
        for (id,) in changes {
            self.last.change = id;
            early.push(Change::Entity(Entity::Change, id, "new"));
        }

        // Buildsets.
        let tracked: Vec<BuildsetRow> = rows_in(
            pool,
            BUILDSET_COLS,
            "id",
            &self.buildsets.iter().copied().collect::<Vec<_>>(),
        )
        .await?;
        for row in tracked {
            if row.complete {
                self.buildsets.remove(&row.id);
                late.push(Change::Entity(Entity::Buildset, row.id, "complete"));
            }
        }
        for row in rows_after::<BuildsetRow>(pool, BUILDSET_COLS, "id", self.last.buildset).await? {
            self.last.buildset = row.id;
            early.push(Change::Entity(Entity::Buildset, row.id, "new"));
            if row.complete {
                late.push(Change::Entity(Entity::Buildset, row.id, "complete"));
            } else {
                self.buildsets.insert(row.id);
            }
        }

        // Build requests.
        let tracked: Vec<RequestRow> =
            rows_in(pool, REQUEST_COLS, "br.id", &keys(&self.requests)).await?;
        for row in tracked {
            let Some(seen) = self.requests.get(&row.id) else {
                continue;
            };
            match (seen.claimed_by, row.claimed_by) {
                (None, Some(_)) => {
                    early.push(Change::Entity(Entity::BuildRequest, row.id, "claimed"))
                }
                (Some(_), None) if !row.complete => {
                    early.push(Change::Entity(Entity::BuildRequest, row.id, "unclaimed"))
                }
                _ => {}
            }
            if row.complete {
                self.requests.remove(&row.id);
                late.push(Change::Entity(Entity::BuildRequest, row.id, "complete"));
            } else {
                self.requests.insert(row.id, row);
            }
        }
        for row in
            rows_after::<RequestRow>(pool, REQUEST_COLS, "br.id", self.last.buildrequest).await?
        {
            if row.buildsetid > self.last.buildset {
                break;
            }
            self.last.buildrequest = row.id;
            early.push(Change::Entity(Entity::BuildRequest, row.id, "new"));
            if row.claimed_by.is_some() {
                early.push(Change::Entity(Entity::BuildRequest, row.id, "claimed"));
            }
            if row.complete {
                late.push(Change::Entity(Entity::BuildRequest, row.id, "complete"));
            } else {
                self.requests.insert(row.id, row);
            }
        }

        // Builds. `touched`: the builds with an event of their own or of a step in this poll.
        let mut finished = Vec::new();
        let mut touched: HashSet<i64> = HashSet::new();
        let tracked: Vec<BuildRow> = rows_in(pool, BUILD_COLS, "id", &keys(&self.builds)).await?;
        let mut present = HashSet::new();
        for row in tracked {
            present.insert(row.id);
            let Some(seen) = self.builds.get(&row.id) else {
                continue;
            };
            if seen.state_string != row.state_string {
                early.push(Change::Entity(Entity::Build, row.id, "update"));
                touched.insert(row.id);
            }
            if row.complete {
                self.builds.remove(&row.id);
                finished.push(row.id);
                touched.insert(row.id);
            } else {
                self.builds.insert(row.id, row);
            }
        }
        self.builds.retain(|id, _| present.contains(id));
        for row in rows_after::<BuildRow>(pool, BUILD_COLS, "id", self.last.build).await? {
            if row.buildrequestid > self.last.buildrequest {
                break;
            }
            self.last.build = row.id;
            early.push(Change::Entity(Entity::Build, row.id, "new"));
            touched.insert(row.id);
            if row.complete {
                finished.push(row.id);
            } else {
                self.builds.insert(row.id, row);
            }
        }

        // Steps.
        let tracked: Vec<StepRow> = rows_in(pool, STEP_COLS, "id", &keys(&self.steps)).await?;
        let mut present = HashSet::new();
        for row in tracked {
            present.insert(row.id);
            let Some(seen) = self.steps.get(&row.id) else {
                continue;
            };
            if seen != &row {
                touched.insert(row.buildid);
            }
            if !seen.started && row.started {
                early.push(Change::Entity(Entity::Step, row.id, "started"));
            }
            if seen.state_string != row.state_string || seen.urls_json != row.urls_json {
                early.push(Change::Entity(Entity::Step, row.id, "updated"));
            }
            if row.complete {
                self.steps.remove(&row.id);
                early.push(Change::Entity(Entity::Step, row.id, "finished"));
            } else {
                self.steps.insert(row.id, row);
            }
        }
        self.steps.retain(|id, _| present.contains(id));
        for row in rows_after::<StepRow>(pool, STEP_COLS, "id", self.last.step).await? {
            if row.buildid > self.last.build {
                break;
            }
            self.last.step = row.id;
            touched.insert(row.buildid);
            early.push(Change::Entity(Entity::Step, row.id, "new"));
            if row.started {
                early.push(Change::Entity(Entity::Step, row.id, "started"));
            }
            if row.complete {
                early.push(Change::Entity(Entity::Step, row.id, "finished"));
            } else {
                self.steps.insert(row.id, row);
            }
        }

        // Build properties of the touched builds: Buildbot writes them only as a build starts
        // and right after each step (before the next step or the build's end), so a change
        // is seen at the latest with the event that follows it.
        let mut touched: Vec<i64> = touched
            .into_iter()
            .filter(|id| self.builds.contains_key(id) || finished.contains(id))
            .collect();
        touched.sort_unstable();
        let mut now = build_properties(pool, &touched).await?;
        for id in touched {
            let current = now.remove(&id).unwrap_or_default();
            let seen = self.properties.remove(&id).unwrap_or_default();
            if let Some(update) = changed_properties(&seen, &current) {
                early.push(Change::Properties(id, update));
            }
            if self.builds.contains_key(&id) {
                self.properties.insert(id, current);
            }
        }
        self.properties.retain(|id, _| self.builds.contains_key(id));

        // Logs.
        let tracked: Vec<LogRow> = rows_in(pool, LOG_COLS, "id", &keys(&self.logs)).await?;
        let mut present = HashSet::new();
        for row in tracked {
            present.insert(row.id);
            let Some(seen) = self.logs.get(&row.id) else {
                continue;
            };
            if row.num_lines > seen.num_lines {
                early.push(Change::Entity(Entity::Log, row.id, "append"));
            }
            if row.complete {
                self.logs.remove(&row.id);
                early.push(Change::Entity(Entity::Log, row.id, "finished"));
            } else {
                self.logs.insert(row.id, row);
            }
        }
        self.logs.retain(|id, _| present.contains(id));
        for row in rows_after::<LogRow>(pool, LOG_COLS, "id", self.last.log).await? {
            if row.stepid > self.last.step {
                break;
            }
            self.last.log = row.id;
            early.push(Change::Entity(Entity::Log, row.id, "new"));
            if row.num_lines > 0 {
                early.push(Change::Entity(Entity::Log, row.id, "append"));
            }
            if row.complete {
                early.push(Change::Entity(Entity::Log, row.id, "finished"));
            } else {
                self.logs.insert(row.id, row);
            }
        }

        // Workers: connections and the state of connected workers.
        let now = connected_workers(pool).await?;
        for (id, row) in &now {
            match self.workers.get(id) {
                None => late.push(Change::Entity(Entity::Worker, *id, "connected")),
                Some(seen) if seen != row => {
                    late.push(Change::Entity(Entity::Worker, *id, "state_updated"))
                }
                Some(_) => {}
            }
        }
        for id in self.workers.keys() {
            if !now.contains_key(id) {
                late.push(Change::Entity(Entity::Worker, *id, "disconnected"));
            }
        }
        self.workers = now;

        early.extend(
            finished
                .into_iter()
                .map(|id| Change::Entity(Entity::Build, id, "finished")),
        );
        early.extend(late);
        Ok(early)
    }
}

/// The properties of `builds`, by build.
async fn build_properties(pool: &Pool, builds: &[i64]) -> sqlx::Result<HashMap<i64, Properties>> {
    let mut out: HashMap<i64, Properties> = HashMap::new();
    for chunk in builds.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT buildid, name, value, source FROM build_properties WHERE buildid IN ({})",
            marks.join(", ")
        );
        let mut query = sqlx::query_as::<_, (i64, String, Option<String>, Option<String>)>(&sql);
        for id in chunk {
            query = query.bind(id);
        }
        for (buildid, name, value, source) in query.fetch_all(pool).await? {
            out.entry(buildid)
                .or_default()
                .insert(name, (value, source));
        }
    }
    Ok(out)
}

/// The properties new or changed from `seen` to `now`, as Buildbot's `properties/update`
/// message gives them (name to `[value, source]`, by name), or `None` when nothing changed.
/// A property is never removed in Buildbot, so a missing one is not reported.
fn changed_properties(seen: &Properties, now: &Properties) -> Option<Map<String, Value>> {
    let mut names: Vec<&String> = now
        .iter()
        .filter(|(name, value)| seen.get(*name) != Some(value))
        .map(|(name, _)| name)
        .collect();
    if names.is_empty() {
        return None;
    }
    names.sort();
    let mut update = Map::new();
    for name in names {
        let (value, source) = &now[name];
        let value = value
            .as_deref()
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or(Value::Null);
        let source = source.clone().map_or(Value::Null, Value::String);
        update.insert(name.clone(), Value::Array(vec![value, source]));
    }
    Some(update)
}

async fn connected_workers(pool: &Pool) -> sqlx::Result<HashMap<i64, WorkerRow>> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT workerid FROM connected_workers")
        .fetch_all(pool)
        .await?;
    let rows: Vec<WorkerRow> = rows_in(pool, WORKER_COLS, "id", &ids).await?;
    Ok(rows.into_iter().map(|w| (w.id, w)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(list: &[(&str, &str, &str)]) -> Properties {
        list.iter()
            .map(|(n, v, s)| {
                (
                    (*n).to_owned(),
                    (Some((*v).to_owned()), Some((*s).to_owned())),
                )
            })
            .collect()
    }

    #[test]
    fn property_updates_name_what_is_new_or_changed_by_name() {
        let seen = properties(&[("branch", "\"main\"", "Build"), ("n", "1", "Step")]);
        assert_eq!(changed_properties(&seen, &seen), None);
        let now = properties(&[
            ("n", "1", "Other"),
            ("branch", "\"main\"", "Build"),
            ("a", "{\"x\": [1]}", "Step"),
            ("bad", "not json", "Step"),
        ]);
        let update = changed_properties(&seen, &now).unwrap();
        assert_eq!(
            serde_json::to_string(&update).unwrap(),
            r#"{"a":[{"x":[1]},"Step"],"bad":[null,"Step"],"n":[1,"Other"]}"#
        );
        // A property that disappeared is not reported (Buildbot never removes one).
        assert_eq!(changed_properties(&now, &seen).unwrap().len(), 1);
    }
}
