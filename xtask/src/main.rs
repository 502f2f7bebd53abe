//! Build orchestration: `cargo xtask <command>` (run without a command for help).

mod bench;
mod bench_auth;
mod bench_authz;
mod bench_buildbot_ui;
mod bench_compare;
mod bench_hooks;
mod bench_live_page;
mod bench_memory;
mod bench_metrics;
mod bench_postgres;
mod bench_proxy;
mod buildbot;
mod hot_text;
mod plugins;
mod tally;
mod tidy;
mod webdriver;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

const HELP: &str = "\
cargo xtask <command>

commands:
  demo                       build (plugins too), create the demo database, serve it on
                             http://127.0.0.1:8010/ with demo builds running
                             (serve --demo-activity)
  test                       build the plugins and test plugins, run every test (installs the
                             Debian packages chromium, chromium-driver, apache2-utils and
                             python3 for the browser and login tests if missing);
                             ends with one line over everything: N passed, M failed[, K skipped]
  tidy                       check the repository's invariants (part of test): no file refers to
                             a path outside the repository, every Rust file opens with //!, only
                             host/src/plugins/ names wasmtime, no build path in the server binary
  dist [--out DIR]           build a release: the server (release build, default features, so
                             load-fixtures and serve --demo-activity work), the bundled plugins,
                             into DIR/buildbot-www-<version>-<target>.tar.gz (default
                             target/dist/) with a sample config, a systemd unit and the docs
                             (docs/deployment.md); needs GNU tar and gzip
  build-plugins              build the plugins under plugins/ to wasm32-wasip2 components in
                             target/plugins/<name>.wasm (installs the target with rustup if needed)
  build-test-plugins         the same for the runtime's test plugins under fixtures/plugins/, into
                             target/test-plugins/<name>.wasm
  new-plugin NAME --path DIR [--kind ui|auth]
                             create a standalone plugin crate NAME (letters, digits, '_') in DIR,
                             which must not exist or be empty: a UI plugin (default) or an
                             authentication plugin (CustomAuth); it builds with
                             `cargo build --target wasm32-wasip2 --release`
  gen-data --builders N --builds M --out FILE|URL [--force]
                             write a large synthetic Buildbot database (a SQLite file, or a
                             PostgreSQL database with Buildbot's schema)
  hot-text                   write host/hot-text.ld, the linker script that groups the server
                             code that runs (start-up, UI, REST, /ws, bundled plugins) at the
                             start of the release binary's code: profiles a build with every
                             function on its own page (a release build linked by LLD, rustc's
                             linker on x86_64 Linux; needs cc and readelf)
  bench api [--db-url URL]   load-test the REST API (numbers for docs/performance.md); on the
                             given database instead of generated SQLite files
  bench plugins              plugin dispatch overhead, start-up time, idle memory (and bench
                             memory)
  bench memory               resident memory with the four bundled plugins, at start and after
                             each served once, by source (server code, plugins' code, heap)
  bench ui                   UI pages: builders at 4,000 builders, a 200-step build, the
                             first lines of a 10.7 MB log (time to first byte, full page)
  bench events               event latency from a database write to a /ws client
  bench badges               the badges plugin on a 1M-build database: SVG/PNG req/s and
                             latency, 304s, uncached PNG renders
  bench views [--db-url URL] render time of the waterfall, console and grid views on a
                             1,000 builders x 1M builds database
  bench auth                 a REST read with a session cookie against anonymous; login
                             latency per password hash (bcrypt costs 5, 10, 12, apr1, SHA-512)
  bench authz                REST reads with 20 allow rules against none; /ws fan-out of build
                             events to 1,000 subscribers filtered per user
  bench metrics              REST reads with [www.metrics] (every request counted) against
                             without; the size and time of one /metrics scrape
  bench hooks                deliveries/s of a signed 2-commit GitHub push to /change_hook/github,
                             1 and 8 clients, against a real Buildbot 4.3 master when its venv
                             is there
  bench compare              the same REST requests to Buildbot 4.3 (its venv) and this server on
                             the reference database, wrk for both; throughput, latency, ratios
  bench proxy                builds?limit=50 on 1M builds directly and through nginx (HTTP and
                             TLS), wrk for all three
  bench buildbot-ui          Buildbot's own React UI in headless Chromium: time to show the
                             builders page and a 200-step build, served by this server and by a
                             real Buildbot 4.3 master
  bench live-page            a database write by another process until the new build shows in
                             a page open in headless Chromium (this server's UI and Buildbot's)
";

fn main() {
    if let Err(err) = run() {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(),
        Some("tidy") => tidy::check(),
        Some("dist") => dist(&args[1..]),
        Some("build-plugins") => plugins::build_plugins(),
        Some("build-test-plugins") => plugins::build_test_plugins(),
        Some("new-plugin") => plugins::new_plugin(&args[1..]),
        Some("gen-data") => {
            let mut command = host_command(false)?;
            command.arg("gen-data").args(&args[1..]);
            run_command(&mut command)
        }
        Some("bench") => bench::run(&args[1..]),
        Some("hot-text") => hot_text::hot_text(),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{HELP}"),
    }
}

/// The workspace root: the parent of xtask's folder as `cargo run` names it when it starts
/// xtask. The folder compiled in is only the fallback, because a build folder shared between
/// clones (`CARGO_TARGET_DIR`) may hold an xtask compiled in another clone.
pub(crate) fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub(crate) fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

pub(crate) fn run_command(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// Builds the server and returns a command running it.
pub(crate) fn host_command(release: bool) -> Result<Command> {
    Ok(server_command(&host_binary(release)?))
}

/// Builds the server and returns its binary's path.
pub(crate) fn host_binary(release: bool) -> Result<PathBuf> {
    let mut build = cargo();
    build.args([
        "build",
        "--quiet",
        "-p",
        "buildbot-www",
        "--bin",
        "buildbot-www",
    ]);
    if release {
        build.arg("--release");
    }
    run_command(&mut build)?;
    Ok(plugins::cargo_target_dir()?
        .join(if release { "release" } else { "debug" })
        .join("buildbot-www"))
}

/// A command running the server `binary` from the checkout.
pub(crate) fn server_command(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    command.current_dir(root());
    command
}

fn demo() -> Result<()> {
    plugins::build_plugins()?;
    let config = root().join("fixtures/demo/master.toml");
    let database = root().join("fixtures/demo/state.sqlite");
    if !database.exists() {
        println!("xtask: creating the demo database {}", database.display());
        run_command(
            host_command(false)?
                .arg("load-fixtures")
                .arg("--config")
                .arg(&config),
        )?;
    }
    println!("xtask: demo at http://127.0.0.1:8010/ (Ctrl-C stops it)");
    run_command(
        host_command(false)?
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--demo-activity"),
    )
}

/// `cargo xtask dist [--out DIR]`: builds the server and the plugins for release, then
/// assembles the tarball ([`xtask::dist::Release`]).
fn dist(args: &[String]) -> Result<()> {
    let out = match args {
        [] => root().join("target/dist"),
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        _ => bail!("usage: cargo xtask dist [--out DIR]"),
    };
    let began = std::time::Instant::now();
    // The default features stay on: the tarball serves the demo (`load-fixtures`,
    // `serve --demo-activity`) as the checkout does, for a first look before a real database.
    println!("xtask: building the server for release (many minutes when nothing is cached)");
    let binary = PathBuf::from(host_command(true)?.get_program());
    plugins::build_plugins()?;
    let release = xtask::dist::Release {
        root: root(),
        plugins: root().join("target/plugins"),
        version: server_version(&binary)?,
        target: host_target()?,
        mtime: source_date()?,
        binary,
    };
    let tarball = release.write(&out)?;
    let size = std::fs::metadata(&tarball)?.len();
    println!(
        "xtask: {} ({:.1} MiB) in {:.0} s",
        tarball.display(),
        size as f64 / (1024.0 * 1024.0),
        began.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The version `buildbot-www --version` prints.
fn server_version(binary: &Path) -> Result<String> {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    match text.trim().strip_prefix("buildbot-www ") {
        Some(version) if output.status.success() && !version.is_empty() => Ok(version.to_owned()),
        _ => bail!("{} --version printed {text:?}", binary.display()),
    }
}

/// The target triple rustc builds for by default (the host's), which the release build used.
fn host_target() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = Command::new(&rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("cannot run {rustc} -vV"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .with_context(|| format!("{rustc} -vV names no host target"))
}

/// The time every entry of the tarball carries: `SOURCE_DATE_EPOCH` when set (reproducible
/// builds), else the last commit's, else now.
fn source_date() -> Result<u64> {
    if let Ok(value) = std::env::var("SOURCE_DATE_EPOCH") {
        return value
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH is not a number of seconds: {value:?}"));
    }
    let commit = Command::new("git")
        .current_dir(root())
        .args(["log", "-1", "--format=%ct"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8_lossy(&output.stdout).trim().parse().ok());
    Ok(commit.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }))
}

/// The programs (or files, by absolute path) the tests need, with the Debian packages that
/// bring them: the UI's browser
/// tests drive headless Chromium through chromedriver (`host/tests/ui.rs`); the login tests
/// write password files with Apache's `htpasswd` and mint session tokens with Python
/// and check them with PyJWT (`host/tests/auth.rs`).
const TEST_TOOLS: &[(&str, &[&str])] = &[
    ("chromedriver", &["chromium", "chromium-driver"]),
    ("htpasswd", &["apache2-utils"]),
    ("python3", &["python3"]),
    // PyJWT, for the session interoperability test (Buildbot signs sessions with it).
    (
        "/usr/lib/python3/dist-packages/jwt/__init__.py",
        &["python3-jwt"],
    ),
    // LdapUserInfo's tests run a private OpenLDAP server (host/tests/ldap.rs).
    ("slapd", &["slapd", "ldap-utils"]),
    // Certificates for the LDAPS and OAuth2 TLS tests (host/tests/ldap.rs, auth_oauth2.rs).
    ("openssl", &["openssl"]),
    // The reverse proxies the deployment tests put in front of the server
    // (host/tests/proxies.rs); their packages' services are not started.
    ("/usr/sbin/nginx", &["nginx"]),
    ("/usr/sbin/apache2", &["apache2"]),
    // `python3 -m venv` for the Buildbot master the master-link tests run
    // (fixtures/buildbot/venv.sh): Debian leaves ensurepip out of python3.
    ("/usr/share/doc/python3-venv/copyright", &["python3-venv"]),
    // PostgreSQL 15 for the tests on Buildbot's schema there (host/tests/common/postgres.rs):
    // each test binary makes and starts its own cluster; the package's is not used.
    ("/usr/lib/postgresql/15/bin/initdb", &["postgresql-15"]),
    // The Prometheus project's own parsers of `/metrics` (host/tests/metrics.rs).
    (
        "/usr/lib/python3/dist-packages/prometheus_client/parser.py",
        &["python3-prometheus-client"],
    ),
];

/// Installs the Debian packages of the test programs that are missing.
fn ensure_test_tools() -> Result<()> {
    let on_path = |program: &str| {
        Path::new(program).is_absolute() && Path::new(program).is_file()
            || std::env::var_os("PATH").is_some_and(|path| {
                std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
            })
    };
    let missing: Vec<&str> = TEST_TOOLS
        .iter()
        .filter(|(program, _)| !on_path(program))
        .flat_map(|(_, packages)| packages.iter().copied())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!(
        "xtask: installing {} (Debian packages) for the tests",
        missing.join(", ")
    );
    if missing.contains(&"slapd") {
        // No system-wide directory: the tests start their own slapd.
        preseed("slapd slapd/no_configuration boolean true\n")?;
    }
    let _ = Command::new("apt-get").args(["update", "-qq"]).status();
    run_command(
        Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Answers a Debian package's installation question before it is asked.
fn preseed(selection: &str) -> Result<()> {
    use std::io::Write as _;
    let mut child = Command::new("debconf-set-selections")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("cannot run debconf-set-selections")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(selection.as_bytes())?;
    }
    if !child.wait()?.success() {
        bail!("debconf-set-selections refused {selection:?}");
    }
    Ok(())
}

/// The Python environment with Buildbot 4.3 that the master-link tests run
/// (host/tests/common/buildbot.rs), made on first use by `fixtures/buildbot/venv.sh` under the
/// build folder and checked on later runs.
fn buildbot_venv() -> Result<PathBuf> {
    let dir = plugins::cargo_target_dir()?.join("buildbot-venv-4.3.0");
    let began = std::time::Instant::now();
    run_command(
        Command::new("sh")
            .arg(root().join("fixtures/buildbot/venv.sh"))
            .arg(&dir),
    )
    .context("cannot make the Buildbot environment for the master-link tests")?;
    println!(
        "xtask: Buildbot environment ready in {:.1} s ({})",
        began.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(dir)
}

fn test() -> Result<()> {
    tidy::check()?;
    // The production build leaves the demo data out (host feature `demo`): it must still build.
    run_command(cargo().args([
        "check",
        "--quiet",
        "-p",
        "buildbot-www",
        "--no-default-features",
        "--lib",
        "--bins",
    ]))?;
    plugins::build_plugins()?;
    plugins::build_test_plugins()?;
    ensure_test_tools()?;
    let buildbot_venv = buildbot_venv()?;
    let mut tally = tally::Tally::default();
    plugins::test_plugins_natively(&mut tally)?;
    tally.run(
        cargo()
            .args(["test", "--workspace", "--all-targets", "--no-fail-fast"])
            .env("BUILDBOT_WWW_REQUIRE_BROWSER", "1")
            .env("BUILDBOT_WWW_REQUIRE_LDAP", "1")
            .env("BUILDBOT_WWW_REQUIRE_BUILDBOT", "1")
            .env("BUILDBOT_WWW_REQUIRE_PROXIES", "1")
            .env("BUILDBOT_WWW_REQUIRE_POSTGRES", "1")
            .env("BUILDBOT_WWW_BUILDBOT_VENV", &buildbot_venv),
    )?;
    tally.run(cargo().args(["test", "--workspace", "--doc", "--no-fail-fast"]))?;
    for run in &tally.broken_runs {
        eprintln!("xtask: {run}");
    }
    println!("{}", tally.summary());
    if !tally.ok() {
        bail!("the tests did not all pass");
    }
    Ok(())
}
