//! The database: Buildbot's schema on SQLite (the embedded default) or on the PostgreSQL
//! database Buildbot's masters write, opened from a Buildbot `db_url`.
//!
//! Every query runs on one pool type (sqlx's `Any` driver) with `$N` placeholders and SQL both
//! engines read; what differs between them (URL syntax, connection settings, schema checks, and
//! the few SQL spellings of [`Engine`]) is here.

pub mod copy;
pub mod hash;
pub mod logchunks;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{ConnectOptions, Executor};

/// The connection pool every query runs on.
pub type Pool = sqlx::AnyPool;
/// A row read from either engine.
pub type Row = sqlx::any::AnyRow;
/// A transaction on either engine.
pub type Transaction<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// The schema of a new database: Buildbot 4.3's tables, columns and indexes.
pub const SCHEMA: &str = include_str!("schema.sql");

/// The database engine behind a pool, for the few places where the SQL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite (a file, or memory).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Engine {
    /// The engine `pool` connects to.
    pub fn of(pool: &Pool) -> Engine {
        Engine::of_url(&pool.connect_options().database_url)
    }

    fn of_url(url: &url::Url) -> Engine {
        match url.scheme() {
            "postgres" | "postgresql" => Engine::Postgres,
            _ => Engine::Sqlite,
        }
    }

    /// `expr IN (ids)` where `ids` is one parameter (written `param`) holding a JSON array of
    /// integers: one statement text whatever the number of ids.
    pub fn in_json_ids(self, expr: &str, param: &str) -> String {
        match self {
            Engine::Sqlite => format!("{expr} IN (SELECT value FROM json_each({param}))"),
            Engine::Postgres => format!(
                "{expr} IN (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST({param} AS json)))"
            ),
        }
    }

    /// A JSON object built in SQL from `'name', value` pairs, as text.
    pub fn json_object(self, pairs: &str) -> String {
        match self {
            Engine::Sqlite => format!("json_object({pairs})"),
            Engine::Postgres => format!("CAST(json_build_object({pairs}) AS TEXT)"),
        }
    }

    /// A JSON array of one JSON array per row (`columns`), in `order`, as text; `[]` for no
    /// rows.
    pub fn json_rows(self, columns: &str, order: &str) -> String {
        match self {
            Engine::Sqlite => format!("json_group_array(json_array({columns}) ORDER BY {order})"),
            Engine::Postgres => format!(
                "CAST(coalesce(json_agg(json_build_array({columns}) ORDER BY {order}), CAST('[]' AS json)) AS TEXT)"
            ),
        }
    }

    /// The order in which rows of a table without a primary key were written (build, change
    /// and buildset properties, change files): SQLite's `rowid`; on PostgreSQL the rows' place
    /// in the table, which follows the write order until the table is rewritten (docs/postgresql.md).
    pub fn write_order(self, table: &str) -> String {
        match self {
            Engine::Sqlite => format!("{table}.rowid"),
            Engine::Postgres => format!("{table}.ctid"),
        }
    }

    /// `expr` (a `BLOB`/`bytea` column) read as bytes: SQLite keeps whatever type it was given,
    /// and tools other than Buildbot write log chunks as text, which sqlx reads only as text
    /// (and only when it is UTF-8).
    pub fn bytes(self, expr: &str) -> String {
        match self {
            Engine::Sqlite => format!("CAST({expr} AS BLOB)"),
            Engine::Postgres => expr.to_owned(),
        }
    }

    /// The function giving the 1-based position of a needle in a text (0 when absent),
    /// case-sensitive: `f(text, needle)`.
    pub fn position_function(self) -> &'static str {
        match self {
            Engine::Sqlite => "instr",
            Engine::Postgres => "strpos",
        }
    }
}

