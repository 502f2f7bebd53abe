//! Several servers on one PostgreSQL database, as a deployment that scales out runs them:
//! two `buildbot-www serve` processes (the real binary) on one database holding the reference
//! rows, behind real nginx balancing between them round robin. A session opened through nginx
//! is valid on each instance (the secret is in the database); a change delivered through nginx
//! and a row written by another connection reach the `/ws` clients of both; deliveries of one
//! revision at once to both make its sourcestamp once; on a new database the first logins on
//! both at once agree on one session secret; a build forced through nginx, run by a real
//! Buildbot 4.3 master on the same database, shows on both.
//!
//! And the database killed under load: while clients read REST and deliver changes to a
//! server, its PostgreSQL (a cluster of the test's own, so that the other tests' cluster is
//! left alone) stops at once and starts again. Meanwhile every answer is a 503 that says the
//! database is unavailable, or a 200 from the REST cache; afterwards the same process answers
//! 200 again and its `/ws` still delivers; each delivery answered 200 is written exactly once,
//! and none answered 503 wrote anything.
//!
//! Skipped without PostgreSQL 15, nginx or Buildbot's Python environment, unless
//! `BUILDBOT_WWW_REQUIRE_POSTGRES` and `BUILDBOT_WWW_REQUIRE_PROXIES` are set.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{self, nginx, postgres, MasterToml, Serving};

/// The user who logs in, one the test master lets act.
const HOMER: (&str, &str) = ("homer", "doh!");

/// Each instance's `[www]` additions: password logins and the `base` change hook; and
/// `/metrics` too, which tells when the event watcher has polled once.
const WWW: &str = "[www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"doh!\" }\n\
                   [www.change_hook_dialects]\nbase = {}\n[www.metrics]\n";

/// How long an event, a build or the database's return may take.
const WAIT: Duration = Duration::from_secs(90);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One `buildbot-www serve` process.
struct Instance {
    /// `http://127.0.0.1:PORT`
    base: String,
    process: Serving,
    dir: tempfile::TempDir,
}

impl Instance {
    /// Serves `config` on a free loopback port; returns once its event watcher has recorded
    /// where the database stands (its first poll), so that every later write is an event.
    async fn start(config: MasterToml) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let path = config
            .set(&["www", "port"], format!("tcp:{port}:interface=127.0.0.1"))
            .write(dir.path());
        let base = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let process = Serving::start(
            Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
                .args(["serve", "--config"])
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(log),
            &base,
        )
        .await;
        let instance = Instance { base, process, dir };
        let deadline = Instant::now() + WAIT;
        while !instance.has_polled().await {
            assert!(
                Instant::now() < deadline,
                "the event watcher of {} did not poll; its log:\n{}",
                instance.base,
                instance.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        instance
    }

    /// Whether the event watcher has finished a poll (`/metrics`).
    async fn has_polled(&self) -> bool {
        let Ok(answer) = reqwest::get(format!("{}/metrics", self.base)).await else {
            return false;
        };
        let text = answer.text().await.unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                l.strip_prefix("buildbot_www_event_watcher_poll_duration_seconds_count ")
            })
            .any(|n| n.trim().parse::<f64>().is_ok_and(|n| n >= 1.0))
    }

    /// What the process logged, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }
}

/// Two instances of `config` and nginx in front of them, balancing round robin.
struct Deployment {
    instances: [Instance; 2],
    /// nginx's root, `http://127.0.0.1:PORT/`.
    front: String,
    nginx_dir: tempfile::TempDir,
    _nginx: nginx::Group,
}

