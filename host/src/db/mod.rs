//! The database: Buildbot's schema on SQLite (embedded default), opened from a Buildbot `db_url`.
//!
//! Queries elsewhere use `$N` placeholders and standard SQL so that a PostgreSQL backend can run
//! them unchanged; everything engine-specific (URL syntax, pool options, schema creation) is here.

pub mod hash;
pub mod logchunks;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

/// The connection pool every query runs on.
pub type Pool = SqlitePool;

/// The schema of a new database: Buildbot 4.3's tables, columns and indexes.
pub const SCHEMA: &str = include_str!("schema.sql");

/// Where a Buildbot `db_url` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// An in-memory SQLite database (`sqlite://`), empty at every start.
    SqliteMemory,
}

/// Parses Buildbot's `db_url` syntax: `sqlite:///relative/to/basedir.sqlite`,
/// `sqlite:////absolute/path.sqlite`, `sqlite://` (in memory).
pub fn parse_db_url(db_url: &str, base_dir: &Path) -> anyhow::Result<DbLocation> {
    let Some(rest) = db_url.strip_prefix("sqlite://") else {
        let scheme = db_url.split(':').next().unwrap_or(db_url);
        bail!(
            "unsupported database url scheme {scheme:?}: this version serves SQLite \
             (sqlite:///state.sqlite); PostgreSQL support is planned"
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

/// Opens (creating it with Buildbot's schema if it is new) the database a `db_url` names.
pub async fn open(db_url: &str, base_dir: &Path) -> anyhow::Result<Pool> {
    match parse_db_url(db_url, base_dir)? {
        DbLocation::Sqlite(path) => open_file(&path).await,
        DbLocation::SqliteMemory => {
            let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            create_schema(&pool).await?;
            Ok(pool)
        }
    }
}

/// Opens a SQLite file, creating it with Buildbot's schema when it does not exist or is empty.
/// An existing Buildbot database is used as it is: nothing is migrated or rewritten.
pub async fn open_file(path: &Path) -> anyhow::Result<Pool> {
    let is_new = std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(true);
    let mut options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(false)
        .busy_timeout(Duration::from_secs(10))
        .pragma("cache_size", "-16000");
    if is_new {
        // Our own files use WAL so readers never wait for a writer; an existing Buildbot
        // database keeps the journal mode its master chose.
        options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    let pool = SqlitePoolOptions::new()
        .max_connections(workers.max(2) * 2)
        .min_connections(1)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open database {}", path.display()))?;
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
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(pool)
            .await?;
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
