//! A real Buildbot 4.3 master for the benchmarks that measure it beside this server
//! (`bench hooks`, `bench compare`): made from the Python environment the tests use
//! (`$CARGO_TARGET_DIR/buildbot-venv-4.3.0`, `fixtures/buildbot/venv.sh`), on a copy of a
//! database, in its own process group, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::root;

/// The Buildbot 4.3 environment the tests use, if it has been made.
pub(crate) fn venv() -> Option<PathBuf> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let venv = target.join("buildbot-venv-4.3.0");
    venv.join("bin/buildbot").is_file().then_some(venv)
}

/// The environment, or an error saying how to make it.
pub(crate) fn required_venv() -> Result<PathBuf> {
    venv().ok_or_else(|| {
        anyhow::anyhow!(
            "Buildbot's Python environment is not there: `cargo xtask test` makes it (or \
             `sh fixtures/buildbot/venv.sh $CARGO_TARGET_DIR/buildbot-venv-4.3.0`)"
        )
    })
}

/// The static folder of the buildbot-www package (Buildbot's React UI) in that environment.
pub(crate) fn ui_static_dir(venv: &Path) -> Option<PathBuf> {
    venv.join("lib")
        .read_dir()
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages/buildbot_www/static"))
        .find(|p| p.join("index.html").is_file())
}

/// Measures this server (release build, `www_extra` TOML in its `[www]`) and then a real
/// Buildbot master, each alone on the machine, each on its own copy of `database` in
/// `bench_dir/ours` and `bench_dir/buildbot`: `measure(port)` against each in turn.
pub(crate) fn side_by_side<T>(
    venv: &Path,
    bench_dir: &Path,
    database: &Path,
    ours_port: u16,
    buildbot_ports: (u16, u16),
    www_extra: &str,
    mut measure: impl FnMut(u16) -> Result<T>,
) -> Result<(T, T)> {
    let ours = {
        let dir = bench_dir.join("ours");
        std::fs::create_dir_all(&dir)?;
        let copy = dir.join("state.sqlite");
        std::fs::copy(database, &copy)?;
        let _server = crate::bench::start_server_with(&dir, &copy, ours_port, www_extra)?;
        measure(ours_port)?
    };
    let buildbot = {
        let _master = start_master(
            venv,
            &bench_dir.join("buildbot"),
            database,
            buildbot_ports,
            "{}",
        )?;
        measure(buildbot_ports.0)?
    };
    Ok((ours, buildbot))
}

/// A running master (its own process group, ended on drop).
pub(crate) struct Master {
    child: Child,
}

impl Drop for Master {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// Starts a master in `dir` on a copy of `database`, its web server on `ports.0` and its
/// worker port on `ports.1` (both on 127.0.0.1), `www` the Python text of its `c["www"]` extra
/// keys (a dict literal, `{}` for none); returns once its REST API answers.
pub(crate) fn start_master(
    venv: &Path,
    dir: &Path,
    database: &Path,
    ports: (u16, u16),
    www: &str,
) -> Result<Master> {
    use std::os::unix::process::CommandExt as _;
    let (port, pb_port) = ports;
    std::fs::create_dir_all(dir)?;
    let db_url = format!("sqlite:///{}", dir.join("state.sqlite").display());
    std::fs::copy(database, dir.join("state.sqlite"))?;
    let master_dir = dir.join("master");
    crate::run_command(
        Command::new(venv.join("bin/buildbot"))
            .args(["create-master", "--quiet", "--db", &db_url])
            .arg(&master_dir),
    )?;
    std::fs::write(
        master_dir.join("master.cfg"),
        format!(
            r#"from buildbot.plugins import schedulers, util, worker

c = BuildmasterConfig = {{}}
c["buildbotNetUsageData"] = None
c["title"] = "buildbot-www benchmark"
c["buildbotURL"] = "http://127.0.0.1:{port}/"
c["db"] = {{"db_url": "{db_url}"}}
c["protocols"] = {{"pb": {{"port": "tcp:{pb_port}:interface=127.0.0.1"}}}}
# Buildbot needs a worker, a builder and a scheduler for it; a ForceScheduler does not act on
# changes, and the worker never connects, so nothing runs during a measure.
c["workers"] = [worker.Worker("w1", "never-connects")]
c["builders"] = [util.BuilderConfig(name="b", workernames=["w1"], factory=util.BuildFactory())]
c["schedulers"] = [schedulers.ForceScheduler(name="force", builderNames=["b"])]
c["www"] = {{"port": "tcp:{port}:interface=127.0.0.1", "plugins": {{}}}}
c["www"].update({www})
"#
        ),
    )?;
    let log = std::fs::File::create(dir.join("master.out"))?;
    let child = Command::new(venv.join("bin/buildbot"))
        .args(["start", "--nodaemon"])
        .arg(&master_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()?;
    let mut master = Master { child };
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        if master.child.try_wait()?.is_some() {
            break;
        }
        if crate::bench::http_status(port, "/api/v2/changes?limit=1") == Some(200) {
            return Ok(master);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "the Buildbot master did not start; {}",
        dir.join("master.out").display()
    )
}
