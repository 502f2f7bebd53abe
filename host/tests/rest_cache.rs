//! REST answers carry a strong `ETag` of their bytes and honour `If-None-Match` with
//! `304 Not Modified`, over real HTTP on a copy of the reference database: the same answer has
//! the same tag, another layout or a write to the database gives another.

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
    let changed = get(&server, path, &[("If-None-Match", &tag)]).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(tag_of(&changed), tag);
    // Errors carry none.
    let error = get(&server, "/api/v2/builds?results=abc", &[]).await;
    assert_eq!(error.status(), 400);
    assert!(error.headers().get("etag").is_none());
}
