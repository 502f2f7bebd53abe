//! PostgreSQL 15 for `bench postgres` and the tests' set-up (`host/tests/common/postgres.rs`):
//! where Debian puts its programs, running them as the cluster's owner, and Buildbot's schema
//! made by Buildbot itself (the smallest `master.cfg` that `buildbot upgrade-master` accepts,
//! naming the database to create the schema in).

use std::path::Path;
use std::process::Command;

/// Where Debian's `postgresql-15` puts its programs.
pub const BIN: &str = "/usr/lib/postgresql/15/bin";

/// PostgreSQL's `program` run as the cluster's owner: `postgres` (through `runuser`) when this
/// is root, else this user.
pub fn as_cluster_owner(program: &str) -> Command {
    let program = Path::new(BIN).join(program);
    if crate::is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// A `master.cfg` with one worker, one builder, a force scheduler and a loopback port, its
/// database `db_url` (`postgresql+psycopg2://...`).
pub fn schema_master_cfg(db_url: &str) -> String {
    format!(
        r#"from buildbot.plugins import schedulers, util, worker

BuildmasterConfig = {{
    "db": {{"db_url": "{db_url}"}},
    "buildbotNetUsageData": None,
    "protocols": {{"pb": {{"port": "tcp:0:interface=127.0.0.1"}}}},
    "workers": [worker.Worker("w", "unused")],
    "builders": [util.BuilderConfig(name="b", workernames=["w"], factory=util.BuildFactory())],
    "schedulers": [schedulers.ForceScheduler(name="force", builderNames=["b"])],
}}
"#
    )
}
