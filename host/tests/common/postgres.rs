//! A real PostgreSQL 15 (Debian's `postgresql-15`) for the tests: one cluster per test binary,
//! made by `initdb` as the unprivileged `postgres` user in a temporary folder, listening on a
//! free loopback port (password [`PASSWORD`] over TCP), stopped (and its folder removed) when
//! the binary exits, also after a panic. Each test gets its own database (`t_<n>`): empty ([`database`]), with Buildbot's
//! schema ([`schema_database`]), or with the reference rows in that schema
//! ([`reference_postgres`]).
//!
//! Buildbot's schema is the one Buildbot 4.3 makes itself: `buildbot upgrade-master` of a master
//! whose `db_url` names the database `buildbot_schema`, made once and then used as the
//! template of each test's database. The reference rows are copied from
//! `fixtures/reference/buildbot-4.3/state.sqlite` table by table, column by column, by name
//! ([`copy_rows`], `buildbot_www::db::copy`). Skipped where PostgreSQL 15 is not installed unless
//! `BUILDBOT_WWW_REQUIRE_POSTGRES` is set (`cargo xtask test` sets it and installs the package).

use super::run;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::{Connection as _, Executor as _};

use xtask::is_root;
use xtask::postgres::{as_cluster_owner as pg_command, BIN};

/// The superuser `postgres`'s password: connections over TCP must give it (SCRAM), so a test
/// that leaves it out or gets it wrong fails as it would against a production database.
pub const PASSWORD: &str = "duff-beer-42";

/// The database Buildbot's schema is made in once, the template of [`schema_database`]'s.
const SCHEMA_TEMPLATE: &str = "buildbot_schema";

/// The running cluster.
pub struct Cluster {
    /// The superuser's URL of the `postgres` database:
    /// `postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres`.
    pub admin_url: String,
    pub port: u16,
    /// How long `initdb` and the start took.
    pub start_time: Duration,
    /// The cluster's folder: `data/`, `server.log`, the socket.
    dir: PathBuf,
    /// The server's options (`pg_ctl -o`).
    options: String,
    /// The keeper shell, its stdin open: when this binary exits the stdin closes, and the
    /// keeper stops the cluster and removes its folder.
    _keeper: std::process::Child,
}

impl Cluster {
    /// The URL of the database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgresql://postgres:{PASSWORD}@127.0.0.1:{}/{name}",
            self.port
        )
    }

    /// A cluster of the caller's own, for a test that stops and starts it
    /// ([`Cluster::stop_immediately`]) without disturbing the others on the binary's; stopped
    /// and removed when dropped. Unlike the shared one it waits for each commit's WAL to be
    /// written, so that what it acknowledged survives an immediate stop. `None` as for
    /// [`cluster`].
    pub fn own() -> Option<Cluster> {
        installed().then(|| start("-c synchronous_commit=on"))
    }

    /// `pg_ctl stop -m immediate`: the server ends at once, as in a crash, cutting every
    /// connection; what was committed is kept.
    pub fn stop_immediately(&self) {
        run(pg_command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"]));
    }

    /// Starts the server again after [`Cluster::stop_immediately`] (it recovers from its WAL);
    /// returns once it accepts connections.
    pub fn start_again(&self) {
        run(pg_command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .arg("-o")
            .arg(&self.options)
            .args(["-w", "start"]));
        self.wait_ready();
    }

    /// Waits until the server accepts connections; panics with its log after a minute.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(Path::new(BIN).join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start; server.log:\n{}",
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();

/// The binary's cluster, started on first use; `None` (skip) where PostgreSQL 15 is not
/// installed and `BUILDBOT_WWW_REQUIRE_POSTGRES` is unset.
pub fn cluster() -> Option<&'static Cluster> {
    CLUSTER
        .get_or_init(|| {
            if !installed() {
                return None;
            }
            let cluster = start("-c synchronous_commit=off");
            eprintln!(
                "postgres: cluster made and started in {:.1} s",
                cluster.start_time.as_secs_f64()
            );
            Some(cluster)
        })
        .as_ref()
}

