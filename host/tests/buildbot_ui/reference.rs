//! A real Buildbot 4.3 master with its web UI and the three view plugins, configured as
//! `fixtures/reference/master.toml` describes the reference master (title, builders, workers,
//! project, schedulers, change source), on a database file the caller gives: what the UI's page
//! text is recorded from, and measured against. Started from the tests' Python environment
//! (`common::buildbot::venv`), in its own process group, stopped when dropped.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

/// Buildbot renders a project's Markdown description with the `Markdown` package, which its
/// own requirements leave out: installed beside the environment for the master's run only.
const MARKDOWN: &str = "Markdown==3.11.3";

/// A running master (its own process group, ended on drop).
pub(super) struct RealMaster {
    /// Its web UI: `http://127.0.0.1:PORT/`.
    pub(super) base: String,
    child: Child,
    dir: PathBuf,
}

fn master_cfg(database: &Path, www_port: u16, pb_port: u16) -> String {
    format!(
        r#"from buildbot.plugins import changes, schedulers, steps, util, worker

c = BuildmasterConfig = {{}}
c["buildbotNetUsageData"] = None
c["title"] = "Oracle Buildbot"
c["titleURL"] = "http://127.0.0.1:8010/"
c["buildbotURL"] = "http://127.0.0.1:{www_port}/"
c["db"] = {{"db_url": "sqlite:///{database}"}}
c["protocols"] = {{"pb": {{"port": "tcp:{pb_port}:interface=127.0.0.1"}}}}
# No worker connects: nothing runs while the pages are read.
c["workers"] = [
    worker.Worker("local-worker", "never-connects"),
    worker.Worker("offline-worker", "never-connects"),
]
c["projects"] = [
    util.Project(
        name="oracle",
        slug="oracle",
        description="Oracle project for *side by side* comparison",
        description_format="markdown",
    )
]
c["change_source"] = [changes.PBChangeSource()]
factory = util.BuildFactory([steps.ShellCommand(command=["true"])])


def builder(name, description, tags, workers):
    return util.BuilderConfig(
        name=name,
        description=description,
        tags=tags,
        project="oracle",
        workernames=workers,
        factory=factory,
    )


c["builders"] = [
    builder("docs", "Builds the documentation", ["docs", "linux"], ["local-worker"]),
    builder("windows-build", "Builds on (pretend) Windows", ["windows"], ["local-worker", "offline-worker"]),
    builder("integration", "Integration tests", ["linux", "windows", "slow"], ["local-worker"]),
    builder("linux-build", "Builds on Linux", ["linux"], ["local-worker"]),
]
names = ["linux-build", "windows-build", "docs", "integration"]
c["schedulers"] = [
    schedulers.ForceScheduler(
        name="force",
        label="Force a build",
        buttonName="Force build",
        builderNames=names,
        reason=util.StringParameter(name="reason", label="Reason:", default="force build", size=40),
        priority=util.IntParameter(name="priority"),
        codebases=[
            util.CodebaseParameter(
                "",
                branch=util.StringParameter(name="branch", default="main"),
                project=util.FixedParameter(name="project", default="oracle"),
                repository=util.FixedParameter(name="repository", default="/srv/oracle/repo"),
                revision=util.FixedParameter(name="revision", default=""),
            )
        ],
        properties=[
            util.ChoiceStringParameter(
                name="outcome",
                label="Outcome",
                default="success",
                choices=["success", "warnings", "failure", "exception", "skip", "skipbuild", "slow"],
            ),
            util.IntParameter(name="sleep", label="Sleep seconds (slow)", default=20),
            util.BooleanParameter(name="clean", label="Clean", default=False),
        ],
    ),
    schedulers.ForceScheduler(
        name="force-docs",
        label="Docs only",
        buttonName="Rebuild docs",
        builderNames=["docs"],
        properties=[util.StringParameter(name="outcome", default="success")],
    ),
    schedulers.SingleBranchScheduler(
        name="on-change", change_filter=util.ChangeFilter(branch="main"), builderNames=names
    ),
]
c["www"] = {{
    "port": "tcp:{www_port}:interface=127.0.0.1",
    "plugins": {{"waterfall_view": {{}}, "console_view": {{}}, "grid_view": {{}}}},
    # No pictures from the internet: the tests run offline.
    "avatar_methods": [],
}}
"#,
        database = database.display()
    )
}

impl RealMaster {
    /// Starts a master in `dir` (which must hold nothing of a previous master) on the SQLite
    /// file `database`; returns once its UI and REST API answer and it is the active master.
    pub(super) async fn start(venv: &Path, dir: &Path, database: &Path) -> RealMaster {
        let pylib = dir.join("pylib");
        common::run(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--target"])
                .arg(&pylib)
                .arg(MARKDOWN),
        );
        let master_dir = dir.join("master");
        let (www_port, pb_port) = (common::free_port(), common::free_port());
        common::run(
            Command::new(venv.join("bin/buildbot"))
                .args(["create-master", "--quiet"])
                .arg(&master_dir),
        );
        std::fs::write(
            master_dir.join("master.cfg"),
            master_cfg(database, www_port, pb_port),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("master.out")).unwrap();
        let child = Command::new(venv.join("bin/buildbot"))
            .args(["start", "--nodaemon"])
            .arg(&master_dir)
            .env("PYTHONPATH", &pylib)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("buildbot starts");
        let mut master = RealMaster {
            base: format!("http://127.0.0.1:{www_port}/"),
            child,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(Some(status)) = master.child.try_wait() {
                panic!("the Buildbot master ended ({status}):\n{}", master.log());
            }
            let active = reqwest::get(format!("{}api/v2/masters?active=true", master.base)).await;
            if let Ok(answer) = active {
                let body = answer.text().await.unwrap_or_default();
                if body.contains("\"masterid\"") {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the Buildbot master did not start:\n{}",
                master.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        master
    }

    /// What the master wrote to its output and log.
    fn log(&self) -> String {
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "{}{}",
            read(self.dir.join("master.out")),
            read(self.dir.join("master/twistd.log"))
        )
    }
}

impl Drop for RealMaster {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// Copies the SQLite database at `from` (in use by a running master) to the new file `to` as
/// one consistent snapshot (`VACUUM INTO`) in WAL mode, as Buildbot keeps it, closed so that
/// no `-wal` or `-shm` file belongs with it.
pub(super) async fn snapshot(from: &Path, to: &Path) {
    use sqlx::ConnectOptions as _;
    let _ = std::fs::remove_file(to);
    let mut source = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(from)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    sqlx::query("VACUUM INTO $1")
        .bind(to.display().to_string())
        .execute(&mut source)
        .await
        .unwrap();
    drop(source);
    let mut copy = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(to)
        .connect()
        .await
        .unwrap();
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut copy)
        .await
        .unwrap();
    sqlx::Connection::close(copy).await.unwrap();
    for suffix in ["-wal", "-shm", "-journal"] {
        let left = PathBuf::from(format!("{}{suffix}", to.display()));
        assert!(!left.exists(), "{} was left behind", left.display());
    }
}
