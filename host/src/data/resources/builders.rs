//! Builders, masters, workers, projects, schedulers, change sources and force schedulers.

use serde_json::{json, Map, Value};

use super::{batch, ids_of, in_ids, text, Ctx};
use crate::data::endpoints::Kind;
use crate::data::error::ApiError;
use crate::data::sql::{Bind, Col, Column, Sql, Table};
use crate::data::Answer;

static BUILDERS: Table = Table {
    from: "builders",
    columns: &[
        Column {
            field: "builderid",
            expr: "builders.id",
            col: Col::Int,
        },
        Column {
            field: "name",
            expr: "builders.name",
            col: Col::Text,
        },
        Column {
            field: "description",
            expr: "builders.description",
            col: Col::Text,
        },
        Column {
            field: "description_format",
            expr: "builders.description_format",
            col: Col::Text,
        },
        Column {
            field: "description_html",
            expr: "builders.description_html",
            col: Col::Text,
        },
        Column {
            field: "projectid",
            expr: "builders.projectid",
            col: Col::Int,
        },
    ],
    key: "builders.id",
    default_order: &["builderid"],
    split_fields: &[],
};

pub(super) async fn builders(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let mut conds = Vec::new();
    if let Some(masterid) = ctx.args.int("masterid") {
        conds.push(Sql::cond(
            "builders.id IN (SELECT builderid FROM builder_masters WHERE masterid = ?)",
            Bind::Int(masterid),
        ));
    }
    if let Some(projectid) = ctx.args.int("projectid") {
        conds.push(Sql::cond("builders.projectid = ?", Bind::Int(projectid)));
    }
    if let Some(workerid) = ctx.args.int("workerid") {
        conds.push(Sql::cond(
            "builders.id IN (SELECT bm.builderid FROM configured_workers cw \
             JOIN builder_masters bm ON bm.id = cw.buildermasterid WHERE cw.workerid = ?)",
            Bind::Int(workerid),
        ));
    }
    let enrich = |rows| add_builder_lists(ctx, rows);
    if ctx.endpoint.kind == Kind::Builder {
        if let Some(name) = ctx.args.str("buildername") {
            conds.push(Sql::cond("builders.name = ?", text(name)));
        } else if let Some(id) = ctx.args.int("builderid") {
            conds.push(Sql::cond("builders.id = ?", Bind::Int(id)));
        }
        return ctx.entity(&BUILDERS, &conds, enrich).await;
    }
    ctx.collection(&BUILDERS, &conds, false, enrich).await
}

/// Adds `masterids` and `tags` to builder rows (those the answer needs: one query each for
/// the whole page).
async fn add_builder_lists(
    ctx: &Ctx<'_>,
    mut rows: Vec<Map<String, Value>>,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    let ids = ids_of(&rows, "builderid");
    let mut masters_of = None;
    if ctx.wants("masterids") {
        let mut sql = Sql::new("FROM builder_masters WHERE ");
        sql.append(&in_ids(ctx.engine(), "builderid", &ids));
        let masters: Vec<(i64, i64)> = batch(ctx, "builderid, masterid", sql, "id").await?;
        masters_of = Some(group(masters.into_iter().map(|(b, m)| (b, json!(m)))));
    }
    let mut tags_of = None;
    if ctx.wants("tags") {
        let mut sql = Sql::new("FROM builders_tags bt JOIN tags t ON t.id = bt.tagid WHERE ");
        sql.append(&in_ids(ctx.engine(), "bt.builderid", &ids));
        let tags: Vec<(i64, String)> =
            batch(ctx, "bt.builderid, CAST(t.name AS TEXT)", sql, "bt.id").await?;
        tags_of = Some(group(tags.into_iter().map(|(b, t)| (b, json!(t)))));
    }
    for row in &mut rows {
        let id = row.get("builderid").and_then(Value::as_i64).unwrap_or(-1);
        for (field, lists) in [("masterids", &mut masters_of), ("tags", &mut tags_of)] {
            if let Some(lists) = lists {
                let list = lists.remove(&id).unwrap_or_default();
                row.insert(field.into(), Value::Array(list));
            }
        }
    }
    Ok(rows)
}

/// Groups `(parent id, value)` pairs by parent, keeping their order.
fn group(pairs: impl Iterator<Item = (i64, Value)>) -> std::collections::HashMap<i64, Vec<Value>> {
    let mut groups: std::collections::HashMap<i64, Vec<Value>> = std::collections::HashMap::new();
    for (id, value) in pairs {
        groups.entry(id).or_default().push(value);
    }
    groups
}

