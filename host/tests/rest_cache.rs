//! REST answers carry a strong `ETag` of their bytes and honour `If-None-Match` with
//! `304 Not Modified`, over real HTTP on a copy of the reference database: the same answer has
//! the same tag, another layout or a write to the database gives another. Answers are kept
//! while the data stays the same: a write by another process followed by a read never returns
//! the old answer once the write's event reached the client; the cache stays within
//! `rest_cache_mib`; users keep their own answers when authorization rules are set; plugins'
//! data reads share the cache under the same rule.

use crate::common;

async fn get(server: &common::Server, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", server.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn tag_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("etag")
        .expect("an ETag")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn etags_and_not_modified() {
    let server = common::serve_reference().await;
    let path = "/api/v2/changes?limit=3";
    let first = get(&server, path, &[]).await;
    assert_eq!(first.status(), 200);
    let tag = tag_of(&first);
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
    assert_eq!(
        tag_of(&get(&server, path, &[]).await),
        tag,
        "the same answer, the same tag"
    );

    for matching in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"x\", {tag}"),
        "*".into(),
    ] {
        let again = get(&server, path, &[("If-None-Match", &matching)]).await;
        assert_eq!(again.status(), 304, "If-None-Match: {matching}");
        assert_eq!(tag_of(&again), tag);
        assert!(again.bytes().await.unwrap().is_empty());
    }
    let other = get(&server, path, &[("If-None-Match", "\"0000\"")]).await;
    assert_eq!(other.status(), 200);
    assert!(!other.bytes().await.unwrap().is_empty());

    // Another layout is another entity.
    let compact = get(
        &server,
        path,
        &[("Accept", "application/json"), ("If-None-Match", &tag)],
    )
    .await;
    assert_eq!(compact.status(), 200);
    assert_ne!(tag_of(&compact), tag);

    // A write by another connection changes the answer, and so its tag.
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        server.dir.path().join("state.sqlite").display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO changes (author, comments, branch, revision, when_timestamp, repository, \
         codebase, project, sourcestampid) VALUES ('etag', 'new', 'main', 'e7a6', 1800000000, '', '', '', 1)",
    )
    .execute(&db)
    .await
    .unwrap();
    // Answers are kept until the server notices the write (tens of milliseconds).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let changed = loop {
        let answer = get(&server, path, &[("If-None-Match", &tag)]).await;
        if answer.status() != 304 {
            break answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the write was never seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(changed.status(), 200);
    assert_ne!(tag_of(&changed), tag);
    // Errors carry none.
    let error = get(&server, "/api/v2/builds?results=abc", &[]).await;
    assert_eq!(error.status(), 400);
    assert!(error.headers().get("etag").is_none());
}

/// Another process (Python's sqlite3, as a Buildbot master writes) adds builds while a client
/// reads the newest build over and over, answered from the cache: once the client has
/// received the new build's event on `/ws`, its next read shows that build, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_is_older_than_the_events_received() {
    let server = common::serve_reference().await;
    let database = server.dir.path().join("state.sqlite");
    let mut ws = common::ws_consuming(&server.base, "builds/*/*").await;
    let newest = || async {
        let answer = get(&server, "/api/v2/builds?order=-buildid&limit=1", &[]).await;
        assert_eq!(answer.status(), 200);
        let body: serde_json::Value = answer.json().await.unwrap();
        body["builds"][0]["buildid"].as_i64().unwrap()
    };
    for round in 0..5 {
        let before = newest().await;
        assert_eq!(
            newest().await,
            before,
            "round {round}: read twice, from the cache"
        );
        add_build_as_a_master(&database);
        let new = before + 1;
        wait_for_event(&mut ws, &format!("builds/{new}/new")).await;
        assert_eq!(newest().await, new, "round {round}: read after the event");
    }
}

/// Adds a build the way a Buildbot master does: another process (Python's sqlite3) writing
/// the database.
fn add_build_as_a_master(database: &std::path::Path) {
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             db = sqlite3.connect(sys.argv[1])\n\
             db.execute('INSERT INTO builds (id, number, builderid, buildrequestid, workerid, \
             masterid, started_at, locks_duration_s, state_string) SELECT max(id) + 1, \
             max(number) + 1, min(builderid), min(buildrequestid), min(workerid), \
             min(masterid), 1800000000, 0, \"cache test\" FROM builds')\n\
             db.commit()\n",
        )
        .arg(database)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

