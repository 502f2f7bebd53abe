//! The PostgreSQL test set-up (`common/postgres.rs`): the reference database copied into the
//! schema Buildbot 4.3 makes on PostgreSQL holds the same rows as the SQLite file (counts,
//! logs, properties, files, ids and sequences), a SQLite file with a table or a column
//! Buildbot's schema lacks is refused, and the cluster asks for its password.

use crate::common::postgres::{
    copy_rows, reference_postgres, reference_sqlite, schema_database, PASSWORD,
};

use buildbot_www::db::logchunks;
use sqlx::Connection as _;

async fn sqlite() -> sqlx::SqliteConnection {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(reference_sqlite())
        .read_only(true);
    sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_rows_are_in_buildbots_schema() {
    // Two at once: each test has its own copy, from the schema made once.
    let (Some(url), Some(other)) = tokio::join!(reference_postgres(), reference_postgres()) else {
        return;
    };
    assert_ne!(url, other);
    let mut lite = sqlite().await;
    let mut pg = sqlx::PgConnection::connect(&url).await.unwrap();

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&mut lite)
    .await
    .unwrap();
    assert!(tables.len() > 40, "{tables:?}");
    for table in &tables {
        let count = format!("SELECT count(*) FROM \"{table}\"");
        let theirs: i64 = sqlx::query_scalar(&count)
            .fetch_one(&mut lite)
            .await
            .unwrap();
        let ours: i64 = sqlx::query_scalar(&count).fetch_one(&mut pg).await.unwrap();
        assert_eq!(ours, theirs, "rows of {table}");
    }

    // Every log's chunks, in order, decode to the same text.
    let lite_chunks: Vec<(i64, i64, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT logid, first_line, compressed, content FROM logchunks ORDER BY logid, first_line",
    )
    .fetch_all(&mut lite)
    .await
    .unwrap();
    let pg_chunks: Vec<(i32, i32, i16, Vec<u8>)> = sqlx::query_as(
        "SELECT logid, first_line, compressed, content FROM logchunks ORDER BY logid, first_line",
    )
    .fetch_all(&mut pg)
    .await
    .unwrap();
    assert_eq!(pg_chunks.len(), lite_chunks.len());
    assert!(
        lite_chunks.iter().any(|c| c.2 != 0),
        "some chunks are compressed"
    );
    for (l, p) in lite_chunks.iter().zip(&pg_chunks) {
        assert_eq!((i64::from(p.0), i64::from(p.1)), (l.0, l.1));
        assert_eq!(p.3, l.3, "log {} line {}: the stored bytes", l.0, l.1);
        assert_eq!(
            logchunks::decode(i64::from(p.2), &p.3).unwrap(),
            logchunks::decode(l.2, &l.3).unwrap(),
            "log {} line {}",
            l.0,
            l.1
        );
    }

    // Build properties and a change's files, every row, in the order they were written:
    // these tables have no id, and the copy keeps SQLite's rowid order as PostgreSQL's
    // physical order (ctid) of the fresh copy.
    let lite_props: Vec<(i64, String, String, String)> =
        sqlx::query_as("SELECT buildid, name, value, source FROM build_properties ORDER BY rowid")
            .fetch_all(&mut lite)
            .await
            .unwrap();
    let pg_props: Vec<(i32, String, String, String)> =
        sqlx::query_as("SELECT buildid, name, value, source FROM build_properties ORDER BY ctid")
            .fetch_all(&mut pg)
            .await
            .unwrap();
    let widened: Vec<_> = pg_props
        .into_iter()
        .map(|(id, n, v, s)| (i64::from(id), n, v, s))
        .collect();
    assert_eq!(widened, lite_props);
    let lite_files: Vec<(i64, String)> =
        sqlx::query_as("SELECT changeid, filename FROM change_files ORDER BY rowid")
            .fetch_all(&mut lite)
            .await
            .unwrap();
    let pg_files: Vec<(i32, String)> =
        sqlx::query_as("SELECT changeid, filename FROM change_files ORDER BY ctid")
            .fetch_all(&mut pg)
            .await
            .unwrap();
    assert!(!lite_files.is_empty());
    let widened: Vec<_> = pg_files
        .into_iter()
        .map(|(id, f)| (i64::from(id), f))
        .collect();
    assert_eq!(widened, lite_files);

    // The references written after the rows they point to (a rebuilt build's buildset points
    // at a later table, a change at its parent change).
    let query = "SELECT id, parent_buildid, rebuilt_buildid FROM buildsets ORDER BY id";
    let lite_sets: Vec<(i64, Option<i64>, Option<i64>)> =
        sqlx::query_as(query).fetch_all(&mut lite).await.unwrap();
    let pg_sets: Vec<(i32, Option<i32>, Option<i32>)> =
        sqlx::query_as(query).fetch_all(&mut pg).await.unwrap();
    assert!(lite_sets.iter().any(|s| s.2.is_some()));
    let widened: Vec<_> = pg_sets
        .into_iter()
        .map(|(id, p, r)| (i64::from(id), p.map(i64::from), r.map(i64::from)))
        .collect();
    assert_eq!(widened, lite_sets);
    let query = "SELECT changeid, parent_changeids FROM changes ORDER BY changeid";
    let lite_changes: Vec<(i64, Option<i64>)> =
        sqlx::query_as(query).fetch_all(&mut lite).await.unwrap();
    let pg_changes: Vec<(i32, Option<i32>)> =
        sqlx::query_as(query).fetch_all(&mut pg).await.unwrap();
    assert!(lite_changes.iter().any(|c| c.1.is_some()));
    let widened: Vec<_> = pg_changes
        .into_iter()
        .map(|(id, p)| (i64::from(id), p.map(i64::from)))
        .collect();
    assert_eq!(widened, lite_changes);

    // Each id: the same highest value, and the sequence hands out the next one.
    let sequences: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' \
         AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL \
         ORDER BY table_name",
    )
    .fetch_all(&mut pg)
    .await
    .unwrap();
    assert!(
        sequences.contains(&("builds".into(), "id".into())),
        "{sequences:?}"
    );
    for (table, column) in &sequences {
        let highest = format!("SELECT CAST(max(\"{column}\") AS BIGINT) FROM \"{table}\"");
        let theirs: Option<i64> = sqlx::query_scalar(&highest)
            .fetch_one(&mut lite)
            .await
            .unwrap();
        let ours: Option<i64> = sqlx::query_scalar(&highest)
            .fetch_one(&mut pg)
            .await
            .unwrap();
        assert_eq!(ours, theirs, "highest {table}.{column}");
        let next: i64 = sqlx::query_scalar(&format!(
            "SELECT nextval(pg_get_serial_sequence('\"{table}\"', '{column}'))"
        ))
        .fetch_one(&mut pg)
        .await
        .unwrap();
        assert_eq!(next, theirs.unwrap_or(0) + 1, "next {table}.{column}");
    }

    // The other copy is whole too.
    let mut other = sqlx::PgConnection::connect(&other).await.unwrap();
    let builds: i64 = sqlx::query_scalar("SELECT count(*) FROM builds")
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert_eq!(builds, 41);
}

