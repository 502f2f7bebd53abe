//! Change hooks linked to a real Buildbot 4.3 master (`common::buildbot`): a GitHub push
//! delivered to this server is checked here, passed on to the master's own `/change_hook/`,
//! and the master's scheduler starts a build for it on the real worker; the change and the
//! build reach our REST API through the shared database. A delivery we refuse never reaches
//! the master.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;
use crate::common::buildbot::{HOOK_PROJECT, HOOK_SECRET};

const WAIT: Duration = Duration::from_secs(90);

/// A linked server with the github dialect, and the master.
async fn linked() -> Option<(String, tempfile::TempDir)> {
    let bb = common::buildbot::master()?;
    let dir = tempfile::tempdir().unwrap();
    let path = common::MasterToml::sqlite()
        .set(&["db", "db_url"], bb.db_url.as_str())
        .set(&["www", "master", "url"], bb.www_url.as_str())
        .www_toml(&format!(
            "[www.change_hook_dialects]\ngithub = {{ secret = \"{HOOK_SECRET}\", strict = true }}\n"
        ))
        .write(dir.path());
    let state = common::load_state(&path).await.unwrap();
    Some((common::serve_state(state).await, dir))
}

/// A one-commit push of `revision` to `main` of the hooks project.
fn push(revision: &str, message: &str) -> Vec<u8> {
    let commit = json!({
        "id": revision,
        "distinct": true,
        "message": message,
        "timestamp": "2026-12-04T08:00:00+01:00",
        "url": format!("https://github.com/{HOOK_PROJECT}/commit/{revision}"),
        "author": {"name": "Marge Simpson", "email": "marge@example.com", "username": "marge"},
        "committer": {"name": "Marge Simpson", "email": "marge@example.com", "username": "marge"},
        "added": ["hooks.txt"], "removed": [], "modified": []
    });
    serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "before": "0".repeat(40),
        "after": revision,
        "created": false,
        "deleted": false,
        "commits": [commit.clone()],
        "head_commit": commit,
        "repository": {
            "name": "hooks-e2e",
            "full_name": HOOK_PROJECT,
            "html_url": format!("https://github.com/{HOOK_PROJECT}"),
            "url": format!("https://github.com/{HOOK_PROJECT}"),
        },
        "pusher": {"name": "marge", "email": "marge@example.com"},
        "sender": {"login": "marge"}
    }))
    .unwrap()
}

fn signature(secret: &str, body: &[u8]) -> String {
    crate::change_hooks::github_signatures(body, secret).0
}

async fn deliver(base: &str, body: Vec<u8>, signature: &str) -> (u16, String) {
    let answer = reqwest::Client::new()
        .post(format!("{base}/change_hook/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-hub-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

async fn get(base: &str, path: &str) -> Value {
    reqwest::get(format!("{base}/api/v2/{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A revision no other run used (the master's database lives as long as the test binary).
fn revision() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:040x}")[..40].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_push_delivered_to_us_builds_on_the_masters_scheduler() {
    let Some((base, _dir)) = linked().await else {
        return;
    };
    let revision = revision();
    let body = push(&revision, "Fix the reactor\n\nFound by the hooks test.");
    let (status, text) = deliver(&base, body.clone(), &signature(HOOK_SECRET, &body)).await;
    assert_eq!((status, text.as_str()), (200, "1 change found"));

    // The master wrote the change (through its own hook) into the shared database.
    let changes = get(&base, &format!("changes?revision={revision}")).await;
    let change = &changes["changes"][0];
    assert_eq!(change["project"], HOOK_PROJECT, "{changes}");
    assert_eq!(change["author"], "Marge Simpson <marge@example.com>");
    assert_eq!(change["files"], json!(["hooks.txt"]));
    assert_eq!(change["when_timestamp"], 1_796_367_600);

    // Its scheduler started a build of it on the real worker.
    let deadline = Instant::now() + WAIT;
    let build = loop {
        let builds = get(&base, "builds?order=-buildid&limit=20&property=*").await;
        let found = builds["builds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["properties"]["scheduler"][0] == "hooks" && b["complete"] == true);
        let mine = match found {
            Some(b) => {
                let id = b["buildid"].as_i64().unwrap();
                let changes = get(&base, &format!("builds/{id}/changes")).await;
                (changes["changes"][0]["revision"] == revision.as_str()).then(|| b.clone())
            }
            None => None,
        };
        if let Some(build) = mine {
            break build;
        }
        assert!(
            Instant::now() < deadline,
            "no build of {revision}: {builds}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(build["results"], 0, "{build}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_we_refuse_never_reaches_the_master() {
    let Some((base, _dir)) = linked().await else {
        return;
    };
    let revision = revision();
    let body = push(&revision, "Not signed by us");
    let (status, text) = deliver(&base, body.clone(), &signature("wrong", &body)).await;
    assert_eq!((status, text.as_str()), (400, "Hash mismatch"));
    let (status, text) = deliver(&base, body, "sha256=00").await;
    assert_eq!((status, text.as_str()), (400, "Unknown hash type: sha256"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let changes = get(&base, &format!("changes?revision={revision}")).await;
    assert_eq!(changes["meta"]["total"], 0, "{changes}");
    // Our delivery log says who answered: these two were ours, never the master's.
    let page = reqwest::get(format!("{base}/change_hooks"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(page.matches("<td>400</td>").count(), 2, "{page}");
    assert!(!page.contains("(from the master)"), "{page}");
}
