//! Serves the reference `state.sqlite` (written by a real Buildbot 4.3 master) and
//! compares every recorded REST, query and error response: status, content type and body.
//!
//! Recordings that belong to later issues (websocket, SSE, change hooks, avatars, plugin pages)
//! are listed in `fixtures/api/later.txt`. Deliberate differences from Buildbot (upstream bugs we
//! fix, see docs/compatibility.md) are listed in `fixtures/api/differences.toml`; for those the
//! expected answer is `fixtures/api/expected/<recording>`, regenerated with `UPDATE_EXPECT=1`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common;

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/reference/buildbot-4.3")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// A recorded HTTP response.
struct Recording {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recording {
    fn parse(bytes: &[u8]) -> Recording {
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| (p, 4))
            .or_else(|| bytes.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)))
            .unwrap_or((bytes.len(), 0));
        let head = String::from_utf8_lossy(&bytes[..split.0]).to_string();
        let body = bytes[(split.0 + split.1).min(bytes.len())..].to_vec();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| {
                l.split_once(':')
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            })
            .collect();
        Recording {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn render(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {}\n", self.status).into_bytes();
        for name in ["content-type", "content-disposition"] {
            if let Some(v) = self.header(name) {
                out.extend(format!("{name}: {v}\n").as_bytes());
            }
        }
        out.push(b'\n');
        out.extend(&self.body);
        out
    }
}

/// Sends the request of a recorded curl command line to the application (in-process: these
/// recordings check answers, not the connection).
async fn replay(server: &common::Server, path: &str, curl: &str) -> Recording {
    let words = common::shell_words(curl);
    let mut method = axum::http::Method::GET;
    let mut headers = Vec::new();
    let mut data: Option<String> = None;
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        match word.as_str() {
            "-X" => {
                method = iter
                    .next()
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(axum::http::Method::GET)
            }
            "-H" => {
                if let Some((k, v)) = iter.next().and_then(|h| h.split_once(':')) {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            "--data" | "-d" => {
                data = iter.next().cloned();
                if method == axum::http::Method::GET {
                    method = axum::http::Method::POST;
                }
            }
            "-I" => method = axum::http::Method::HEAD,
            other => panic!("unsupported curl argument {other:?} in {curl:?}"),
        }
    }
    let mut request = axum::http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let request = request
        .body(axum::body::Body::from(data.unwrap_or_default()))
        .unwrap();
    let answer = server.send(request).await;
    let headers = answer
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    Recording {
        status: answer.status,
        headers,
        body: answer.body.to_vec(),
    }
}

/// Values the real master rewrote while recording (its heartbeat), masked before comparing.
fn mask_volatile(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_ref();
    while let Some(pos) = rest.find("\"last_active\":") {
        let after = pos + "\"last_active\":".len();
        out.push_str(&rest[..after]);
        let tail = &rest[after..];
        let digits_start = tail.len() - tail.trim_start().len();
        out.push_str(&tail[..digits_start]);
        let tail = &tail[digits_start..];
        let end = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        out.push('N');
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn content_type_base(ct: Option<&str>) -> String {
    ct.unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recorded_rest_query_and_error_response_matches() {
    replay_every_recording(&common::serve_reference().await).await;
}

/// The same recordings, answered from the reference rows in the schema Buildbot 4.3 makes on
/// PostgreSQL (`common/postgres.rs`): byte for byte what the SQLite file gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recorded_response_matches_on_postgresql() {
    let Some(url) = common::postgres::reference_postgres().await else {
        return;
    };
    let config = common::MasterToml::reference().set(&["db", "db_url"], url);
    replay_every_recording(&common::serve_reference_config(config).await).await;
}

async fn replay_every_recording(server: &common::Server) {
    let reference = reference_dir();

    let later: Vec<String> = std::fs::read_to_string(fixtures().join("api/later.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    let differences: BTreeMap<String, String> =
        toml::from_str(&std::fs::read_to_string(fixtures().join("api/differences.toml")).unwrap())
            .unwrap();
    let update = std::env::var_os("UPDATE_EXPECT").is_some();

    let tsv = std::fs::read_to_string(reference.join("requests.tsv")).unwrap();
    let mut failures = Vec::new();
    let mut compared = 0;
    for line in tsv.lines() {
        let mut cols = line.splitn(3, '\t');
        let (Some(file), Some(path)) = (cols.next(), cols.next()) else {
            continue;
        };
        let curl = cols.next().unwrap_or("");
        if !(file.starts_with("rest/") || file.starts_with("query/") || file.starts_with("errors/"))
        {
            continue;
        }
        if later.iter().any(|l| l == file) {
            continue;
        }
        let got = replay(server, path, curl).await;
        let expected =
            if differences.contains_key(file) {
                let expected_file = fixtures().join("api/expected").join(file);
                if update {
                    std::fs::create_dir_all(expected_file.parent().unwrap()).unwrap();
                    std::fs::write(&expected_file, got.render()).unwrap();
                }
                Recording::parse(&std::fs::read(&expected_file).unwrap_or_else(|_| {
                    panic!("missing {expected_file:?}; run with UPDATE_EXPECT=1")
                }))
            } else {
                Recording::parse(&std::fs::read(reference.join(file)).unwrap())
            };
        compared += 1;
        let mut problems = Vec::new();
        if got.status != expected.status {
            problems.push(format!("status {} != {}", got.status, expected.status));
        }
        let (g, e) = (
            content_type_base(got.header("content-type")),
            content_type_base(expected.header("content-type")),
        );
        if g != e {
            problems.push(format!("content-type {g:?} != {e:?}"));
        }
        if let Some(disposition) = expected.header("content-disposition") {
            if got.header("content-disposition") != Some(disposition) {
                problems.push(format!(
                    "content-disposition {:?} != {disposition:?}",
                    got.header("content-disposition")
                ));
            }
        }
        if got.body != expected.body && mask_volatile(&got.body) != mask_volatile(&expected.body) {
            let g = String::from_utf8_lossy(&got.body);
            let e = String::from_utf8_lossy(&expected.body);
            let at = g.chars().zip(e.chars()).take_while(|(a, b)| a == b).count();
            let from = at.saturating_sub(60);
            problems.push(format!(
                "body differs at char {at}:\n      got: {:?}\n expected: {:?}",
                g.chars().skip(from).take(160).collect::<String>(),
                e.chars().skip(from).take(160).collect::<String>()
            ));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{file} ({path} {curl}):\n  {}",
                problems.join("\n  ")
            ));
        }
    }
    assert!(compared > 200, "only {compared} recordings compared");
    assert!(
        failures.is_empty(),
        "{} of {compared} recordings differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
