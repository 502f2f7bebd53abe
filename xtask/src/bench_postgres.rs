//! `cargo xtask bench postgres`: `builds?limit=50`, `builders` and the console and waterfall
//! views at 1,000 builders × 1,000,000 builds, on PostgreSQL beside SQLite (one server each),
//! then two servers on the PostgreSQL database behind nginx (round robin); each REST line with
//! the CPU a request costs the servers and the database, with the answer cache and without it
//! (every request then reads the database).
//!
//! PostgreSQL 15 (Debian's package) runs as a cluster of its own under `target/bench/postgres`,
//! kept between runs with its database: Buildbot 4.3 makes the schema (`buildbot
//! upgrade-master`, from the tests' Python environment) and `gen-data --out <url>` fills it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::bench::{
    ensure_wrk, generated_database, json_load, page_timing, run_example, start_server_with,
    views_www, wait_for_views, Database, Server,
};
use crate::bench_proxy::{ensure_nginx, start_nginx};
use crate::{host_command, root, run_command};
use xtask::is_root;
use xtask::postgres::{as_cluster_owner, BIN};

const PG_PORT: u16 = 18_040;
/// The password of the cluster's `postgres` user over TCP (SCRAM), as a production database
/// would ask for one.
const PASSWORD: &str = "bench-only";
const DATABASE: &str = "bench_1m";
const BUILDERS: u64 = 1000;
const BUILDS: u64 = 1_000_000;
const REQUESTS: [(&str, &str); 2] = [
    ("builds?limit=50", "/api/v2/builds?limit=50"),
    ("builders", "/api/v2/builders"),
];
const VIEWS: [&str; 2] = ["console_view", "waterfall_view"];

/// The benchmark's cluster, stopped (not removed) when dropped.
struct Cluster {
    data: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_cluster_owner("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .status();
    }
}

fn start_cluster(dir: &Path) -> Result<Cluster> {
    if !Path::new(BIN).join("initdb").is_file() {
        println!("xtask: installing postgresql-15 (Debian package)");
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        run_command(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "postgresql-15"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    let data = dir.join("data");
    if !data.join("PG_VERSION").is_file() {
        std::fs::create_dir_all(dir)?;
        let password_file = dir.join("password");
        std::fs::write(&password_file, PASSWORD)?;
        if is_root() {
            run_command(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(dir),
            )?;
        }
        run_command(
            as_cluster_owner("initdb")
                .arg("-D")
                .arg(&data)
                .args(["--auth-host=scram-sha-256", "--auth-local=trust"])
                .arg(format!("--pwfile={}", password_file.display()))
                .args(["-U", "postgres", "-E", "UTF8", "--no-instructions"]),
        )?;
        std::fs::remove_file(&password_file)?;
    }
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {PG_PORT} -c unix_socket_directories={} \
         -c shared_buffers=512MB -c max_connections=100",
        dir.display()
    );
    run_command(
        as_cluster_owner("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-o", &options, "-w", "start"]),
    )?;
    Ok(Cluster { data })
}

fn url(database: &str) -> String {
    format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{PG_PORT}/{database}")
}