/// Begins a transaction that writes, some of its rows made only when a look-up finds none
/// (sourcestamps, users): on SQLite it takes the database's write lock at once
/// (`BEGIN IMMEDIATE`), so that writers wait for one another instead of failing; on PostgreSQL
/// it locks `tables` against other writers, in whatever process (another instance, a master),
/// until it ends, so that two cannot both make the same row. Readers are not held up.
pub async fn begin_writing(
    pool: &Pool,
    tables: &[&str],
) -> Result<Transaction<'static>, sqlx::Error> {
    match Engine::of(pool) {
        Engine::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Engine::Postgres => {
            let mut tx = pool.begin().await?;
            if !tables.is_empty() {
                let lock = format!(
                    "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
                    tables.join(", ")
                );
                sqlx::query(&lock).execute(&mut *tx).await?;
            }
            Ok(tx)
        }
    }
}

/// Where a Buildbot `db_url` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// An in-memory SQLite database (`sqlite://`), empty at every start.
    SqliteMemory,
    /// A PostgreSQL database: the URL as sqlx reads it (`postgres://user@host:port/db?...`),
    /// Buildbot's driver suffix removed.
    Postgres(url::Url),
}

/// Parses Buildbot's `db_url` syntax: `sqlite:///relative/to/basedir.sqlite`,
/// `sqlite:////absolute/path.sqlite`, `sqlite://` (in memory), and
/// `postgresql://user:password@host:port/database` with or without a driver
/// (`postgresql+psycopg2://`, as Buildbot writes it).
pub fn parse_db_url(db_url: &str, base_dir: &Path) -> anyhow::Result<DbLocation> {
    let scheme = db_url.split("://").next().unwrap_or(db_url);
    let engine = scheme.split('+').next().unwrap_or(scheme);
    if engine == "postgresql" || engine == "postgres" {
        return parse_postgres_url(db_url, scheme);
    }
    let Some(rest) = db_url.strip_prefix("sqlite://") else {
        bail!(
            "unsupported database url scheme {scheme:?}: this server reads SQLite \
             (sqlite:///state.sqlite) and PostgreSQL (postgresql://user@host/database)"
        );
    };
    let rest = rest.split('?').next().unwrap_or(rest);
    if rest.is_empty() || rest == "/:memory:" {
        return Ok(DbLocation::SqliteMemory);
    }
    let Some(path) = rest.strip_prefix('/') else {
        bail!("invalid sqlite url {db_url:?}: expected sqlite:///relative/path or sqlite:////absolute/path");
    };
    let path = Path::new(path);
    Ok(DbLocation::Sqlite(if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }))
}

/// Buildbot's options in a `db_url`'s query that are SQLAlchemy's, not the database's.
const SQLALCHEMY_OPTIONS: &[&str] = &["max_idle", "pool_size", "max_overflow"];

