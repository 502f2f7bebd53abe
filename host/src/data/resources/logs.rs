//! Logs and their contents: line ranges (`contents`) and whole-text downloads (`raw`, `raw_inline`).

use serde_json::json;
use sqlx::Row;

use super::Ctx;
use crate::data::endpoints::Kind;
use crate::data::error::ApiError;
use crate::data::sql::{Bind, Col, Column, Sql, Table};
use crate::data::Answer;
use crate::db::{logchunks, Pool};

static LOGS: Table = Table {
    from: "logs",
    columns: &[
        Column {
            field: "logid",
            expr: "logs.id",
            col: Col::Int,
        },
        Column {
            field: "name",
            expr: "logs.name",
            col: Col::Text,
        },
        Column {
            field: "slug",
            expr: "logs.slug",
            col: Col::Text,
        },
        Column {
            field: "stepid",
            expr: "logs.stepid",
            col: Col::Int,
        },
        Column {
            field: "complete",
            expr: "logs.complete",
            col: Col::Bool,
        },
        Column {
            field: "num_lines",
            expr: "logs.num_lines",
            col: Col::Int,
        },
        Column {
            field: "type",
            expr: "logs.type",
            col: Col::Text,
        },
    ],
    key: "logs.id",
    default_order: &["logid"],
    split_fields: &[],
};

pub(super) async fn logs(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let keep = |rows| async { Ok(rows) };
    if ctx.endpoint.kind == Kind::Log {
        let Some(logid) = ctx.log_id().await? else {
            return Err(ctx.not_found());
        };
        return ctx
            .entity(&LOGS, &[Sql::cond("logs.id = ?", Bind::Int(logid))], keep)
            .await;
    }
    let Some(stepid) = ctx.step_id().await? else {
        return Ok(ctx.empty());
    };
    ctx.collection(
        &LOGS,
        &[Sql::cond("logs.stepid = ?", Bind::Int(stepid))],
        false,
        keep,
    )
    .await
}

/// A log's identity and where it belongs.
struct LogInfo {
    id: i64,
    num_lines: i64,
    kind: String,
    slug: String,
    step_name: String,
    build_number: i64,
    builder_name: String,
    worker_name: Option<String>,
}

async fn log_info(ctx: &Ctx<'_>) -> Result<Option<LogInfo>, ApiError> {
    let Some(logid) = ctx.log_id().await? else {
        return Ok(None);
    };
    let sql = Sql::cond(
        "SELECT logs.id, logs.num_lines, logs.type, logs.slug, steps.name, builds.number, builders.name, workers.name \
         FROM logs JOIN steps ON steps.id = logs.stepid JOIN builds ON builds.id = steps.buildid \
         JOIN builders ON builders.id = builds.builderid LEFT JOIN workers ON workers.id = builds.workerid \
         WHERE logs.id = ?",
        Bind::Int(logid),
    );
    let rows = sql.fetch_all(ctx.pool).await?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(LogInfo {
        id: r.try_get(0)?,
        num_lines: r.try_get(1)?,
        kind: r.try_get(2)?,
        slug: r.try_get(3)?,
        step_name: r.try_get(4)?,
        build_number: r.try_get(5)?,
        builder_name: r.try_get(6)?,
        worker_name: r.try_get(7)?,
    }))
}

/// Reads lines `first..=last` of a log, each with its trailing newline.
async fn read_lines(
    ctx: &Ctx<'_>,
    logid: i64,
    first: i64,
    last: i64,
) -> Result<Vec<String>, ApiError> {
    let mut sql = Sql::cond(
        &format!(
            "SELECT first_line, last_line, compressed, {} FROM logchunks WHERE logid = ?",
            ctx.engine().bytes("content")
        ),
        Bind::Int(logid),
    );
    sql.push(" AND last_line >= ").push_bind(Bind::Int(first));
    sql.push(" AND first_line <= ").push_bind(Bind::Int(last));
    sql.push(" ORDER BY first_line");
    let mut lines = Vec::new();
    for row in sql.fetch_all(ctx.pool).await? {
        let chunk_first: i64 = row.try_get(0)?;
        let compressed: i64 = row.try_get(2)?;
        let content: Vec<u8> = row.try_get::<Option<Vec<u8>>, _>(3)?.unwrap_or_default();
        let text = logchunks::decode(compressed, &content)?;
        crate::data::budget::charge(text.len())?;
        for (i, line) in text.split('\n').enumerate() {
            let n = chunk_first + i as i64;
            if n >= first && n <= last {
                lines.push(format!("{line}\n"));
            }
        }
    }
    Ok(lines)
}