/// One value from `psql` on `database`, or `None` when the query fails.
fn psql_value(database: &str, sql: &str) -> Option<String> {
    let output = Command::new(Path::new(BIN).join("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &PG_PORT.to_string(),
            "-U",
            "postgres",
        ])
        .args(["-d", database, "-tAc", sql])
        .env("PGPASSWORD", PASSWORD)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The benchmark database with Buildbot's schema and the generated builds; made unless a
/// previous run left it whole.
fn ensure_database(bench_dir: &Path) -> Result<String> {
    let builds = psql_value(DATABASE, "SELECT count(*) FROM builds");
    if builds.as_deref() == Some(&BUILDS.to_string()) {
        return Ok(url(DATABASE));
    }
    let started = Instant::now();
    psql_value("postgres", &format!("DROP DATABASE IF EXISTS {DATABASE}"))
        .context("cannot drop the old benchmark database")?;
    psql_value("postgres", &format!("CREATE DATABASE {DATABASE}"))
        .context("cannot create the benchmark database")?;
    let venv = crate::buildbot::required_venv()?;
    let master = bench_dir.join("postgres-schema-master");
    let _ = std::fs::remove_dir_all(&master);
    run_command(
        Command::new(venv.join("bin/buildbot"))
            .args(["create-master", "--quiet"])
            .arg(&master),
    )?;
    let db_url = url(DATABASE).replace("postgresql://", "postgresql+psycopg2://");
    std::fs::write(
        master.join("master.cfg"),
        xtask::postgres::schema_master_cfg(&db_url),
    )?;
    run_command(
        Command::new(venv.join("bin/buildbot"))
            .args(["upgrade-master", "--quiet"])
            .arg(&master),
    )?;
    run_command(host_command(true)?.args([
        "gen-data",
        "--builders",
        &BUILDERS.to_string(),
        "--builds",
        &BUILDS.to_string(),
        "--out",
        &url(DATABASE),
    ]))?;
    // Fresh statistics for the planner, as autovacuum would have gathered them by now.
    psql_value(DATABASE, "VACUUM ANALYZE").context("VACUUM ANALYZE failed")?;
    println!(
        "xtask: PostgreSQL benchmark database made in {:.0?}",
        started.elapsed()
    );
    Ok(url(DATABASE))
}

/// The indexes docs/postgresql.md recommends for this server's reads, added as an operator
/// would add them (this server never changes a Buildbot database itself).
const RECOMMENDED_INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS bbwww_builds_started_at ON builds (started_at)",
    "CREATE INDEX IF NOT EXISTS bbwww_builds_complete_at ON builds (complete_at)",
    "CREATE INDEX IF NOT EXISTS bbwww_builds_builderid_results ON builds (builderid, results)",
    "CREATE INDEX IF NOT EXISTS bbwww_builds_builderid_id ON builds (builderid, id)",
    "CREATE INDEX IF NOT EXISTS bbwww_builds_builderid_started_at ON builds (builderid, started_at)",
    "CREATE INDEX IF NOT EXISTS bbwww_buildset_sourcestamps_sourcestampid \
     ON buildset_sourcestamps (sourcestampid)",
];

/// CPU seconds (user + system) used so far by the processes `pids`.
fn cpu_seconds(pids: &[u32]) -> f64 {
    let ticks: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            // The fields after the command name (which may hold spaces) in parentheses.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or("", |(_, rest)| rest)
                .split_whitespace()
                .collect();
            let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
            field(11).unwrap_or(0) + field(12).unwrap_or(0)
        })
        .sum();
    ticks as f64 / 100.0
}

/// The processes of the PostgreSQL server (postmaster, backends, background workers).
fn postgres_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|c| c.trim() == "postgres")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One REST line: wrk's numbers and the CPU milliseconds per request of the servers and of
/// PostgreSQL.
fn rest_line(
    wrk: &Path,
    setup: &str,
    name: &str,
    url: &str,
    servers: &[&Server],
) -> Result<String> {
    let _ = Command::new(wrk)
        .args(["-t2", "-c8", "-d2s"])
        .arg(url)
        .output()?;
    let server_pids: Vec<u32> = servers.iter().map(|s| s.pid()).collect();
    let (server_before, db_before) = (cpu_seconds(&server_pids), cpu_seconds(&postgres_pids()));
    let (rps, p50, p99) = json_load(wrk, url)?;
    let (server_after, db_after) = (cpu_seconds(&server_pids), cpu_seconds(&postgres_pids()));
    let requests = rps.parse::<f64>().unwrap_or(f64::NAN) * 10.0;
    let per_request = |cpu: f64| format!("{:.3}", cpu * 1000.0 / requests);
    let line = format!(
        "| {setup} | `{name}` | {rps} | {p50} | {p99} | {} | {} |\n",
        per_request(server_after - server_before),
        per_request(db_after - db_before)
    );
    print!("{line}");
    Ok(line)
}