/// Reads the websocket until the event `key` arrives.
async fn wait_for_event(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    key: &str,
) {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            panic!("the websocket ended");
        };
        let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
        if frame["k"] == key {
            return;
        }
    }
}

/// A plugin's data reads go through the same cache: a read repeated while the data stays the
/// same is served from it (and so is REST's same read), the plugin gets the bytes REST answers
/// with `Accept: application/json`, and once a build written by another process has reached
/// `/ws`, the plugin's next read shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_data_reads_share_the_cache_and_follow_the_events() {
    let (dir, config) = common::plugin_site(&[("hello", "hello")], "[www.plugins]\nhello = true\n");
    let state = common::load_state(&config)
        .await
        .expect("the server starts");
    let answers = state.http.answers.clone();
    let base = common::serve_state(state).await;
    let mut ws = common::ws_consuming(&base, "builds/*/*").await;
    let http = reqwest::Client::new();
    let plugin_read = || async {
        let answer = http
            .get(format!("{base}/plugins/hello/newest-build"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.text().await.unwrap()
    };
    let newest = |body: &str| -> i64 {
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        body["builds"][0]["buildid"].as_i64().unwrap()
    };
    for round in 0..3 {
        let before = answers.stats();
        let first = plugin_read().await;
        let again = plugin_read().await;
        assert_eq!(first, again, "round {round}");
        let after = answers.stats();
        assert!(
            after.hits > before.hits,
            "round {round}: {before:?} {after:?}"
        );
        let rest = http
            .get(format!("{base}/api/v2/builds?order=-buildid&limit=1"))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(
            rest.text().await.unwrap(),
            first,
            "round {round}: REST's bytes"
        );
        assert!(
            answers.stats().hits > after.hits,
            "round {round}: REST read the plugin's answer"
        );

        add_build_as_a_master(&dir.path().join("state.sqlite"));
        let new = newest(&first) + 1;
        wait_for_event(&mut ws, &format!("builds/{new}/new")).await;
        assert_eq!(
            newest(&plugin_read().await),
            new,
            "round {round}: read after the event"
        );
    }
}

/// The cache keeps within `rest_cache_mib`, serves repeated reads, and reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_stays_within_its_budget() {
    let dir = common::reference_database_dir();
    let path = common::MasterToml::reference()
        .www_toml("rest_cache_mib = 1")
        .write(dir.path());
    let state = common::state_without_plugins(&path).await;
    let answers = state.http.answers.clone();
    let base = common::serve_state(state).await;
    let http = reqwest::Client::new();
    for offset in 0..200 {
        let url = format!("{base}/api/v2/builds?limit=50&offset={offset}");
        assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
        let stats = answers.stats();
        assert!(stats.bytes <= 1 << 20, "{stats:?}");
    }
    let before = answers.stats();
    assert!(before.entries > 10, "{before:?}");
    let url = format!("{base}/api/v2/builds?limit=50&offset=199");
    for _ in 0..3 {
        assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    }
    let after = answers.stats();
    assert!(after.hits >= before.hits + 2, "{before:?} {after:?}");
}

/// With authorization rules, one user's answer is not another's: the builds of a builder only
/// `insiders` may see stay hidden from an anonymous reader after an insider's read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_keep_their_own_answers_under_authorization_rules() {
    let server = common::serve_reference_with(
        "[www.authz]\nallowRules = [{ matcher = \"ViewBuildsEndpointMatcher\", builder = \"*\", role = \"insiders\" }]\n\
         roleMatchers = [{ type = \"RolesFromUsername\", roles = [\"insiders\"], usernames = [\"lisa\"] }]\n",
    )
    .await;
    let insider = common::session_cookie(
        &server,
        serde_json::json!({"username": "lisa", "email": "lisa@example.org", "groups": ["insiders"]}),
    )
    .await;
    let path = "/api/v2/builds?limit=5";
    let seen = get(&server, path, &[("Cookie", &insider)]).await;
    assert_eq!(seen.status(), 200);
    let seen: serde_json::Value = seen.json().await.unwrap();
    assert_eq!(seen["builds"].as_array().unwrap().len(), 5, "{seen}");
    let hidden: serde_json::Value = get(&server, path, &[]).await.json().await.unwrap();
    assert_eq!(hidden["builds"], serde_json::json!([]), "{hidden}");
}
