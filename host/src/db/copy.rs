//! Copying a Buildbot database from SQLite into PostgreSQL: every row of the SQLite file into
//! a PostgreSQL database that holds Buildbot's schema (made by Buildbot's `buildbot
//! upgrade-master`) and no rows, as a master that had written them would hold them. Used by
//! `load-fixtures` and `gen-data` for a PostgreSQL `db_url`, and by the tests' set-up.
//!
//! Table by table in foreign-key order, column by column by name, each value converted to its
//! column's type; a nullable reference that closes a cycle (or points into its own table) is
//! filled in after all rows are in. Each id sequence is then set to the highest copied id. One
//! transaction: on error nothing is copied. Errors name what does not fit (a table or column
//! the schema lacks, a value of the wrong kind, differing schema versions).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use futures_util::TryStreamExt as _;
use sqlx::{Connection as _, Row as _};

/// A PostgreSQL column the rows are copied into.
struct Column {
    name: String,
    /// `information_schema`'s `data_type`: `integer`, `character varying`, `bytea`...
    data_type: String,
}

/// One value read from SQLite, converted to its PostgreSQL column's type.
enum Value {
    SmallInt(Option<i16>),
    Int(Option<i32>),
    BigInt(Option<i64>),
    Bool(Option<bool>),
    Float(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// Copies every row of the SQLite file `sqlite` into the PostgreSQL database at the sqlx URL
/// `postgres` (see the module's text).
pub async fn sqlite_to_postgres(sqlite: &Path, postgres: &str) -> anyhow::Result<()> {
    copy(sqlite, postgres).await.map_err(anyhow::Error::msg)
}

async fn copy(sqlite: &Path, postgres: &str) -> Result<(), String> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(sqlite)
        .read_only(true);
    let mut source = sqlx::SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| format!("{}: {e}", sqlite.display()))?;
    let mut target = sqlx::PgConnection::connect(postgres)
        .await
        .map_err(|e| format!("{}: {e}", crate::db::redacted(postgres)))?;
    let pg = |e: sqlx::Error| format!("PostgreSQL: {e}");
    let lite = |e: sqlx::Error| format!("SQLite: {e}");

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&mut source)
    .await
    .map_err(lite)?;
    let mut columns: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    let mut nullable: BTreeSet<(String, String)> = BTreeSet::new();
    for row in sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns c WHERE table_schema = 'public' \
         AND EXISTS (SELECT 1 FROM information_schema.tables t WHERE t.table_schema = 'public' \
                     AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE') \
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut target)
    .await
    .map_err(pg)?
    {
        let (table, name): (String, String) = (row.get(0), row.get(1));
        if row.get::<String, _>(3) == "YES" {
            nullable.insert((table.clone(), name.clone()));
        }
        columns.entry(table).or_default().push(Column {
            name,
            data_type: row.get(2),
        });
    }
    for table in &tables {
        if !columns.contains_key(table) {
            return Err(format!(
                "{} has the table `{table}`, which Buildbot's schema on PostgreSQL lacks",
                sqlite.display()
            ));
        }
    }
    // Both schemas must be the same Buildbot version; the version row is Buildbot's own.
    if tables.iter().any(|t| t == "alembic_version") {
        let theirs: Vec<String> = sqlx::query_scalar("SELECT version_num FROM alembic_version")
            .fetch_all(&mut source)
            .await
            .map_err(lite)?;
        let ours: Vec<String> = sqlx::query_scalar("SELECT version_num::text FROM alembic_version")
            .fetch_all(&mut target)
            .await
            .map_err(pg)?;
        if theirs != ours {
            return Err(format!(
                "schema versions differ: SQLite {theirs:?}, PostgreSQL {ours:?}"
            ));
        }
    }
    let copied: Vec<&String> = tables.iter().filter(|t| *t != "alembic_version").collect();

    // Foreign keys: (table, column) -> referenced table.
    let mut references: Vec<(String, String, String)> = Vec::new();
    for row in sqlx::query(
        "SELECT cl.relname::text, att.attname::text, ref.relname::text \
         FROM pg_constraint c \
         JOIN pg_class cl ON cl.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = cl.relnamespace \
         JOIN pg_class ref ON ref.oid = c.confrelid \
         CROSS JOIN LATERAL unnest(c.conkey) AS k(attnum) \
         JOIN pg_attribute att ON att.attrelid = c.conrelid AND att.attnum = k.attnum \
         WHERE c.contype = 'f' AND n.nspname = 'public'",
    )
    .fetch_all(&mut target)
    .await
    .map_err(pg)?
    {
        references.push((row.get(0), row.get(1), row.get(2)));
    }
    let (order, deferred) = copy_order(&copied, &references, &nullable)?;
    let primary_keys = primary_keys(&mut target).await?;

    let mut tx = target.begin().await.map_err(pg)?;
    for table in &order {
        let pg_columns = &columns[table.as_str()];
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(table)
            .fetch_all(&mut source)
            .await
            .map_err(lite)?;
        let mut chosen: Vec<&Column> = Vec::new();
        for name in &names {
            let column = pg_columns.iter().find(|c| &c.name == name).ok_or_else(|| {
                format!(
                    "{} has the column `{table}.{name}`, which Buildbot's schema on \
                     PostgreSQL lacks",
                    sqlite.display()
                )
            })?;
            chosen.push(column);
        }
        let select = format!(
            "SELECT {} FROM \"{table}\" ORDER BY rowid",
            quoted(chosen.iter().map(|c| c.name.as_str()))
        );
        // Read as a stream and written in batches: a database of a million builds is never
        // in memory whole. PostgreSQL takes at most 65,535 parameters a statement.
        let per_statement = (30_000 / chosen.len().max(1)).max(1);
        let mut rows = sqlx::query(&select).fetch(&mut source);
        let mut batch: Vec<Vec<Value>> = Vec::with_capacity(per_statement);
        loop {
            let row = rows.try_next().await.map_err(lite)?;
            if let Some(row) = &row {
                let mut converted = Vec::with_capacity(chosen.len());
                for (i, column) in chosen.iter().enumerate() {
                    let is_deferred = deferred.contains(&(table.clone(), column.name.clone()));
                    let value = convert(row, i, &column.data_type)
                        .map_err(|e| format!("`{table}.{}`: {e}", column.name))?;
                    converted.push(if is_deferred { null_of(&value) } else { value });
                }
                batch.push(converted);
            }
            if batch.len() == per_statement || (row.is_none() && !batch.is_empty()) {
                insert(&mut tx, table, &chosen, &batch).await?;
                batch.clear();
            }
            if row.is_none() {
                break;
            }
        }
    }
    // The references left out above, now that every row they point to is in.
    for (table, column) in &deferred {
        let key = primary_keys.get(table).ok_or_else(|| {
            format!(
                "`{table}.{column}` closes a foreign-key cycle and `{table}` has no primary key"
            )
        })?;
        let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(&format!(
            "SELECT \"{key}\", \"{column}\" FROM \"{table}\" WHERE \"{column}\" IS NOT NULL"
        ))
        .fetch_all(&mut source)
        .await
        .map_err(lite)?;
        for (id, value) in rows {
            sqlx::query(&format!(
                "UPDATE \"{table}\" SET \"{column}\" = $1::bigint WHERE \"{key}\" = $2::bigint"
            ))
            .bind(value)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("setting `{table}.{column}`: {e}"))?;
        }
    }
    // Each sequence where a master writing the same rows would have left it.
    for row in sqlx::query(
        "SELECT table_name::text, column_name::text, \
         pg_get_serial_sequence(quote_ident(table_name), column_name) \
         FROM information_schema.columns WHERE table_schema = 'public' \
         AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(pg)?
    {
        let (table, column, sequence): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        sqlx::query(&format!(
            "SELECT setval($1, max(\"{column}\")) FROM \"{table}\" HAVING max(\"{column}\") IS NOT NULL"
        ))
        .bind(&sequence)
        .execute(&mut *tx)
        .await
        .map_err(|e| format!("setting {sequence}: {e}"))?;
    }
    tx.commit().await.map_err(pg)?;
    Ok(())
}