/// Whether PostgreSQL 15 is installed (as root, with the package's `postgres` user, who owns
/// the clusters); panics when it is not and `BUILDBOT_WWW_REQUIRE_POSTGRES` is set.
fn installed() -> bool {
    let installed =
        Path::new(BIN).join("initdb").is_file() && (!is_root() || postgres_ids().is_some());
    if !installed {
        assert!(
            std::env::var_os("BUILDBOT_WWW_REQUIRE_POSTGRES").is_none(),
            "PostgreSQL 15 not found in {BIN}: apt-get install postgresql-15"
        );
        eprintln!("skipped: PostgreSQL 15 not found in {BIN} (apt-get install postgresql-15)");
    }
    installed
}

/// The `postgres` user's uid and gid, `None` when there is no such user.
fn postgres_ids() -> Option<(u32, u32)> {
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().parse().ok())?
    };
    Some((id("-u")?, id("-g")?))
}

/// Makes and starts a cluster with these server options besides the ports and folders.
fn start(extra_options: &str) -> Cluster {
    let began = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("postgres-")
        .tempdir()
        .unwrap()
        .keep();
    if is_root() {
        let (uid, gid) = postgres_ids().expect("the postgres user");
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    }
    let data = dir.join("data");
    // The password over TCP, none on the folder's socket; no fsync: the cluster lives as long
    // as the test binary (an immediate stop ends the server, not the machine).
    let password_file = dir.join("password");
    std::fs::write(&password_file, PASSWORD).unwrap();
    if is_root() {
        let (uid, gid) = postgres_ids().expect("the postgres user");
        std::os::unix::fs::chown(&password_file, Some(uid), Some(gid)).unwrap();
    }
    run(pg_command("initdb")
        .arg("-D")
        .arg(&data)
        .args(["--auth-host=scram-sha-256", "--auth-local=trust"])
        .arg(format!("--pwfile={}", password_file.display()))
        .args(["-U", "postgres", "-E", "UTF8", "--no-locale"])
        .args(["--no-sync", "--no-instructions"]));
    std::fs::remove_file(&password_file).unwrap();
    let port = super::free_port();
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={} \
         -c fsync=off -c full_page_writes=off {extra_options}",
        dir.display()
    );
    let as_owner = if is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let keeper = super::keeper(
        &format!(
            "{as_owner}\"$0/pg_ctl\" -D \"$1/data\" -l \"$1/server.log\" -o \"$2\" -w start >/dev/null 2>&1; \
             cat >/dev/null; \
             {as_owner}\"$0/pg_ctl\" -D \"$1/data\" -m fast -w stop >/dev/null 2>&1; rm -rf \"$1\""
        ),
        &[BIN.as_ref(), dir.as_os_str(), options.as_ref()],
    );
    let mut cluster = Cluster {
        admin_url: format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"),
        port,
        start_time: Duration::ZERO,
        dir,
        options,
        _keeper: keeper,
    };
    cluster.wait_ready();
    cluster.start_time = began.elapsed();
    cluster
}

/// A fresh database (`t_<n>`) made from `template`; its URL.
async fn create_database(cluster: &Cluster, template: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let name = format!("t_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = sqlx::PgConnection::connect(&cluster.admin_url)
        .await
        .unwrap();
    admin
        .execute(format!("CREATE DATABASE {name} TEMPLATE {template}").as_str())
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name} TEMPLATE {template}: {e}"));
    admin.close().await.unwrap();
    cluster.url(&name)
}

/// The URL of a fresh, empty database; `None` (skip) without PostgreSQL.
pub async fn database() -> Option<String> {
    let cluster = cluster()?;
    Some(create_database(cluster, "template0").await)
}

static SCHEMA: OnceLock<Option<()>> = OnceLock::new();

/// The URL of a fresh database holding Buildbot 4.3's schema and no rows; `None` (skip)
/// without PostgreSQL or where Buildbot's Python environment cannot be made.
pub async fn schema_database() -> Option<String> {
    let cluster = schema_cluster()?;
    Some(create_database(cluster, SCHEMA_TEMPLATE).await)
}

