//! `/avatar` against Buildbot 4.3's recorded answers (`fixtures/reference/buildbot-4.3/auth/
//! 6-avatar/`): Gravatar by default, the placeholder with `avatar_methods = []`, and
//! `AvatarGitHub` asking a GitHub API served by the test, in Buildbot's order and with its
//! headers; a GitHub that is down falls through to the next method.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::response::IntoResponse;
use serde_json::{json, Value};

fn recordings() -> std::path::PathBuf {
    common::reference_dir().join("auth/6-avatar")
}

/// The `Location` of a recorded answer.
fn recorded_location(file: &str) -> String {
    let text = std::fs::read_to_string(recordings().join(file)).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("Location: "))
        .unwrap_or_else(|| panic!("{file} has no Location"))
        .trim_end()
        .to_owned()
}

/// `(recorded file, path and query)` of the recordings of one scenario.
fn requests(prefix: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(recordings().join("requests.tsv"))
        .unwrap()
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (file, path) = (fields.next()?, fields.next()?);
            (file.starts_with(prefix)
                && (path == "/avatar" || path.starts_with("/avatar?"))
                && fields.next() == Some(""))
            .then(|| (file.to_owned(), path.to_owned()))
        })
        .collect()
}

async fn redirect_of(server: &common::Server, path: &str) -> String {
    let answer = server.get(path).await;
    assert_eq!(answer.status, 302, "{path}: {}", answer.text());
    assert_eq!(answer.header("content-type"), "text/html", "{path}");
    assert!(answer.body.is_empty(), "{path}");
    assert!(answer.headers.get("set-cookie").is_none(), "{path}");
    answer.header("location").to_owned()
}

#[tokio::test]
async fn gravatar_answers_as_buildbot() {
    let server = common::serve_reference().await;
    let cases = requests("default-");
    assert!(cases.len() >= 10, "{cases:?}");
    for (file, path) in cases {
        let ours = redirect_of(&server, &path).await;
        if file == "default-email-author-format.http" {
            // Buildbot hashes `Homer Simpson <homer@example.com>` whole; we hash the address
            // (docs/compatibility.md), so the commit author gets the user's picture.
            assert_eq!(ours, recorded_location("default-email.http"), "{file}");
            assert_ne!(ours, recorded_location(&file));
        } else {
            assert_eq!(ours, recorded_location(&file), "{file}");
        }
    }
    let config: Value = serde_json::from_str(&server.get("/config").await.text()).unwrap();
    assert_eq!(config["avatar_methods"], json!({"name": "gravatar"}));
}

#[tokio::test]
async fn other_methods_and_paths_are_refused_as_buildbot() {
    let server = common::serve_reference().await;
    let post = server
        .send(
            axum::http::Request::post("/avatar?email=homer%40example.com")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), "HEAD, GET");
    let head = server
        .send(
            axum::http::Request::head("/avatar?email=homer%40example.com")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, 302);
    assert_eq!(
        head.header("location"),
        recorded_location("default-head.http")
    );
    assert_eq!(server.get("/avatar/x").await.status, 404);
}

#[tokio::test]
async fn no_methods_give_the_placeholder() {
    let server = common::serve_reference_with("avatar_methods = []\n").await;
    for (file, path) in requests("off-") {
        assert_eq!(
            redirect_of(&server, &path).await,
            recorded_location(&file),
            "{file}"
        );
    }
    let config: Value = serde_json::from_str(&server.get("/config").await.text()).unwrap();
    assert_eq!(config["avatar_methods"], json!([]));
    // The placeholder the relative `img/nobody.png` points to, a real PNG.
    let nobody = server.get("/img/nobody.png").await;
    assert_eq!(nobody.status, 200);
    assert_eq!(nobody.header("content-type"), "image/png");
    assert!(nobody.body.starts_with(b"\x89PNG\r\n\x1a\n"));
}

/// A GitHub API that knows homer by name, marge by a user's email and lisa by a commit's, and
/// logs what it was asked.
#[derive(Clone, Default)]
struct GitHubStub {
    log: Arc<Mutex<Vec<Value>>>,
}