impl Deployment {
    async fn start(config: MasterToml) -> Deployment {
        let (a, b) = tokio::join!(
            Instance::start(config.clone()),
            Instance::start(config.clone())
        );
        let nginx_dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let upstream = |i: &Instance| format!("    server {};\n", &i.base["http://".len()..]);
        let d = nginx_dir.path().display();
        let http = format!(
            r#"  log_format upstream '$upstream_addr $request';
  upstream buildbot {{
{a}{b}  }}
  server {{
    listen 127.0.0.1:{port};
    access_log {d}/upstream.log upstream;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    location / {{
      proxy_pass http://buildbot;
    }}
    location /ws {{
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_pass http://buildbot;
      proxy_read_timeout 6000s;
    }}
  }}"#,
            a = upstream(&a),
            b = upstream(&b),
        );
        let process = nginx::start(nginx_dir.path(), &http);
        let front = format!("http://127.0.0.1:{port}/");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reqwest::get(format!("{front}healthz"))
            .await
            .is_ok_and(|a| a.status() == 200)
        {
            assert!(
                Instant::now() < deadline,
                "nginx does not answer:\n{}",
                std::fs::read_to_string(nginx_dir.path().join("error.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Deployment {
            instances: [a, b],
            front,
            nginx_dir,
            _nginx: process,
        }
    }

    /// Which upstream (`127.0.0.1:PORT`) nginx passed each request to.
    fn upstreams(&self) -> String {
        std::fs::read_to_string(self.nginx_dir.path().join("upstream.log")).unwrap_or_default()
    }
}

/// The config of an instance on the database `url`.
fn config_on(url: &str) -> MasterToml {
    MasterToml::sqlite()
        .set(&["db", "db_url"], url)
        .www_toml(WWW)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Logs [`HOMER`] in at `root`; the session cookie (`TWISTED_SESSION=...`).
async fn log_in(http: &reqwest::Client, root: &str) -> String {
    let login = http
        .post(format!("{root}auth/login"))
        .form(&[("username", HOMER.0), ("password", HOMER.1)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 302, "{:?}", login.text().await);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let session = cookie.split(';').next().unwrap().to_owned();
    assert!(session.starts_with("TWISTED_SESSION="), "{cookie}");
    session
}

/// The user `/config` names for a request with `cookie`.
async fn user_at(http: &reqwest::Client, base: &str, cookie: &str) -> Value {
    let config: Value = http
        .get(format!("{}/config", base.trim_end_matches('/')))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    config["user"].clone()
}

/// A `/ws` client of `base` consuming `path`.
async fn consume(base: &str, path: &str) -> Ws {
    common::ws_consuming(base, path).await
}

/// The message of the first `/ws` event whose key is `key`; panics after [`WAIT`].
async fn event(ws: &mut Ws, key: &str, instance: &Instance) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(frame) = tokio::time::timeout(left, ws.next()).await else {
            panic!(
                "no {key} event on /ws of {}; its log:\n{}",
                instance.base,
                instance.log()
            );
        };
        match frame {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                if frame["k"] == key {
                    return frame["m"].clone();
                }
            }
            Some(Ok(_)) => {}
            other => panic!("/ws of {} closed before {key}: {other:?}", instance.base),
        }
    }
}

/// POSTs a change with this revision to `root`'s `base` change hook: status and body.
async fn deliver(
    http: &reqwest::Client,
    root: &str,
    project: &str,
    revision: &str,
) -> (u16, String) {
    let answer = http
        .post(format!("{root}change_hook/base"))
        .form(&[
            ("author", "Homer <homer@example.org>"),
            ("comments", &format!("change {revision}")),
            ("revision", revision),
            ("branch", "main"),
            ("repository", "https://example.org/springfield.git"),
            ("project", project),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("delivering {revision}: {e}"));
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// The id of the change with `revision`, read over REST at `base`.
async fn changeid(http: &reqwest::Client, base: &str, revision: &str) -> i64 {
    let changes: Value = http
        .get(format!(
            "{}/api/v2/changes?revision={revision}",
            base.trim_end_matches('/')
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let found = changes["changes"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{changes}");
    found[0]["changeid"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_behind_nginx_share_sessions_and_live_updates() {
    if !nginx::installed(nginx::NGINX, "nginx") {
        return;
    }
    let Some(url) = postgres::reference_postgres().await else {
        return;
    };
    let deployment = Deployment::start(config_on(&url)).await;
    let [a, b] = &deployment.instances;
    let front = &deployment.front;
    let http = client();

    // A session opened through nginx (on whichever instance) is valid on each.
    let session = log_in(&http, front).await;
    for instance in [a, b] {
        let user = user_at(&http, &instance.base, &session).await;
        assert_eq!(user["username"], HOMER.0, "{}: {user}", instance.base);
    }
    for _ in 0..4 {
        let user = user_at(&http, front, &session).await;
        assert_eq!(user["username"], HOMER.0, "through nginx: {user}");
    }
    // ... and a forged one on none.
    let forged = format!("{}x", session);
    for instance in [a, b] {
        let user = user_at(&http, &instance.base, &forged).await;
        assert_eq!(user["anonymous"], true, "{}: {user}", instance.base);
    }
    // nginx did pass requests to both.
    let upstreams = deployment.upstreams();
    for instance in [a, b] {
        let address = &instance.base["http://".len()..];
        assert!(
            upstreams.lines().any(|l| l.starts_with(address)),
            "nothing passed to {address}:\n{upstreams}"
        );
    }

    // A change delivered through nginx reaches the `/ws` clients of both instances.
    let mut ws_a = consume(&a.base, "changes/*/*").await;
    let mut ws_b = consume(&b.base, "changes/*/*").await;
    let (status, body) = deliver(&http, front, "instances", "through-nginx").await;
    assert_eq!((status, body.as_str()), (200, "1 change found"));
    let id = changeid(&http, &a.base, "through-nginx").await;
    for (ws, instance) in [(&mut ws_a, a), (&mut ws_b, b)] {
        let change = event(ws, &format!("changes/{id}/new"), instance).await;
        assert_eq!(change["revision"], "through-nginx", "{change}");
        assert_eq!(change["comments"], "change through-nginx", "{change}");
    }

    // Deliveries of one revision at once, through nginx to both instances: each is written,
    // and the sourcestamp they share is made once (the writers wait for one another).
    let same = futures_util::future::join_all(
        (0..8).map(|_| deliver(&http, front, "instances", "same-revision")),
    )
    .await;
    for (status, body) in &same {
        assert_eq!((*status, body.as_str()), (200, "1 change found"));
    }
    let dir = tempfile::tempdir().unwrap();
    let master = buildbot_www::db::open(&url, dir.path()).await.unwrap();
    let count =
        |table: &str| format!("SELECT count(*) FROM {table} WHERE revision = 'same-revision'");
    let stamps: i64 = sqlx::query_scalar(&count("sourcestamps"))
        .fetch_one(&master)
        .await
        .unwrap();
    let changes: i64 = sqlx::query_scalar(&count("changes"))
        .fetch_one(&master)
        .await
        .unwrap();
    assert_eq!((stamps, changes), (1, 8));

    // A row written by another connection, as a master writes it, reaches both as well.
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO changes (author, comments, branch, revision, when_timestamp, category, \
         repository, codebase, project, sourcestampid, committer) \
         VALUES ('Marge <marge@example.org>', 'from the master', 'main', 'by-the-master', \
         1800000000, NULL, 'repo', '', 'instances', 1, NULL) RETURNING changeid",
    )
    .fetch_one(&master)
    .await
    .unwrap();
    for (ws, instance) in [(&mut ws_a, a), (&mut ws_b, b)] {
        let change = event(ws, &format!("changes/{id}/new"), instance).await;
        assert_eq!(change["revision"], "by-the-master", "{change}");
    }
    master.close().await;
}

/// On a database no server has used yet there is no session secret: the first logins on two
/// instances at once both make one, and they end up with the same (the database keeps the
/// first written), so each session is valid on the other instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_logins_at_once_share_one_new_secret() {
    let Some(url) = postgres::schema_database().await else {
        return;
    };
    let (a, b) = tokio::join!(
        Instance::start(config_on(&url)),
        Instance::start(config_on(&url))
    );
    let http = client();
    let (root_a, root_b) = (format!("{}/", a.base), format!("{}/", b.base));
    let (on_a, on_b) = tokio::join!(log_in(&http, &root_a), log_in(&http, &root_b));
    for (session, other) in [(&on_a, &b), (&on_b, &a)] {
        let user = user_at(&http, &other.base, session).await;
        assert_eq!(user["username"], HOMER.0, "{}: {user}", other.base);
    }
}

/// The first item of `base`'s REST collection `path` once `done` holds for it.
async fn wait_for(
    http: &reqwest::Client,
    instance: &Instance,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let answer: Value = http
            .get(format!("{}/api/v2/{path}", instance.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let first = answer
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| *k != "meta"))
            .and_then(|(_, v)| v.as_array())
            .and_then(|items| items.first().cloned());
        if let Some(item) = first.filter(|item| done(item)) {
            return item;
        }
        assert!(
            Instant::now() < deadline,
            "{}/api/v2/{path} did not reach the state waited for: {answer}",
            instance.base
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_forced_through_one_instance_shows_on_every_instance() {
    if !nginx::installed(nginx::NGINX, "nginx") {
        return;
    }
    let Some(url) = postgres::reference_postgres().await else {
        return;
    };
    // A real master on the same database, in Buildbot's spelling of its URL.
    let Some(master) =
        common::buildbot::master_on(&url.replacen("postgresql://", "postgresql+psycopg2://", 1))
    else {
        return;
    };
    let config = config_on(&url)
        .set(&["www", "master", "url"], master.www_url.as_str())
        .www_toml(common::buildbot::FORCE_FORM);
    let deployment = Deployment::start(config).await;
    let [a, b] = &deployment.instances;
    let http = client();
    let mut ws_a = consume(&a.base, "builds/*/*").await;
    let mut ws_b = consume(&b.base, "builds/*/*").await;

    let session = log_in(&http, &deployment.front).await;
    let forced = http
        .post(format!("{}api/v2/forceschedulers/force", deployment.front))
        .header("cookie", &session)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "force",
                      "params": {"builderNames": ["sleeper"], "sleep": "1",
                                 "reason": "through nginx"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(forced.status(), 200);
    let forced: Value = forced.json().await.unwrap();
    let (bsid, brid) = common::buildbot::buildset_of(&forced["result"]);

    let mut buildids = Vec::new();
    for instance in [a, b] {
        let buildset = wait_for(&http, instance, &format!("buildsets/{bsid}"), |_| true).await;
        assert!(
            buildset["reason"]
                .as_str()
                .unwrap()
                .contains("through nginx"),
            "{buildset}"
        );
        let build = wait_for(
            &http,
            instance,
            &format!("builds?buildrequestid={brid}"),
            |b| b["complete"] == true,
        )
        .await;
        assert_eq!(build["results"], 0, "{}: {build}", instance.base);
        buildids.push(build["buildid"].as_i64().unwrap());
    }
    assert_eq!(buildids[0], buildids[1], "one build, seen by both");
    let buildid = buildids[0];
    for (ws, instance) in [(&mut ws_a, a), (&mut ws_b, b)] {
        let finished = event(ws, &format!("builds/{buildid}/finished"), instance).await;
        assert_eq!(finished["results"], 0, "{finished}");
    }
    // The master took the owner from the session our servers passed on.
    let properties = wait_for(&http, b, &format!("buildsets/{bsid}/properties"), |_| true).await;
    assert_eq!(
        properties["owner"],
        json!(["homer", "Force Build Form"]),
        "{properties}"
    );
}

/// Where the database killed under load stands; the client loops note it with each answer.
const UP: u8 = 0;
const STOPPING: u8 = 1;
const DOWN: u8 = 2;
const STARTING: u8 = 3;
const BACK: u8 = 4;

/// One request of the load and how it went.
#[derive(Debug, Clone)]
struct Sent {
    /// `read` or the revision of a delivery.
    what: String,
    /// The database's state when the request was sent and when it was answered.
    phases: (u8, u8),
    status: u16,
    body: String,
    took: Duration,
}

impl Sent {
    fn within(&self, phase: u8) -> bool {
        self.phases == (phase, phase)
    }

    fn is_delivery(&self) -> bool {
        self.what != "read"
    }
}

/// One client's loop until `stop`: a REST read, then a delivery of a new change; each answer
/// with the phases around it. A request that gets no answer (a hang past the client's
/// timeout, a dropped connection) fails the test.
async fn load(
    base: String,
    name: char,
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    log: Arc<std::sync::Mutex<Vec<Sent>>>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let root = format!("{base}/");
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        for what in ["read".to_owned(), format!("{name}{i}")] {
            let before = phase.load(Ordering::SeqCst);
            let began = Instant::now();
            let (status, body) = if what == "read" {
                let answer = http
                    .get(format!("{base}/api/v2/changes?order=-changeid&limit=1"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("a read got no answer: {e}"));
                (answer.status().as_u16(), answer.text().await.unwrap())
            } else {
                deliver(&http, &root, "db-down", &what).await
            };
            let after = phase.load(Ordering::SeqCst);
            log.lock().unwrap_or_else(|e| e.into_inner()).push(Sent {
                what,
                phases: (before, after),
                status,
                body,
                took: began.elapsed(),
            });
        }
    }
}

/// The load's last answers, one a line, for failure messages.
fn summary(log: &[Sent]) -> String {
    let shown = log.len().saturating_sub(40);
    let lines: Vec<String> = log[shown..]
        .iter()
        .map(|s| {
            let body: String = s.body.chars().take(80).collect();
            format!(
                "{} {:?} {} in {:.2} s: {body:?}",
                s.what,
                s.phases,
                s.status,
                s.took.as_secs_f64()
            )
        })
        .collect();
    format!("{} answers, the last:\n{}", log.len(), lines.join("\n"))
}

/// The load's log, also after a loop panicked.
fn answers(log: &std::sync::Mutex<Vec<Sent>>) -> Vec<Sent> {
    log.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Waits until `enough` holds for the load's log; panics after [`WAIT`], or at once on an
/// answer neither 200 nor the 503 that says the database is unavailable.
async fn until(
    log: &std::sync::Mutex<Vec<Sent>>,
    instance: &Instance,
    what: &str,
    enough: impl Fn(&[Sent]) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let sent = answers(log);
        let wrong = sent.iter().find(|s| {
            !(s.status == 200
                || s.status == 503 && s.body.contains(buildbot_www::data::error::UNAVAILABLE))
        });
        if let Some(wrong) = wrong {
            panic!(
                "{what}: answered {wrong:?}\n{}\nthe server's log:\n{}",
                summary(&sent),
                instance.log()
            );
        }
        if enough(&sent) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen; {}\nthe server's log:\n{}",
            summary(&sent),
            instance.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// At least `n` answers sent and answered in `phase` of each kind (read, delivery) with
/// `status`.
fn seen(log: &[Sent], phase: u8, status: u16, n: usize) -> bool {
    let count = |delivery: bool| {
        log.iter()
            .filter(|s| s.within(phase) && s.status == status && s.is_delivery() == delivery)
            .count()
    };
    count(false) >= n && count(true) >= n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_killed_and_restarted_under_load() {
    // A cluster of this test's own: stopping the binary's would fail the tests running beside.
    let Some(cluster) = postgres::Cluster::own() else {
        return;
    };
    let Some(url) = postgres::reference_postgres_on(&cluster).await else {
        return;
    };
    let mut instance = Instance::start(config_on(&url)).await;
    let mut ws = consume(&instance.base, "changes/*/*").await;

    let phase = Arc::new(AtomicU8::new(UP));
    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let loops: Vec<_> = ['a', 'b']
        .into_iter()
        .map(|name| {
            tokio::spawn(load(
                instance.base.clone(),
                name,
                phase.clone(),
                stop.clone(),
                log.clone(),
            ))
        })
        .collect();

    until(&log, &instance, "answers before the stop", |l| {
        seen(l, UP, 200, 3)
    })
    .await;
    phase.store(STOPPING, Ordering::SeqCst);
    let cluster = Arc::new(cluster);
    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop_immediately())
        .await
        .unwrap();
    phase.store(DOWN, Ordering::SeqCst);
    until(&log, &instance, "503s while the database is down", |l| {
        seen(l, DOWN, 503, 2)
    })
    .await;
    phase.store(STARTING, Ordering::SeqCst);
    let starting = cluster.clone();
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .unwrap();
    phase.store(BACK, Ordering::SeqCst);
    until(&log, &instance, "200s once the database is back", |l| {
        seen(l, BACK, 200, 3)
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for handle in loops {
        handle.await.unwrap();
    }
    until(&log, &instance, "the last answers", |_| true).await;
    let log = answers(&log);
    let slowest = log.iter().map(|s| s.took).max().unwrap_or_default();
    let unavailable = log.iter().filter(|s| s.status == 503).count();
    eprintln!(
        "postgres_instances: {} requests, {unavailable} answered 503, the slowest in {:.1} s",
        log.len(),
        slowest.as_secs_f64()
    );

    // Every answer a 200 or the clear 503 (checked by `until`). While the database was down
    // no delivery was a 200, and a read only from the REST cache: an answer already given
    // before the stop (nothing could be written since).
    let given: std::collections::BTreeSet<&str> = log
        .iter()
        .filter(|s| !s.is_delivery() && s.status == 200 && s.phases.1 <= STOPPING)
        .map(|s| s.body.as_str())
        .collect();
    for sent in log.iter().filter(|s| s.within(DOWN) && s.status == 200) {
        assert!(
            !sent.is_delivery() && given.contains(sent.body.as_str()),
            "answered 200 while the database was down, and not from the cache: {sent:?}"
        );
    }
    // The same process served it all.
    assert!(
        instance.process.try_wait().unwrap().is_none(),
        "the server ended"
    );

    // Each delivery answered 200 written once, none answered 503 written at all.
    let dir = tempfile::tempdir().unwrap();
    let db = buildbot_www::db::open(&url, dir.path()).await.unwrap();
    let rows: Vec<(Option<String>, i64)> = sqlx::query_as(
        "SELECT revision, count(*) FROM changes WHERE project = 'db-down' GROUP BY revision",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let written: BTreeMap<String, i64> = rows
        .into_iter()
        .map(|(revision, n)| (revision.unwrap_or_default(), n))
        .collect();
    let mut answered_200 = 0;
    for sent in log.iter().filter(|s| s.is_delivery()) {
        let expected = i64::from(sent.status == 200);
        answered_200 += expected;
        assert_eq!(
            written.get(&sent.what).copied().unwrap_or(0),
            expected,
            "{sent:?}"
        );
    }
    assert_eq!(
        written.values().sum::<i64>(),
        answered_200,
        "rows written by no delivery answered 200: {written:?}"
    );

    // Live updates go on: a delivery now reaches the websocket opened before the stop.
    let (status, body) = deliver(
        &client(),
        &format!("{}/", instance.base),
        "db-down",
        "after",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "1 change found"));
    let id = changeid(&client(), &instance.base, "after").await;
    let change = event(&mut ws, &format!("changes/{id}/new"), &instance).await;
    assert_eq!(change["revision"], "after", "{change}");
    db.close().await;
}
