//! Query filters and paging against the reference database: repeated filter values on a split
//! field (`builds?builderid=1&builderid=3`, read as one ordered subquery per value, merged) page
//! exactly like filtering and sorting every build (each order, limit and offset, checked by
//! recomputing the page from the whole list); boolean filter values read as Buildbot reads them.

use crate::common;

use serde_json::Value;

async fn builds(server: &common::Server, query: &str) -> Vec<Value> {
    let text = server.get(&format!("/api/v2/builds?{query}")).await.text();
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{query}: {e}: {text}"));
    body["builds"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_builderids_page_like_the_whole_list() {
    let server = common::serve_reference().await;
    let all = builds(&server, "limit=-1").await;
    let builders: Vec<i64> = {
        let mut ids: Vec<i64> = all.iter().filter_map(|b| b["builderid"].as_i64()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    assert!(builders.len() >= 3, "the reference has several builders");
    let chosen = [builders[0], builders[2], builders[0]];
    let filter: String = chosen.iter().map(|b| format!("builderid={b}&")).collect();
    for order in [
        "",
        "-buildid",
        "started_at",
        "-started_at",
        "-complete_at",
        "results",
    ] {
        let mut expected: Vec<&Value> = all
            .iter()
            .filter(|b| chosen.contains(&b["builderid"].as_i64().unwrap()))
            .collect();
        if let Some(field) = (!order.is_empty()).then(|| order.trim_start_matches('-')) {
            // Buildbot's order on SQLite: the field (nulls first, as SQLite sorts them), ties
            // by builder, then id (its `IN` reads `builds_number` one builder at a time; the
            // recordings `query/ties-builds-builderid*` show it).
            expected.sort_by_key(|b| (b["builderid"].as_i64(), b["buildid"].as_i64()));
            expected.sort_by(|a, b| {
                let key = |v: &Value| (!v[field].is_null(), v[field].as_i64());
                let ordering = key(a).cmp(&key(b));
                if order.starts_with('-') {
                    ordering.reverse()
                } else {
                    ordering
                }
            });
        }
        let expected: Vec<i64> = expected
            .iter()
            .map(|b| b["buildid"].as_i64().unwrap())
            .collect();
        for (limit, offset) in [(1, 0), (3, 0), (3, 2), (5, 4), (50, 0), (2, 40)] {
            let query = format!("{filter}order={order}&limit={limit}&offset={offset}")
                .replace("order=&", "");
            let got: Vec<i64> = builds(&server, &query)
                .await
                .iter()
                .map(|b| b["buildid"].as_i64().unwrap())
                .collect();
            let want: Vec<i64> = expected.iter().copied().skip(offset).take(limit).collect();
            assert_eq!(got, want, "builds?{query}");
        }
    }
}

/// Boolean filters take Buildbot's `string2boolean` words in any case; any other value is
/// Buildbot's 400 naming the field, not a filter that matches nothing.
#[tokio::test]
async fn boolean_filter_values_are_validated_as_buildbot_validates_them() {
    let server = common::serve_reference().await;
    let count = |word: &str| {
        let query = format!("complete={word}&field=buildid&field=complete");
        let server = &server;
        async move { builds(server, &query).await.len() }
    };
    let (complete, running) = (count("true").await, count("false").await);
    assert!(complete > 0);
    for (words, expected) in [
        (["yes", "YES", "on", "1", "True"].as_slice(), complete),
        (["no", "Off", "0", "FALSE"].as_slice(), running),
    ] {
        for word in words {
            assert_eq!(count(word).await, expected, "complete={word}");
        }
    }
    for bad in ["maybe", "t", "y", "%20true", "", "2"] {
        let (status, _, body) =
            common::get(&server, &format!("/api/v2/builds?complete={bad}")).await;
        assert_eq!(
            (status, body.as_str()),
            (400, "{\"error\": \"invalid filter value for complete\"}"),
            "complete={bad}"
        );
    }
}

/// Text Buildbot stored that is not UTF-8 is read leniently, in a page computed in SQL (read
/// as one row) and in one entity; the rest of the page is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_that_is_not_utf8_is_read_leniently() {
    let server = common::serve_reference().await;
    let before = server.get("/api/v2/changes?limit=50").await.text();
    let database = server.dir.path().join("state.sqlite");
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             db = sqlite3.connect(sys.argv[1])\n\
             db.execute(\"UPDATE changes SET comments = CAST(X'ff6869' AS TEXT) WHERE changeid = \
             (SELECT min(changeid) FROM changes)\")\n\
             db.commit()\n",
        )
        .arg(&database)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let first: Value = serde_json::from_str(&before).unwrap();
    let count = first["changes"].as_array().unwrap().len();
    let id = first["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["changeid"].as_i64())
        .min()
        .unwrap();
    for (path, key) in [
        ("/api/v2/changes?limit=50".to_owned(), "changes"),
        (format!("/api/v2/changes/{id}"), "changes"),
    ] {
        // The server sees the write within tens of milliseconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let body = loop {
            let text = server.get(&path).await.text();
            let body: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
            let seen = body[key]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["comments"] == "\u{fffd}hi");
            if seen {
                break body;
            }
            assert!(std::time::Instant::now() < deadline, "{path}: {text}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        if path.ends_with("limit=50") {
            assert_eq!(body[key].as_array().unwrap().len(), count, "{path}");
        }
    }
}
