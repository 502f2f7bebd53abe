//! The standalone runner's change schedulers (`[[schedulers]]`): when the change hooks write
//! changes without a master, each enabled scheduler whose `change_filter` passes a change adds
//! a buildset for it, as Buildbot's `SingleBranchScheduler` and `AnyBranchScheduler` do with no
//! `treeStableTimer` (one buildset per change, its sourcestamp, the `scheduler` property, the
//! scheduler's reason), and the runner claims and runs its requests.

use serde_json::json;

use super::standalone::{now, write_buildset, NewBuildset, Runner};
use crate::config::{ChangeField, SchedulerSpec};
use crate::db::Pool;

/// The change columns a filter looks at (branch, project, repository, category, codebase),
/// and its sourcestamp.
type ChangeRow = (Option<String>, String, String, Option<String>, String, i64);

/// Adds the buildsets the schedulers start for changes `changeids` and queues their requests
/// on `runner`; the number of buildsets.
pub(crate) async fn act_on_changes(
    pool: &Pool,
    runner: &Runner,
    schedulers: &[SchedulerSpec],
    changeids: &[i64],
) -> Result<usize, sqlx::Error> {
    if schedulers.is_empty() {
        return Ok(0);
    }
    let mut changes: Vec<ChangeRow> = Vec::with_capacity(changeids.len());
    for &changeid in changeids {
        let change: Option<ChangeRow> = sqlx::query_as(
            "SELECT branch, project, repository, category, codebase, sourcestampid FROM changes WHERE changeid = $1",
        )
        .bind(changeid)
        .fetch_optional(pool)
        .await?;
        changes.extend(change);
    }
    let mut added = 0;
    for spec in schedulers {
        let passing: Vec<i64> = changes
            .iter()
            .filter(|(branch, project, repository, category, codebase, _)| {
                spec.filter.matches(|field| match field {
                    ChangeField::Branch => branch.clone(),
                    ChangeField::Project => Some(project.clone()),
                    ChangeField::Repository => Some(repository.clone()),
                    ChangeField::Category => category.clone(),
                    ChangeField::Codebase => Some(codebase.clone()),
                })
            })
            .map(|change| change.5)
            .collect();
        if passing.is_empty() || !enabled(pool, &spec.name).await? {
            continue;
        }
        let mut builderids = Vec::new();
        for name in &spec.builder_names {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM builders WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?;
            match id {
                Some(id) => builderids.push(id),
                None => tracing::warn!(
                    "scheduler {}: builder '{name}' is not in the database; skipped",
                    spec.name
                ),
            }
        }
        if builderids.is_empty() {
            continue;
        }
        // One buildset per change, as with no treeStableTimer.
        for sourcestampid in passing {
            let new = NewBuildset {
                reason: spec.reason.clone(),
                properties: vec![("scheduler".into(), json!(spec.name), "Scheduler".into())],
                sourcestamp_ids: vec![sourcestampid],
                builderids: builderids.clone(),
                ..NewBuildset::default()
            };
            let mut tx = crate::db::begin_writing(pool, &[]).await?;
            let (_, requests) = write_buildset(&mut tx, &new, now()).await?;
            tx.commit().await?;
            for (_, brid) in requests {
                runner.queue(brid);
            }
            added += 1;
        }
    }
    Ok(added)
}

/// Whether scheduler `name` is enabled: its `schedulers` row (made, enabled, the first time,
/// as a master does when it starts a scheduler), which the `enable` control action switches.
async fn enabled(pool: &Pool, name: &str) -> Result<bool, sqlx::Error> {
    let hash = crate::db::hash::hash_columns(&[Some(name)]);
    sqlx::query(
        "INSERT INTO schedulers (name, name_hash, enabled) VALUES ($1, $2, 1) ON CONFLICT (name_hash) DO NOTHING",
    )
    .bind(name)
    .bind(&hash)
    .execute(pool)
    .await?;
    let on: i64 = sqlx::query_scalar("SELECT enabled FROM schedulers WHERE name_hash = $1")
        .bind(&hash)
        .fetch_one(pool)
        .await?;
    Ok(on != 0)
}
