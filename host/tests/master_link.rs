//! The link to a Buildbot master (`[www.master]`, `control::link::MasterLink`).
//!
//! Against a real Buildbot 4.3 master and worker (`common::buildbot`, shared by these tests):
//! forced builds run on the real worker as the forwarded user and reach our REST API and `/ws`
//! through the shared database; stop, rebuild and cancel act on the master's builds and
//! requests; the master's own JSON-RPC errors come back unchanged.
//!
//! Against plain sockets: what the link sends (the caller's session, the body unchanged, no
//! other credential) and how it fails (nothing listening, no answer in time, not HTTP).

use std::sync::Arc;
use std::time::{Duration, Instant};

use buildbot_www::auth::session::Sessions;
use buildbot_www::control::link::{Forwarded, LinkError, MasterLink};
use buildbot_www::identity::User;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;

use crate::common;

/// How long a build on the real worker may take to reach the state a test waits for.
const WAIT: Duration = Duration::from_secs(90);

fn user(name: &str, email: &str) -> User {
    User::Known {
        username: name.to_owned(),
        full_name: Some(format!("{name} Simpson")),
        email: Some(email.to_owned()),
        groups: vec!["simpsons".to_owned()],
        extra: serde_json::Map::new(),
    }
}

/// A user the test master lets act.
fn marge() -> User {
    user("marge", "marge@example.org")
}

/// Another user the test master lets act.
fn homer() -> User {
    user("homer", "homer@example.org")
}

fn rpc(method: &str, params: Value, id: u64) -> Bytes {
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id}))
        .unwrap()
        .into()
}

/// Our server on the master's database, linked to it, and a link for the test to call.
struct Linked {
    base: String,
    link: MasterLink,
    sessions: Arc<Sessions>,
    _dir: tempfile::TempDir,
}

/// Our server linked to the shared master; `None` (skip) when there is no master.
async fn linked() -> Option<Linked> {
    linked_with("").await
}

/// The same with TOML text for our `[www]` (e.g. `[www.authz]` rules).
async fn linked_with(www: &str) -> Option<Linked> {
    let bb = common::buildbot::master()?;
    let dir = tempfile::tempdir().unwrap();
    let path = common::MasterToml::sqlite()
        .set(&["db", "db_url"], bb.db_url.as_str())
        .set(&["www", "master", "url"], bb.www_url.as_str())
        .www_toml(www)
        .write(dir.path());
    let config = buildbot_www::config::load(&path).unwrap();
    let pool = buildbot_www::db::open(&config.db.db_url, &config.base_dir)
        .await
        .unwrap();
    let sessions = Arc::new(Sessions::new(pool, Duration::from_secs(3600), false));
    let link = MasterLink::new(&config, sessions.clone())
        .unwrap()
        .expect("[www.master] is set");
    let state = common::load_state(&path).await.unwrap();
    let base = common::serve_state(state).await;
    Some(Linked {
        base,
        link,
        sessions,
        _dir: dir,
    })
}

