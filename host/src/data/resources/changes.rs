//! Changes, source stamps, buildsets and build requests.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use sqlx::Row;

use super::builds::sourced_properties;
use super::{ids_of, in_ids, Ctx};
use crate::data::endpoints::Kind;
use crate::data::error::ApiError;
use crate::data::sql::{Bind, Col, Column, Sql, Table};
use crate::data::Answer;

static CHANGES: Table = Table {
    from: "changes",
    columns: &[
        Column {
            field: "changeid",
            expr: "changes.changeid",
            col: Col::Int,
        },
        Column {
            field: "author",
            expr: "changes.author",
            col: Col::Text,
        },
        Column {
            field: "committer",
            expr: "changes.committer",
            col: Col::Text,
        },
        Column {
            field: "comments",
            expr: "changes.comments",
            col: Col::Text,
        },
        Column {
            field: "branch",
            expr: "changes.branch",
            col: Col::Text,
        },
        Column {
            field: "revision",
            expr: "changes.revision",
            col: Col::Text,
        },
        Column {
            field: "revlink",
            expr: "changes.revlink",
            col: Col::Text,
        },
        Column {
            field: "when_timestamp",
            expr: "changes.when_timestamp",
            col: Col::Int,
        },
        Column {
            field: "category",
            expr: "changes.category",
            col: Col::Text,
        },
        Column {
            field: "repository",
            expr: "changes.repository",
            col: Col::Text,
        },
        Column {
            field: "codebase",
            expr: "changes.codebase",
            col: Col::Text,
        },
        Column {
            field: "project",
            expr: "changes.project",
            col: Col::Text,
        },
        Column {
            field: "_sourcestampid",
            expr: "changes.sourcestampid",
            col: Col::Int,
        },
        Column {
            field: "_parent",
            expr: "changes.parent_changeids",
            col: Col::Int,
        },
    ],
    key: "changes.changeid",
    // Newest first, as Buildbot answers when no order is given.
    default_order: &["-changeid"],
    split_fields: &[],
};

pub(super) async fn changes(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let enrich = |rows| add_change_details(ctx, rows);
    if ctx.endpoint.kind == Kind::Change {
        let id = ctx.args.int("changeid").unwrap_or(-1);
        return ctx
            .entity(
                &CHANGES,
                &[Sql::cond("changes.changeid = ?", Bind::Int(id))],
                enrich,
            )
            .await;
    }
    let mut conds = Vec::new();
    if let Some(ssid) = ctx.args.int("ssid") {
        conds.push(Sql::cond("changes.sourcestampid = ?", Bind::Int(ssid)));
    }
    if ctx.args.has("buildid") || ctx.args.has("build_number") {
        let Some(buildid) = ctx.build_id().await? else {
            return Ok(ctx.empty());
        };
        conds.push(Sql::cond(
            "changes.sourcestampid IN (SELECT bss.sourcestampid FROM buildset_sourcestamps bss \
             JOIN buildrequests br ON br.buildsetid = bss.buildsetid \
             JOIN builds b ON b.buildrequestid = br.id WHERE b.id = ?)",
            Bind::Int(buildid),
        ));
    }
    ctx.collection(&CHANGES, &conds, true, enrich).await
}

