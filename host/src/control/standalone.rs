//! Control without a Buildbot master (the demo, an embedded database): the rows written as a
//! master's `addBuildset` writes them (sourcestamps, buildset, its properties, one build
//! request per builder), and the [`Runner`] queue through which the demo activity runner
//! (`fixtures::activity`) claims, runs and stops what was asked for.
//!
//! Only the runner's own builds can be stopped: a build a real master runs is out of reach
//! without a link to it, and the caller is told so.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use super::force::SourceStamp;
use crate::db::Pool;
use crate::events::Events;
use crate::jsonfmt::{self, Layout};

use buildbot_plugin_sdk::results::CANCELLED;

/// What the runner is asked to do: requests to claim and run, builds to stop. Shared by the
/// control actions and the demo activity runner.
#[derive(Debug, Default)]
pub struct Runner {
    state: Mutex<RunnerState>,
}

#[derive(Debug, Default)]
struct RunnerState {
    queued: VecDeque<i64>,
    running: HashMap<i64, i64>,
    stops: HashMap<i64, String>,
    ours: HashSet<i64>,
}

impl Runner {
    fn lock(&self) -> std::sync::MutexGuard<'_, RunnerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The build requests queued since the last call, to be claimed and run.
    pub fn take_queued(&self) -> Vec<i64> {
        self.lock().queued.drain(..).collect()
    }

    /// The runner started build `buildid` for request `brid`.
    pub fn started(&self, buildid: i64, brid: i64) {
        self.lock().running.insert(buildid, brid);
    }

    /// Build `buildid` finished.
    pub fn finished(&self, buildid: i64) {
        let mut state = self.lock();
        state.running.remove(&buildid);
        state.stops.remove(&buildid);
    }

    /// The reason build `buildid` was asked to stop, once.
    pub fn take_stop(&self, buildid: i64) -> Option<String> {
        self.lock().stops.remove(&buildid)
    }

    pub(crate) fn queue(&self, brid: i64) {
        let mut state = self.lock();
        state.ours.insert(brid);
        state.queued.push_back(brid);
    }

    /// Asks the runner to stop `buildid`; false when the runner does not run it.
    fn stop(&self, buildid: i64, reason: &str) -> bool {
        let mut state = self.lock();
        if !state.running.contains_key(&buildid) {
            return false;
        }
        state.stops.insert(buildid, reason.to_string());
        true
    }

    /// Takes request `brid` off the queue; false when it was not queued.
    fn unqueue(&self, brid: i64) -> bool {
        let mut state = self.lock();
        let before = state.queued.len();
        state.queued.retain(|b| *b != brid);
        state.queued.len() != before
    }

    fn build_of(&self, brid: i64) -> Option<i64> {
        self.lock()
            .running
            .iter()
            .find(|(_, b)| **b == brid)
            .map(|(buildid, _)| *buildid)
    }
}

/// A control failure in standalone mode.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// The entity does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Only a Buildbot master can do this (a build it runs).
    #[error("{0}")]
    NeedsMaster(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The standalone backend: the database and the runner.
#[derive(Debug, Clone)]
pub struct Standalone {
    pool: Pool,
    events: Events,
    runner: Arc<Runner>,
    /// `[[schedulers]]`: what starts builds for the changes the change hooks write.
    schedulers: Arc<Vec<crate::config::SchedulerSpec>>,
}

/// A buildset to add.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewBuildset {
    pub reason: String,
    pub properties: Vec<(String, Value, String)>,
    pub sourcestamps: Vec<SourceStamp>,
    /// Existing sourcestamp ids to use (a rebuild) instead of `sourcestamps`.
    pub sourcestamp_ids: Vec<i64>,
    pub builderids: Vec<i64>,
    pub priority: i64,
    pub rebuilt_buildid: Option<i64>,
}

/// Now, in Unix seconds (Buildbot's time columns).
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A JSON column's text, spaced as Python's `json.dumps` writes it (as Buildbot fills them).
pub(crate) fn py_json(value: &Value) -> String {
    jsonfmt::to_string(value, Layout::Spaced, false)
}

