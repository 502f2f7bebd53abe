//! Builds, their steps, properties and build data.

use serde_json::{json, Map, Value};
use sqlx::Row;

use super::{batch, ids_of, in_ids, text, Ctx};
use crate::data::endpoints::Kind;
use crate::data::error::ApiError;
use crate::data::sql::{Bind, Col, Column, Sql, Table};
use crate::data::Answer;

static BUILDS: Table = Table {
    from: "builds",
    columns: &[
        Column {
            field: "buildid",
            expr: "builds.id",
            col: Col::Int,
        },
        Column {
            field: "number",
            expr: "builds.number",
            col: Col::Int,
        },
        Column {
            field: "builderid",
            expr: "builds.builderid",
            col: Col::Int,
        },
        Column {
            field: "buildrequestid",
            expr: "builds.buildrequestid",
            col: Col::Int,
        },
        Column {
            field: "workerid",
            expr: "builds.workerid",
            col: Col::Int,
        },
        Column {
            field: "masterid",
            expr: "builds.masterid",
            col: Col::Int,
        },
        Column {
            field: "started_at",
            expr: "builds.started_at",
            col: Col::Int,
        },
        Column {
            field: "complete",
            expr: "CASE WHEN builds.complete_at IS NULL THEN 0 ELSE 1 END",
            col: Col::Bool,
        },
        Column {
            field: "complete_at",
            expr: "builds.complete_at",
            col: Col::Int,
        },
        Column {
            field: "locks_duration_s",
            expr: "builds.locks_duration_s",
            col: Col::Int,
        },
        Column {
            field: "results",
            expr: "builds.results",
            col: Col::Int,
        },
        Column {
            field: "state_string",
            expr: "builds.state_string",
            col: Col::Text,
        },
    ],
    key: "builds.id",
    default_order: &["buildid"],
    split_fields: &["builderid"],
};

pub(super) async fn builds(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let enrich = |rows| add_properties(ctx, rows);
    if ctx.endpoint.kind == Kind::Build {
        let Some(buildid) = ctx.build_id().await? else {
            return Err(ctx.not_found());
        };
        return ctx
            .entity(
                &BUILDS,
                &[Sql::cond("builds.id = ?", Bind::Int(buildid))],
                enrich,
            )
            .await;
    }
    let mut conds = Vec::new();
    if ctx.args.has("builderid") || ctx.args.has("buildername") {
        match ctx.builder_id().await? {
            Some(id) => conds.push(Sql::cond("builds.builderid = ?", Bind::Int(id))),
            None => return Ok(ctx.empty()),
        }
    }
    if let Some(id) = ctx.args.int("buildrequestid") {
        conds.push(Sql::cond("builds.buildrequestid = ?", Bind::Int(id)));
    }
    if let Some(id) = ctx.args.int("workerid") {
        conds.push(Sql::cond("builds.workerid = ?", Bind::Int(id)));
    }
    if let Some(id) = ctx.args.int("changeid") {
        conds.push(Sql::cond(
            "builds.buildrequestid IN (SELECT br.id FROM buildrequests br \
             JOIN buildset_sourcestamps bss ON bss.buildsetid = br.buildsetid \
             JOIN changes c ON c.sourcestampid = bss.sourcestampid WHERE c.changeid = ?)",
            Bind::Int(id),
        ));
    }
    if ctx.endpoint.kind == Kind::TriggeredBuilds {
        conds.push(Sql::cond(
            "builds.buildrequestid IN (SELECT br.id FROM buildrequests br \
             JOIN buildsets bs ON bs.id = br.buildsetid WHERE bs.parent_buildid = ?)",
            Bind::Int(ctx.args.int("buildid").unwrap_or(-1)),
        ));
    }
    ctx.collection(&BUILDS, &conds, true, enrich).await
}

/// Fills `properties` with the properties named by `?property=` (`*` = all), else `{}`.
async fn add_properties(
    ctx: &Ctx<'_>,
    mut rows: Vec<Map<String, Value>>,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    let wanted = &ctx.spec.properties;
    let mut by_build: std::collections::HashMap<i64, Map<String, Value>> = Default::default();
    if !wanted.is_empty() && !rows.is_empty() {
        let mut sql = Sql::new("FROM build_properties WHERE ");
        sql.append(&in_ids(ctx.engine(), "buildid", &ids_of(&rows, "buildid")));
        if !wanted.iter().any(|p| p == "*") {
            sql.push(" AND name IN (");
            for (i, name) in wanted.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push_bind(text(name));
            }
            sql.push(")");
        }
        let found: Vec<(i64, String, String, String)> = batch(
            ctx,
            "buildid, name, value, source",
            sql,
            &ctx.engine().write_order("build_properties"),
        )
        .await?;
        for (buildid, name, value, source) in found {
            let value: Value = serde_json::from_str(&value).unwrap_or(Value::String(value));
            by_build
                .entry(buildid)
                .or_default()
                .insert(name, json!([value, source]));
        }
    }
    for row in &mut rows {
        let id = row.get("buildid").and_then(Value::as_i64).unwrap_or(-1);
        row.insert(
            "properties".into(),
            Value::Object(by_build.remove(&id).unwrap_or_default()),
        );
    }
    Ok(rows)
}