/// Adds files, properties, parent ids and the source stamp to change rows (those the answer
/// needs: one query each for the whole page).
async fn add_change_details(
    ctx: &Ctx<'_>,
    mut rows: Vec<Map<String, Value>>,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    let ids = ids_of(&rows, "changeid");
    let mut files: Option<HashMap<i64, Vec<Value>>> = None;
    if ctx.wants("files") {
        let mut sql = Sql::new("SELECT changeid, filename FROM change_files WHERE ");
        sql.append(&in_ids(ctx.engine(), "changeid", &ids))
            .push(" ORDER BY ")
            .push(&ctx.engine().write_order("change_files"));
        let found = files.get_or_insert_default();
        for row in sql.fetch_all(ctx.pool).await? {
            found
                .entry(row.try_get(0)?)
                .or_default()
                .push(Value::String(row.try_get(1)?));
        }
    }
    let mut props: Option<HashMap<i64, Map<String, Value>>> = None;
    if ctx.wants("properties") {
        let mut sql = Sql::new(
            "SELECT changeid, property_name, property_value FROM change_properties WHERE ",
        );
        sql.append(&in_ids(ctx.engine(), "changeid", &ids))
            .push(" ORDER BY ")
            .push(&ctx.engine().write_order("change_properties"));
        let found = props.get_or_insert_default();
        for row in sql.fetch_all(ctx.pool).await? {
            let value: String = row.try_get(2)?;
            let value: Value = serde_json::from_str(&value).unwrap_or(Value::String(value));
            found
                .entry(row.try_get(0)?)
                .or_default()
                .insert(row.try_get(1)?, value);
        }
    }
    let stamps = if ctx.wants("sourcestamp") {
        Some(sourcestamps_by_id(ctx, &ids_of(&rows, "_sourcestampid")).await?)
    } else {
        None
    };
    for row in &mut rows {
        let id = row.get("changeid").and_then(Value::as_i64).unwrap_or(-1);
        if let Some(files) = &mut files {
            let list = files.remove(&id).unwrap_or_default();
            row.insert("files".into(), Value::Array(list));
        }
        if let Some(props) = &mut props {
            let map = props.remove(&id).unwrap_or_default();
            row.insert("properties".into(), Value::Object(map));
        }
        let parents = row
            .get("_parent")
            .filter(|v| !v.is_null())
            .cloned()
            .map_or(vec![], |p| vec![p]);
        row.insert("parent_changeids".into(), Value::Array(parents));
        if let Some(stamps) = &stamps {
            let ssid = row
                .get("_sourcestampid")
                .and_then(Value::as_i64)
                .unwrap_or(-1);
            let stamp = stamps.get(&ssid).cloned();
            row.insert(
                "sourcestamp".into(),
                stamp.map_or(Value::Null, Value::Object),
            );
        }
    }
    Ok(rows)
}

/// `/changes/N/properties_list` (Buildbot 4.3 answers 500 here; we answer the list).
pub(super) async fn change_properties(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let id = ctx.args.int("changeid").unwrap_or(-1);
    let sql = Sql::cond(
        &format!(
            "SELECT property_name, property_value FROM change_properties WHERE changeid = ? ORDER BY {}",
            ctx.engine().write_order("change_properties")
        ),
        Bind::Int(id),
    );
    let props = split_sourced(sql.fetch_all(ctx.pool).await?)?;
    Ok(sourced_properties(ctx, props))
}

/// Rows of `(name, '[value, source]')` as `(name, value JSON, source)`.
fn split_sourced(rows: Vec<crate::db::Row>) -> Result<Vec<(String, String, String)>, ApiError> {
    rows.iter()
        .map(|row| {
            let name: String = row.try_get(0)?;
            let raw: String = row.try_get(1)?;
            let (value, source) = match serde_json::from_str::<Value>(&raw) {
                Ok(Value::Array(pair)) if pair.len() == 2 => (
                    pair[0].to_string(),
                    pair[1].as_str().unwrap_or_default().to_string(),
                ),
                _ => (raw, String::new()),
            };
            Ok((name, value, source))
        })
        .collect()
}

static SOURCESTAMPS: Table = Table {
    from: "sourcestamps",
    columns: &[
        Column {
            field: "ssid",
            expr: "sourcestamps.id",
            col: Col::Int,
        },
        Column {
            field: "branch",
            expr: "sourcestamps.branch",
            col: Col::Text,
        },
        Column {
            field: "revision",
            expr: "sourcestamps.revision",
            col: Col::Text,
        },
        Column {
            field: "repository",
            expr: "sourcestamps.repository",
            col: Col::Text,
        },
        Column {
            field: "codebase",
            expr: "sourcestamps.codebase",
            col: Col::Text,
        },
        Column {
            field: "project",
            expr: "sourcestamps.project",
            col: Col::Text,
        },
        Column {
            field: "created_at",
            expr: "sourcestamps.created_at",
            col: Col::Int,
        },
        Column {
            field: "_patchid",
            expr: "sourcestamps.patchid",
            col: Col::Int,
        },
    ],
    key: "sourcestamps.id",
    default_order: &["ssid"],
    split_fields: &[],
};