impl Linked {
    async fn forward(&self, user: &User, path: &str, body: Bytes) -> Forwarded {
        self.link
            .forward(user, path, body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The `result` of a call the master must accept.
    async fn call(&self, user: &User, path: &str, method: &str, params: Value) -> Value {
        let answer = self.forward(user, path, rpc(method, params, 1)).await;
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(answer.status, 200, "{path} {method}: {body}");
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
        body["result"].clone()
    }

    /// `force` on `builder`: the new buildset id and the build request id.
    async fn force(&self, user: &User, builder: &str, sleep: &str) -> (i64, i64) {
        let result = self
            .call(
                user,
                "forceschedulers/force",
                "force",
                json!({"builderNames": [builder], "sleep": sleep, "flavour": "fancy", "verbose": true}),
            )
            .await;
        crate::common::buildbot::buildset_of(&result)
    }

    /// A JSON-RPC call to OUR server as `user` (a session of this database): status and body.
    async fn ours(&self, user: &User, path: &str, method: &str, params: Value) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/v2/{path}", self.base))
            .header("content-type", "application/json")
            .body(rpc(method, params, 9));
        if *user != User::Anonymous {
            let token = self.sessions.issue(user).await.unwrap();
            request = request.header("cookie", format!("TWISTED_SESSION={token}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// GET our REST API.
    async fn get(&self, path: &str) -> Value {
        let response = reqwest::get(format!("{}/api/v2/{path}", self.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }

    /// The first item of our REST collection `path` once `done` holds for it.
    async fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let answer = self.get(path).await;
            let items = answer
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| *k != "meta"))
                .and_then(|(_, v)| v.as_array())
                .cloned()
                .unwrap_or_default();
            if let Some(item) = items.first().filter(|item| done(item)) {
                return item.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{path} did not reach the state waited for: {answer}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// `method` (`stop` or `cancel`) on `target` (a build or a build request), which the master
    /// must answer with `null`; then `target` completes with results 6 (cancelled).
    async fn ends_cancelled(&self, user: &User, target: &str, method: &str) {
        let reason = json!({"reason": format!("{method} from the master-link tests")});
        assert_eq!(self.call(user, target, method, reason).await, Value::Null);
        let ended = self.wait_for(target, |e| e["complete"] == true).await;
        assert_eq!(ended["results"], 6, "cancelled: {ended}");
    }

    /// The build of request `brid` once its `sleep` step runs (so that a stop interrupts it).
    async fn sleeping_build(&self, brid: i64) -> i64 {
        let build = self
            .build_of(brid, |b| {
                b["state_string"] != "created" && b["complete"] == false
            })
            .await;
        let buildid = build["buildid"].as_i64().unwrap();
        self.wait_for(&format!("builds/{buildid}/steps?name=sleep"), |s| {
            !s["started_at"].is_null()
        })
        .await;
        buildid
    }

    /// The build of a request, once `done` holds for it.
    async fn build_of(&self, brid: i64, done: impl Fn(&Value) -> bool) -> Value {
        self.wait_for(&format!("builds?buildrequestid={brid}"), done)
            .await
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn consume(base: &str, path: &str) -> Ws {
    use futures_util::{SinkExt as _, StreamExt as _};
    let url = format!("{}/ws", base.replacen("http://", "ws://", 1));
    let mut ws = tokio_tungstenite::connect_async(url).await.unwrap().0;
    let start = format!(r#"{{"cmd":"startConsuming","path":"{path}","_id":1}}"#);
    ws.send(Message::Text(start.into())).await.unwrap();
    let reply = ws.next().await.unwrap().unwrap();
    assert_eq!(
        reply.to_text().unwrap(),
        r#"{"msg":"OK","code":200,"_id":1}"#
    );
    ws
}

/// The first `/ws` event whose key is `key`.
async fn event(ws: &mut Ws, key: &str) -> Value {
    use futures_util::StreamExt as _;
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {key} event on /ws"));
        if let Some(Ok(Message::Text(text))) = frame {
            let frame: Value = serde_json::from_str(text.as_str()).unwrap();
            if frame["k"] == key {
                return frame["m"].clone();
            }
        }
    }
}

#[tokio::test]
async fn a_forced_build_runs_on_the_worker_as_the_forwarded_user() {
    let Some(linked) = linked().await else {
        return;
    };
    let marge = marge();
    let mut ws = consume(&linked.base, "builds/*/*").await;
    let (bsid, brid) = linked.force(&marge, "sleeper", "1").await;

    let build = linked.build_of(brid, |b| b["complete"] == true).await;
    assert_eq!(build["results"], 0, "{build}");
    assert_eq!(build["state_string"], "build successful");
    let buildid = build["buildid"].as_i64().unwrap();
    let finished = event(&mut ws, &format!("builds/{buildid}/finished")).await;
    assert_eq!(finished["buildid"], buildid);
    assert_eq!(finished["results"], 0);

    // The master took the owner from the forwarded session (e-mail first, as Buildbot does),
    // and the force form's parameters with their types.
    let properties = linked.get(&format!("buildsets/{bsid}/properties")).await;
    let properties = &properties["properties"][0];
    assert_eq!(
        properties["owner"],
        json!(["marge@example.org", "Force Build Form"])
    );
    assert_eq!(properties["sleep"], json!([1, "Force Build Form"]));
    assert_eq!(properties["flavour"], json!(["fancy", "Force Build Form"]));
    assert_eq!(properties["verbose"], json!([true, "Force Build Form"]));
}

#[tokio::test]
async fn stop_ends_a_running_build_cancelled() {
    let Some(linked) = linked().await else {
        return;
    };
    let homer = homer();
    let (_, brid) = linked.force(&homer, "sleeper", "300").await;
    let buildid = linked.sleeping_build(brid).await;
    linked
        .ends_cancelled(&homer, &format!("builds/{buildid}"), "stop")
        .await;
}

#[tokio::test]
async fn rebuild_makes_a_new_buildset_of_the_build() {
    let Some(linked) = linked().await else {
        return;
    };
    let marge = marge();
    let (_, brid) = linked.force(&marge, "sleeper", "1").await;
    let build = linked.build_of(brid, |b| b["complete"] == true).await;
    let buildid = build["buildid"].as_i64().unwrap();

    let result = linked
        .call(&marge, &format!("builds/{buildid}"), "rebuild", json!({}))
        .await;
    let (new_bsid, new_brid) = crate::common::buildbot::buildset_of(&result);
    let buildset = linked.get(&format!("buildsets/{new_bsid}")).await;
    assert_eq!(buildset["buildsets"][0]["rebuilt_buildid"], buildid);
    let rebuilt = linked.build_of(new_brid, |b| b["complete"] == true).await;
    assert_eq!(rebuilt["results"], 0, "{rebuilt}");
    assert_eq!(rebuilt["builderid"], build["builderid"]);
}

#[tokio::test]
async fn cancel_completes_a_pending_request_cancelled() {
    let Some(linked) = linked().await else {
        return;
    };
    let marge = marge();
    let (_, brid) = linked.force(&marge, "orphan", "1").await;
    let request = linked
        .wait_for(&format!("buildrequests/{brid}"), |_| true)
        .await;
    assert_eq!(request["claimed"], false, "no worker for orphan: {request}");
    linked
        .ends_cancelled(&marge, &format!("buildrequests/{brid}"), "cancel")
        .await;
}

#[tokio::test]
async fn the_masters_errors_pass_through_unchanged() {
    let Some(linked) = linked().await else {
        return;
    };
    let marge = marge();
    // A bad parameter: the master's own validation message (recorded as
    // jsonrpc/force_bad_int.json).
    let answer = linked
        .forward(
            &marge,
            "forceschedulers/force",
            rpc(
                "force",
                json!({"builderNames": ["sleeper"], "sleep": "abc"}),
                21,
            ),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        std::str::from_utf8(&answer.body).unwrap(),
        r#"{"jsonrpc": "2.0", "id": 21, "error": {"code": -32602, "message": {"sleep": "invalid literal for int() with base 10: 'abc'"}}}"#
    );
    // The body goes as the caller wrote it: a broken one gets the master's parse error.
    let answer = linked
        .forward(&marge, "builds/1", Bytes::from_static(b"{\"jsonrpc\": "))
        .await;
    assert_eq!(answer.status, 400);
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["error"]["code"], -32700, "{body}");
    // The master's authz sees the forwarded user: only marge and homer may act there, so an
    // anonymous call (no session) and bart's are refused by the master itself.
    for who in [User::Anonymous, user("bart", "bart@example.org")] {
        let answer = linked
            .forward(
                &who,
                "forceschedulers/force",
                rpc("force", json!({"builderNames": ["orphan"]}), 5),
            )
            .await;
        assert_eq!(answer.status, 403, "{who:?}");
        assert_eq!(
            std::str::from_utf8(&answer.body).unwrap(),
            r#"{"jsonrpc": "2.0", "id": 5, "error": {"code": -32600, "message": "you need to have role 'users'"}}"#
        );
    }
}

/// Through OUR JSON-RPC: our rules first (a refusal never reaches the master), then the call
/// goes to the master as the caller; force, stop and cancel act on the real master's builds.
#[tokio::test]
async fn our_json_rpc_checks_our_rules_then_the_master_acts() {
    let Some(linked) = linked_with(
        r#"
[www.authz]
allowRules = [{ matcher = "AnyControlEndpointMatcher", role = "admins" }]
roleMatchers = [{ type = "RolesFromUsername", roles = ["admins"], usernames = ["homer", "bart"] }]
"#,
    )
    .await
    else {
        return;
    };
    let (marge, homer) = (marge(), homer());
    let force = |builder: &str, sleep: &str| json!({"builderNames": [builder], "sleep": sleep});
    // Refused here: marge lacks our `admins`.
    let (status, body) = linked
        .ours(
            &marge,
            "forceschedulers/force",
            "force",
            force("sleeper", "1"),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"jsonrpc": "2.0", "id": 9, "error": {"code": -32600, "message": "you need to have role 'admins'"}})
        )
    );
    // bart passes our rules, and the master refuses him with its own rules.
    let (status, body) = linked
        .ours(
            &user("bart", "bart@example.org"),
            "forceschedulers/force",
            "force",
            force("sleeper", "1"),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["message"], "you need to have role 'users'");
    // homer passes both: the build runs on the real worker, owned by homer.
    let (status, body) = linked
        .ours(
            &homer,
            "forceschedulers/force",
            "force",
            force("sleeper", "300"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (bsid, brid) = crate::common::buildbot::buildset_of(&body["result"]);
    let properties = linked.get(&format!("buildsets/{bsid}/properties")).await;
    assert_eq!(
        properties["properties"][0]["owner"],
        json!(["homer@example.org", "Force Build Form"])
    );
    let buildid = linked.sleeping_build(brid).await;
    let (status, body) = linked
        .ours(
            &homer,
            &format!("builds/{buildid}"),
            "stop",
            json!({"reason": "via us"}),
        )
        .await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, Value::Null),
        "{body}"
    );
    let ended = linked
        .wait_for(&format!("builds/{buildid}"), |b| b["complete"] == true)
        .await;
    assert_eq!(ended["results"], 6, "{ended}");
    // Rebuild it through us: a new buildset of the build, made by the master.
    let (status, body) = linked
        .ours(&homer, &format!("builds/{buildid}"), "rebuild", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (rebuilt, rebuilt_brid) = crate::common::buildbot::buildset_of(&body["result"]);
    let buildset = linked.get(&format!("buildsets/{rebuilt}")).await;
    assert_eq!(buildset["buildsets"][0]["rebuilt_buildid"], buildid);
    // It would sleep 300 s on the one worker the other tests share: cancel it.
    linked
        .ends_cancelled(&homer, &format!("buildrequests/{rebuilt_brid}"), "cancel")
        .await;
    // Cancel a pending request through us.
    let (status, body) = linked
        .ours(
            &homer,
            "forceschedulers/force",
            "force",
            force("orphan", "1"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, brid) = crate::common::buildbot::buildset_of(&body["result"]);
    let (status, _) = linked
        .ours(
            &homer,
            &format!("buildrequests/{brid}"),
            "cancel",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let request = linked
        .wait_for(&format!("buildrequests/{brid}"), |r| r["complete"] == true)
        .await;
    assert_eq!(request["results"], 6);
}

/// `live_updates = "master"`: our `/ws` is fed by the master's own `/ws`, each event once
/// (the database watcher does not publish it again).
#[tokio::test]
async fn live_updates_come_from_the_masters_websocket() {
    let Some(linked) = linked_with("[www.master]\nlive_updates = \"master\"\n").await else {
        return;
    };
    let marge = marge();
    let mut ws = consume(&linked.base, "builds/*/*").await;
    // The feed is up once the master acknowledged it; a build forced before that would be
    // published by the watcher instead, which the test could not tell apart.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, brid) = linked.force(&marge, "sleeper", "1").await;
    let build = linked.build_of(brid, |b| b["complete"] == true).await;
    let buildid = build["buildid"].as_i64().unwrap();
    let finished = event(&mut ws, &format!("builds/{buildid}/finished")).await;
    assert_eq!(finished["results"], 0);
    // Nothing more for this build within the watcher's next polls: no second copy.
    let again = tokio::time::timeout(Duration::from_secs(2), async {
        event(&mut ws, &format!("builds/{buildid}/finished")).await
    })
    .await;
    assert!(again.is_err(), "builds/{buildid}/finished published twice");
}

/// The test master's force form, from an origin of this test's browser.
fn force_form() -> String {
    format!(
        "allowed_origins = [\"http://127.0.0.1:*\"]\n{}",
        crate::common::buildbot::FORCE_FORM
    )
}

/// End to end in a browser: marge opens the builder page of our server, forces a build in the
/// force dialog, and the build runs on the real worker, owned by her.
#[cfg(feature = "demo")]
#[tokio::test]
async fn a_build_forced_in_our_ui_runs_on_the_real_worker() {
    let Some(browser) = crate::ui::Browser::start().await else {
        return;
    };
    let Some(linked) = linked_with(&force_form()).await else {
        return;
    };
    let sleeper = linked.get("builders?name=sleeper").await["builders"][0]["builderid"]
        .as_i64()
        .unwrap();
    let token = linked.sessions.issue(&marge()).await.unwrap();
    browser.goto(&format!("{}/about", linked.base)).await;
    browser
        .js(&format!(
            "document.cookie = 'TWISTED_SESSION={token}; path=/'; return null;"
        ))
        .await;
    browser
        .goto(&format!("{}/builders/{sleeper}", linked.base))
        .await;
    let long = Duration::from_secs(20);
    browser
        .wait_for(
            "the force button",
            "return !!document.querySelector('button[data-dialog=\"force-force\"]');",
            long,
        )
        .await;
    // Other tests force builds on the same master meanwhile: this one's reason is its own.
    let tag = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    browser
        .js(&format!(
            "document.querySelector('button[data-dialog=\"force-force\"]').click();
             window.bbBefore = 1;
             var d = document.getElementById('force-force');
             d.querySelector('[data-fullname=\"reason\"]').value = 'from our UI {tag}';
             d.querySelector('[data-fullname=\"sleep\"]').value = '1';
             d.querySelector('[data-fullname=\"flavour\"]').value = 'fancy';
             d.querySelector('button[type=submit]').click(); return null;"
        ))
        .await;
    browser
        .wait_for(
            "the builder page again",
            "return window.bbBefore === undefined && document.readyState === 'complete';",
            long,
        )
        .await;
    let reason = format!("A build was forced by 'marge@example.org': from our UI {tag}");
    let sets = linked.get("buildsets?order=-bsid&limit=50").await;
    let bsid = sets["buildsets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["reason"] == reason.as_str())
        .unwrap_or_else(|| panic!("no buildset '{reason}' in {sets}"))["bsid"]
        .as_i64()
        .unwrap();
    let properties = linked.get(&format!("buildsets/{bsid}/properties")).await;
    assert_eq!(
        properties["properties"][0]["flavour"],
        json!(["fancy", "Force Build Form"])
    );
    let requests = linked
        .get(&format!("buildrequests?buildsetid={bsid}"))
        .await;
    let brid = requests["buildrequests"][0]["buildrequestid"]
        .as_i64()
        .unwrap();
    let build = linked.build_of(brid, |b| b["complete"] == true).await;
    assert_eq!(build["results"], 0, "{build}");
}

/// Our server linked to a master that is not there: a clear 502 naming it.
#[tokio::test]
async fn our_json_rpc_says_when_the_master_is_unreachable() {
    let port = common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let path = common::MasterToml::sqlite()
        .set(
            &["www", "master", "url"],
            format!("http://127.0.0.1:{port}/").as_str(),
        )
        .write(dir.path());
    let state = common::load_state(&path).await.unwrap();
    let base = common::serve_state(state).await;
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v2/builds/1"))
        .header("content-type", "application/json")
        .body(rpc("stop", json!({}), 3))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], 3);
    assert_eq!(body["error"]["code"], -32000);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("127.0.0.1:{port}")) && message.contains("cannot be reached"),
        "{message}"
    );
}

/// A link on a fresh database to `url`, with `timeout` seconds.
async fn link_to(url: &str, timeout: u64) -> (MasterLink, Arc<Sessions>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = common::MasterToml::sqlite()
        .set(&["www", "master", "url"], url)
        .set(
            &["www", "master", "timeout"],
            i64::try_from(timeout).unwrap(),
        )
        .write(dir.path());
    let config = buildbot_www::config::load(&path).unwrap();
    let pool = buildbot_www::db::open(&config.db.db_url, &config.base_dir)
        .await
        .unwrap();
    let sessions = Arc::new(Sessions::new(pool, Duration::from_secs(3600), false));
    let link = MasterLink::new(&config, sessions.clone()).unwrap().unwrap();
    (link, sessions, dir)
}

/// A one-connection server on a free port: reads one request (headers and `Content-Length`
/// body), answers `answer` (or nothing, holding the connection, when `None`), and hands the
/// request it read back.
async fn one_shot(answer: Option<&'static [u8]>) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        match answer {
            Some(answer) => {
                socket.write_all(answer).await.unwrap();
                socket.shutdown().await.ok();
            }
            None => tokio::time::sleep(Duration::from_secs(30)).await,
        }
        String::from_utf8_lossy(&request).into_owned()
    });
    (url, task)
}

#[tokio::test]
async fn the_call_carries_the_callers_session_and_body_only() {
    let (url, request) = one_shot(Some(
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"refused\": 1}",
    ))
    .await;
    let (link, sessions, _dir) = link_to(&url, 5).await;
    let marge = marge();
    let body = rpc("stop", json!({"reason": "x"}), 3);
    let answer = link
        .forward(&marge, "builds/7", body.clone())
        .await
        .unwrap();
    assert_eq!(
        answer,
        Forwarded {
            status: 403,
            content_type: Some("application/json".to_owned()),
            body: Bytes::from_static(b"{\"refused\": 1}"),
        }
    );
    let request = request.await.unwrap();
    let (head, sent) = request.split_once("\r\n\r\n").unwrap();
    assert_eq!(sent.as_bytes(), &body[..], "the body goes unchanged");
    let mut lines = head.lines();
    assert_eq!(lines.next(), Some("POST /api/v2/builds/7 HTTP/1.1"));
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(header("content-type"), ["application/json"]);
    assert!(header("authorization").is_empty());
    let cookies = header("cookie");
    assert_eq!(cookies.len(), 1, "{headers:?}");
    let token = cookies[0]
        .strip_prefix("TWISTED_SESSION=")
        .expect("only the session cookie");
    assert!(!token.contains(';'), "one cookie: {}", cookies[0]);
    // The token is a session of this server's secret for marge, and a short one.
    assert_eq!(sessions.user(token).await, marge);
    let claims = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
    )
    .unwrap();
    let lifetime = common::seconds_until(claims["exp"].as_i64().unwrap());
    assert!(
        (60..=70).contains(&lifetime),
        "timeout 5 s + 60 s: {lifetime}"
    );