/// A copy of the reference SQLite file changed by `sql`, in `dir`.
async fn changed_reference(dir: &std::path::Path, sql: &str) -> std::path::PathBuf {
    let changed = dir.join("state.sqlite");
    std::fs::copy(reference_sqlite(), &changed).unwrap();
    let mut lite = sqlx::SqliteConnection::connect(&format!("sqlite://{}", changed.display()))
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut lite).await.unwrap();
    lite.close().await.unwrap();
    changed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_or_column_buildbots_schema_lacks_is_refused() {
    let Some(url) = schema_database().await else {
        return;
    };
    let (table_dir, column_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let extra_table = changed_reference(
        table_dir.path(),
        "CREATE TABLE homers_donuts (id INTEGER PRIMARY KEY, flavour TEXT)",
    )
    .await;
    let error = copy_rows(&extra_table, &url).await.unwrap_err();
    eprintln!("refused: {error}");
    assert!(
        error.contains("the table `homers_donuts`") && error.contains("lacks"),
        "{error}"
    );
    let extra_column = changed_reference(
        column_dir.path(),
        "ALTER TABLE builds ADD COLUMN donuts INTEGER",
    )
    .await;
    let error = copy_rows(&extra_column, &url).await.unwrap_err();
    eprintln!("refused: {error}");
    assert!(
        error.contains("the column `builds.donuts`") && error.contains("lacks"),
        "{error}"
    );

    // Nothing was copied.
    let mut pg = sqlx::PgConnection::connect(&url).await.unwrap();
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM builds) + (SELECT count(*) FROM buildsets) \
         + (SELECT count(*) FROM masters)",
    )
    .fetch_one(&mut pg)
    .await
    .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_asks_for_the_password() {
    let Some(url) = crate::common::postgres::database().await else {
        return;
    };
    assert!(url.contains(PASSWORD));
    assert!(sqlx::PgConnection::connect(&url).await.is_ok());
    let wrong = url.replace(PASSWORD, "not-the-password");
    let error = sqlx::PgConnection::connect(&wrong).await.unwrap_err();
    assert!(
        error.to_string().contains("password authentication failed"),
        "{error}"
    );
    let none = url.replace(&format!(":{PASSWORD}@"), "@");
    assert!(sqlx::PgConnection::connect(&none).await.is_err());
}