/// Inserts `rows` (values of `columns`) into `table`, in one statement.
async fn insert(
    tx: &mut sqlx::PgConnection,
    table: &str,
    columns: &[&Column],
    rows: &[Vec<Value>],
) -> Result<(), String> {
    let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
        "INSERT INTO \"{table}\" ({}) ",
        quoted(columns.iter().map(|c| c.name.as_str()))
    ));
    insert.push_values(rows, |mut row, values| {
        for value in values {
            match value {
                Value::SmallInt(v) => row.push_bind(*v),
                Value::Int(v) => row.push_bind(*v),
                Value::BigInt(v) => row.push_bind(*v),
                Value::Bool(v) => row.push_bind(*v),
                Value::Float(v) => row.push_bind(*v),
                Value::Text(v) => row.push_bind(v.clone()),
                Value::Bytes(v) => row.push_bind(v.clone()),
            };
        }
    });
    insert
        .build()
        .execute(tx)
        .await
        .map(|_| ())
        .map_err(|e| format!("copying `{table}`: {e}"))
}

/// `"a", "b"` for the names `a`, `b`.
fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tables in an order where each comes after the tables it references, and the nullable
/// references left out to make that possible (self-references and one edge of each cycle).
#[allow(clippy::type_complexity)]
fn copy_order(
    tables: &[&String],
    references: &[(String, String, String)],
    nullable: &BTreeSet<(String, String)>,
) -> Result<(Vec<String>, BTreeSet<(String, String)>), String> {
    let mut deferred = BTreeSet::new();
    // table -> (column, referenced table), among the copied tables.
    let mut pending: BTreeMap<String, Vec<(String, String)>> =
        tables.iter().map(|t| ((*t).clone(), Vec::new())).collect();
    for (table, column, referenced) in references {
        if !pending.contains_key(table) {
            continue;
        }
        if table == referenced {
            deferred.insert((table.clone(), column.clone()));
        } else if pending.contains_key(referenced) {
            pending
                .get_mut(table)
                .unwrap()
                .push((column.clone(), referenced.clone()));
        }
    }
    let mut order = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<String> = pending
            .iter()
            .filter(|(_, edges)| edges.iter().all(|(_, r)| !pending.contains_key(r)))
            .map(|(t, _)| t.clone())
            .collect();
        if ready.is_empty() {
            // A cycle: leave out one nullable reference of it, filled in later.
            let (table, column) = pending
                .iter()
                .flat_map(|(t, edges)| {
                    edges
                        .iter()
                        .filter(|(_, r)| pending.contains_key(r))
                        .map(move |(c, _)| (t.clone(), c.clone()))
                })
                .find(|key| nullable.contains(key))
                .ok_or_else(|| {
                    format!(
                        "the tables {:?} reference each other through required columns only",
                        pending.keys().collect::<Vec<_>>()
                    )
                })?;
            pending
                .get_mut(&table)
                .unwrap()
                .retain(|(c, _)| *c != column);
            deferred.insert((table, column));
            continue;
        }
        for table in ready {
            pending.remove(&table);
            order.push(table);
        }
    }
    Ok((order, deferred))
}