    // Anonymous callers send no session at all.
    let (url, request) = one_shot(Some(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")).await;
    let (link, _sessions, _dir) = link_to(&url, 5).await;
    let answer = link
        .forward(&User::Anonymous, "builds/7", body)
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.content_type, answer.body.len()),
        (200, None, 0)
    );
    let request = request.await.unwrap();
    assert!(
        !request.to_ascii_lowercase().contains("cookie"),
        "{request}"
    );
}

#[tokio::test]
async fn a_master_that_cannot_answer_is_a_clear_error() {
    let marge = marge();
    let body = rpc("stop", json!({}), 1);

    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (link, _s, _d) = link_to(&format!("http://127.0.0.1:{port}"), 5).await;
    let err = link
        .forward(&marge, "builds/7", body.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, LinkError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the Buildbot master at http://127.0.0.1:{port}/ cannot be reached: "
        )),
        "{text}"
    );
    assert!(matches!(
        link.ping().await,
        Err(LinkError::Unreachable { .. })
    ));

    // Accepts, never answers.
    let (url, _request) = one_shot(None).await;
    let (link, _s, _d) = link_to(&url, 1).await;
    let began = Instant::now();
    let err = link
        .forward(&marge, "builds/7", body.clone())
        .await
        .unwrap_err();
    assert!(began.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, LinkError::Timeout { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("the Buildbot master at {url}/ did not answer within 1 s")
    );

    // Answers something that is not HTTP: the error says so and does not repeat the token.
    let (url, request) = one_shot(Some(b"SSH-2.0-OpenSSH_9.2\r\n")).await;
    let (link, _s, _d) = link_to(&url, 5).await;
    let err = link
        .forward(&marge, "builds/7", body.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, LinkError::BadAnswer { .. }), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(
        text.starts_with(&format!(
            "the Buildbot master at {url}/ answered something that is not a valid HTTP answer: "
        )),
        "{text}"
    );
    let request = request.await.unwrap();
    let token = request
        .split("TWISTED_SESSION=")
        .nth(1)
        .and_then(|rest| rest.split("\r\n").next())
        .expect("a token was sent");
    assert!(!text.contains(token), "{text}");

    // A path that is not the Data API's is refused before anything is sent.
    let err = link
        .forward(&marge, "../auth/login", body)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "'../auth/login' is not a Data API path such as builds/7"
    );
}