/// `/builds/N/properties` (one `{name: [value, source]}` object) and `/property_list`.
pub(super) async fn build_properties(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let Some(buildid) = ctx.build_id().await? else {
        return if ctx.endpoint.collection {
            Ok(ctx.empty())
        } else {
            Err(ctx.not_found())
        };
    };
    let sql = Sql::cond(
        &format!(
            "SELECT name, value, source FROM build_properties WHERE buildid = ? ORDER BY {}",
            ctx.engine().write_order("build_properties")
        ),
        Bind::Int(buildid),
    );
    let rows = sql.fetch_all(ctx.pool).await?;
    let props = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>(0)?,
                r.try_get::<String, _>(1)?,
                r.try_get::<String, _>(2)?,
            ))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(sourced_properties(ctx, props))
}

/// Renders `(name, JSON text, source)` triples as Buildbot's `properties` or `_properties`.
pub(super) fn sourced_properties(ctx: &Ctx<'_>, props: Vec<(String, String, String)>) -> Answer {
    if ctx.endpoint.collection {
        let items = props
            .into_iter()
            .map(|(name, value, source)| {
                json!({"name": name, "source": source, "value": value})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        return ctx.in_memory(items, &[]);
    }
    let mut object = Map::new();
    for (name, value, source) in props {
        let value: Value = serde_json::from_str(&value).unwrap_or(Value::String(value));
        object.insert(name, json!([value, source]));
    }
    Answer::Items {
        plural: ctx.endpoint.rtype.plural,
        items: vec![object],
        total: None,
    }
}

static STEPS: Table = Table {
    from: "steps",
    columns: &[
        Column {
            field: "stepid",
            expr: "steps.id",
            col: Col::Int,
        },
        Column {
            field: "number",
            expr: "steps.number",
            col: Col::Int,
        },
        Column {
            field: "name",
            expr: "steps.name",
            col: Col::Text,
        },
        Column {
            field: "buildid",
            expr: "steps.buildid",
            col: Col::Int,
        },
        Column {
            field: "started_at",
            expr: "steps.started_at",
            col: Col::Int,
        },
        Column {
            field: "locks_acquired_at",
            expr: "steps.locks_acquired_at",
            col: Col::Int,
        },
        Column {
            field: "complete",
            expr: "CASE WHEN steps.complete_at IS NULL THEN 0 ELSE 1 END",
            col: Col::Bool,
        },
        Column {
            field: "complete_at",
            expr: "steps.complete_at",
            col: Col::Int,
        },
        Column {
            field: "results",
            expr: "steps.results",
            col: Col::Int,
        },
        Column {
            field: "state_string",
            expr: "steps.state_string",
            col: Col::Text,
        },
        Column {
            field: "urls",
            expr: "steps.urls_json",
            col: Col::Json,
        },
        Column {
            field: "hidden",
            expr: "steps.hidden",
            col: Col::Bool,
        },
    ],
    key: "steps.id",
    default_order: &["number"],
    split_fields: &[],
};

pub(super) async fn steps(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let urls_default = |mut rows: Vec<Map<String, Value>>| async {
        for row in &mut rows {
            if row.get("urls").is_none_or(Value::is_null) {
                row.insert("urls".into(), json!([]));
            }
        }
        Ok(rows)
    };
    if ctx.endpoint.kind == Kind::Step {
        let Some(stepid) = ctx.step_id().await? else {
            return Err(ctx.not_found());
        };
        return ctx
            .entity(
                &STEPS,
                &[Sql::cond("steps.id = ?", Bind::Int(stepid))],
                urls_default,
            )
            .await;
    }
    let Some(buildid) = ctx.build_id().await? else {
        return Ok(ctx.empty());
    };
    ctx.collection(
        &STEPS,
        &[Sql::cond("steps.buildid = ?", Bind::Int(buildid))],
        false,
        urls_default,
    )
    .await
}

static BUILD_DATA: Table = Table {
    from: "build_data",
    columns: &[
        Column {
            field: "buildid",
            expr: "build_data.buildid",
            col: Col::Int,
        },
        Column {
            field: "name",
            expr: "build_data.name",
            col: Col::Text,
        },
        Column {
            field: "length",
            expr: "build_data.length",
            col: Col::Int,
        },
        Column {
            field: "source",
            expr: "build_data.source",
            col: Col::Text,
        },
    ],
    key: "build_data.id",
    default_order: &[],
    split_fields: &[],
};

pub(super) async fn build_data(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let Some(buildid) = ctx.build_id().await? else {
        return if ctx.endpoint.collection {
            Ok(ctx.empty())
        } else {
            Err(ctx.not_found())
        };
    };
    let mut conds = vec![Sql::cond("build_data.buildid = ?", Bind::Int(buildid))];
    let no_value = |mut rows: Vec<Map<String, Value>>| async {
        for row in &mut rows {
            row.insert("value".into(), Value::Null);
        }
        Ok(rows)
    };
    match ctx.endpoint.kind {
        Kind::BuildDataList => ctx.collection(&BUILD_DATA, &conds, false, no_value).await,
        Kind::BuildData => {
            conds.push(Sql::cond(
                "build_data.name = ?",
                text(ctx.args.str("name").unwrap_or_default()),
            ));
            ctx.entity(&BUILD_DATA, &conds, no_value).await
        }
        _ => {
            let mut sql = Sql::cond(
                &format!(
                    "SELECT {} FROM build_data WHERE buildid = ?",
                    ctx.engine().bytes("value")
                ),
                Bind::Int(buildid),
            );
            sql.push(" AND name = ")
                .push_bind(text(ctx.args.str("name").unwrap_or_default()));
            let rows = sql.fetch_all(ctx.pool).await?;
            let Some(row) = rows.first() else {
                return Err(ctx.not_found());
            };
            let body: Vec<u8> = row.try_get(0)?;
            Ok(Answer::Raw {
                body,
                content_type: "application/octet-stream",
                filename: None,
            })
        }
    }
}
