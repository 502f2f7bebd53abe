//! Cheap change detection for the database watcher, asked on a connection of the watcher's
//! own: SQLite's `PRAGMA data_version` moves whenever another connection commits a write (this
//! process's pool, or another process such as a Buildbot master, WAL or not); PostgreSQL's WAL
//! insert position moves with every write to the cluster, a commit included. Asking costs
//! microseconds (a fraction of a millisecond on PostgreSQL) whatever the database's size, so the
//! watcher asks every [`CHECK_INTERVAL`] and runs its full poll only when the answer moved, plus
//! every [`FULL_POLL_INTERVAL`] whatever it says.
//!
//! The version is read before the poll it triggers, so a write that commits while the poll
//! runs moves it again and is picked up by the next poll: nothing is missed.

use std::time::{Duration, Instant};

use sqlx::any::AnyConnectOptions;
use sqlx::AnyConnection;
use sqlx::{ConnectOptions, Connection};

use crate::db::{Engine, Pool};

/// How often the watcher asks whether the database changed.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(20);

/// The longest time between two full polls (the only rhythm where the watcher cannot have a
/// connection of its own: an in-memory database).
pub const FULL_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Why a poll is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// Something committed a write (or the version could not be read: assume it did).
    Changed,
    /// Time for the regular poll; nothing says the data changed.
    Interval,
}

/// The watcher's view of the database's data version.
#[derive(Debug)]
pub(super) struct Detector {
    /// How to open the watcher's connection; `None` for an in-memory database.
    options: Option<AnyConnectOptions>,
    /// What to ask it.
    query: &'static str,
    connection: Option<AnyConnection>,
    version: Option<i64>,
    last_poll: Option<Instant>,
    /// [`FULL_POLL_INTERVAL`], longer in tests.
    full_poll: Duration,
}

impl Detector {
    /// A detector for the database behind `pool` (its connection is opened at the first check).
    pub(super) fn new(pool: &Pool) -> Self {
        let options = (*pool.connect_options()).clone();
        let in_memory = options.database_url.as_str().contains(":memory:");
        let query = match Engine::of(pool) {
            Engine::Sqlite => "PRAGMA data_version",
            Engine::Postgres => "SELECT CAST(pg_current_wal_insert_lsn() - '0/0' AS BIGINT)",
        };
        Detector {
            options: (!in_memory).then(|| options.log_statements(tracing::log::LevelFilter::Off)),
            query,
            connection: None,
            version: None,
            last_poll: None,
            full_poll: FULL_POLL_INTERVAL,
        }
    }

    /// Whether a full poll is due, and why: [`Due::Changed`] when the data version moved (or
    /// could not be read), [`Due::Interval`] for the first poll and every
    /// [`FULL_POLL_INTERVAL`]. The caller polls when one is, then calls [`Detector::polled`].
    pub(super) async fn due(&mut self) -> Option<Due> {
        if self.version_moved().await {
            return Some(Due::Changed);
        }
        self.last_poll
            .is_none_or(|at| at.elapsed() >= self.full_poll)
            .then_some(Due::Interval)
    }

    /// A poll was made now.
    pub(super) fn polled(&mut self) {
        self.last_poll = Some(Instant::now());
    }

    async fn version_moved(&mut self) -> bool {
        let Some(options) = &self.options else {
            return false;
        };
        if self.connection.is_none() {
            match AnyConnection::connect_with(options).await {
                Ok(connection) => self.connection = Some(connection),
                Err(err) => {
                    tracing::warn!("live updates: cannot open the watcher's connection: {err}");
                    return true;
                }
            }
        }
        let Some(connection) = self.connection.as_mut() else {
            return true;
        };
        match sqlx::query_scalar::<_, i64>(self.query)
            .fetch_one(connection)
            .await
        {
            Ok(version) => self.version.replace(version) != Some(version),
            Err(err) => {
                tracing::warn!("live updates: asking whether the database changed failed: {err}");
                self.connection = None;
                self.version = None;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_by_another_connection_makes_a_poll_due_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let pool = crate::db::open_file(&path).await.unwrap();
        let mut detector = Detector::new(&pool);
        detector.full_poll = Duration::from_secs(3600);
        assert_eq!(
            detector.due().await,
            Some(Due::Changed),
            "the first poll records where the database stands"
        );
        detector.polled();
        for _ in 0..3 {
            assert_eq!(detector.due().await, None, "nothing was written");
        }
        // This process's pool (the change hooks, the demo runner) ...
        sqlx::query(
            "INSERT INTO masters (name, name_hash, active, last_active) VALUES ('m', 'h', 1, 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        assert_eq!(detector.due().await, Some(Due::Changed));
        detector.polled();
        assert_eq!(detector.due().await, None);
        // ... and another process (a connection of its own, as a Buildbot master's).
        let other = crate::db::open_file(&path).await.unwrap();
        sqlx::query("UPDATE masters SET active = 0")
            .execute(&other)
            .await
            .unwrap();
        assert_eq!(detector.due().await, Some(Due::Changed));
        detector.polled();
        assert_eq!(detector.due().await, None);
        // A read changes nothing.
        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM masters")
            .fetch_one(&other)
            .await
            .unwrap();
        assert_eq!(detector.due().await, None);
    }

    #[tokio::test]
    async fn an_in_memory_database_is_polled_on_the_full_rhythm_only() {
        let pool = crate::db::open("sqlite://", std::path::Path::new("."))
            .await
            .unwrap();
        let mut detector = Detector::new(&pool);
        assert!(detector.options.is_none());
        assert_eq!(detector.due().await, Some(Due::Interval));
        detector.polled();
        detector.full_poll = Duration::from_secs(3600);
        assert_eq!(detector.due().await, None);
    }
}