static MASTERS: Table = Table {
    from: "masters",
    columns: &[
        Column {
            field: "masterid",
            expr: "masters.id",
            col: Col::Int,
        },
        Column {
            field: "name",
            expr: "masters.name",
            col: Col::Text,
        },
        Column {
            field: "active",
            expr: "masters.active",
            col: Col::Bool,
        },
        Column {
            field: "last_active",
            expr: "masters.last_active",
            col: Col::Int,
        },
    ],
    key: "masters.id",
    default_order: &["masterid"],
    split_fields: &[],
};

pub(super) async fn masters(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let mut conds = Vec::new();
    if let Some(builderid) = ctx.args.int("builderid") {
        conds.push(Sql::cond(
            "masters.id IN (SELECT masterid FROM builder_masters WHERE builderid = ?)",
            Bind::Int(builderid),
        ));
    }
    let keep = |rows| async { Ok(rows) };
    if ctx.endpoint.kind == Kind::Master {
        conds.push(Sql::cond(
            "masters.id = ?",
            Bind::Int(ctx.args.int("masterid").unwrap_or(-1)),
        ));
        return ctx.entity(&MASTERS, &conds, keep).await;
    }
    ctx.collection(&MASTERS, &conds, false, keep).await
}

static WORKERS: Table = Table {
    from: "workers",
    columns: &[
        Column {
            field: "workerid",
            expr: "workers.id",
            col: Col::Int,
        },
        Column {
            field: "name",
            expr: "workers.name",
            col: Col::Text,
        },
        Column {
            field: "workerinfo",
            expr: "workers.info",
            col: Col::Json,
        },
        Column {
            field: "paused",
            expr: "workers.paused",
            col: Col::Bool,
        },
        Column {
            field: "pause_reason",
            expr: "workers.pause_reason",
            col: Col::Text,
        },
        Column {
            field: "graceful",
            expr: "workers.graceful",
            col: Col::Bool,
        },
    ],
    key: "workers.id",
    default_order: &["workerid"],
    split_fields: &[],
};

pub(super) async fn workers(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let builderid = ctx.args.int("builderid");
    let masterid = ctx.args.int("masterid");
    let mut conds = Vec::new();
    let mut configured = Sql::new(
        "workers.id IN (SELECT cw.workerid FROM configured_workers cw \
         JOIN builder_masters bm ON bm.id = cw.buildermasterid WHERE 1 = 1",
    );
    if let Some(b) = builderid {
        configured
            .push(" AND bm.builderid = ")
            .push_bind(Bind::Int(b));
    }
    if let Some(m) = masterid {
        configured
            .push(" AND bm.masterid = ")
            .push_bind(Bind::Int(m));
    }
    configured.push(")");
    match (builderid, masterid) {
        (Some(_), _) => conds.push(configured),
        (None, Some(m)) => {
            let mut either = Sql::new("(");
            either.append(&configured);
            either.append(&Sql::cond(
                " OR workers.id IN (SELECT workerid FROM connected_workers WHERE masterid = ?))",
                Bind::Int(m),
            ));
            conds.push(either);
        }
        (None, None) => {}
    }
    let enrich = |rows| add_worker_lists(ctx, rows, builderid, masterid);
    if ctx.endpoint.kind == Kind::Worker {
        if let Some(name) = ctx.args.str("name") {
            conds.push(Sql::cond("workers.name = ?", text(name)));
        } else {
            conds.push(Sql::cond(
                "workers.id = ?",
                Bind::Int(ctx.args.int("workerid").unwrap_or(-1)),
            ));
        }
        return ctx.entity(&WORKERS, &conds, enrich).await;
    }
    ctx.collection(&WORKERS, &conds, false, enrich).await
}