pub(super) async fn sourcestamps(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let enrich = |rows| add_patches(ctx, rows);
    if ctx.endpoint.kind == Kind::Sourcestamp {
        let id = ctx.args.int("ssid").unwrap_or(-1);
        return ctx
            .entity(
                &SOURCESTAMPS,
                &[Sql::cond("sourcestamps.id = ?", Bind::Int(id))],
                enrich,
            )
            .await;
    }
    let mut conds = Vec::new();
    if ctx.args.has("buildsetid") {
        let bsid = ctx.args.int("buildsetid").unwrap_or(-1);
        conds.push(Sql::cond(
            "sourcestamps.id IN (SELECT sourcestampid FROM buildset_sourcestamps WHERE buildsetid = ?)",
            Bind::Int(bsid),
        ));
    }
    ctx.collection(&SOURCESTAMPS, &conds, false, enrich).await
}

/// Adds `patch` (null, or the patch object) to source stamp rows.
async fn add_patches(
    ctx: &Ctx<'_>,
    mut rows: Vec<Map<String, Value>>,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    let patch_ids = ids_of(&rows, "_patchid");
    let mut patches: HashMap<i64, Value> = HashMap::new();
    if !patch_ids.is_empty() {
        let mut sql = Sql::new(
            "SELECT id, patchlevel, patch_base64, patch_author, patch_comment, subdir FROM patches WHERE ",
        );
        sql.append(&in_ids(ctx.engine(), "id", &patch_ids));
        for row in sql.fetch_all(ctx.pool).await? {
            patches.insert(
                row.try_get(0)?,
                json!({
                    "patchid": row.try_get::<i64, _>(0)?,
                    "level": row.try_get::<i64, _>(1)?,
                    "body": row.try_get::<String, _>(2)?,
                    "author": row.try_get::<String, _>(3)?,
                    "comment": row.try_get::<String, _>(4)?,
                    "subdir": row.try_get::<Option<String>, _>(5)?,
                }),
            );
        }
    }
    for row in &mut rows {
        let patch = row
            .get("_patchid")
            .and_then(Value::as_i64)
            .and_then(|id| patches.get(&id).cloned());
        row.insert("patch".into(), patch.unwrap_or(Value::Null));
    }
    Ok(rows)
}

/// Source stamps by id, as nested objects.
async fn sourcestamps_by_id(
    ctx: &Ctx<'_>,
    ids: &[i64],
) -> Result<HashMap<i64, Map<String, Value>>, ApiError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = SOURCESTAMPS
        .fetch_where(ctx.pool, &[in_ids(ctx.engine(), "sourcestamps.id", ids)])
        .await?;
    let rows = add_patches(ctx, rows).await?;
    Ok(rows
        .into_iter()
        .map(|mut row| {
            let id = row.get("ssid").and_then(Value::as_i64).unwrap_or(-1);
            row.retain(|k, _| !k.starts_with('_'));
            (id, row)
        })
        .collect())
}

static BUILDSETS: Table = Table {
    from: "buildsets",
    columns: &[
        Column {
            field: "bsid",
            expr: "buildsets.id",
            col: Col::Int,
        },
        Column {
            field: "external_idstring",
            expr: "buildsets.external_idstring",
            col: Col::Text,
        },
        Column {
            field: "reason",
            expr: "buildsets.reason",
            col: Col::Text,
        },
        Column {
            field: "submitted_at",
            expr: "buildsets.submitted_at",
            col: Col::Int,
        },
        Column {
            field: "complete",
            expr: "buildsets.complete",
            col: Col::Bool,
        },
        Column {
            field: "complete_at",
            expr: "buildsets.complete_at",
            col: Col::Int,
        },
        Column {
            field: "results",
            expr: "buildsets.results",
            col: Col::Int,
        },
        Column {
            field: "parent_buildid",
            expr: "buildsets.parent_buildid",
            col: Col::Int,
        },
        Column {
            field: "parent_relationship",
            expr: "buildsets.parent_relationship",
            col: Col::Text,
        },
        Column {
            field: "rebuilt_buildid",
            expr: "buildsets.rebuilt_buildid",
            col: Col::Int,
        },
    ],
    key: "buildsets.id",
    default_order: &["bsid"],
    split_fields: &[],
};

pub(super) async fn buildsets(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let enrich = |rows| add_buildset_sourcestamps(ctx, rows);
    if ctx.endpoint.kind == Kind::Buildset {
        let id = ctx.args.int("bsid").unwrap_or(-1);
        return ctx
            .entity(
                &BUILDSETS,
                &[Sql::cond("buildsets.id = ?", Bind::Int(id))],
                enrich,
            )
            .await;
    }
    ctx.collection(&BUILDSETS, &[], true, enrich).await
}

