//! Live updates over real sockets: `/ws` and `/sse` served on 127.0.0.1 over a copy of the
//! reference database, checked against the recorded conversations (`ws/*.jsonl`, `sse/*.txt`),
//! and database writes made by "another process" (a separate SQLite connection) arriving as
//! Buildbot's events.

use std::time::Duration;

use buildbot_www::events::messages::{self, Entity};
use buildbot_www::events::{Event, Events};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common;

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

/// A served copy of the reference database, with the bus and Data API kept for the test.
pub(crate) struct Live {
    pub(crate) base: String,
    pub(crate) events: Events,
    data: buildbot_www::data::DataApi,
    dir: tempfile::TempDir,
    /// The database, as the config names it.
    db_url: String,
}

pub(crate) async fn serve(www_extra: &str) -> Live {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::reference_dir().join("state.sqlite"),
        dir.path().join("state.sqlite"),
    )
    .unwrap();
    serve_in(dir, common::MasterToml::reference().www_toml(www_extra)).await
}

/// The reference rows in PostgreSQL (`common/postgres.rs`); `None` (skip) without it.
pub(crate) async fn serve_postgres() -> Option<Live> {
    let url = common::postgres::reference_postgres().await?;
    let config = common::MasterToml::reference().set(&["db", "db_url"], url);
    Some(serve_in(tempfile::tempdir().unwrap(), config).await)
}

async fn serve_in(dir: tempfile::TempDir, config: common::MasterToml) -> Live {
    let config_path = config.write(dir.path());
    let config = buildbot_www::config::load(&config_path).unwrap();
    let data = buildbot_www::server::data_api(&config).await.unwrap();
    let state = buildbot_www::server::AppState::new(
        config,
        data.clone(),
        buildbot_www::plugins::Registry::default(),
    )
    .unwrap();
    let events = state.http.events.clone();
    let db_url = state.http.config.db.db_url.clone();
    let base = common::serve_state(state).await;
    Live {
        base,
        events,
        data,
        dir,
        db_url,
    }
}

pub(crate) async fn connect(base: &str) -> Ws {
    let url = format!("{}/ws", base.replacen("http://", "ws://", 1));
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket")
        .0
}

/// The next frame that is not a pong.
async fn next_frame(ws: &mut Ws) -> Option<Message> {
    use futures_util::StreamExt;
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time");
        match frame {
            Some(Ok(Message::Pong(_))) => continue,
            Some(Ok(m)) => return Some(m),
            _ => return None,
        }
    }
}