impl Standalone {
    /// The backend over a database whose requests `runner` runs.
    pub fn new(pool: Pool, events: Events, runner: Arc<Runner>) -> Self {
        Standalone {
            pool,
            events,
            runner,
            schedulers: Arc::default(),
        }
    }

    /// The same backend, whose runner also plays these change schedulers.
    pub fn with_schedulers(mut self, schedulers: Vec<crate::config::SchedulerSpec>) -> Self {
        self.schedulers = Arc::new(schedulers);
        self
    }

    /// Changes were written (by the change hooks): the schedulers whose filters pass them add
    /// buildsets, which the runner runs; the number of buildsets.
    pub(crate) async fn changes_added(&self, changeids: &[i64]) -> Result<usize, sqlx::Error> {
        let added = super::schedulers::act_on_changes(
            &self.pool,
            &self.runner,
            &self.schedulers,
            changeids,
        )
        .await?;
        if added > 0 {
            self.events.sync().await;
        }
        Ok(added)
    }

    /// Builder ids by name.
    pub(crate) async fn builder_ids(
        &self,
        names: &[String],
    ) -> Result<Vec<(String, i64)>, Refusal> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM builders WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
            match id {
                Some(id) => out.push((name.clone(), id)),
                None => {
                    return Err(Refusal::NotFound(format!(
                        "builder '{name}' is not in the database (no master has configured it)"
                    )))
                }
            }
        }
        Ok(out)
    }

    /// Writes a buildset and its requests, queues them for the runner; `[bsid, {builderid:
    /// brid}]` as Buildbot answers.
    pub(crate) async fn add_buildset(&self, new: NewBuildset) -> Result<Value, Refusal> {
        let mut tx = self.pool.begin().await?;
        let (bsid, requests) = write_buildset(&mut tx, &new, now()).await?;
        tx.commit().await?;
        let mut brids = Map::new();
        for (builderid, brid) in requests {
            brids.insert(builderid.to_string(), Value::from(brid));
            self.runner.queue(brid);
        }
        self.events.sync().await;
        Ok(json!([bsid, brids]))
    }

    /// `stop` on a build: the runner's own builds stop; a finished or missing build is a
    /// no-op (as in Buildbot); a build a real master runs needs the link.
    pub(crate) async fn stop_build(&self, buildid: i64, reason: &str) -> Result<(), Refusal> {
        let complete: Option<Option<i64>> =
            sqlx::query_scalar("SELECT complete_at FROM builds WHERE id = $1")
                .bind(buildid)
                .fetch_optional(&self.pool)
                .await?;
        match complete {
            None | Some(Some(_)) => Ok(()),
            Some(None) if self.runner.stop(buildid, reason) => Ok(()),
            Some(None) => Err(Refusal::NeedsMaster(format!(
                "build {buildid} is run by a Buildbot master, which this server is not linked \
                 to: set [www.master] url to stop it from here (docs/control.md)"
            ))),
        }
    }

    /// `cancel` on a build request: a pending one is completed as cancelled at once, a
    /// running one of the runner's stops; a completed one is left alone.
    pub(crate) async fn cancel_request(&self, brid: i64, reason: &str) -> Result<(), Refusal> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT complete, buildsetid FROM buildrequests WHERE id = $1")
                .bind(brid)
                .fetch_optional(&self.pool)
                .await?;
        let Some((complete, bsid)) = row else {
            return Err(Refusal::NotFound(format!("no build request has id {brid}")));
        };
        if complete != 0 {
            return Ok(());
        }
        if let Some(buildid) = self.runner.build_of(brid) {
            self.runner.stop(buildid, reason);
            return Ok(());
        }
        let claimed: Option<i64> =
            sqlx::query_scalar("SELECT brid FROM buildrequest_claims WHERE brid = $1")
                .bind(brid)
                .fetch_optional(&self.pool)
                .await?;
        let was_queued = self.runner.unqueue(brid);
        if claimed.is_some() && !was_queued {
            return Err(Refusal::NeedsMaster(format!(
                "build request {brid} is claimed by a Buildbot master, which this server is not \
                 linked to: set [www.master] url to cancel it from here (docs/control.md)"
            )));
        }
        let t = now();
        let mut tx = self.pool.begin().await?;
        let masterid: Option<i64> = sqlx::query_scalar("SELECT min(id) FROM masters")
            .fetch_one(&mut *tx)
            .await?;
        if claimed.is_none() {
            sqlx::query(
                "INSERT INTO buildrequest_claims (brid, masterid, claimed_at) VALUES ($1, $2, $3)",
            )
            .bind(brid)
            .bind(masterid.unwrap_or(1))
            .bind(t)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE buildrequests SET complete = 1, results = $2, complete_at = $3 WHERE id = $1",
        )
        .bind(brid)
        .bind(CANCELLED)
        .bind(t)
        .execute(&mut *tx)
        .await?;
        complete_buildset_if_done(&mut tx, bsid, t).await?;
        tx.commit().await?;
        self.events.sync().await;
        Ok(())
    }

    /// `set_priority` on a pending build request.
    pub(crate) async fn set_priority(&self, brid: i64, priority: i64) -> Result<(), Refusal> {
        let done = sqlx::query("UPDATE buildrequests SET priority = $2 WHERE id = $1")
            .bind(brid)
            .bind(priority)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::NotFound(format!("no build request has id {brid}")));
        }
        self.events.sync().await;
        Ok(())
    }

    /// `pause`/`unpause` on a worker.
    pub(crate) async fn pause_worker(
        &self,
        workerid: i64,
        paused: bool,
        reason: Option<&str>,
    ) -> Result<(), Refusal> {
        let done = sqlx::query("UPDATE workers SET paused = $2, pause_reason = $3 WHERE id = $1")
            .bind(workerid)
            .bind(i64::from(paused))
            .bind(if paused { reason } else { None })
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::NotFound(format!("no worker has id {workerid}")));
        }
        self.events.sync().await;
        Ok(())
    }

    /// `stop`/`kill` on a worker: without a master there is no connection to close.
    pub(crate) async fn disconnect_worker(&self, workerid: i64) -> Result<(), Refusal> {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM workers WHERE id = $1")
            .bind(workerid)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Err(Refusal::NotFound(format!("no worker has id {workerid}")));
        }
        Err(Refusal::NeedsMaster(format!(
            "worker {workerid} is connected to a Buildbot master, which this server is not \
             linked to: set [www.master] url to stop it from here (docs/control.md)"
        )))
    }

    /// `enable` on a scheduler (`enabled` true or false).
    pub(crate) async fn enable_scheduler(
        &self,
        schedulerid: i64,
        enabled: bool,
    ) -> Result<(), Refusal> {
        let done = sqlx::query("UPDATE schedulers SET enabled = $2 WHERE id = $1")
            .bind(schedulerid)
            .bind(i64::from(enabled))
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Refusal::NotFound(format!(
                "no scheduler has id {schedulerid}"
            )));
        }
        self.events.sync().await;
        Ok(())
    }
}