/// `buildbot-www` run to its end: exit status and what it printed (stdout, then stderr).
fn cli(args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// As an operator fills a database Buildbot made: `load-fixtures` and `gen-data` write into
/// PostgreSQL (Buildbot's `postgresql+psycopg2://` spelling, the password in a secret file),
/// refuse a database holding data unless `--force`, say what they did without the password,
/// and the server then serves what they wrote; a wrong password is a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_fixtures_and_gen_data_fill_postgresql() {
    let (Some(demo_url), Some(generated_url)) = tokio::join!(schema_database(), schema_database())
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db-password"), format!("{PASSWORD}\n")).unwrap();
    let without_password = demo_url
        .replace(&format!(":{PASSWORD}@"), "@")
        .replace("postgresql://", "postgresql+psycopg2://");
    let config = dir.path().join("master.toml");
    std::fs::write(
        &config,
        format!("[db]\ndb_url = {without_password:?}\npassword = {{ file = \"db-password\" }}\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    let (ok, text) = cli(&["load-fixtures", "--config", config]);
    assert!(ok, "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(text.contains("builders"), "{text}");
    let (ok, text) = cli(&["load-fixtures", "--config", config]);
    assert!(!ok && text.contains("already holds"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    let (ok, text) = cli(&["load-fixtures", "--config", config, "--force"]);
    assert!(ok, "{text}");

    // The server reads it: the demo's builders and builds, as from the SQLite demo.
    let server = crate::common::Server::start(
        crate::common::state_without_plugins(std::path::Path::new(config)).await,
        tempfile::tempdir().unwrap(),
    )
    .await;
    let json = |path: &'static str| {
        let server = &server;
        async move {
            let answer = server.get(path).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.text());
            serde_json::from_str::<serde_json::Value>(&answer.text()).unwrap()
        }
    };
    let builds = json("/api/v2/builds?limit=1&order=-buildid").await;
    assert_eq!(
        builds["builds"].as_array().map(Vec::len),
        Some(1),
        "{builds}"
    );
    let lite_dir = tempfile::tempdir().unwrap();
    let lite = buildbot_www::db::open_file(&lite_dir.path().join("state.sqlite"))
        .await
        .unwrap();
    buildbot_www::fixtures::fill_demo(&lite, 1_800_000_000)
        .await
        .unwrap();
    let lite_builders: i64 = sqlx::query_scalar("SELECT count(*) FROM builders")
        .fetch_one(&lite)
        .await
        .unwrap();
    let served = json("/api/v2/builders").await;
    assert_eq!(
        served["meta"]["total"].as_i64(),
        Some(lite_builders),
        "{served}"
    );

    let (ok, text) = cli(&[
        "gen-data",
        "--builders",
        "3",
        "--builds",
        "30",
        "--out",
        &generated_url,
    ]);
    assert!(ok, "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    let mut pg = sqlx::PgConnection::connect(&generated_url).await.unwrap();
    let (builds, builders): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM builds), (SELECT count(*) FROM builders)")
            .fetch_one(&mut pg)
            .await
            .unwrap();
    assert_eq!((builds, builders), (30, 3));

    // A wrong password: the database's refusal, without any password.
    std::fs::write(dir.path().join("db-password"), "not-the-password").unwrap();
    let (ok, text) = cli(&["load-fixtures", "--config", config, "--force"]);
    assert!(
        !ok && text.contains("password authentication failed"),
        "{text}"
    );
    assert!(!text.contains("not-the-password"), "{text}");
}

/// The UI's pages read the reference rows from PostgreSQL as from SQLite: each page's HTML is
/// the same on both (relative times, which move with the clock, masked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_the_same_on_postgresql() {
    let Some(url) = reference_postgres().await else {
        return;
    };
    let lite = crate::common::serve_reference().await;
    let pg = crate::common::serve_reference_config(
        crate::common::MasterToml::reference().set(&["db", "db_url"], url),
    )
    .await;
    let ago = regex::Regex::new(
        r"\d+ (second|minute|hour|day|week|month|year)s?( ago)?|title=\x22[^\x22]*\x22|datetime=\x22[^\x22]*\x22",
    )
    .unwrap();
    let mut compared = 0;
    for path in [
        "/home",
        "/builders",
        "/builders?tag=linux",
        "/builders/1",
        "/builders/2",
        "/builders/1/builds/1",
        "/builders/4/builds/2",
        "/logs/1",
        "/logs/1?from=2",
        "/workers",
        "/changes",
        "/pendingbuildrequests",
        "/about",
    ] {
        let (a, b) = (lite.get(path).await, pg.get(path).await);
        assert_eq!((a.status, b.status), (200, 200), "{path}");
        let (a, b) = (a.text(), b.text());
        let (a, b) = (ago.replace_all(&a, "*"), ago.replace_all(&b, "*"));
        if a != b {
            let at = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
            let around = |t: &str| {
                t.chars()
                    .skip(at.saturating_sub(80))
                    .take(200)
                    .collect::<String>()
            };
            panic!(
                "{path} differs at char {at}:\n   SQLite: {:?}\nPostgreSQL: {:?}",
                around(&a),
                around(&b)
            );
        }
        compared += 1;
    }
    assert_eq!(compared, 13);
}
