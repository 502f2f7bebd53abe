//! Turning a `ResultSpec` into SQL on Buildbot's tables: filters, order and paging are pushed
//! into the query whenever every field involved is a column, so a request costs what it returns.
//!
//! Queries use `$N` placeholders and SQL both engines read; where they differ (row building,
//! substring test, text order, an unlimited `LIMIT`) the spelling comes from [`Engine`].

use futures_util::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::Row as _;

use super::error::ApiError;
use super::query::{Op, ResultSpec};
use crate::db::{Engine, Pool, Row};

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    /// An integer.
    Int(i64),
    /// A string.
    Text(String),
}

/// SQL text with its parameters.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    /// Starts from a fragment without parameters.
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            binds: Vec::new(),
        }
    }

    /// A condition with one parameter, written with `?` where the parameter goes.
    pub fn cond(text: &str, bind: Bind) -> Self {
        let mut sql = Sql::default();
        let mut parts = text.split('?');
        sql.text.push_str(parts.next().unwrap_or(""));
        for part in parts {
            sql.push_bind(bind.clone());
            sql.text.push_str(part);
        }
        sql
    }

    /// Appends text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a parameter placeholder.
    pub fn push_bind(&mut self, bind: Bind) -> &mut Self {
        self.binds.push(bind);
        self.text.push_str(&format!("${}", self.binds.len()));
        self
    }

    /// Appends another fragment, renumbering its placeholders.
    pub fn append(&mut self, other: &Sql) -> &mut Self {
        let offset = self.binds.len();
        let mut rest = other.text.as_str();
        while let Some(pos) = rest.find('$') {
            self.text.push_str(&rest[..pos]);
            let digits: String = rest[pos + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if digits.is_empty() {
                self.text.push('$');
                rest = &rest[pos + 1..];
                continue;
            }
            let n: usize = digits.parse().unwrap_or(0);
            self.text.push_str(&format!("${}", n + offset));
            rest = &rest[pos + 1 + digits.len()..];
        }
        self.text.push_str(rest);
        self.binds.extend(other.binds.iter().cloned());
        self
    }

    /// The SQL text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Runs the query and returns its rows.
    pub async fn fetch_all(&self, pool: &Pool) -> Result<Vec<Row>, ApiError> {
        let mut query = sqlx::query(&self.text);
        for bind in &self.binds {
            query = match bind {
                Bind::Int(i) => query.bind(*i),
                Bind::Text(s) => query.bind(s.clone()),
            };
        }
        // Streamed rather than `fetch_all`, so that a plugin's read is charged row by row and
        // stops at its byte budget instead of after the whole result is in memory.
        let mut stream = query.fetch(pool);
        let mut rows = Vec::new();
        while let Some(row) = stream.try_next().await? {
            super::budget::charge_row(&row)?;
            rows.push(row);
        }
        Ok(rows)
    }
}

/// The most rows a page SQLite builds as one value may have.
const ONE_ROW_PAGE_MAX: usize = 10_000;

/// Reads a page read as one row (a JSON array of row objects, `NULL` for none).
fn decode_page(row: &Row) -> Result<Vec<Map<String, Value>>, ApiError> {
    let Some(bytes) = row.try_get::<Option<&[u8]>, _>(0)? else {
        return Ok(Vec::new());
    };
    match serde_json::from_slice(bytes) {
        Ok(rows) => Ok(rows),
        // Text that is not UTF-8 (Buildbot stores some text as bytes) is read leniently, as
        // one row at a time is (`Table::decode`).
        Err(_) => serde_json::from_str(&String::from_utf8_lossy(bytes))
            .map_err(|e| ApiError::internal(format!("cannot decode a page of rows: {e}"))),
    }
}

/// How a column's value becomes JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// Integer or null.
    Int,
    /// Text or null.
    Text,
    /// 0/1 (null = false) as a boolean.
    Bool,
    /// Text holding JSON (null or invalid = null).
    Json,
}

/// A field backed by an SQL expression.
#[derive(Debug)]
pub struct Column {
    /// The field name (names starting with `_` are internal and never returned).
    pub field: &'static str,
    /// The SQL expression.
    pub expr: &'static str,
    /// How to decode it.
    pub col: Col,
}