/// Writes the rows of Buildbot's `addBuildset` at time `t`: the sourcestamps (an existing one
/// with the same `ss_hash` is reused), the buildset, its properties (`[value, source]`) and one
/// build request per builder; the buildset id and the (builderid, brid) pairs.
pub(crate) async fn write_buildset(
    tx: &mut crate::db::Transaction<'_>,
    new: &NewBuildset,
    t: i64,
) -> Result<(i64, Vec<(i64, i64)>), sqlx::Error> {
    let mut ssids = new.sourcestamp_ids.clone();
    for ss in &new.sourcestamps {
        let key = SourceStampKey {
            branch: Some(&ss.branch),
            revision: Some(&ss.revision),
            repository: &ss.repository,
            project: &ss.project,
            codebase: &ss.codebase,
        };
        ssids.push(sourcestamp_id(tx, &key, t).await?);
    }
    let bsid: i64 = sqlx::query_scalar(
        "INSERT INTO buildsets (external_idstring, reason, submitted_at, complete, complete_at, results, \
         parent_buildid, parent_relationship, rebuilt_buildid) VALUES (NULL, $1, $2, 0, NULL, -1, NULL, NULL, $3) RETURNING id",
    )
    .bind(&new.reason)
    .bind(t)
    .bind(new.rebuilt_buildid)
    .fetch_one(&mut **tx)
    .await?;
    for ssid in ssids {
        sqlx::query(
            "INSERT INTO buildset_sourcestamps (buildsetid, sourcestampid) VALUES ($1, $2)",
        )
        .bind(bsid)
        .bind(ssid)
        .execute(&mut **tx)
        .await?;
    }
    for (name, value, source) in &new.properties {
        sqlx::query("INSERT INTO buildset_properties (buildsetid, property_name, property_value) VALUES ($1, $2, $3)")
            .bind(bsid)
            .bind(name)
            .bind(py_json(&json!([value, source])))
            .execute(&mut **tx)
            .await?;
    }
    let mut requests = Vec::with_capacity(new.builderids.len());
    for builderid in &new.builderids {
        let brid: i64 = sqlx::query_scalar(
            "INSERT INTO buildrequests (buildsetid, builderid, priority, complete, results, submitted_at, complete_at, waited_for) \
             VALUES ($1, $2, $3, 0, -1, $4, NULL, 0) RETURNING id",
        )
        .bind(bsid)
        .bind(builderid)
        .bind(new.priority)
        .bind(t)
        .fetch_one(&mut **tx)
        .await?;
        requests.push((*builderid, brid));
    }
    Ok((bsid, requests))
}