async fn add_buildset_sourcestamps(
    ctx: &Ctx<'_>,
    mut rows: Vec<Map<String, Value>>,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    if !ctx.wants("sourcestamps") {
        return Ok(rows);
    }
    let mut sql = Sql::new("SELECT buildsetid, sourcestampid FROM buildset_sourcestamps WHERE ");
    sql.append(&in_ids(ctx.engine(), "buildsetid", &ids_of(&rows, "bsid")))
        .push(" ORDER BY id");
    let links: Vec<(i64, i64)> = sql
        .fetch_all(ctx.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, ApiError>>()?;
    let ssids: Vec<i64> = links.iter().map(|(_, s)| *s).collect();
    let stamps = sourcestamps_by_id(ctx, &ssids).await?;
    let mut of_buildset: HashMap<i64, Vec<Value>> = HashMap::new();
    for (bsid, ssid) in links {
        if let Some(stamp) = stamps.get(&ssid) {
            of_buildset
                .entry(bsid)
                .or_default()
                .push(Value::Object(stamp.clone()));
        }
    }
    for row in &mut rows {
        let id = row.get("bsid").and_then(Value::as_i64).unwrap_or(-1);
        let list = of_buildset.remove(&id).unwrap_or_default();
        row.insert("sourcestamps".into(), Value::Array(list));
    }
    Ok(rows)
}

/// `/buildsets/N/properties` and `/properties_list`.
pub(super) async fn buildset_properties(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let id = ctx.args.int("bsid").unwrap_or(-1);
    let sql = Sql::cond(
        &format!(
            "SELECT property_name, property_value FROM buildset_properties WHERE buildsetid = ? ORDER BY {}",
            ctx.engine().write_order("buildset_properties")
        ),
        Bind::Int(id),
    );
    let props = split_sourced(sql.fetch_all(ctx.pool).await?)?;
    Ok(sourced_properties(ctx, props))
}

static BUILDREQUESTS: Table = Table {
    from: "buildrequests LEFT JOIN buildrequest_claims claims ON claims.brid = buildrequests.id",
    columns: &[
        Column {
            field: "buildrequestid",
            expr: "buildrequests.id",
            col: Col::Int,
        },
        Column {
            field: "buildsetid",
            expr: "buildrequests.buildsetid",
            col: Col::Int,
        },
        Column {
            field: "builderid",
            expr: "buildrequests.builderid",
            col: Col::Int,
        },
        Column {
            field: "priority",
            expr: "buildrequests.priority",
            col: Col::Int,
        },
        Column {
            field: "claimed",
            expr: "CASE WHEN claims.claimed_at IS NULL THEN 0 ELSE 1 END",
            col: Col::Bool,
        },
        Column {
            field: "claimed_at",
            expr: "claims.claimed_at",
            col: Col::Int,
        },
        Column {
            field: "claimed_by_masterid",
            expr: "claims.masterid",
            col: Col::Int,
        },
        Column {
            field: "complete",
            expr: "buildrequests.complete",
            col: Col::Bool,
        },
        Column {
            field: "results",
            expr: "buildrequests.results",
            col: Col::Int,
        },
        Column {
            field: "submitted_at",
            expr: "buildrequests.submitted_at",
            col: Col::Int,
        },
        Column {
            field: "complete_at",
            expr: "buildrequests.complete_at",
            col: Col::Int,
        },
        Column {
            field: "waited_for",
            expr: "buildrequests.waited_for",
            col: Col::Bool,
        },
    ],
    key: "buildrequests.id",
    default_order: &["buildrequestid"],
    split_fields: &[],
};

pub(super) async fn buildrequests(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let enrich = |mut rows: Vec<Map<String, Value>>| async {
        for row in &mut rows {
            row.insert("properties".into(), Value::Null);
        }
        Ok(rows)
    };
    if ctx.endpoint.kind == Kind::BuildRequest {
        let id = ctx.args.int("buildrequestid").unwrap_or(-1);
        return ctx
            .entity(
                &BUILDREQUESTS,
                &[Sql::cond("buildrequests.id = ?", Bind::Int(id))],
                enrich,
            )
            .await;
    }
    let mut conds = Vec::new();
    if let Some(builderid) = ctx.args.int("builderid") {
        conds.push(Sql::cond(
            "buildrequests.builderid = ?",
            Bind::Int(builderid),
        ));
    }
    ctx.collection(&BUILDREQUESTS, &conds, true, enrich).await
}