/// Adds `connected_to` and `configured_on` (restricted to the builder/master in the path).
async fn add_worker_lists(
    ctx: &Ctx<'_>,
    mut rows: Vec<Map<String, Value>>,
    builderid: Option<i64>,
    masterid: Option<i64>,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    use sqlx::Row;
    let ids = ids_of(&rows, "workerid");
    let mut sql = Sql::new("FROM connected_workers WHERE ");
    sql.append(&in_ids(ctx.engine(), "workerid", &ids));
    if let Some(m) = masterid {
        sql.push(" AND masterid = ").push_bind(Bind::Int(m));
    }
    let connected: Vec<(i64, i64)> = batch(ctx, "workerid, masterid", sql, "id").await?;
    let mut sql = Sql::new(
        "SELECT cw.workerid, bm.builderid, bm.masterid FROM configured_workers cw \
         JOIN builder_masters bm ON bm.id = cw.buildermasterid WHERE ",
    );
    sql.append(&in_ids(ctx.engine(), "cw.workerid", &ids));
    if let Some(b) = builderid {
        sql.push(" AND bm.builderid = ").push_bind(Bind::Int(b));
    }
    if let Some(m) = masterid {
        sql.push(" AND bm.masterid = ").push_bind(Bind::Int(m));
    }
    sql.push(" ORDER BY cw.id");
    let configured: Vec<(i64, i64, i64)> = sql
        .fetch_all(ctx.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<_, ApiError>>()?;
    let mut connected_to = group(
        connected
            .into_iter()
            .map(|(w, m)| (w, json!({"masterid": m}))),
    );
    let mut configured_on = group(
        configured
            .into_iter()
            .map(|(w, b, m)| (w, json!({"builderid": b, "masterid": m}))),
    );
    for row in &mut rows {
        let id = row.get("workerid").and_then(Value::as_i64).unwrap_or(-1);
        row.insert(
            "connected_to".into(),
            Value::Array(connected_to.remove(&id).unwrap_or_default()),
        );
        row.insert(
            "configured_on".into(),
            Value::Array(configured_on.remove(&id).unwrap_or_default()),
        );
        if row.get("workerinfo").is_none_or(Value::is_null) {
            row.insert("workerinfo".into(), json!({}));
        }
    }
    Ok(rows)
}

static PROJECTS: Table = Table {
    from: "projects",
    columns: &[
        Column {
            field: "projectid",
            expr: "projects.id",
            col: Col::Int,
        },
        Column {
            field: "name",
            expr: "projects.name",
            col: Col::Text,
        },
        Column {
            field: "slug",
            expr: "projects.slug",
            col: Col::Text,
        },
        Column {
            field: "description",
            expr: "projects.description",
            col: Col::Text,
        },
        Column {
            field: "description_format",
            expr: "projects.description_format",
            col: Col::Text,
        },
        Column {
            field: "description_html",
            expr: "projects.description_html",
            col: Col::Text,
        },
    ],
    key: "projects.id",
    // Buildbot reads projects by name (`get_projects`, `get_active_projects`).
    default_order: &["name"],
    split_fields: &[],
};

/// Projects with a builder that a running master has configured (a `builder_masters` row:
/// a master removes its rows when it stops or is expired), Buildbot's "active" projects.
const ACTIVE_PROJECT: &str = "EXISTS (SELECT 1 FROM builders JOIN builder_masters \
     ON builder_masters.builderid = builders.id WHERE builders.projectid = projects.id)";

pub(super) async fn projects(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    // `active` is not a column: Buildbot answers the collection's `active` filter itself and
    // reports the asked value in each project, null when none was asked (and for one project).
    let mut spec = ctx.spec.clone();
    let active = match ctx.endpoint.kind {
        Kind::Project => None,
        _ => spec.pop_boolean_filter("active"),
    };
    let enrich = |mut rows: Vec<Map<String, Value>>| async move {
        for row in &mut rows {
            row.insert("active".into(), active.map_or(Value::Null, Value::Bool));
        }
        Ok(rows)
    };
    if ctx.endpoint.kind == Kind::Project {
        let cond = match ctx.args.str("projectname") {
            Some(name) => Sql::cond("projects.name = ?", text(name)),
            None => Sql::cond(
                "projects.id = ?",
                Bind::Int(ctx.args.int("projectid").unwrap_or(-1)),
            ),
        };
        return ctx.entity(&PROJECTS, &[cond], enrich).await;
    }
    // Buildbot lists an active project once per builder and master it has (a join without
    // DISTINCT); each is listed once here (docs/compatibility.md).
    let conds: Vec<Sql> = match active {
        None => Vec::new(),
        Some(true) => vec![Sql::new(ACTIVE_PROJECT)],
        Some(false) => vec![Sql::new(&format!("NOT {ACTIVE_PROJECT}"))],
    };
    let ctx = Ctx {
        spec: &spec,
        ..*ctx
    };
    ctx.collection(&PROJECTS, &conds, false, enrich).await
}

static SCHEDULERS: Table = Table {
    from: "schedulers LEFT JOIN scheduler_masters sm ON sm.schedulerid = schedulers.id \
           LEFT JOIN masters m ON m.id = sm.masterid",
    columns: &[
        Column {
            field: "schedulerid",
            expr: "schedulers.id",
            col: Col::Int,
        },
        Column {
            field: "name",
            expr: "schedulers.name",
            col: Col::Text,
        },
        Column {
            field: "enabled",
            expr: "schedulers.enabled",
            col: Col::Bool,
        },
        Column {
            field: "_masterid",
            expr: "m.id",
            col: Col::Int,
        },
        Column {
            field: "_master_name",
            expr: "m.name",
            col: Col::Text,
        },
        Column {
            field: "_master_active",
            expr: "m.active",
            col: Col::Bool,
        },
        Column {
            field: "_master_last_active",
            expr: "m.last_active",
            col: Col::Int,
        },
    ],
    key: "schedulers.id",
    default_order: &["schedulerid"],
    split_fields: &[],
};

static CHANGESOURCES: Table = Table {
    from:
        "changesources LEFT JOIN changesource_masters cm ON cm.changesourceid = changesources.id \
           LEFT JOIN masters m ON m.id = cm.masterid",
    columns: &[
        Column {
            field: "changesourceid",
            expr: "changesources.id",
            col: Col::Int,
        },
        Column {
            field: "name",
            expr: "changesources.name",
            col: Col::Text,
        },
        Column {
            field: "_masterid",
            expr: "m.id",
            col: Col::Int,
        },
        Column {
            field: "_master_name",
            expr: "m.name",
            col: Col::Text,
        },
        Column {
            field: "_master_active",
            expr: "m.active",
            col: Col::Bool,
        },
        Column {
            field: "_master_last_active",
            expr: "m.last_active",
            col: Col::Int,
        },
    ],
    key: "changesources.id",
    default_order: &["changesourceid"],
    split_fields: &[],
};

pub(super) async fn schedulers_and_changesources(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let (table, id_arg, id_expr) = match ctx.endpoint.kind {
        Kind::Schedulers | Kind::Scheduler => (&SCHEDULERS, "schedulerid", "schedulers.id"),
        _ => (&CHANGESOURCES, "changesourceid", "changesources.id"),
    };
    let mut conds = Vec::new();
    if let Some(m) = ctx.args.int("masterid") {
        conds.push(Sql::cond("m.id = ?", Bind::Int(m)));
    }
    let enrich = |mut rows: Vec<Map<String, Value>>| async {
        for row in &mut rows {
            let master = match row.get("_masterid") {
                Some(Value::Number(id)) => json!({
                    "masterid": id,
                    "name": row.get("_master_name"),
                    "active": row.get("_master_active"),
                    "last_active": row.get("_master_last_active"),
                }),
                _ => Value::Null,
            };
            row.insert("master".into(), master);
        }
        Ok(rows)
    };
    if matches!(ctx.endpoint.kind, Kind::Scheduler | Kind::Changesource) {
        conds.push(Sql::cond(
            &format!("{id_expr} = ?"),
            Bind::Int(ctx.args.int(id_arg).unwrap_or(-1)),
        ));
        return ctx.entity(table, &conds, enrich).await;
    }
    ctx.collection(table, &conds, false, enrich).await
}

/// Force schedulers come from the config file (Buildbot keeps them in master.cfg).
pub(super) async fn forceschedulers(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let mut items: Vec<Map<String, Value>> = ctx
        .forceschedulers
        .iter()
        .filter_map(|v| v.as_object().cloned())
        .collect();
    if ctx.args.has("builderid") {
        let builder = match ctx.args.int("builderid") {
            Some(id) => {
                let sql = Sql::cond("SELECT name FROM builders WHERE id = ?", Bind::Int(id));
                use sqlx::Row;
                let rows = sql.fetch_all(ctx.pool).await?;
                rows.first()
                    .map(|r| r.try_get::<String, _>(0))
                    .transpose()?
            }
            None => ctx.args.str("builderid").map(str::to_string),
        };
        items.retain(|fs| {
            builder.as_deref().is_some_and(|name| {
                fs.get("builder_names")
                    .and_then(Value::as_array)
                    .is_some_and(|names| names.iter().any(|n| n == name))
            })
        });
    }
    if ctx.endpoint.kind == Kind::ForceScheduler {
        let name = ctx.args.str("schedulername").unwrap_or_default();
        items.retain(|fs| fs.get("name").and_then(Value::as_str) == Some(name));
        return ctx.single(items);
    }
    Ok(ctx.in_memory(items, &[]))
}