async fn github(State(stub): State<GitHubStub>, request: Request) -> axum::response::Response {
    let uri = request.uri().clone();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    stub.log.lock().unwrap().push(json!({
        "method": request.method().as_str(),
        "path": uri.path_and_query().map(|p| p.as_str()).unwrap_or_default(),
        "headers": {"Accept": header("accept"), "User-Agent": header("user-agent")},
        "authorization": header("authorization"),
    }));
    let query: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let q = query
        .iter()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let none = json!({"total_count": 0, "items": []});
    match uri.path() {
        "/users/homer" => {
            axum::Json(json!({"login": "homer", "avatar_url": "https://avatars.example.invalid/u/1?v=4"}))
                .into_response()
        }
        "/search/users" if q == "marge@example.com in:email" => axum::Json(json!({
            "total_count": 1,
            "items": [{"login": "marge", "avatar_url": "https://avatars.example.invalid/u/2?v=4"}]
        }))
        .into_response(),
        "/search/users" => axum::Json(none).into_response(),
        "/search/commits" if q == "author-email:lisa@example.com" => axum::Json(json!({
            "total_count": 1,
            "items": [{"author": {"login": "lisa", "avatar_url": "https://avatars.example.invalid/u/3"}}]
        }))
        .into_response(),
        "/search/commits" => axum::Json(none).into_response(),
        _ => (
            axum::http::StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Not Found"})),
        )
            .into_response(),
    }
}

async fn serve_github() -> (String, GitHubStub) {
    let stub = GitHubStub::default();
    let router = axum::Router::new()
        .fallback(github)
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, stub)
}

#[tokio::test]
async fn github_is_asked_in_buildbots_order_then_the_next_method() {
    let (api, stub) = serve_github().await;
    let server = common::serve_reference_with(&format!(
        "avatar_methods = [{{ type = \"AvatarGitHub\", github_api_endpoint = \"{api}\", \
         token = \"ghp_stub\" }}, {{ type = \"AvatarGravatar\" }}]\n"
    ))
    .await;
    for (file, path) in requests("github-") {
        assert_eq!(
            redirect_of(&server, &path).await,
            recorded_location(&file),
            "{file}"
        );
    }
    let config: Value = serde_json::from_str(&server.get("/config").await.text()).unwrap();
    assert_eq!(
        config["avatar_methods"],
        json!([{"name": "github"}, {"name": "gravatar"}])
    );
    // The same calls as Buildbot's, in the same order (the repeated request came from the
    // cache), each with the token.
    let recorded: Vec<Value> =
        std::fs::read_to_string(recordings().join("github-stub-requests.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
    let log = stub.log.lock().unwrap().clone();
    let ours: Vec<Value> = log
        .iter()
        .map(|r| json!({"method": r["method"], "path": r["path"], "headers": r["headers"]}))
        .collect();
    assert_eq!(ours, recorded);
    assert!(log.iter().all(|r| r["authorization"] == "token ghp_stub"));
}

#[tokio::test]
async fn a_github_that_is_down_falls_through() {
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let server = common::serve_reference_with(&format!(
        "avatar_methods = [{{ type = \"AvatarGitHub\", github_api_endpoint = \"http://127.0.0.1:{port}\" }}, \
         {{ type = \"AvatarGravatar\" }}]\n"
    ))
    .await;
    assert_eq!(
        redirect_of(&server, "/avatar?username=homer&email=homer%40example.com").await,
        recorded_location("default-email.http")
    );
    let only_github = common::serve_reference_with(&format!(
        "avatar_methods = [{{ type = \"AvatarGitHub\", github_api_endpoint = \"http://127.0.0.1:{port}\" }}]\n"
    ))
    .await;
    assert_eq!(
        redirect_of(&only_github, "/avatar?username=homer").await,
        "img/nobody.png"
    );
    // And the server is still answering.
    assert_eq!(only_github.get("/config").await.status, 200);
}