/// A resource's table: what to select from, its columns and its key.
#[derive(Debug)]
pub struct Table {
    /// The `FROM` clause.
    pub from: &'static str,
    /// Columns, each a field of the resource (or an internal `_` field).
    pub columns: &'static [Column],
    /// Unique key expression, the last sort key so paging is stable.
    pub key: &'static str,
    /// Sort order when the request gives none.
    pub default_order: &'static [&'static str],
    /// Indexed fields whose repeated values (`builderid=3&builderid=4`) are read as one ordered,
    /// limited subquery per value, merged: each subquery walks its index and stops at the page's
    /// end, where one `IN (...)` query would read and sort every matching row.
    pub split_fields: &'static [&'static str],
}

/// How rows with equal sort keys are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ties {
    /// By the table's key, ascending.
    ByKey,
    /// As SQLite's plan for the requested keys alone gives them, as for Buildbot; `filtered`
    /// when the query has a condition (which may decide the plan).
    AsPlanned { filtered: bool },
    /// By the terms the caller adds after the requested keys (the merge of a split query).
    Merged,
}

/// The leading column of each index of Buildbot 4.3's schema (`table.column`), as the
/// reference database holds them.
const BUILDBOT_INDEX_LEADS: &[&str] = &[
    "build_data.buildid",
    "build_properties.buildid",
    "builder_masters.builderid",
    "builder_masters.masterid",
    "builders.name_hash",
    "builders.projectid",
    "builders_tags.builderid",
    "buildrequest_claims.brid",
    "buildrequest_claims.masterid",
    "buildrequests.builderid",
    "buildrequests.buildsetid",
    "buildrequests.complete",
    "builds.builderid",
    "builds.buildrequestid",
    "builds.masterid",
    "builds.workerid",
    "buildset_properties.buildsetid",
    "buildset_sourcestamps.buildsetid",
    "buildsets.complete",
    "buildsets.submitted_at",
    "change_files.changeid",
    "change_properties.changeid",
    "change_users.changeid",
    "changes.author",
    "changes.branch",
    "changes.category",
    "changes.revision",
    "changes.sourcestampid",
    "changes.when_timestamp",
    "changesources.name_hash",
    "codebase_branches.codebaseid",
    "codebase_commits.codebaseid",
    "codebases.projectid",
    "configured_workers.buildermasterid",
    "configured_workers.workerid",
    "connected_workers.masterid",
    "connected_workers.workerid",
    "logchunks.logid",
    "logs.stepid",
    "masters.name_hash",
    "object_state.objectid",
    "objects.name",
    "projects.name_hash",
    "scheduler_changes.changeid",
    "scheduler_changes.schedulerid",
    "schedulers.name_hash",
    "sourcestamps.ss_hash",
    "steps.buildid",
    "steps.started_at",
    "tags.name_hash",
    "test_code_paths.builderid",
    "test_names.builderid",
    "users.bb_username",
    "users.identifier",
    "users_info.attr_type",
    "users_info.uid",
    "workers.name",
];

/// The most values a filter is split into (SQLite allows 500 terms in a compound SELECT).
const MAX_SPLIT: usize = 400;

/// Rows read for a collection, and how much of the spec the database already applied.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The rows as JSON objects (columns only; callers add computed fields).
    pub rows: Vec<Map<String, Value>>,
    /// Filters, order and paging were applied in SQL.
    pub pushed: bool,
    /// Count before paging, when asked for and computed in SQL.
    pub total: Option<usize>,
}

