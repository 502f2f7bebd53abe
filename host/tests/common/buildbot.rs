//! A real Buildbot 4.3 master and worker for the tests of the master link
//! (`host/tests/master_link.rs`), started once for the test binary on free loopback ports and
//! stopped when the binary exits (also after a panic).
//!
//! The Python environment comes from `fixtures/buildbot/venv.sh` (Buildbot, its worker and
//! buildbot-www from the package registry), kept under the build folder:
//! `$BUILDBOT_WWW_BUILDBOT_VENV`, else `<target>/buildbot-venv-4.3.0`. Where the registry
//! cannot be reached the tests are skipped, unless `BUILDBOT_WWW_REQUIRE_BUILDBOT` is set
//! (`cargo xtask test` sets it and makes the environment first).
//!
//! The master (`master.cfg` below) keeps its SQLite database in a file the tests' servers
//! also open; it has a worker `w1` that connects and a worker `ghost` that never does, the
//! builders `sleeper` (on `w1`: one step sleeping `sleep` seconds) and `orphan` (on `ghost`,
//! so its requests stay pending), a ForceScheduler `force` with an integer, a choice, a
//! boolean and a string parameter, no request collapsing, and an authz that lets only the
//! users `marge` and `homer` act: a call the master accepts proves it read our session. For
//! the change hook tests (`host/tests/hooks_master.rs`) it has the `github` hook with the
//! secret [`HOOK_SECRET`] and a scheduler `hooks` that builds `sleeper` for each change of the
//! project [`HOOK_PROJECT`] (no other test's changes).

use std::io::{Read as _, Write as _};

use super::{free_port, run};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The secret of the master's `github` change hook.
pub const HOOK_SECRET: &str = "hooks-e2e-secret";

/// The project (a GitHub repository's `full_name`) whose changes the master's `hooks`
/// scheduler builds.
pub const HOOK_PROJECT: &str = "simpsons/hooks-e2e";

/// The running master and worker.
pub struct Buildbot {
    /// The master's web endpoint, `http://127.0.0.1:PORT/`.
    pub www_url: String,
    /// The database, as the master's `db_url` names it: `sqlite:////abs/state.sqlite` for the
    /// shared master.
    pub db_url: String,
    /// The folder holding the master, the worker and the database (removed at exit).
    pub dir: PathBuf,
    /// How long making (or checking) the Python environment took.
    pub venv_time: Duration,
    /// How long the master and worker took to be ready (worker attached).
    pub start_time: Duration,
    /// The keeper shell, its stdin open: when this binary exits the stdin closes, and the
    /// keeper ends the master's and the worker's process groups and removes the folder.
    _keeper: std::process::Child,
}

static BUILDBOT: OnceLock<Option<Buildbot>> = OnceLock::new();

/// The shared master, started on first use; `None` (skip) when the package registry cannot
/// be reached to make its environment.
pub fn master() -> Option<&'static Buildbot> {
    BUILDBOT
        .get_or_init(|| {
            let began = Instant::now();
            let venv = venv()?;
            let venv_time = began.elapsed();
            let mut buildbot = start(&venv, None);
            buildbot.venv_time = venv_time;
            eprintln!(
                "buildbot: environment ready in {:.1} s, master and worker in {:.1} s",
                venv_time.as_secs_f64(),
                buildbot.start_time.as_secs_f64()
            );
            Some(buildbot)
        })
        .as_ref()
}

/// A master and worker of the caller's own, on the database `db_url` (Buildbot's spelling,
/// e.g. `postgresql+psycopg2://user:password@127.0.0.1:PORT/db`, which must hold Buildbot's
/// schema); stopped when dropped. `None` (skip) as for [`master`].
pub fn master_on(db_url: &str) -> Option<Buildbot> {
    let venv = venv()?;
    let buildbot = start(&venv, Some(db_url));
    eprintln!(
        "buildbot: master and worker on {} in {:.1} s",
        db_url.split('@').next_back().unwrap_or_default(),
        buildbot.start_time.as_secs_f64()
    );
    Some(buildbot)
}

