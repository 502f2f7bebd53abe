//! The release tarball (`cargo xtask dist`), installed the way docs/deployment.md says and
//! served: assembled by xtask's own code from the debug build and the built plugins, unpacked
//! into an empty folder standing for `/` (`opt/`, with `opt/buildbot-www` linking to it), the
//! sample config copied to the base directory the systemd unit names, the demo data loaded and
//! the unit's `ExecStart` run there, outside the checkout. The plugins come from the tarball,
//! found from the binary's own location. The unit is checked by `systemd-analyze verify` when
//! systemd is installed, and its keys are read in any case.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{self, Serving};

/// Where docs/deployment.md installs the release (a link to the version's folder).
const INSTALLED: &str = "/opt/buildbot-www";

/// The tarball of the debug build, written into `out`.
fn release(out: &Path) -> (PathBuf, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let release = xtask::dist::Release {
        plugins: common::bundled_plugins_dir(&common::BUNDLED),
        root,
        binary: PathBuf::from(env!("CARGO_BIN_EXE_buildbot-www")),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        target: "test".to_owned(),
        mtime: 1_700_000_000,
    };
    let tarball = release.write(out).expect("the release is assembled");
    (tarball, release.name())
}

/// A systemd unit's keys, `[Section]` to key to the values it is given (in order).
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// Reads a unit file: comments and blank lines skipped, every other line `[Section]` or
/// `Key=value` (the shipped unit continues no line with `\`).
fn parse_unit(text: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_owned());
            unit.entry(name.to_owned()).or_default();
            continue;
        }
        assert!(!line.ends_with('\\'), "a continued line: {line}");
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a key: {line}"));
        let section = section
            .clone()
            .unwrap_or_else(|| panic!("{line} before a section"));
        unit.entry(section)
            .or_default()
            .entry(key.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    unit
}

/// The one value of `[Service] key`.
fn service<'a>(unit: &'a Unit, key: &str) -> &'a str {
    match unit["Service"].get(key).map(Vec::as_slice) {
        Some([value]) => value,
        other => panic!("[Service] {key}: {other:?}"),
    }
}

