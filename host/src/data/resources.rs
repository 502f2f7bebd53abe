//! Reading each resource: dispatch from an endpoint to its tables, resolving parents named in
//! the path (builder by name, build by number, step by name, log by slug).

mod builders;
mod builds;
mod changes;
mod logs;
mod misc;

use serde_json::{Map, Value};

use super::endpoints::{Endpoint, Kind, PathArgs};
use super::error::ApiError;
use super::query::ResultSpec;
use super::sql::{Bind, Fetched, Sql, Table};
use super::Answer;
use crate::db::{Engine, Pool};

pub(crate) use logs::{log_contents, send_chunks, StoredChunk};

/// Everything a resource reader needs for one request.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub pool: &'a Pool,
    pub endpoint: &'static Endpoint,
    pub args: &'a PathArgs,
    pub spec: &'a ResultSpec,
    pub paging: super::Paging,
    pub forceschedulers: &'a [Value],
}

impl Ctx<'_> {
    /// Whether the answer needs the computed field `field`: it is selected (or no `field=`
    /// selects), or a filter or the order names it. A field nobody needs is not computed.
    pub fn wants(&self, field: &str) -> bool {
        let spec = self.spec;
        spec.fields
            .as_ref()
            .is_none_or(|fields| fields.iter().any(|f| f == field))
            || spec.filters.iter().any(|f| f.field == field)
            || spec
                .order
                .iter()
                .flatten()
                .any(|key| key.trim_start_matches('-') == field)
    }

    /// The engine the reads run on.
    pub fn engine(&self) -> Engine {
        Engine::of(self.pool)
    }

    /// Buildbot's 404 for an entity that does not exist.
    pub fn not_found(&self) -> ApiError {
        let patterns: Vec<String> = self
            .endpoint
            .patterns
            .iter()
            .map(|p| format!("/{p}"))
            .collect();
        ApiError::not_found(format!(
            "not found while getting from endpoint for {} with arguments {} and {}",
            patterns.join(","),
            self.spec.python_repr(),
            self.args.python_repr()
        ))
    }

    fn limit(&self) -> usize {
        self.spec.effective_limit(self.paging)
    }

    /// The builder named by the path (`builderid` or `buildername`).
    pub async fn builder_id(&self) -> Result<Option<i64>, ApiError> {
        if let Some(id) = self.args.int("builderid") {
            return Ok(Some(id));
        }
        match self.args.str("buildername") {
            Some(name) => {
                scalar(
                    self.pool,
                    Sql::cond("SELECT id FROM builders WHERE name = ?", text(name)),
                )
                .await
            }
            None => Ok(None),
        }
    }

    /// The build named by the path (`buildid`, or builder and `build_number`).
    pub async fn build_id(&self) -> Result<Option<i64>, ApiError> {
        if let Some(id) = self.args.int("buildid") {
            return Ok(Some(id));
        }
        let (Some(builder), Some(number)) =
            (self.builder_id().await?, self.args.int("build_number"))
        else {
            return Ok(None);
        };
        let mut sql = Sql::cond(
            "SELECT id FROM builds WHERE builderid = ?",
            Bind::Int(builder),
        );
        sql.push(" AND number = ").push_bind(Bind::Int(number));
        scalar(self.pool, sql).await
    }

    /// The step named by the path (`stepid`, or build and `step_name`/`step_number`).
    pub async fn step_id(&self) -> Result<Option<i64>, ApiError> {
        if let Some(id) = self.args.int("stepid") {
            return Ok(Some(id));
        }
        let Some(build) = self.build_id().await? else {
            return Ok(None);
        };
        let mut sql = Sql::cond("SELECT id FROM steps WHERE buildid = ?", Bind::Int(build));
        if let Some(name) = self.args.str("step_name") {
            sql.push(" AND name = ").push_bind(text(name));
        } else if let Some(number) = self.args.int("step_number") {
            sql.push(" AND number = ").push_bind(Bind::Int(number));
        } else {
            return Ok(None);
        }
        scalar(self.pool, sql).await
    }

    /// The log named by the path (`logid`, or step and `log_slug`).
    pub async fn log_id(&self) -> Result<Option<i64>, ApiError> {
        if let Some(id) = self.args.int("logid") {
            return Ok(Some(id));
        }
        let (Some(step), Some(slug)) = (self.step_id().await?, self.args.str("log_slug")) else {
            return Ok(None);
        };
        let mut sql = Sql::cond("SELECT id FROM logs WHERE stepid = ?", Bind::Int(step));
        sql.push(" AND slug = ").push_bind(text(slug));
        scalar(self.pool, sql).await
    }

    /// Reads a collection from a table: `conds` restrict it (parent in the path), the spec does
    /// the rest. `sql_paged` follows Buildbot: for those endpoints `meta.total` is the number of
    /// items returned, for the others the number before paging. `enrich` adds computed fields.
    pub async fn collection<F, Fut>(
        &self,
        table: &Table,
        conds: &[Sql],
        sql_paged: bool,
        enrich: F,
    ) -> Result<Answer, ApiError>
    where
        F: FnOnce(Vec<Map<String, Value>>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<Map<String, Value>>, ApiError>>,
    {
        let limit = self.limit();
        let offset = self.spec.effective_offset();
        let fetched = table
            .fetch(self.pool, conds, self.spec, Some(limit), offset, !sql_paged)
            .await?;
        let pushed = fetched.pushed;
        let sql_total = fetched.total;
        let rows = enrich(fetched.rows).await?;
        Ok(self.finish(
            Fetched {
                rows,
                pushed,
                total: sql_total,
            },
            table.default_order,
            sql_paged,
        ))
    }

    /// Applies what SQL did not (filters on computed fields, order, paging) and field selection.
    pub fn finish(&self, fetched: Fetched, default_order: &[&str], sql_paged: bool) -> Answer {
        let mut items = fetched.rows;
        let mut total = fetched.total;
        if !fetched.pushed {
            self.spec.filter_items(&mut items, self.endpoint.rtype);
            self.spec.sort_items(&mut items, default_order);
            total = Some(items.len());
            let offset = self.spec.effective_offset().min(items.len());
            items.drain(..offset);
            items.truncate(self.limit());
        }
        if sql_paged || total.is_none() {
            total = Some(items.len());
        }
        for item in &mut items {
            item.retain(|k, _| !k.starts_with('_'));
            self.spec.select_fields(item);
        }
        Answer::Items {
            plural: self.endpoint.rtype.plural,
            items,
            total,
        }
    }

    /// A collection computed in memory (config-backed or small): filter, order, page, select.
    pub fn in_memory(&self, items: Vec<Map<String, Value>>, default_order: &[&str]) -> Answer {
        self.finish(
            Fetched {
                rows: items,
                pushed: false,
                total: None,
            },
            default_order,
            false,
        )
    }

    /// One entity from a table, or Buildbot's 404.
    pub async fn entity<F, Fut>(
        &self,
        table: &Table,
        conds: &[Sql],
        enrich: F,
    ) -> Result<Answer, ApiError>
    where
        F: FnOnce(Vec<Map<String, Value>>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<Map<String, Value>>, ApiError>>,
    {
        let rows = table
            .fetch(self.pool, conds, &ResultSpec::default(), Some(1), 0, false)
            .await?
            .rows;
        if rows.is_empty() {
            return Err(self.not_found());
        }
        self.single(enrich(rows).await?)
    }

    /// Wraps an entity (the first item, if any) in the envelope, or Buildbot's 404.
    pub fn single(&self, mut items: Vec<Map<String, Value>>) -> Result<Answer, ApiError> {
        items.truncate(1);
        let Some(item) = items.first_mut() else {
            return Err(self.not_found());
        };
        item.retain(|k, _| !k.starts_with('_'));
        self.spec.select_fields(item);
        Ok(Answer::Items {
            plural: self.endpoint.rtype.plural,
            items,
            total: None,
        })
    }

    /// An empty collection (a parent in the path does not exist).
    pub fn empty(&self) -> Answer {
        Answer::Items {
            plural: self.endpoint.rtype.plural,
            items: Vec::new(),
            total: Some(0),
        }
    }
}

/// A text parameter.
pub(crate) fn text(s: &str) -> Bind {
    Bind::Text(s.to_string())
}

/// The first column of the first row, as an integer.
pub(crate) async fn scalar(pool: &Pool, sql: Sql) -> Result<Option<i64>, ApiError> {
    use sqlx::Row;
    let rows = sql.fetch_all(pool).await?;
    Ok(match rows.first() {
        Some(row) => row.try_get::<Option<i64>, _>(0)?,
        None => None,
    })
}

/// `expr IN (ids)` for a batch lookup of child rows.
pub(crate) fn in_ids(engine: Engine, expr: &str, ids: &[i64]) -> Sql {
    // One parameter, a JSON array, whatever the number of ids: the statement text stays the
    // same (one prepared statement) and binding costs nothing per id (a thousand `$N`
    // parameters took 16% of a `builders` read).
    let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    Sql::cond(&engine.in_json_ids(expr, "?"), Bind::Text(list))
}

/// The integer ids in a field of items.
/// The rows of a batch lookup, `SELECT {columns} {from_where}` in `order`, read as one JSON
/// array that the database builds (each row a JSON array of `columns`): one value handed over
/// by sqlx instead of one per column and row (1,000 builders have ~3,000 tag and master rows,
/// 50 builds ~1,000 properties).
pub(super) async fn batch<T: serde::de::DeserializeOwned>(
    ctx: &Ctx<'_>,
    columns: &str,
    from_where: Sql,
    order: &str,
) -> Result<Vec<T>, ApiError> {
    use sqlx::Row;
    let rows_json = ctx.engine().json_rows(columns, order);
    let mut sql = Sql::new(&format!("SELECT {rows_json} "));
    sql.append(&from_where);
    let rows = sql.fetch_all(ctx.pool).await?;
    let text: Option<String> = rows.first().map(|r| r.try_get(0)).transpose()?;
    serde_json::from_str(text.as_deref().unwrap_or("[]"))
        .map_err(|e| ApiError::internal(format!("cannot decode a batch lookup: {e}")))
}

/// The integer ids in a field of items.
pub(crate) fn ids_of(items: &[Map<String, Value>], field: &str) -> Vec<i64> {
    items
        .iter()
        .filter_map(|i| i.get(field).and_then(Value::as_i64))
        .collect()
}

/// Reads an entity or collection for any endpoint.
pub(crate) async fn get(ctx: &Ctx<'_>) -> Result<Answer, ApiError> {
    match ctx.endpoint.kind {
        Kind::RootLinks => Ok(super::spec::root_links()),
        Kind::Spec => Ok(super::spec::application_spec()),
        Kind::Builders | Kind::Builder => builders::builders(ctx).await,
        Kind::Masters | Kind::Master => builders::masters(ctx).await,
        Kind::Workers | Kind::Worker => builders::workers(ctx).await,
        Kind::Projects | Kind::Project => builders::projects(ctx).await,
        Kind::ForceSchedulers | Kind::ForceScheduler => builders::forceschedulers(ctx).await,
        Kind::Schedulers | Kind::Scheduler | Kind::Changesources | Kind::Changesource => {
            builders::schedulers_and_changesources(ctx).await
        }
        Kind::Builds | Kind::Build | Kind::TriggeredBuilds => builds::builds(ctx).await,
        Kind::Steps | Kind::Step => builds::steps(ctx).await,
        Kind::BuildProperties | Kind::BuildPropertyList => builds::build_properties(ctx).await,
        Kind::BuildDataList | Kind::BuildData | Kind::BuildDataValue => {
            builds::build_data(ctx).await
        }
        Kind::Logs | Kind::Log => logs::logs(ctx).await,
        Kind::LogRaw | Kind::LogRawInline => logs::log_raw(ctx).await,
        Kind::LogContents => log_contents(ctx, None, None).await,
        Kind::Changes | Kind::Change => changes::changes(ctx).await,
        Kind::ChangePropertyList => changes::change_properties(ctx).await,
        Kind::Sourcestamps | Kind::Sourcestamp => changes::sourcestamps(ctx).await,
        Kind::Buildsets | Kind::Buildset => changes::buildsets(ctx).await,
        Kind::BuildsetProperties | Kind::BuildsetPropertyList => {
            changes::buildset_properties(ctx).await
        }
        Kind::BuildRequests | Kind::BuildRequest => changes::buildrequests(ctx).await,
        Kind::TestResultSets | Kind::TestResultSet | Kind::TestResults => {
            misc::test_results(ctx).await
        }
        Kind::Codebases
        | Kind::Codebase
        | Kind::Branches
        | Kind::Branch
        | Kind::Commits
        | Kind::Commit => misc::codebases(ctx).await,
        Kind::CommitGraph => misc::commit_graph(ctx).await,
    }
}