/// Each table's single-column primary key.
async fn primary_keys(target: &mut sqlx::PgConnection) -> Result<BTreeMap<String, String>, String> {
    let rows = sqlx::query(
        "SELECT cl.relname::text, att.attname::text FROM pg_index i \
         JOIN pg_class cl ON cl.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = cl.relnamespace \
         JOIN pg_attribute att ON att.attrelid = i.indrelid AND att.attnum = ANY(i.indkey) \
         WHERE i.indisprimary AND n.nspname = 'public' AND i.indnatts = 1",
    )
    .fetch_all(target)
    .await
    .map_err(|e| format!("PostgreSQL: {e}"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The SQLite value at `i` as a value of the PostgreSQL type `data_type`.
fn convert(row: &sqlx::sqlite::SqliteRow, i: usize, data_type: &str) -> Result<Value, String> {
    let integer = || row.try_get::<Option<i64>, _>(i).map_err(|e| e.to_string());
    let narrow = |v: i64| format!("{v} does not fit the column's type {data_type}");
    Ok(match data_type {
        "smallint" => Value::SmallInt(
            integer()?
                .map(|v| i16::try_from(v).map_err(|_| narrow(v)))
                .transpose()?,
        ),
        "integer" => Value::Int(
            integer()?
                .map(|v| i32::try_from(v).map_err(|_| narrow(v)))
                .transpose()?,
        ),
        "bigint" => Value::BigInt(integer()?),
        // SQLite keeps booleans as 0 and 1.
        "boolean" => Value::Bool(
            integer()?
                .map(|v| match v {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err(format!("{v} is not a boolean (0 or 1)")),
                })
                .transpose()?,
        ),
        "double precision" | "real" => {
            Value::Float(row.try_get(i).map_err(|e: sqlx::Error| e.to_string())?)
        }
        "text" | "character varying" | "character" => {
            Value::Text(row.try_get(i).map_err(|e: sqlx::Error| e.to_string())?)
        }
        "bytea" => Value::Bytes(row.try_get(i).map_err(|e: sqlx::Error| e.to_string())?),
        other => return Err(format!("the PostgreSQL type {other} is not converted")),
    })
}

/// A NULL of `value`'s type.
fn null_of(value: &Value) -> Value {
    match value {
        Value::SmallInt(_) => Value::SmallInt(None),
        Value::Int(_) => Value::Int(None),
        Value::BigInt(_) => Value::BigInt(None),
        Value::Bool(_) => Value::Bool(None),
        Value::Float(_) => Value::Float(None),
        Value::Text(_) => Value::Text(None),
        Value::Bytes(_) => Value::Bytes(None),
    }
}