fn parse_postgres_url(db_url: &str, scheme: &str) -> anyhow::Result<DbLocation> {
    let rest = &db_url[scheme.len()..];
    let mut url = url::Url::parse(&format!("postgres{rest}"))
        .map_err(|e| anyhow::anyhow!("invalid PostgreSQL url {}: {e}", redacted(db_url)))?;
    if url.host_str().is_none_or(str::is_empty) {
        bail!(
            "invalid PostgreSQL url {}: it names no host (postgresql://user@host/database)",
            redacted(db_url)
        );
    }
    if url.path().trim_start_matches('/').is_empty() {
        bail!(
            "invalid PostgreSQL url {}: it names no database (postgresql://user@host/database)",
            redacted(db_url)
        );
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !SQLALCHEMY_OPTIONS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok(DbLocation::Postgres(url))
}

/// A `db_url` as it may be shown in messages and logs: its password, if any, replaced.
pub fn redacted(db_url: &str) -> String {
    let Some((scheme, rest)) = db_url.split_once("://") else {
        return db_url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => db_url.to_owned(),
    }
}

/// Opens (creating it with Buildbot's schema if it is a new SQLite file) the database a
/// `db_url` names.
pub async fn open(db_url: &str, base_dir: &Path) -> anyhow::Result<Pool> {
    open_with(db_url, None, base_dir).await
}

/// [`open`], with the database password given apart from the URL (`[db] password`, a secret).
pub async fn open_with(
    db_url: &str,
    password: Option<&str>,
    base_dir: &Path,
) -> anyhow::Result<Pool> {
    sqlx::any::install_default_drivers();
    match parse_db_url(db_url, base_dir)? {
        DbLocation::Sqlite(path) => open_file(&path).await,
        DbLocation::SqliteMemory => {
            let options = AnyConnectOptions::from_str("sqlite::memory:")?;
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .after_connect(|conn, _| {
                    Box::pin(async move { sqlite_settings(conn, false).await })
                })
                .connect_with(options)
                .await?;
            create_schema(&pool).await?;
            Ok(pool)
        }
        DbLocation::Postgres(url) => open_postgres(url, password, db_url).await,
    }
}

/// Connections per pool: enough for the server's concurrent reads on this many cores.
fn pool_size() -> u32 {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    workers.max(2) * 2
}

/// Per-connection settings of a SQLite file: the schema's foreign keys are not enforced (as
/// Buildbot's own connections), a writer is waited for up to 10 s, a 16 MB page cache; new
/// files (ours) sync less often in WAL mode.
async fn sqlite_settings(conn: &mut sqlx::AnyConnection, new_file: bool) -> sqlx::Result<()> {
    conn.execute(
        "PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 10000; PRAGMA cache_size = -16000",
    )
    .await?;
    if new_file {
        conn.execute("PRAGMA synchronous = NORMAL").await?;
    }
    Ok(())
}

/// sqlx's URL for a SQLite file.
fn sqlite_url(path: &Path) -> anyhow::Result<String> {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'.')
        .remove(b'-')
        .remove(b'_');
    let text = path
        .to_str()
        .with_context(|| format!("the database path {} is not UTF-8", path.display()))?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        percent_encoding::utf8_percent_encode(text, KEEP)
    ))
}

/// Opens a SQLite file, creating it with Buildbot's schema when it does not exist or is empty.
/// An existing Buildbot database is used as it is: nothing is migrated or rewritten.
pub async fn open_file(path: &Path) -> anyhow::Result<Pool> {
    sqlx::any::install_default_drivers();
    let is_new = std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(true);
    let options = AnyConnectOptions::from_str(&sqlite_url(path)?)?;
    let pool = AnyPoolOptions::new()
        .max_connections(pool_size())
        .min_connections(1)
        .after_connect(move |conn, _| Box::pin(async move { sqlite_settings(conn, is_new).await }))
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open database {}", path.display()))?;
    if is_new {
        // Our own files use WAL so readers never wait for a writer; an existing Buildbot
        // database keeps the journal mode its master chose.
        pool.execute("PRAGMA journal_mode = WAL")
            .await
            .with_context(|| format!("cannot open database {}", path.display()))?;
    }
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        .fetch_one(&pool)
        .await
        .with_context(|| format!("{} is not a readable SQLite database", path.display()))?;
    if tables == 0 {
        create_schema(&pool)
            .await
            .with_context(|| format!("cannot create Buildbot's schema in {}", path.display()))?;
    } else {
        check_schema(&pool)
            .await
            .with_context(|| format!("{} is not a Buildbot database", path.display()))?;
    }
    Ok(pool)
}

/// Opens the PostgreSQL database Buildbot's masters write. Its schema is Buildbot's, made by
/// `buildbot upgrade-master`: this server checks it and never creates or changes it.
async fn open_postgres(
    mut url: url::Url,
    password: Option<&str>,
    db_url: &str,
) -> anyhow::Result<Pool> {
    if let Some(password) = password {
        url.set_password(Some(password))
            .map_err(|()| anyhow::anyhow!("cannot set the password of {}", redacted(db_url)))?;
    }
    let options = AnyConnectOptions::from_str(url.as_str())
        .map_err(|e| anyhow::anyhow!("invalid PostgreSQL url {}: {e}", redacted(db_url)))?
        .log_statements(tracing::log::LevelFilter::Off);
    let shown = redacted(db_url);
    let pool = AnyPoolOptions::new()
        .max_connections(pool_size())
        .min_connections(1)
        // While the database is down, a request waits this long for a connection, then fails
        // with a 503 (data/error.rs); the pool reconnects by itself once it is back.
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .with_context(|| format!("cannot connect to the database {shown}"))?;
    check_schema(&pool).await.with_context(|| {
        format!(
            "{shown} is not a Buildbot database (create its schema with Buildbot's \
                 `buildbot upgrade-master`)"
        )
    })?;
    Ok(pool)
}