/// One stored chunk of a log, still compressed, as [`send_chunks`] reads it.
pub(crate) struct StoredChunk {
    /// The number of its first line (from 0).
    pub first_line: i64,
    /// The number of its last line.
    pub last_line: i64,
    /// The `compressed` column (see [`logchunks::decode`]).
    pub compressed: i64,
    /// The stored bytes.
    pub content: Vec<u8>,
}

/// Sends a log's chunks in line order, one row at a time, so that a whole log is never in
/// memory at once; stops when the receiver is dropped.
pub(crate) async fn send_chunks(
    pool: &Pool,
    logid: i64,
    to: tokio::sync::mpsc::Sender<StoredChunk>,
) -> Result<(), ApiError> {
    use futures_util::TryStreamExt as _;
    let sql = format!(
        "SELECT first_line, last_line, compressed, {} FROM logchunks \
         WHERE logid = $1 ORDER BY first_line",
        crate::db::Engine::of(pool).bytes("content")
    );
    let mut rows = sqlx::query(&sql).bind(logid).fetch(pool);
    while let Some(row) = rows.try_next().await? {
        let chunk = StoredChunk {
            first_line: row.try_get(0)?,
            last_line: row.try_get(1)?,
            compressed: row.try_get(2)?,
            content: row.try_get::<Option<Vec<u8>>, _>(3)?.unwrap_or_default(),
        };
        if to.send(chunk).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// `/logs/N/contents?offset=&limit=`: one chunk holding the requested lines.
pub(crate) async fn log_contents(
    ctx: &Ctx<'_>,
    offset: Option<i64>,
    limit: Option<i64>,
) -> Result<Answer, ApiError> {
    let Some(info) = log_info(ctx).await? else {
        return Err(ctx.not_found());
    };
    let first = offset.unwrap_or(0).max(0);
    let last = match limit {
        Some(l) if l >= 0 => first.saturating_add(l - 1).min(info.num_lines - 1),
        _ => info.num_lines - 1,
    };
    if first >= info.num_lines.max(1) || (info.num_lines > 0 && last < first) {
        return Err(ctx.not_found());
    }
    let content: String = read_lines(ctx, info.id, first, last).await?.concat();
    let chunk = json!({"logid": info.id, "firstline": first, "content": content});
    let mut item = chunk.as_object().cloned().unwrap_or_default();
    ctx.spec.select_fields(&mut item);
    Ok(Answer::Items {
        plural: "logchunks",
        items: vec![item],
        total: None,
    })
}

/// `/logs/N/raw` (download) and `/raw_inline`: the text without stdio channel prefixes.
pub(super) async fn log_raw(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    let Some(info) = log_info(ctx).await? else {
        return Err(ctx.not_found());
    };
    let lines = read_lines(ctx, info.id, 0, info.num_lines - 1).await?;
    let mut body = String::new();
    let content_type = if info.kind == "h" {
        "text/html"
    } else {
        "text/plain"
    };
    if info.kind == "s" {
        body.push_str(&format!(
            "Builder: {}\nBuild number: {}\nWorker name: {}\n",
            info.builder_name,
            info.build_number,
            info.worker_name.as_deref().unwrap_or("None")
        ));
        for line in &lines {
            let mut chars = line.chars();
            chars.next();
            body.push_str(chars.as_str());
        }
    } else {
        body = lines.concat();
    }
    let filename = (ctx.endpoint.kind == Kind::LogRaw).then(|| {
        format!(
            "{}_build_{}_step_{}_log_{}",
            info.builder_name, info.build_number, info.step_name, info.slug
        )
    });
    Ok(Answer::Raw {
        body: body.into_bytes(),
        content_type,
        filename,
    })
}