pub(crate) fn postgres() -> Result<()> {
    let wrk = ensure_wrk()?;
    ensure_nginx()?;
    crate::plugins::build_plugins()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let sqlite = generated_database(&bench_dir, BUILDERS, BUILDS)?;
    let _cluster = start_cluster(&bench_dir.join("postgres"))?;
    let postgres = ensure_database(&bench_dir)?;
    for index in RECOMMENDED_INDEXES {
        psql_value(DATABASE, index).with_context(|| format!("failed: {index}"))?;
    }
    psql_value(DATABASE, "ANALYZE").context("ANALYZE failed")?;
    let www = format!(
        "trusted_proxies = [\"127.0.0.1\"]\n{}",
        views_www(&bench_dir, &VIEWS)
    );

    let mut rest = String::from(
        "| setup | request | req/s | p50 | p99 | server CPU ms/req | PostgreSQL CPU ms/req |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut views = String::from(
        "| setup, view | bytes | first byte p50 | first byte p90 | full p50 | full p90 |\n\
         |---|---|---|---|---|---|\n",
    );
    let single: [(&str, String); 2] = [
        ("SQLite", sqlite.db_url()),
        ("PostgreSQL", postgres.clone()),
    ];
    for (label, database) in single {
        let port = 18_045;
        let server = start_server_with(
            &bench_dir.join(format!("serve-{}", label.to_lowercase())),
            &database,
            port,
            &www,
        )?;
        wait_for_views(port)?;
        for (name, path) in REQUESTS {
            let url = format!("http://127.0.0.1:{port}{path}");
            rest.push_str(&rest_line(&wrk, label, name, &url, &[&server])?);
        }
        // The same without the answer cache: every request reads the database.
        let uncached = start_server_with(
            &bench_dir.join(format!("serve-{}-uncached", label.to_lowercase())),
            &database,
            port + 1,
            &format!("rest_cache_mib = 0\n{www}"),
        )?;
        wait_for_views(port + 1)?;
        for (name, path) in REQUESTS {
            let url = format!("http://127.0.0.1:{}{path}", port + 1);
            let setup = format!("{label}, no answer cache");
            rest.push_str(&rest_line(&wrk, &setup, name, &url, &[&uncached])?);
        }
        drop(uncached);
        for view in VIEWS {
            views.push_str(&page_timing(
                port,
                &format!("{label}, {view}"),
                &format!("/plugins/{view}/"),
            )?);
        }
    }

    // Two servers on the PostgreSQL database, nginx in front of both.
    let (first, second, http_port, https_port) = (18_041, 18_042, 18_043, 18_044);
    let www = format!("rest_cache_mib = 0\n{www}");
    let a = start_server_with(&bench_dir.join("serve-pg-a"), &postgres, first, &www)?;
    let b = start_server_with(&bench_dir.join("serve-pg-b"), &postgres, second, &www)?;
    wait_for_views(first)?;
    wait_for_views(second)?;
    let _nginx = start_nginx(
        &bench_dir.join("nginx-postgres"),
        &[first, second],
        http_port,
        https_port,
    )?;
    for (name, path) in REQUESTS {
        let url = format!("http://127.0.0.1:{http_port}/buildbot{path}");
        rest.push_str(&rest_line(
            &wrk,
            "PostgreSQL, 2 servers behind nginx, no answer cache",
            name,
            &url,
            &[&a, &b],
        )?);
    }
    drop((a, b));

    // A build written by another connection until its `/ws` frame, on each engine. (On a copy
    // for SQLite; the probe deletes its rows afterwards on PostgreSQL.)
    let mut events = String::from("| database | event latency |\n|---|---|\n");
    let copy = bench_dir.join("events-postgres-bench.sqlite");
    std::fs::copy(&sqlite, &copy)?;
    for (label, database) in [("SQLite", copy.db_url()), ("PostgreSQL", postgres)] {
        let target = database
            .strip_prefix("sqlite:///")
            .unwrap_or(&database)
            .to_owned();
        let line = run_example("event_latency", &[target.as_ref(), "20".as_ref()])?;
        events.push_str(&format!("| {label}, 1M builds | {} |\n", line.trim()));
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ =
            std::fs::remove_file(bench_dir.join(format!("events-postgres-bench.sqlite{suffix}")));
    }
    let report = format!("{rest}\n{views}\n{events}");
    println!("\n{report}");
    std::fs::write(bench_dir.join("postgres.md"), report)?;
    Ok(())
}
