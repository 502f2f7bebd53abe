//! The `[www]` keys of the foundation issue, over real HTTP against the reference database:
//! json_cache_seconds, rest_minimum_version, debug, allowed_origins, plus HEAD, gzip and /config.

use crate::common;

use common::serve_reference_with;

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let mut request = client.get(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn json_cache_seconds_sets_expires_on_rest_successes_only() {
    let server = serve_reference_with("json_cache_seconds = 30").await;
    let ok = get(&format!("{}/api/v2/builders", server.base), &[]).await;
    assert_eq!(ok.headers()["pragma"], "no-cache");
    let expires = httpdate::parse_http_date(ok.headers()["expires"].to_str().unwrap()).unwrap();
    let ahead = expires
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default()
        .as_secs();
    assert!((25..=31).contains(&ahead), "expires {ahead}s ahead");
    let err = get(&format!("{}/api/v2/builds/999999", server.base), &[]).await;
    assert!(err.headers().get("expires").is_none());
    let raw = get(&format!("{}/api/v2/logs/75/raw", server.base), &[]).await;
    assert!(raw.headers().get("expires").is_none());

    let default = serve_reference_with("").await;
    let ok = get(&format!("{}/api/v2/builders", default.base), &[]).await;
    assert!(ok.headers().get("expires").is_none() && ok.headers().get("pragma").is_none());
}

#[tokio::test]
async fn rest_minimum_version_hides_older_versions() {
    let server = serve_reference_with("rest_minimum_version = 3").await;
    let v2 = get(&format!("{}/api/v2/builders", server.base), &[]).await;
    assert_eq!(v2.status(), 404);
    assert!(v2.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let versions = get(&format!("{}/api", server.base), &[])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(versions, r#"{"api_versions": {}}"#);

    let server = serve_reference_with("rest_minimum_version = 2").await;
    assert_eq!(
        get(&format!("{}/api/v2/builders", server.base), &[])
            .await
            .status(),
        200
    );
    assert_eq!(
        get(&format!("{}/api/latest/builders", server.base), &[])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn internal_errors_show_detail_only_with_debug() {
    // A corrupt log chunk is an internal error.
    for (debug, shows_detail) in [("debug = false", false), ("debug = true", true)] {
        let server = serve_reference_with(debug).await;
        let db = server.dir.path().join("state.sqlite");
        let pool = buildbot_www::db::open_file(&db).await.unwrap();
        sqlx::query("UPDATE logchunks SET content = x'00ff00ff', compressed = 1 WHERE logid = 75")
            .execute(&pool)
            .await
            .unwrap();
        let response = get(&format!("{}/api/v2/logs/75/contents", server.base), &[]).await;
        assert_eq!(response.status(), 500);
        let body = response.text().await.unwrap();
        assert_eq!(
            body.contains("corrupt gz log chunk"),
            shows_detail,
            "{body}"
        );
        assert!(body.starts_with("{\"error\": "), "{body}");
    }
}

#[tokio::test]
async fn allowed_origins_globs_preflight_and_errors() {
    let server = serve_reference_with(
        "allowed_origins = [\"https://*.example.org\", \"http://localhost:80??\"]",
    )
    .await;
    let url = format!("{}/api/v2/builders?limit=1", server.base);
    let ok = get(&url, &[("Origin", "https://ci.example.org")]).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://ci.example.org"
    );
    assert_eq!(ok.headers()["access-control-max-age"], "3600");
    let ok = get(&url, &[("Origin", "http://localhost:8010")]).await;
    assert_eq!(ok.status(), 200);
    let bad = get(&url, &[("Origin", "http://localhost:801")]).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.text().await.unwrap(), r#"{"error": "invalid origin"}"#);

    let client = reqwest::Client::new();
    let preflight = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "https://ci.example.org")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "Content-Type"
    );
    let bad_method = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "https://ci.example.org")
        .header("Access-Control-Request-Method", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_method.status(), 400);
    assert_eq!(
        bad_method.text().await.unwrap(),
        r#"{"error": "invalid method"}"#
    );
}

#[tokio::test]
async fn head_gzip_and_default_limit() {
    let server = serve_reference_with("rest_default_limit = 5").await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let url = format!("{}/api/v2/builds", server.base);
    let full = get(&url, &[]).await;
    let length: usize = full.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = full.text().await.unwrap();
    assert_eq!(body.len(), length);
    assert!(
        body.contains("\"total\": 5"),
        "default limit bounds the list: {body}"
    );
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        length.to_string()
    );
    assert!(head.bytes().await.unwrap().is_empty());

    let all = get(&format!("{url}?limit=-1"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        all.contains("\"total\": 41"),
        "limit=-1 lifts the default limit"
    );

    let gz = get(&url, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let bytes = gz.bytes().await.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .unwrap();
    assert_eq!(text, body);
    let br = get(&url, &[("Accept-Encoding", "br")]).await;
    assert!(br.headers().get("content-encoding").is_none());
    let config = get(
        &format!("{}/config", server.base),
        &[("Accept-Encoding", "gzip")],
    )
    .await;
    assert!(config.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn config_endpoint_as_recorded() {
    let server = serve_reference_with("").await;
    let response = get(&format!("{}/config", server.base), &[]).await;
    assert_eq!(response.headers()["cache-control"], "public,max-age=0");
    let body = response.text().await.unwrap();
    let recorded = std::fs::read_to_string(common::reference_dir().join("ui/config.http")).unwrap();
    let recorded = recorded
        .split("\r\n\r\n")
        .nth(1)
        .or_else(|| recorded.split("\n\n").nth(1))
        .unwrap();
    // Same keys in the same order with the same values, except the component versions
    // (Python/Buildbot/Twisted there, Rust/buildbot-www here).
    let strip_versions = |s: &str| {
        let start = s.find("\"versions\": ").unwrap();
        let end = s[start..].find("]], ").unwrap() + start + 4;
        format!("{}{}", &s[..start], &s[end..])
    };
    assert_eq!(strip_versions(&body), strip_versions(recorded.trim_end()));
    assert!(body.contains("[\"buildbot-www\", \""), "{body}");
}
