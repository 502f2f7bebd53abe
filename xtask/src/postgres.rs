//! Buildbot's schema on PostgreSQL, made by Buildbot itself: the smallest `master.cfg` that
//! `buildbot upgrade-master` accepts, naming the database to create the schema in. Shared by
//! `bench postgres` and the tests' PostgreSQL set-up (`host/tests/common/postgres.rs`).

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