async fn create_schema(pool: &Pool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The tables the server reads; a file without them is refused with a clear message.
const REQUIRED_TABLES: &[&str] = &[
    "builders",
    "builds",
    "steps",
    "logs",
    "logchunks",
    "changes",
    "sourcestamps",
    "buildsets",
    "buildrequests",
    "workers",
    "masters",
];

async fn check_schema(pool: &Pool) -> anyhow::Result<()> {
    let tables = match Engine::of(pool) {
        Engine::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Engine::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema()"
        }
    };
    let names: Vec<String> = sqlx::query_scalar(tables).fetch_all(pool).await?;
    let missing: Vec<&str> = REQUIRED_TABLES
        .iter()
        .copied()
        .filter(|t| !names.iter().any(|n| n == t))
        .collect();
    if !missing.is_empty() {
        bail!("missing tables: {}", missing.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_urls_follow_buildbot_syntax() {
        let base = Path::new("/srv/master");
        assert_eq!(
            parse_db_url("sqlite:///state.sqlite", base).unwrap(),
            DbLocation::Sqlite("/srv/master/state.sqlite".into())
        );
        assert_eq!(
            parse_db_url("sqlite:////var/lib/bb.sqlite", base).unwrap(),
            DbLocation::Sqlite("/var/lib/bb.sqlite".into())
        );
        assert_eq!(
            parse_db_url("sqlite://", base).unwrap(),
            DbLocation::SqliteMemory
        );
        let err = parse_db_url("mysql://u@h/db", base)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unsupported database url scheme \"mysql\""),
            "{err}"
        );
    }

    #[test]
    fn postgresql_urls_in_buildbots_spellings() {
        let base = Path::new("/srv/master");
        let url = |text: &str| match parse_db_url(text, base).unwrap() {
            DbLocation::Postgres(url) => url.to_string(),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            url("postgresql+psycopg2://bb:s3cret@db.example.org:5433/buildbot"),
            "postgres://bb:s3cret@db.example.org:5433/buildbot"
        );
        assert_eq!(
            url("postgresql://bb@db/buildbot?max_idle=300&sslmode=require"),
            "postgres://bb@db/buildbot?sslmode=require"
        );
        assert_eq!(
            url("postgres://bb@db/buildbot?pool_size=5"),
            "postgres://bb@db/buildbot"
        );
        for (bad, says) in [
            ("postgresql://bb:pw@/buildbot", "empty host"),
            ("postgresql:///buildbot", "names no host"),
            ("postgresql+psycopg2://bb:pw@db", "names no database"),
            ("postgresql://bb:pw@db:notaport/x", "invalid PostgreSQL url"),
        ] {
            let err = format!("{:#}", parse_db_url(bad, base).unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
            assert!(!err.contains("pw@"), "{bad}: the password is shown: {err}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redacted("postgresql+psycopg2://bb:p@ss@db:5432/x?sslmode=require"),
            "postgresql+psycopg2://bb:***@db:5432/x?sslmode=require"
        );
        assert_eq!(redacted("postgresql://bb@db/x"), "postgresql://bb@db/x");
        assert_eq!(redacted("sqlite:///state.sqlite"), "sqlite:///state.sqlite");
        assert_eq!(redacted("not a url"), "not a url");
    }

    #[tokio::test]
    async fn a_new_file_gets_the_schema_and_a_corrupt_one_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.sqlite");
        let pool = open_file(&path).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM builds")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
        drop(pool);

        let bad = dir.path().join("corrupt.sqlite");
        std::fs::write(
            &bad,
            b"this is not a database, just some bytes that go on for a while....",
        )
        .unwrap();
        let err = format!("{:#}", open_file(&bad).await.unwrap_err());
        assert!(err.contains("corrupt.sqlite"), "{err}");
    }
}