impl Table {
    fn column(&self, field: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.field == field)
    }

    /// One column: the row as a JSON object built by the database. Reading one value per row
    /// instead of one per field made a 50-build page about twice as cheap (sqlx copies every
    /// value it hands over into its own allocation).
    fn select_list(&self, engine: Engine) -> String {
        let object = self.object(engine);
        match engine {
            // As bytes: text Buildbot stored that is not UTF-8 is read leniently (`decode`).
            Engine::Sqlite => format!("CAST({object} AS BLOB)"),
            Engine::Postgres => object,
        }
    }

    /// The row as a JSON object.
    fn object(&self, engine: Engine) -> String {
        let fields = self
            .columns
            .iter()
            .map(|c| format!("'{}', {}", c.field, c.col.as_json(c.expr, engine)))
            .collect::<Vec<_>>()
            .join(", ");
        engine.json_object(&fields)
    }

    /// Reads rows matching `conds` (ANDed) and as much of `spec` as SQL can express.
    pub async fn fetch(
        &self,
        pool: &Pool,
        conds: &[Sql],
        spec: &ResultSpec,
        limit: Option<usize>,
        offset: usize,
        want_total: bool,
    ) -> Result<Fetched, ApiError> {
        let order: Vec<&str> = match &spec.order {
            Some(order) => order.iter().map(String::as_str).collect(),
            None => self.default_order.to_vec(),
        };
        let engine = Engine::of(pool);
        let order_pushable = order
            .iter()
            .all(|k| self.column(k.trim_start_matches('-')).is_some());
        // Ties of a requested order are left to SQLite's plan, as Buildbot leaves them (see
        // `order_keys`); the default order is one unique key anyway.
        let mut all_pushed = order_pushable;
        let mut parts: Vec<Sql> = conds.to_vec();
        // The first filter on a split field with several values: its column, values and
        // condition (kept out of `parts`, added back for the plain query and the total).
        let mut split: Option<(&Column, Vec<Bind>, Sql)> = None;
        for filter in &spec.filters {
            let column = self.column(&filter.field);
            match column.and_then(|c| filter_sql(engine, c, filter.op, &filter.values)) {
                Some(cond) => match (column, &split) {
                    (Some(column), None) => {
                        match self.split_values(column, filter.op, &filter.values) {
                            Some(values) => split = Some((column, values, cond)),
                            None => parts.push(cond),
                        }
                    }
                    _ => parts.push(cond),
                },
                None => all_pushed = false,
            }
        }
        let where_of = |extra: Option<Sql>| {
            let mut w = Sql::default();
            for (i, part) in parts.iter().chain(extra.as_ref()).enumerate() {
                w.push(if i == 0 { " WHERE " } else { " AND " });
                w.push("(").append(part).push(")");
            }
            w
        };
        let where_sql = where_of(split.as_ref().map(|(_, _, cond)| cond.clone()));
        let ties = if spec.order.is_some() {
            Ties::AsPlanned {
                filtered: !parts.is_empty() || split.is_some(),
            }
        } else {
            Ties::ByKey
        };
        // A page SQL fully computes comes from SQLite as one row, its rows' objects joined
        // into an array in their order (the subquery, run as it would be alone, keeps its
        // plan and so the order of ties): sqlx hands each row over from its worker thread with
        // a wake-up, which for a few hundred rows cost more than building them (the console's
        // 333 buildsets: 2.7 ms). `LIMIT` bounds what is built in one piece; a larger page
        // goes row by row, so that no single value nears SQLite's 1 GB limit on one string.
        let page_as_one_row = engine == Engine::Sqlite
            && all_pushed
            && limit.is_some_and(|n| n <= ONE_ROW_PAGE_MAX)
            && split.is_none();
        let sql = match (&split, all_pushed, limit) {
            (Some((column, values, _)), true, Some(limit)) => {
                self.split_query(engine, &order, column, values, &where_of, limit, offset)
            }
            _ => {
                let mut sql = Sql::new(&format!(
                    "SELECT {} FROM {}",
                    if page_as_one_row {
                        format!("{} AS j", self.object(engine))
                    } else {
                        self.select_list(engine)
                    },
                    self.from
                ));
                sql.append(&where_sql);
                // Ordered in SQL even when a filter is left to `ResultSpec::filter_items`, as
                // Buildbot does: the stable sort after it then keeps SQL's order of ties.
                if order_pushable {
                    sql.push(" ORDER BY ")
                        .push(&self.order_keys(engine, &order, ties).join(", "));
                }
                if all_pushed {
                    if let Some(limit) = limit {
                        sql.push(" LIMIT ").push_bind(row_count(limit));
                    } else if offset > 0 && engine == Engine::Sqlite {
                        // SQLite takes an OFFSET only after a LIMIT; -1 is none.
                        sql.push(" LIMIT ").push_bind(Bind::Int(-1));
                    }
                    if offset > 0 {
                        sql.push(" OFFSET ").push_bind(row_count(offset));
                    }
                }
                if page_as_one_row {
                    let mut page =
                        Sql::new("SELECT CAST('[' || group_concat(j, ',') || ']' AS BLOB) FROM (");
                    page.append(&sql).push(")");
                    page
                } else {
                    sql
                }
            }
        };
        let rows = sql.fetch_all(pool).await?;
        let rows = if page_as_one_row {
            rows.first().map_or(Ok(Vec::new()), decode_page)?
        } else {
            rows.iter()
                .map(|row| self.decode(row, engine))
                .collect::<Result<Vec<_>, _>>()?
        };
        let total = if all_pushed && want_total {
            let mut count = Sql::new(&format!("SELECT count(*) FROM {}", self.from));
            count.append(&where_sql);
            let row = count.fetch_all(pool).await?;
            Some(
                row.first()
                    .map(|r| r.try_get::<i64, _>(0))
                    .transpose()?
                    .unwrap_or(0) as usize,
            )
        } else {
            None
        };
        Ok(Fetched {
            rows,
            pushed: all_pushed,
            total,
        })
    }

    /// `ORDER BY` terms for `order`, then, with [`Ties::ByKey`], the key.
    ///
    /// Buildbot (on SQLite) orders by the requested keys alone, so rows with equal keys come
    /// in the order of the plan SQLite picks: the table's rows by id, sorted stably (ties
    /// ascending), unless an index gives the order or serves the filter, whose walk then
    /// orders the ties (`builds?order=-buildrequestid` walks `builds_buildrequestid` backwards:
    /// ties descending; `builds/N/steps` walks `steps_number`: ties by step number). The same
    /// query on the same file gives SQLite the same choice, so [`Ties::AsPlanned`] leaves the
    /// key out rather than imitating the planner. Pages of one order follow each other as far
    /// as SQLite keeps its plan when only `LIMIT` and `OFFSET` change (it did in every case
    /// recorded, `query/ties-*-limit*.http`), which is Buildbot's paging too.
    ///
    /// Text is ordered by its bytes, as SQLite orders it: on PostgreSQL with the `C` collation
    /// whatever the database's own.
    fn order_keys(&self, engine: Engine, order: &[&str], ties: Ties) -> Vec<String> {
        let term = |field: &str| match self.column(field) {
            Some(c) if c.col == Col::Text && engine == Engine::Postgres => {
                format!("{} COLLATE \"C\"", c.expr)
            }
            Some(c) => c.expr.to_owned(),
            None => field.to_owned(),
        };
        let mut keys: Vec<String> = order
            .iter()
            .map(|k| match k.strip_prefix('-') {
                Some(f) => format!("{} DESC", term(f)),
                None => format!("{} ASC", term(k)),
            })
            .collect();
        if ties == Ties::ByKey || keys.is_empty() {
            keys.push(format!("{} ASC", self.key));
        } else if let (Ties::AsPlanned { filtered }, Engine::Postgres) = (ties, engine) {
            keys.push(format!(
                "{} {}",
                self.key,
                self.planned_ties(order, filtered)
            ));
        }
        keys
    }

    /// The direction of the key in which SQLite's plan leaves the ties of `order`, for
    /// PostgreSQL to give the same answer (its own planner would order them its own way):
    /// without a condition, the first key's direction when it is the leading column of one
    /// of Buildbot's indexes (SQLite walks that index: `buildsets?order=-submitted_at` has its
    /// ties descending); ascending otherwise (SQLite reads the rows in id order, or through
    /// the index serving the condition, and sorts them stably: `builds/N/steps` by number).
    /// This is the rule every recorded tie follows (`query/ties-*.http`).
    fn planned_ties(&self, order: &[&str], filtered: bool) -> &'static str {
        let walked_backwards = !filtered
            && order.first().is_some_and(|first| {
                first.strip_prefix('-').is_some_and(|field| {
                    self.column(field)
                        .is_some_and(|c| BUILDBOT_INDEX_LEADS.contains(&c.expr))
                })
            });
        if walked_backwards {
            "DESC"
        } else {
            "ASC"
        }
    }

    /// The distinct values of an equality filter on a split field, when there are several.
    fn split_values(&self, column: &Column, op: Op, values: &[Value]) -> Option<Vec<Bind>> {
        if !matches!(op, Op::Eq | Op::In) || !self.split_fields.contains(&column.field) {
            return None;
        }
        let mut binds: Vec<Bind> = Vec::new();
        for bind in values.iter().map(bind_of) {
            let bind = bind?;
            if !binds.contains(&bind) {
                // Past MAX_SPLIT the answer is known: stop before the scan grows quadratic.
                if binds.len() == MAX_SPLIT {
                    return None;
                }
                binds.push(bind);
            }
        }
        (binds.len() >= 2).then_some(binds)
    }

    /// One page of rows matching `where_of(column = value)` for any of `values`: a subquery per
    /// value, ordered and cut at `offset + limit`, merged and cut again. The order keys ride
    /// along as columns `k0, k1, ...` for the merge; rows are decoded from column 0 alone.
    #[allow(clippy::too_many_arguments)]
    fn split_query(
        &self,
        engine: Engine,
        order: &[&str],
        column: &Column,
        values: &[Bind],
        where_of: &dyn Fn(Option<Sql>) -> Sql,
        limit: usize,
        offset: usize,
    ) -> Sql {
        // Buildbot reads `column IN (...)` through the column's index: its values ascending,
        // each value's rows in the index's order (by id, for `builds_number` as builds are
        // numbered in id order), then sorts them stably. The merge breaks ties the same way:
        // the split column, then the key.
        let mut keys = self.order_keys(engine, order, Ties::Merged);
        keys.push(format!("{} ASC", column.expr));
        keys.push(format!("{} ASC", self.key));
        let exprs: Vec<(&str, &str)> = keys
            .iter()
            .map(|k| k.rsplit_once(' ').unwrap_or((k.as_str(), "ASC")))
            .collect();
        let key_columns: String = exprs
            .iter()
            .enumerate()
            .map(|(i, (expr, _))| format!(", {expr} AS k{i}"))
            .collect();
        let select = self.select_list(engine);
        let mut sql = Sql::new("SELECT bbrow FROM (");
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push(&format!(
                "SELECT * FROM (SELECT {select} AS bbrow{key_columns} FROM {}",
                self.from
            ));
            sql.append(&where_of(Some(Sql::cond(
                &format!("{} = ?", column.expr),
                value.clone(),
            ))));
            sql.push(" ORDER BY ")
                .push(&keys.join(", "))
                .push(" LIMIT ")
                .push_bind(row_count(offset.saturating_add(limit)))
                .push(&format!(") AS page{i}"));
        }
        let merge: Vec<String> = exprs
            .iter()
            .enumerate()
            .map(|(i, (_, direction))| format!("k{i} {direction}"))
            .collect();
        sql.push(") AS pages ORDER BY ")
            .push(&merge.join(", "))
            .push(" LIMIT ")
            .push_bind(row_count(limit))
            .push(" OFFSET ")
            .push_bind(row_count(offset));
        sql
    }

    /// Reads rows matching `conds`, in default order, without any spec.
    pub async fn fetch_where(
        &self,
        pool: &Pool,
        conds: &[Sql],
    ) -> Result<Vec<Map<String, Value>>, ApiError> {
        Ok(self
            .fetch(pool, conds, &ResultSpec::default(), None, 0, false)
            .await?
            .rows)
    }

    /// Turns one row (the JSON object of [`Table::select_list`]) into a map.
    fn decode(&self, row: &Row, engine: Engine) -> Result<Map<String, Value>, ApiError> {
        let mut map: Map<String, Value> = match engine {
            Engine::Sqlite => {
                let bytes: &[u8] = row.try_get(0)?;
                match serde_json::from_slice(bytes) {
                    Ok(map) => map,
                    // Text that is not UTF-8 (Buildbot stores some text as bytes) is read
                    // leniently, as before.
                    Err(_) => serde_json::from_str(&String::from_utf8_lossy(bytes))
                        .map_err(|e| ApiError::internal(format!("cannot decode a row: {e}")))?,
                }
            }
            Engine::Postgres => serde_json::from_str(row.try_get::<&str, _>(0)?)
                .map_err(|e| ApiError::internal(format!("cannot decode a row: {e}")))?,
        };
        if engine == Engine::Postgres {
            // JSON held in text comes as a string (see `Col::as_json`); read here, as SQLite's
            // `json_valid` reads it: anything but valid JSON is null.
            for column in self.columns.iter().filter(|c| c.col == Col::Json) {
                if let Some(value) = map.get_mut(column.field) {
                    *value = match value {
                        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
                        _ => Value::Null,
                    };
                }
            }
        }
        Ok(map)
    }
}