/// The environment's folder, made or checked by `fixtures/buildbot/venv.sh`; `None` (skip)
/// when the package registry cannot be reached and `BUILDBOT_WWW_REQUIRE_BUILDBOT` is unset.
pub fn venv() -> Option<PathBuf> {
    let dir = std::env::var_os("BUILDBOT_WWW_BUILDBOT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("buildbot-venv-4.3.0"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/buildbot/venv.sh");
    let output = Command::new("sh")
        .arg(&script)
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .expect("sh runs");
    let required = std::env::var_os("BUILDBOT_WWW_REQUIRE_BUILDBOT").is_some();
    match output.status.code() {
        Some(0) => Some(dir),
        Some(2) if !required => {
            eprintln!(
                "skipped: the package registry cannot be reached to install Buildbot 4.3 \
                 (set BUILDBOT_WWW_REQUIRE_BUILDBOT=1 to fail instead)"
            );
            None
        }
        _ => panic!(
            "{} {} failed ({}):\n{}",
            script.display(),
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// The build folder this test binary runs from (`<target>/debug/deps/www-...`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn master_cfg(db_url: &str, www_port: u16, pb_port: u16) -> String {
    format!(
        r#"from buildbot.plugins import schedulers, steps, util, worker

c = BuildmasterConfig = {{}}
c["buildbotNetUsageData"] = None
c["title"] = "master-link tests"
c["buildbotURL"] = "http://127.0.0.1:{www_port}/"
c["db"] = {{"db_url": "{db_url}"}}
c["protocols"] = {{"pb": {{"port": "tcp:{pb_port}:interface=127.0.0.1"}}}}
c["collapseRequests"] = False
c["workers"] = [worker.Worker("w1", "w1-pass"), worker.Worker("ghost", "never-connects")]
sleep = util.BuildFactory([
    steps.ShellCommand(name="sleep", command=["sleep", util.Interpolate("%(prop:sleep)s")]),
])
c["builders"] = [
    util.BuilderConfig(name="sleeper", workernames=["w1"], factory=sleep),
    util.BuilderConfig(name="orphan", workernames=["ghost"], factory=sleep),
]
c["schedulers"] = [
    schedulers.ForceScheduler(
        name="force",
        builderNames=["sleeper", "orphan"],
        properties=[
            util.IntParameter(name="sleep", default=1),
            util.ChoiceStringParameter(name="flavour", choices=["plain", "fancy"], default="plain"),
            util.BooleanParameter(name="verbose", default=False),
            util.StringParameter(name="note", default=""),
        ],
    ),
    schedulers.AnyBranchScheduler(
        name="hooks",
        builderNames=["sleeper"],
        change_filter=util.ChangeFilter(project="{HOOK_PROJECT}"),
        treeStableTimer=None,
        properties={{"sleep": 1}},
    ),
]
c["www"] = {{
    "port": "tcp:{www_port}:interface=127.0.0.1",
    "plugins": {{}},
    "change_hook_dialects": {{"github": {{"secret": "{HOOK_SECRET}", "strict": True}}}},
    "authz": util.Authz(
        allowRules=[util.AnyControlEndpointMatcher(role="users")],
        roleMatchers=[util.RolesFromUsername(roles=["users"], usernames=["marge", "homer"])],
    ),
}}
"#
    )
}

/// Starts a master and its worker on `db_url`, or on a new SQLite file in their folder.
fn start(venv: &Path, db_url: Option<&str>) -> Buildbot {
    let began = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("buildbot-master-")
        .tempdir()
        .unwrap()
        .keep();
    let (master_dir, worker_dir) = (dir.join("master"), dir.join("worker"));
    let (www_port, pb_port) = (free_port(), free_port());
    let db_url = match db_url {
        Some(url) => {
            // The database holds the schema already; the master's own SQLite file is unused.
            run(Command::new(venv.join("bin/buildbot"))
                .args(["create-master", "--quiet"])
                .arg(&master_dir));
            url.to_owned()
        }
        None => {
            let url = format!("sqlite:///{}", dir.join("state.sqlite").display());
            run(Command::new(venv.join("bin/buildbot"))
                .args(["create-master", "--quiet", "--db"])
                .arg(&url)
                .arg(&master_dir));
            url
        }
    };
    std::fs::write(
        master_dir.join("master.cfg"),
        master_cfg(&db_url, www_port, pb_port),
    )
    .unwrap();
    run(Command::new(venv.join("bin/buildbot-worker"))
        .args(["create-worker", "--quiet", "--umask=0o22"])
        .arg(&worker_dir)
        .arg(format!("127.0.0.1:{pb_port}"))
        .args(["w1", "w1-pass"]));
    // Each program leads its own process group (setsid), which the keeper ends as a whole:
    // the step's `sleep` goes with the worker.
    let keeper = super::keeper(
        "setsid \"$0/bin/buildbot\" start --nodaemon \"$1/master\" >\"$1/master.out\" 2>&1 & m=$!; \
         setsid \"$0/bin/buildbot-worker\" start --nodaemon \"$1/worker\" >\"$1/worker.out\" 2>&1 & w=$!; \
         cat >/dev/null; \
         kill -TERM -$w -$m 2>/dev/null; \
         for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 -$m 2>/dev/null || kill -0 -$w 2>/dev/null || break; sleep 0.5; done; \
         kill -KILL -$w -$m 2>/dev/null; rm -rf \"$1\"",
        &[venv.as_os_str(), dir.as_os_str()],
    );
    let www_url = format!("http://127.0.0.1:{www_port}/");
    let deadline = Instant::now() + Duration::from_secs(90);
    // Ready when the master's REST API shows w1 attached.
    loop {
        let attached = http_get(www_port, "/api/v2/workers/w1?field=connected_to")
            .is_some_and(|body| body.contains("\"masterid\""));
        if attached {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Buildbot master or worker did not start; master.out:\n{}\nworker.out:\n{}\ntwistd.log:\n{}",
            read(&dir.join("master.out")),
            read(&dir.join("worker.out")),
            read(&master_dir.join("twistd.log")),
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Buildbot {
        www_url,
        db_url,
        dir,
        venv_time: Duration::ZERO,
        start_time: began.elapsed(),
        _keeper: keeper,
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The body of a plain HTTP/1.0 GET to 127.0.0.1:`port`, `None` when nothing answers (yet).
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
}

/// The test master's force scheduler described to this server too (`[[forceschedulers]]`): the
/// UI builds its form from this server's config, the master validates the call against its own.
pub const FORCE_FORM: &str = r#"
[[forceschedulers]]
name = "force"
builder_names = ["sleeper", "orphan"]
properties = [
    { type = "int", name = "sleep", default = 1 },
    { type = "list", name = "flavour", choices = ["plain", "fancy"], default = "plain" },
    { type = "bool", name = "verbose", default = false },
    { type = "text", name = "note" },
]
"#;

/// The buildset id and the (only) build request id of a force or rebuild result,
/// `[bsid, {builderid: brid}]`.
pub fn buildset_of(result: &serde_json::Value) -> (i64, i64) {
    let bsid = result[0].as_i64().expect("a buildset id");
    let brid = result[1]
        .as_object()
        .and_then(|brids| brids.values().next())
        .and_then(serde_json::Value::as_i64)
        .expect("a build request id");
    (bsid, brid)
}