/// An absolute path of the installed system, inside the folder standing for `/`.
fn under(root: &Path, absolute: &str) -> PathBuf {
    root.join(absolute.strip_prefix('/').expect("an absolute path"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_release_installs_and_serves_the_demo() {
    let work = tempfile::tempdir().unwrap();
    let (tarball, name) = release(&work.path().join("out"));
    assert_eq!(
        tarball.file_name().unwrap().to_str().unwrap(),
        format!("buildbot-www-{}-test.tar.gz", env!("CARGO_PKG_VERSION"))
    );

    // Installing: unpack under opt/, which holds nothing else, and link the version's folder.
    let root = work.path().join("root");
    let opt = root.join("opt");
    std::fs::create_dir_all(&opt).unwrap();
    common::run(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&opt),
    );
    let unpacked: Vec<String> = std::fs::read_dir(&opt)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(unpacked, [name.as_str()], "one top folder");
    std::os::unix::fs::symlink(&name, under(&root, INSTALLED)).unwrap();
    let home = under(&root, INSTALLED);
    for shipped in [
        "README.md",
        "docs/deployment.md",
        "docs/configuration.md",
        "licenses/DejaVu-fonts.txt",
        xtask::dist::SAMPLE_CONFIG,
        xtask::dist::SYSTEMD_UNIT,
    ] {
        assert!(home.join(shipped).is_file(), "{shipped} is shipped");
    }
    for plugin in common::BUNDLED {
        let wasm = home
            .join(xtask::dist::PLUGINS)
            .join(format!("{plugin}.wasm"));
        assert!(wasm.is_file(), "{} is shipped", wasm.display());
    }

    // The unit: what it runs and where, with the keys a service of this server needs.
    let unit_file = home.join(xtask::dist::SYSTEMD_UNIT);
    let unit = parse_unit(&std::fs::read_to_string(&unit_file).unwrap());
    let exec: Vec<&str> = service(&unit, "ExecStart").split(' ').collect();
    let [program, "serve", "--config", config] = exec[..] else {
        panic!("ExecStart: {exec:?}")
    };
    assert_eq!(program, format!("{INSTALLED}/{}", xtask::dist::BINARY));
    let base = Path::new(config).parent().unwrap();
    assert_eq!(
        base,
        Path::new("/var/lib").join(service(&unit, "StateDirectory")),
        "the base directory is the state directory systemd makes for the user"
    );
    assert_eq!(service(&unit, "WorkingDirectory"), base.to_str().unwrap());
    assert_eq!(service(&unit, "Type"), "simple");
    assert_eq!(service(&unit, "ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(service(&unit, "KillSignal"), "SIGTERM");
    let stop: u64 = service(&unit, "TimeoutStopSec").parse().unwrap();
    assert!(
        stop > 5,
        "longer than the 5 s given to requests in progress"
    );
    assert_eq!(
        service(&unit, "RestartPreventExitStatus"),
        "2",
        "a config error is not retried"
    );
    assert_ne!(service(&unit, "User"), "root");
    assert_eq!(service(&unit, "NoNewPrivileges"), "yes");
    assert_eq!(service(&unit, "ProtectSystem"), "strict");
    assert!(
        !unit["Service"].contains_key("MemoryDenyWriteExecute"),
        "the plugin runtime compiles WebAssembly to machine code"
    );
    let cache_home = service(&unit, "Environment")
        .strip_prefix("XDG_CACHE_HOME=")
        .expect("the compiled plugins' cache is placed");
    assert_eq!(
        Path::new(cache_home).join("buildbot-www"),
        Path::new("/var/cache").join(service(&unit, "CacheDirectory")),
        "compiled plugins go to the cache directory systemd makes for the user"
    );
    verify_unit(&root, &unit_file);

    // The base directory: the sample config on a free port, the demo data, then the unit's
    // command, from the base directory, with the unit's environment.
    let base = under(&root, base.to_str().unwrap());
    std::fs::create_dir_all(&base).unwrap();
    let port = common::free_port();
    let sample = std::fs::read_to_string(home.join(xtask::dist::SAMPLE_CONFIG)).unwrap();
    let listen = "port = \"tcp:8010:interface=127.0.0.1\"";
    assert!(sample.contains(listen), "{sample}");
    let config = under(&root, config);
    std::fs::write(
        &config,
        sample.replace(
            listen,
            &format!("port = \"tcp:{port}:interface=127.0.0.1\""),
        ),
    )
    .unwrap();
    let binary = under(&root, program);
    let command = |args: &[&std::ffi::OsStr]| {
        let mut command = Command::new(&binary);
        command
            .args(args)
            .current_dir(&base)
            .env("XDG_CACHE_HOME", under(&root, cache_home))
            .stdin(Stdio::null());
        command
    };
    common::run(&mut command(&[
        "load-fixtures".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]));
    let checked = command(&["check-config".as_ref(), config.as_os_str()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{stdout}");
    let bundled = std::fs::canonicalize(home.join(xtask::dist::PLUGINS)).unwrap();
    assert!(
        stdout.contains(&format!(
            "plugin folders: {} (not there), {}\n",
            base.join("plugins").display(),
            bundled.display()
        )),
        "{stdout}"
    );

    let base_url = format!("http://127.0.0.1:{port}");
    let mut served = Serving::start(
        command(&["serve".as_ref(), "--config".as_ref(), config.as_os_str()])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        &base_url,
    )
    .await;
    let get = |path: &str| {
        let url = format!("{base_url}{path}");
        async move {
            let answer = reqwest::get(&url).await.unwrap();
            let status = answer.status().as_u16();
            let content_type = answer
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = answer.bytes().await.unwrap();
            assert_eq!(status, 200, "{url}: {}", String::from_utf8_lossy(&body));
            (content_type, body)
        }
    };
    let (_, ready) = get("/readyz").await;
    let ready: serde_json::Value = serde_json::from_slice(&ready).unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
    let (_, builders) = get("/api/v2/builders?name=linux-x86_64").await;
    let builders: serde_json::Value = serde_json::from_slice(&builders).unwrap();
    assert_eq!(
        builders["builders"][0]["name"], "linux-x86_64",
        "{builders}"
    );
    let (content_type, svg) = get("/plugins/badges/linux-x86_64.svg").await;
    assert_eq!(content_type, "image/svg+xml");
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));
    // A PNG is drawn with the font compiled into the plugin: no system font is needed.
    let (content_type, png) = get("/plugins/badges/linux-x86_64.png").await;
    assert_eq!(content_type, "image/png");
    assert!(png.starts_with(b"\x89PNG"));
    let (_, page) = get("/builders").await;
    assert!(String::from_utf8_lossy(&page).contains("linux-x86_64"));
    let (_, view) = get("/views/waterfall_view/").await;
    assert!(String::from_utf8_lossy(&view).contains("linux-x86_64"));
    assert!(
        under(&root, cache_home)
            .join("buildbot-www/components")
            .is_dir(),
        "compiled plugins are cached where the unit says"
    );

    served.signal("-TERM");
    assert!(served.wait().unwrap().success());
}

/// `systemd-analyze verify` on the unit, installed in the folder standing for `/` (which holds
/// the unpacked release), when systemd is installed; the tests do not install it.
fn verify_unit(root: &Path, unit_file: &Path) {
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("systemd-analyze").is_file())
    });
    if !on_path {
        eprintln!("dist: systemd-analyze is not installed: the unit's syntax is not verified");
        return;
    }
    let units = root.join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::copy(unit_file, units.join("buildbot-www.service")).unwrap();
    // ExecReload's program, which verify looks for inside the root.
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/kill", root.join("bin/kill")).unwrap();
    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .args(["--man=no", "--recursive-errors=no", "buildbot-www.service"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&verified.stderr);
    assert!(
        verified.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {}\n{stderr}",
        verified.status
    );
}