/// The cluster, once Buildbot's schema is made in its template database.
fn schema_cluster() -> Option<&'static Cluster> {
    let cluster = cluster()?;
    SCHEMA.get_or_init(|| make_schema(cluster)).as_ref()?;
    Some(cluster)
}

/// Makes the template database and has Buildbot 4.3 make its schema in it.
fn make_schema(cluster: &Cluster) -> Option<()> {
    let venv = super::buildbot::venv()?;
    let began = Instant::now();
    run(Command::new(Path::new(BIN).join("createdb"))
        .args(["-h", "127.0.0.1", "-p", &cluster.port.to_string()])
        .args(["-U", "postgres", SCHEMA_TEMPLATE])
        .env("PGPASSWORD", PASSWORD));
    let master = tempfile::Builder::new()
        .prefix("buildbot-schema-")
        .tempdir()
        .unwrap();
    let db_url = format!(
        "postgresql+psycopg2://postgres:{PASSWORD}@127.0.0.1:{}/{SCHEMA_TEMPLATE}",
        cluster.port
    );
    // The master's folder (its own SQLite file, unused); its config names the PostgreSQL
    // database, which `upgrade-master` gives Buildbot's schema.
    run(Command::new(venv.join("bin/buildbot"))
        .args(["create-master", "--quiet"])
        .arg(master.path()));
    std::fs::write(
        master.path().join("master.cfg"),
        xtask::postgres::schema_master_cfg(&db_url),
    )
    .unwrap();
    let created = began.elapsed();
    run(Command::new(venv.join("bin/buildbot"))
        .args(["upgrade-master", "--quiet"])
        .arg(master.path()));
    eprintln!(
        "postgres: Buildbot's schema made in {:.1} s (create-master {:.1} s, upgrade-master {:.1} s)",
        began.elapsed().as_secs_f64(),
        created.as_secs_f64(),
        (began.elapsed() - created).as_secs_f64()
    );
    Some(())
}

/// The reference database (`fixtures/reference/buildbot-4.3/state.sqlite`).
pub fn reference_sqlite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/reference/buildbot-4.3/state.sqlite")
}

/// The URL of a fresh database holding the reference rows in Buildbot's own schema, as a
/// master that had written them would hold them; `None` (skip) as for [`schema_database`].
pub async fn reference_postgres() -> Option<String> {
    reference_database(schema_cluster()?).await
}

/// The same on a cluster of the caller's own ([`Cluster::own`]): Buildbot makes its schema
/// there first. `None` (skip) where Buildbot's Python environment cannot be made.
pub async fn reference_postgres_on(cluster: &Cluster) -> Option<String> {
    make_schema(cluster)?;
    reference_database(cluster).await
}

/// A fresh database from the schema template of `cluster`, holding the reference rows.
async fn reference_database(cluster: &Cluster) -> Option<String> {
    let began = Instant::now();
    let url = create_database(cluster, SCHEMA_TEMPLATE).await;
    let created = began.elapsed();
    copy_rows(&reference_sqlite(), &url)
        .await
        .unwrap_or_else(|e| panic!("copying the reference rows to PostgreSQL: {e}"));
    eprintln!(
        "postgres: reference database in {:.2} s (CREATE DATABASE from the schema {:.2} s, \
         rows copied {:.2} s)",
        began.elapsed().as_secs_f64(),
        created.as_secs_f64(),
        (began.elapsed() - created).as_secs_f64()
    );
    Some(url)
}

/// Copies the rows of the SQLite file `sqlite` into the PostgreSQL database `postgres`
/// (`buildbot_www::db::copy`), its error as text.
pub async fn copy_rows(sqlite: &Path, postgres: &str) -> Result<(), String> {
    buildbot_www::db::copy::sqlite_to_postgres(sqlite, postgres)
        .await
        .map_err(|e| format!("{e:#}"))
}
