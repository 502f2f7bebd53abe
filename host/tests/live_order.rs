//! Live events in Buildbot's causal order and build property updates, over a real `/ws`: a
//! writer in another connection (as a Buildbot master would be) adds rows, the watcher
//! publishes them.

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::live::{collect, connect, next_text, send, serve, writer, Ws};

const T: i64 = 1_800_000_000;

/// Subscribes `ws` to every path in `paths`.
async fn consume(ws: &mut Ws, paths: &[&str]) {
    for (i, path) in paths.iter().enumerate() {
        send(
            ws,
            Message::Text(
                json!({"cmd": "startConsuming", "path": path, "_id": i})
                    .to_string()
                    .into(),
            ),
        )
        .await;
        assert_eq!(
            next_text(ws).await,
            format!(r#"{{"msg":"OK","code":200,"_id":{i}}}"#)
        );
    }
}

/// Where `key` was first seen.
fn position(seen: &[(String, Value)], key: &str) -> usize {
    seen.iter()
        .position(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("{key} not seen in {seen:?}"))
}

/// A buildset already complete: its `complete` event goes out after everything else of the
/// poll that sees it, so waiting for it shows what earlier writes produced.
async fn marker(db: &buildbot_www::db::Pool) -> String {
    let bsid: i64 = sqlx::query_scalar(
        "INSERT INTO buildsets (reason, submitted_at, complete, complete_at, results) \
         VALUES ('marker', $1, 1, $1, 0) RETURNING id",
    )
    .bind(T)
    .fetch_one(db)
    .await
    .unwrap();
    format!("buildsets/{bsid}/complete")
}

const PATHS: &[&str] = &[
    "buildsets/*/*",
    "buildrequests/*/*",
    "builds/*/*",
    "builds/*/properties/*",
    "builds/*/steps/*/*",
    "steps/*/logs/*/*",
    "logs/*/*",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_of_one_transaction_come_parent_first_and_properties_follow_their_build() {
    let live = serve("").await;
    let mut ws = connect(&live.base).await;
    consume(&mut ws, PATHS).await;
    // The watcher's first poll records where the database stands: done before writing.
    live.events.sync().await;
    let db = writer(&live).await;

    let mut tx = db.begin().await.unwrap();
    let bsid: i64 = sqlx::query_scalar("INSERT INTO buildsets (reason, submitted_at, complete, results) VALUES ('order', $1, 0, -1) RETURNING id")
        .bind(T).fetch_one(&mut *tx).await.unwrap();
    let brid: i64 = sqlx::query_scalar("INSERT INTO buildrequests (buildsetid, builderid, priority, complete, results, submitted_at, waited_for) VALUES ($1, 1, 0, 0, -1, $2, 0) RETURNING id")
        .bind(bsid).bind(T).fetch_one(&mut *tx).await.unwrap();
    let buildid: i64 = sqlx::query_scalar("INSERT INTO builds (number, builderid, buildrequestid, workerid, masterid, started_at, locks_duration_s, state_string) SELECT max(number) + 1, 1, $1, 2, 1, $2, 0, 'building' FROM builds WHERE builderid = 1 RETURNING id")
        .bind(brid).bind(T).fetch_one(&mut *tx).await.unwrap();
    for (name, value, source) in [
        ("branch", "\"main\"", "Build"),
        ("owner", "\"me@example.com\"", "Force Build Form"),
    ] {
        sqlx::query(
            "INSERT INTO build_properties (buildid, name, value, source) VALUES ($1, $2, $3, $4)",
        )
        .bind(buildid)
        .bind(name)
        .bind(value)
        .bind(source)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let stepid: i64 = sqlx::query_scalar("INSERT INTO steps (number, name, buildid, started_at, locks_acquired_at, state_string, urls_json, hidden) VALUES (0, 'compile', $1, $2, $2, 'compiling', '[]', 0) RETURNING id")
        .bind(buildid).bind(T).fetch_one(&mut *tx).await.unwrap();
    let logid: i64 = sqlx::query_scalar("INSERT INTO logs (name, slug, stepid, complete, num_lines, type) VALUES ('stdio', 'stdio', $1, 0, 2, 's') RETURNING id")
        .bind(stepid).fetch_one(&mut *tx).await.unwrap();
    sqlx::query("INSERT INTO logchunks (logid, first_line, last_line, content, compressed) VALUES ($1, 0, 1, $2, 0)")
        .bind(logid).bind(b"oone\notwo".to_vec()).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();

    let order = [
        format!("buildsets/{bsid}/new"),
        format!("buildrequests/{brid}/new"),
        format!("builds/{buildid}/new"),
        format!("builds/{buildid}/steps/{stepid}/new"),
        format!("steps/{stepid}/logs/stdio/new"),
        format!("steps/{stepid}/logs/stdio/append"),
    ];
    let properties = format!("builds/{buildid}/properties/update");
    let mut want = order.to_vec();
    want.push(properties.clone());
    want.push(format!("logs/{logid}/append"));
    let seen = collect(&mut ws, &want).await;
    for pair in order.windows(2) {
        assert!(
            position(&seen, &pair[0]) < position(&seen, &pair[1]),
            "{} after {}: {seen:?}",
            pair[0],
            pair[1]
        );
    }
    assert!(position(&seen, &order[2]) < position(&seen, &properties));
    assert!(position(&seen, &format!("logs/{logid}/new")) < position(&seen, &order[5]));
    let (_, message) = &seen[position(&seen, &properties)];
    assert_eq!(
        serde_json::to_string(message).unwrap(),
        r#"{"branch":["main","Build"],"owner":["me@example.com","Force Build Form"]}"#
    );

    // A changed value and a new property, then the step's end (Buildbot writes properties
    // right after a step): only those, once each.
    sqlx::query(
        "UPDATE build_properties SET value = '\"release\"' WHERE buildid = $1 AND name = 'branch'",
    )
    .bind(buildid)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("INSERT INTO build_properties (buildid, name, value, source) VALUES ($1, 'got_revision', '\"abc\"', 'Git')")
        .bind(buildid)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE steps SET complete_at = $2, results = 0 WHERE id = $1")
        .bind(stepid)
        .bind(T + 1)
        .execute(&db)
        .await
        .unwrap();
    let step_finished = format!("builds/{buildid}/steps/{stepid}/finished");
    let seen = collect(&mut ws, &[step_finished, properties.clone()]).await;
    let updates: Vec<&Value> = seen
        .iter()
        .filter(|(k, _)| k == &properties)
        .map(|(_, m)| m)
        .collect();
    let merged = updates.iter().fold(json!({}), |mut all, update| {
        for (name, value) in update.as_object().unwrap() {
            all[name] = value.clone();
        }
        all
    });
    assert_eq!(
        merged,
        json!({"branch": ["release", "Build"], "got_revision": ["abc", "Git"]}),
        "{updates:?}"
    );
    assert!(updates
        .iter()
        .all(|u| !u.as_object().unwrap().contains_key("owner")));

    // Properties set as the build finishes are published before its `finished`.
    sqlx::query("INSERT INTO build_properties (buildid, name, value, source) VALUES ($1, 'last', '1', 'Step')")
        .bind(buildid)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE builds SET complete_at = $2, results = 0 WHERE id = $1")
        .bind(buildid)
        .bind(T + 1)
        .execute(&db)
        .await
        .unwrap();
    let finished = format!("builds/{buildid}/finished");
    let seen = collect(&mut ws, &[properties.clone(), finished.clone()]).await;
    assert!(position(&seen, &properties) < position(&seen, &finished));
    assert_eq!(
        seen[position(&seen, &properties)].1,
        json!({"last": [1, "Step"]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_written_before_its_parent_waits_for_the_parent() {
    let live = serve("").await;
    let mut ws = connect(&live.base).await;
    consume(&mut ws, PATHS).await;
    // The watcher's first poll records where the database stands: done before writing.
    live.events.sync().await;
    let db = writer(&live).await;

    // A log of a step that does not exist yet: what the watcher sees when the step's page of
    // new rows ended before it, or when both were committed between two of its reads.
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&db)
        .await
        .unwrap();
    let stepid: i64 = sqlx::query_scalar("SELECT max(id) + 10 FROM steps")
        .fetch_one(&db)
        .await
        .unwrap();
    let logid: i64 = sqlx::query_scalar("INSERT INTO logs (name, slug, stepid, complete, num_lines, type) VALUES ('stdio', 'stdio', $1, 0, 0, 's') RETURNING id")
        .bind(stepid).fetch_one(&db).await.unwrap();
    let done = marker(&db).await;
    let seen = collect(&mut ws, &[done]).await;
    assert!(
        seen.iter()
            .all(|(k, _)| !k.starts_with("logs/") && !k.starts_with("steps/")),
        "{seen:?}"
    );

    // The step arrives: its `new` first, then the log that waited.
    sqlx::query("INSERT INTO steps (id, number, name, buildid, started_at, locks_acquired_at, state_string, urls_json, hidden) VALUES ($1, 99, 'late', 41, $2, $2, 'running', '[]', 0)")
        .bind(stepid).bind(T).execute(&db).await.unwrap();
    let step_new = format!("builds/41/steps/{stepid}/new");
    let log_new = format!("logs/{logid}/new");
    let seen = collect(&mut ws, &[step_new.clone(), log_new.clone()]).await;
    assert!(
        position(&seen, &step_new) < position(&seen, &log_new),
        "{seen:?}"
    );
}