/// What identifies a sourcestamp (its `ss_hash` columns; no patch here).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceStampKey<'a> {
    pub branch: Option<&'a str>,
    pub revision: Option<&'a str>,
    pub repository: &'a str,
    pub project: &'a str,
    pub codebase: &'a str,
}

/// Buildbot's `findSourceStampId`: the sourcestamp with these columns, made at time `t` when
/// there is none yet.
pub(crate) async fn sourcestamp_id(
    tx: &mut crate::db::Transaction<'_>,
    key: &SourceStampKey<'_>,
    t: i64,
) -> Result<i64, sqlx::Error> {
    let hash = crate::db::hash::ss_hash(
        key.branch,
        key.revision,
        key.repository,
        key.project,
        key.codebase,
    );
    let existing: Option<i64> =
        sqlx::query_scalar("SELECT id FROM sourcestamps WHERE ss_hash = $1")
            .bind(&hash)
            .fetch_optional(&mut **tx)
            .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    sqlx::query_scalar(
        "INSERT INTO sourcestamps (ss_hash, branch, revision, patchid, repository, codebase, project, created_at) \
         VALUES ($1, $2, $3, NULL, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&hash)
    .bind(key.branch)
    .bind(key.revision)
    .bind(key.repository)
    .bind(key.codebase)
    .bind(key.project)
    .bind(t)
    .fetch_one(&mut **tx)
    .await
}

/// Completes buildset `bsid` when all its requests are complete, with their worst results.
pub(crate) async fn complete_buildset_if_done(
    tx: &mut crate::db::Transaction<'_>,
    bsid: i64,
    t: i64,
) -> Result<(), sqlx::Error> {
    let (open, worst): (i64, Option<i64>) = sqlx::query_as(
        "SELECT sum(CASE WHEN complete = 0 THEN 1 ELSE 0 END), max(results) FROM buildrequests WHERE buildsetid = $1",
    )
    .bind(bsid)
    .fetch_one(&mut **tx)
    .await?;
    if open == 0 {
        sqlx::query(
            "UPDATE buildsets SET complete = 1, results = $2, complete_at = $3 WHERE id = $1",
        )
        .bind(bsid)
        .bind(worst.unwrap_or(CANCELLED))
        .bind(t)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
