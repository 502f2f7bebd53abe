//! `projects?active=…` over a real loopback server on a copy of the reference database:
//! Buildbot's special filter (projects with a builder that a running master has configured),
//! beside the recorded answers `reference_api` replays.

use serde_json::{json, Value};

use crate::live::{serve, writer};

async fn projects(base: &str, query: &str) -> (u16, Value) {
    let answer = reqwest::get(format!("{base}/api/v2/projects?{query}"))
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (
        status,
        serde_json::from_str(&answer.text().await.unwrap()).unwrap(),
    )
}

fn names(answer: &Value) -> Vec<(String, Value)> {
    answer["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_owned(), p["active"].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_projects_are_those_with_a_builder_on_a_master() {
    let live = serve("").await;
    let db = writer(&live).await;
    // `idle` has a builder no master has configured; `alpha` has none; `zeta` one on master 1.
    for sql in [
        "INSERT INTO projects (id, name, name_hash, slug) VALUES (10, 'zeta', 'z', 'zeta'), \
         (11, 'idle', 'i', 'idle'), (12, 'alpha', 'a', 'alpha')",
        "INSERT INTO builders (id, name, name_hash, projectid) VALUES (10, 'idle-builder', 'ib', 11), \
         (11, 'zeta-builder', 'zb', 10)",
        "INSERT INTO builder_masters (builderid, masterid) VALUES (11, 1)",
    ] {
        sqlx::query(sql).execute(&db).await.unwrap();
    }
    let n = |name: &str, active: Value| (name.to_owned(), active);

    let (status, all) = projects(&live.base, "").await;
    assert_eq!(status, 200);
    // By name, as Buildbot reads them; `active` only when asked.
    assert_eq!(
        names(&all),
        [
            n("alpha", Value::Null),
            n("idle", Value::Null),
            n("oracle", Value::Null),
            n("zeta", Value::Null)
        ]
    );
    let (_, active) = projects(&live.base, "active=true").await;
    assert_eq!(
        names(&active),
        [n("oracle", json!(true)), n("zeta", json!(true))]
    );
    assert_eq!(active["meta"]["total"], 2);
    let (_, inactive) = projects(&live.base, "active=no").await;
    assert_eq!(
        names(&inactive),
        [n("alpha", json!(false)), n("idle", json!(false))]
    );
    let (_, ne) = projects(&live.base, "active__ne=false&order=-name&limit=1").await;
    assert_eq!(names(&ne), [n("zeta", json!(true))]);
    // Other filters still apply after it.
    let (_, both) = projects(&live.base, "active=1&name__contains=a").await;
    assert_eq!(
        names(&both),
        [n("oracle", json!(true)), n("zeta", json!(true))]
    );
    let (status, bad) = projects(&live.base, "active=maybe").await;
    assert_eq!(
        (status, bad),
        (400, json!({"error": "invalid filter value for active"}))
    );
    // One project has no `active` filter to answer.
    let one = reqwest::get(format!("{}/api/v2/projects/10", live.base))
        .await
        .unwrap();
    let one: Value = serde_json::from_str(&one.text().await.unwrap()).unwrap();
    assert_eq!(one["projects"][0]["active"], Value::Null);
}
