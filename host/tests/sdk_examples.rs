//! The queries the SDK's documentation shows (the `Query` and `data` examples, docs/plugins.md),
//! built with the SDK itself and sent to a real server over HTTP: the server must accept
//! every one, and refuse the mistakes the documentation warns about, naming the argument.

use crate::common;

use buildbot_plugin_sdk::data::{Op, Query};

/// `GET /api/v2/<path>?<query>`: status and body.
async fn read(server: &common::Server, path: &str, query: &Query) -> (u16, String) {
    let (status, _, body) = common::get(server, &format!("/api/v2/{path}?{query}")).await;
    (status, body)
}

#[tokio::test]
async fn the_documented_queries_are_accepted() {
    let server = common::serve_reference().await;
    // The `Query` type's example (plugin-sdk/src/data.rs).
    let query = Query::new()
        .eq("complete", true)
        .filter("number", Op::Gt, 10)
        .any_of("results", [2, 4])
        .contains("state_string", "a b&c")
        .fields(["buildid", "complete", "number", "results", "state_string"])
        .order("-number")
        .limit(20)
        .offset(40);
    let (status, body) = read(&server, "builds", &query).await;
    assert_eq!(status, 200, "{body}");
    // The `data` module's example and docs/plugins.md's "Reading build data" example.
    let query = Query::new().eq("results", 2).order("-number").limit(5);
    let (status, body) = read(&server, "builders/3/builds", &query).await;
    assert_eq!(status, 200, "{body}");
    let query = Query::new()
        .eq("results", 2)
        .fields(["number", "results", "state_string"])
        .order("-number")
        .limit(5);
    let (status, body) = read(&server, "builders/3/builds", &query).await;
    assert_eq!(status, 200, "{body}");
    // docs/plugins.md's MyView and the scaffold's reads.
    let query = Query::new().order("-buildid").limit(20);
    assert_eq!(read(&server, "builds", &query).await.0, 200);
    let query = Query::new().field("name");
    assert_eq!(read(&server, "builders", &query).await.0, 200);
    let query = Query::new().property("*").limit(1);
    assert_eq!(read(&server, "builds", &query).await.0, 200);
    let query = Query::new().none_of("results", [0, 1]).le("number", 3);
    assert_eq!(read(&server, "builds", &query).await.0, 200);
}

#[tokio::test]
async fn the_documented_mistakes_are_refused() {
    let server = common::serve_reference().await;
    let cases = [
        // a filter on a field the selection leaves out (the old Query example)
        (
            Query::new().eq("complete", true).field("number"),
            "cannot filter on un-selected fields",
        ),
        (Query::new().field("nmae"), "no such field 'nmae'"),
        (
            Query::new().filter("number", Op::Gt, "x"),
            "invalid filter value for number__gt",
        ),
        (Query::new().param("limit", "x"), "invalid limit"),
        (
            Query::new().param("x", 1),
            "unrecognized query parameter 'x'",
        ),
    ];
    for (query, message) in cases {
        let (status, body) = read(&server, "builds", &query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(message), "{query}: {body}");
    }
}

/// The `number` and `state_string` of each build a query returns.
async fn numbers_and_states(server: &common::Server, query: &Query) -> Vec<(i64, String)> {
    let (status, body) = read(server, "builds", query).await;
    assert_eq!(status, 200, "{query}: {body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    answer["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let state = b["state_string"].as_str().unwrap_or_default().to_owned();
            (b["number"].as_i64().unwrap(), state)
        })
        .collect()
}

/// Host and SDK share one operator list (`data::Op`): every operator a plugin's `Query` can
/// write is read by the server's parser (an unknown one would be ignored, as Buildbot does, and
/// the filter would select everything), and selects what its name says.
#[tokio::test]
async fn every_operator_the_sdk_writes_filters_on_the_server() {
    let server = common::serve_reference().await;
    let fields = ["number", "state_string"];
    let all = numbers_and_states(&server, &Query::new().fields(fields)).await;
    let pivot = all[all.len() / 2].0;
    let word = "finished";
    for op in Op::ALL {
        let query = match op {
            Op::Contains => Query::new().filter("state_string", op, word),
            Op::In | Op::NotIn => {
                Query::new()
                    .filter("number", op, pivot)
                    .filter("number", op, pivot + 1)
            }
            _ => Query::new().filter("number", op, pivot),
        }
        .fields(fields);
        let got = numbers_and_states(&server, &query).await;
        let expected: Vec<(i64, String)> = all
            .iter()
            .filter(|(n, state)| match op {
                Op::Eq => *n == pivot,
                Op::Ne => *n != pivot,
                Op::Lt => *n < pivot,
                Op::Le => *n <= pivot,
                Op::Gt => *n > pivot,
                Op::Ge => *n >= pivot,
                Op::Contains => state.contains(word),
                Op::In => *n == pivot || *n == pivot + 1,
                Op::NotIn => *n != pivot && *n != pivot + 1,
            })
            .cloned()
            .collect();
        assert!(!expected.is_empty() && expected.len() < all.len(), "{op}");
        assert_eq!(got, expected, "{query}");
    }
}