impl Col {
    /// The SQL expression giving `expr`'s JSON value. (PostgreSQL 15 cannot test text for
    /// valid JSON in SQL: a JSON column comes as text there, parsed by `Table::decode`.)
    fn as_json(self, expr: &str, engine: Engine) -> String {
        match (self, engine) {
            (Col::Int, Engine::Sqlite) => format!("CAST({expr} AS INTEGER)"),
            (Col::Int, Engine::Postgres) => format!("CAST({expr} AS BIGINT)"),
            (Col::Text, _) | (Col::Json, Engine::Postgres) => format!("CAST({expr} AS TEXT)"),
            (Col::Bool, Engine::Sqlite) => {
                format!("json(CASE WHEN coalesce({expr}, 0) != 0 THEN 'true' ELSE 'false' END)")
            }
            (Col::Bool, Engine::Postgres) => format!("(coalesce({expr}, 0) != 0)"),
            (Col::Json, Engine::Sqlite) => {
                format!("json(CASE WHEN json_valid({expr}) THEN {expr} ELSE 'null' END)")
            }
        }
    }
}

fn bind_of(value: &Value) -> Option<Bind> {
    match value {
        Value::Number(n) => n.as_i64().map(Bind::Int),
        Value::Bool(b) => Some(Bind::Int(i64::from(*b))),
        Value::String(s) => Some(Bind::Text(s.clone())),
        _ => None,
    }
}