pub(crate) async fn next_text(ws: &mut Ws) -> String {
    match next_frame(ws).await {
        Some(Message::Text(t)) => t.as_str().to_owned(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

pub(crate) async fn send(ws: &mut Ws, message: Message) {
    use futures_util::SinkExt;
    ws.send(message).await.unwrap();
}

fn recording(name: &str) -> Vec<Value> {
    std::fs::read_to_string(common::reference_dir().join(name))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Replays every connection of a recording (each starts at a `handshake-response`): sends
/// the recorded client frames and expects the recorded server frames. Server pings (random
/// payload) are checked for length and answered; a recorded close is preceded by a quiet
/// period in which nothing may arrive, then requested; `eof` means dropped without a close.
async fn replay(base: &str, name: &str) -> usize {
    use futures_util::StreamExt;
    let records = recording(name);
    let sessions: Vec<&[Value]> = records
        .split(|r| r["dir"] == "handshake-response")
        .filter(|s| !s.is_empty())
        .collect();
    let mut checked = 0;
    for session in sessions {
        let mut ws = connect(base).await;
        let mut last_t = 0.0;
        for record in session {
            let t = record["t"].as_f64().unwrap_or(last_t);
            match (record["dir"].as_str().unwrap(), record["opcode"].as_u64()) {
                ("send", Some(1)) => {
                    send(
                        &mut ws,
                        Message::Text(record["data"].as_str().unwrap().into()),
                    )
                    .await
                }
                ("send", Some(2)) => {
                    let bytes = record["data"].as_str().unwrap().as_bytes().to_vec();
                    send(&mut ws, Message::Binary(bytes.into())).await
                }
                ("send", Some(9)) => {
                    let payload = hex(record["data_hex"].as_str().unwrap());
                    send(&mut ws, Message::Ping(payload.into())).await
                }
                ("send", Some(10)) => {} // our pong answers the ping below
                ("recv", Some(1)) => {
                    assert_eq!(
                        next_text(&mut ws).await,
                        record["data"].as_str().unwrap(),
                        "{name}"
                    );
                }
                ("recv", Some(10)) => {
                    let frame = tokio::time::timeout(WAIT, ws.next()).await.unwrap();
                    let expected = hex(record["data_hex"].as_str().unwrap());
                    assert_eq!(
                        frame.unwrap().unwrap(),
                        Message::Pong(expected.into()),
                        "{name}"
                    );
                }
                ("recv", Some(9)) => match next_frame(&mut ws).await {
                    Some(Message::Ping(payload)) => {
                        assert_eq!(payload.len(), 12, "{name}");
                        send(&mut ws, Message::Pong(payload)).await;
                    }
                    other => panic!("{name}: expected a ping, got {other:?}"),
                },
                ("recv", Some(8)) => {
                    let quiet = Duration::from_secs_f64((t - last_t).clamp(0.0, 0.5));
                    let early = tokio::time::timeout(quiet, ws.next()).await;
                    assert!(early.is_err(), "{name}: unexpected {early:?}");
                    send(&mut ws, Message::Close(None)).await;
                    assert!(
                        matches!(next_frame(&mut ws).await, Some(Message::Close(_))),
                        "{name}"
                    );
                }
                ("eof", _) => {
                    let end = tokio::time::timeout(WAIT, ws.next()).await.unwrap();
                    assert!(
                        !matches!(end, Some(Ok(Message::Close(_)))),
                        "{name}: dropped without a close frame, got {end:?}"
                    );
                }
                other => panic!("{name}: unexpected record {other:?}"),
            }
            checked += 1;
            last_t = t;
        }
    }
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recorded_ws_conversations_are_reproduced() {
    let live = serve("").await;
    assert!(replay(&live.base, "ws/probe.jsonl").await > 30);
    assert!(replay(&live.base, "ws/pings-default.jsonl").await >= 1);
    let live = serve("ws_ping_interval = 2").await;
    assert!(replay(&live.base, "ws/pings-interval2.jsonl").await >= 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_binary_frames_and_pings_behave_as_recorded() {
    let live = serve("").await;
    // pings-default.jsonl: invalid JSON drops the connection without a close frame.
    let mut ws = connect(&live.base).await;
    send(&mut ws, Message::Text("this is not json".into())).await;
    assert!(
        !matches!(next_frame(&mut ws).await, Some(Message::Close(_))),
        "no close frame"
    );
    // A binary frame is processed like a text frame.
    let mut ws = connect(&live.base).await;
    send(
        &mut ws,
        Message::Binary(br#"{"cmd":"ping","_id":100}"#.to_vec().into()),
    )
    .await;
    assert_eq!(
        next_text(&mut ws).await,
        r#"{"msg":"pong","code":200,"_id":100}"#
    );
    // A client ping gets a pong with the same payload (the server sends no pings by default).
    send(&mut ws, Message::Ping(b"hello".to_vec().into())).await;
    use futures_util::StreamExt;
    let pong = tokio::time::timeout(WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Pong(b"hello".to_vec().into()));
    // A close is answered with a close.
    send(&mut ws, Message::Close(None)).await;
    assert!(matches!(
        next_frame(&mut ws).await,
        Some(Message::Close(_)) | None
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_ping_interval_sends_12_byte_pings() {
    let live = serve("ws_ping_interval = 1").await;
    let mut ws = connect(&live.base).await;
    for expected in 1u32..=2 {
        match next_frame(&mut ws).await {
            Some(Message::Ping(payload)) => {
                assert_eq!(payload.len(), 12);
                assert_eq!(payload[8..], expected.to_be_bytes());
            }
            other => panic!("expected a ping, got {other:?}"),
        }
    }
}

/// The newest recorded message of each entity, keyed by its final event.
fn recorded_final_messages() -> Vec<(String, Value)> {
    let mut last: Vec<(String, Value)> = Vec::new();
    for frame in recording("ws/capture-many.jsonl") {
        if frame["dir"] != "recv" || frame["opcode"] != 1 {
            continue;
        }
        let text = frame["data"].as_str().unwrap();
        let v: Value = serde_json::from_str(text).unwrap();
        let Some(k) = v["k"].as_str() else { continue };
        let done = ["/finished", "/complete", "changes/"]
            .iter()
            .any(|s| k.ends_with(s) || k.starts_with(s));
        if done && !k.starts_with("builders/") && !k.starts_with("steps/") {
            last.retain(|(key, _)| key != k);
            last.push((k.to_owned(), v["m"].clone()));
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_equal_the_recorded_ones_byte_for_byte() {
    let live = serve("").await;
    let mut compared = 0;
    let mut differ = Vec::new();
    for (key, recorded) in recorded_final_messages() {
        let parts: Vec<&str> = key.split('/').collect();
        let (entity, id, event) = match parts.as_slice() {
            ["builds", id, "steps", step, ev] => {
                let _ = id;
                (Entity::Step, step.parse().unwrap(), *ev)
            }
            ["builds", id, ev] => (Entity::Build, id.parse().unwrap(), *ev),
            ["buildrequests", id, ev] => (Entity::BuildRequest, id.parse().unwrap(), *ev),
            ["buildsets", id, ev] => (Entity::Buildset, id.parse().unwrap(), *ev),
            ["changes", id, ev] => (Entity::Change, id.parse().unwrap(), *ev),
            _ => continue,
        };
        let ours = messages::message(&live.data, entity, id, event)
            .await
            .unwrap_or_else(|| panic!("{key}: no entity"));
        let ours =
            buildbot_www::jsonfmt::to_string(&ours, buildbot_www::jsonfmt::Layout::Compact, false);
        let theirs = buildbot_www::jsonfmt::to_string(
            &recorded,
            buildbot_www::jsonfmt::Layout::Compact,
            false,
        );
        compared += 1;
        if ours != theirs {
            differ.push(format!("{key}\n  ours:   {ours}\n  theirs: {theirs}"));
        }
    }
    assert!(compared > 300, "{compared}");
    assert!(
        differ.is_empty(),
        "{} of {compared} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// Reads SSE frames from a streaming response until `want` events arrived.
async fn sse_frames(
    response: &mut reqwest::Response,
    buffer: &mut String,
    want: usize,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let frames: Vec<String> = buffer
            .split_inclusive("\n\n")
            .filter(|f| f.ends_with("\n\n"))
            .map(str::to_owned)
            .collect();
        if frames.len() >= want {
            let taken: usize = frames[..want].iter().map(String::len).sum();
            buffer.drain(..taken);
            return frames[..want].to_vec();
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("sse frames in time; so far {buffer:?}"))
            .unwrap()
            .expect("stream open");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_listen_add_remove_and_recorded_frames() {
    let live = serve("").await;
    let client = reqwest::Client::new();
    let mut listen = client
        .get(format!("{}/sse/listen", live.base))
        .send()
        .await
        .unwrap();
    assert_eq!(listen.status(), 200);
    assert_eq!(listen.headers()["content-type"], "text/event-stream");
    let mut buffer = String::new();
    let handshake = sse_frames(&mut listen, &mut buffer, 1).await.remove(0);
    let uuid = handshake
        .strip_prefix("event: handshake\ndata: ")
        .and_then(|r| r.strip_suffix("\n\n"))
        .unwrap()
        .to_owned();
    assert_eq!(uuid.len(), 36, "{handshake:?}");

    let get = |path: String| {
        let client = client.clone();
        async move {
            let r = client.get(path).send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            (status, ct, r.text().await.unwrap())
        }
    };
    let plain = "text/plain; charset=utf-8".to_owned();
    assert_eq!(
        get(format!("{}/sse/add/{uuid}/builds/*/*", live.base)).await,
        (200, plain.clone(), "ok".into())
    );
    assert_eq!(
        get(format!(
            "{}/sse/add/00000000-0000-0000-0000-000000000000/builds",
            live.base
        ))
        .await,
        (400, plain.clone(), "unknown uuid".into())
    );
    assert_eq!(
        get(format!("{}/sse/add", live.base)).await,
        (400, plain.clone(), "need uuid".into())
    );

    // The first event of sse/listen-builds.txt, published, comes out as recorded.
    let recorded =
        std::fs::read_to_string(common::reference_dir().join("sse/listen-builds.txt")).unwrap();
    let first = recorded
        .split("\n\n")
        .find(|f| f.starts_with("event: event"))
        .unwrap();
    let data: Value =
        serde_json::from_str(first.strip_prefix("event: event\ndata: ").unwrap()).unwrap();
    let key: Vec<String> = data["key"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    live.events.publish(Event {
        key,
        message: data["message"].clone(),
    });
    live.events
        .publish(Event::new(["changes", "1", "new"], json!({})));
    let frame = sse_frames(&mut listen, &mut buffer, 1).await.remove(0);
    assert_eq!(frame, format!("{first}\n\n"));

    // After remove, builds events stop (twice is fine, as recorded); others added still arrive.
    for _ in 0..2 {
        assert_eq!(
            get(format!("{}/sse/remove/{uuid}/builds/*/*", live.base)).await,
            (200, plain.clone(), "ok".into())
        );
    }
    assert_eq!(
        get(format!("{}/sse/add/{uuid}/changes/*/*", live.base))
            .await
            .0,
        200
    );
    live.events
        .publish(Event::new(["builds", "1", "update"], json!({})));
    live.events
        .publish(Event::new(["changes", "2", "new"], json!({"changeid": 2})));
    let frame = sse_frames(&mut listen, &mut buffer, 1).await.remove(0);
    assert_eq!(frame, "event: event\ndata: {\"key\": [\"changes\", \"2\", \"new\"], \"message\": {\"changeid\": 2}}\n\n");

    // /sse/<path> listens implicitly; a query string is ignored (Buildbot answers 500).
    for path in [
        "/sse/builds/*/*",
        "/sse/listen/builds/*/*?x=y",
        "/sse/listen/nosuchthing",
    ] {
        let mut r = client
            .get(format!("{}{path}", live.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let mut b = String::new();
        assert!(sse_frames(&mut r, &mut b, 1).await[0].starts_with("event: handshake\ndata: "));
    }
}

/// A pool of its own on the served database, writing as a master would.
pub(crate) async fn writer(live: &Live) -> buildbot_www::db::Pool {
    buildbot_www::db::open(&live.db_url, live.dir.path())
        .await
        .unwrap()
}

/// Collects ws event frames until every key in `want` was seen.
pub(crate) async fn collect(ws: &mut Ws, want: &[String]) -> Vec<(String, Value)> {
    let mut seen: Vec<(String, Value)> = Vec::new();
    while !want.iter().all(|k| seen.iter().any(|(s, _)| s == k)) {
        let text = next_text(ws).await;
        let v: Value = serde_json::from_str(&text).unwrap();
        seen.push((v["k"].as_str().unwrap().to_owned(), v["m"].clone()));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_writing_the_database_produces_buildbot_events() {
    writes_by_another_process_produce_events(serve("").await).await;
}

/// The same on PostgreSQL: the watcher finds the rows another connection writes there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_writing_postgresql_produces_buildbot_events() {
    if let Some(live) = serve_postgres().await {
        writes_by_another_process_produce_events(live).await;
    }
}

async fn writes_by_another_process_produce_events(live: Live) {
    let mut ws = connect(&live.base).await;
    let paths = [
        "builds/*/*",
        "builders/*/builds/*/*",
        "builds/*/steps/*/*",
        "steps/*/logs/*/*",
        "logs/*/append",
        "buildrequests/*/*",
        "buildsets/*/*",
        "changes/*/*",
    ];
    for (i, path) in paths.iter().enumerate() {
        send(
            &mut ws,
            Message::Text(
                format!(r#"{{"cmd":"startConsuming","path":"{path}","_id":{i}}}"#).into(),
            ),
        )
        .await;
        assert_eq!(
            next_text(&mut ws).await,
            format!(r#"{{"msg":"OK","code":200,"_id":{i}}}"#)
        );
    }
    let client = reqwest::Client::new();
    let mut sse = client
        .get(format!("{}/sse/listen/builds/*/*", live.base))
        .send()
        .await
        .unwrap();
    let mut sse_buffer = String::new();
    sse_frames(&mut sse, &mut sse_buffer, 1).await;

    // The watcher's first poll records where the database stands: done before writing.
    live.events.sync().await;
    let db = writer(&live).await;
    let t = 1_800_000_000i64;
    let bsid: i64 = sqlx::query_scalar("INSERT INTO buildsets (reason, submitted_at, complete, results) VALUES ('live test', $1, 0, -1) RETURNING id")
        .bind(t).fetch_one(&db).await.unwrap();
    let brid: i64 = sqlx::query_scalar("INSERT INTO buildrequests (buildsetid, builderid, priority, complete, results, submitted_at, waited_for) VALUES ($1, 1, 0, 0, -1, $2, 0) RETURNING id")
        .bind(bsid).bind(t).fetch_one(&db).await.unwrap();
    sqlx::query("INSERT INTO buildrequest_claims (brid, masterid, claimed_at) VALUES ($1, 1, $2)")
        .bind(brid)
        .bind(t)
        .execute(&db)
        .await
        .unwrap();
    let number: i64 = sqlx::query_scalar("SELECT max(number) + 1 FROM builds WHERE builderid = 1")
        .fetch_one(&db)
        .await
        .unwrap();
    let buildid: i64 = sqlx::query_scalar("INSERT INTO builds (number, builderid, buildrequestid, workerid, masterid, started_at, locks_duration_s, state_string) VALUES ($1, 1, $2, 2, 1, $3, 0, 'building') RETURNING id")
        .bind(number).bind(brid).bind(t).fetch_one(&db).await.unwrap();
    let stepid: i64 = sqlx::query_scalar("INSERT INTO steps (number, name, buildid, started_at, locks_acquired_at, state_string, urls_json, hidden) VALUES (0, 'compile', $1, $2, $2, 'compiling', '[]', 0) RETURNING id")
        .bind(buildid).bind(t).fetch_one(&db).await.unwrap();
    let logid: i64 = sqlx::query_scalar("INSERT INTO logs (name, slug, stepid, complete, num_lines, type) VALUES ('stdio', 'stdio', $1, 0, 0, 's') RETURNING id")
        .bind(stepid).fetch_one(&db).await.unwrap();
    let changeid: i64 = sqlx::query_scalar("INSERT INTO changes (author, comments, branch, revision, when_timestamp, category, repository, codebase, project, sourcestampid, committer) VALUES ('Live <live@example.com>', 'live', 'main', 'abc', $1, NULL, 'repo', '', 'oracle', 1, NULL) RETURNING changeid")
        .bind(t).fetch_one(&db).await.unwrap();

    let keys = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let seen = collect(
        &mut ws,
        &keys(&[
            &format!("buildsets/{bsid}/new"),
            &format!("buildrequests/{brid}/new"),
            &format!("buildrequests/{brid}/claimed"),
            &format!("builds/{buildid}/new"),
            &format!("builders/1/builds/{number}/new"),
            &format!("builds/{buildid}/steps/{stepid}/new"),
            &format!("builds/{buildid}/steps/{stepid}/started"),
            &format!("steps/{stepid}/logs/stdio/new"),
            &format!("changes/{changeid}/new"),
        ]),
    )
    .await;
    // The message is the REST API's entity.
    let (_, build) = seen
        .iter()
        .find(|(k, _)| k == &format!("builds/{buildid}/new"))
        .unwrap();
    let rest: Value = client
        .get(format!("{}/api/v2/builds/{buildid}", live.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(build, &rest["builds"][0]);
    assert_eq!(build["state_string"], "building");

    // Appending to the log (num_lines grows) is `append`.
    sqlx::query("INSERT INTO logchunks (logid, first_line, last_line, content, compressed) VALUES ($1, 0, 2, $2, 0)")
        .bind(logid).bind(b"oone\notwo\nothree".to_vec()).execute(&db).await.unwrap();
    sqlx::query("UPDATE logs SET num_lines = 3 WHERE id = $1")
        .bind(logid)
        .execute(&db)
        .await
        .unwrap();
    let seen = collect(
        &mut ws,
        &keys(&[
            &format!("logs/{logid}/append"),
            &format!("steps/{stepid}/logs/stdio/append"),
        ]),
    )
    .await;
    assert_eq!(
        seen.iter().find(|(k, _)| k.starts_with("logs/")).unwrap().1["num_lines"],
        3
    );

    // Finishing.
    sqlx::query("UPDATE logs SET complete = 1 WHERE id = $1")
        .bind(logid)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE steps SET complete_at = $2, results = 0, state_string = 'compile' WHERE id = $1",
    )
    .bind(stepid)
    .bind(t + 5)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("UPDATE builds SET complete_at = $2, results = 0, state_string = 'build successful' WHERE id = $1").bind(buildid).bind(t + 6).execute(&db).await.unwrap();
    sqlx::query(
        "UPDATE buildrequests SET complete = 1, results = 0, complete_at = $2 WHERE id = $1",
    )
    .bind(brid)
    .bind(t + 6)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("UPDATE buildsets SET complete = 1, results = 0, complete_at = $2 WHERE id = $1")
        .bind(bsid)
        .bind(t + 6)
        .execute(&db)
        .await
        .unwrap();
    let seen = collect(
        &mut ws,
        &keys(&[
            &format!("steps/{stepid}/logs/stdio/finished"),
            &format!("builds/{buildid}/steps/{stepid}/finished"),
            &format!("builds/{buildid}/update"),
            &format!("builds/{buildid}/finished"),
            &format!("builders/1/builds/{number}/finished"),
            &format!("buildrequests/{brid}/complete"),
            &format!("buildsets/{bsid}/complete"),
        ]),
    )
    .await;
    let (_, finished) = seen
        .iter()
        .find(|(k, _)| k == &format!("builds/{buildid}/finished"))
        .unwrap();
    assert_eq!(finished["results"], 0);
    assert_eq!(finished["complete"], true);
    // Nothing is published twice.
    let mut keys_seen: Vec<&String> = seen.iter().map(|(k, _)| k).collect();
    keys_seen.sort();
    let before = keys_seen.len();
    keys_seen.dedup();
    assert_eq!(before, keys_seen.len(), "{keys_seen:?}");

    // SSE saw the same build events, in Python's default layout.
    let frames = sse_frames(&mut sse, &mut sse_buffer, 3).await;
    assert!(frames[0].starts_with(&format!("event: event\ndata: {{\"key\": [\"builds\", \"{buildid}\", \"new\"], \"message\": {{\"buildid\": {buildid}, \"number\": {number}, ")), "{frames:?}");
    assert!(
        frames
            .iter()
            .any(|f| f.contains(&format!("[\"builds\", \"{buildid}\", \"finished\"]"))),
        "{frames:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_activity_starts_logs_and_finishes_builds_consistently() {
    let live = serve("").await;
    let mut subscription = live.events.subscribe([
        buildbot_www::events::Pattern::parse("builds/*/*"),
        buildbot_www::events::Pattern::parse("logs/*/append"),
    ]);
    let mut activity = buildbot_www::fixtures::activity::Activity::new(live.data.pool().clone())
        .await
        .unwrap();
    let mut keys = Vec::new();
    for _ in 0..60 {
        activity.tick().await.unwrap();
        live.events.sync().await;
        while let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(1), subscription.recv()).await
        {
            keys.push(event.key.clone());
        }
    }
    let has = |last: &str, first: &str| keys.iter().any(|k| k[0] == first && k[2] == last);
    assert!(has("new", "builds"), "{keys:?}");
    assert!(has("append", "logs"), "{keys:?}");
    assert!(has("finished", "builds"), "{keys:?}");
    let pool = live.data.pool();
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    assert_eq!(count("SELECT count(*) FROM logs l WHERE num_lines != coalesce((SELECT sum(last_line - first_line + 1) FROM logchunks c WHERE c.logid = l.id), 0)").await, 0);
    assert_eq!(count("SELECT count(*) FROM (SELECT builderid, number FROM builds GROUP BY builderid, number HAVING count(*) > 1)").await, 0);
    assert_eq!(count("SELECT count(*) FROM builds b JOIN buildrequests br ON br.id = b.buildrequestid WHERE (b.complete_at IS NULL) != (br.complete = 0)").await, 0);
    assert_eq!(
        count("SELECT count(*) FROM builds WHERE results NOT BETWEEN 0 AND 6").await,
        0
    );
    // The log text reads back through the Data API.
    let logid: i64 = sqlx::query_scalar("SELECT max(id) FROM logs WHERE num_lines > 0")
        .fetch_one(pool)
        .await
        .unwrap();
    let answer = live
        .data
        .get(
            &buildbot_www::identity::User::Anonymous,
            &format!("logs/{logid}/contents"),
            &[],
        )
        .await
        .unwrap();
    assert!(format!("{answer:?}").contains("line 1 at"), "{answer:?}");
}