/// The SQL condition for a filter on a column, if SQL can express it with Python's meaning.
fn filter_sql(engine: Engine, column: &Column, op: Op, values: &[Value]) -> Option<Sql> {
    if column.col == Col::Json {
        return None;
    }
    let binds: Vec<Bind> = values.iter().map(bind_of).collect::<Option<_>>()?;
    let expr = column.expr;
    let mut sql = Sql::default();
    let list = |sql: &mut Sql, binds: &[Bind]| {
        sql.push("(");
        for (i, b) in binds.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push_bind(b.clone());
        }
        sql.push(")");
    };
    match op {
        Op::Eq | Op::In => {
            if binds.is_empty() {
                sql.push("1 = 0");
            } else {
                sql.push(&format!("{expr} IN "));
                list(&mut sql, &binds);
            }
        }
        Op::Ne | Op::NotIn => {
            if binds.is_empty() {
                sql.push("1 = 1");
            } else {
                // Python: None != value is true, unlike SQL's NULL <> value.
                sql.push(&format!("({expr} IS NULL OR {expr} NOT IN "));
                list(&mut sql, &binds);
                sql.push(")");
            }
        }
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let symbol = match op {
                Op::Lt => "<",
                Op::Le => "<=",
                Op::Gt => ">",
                _ => ">=",
            };
            sql.push(&format!("{expr} {symbol} "));
            sql.push_bind(binds.first()?.clone());
        }
        Op::Contains => {
            if column.col != Col::Text || binds.is_empty() {
                return None;
            }
            sql.push("(");
            for (i, b) in binds.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                sql.push(&format!("{}({expr}, ", engine.position_function()));
                sql.push_bind(b.clone());
                sql.push(") > 0");
            }
            sql.push(")");
        }
    }
    Some(sql)
}

/// A row count as a SQL integer: saturated at `i64::MAX`, so a huge `offset` can never wrap
/// into a negative `LIMIT` (which SQLite reads as "no limit").
fn row_count(n: usize) -> Bind {
    Bind::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_renumber_placeholders() {
        let mut sql = Sql::new("SELECT 1 WHERE ");
        sql.append(&Sql::cond("a = ?", Bind::Int(1)));
        sql.push(" AND ");
        sql.append(&Sql::cond("b = ? OR c = ?", Bind::Text("x".into())));
        assert_eq!(sql.text(), "SELECT 1 WHERE a = $1 AND b = $2 OR c = $3");
        assert_eq!(sql.binds.len(), 3);
    }
}
