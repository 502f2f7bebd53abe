//! The plugin runtime with real compiled components (built by `cargo xtask test`, which runs
//! `build-test-plugins` first): loading, config, data reads, hostile plugins, hot reload, the
//! compile cache and `plugins list`.

use crate::common;

use common::html::{self, attr, text, Find};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use buildbot_www::plugins::Registry;

async fn load(config: &Path) -> anyhow::Result<buildbot_www::server::AppState> {
    common::load_state(config).await
}

async fn serve(config: &Path) -> String {
    common::serve_state(load(config).await.expect("the server starts")).await
}

async fn get(base: &str, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(format!("{base}{path}")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hello_plugin_gets_its_config_and_reads_data() {
    let (_dir, config) = common::plugin_site(
        &[("hello", "hello")],
        "[www.plugins.hello]\ngreeting = \"Howdy <b>\"\n",
    );
    let base = serve(&config).await;

    let (status, page) = get(&base, "/plugins/hello/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Howdy &lt;b&gt;"), "{page}");
    assert!(page.contains("anonymous"), "{page}");

    // The plugin reads builders through the Data API: the same names /api/v2 gives.
    let (status, body) = get(&base, "/plugins/hello/builders").await;
    assert_eq!(status, 200, "{body}");
    let from_plugin: serde_json::Value = serde_json::from_str(&body).unwrap();
    let (_, api) = get(&base, "/api/v2/builders?field=name").await;
    let api: serde_json::Value = serde_json::from_str(&api).unwrap();
    let names: Vec<serde_json::Value> = api["builders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].clone())
        .collect();
    assert!(!names.is_empty());
    assert_eq!(from_plugin, serde_json::Value::Array(names));

    // What the plugin sees of a request.
    let (status, echo) = get(&base, "/plugins/hello/echo?x=1&y=%20").await;
    assert_eq!(status, 200, "{echo}");
    let echo: serde_json::Value = serde_json::from_str(&echo).unwrap();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["path"], "/echo");
    assert_eq!(echo["query"], "x=1&y=%20");
    assert_eq!(echo["root"], "../../");
    assert_eq!(echo["user"]["anonymous"], true);

    // The mount point redirects to its slash; unknown plugins are 404s.
    let (status, _) = get(&base, "/plugins/hello").await;
    assert_eq!(status, 301);
    let (status, body) = get(&base, "/plugins/nope/").await;
    assert_eq!(status, 404);
    assert!(body.contains("nope"), "{body}");

    // The sidebar of every page lists the plugin's menu entry, which opens the plugin's page
    // inside the page shell.
    let (status, page) = get(&base, "/builders").await;
    assert_eq!(status, 200, "{page}");
    let doc = html::parse(&page);
    let entry = doc.one(".sidebar a[data-key=\"plugin:hello\"]");
    assert_eq!(attr(entry, "href"), "./views/hello/");
    assert_eq!(text(entry.one("span.icon")), "◆");
    assert_eq!(text(entry), "◆Hello");
    let (status, view) = get(&base, "/views/hello/").await;
    assert_eq!(status, 200, "{view}");
    assert!(
        !view.contains("Howdy <b>"),
        "the greeting is escaped: {view}"
    );
    let view = html::parse(&view);
    assert_eq!(view.all(".sidebar").len(), 1);
    assert_eq!(text(view.one("main").one("p")), "Howdy <b>, anonymous!");

    // /config lists the enabled plugin with its config.
    let (_, frontend) = get(&base, "/config").await;
    let frontend: serde_json::Value = serde_json::from_str(&frontend).unwrap();
    assert_eq!(frontend["plugins"]["hello"]["greeting"], "Howdy <b>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_stops_on_bad_plugins() {
    // init rejects the config: the plugin's own message.
    let (_d1, config) =
        common::plugin_site(&[("hello", "hello")], "[www.plugins.hello]\ngreeting = 3\n");
    let err = format!("{:#}", load(&config).await.unwrap_err());
    assert!(err.contains("plugin 'hello' rejected its config"), "{err}");
    assert!(err.contains("greeting"), "{err}");

    // An unknown name lists what was found.
    let (_d2, config) = common::plugin_site(&[("hello", "hello")], "[www.plugins]\nhelo = true\n");
    let err = format!("{:#}", load(&config).await.unwrap_err());
    assert!(err.contains("plugin 'helo' is enabled"), "{err}");
    assert!(err.contains("plugins found: hello"), "{err}");

    // A file that is not a component.
    let (d3, config) = common::plugin_site(&[], "[www.plugins]\njunk = true\n");
    std::fs::write(d3.path().join("plugins/junk.wasm"), b"\0asm not really").unwrap();
    let err = format!("{:#}", load(&config).await.unwrap_err());
    assert!(
        err.contains("junk.wasm is not a WebAssembly component"),
        "{err}"
    );

    // A component whose manifest names another plugin.
    let (_d4, config) =
        common::plugin_site(&[("hello_next", "other")], "[www.plugins]\nother = true\n");
    let err = format!("{:#}", load(&config).await.unwrap_err());
    assert!(err.contains("declares the plugin name 'hello'"), "{err}");

    // Limits out of range are config errors.
    let (_d5, config) = common::plugin_site(
        &[("hello", "hello")],
        "[www.plugins]\nhello = true\n[www.plugin_limits.hello]\ndeadline_ms = 0\n",
    );
    let err = format!("{:#}", load(&config).await.unwrap_err());
    assert!(
        err.contains("deadline_ms: must be between 1 and 600000"),
        "{err}"
    );
}

/// Deadline used for the hostile plugin, and the margin allowed on top of it.
const DEADLINE_MS: u64 = 500;
const MARGIN: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_plugins_fail_alone_and_cleanly() {
    let (dir, config) = common::plugin_site(
        &[("hostile", "hostile"), ("hello", "hello")],
        &format!(
            "[www.plugins]\nhostile = true\nhello = true\n\
             [www.plugin_limits.hostile]\ndeadline_ms = {DEADLINE_MS}\nmemory_mib = 32\nresponse_mib = 1\n"
        ),
    );
    std::fs::create_dir(dir.path().join("plugins/hostile")).unwrap();
    std::fs::write(dir.path().join("plugins/hostile/note.txt"), "an asset").unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("templates/mine.svg.j2"), "a template").unwrap();
    let base = serve(&config).await;

    // (route, expected status, text the body must contain, text it must not contain).
    // The loop comes last: a plugin that ran past its deadline has its calls moved to the
    // idle-priority threads for a minute, which get no time while parallel tests load the
    // machine, and the other cases are not about scheduling.
    let cases: &[(&str, u16, &str, &str)] = &[
        ("/alloc", 500, "exceeded its memory cap of 32 MiB", ""),
        ("/panic", 500, "plugin 'hostile' crashed", ""),
        ("/passwd", 500, "plugin 'hostile' crashed", "root:"),
        ("/env", 500, "plugin 'hostile' crashed", "PATH="),
        ("/big", 500, "plugin 'hostile'", ""),
        ("/bytes?n=2000000", 502, "over the limit of 1 MiB", ""),
        ("/badpath", 404, "Invalid path: no/such/path", ""),
        (
            "/badfield",
            400,
            "no such field 'nmae' (argument: Some(\"nmae\"))",
            "",
        ),
        ("/files?path=/etc/passwd", 404, "", "root:"),
        ("/files?path=/assets/note.txt", 200, "an asset", ""),
        ("/files?path=/templates/mine.svg.j2", 200, "a template", ""),
        ("/files?path=/assets/../state.sqlite", 404, "", "SQLite"),
        (
            "/files?path=/templates/../master.toml",
            404,
            "",
            "plugin_dirs",
        ),
        ("/loop", 504, "did not answer within 500 ms", ""),
    ];
    for &(route, status, contains, lacks) in cases {
        let started = Instant::now();
        let url = format!("/plugins/hostile{route}");
        let hostile = get(&base, &url);
        let neighbour = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            get(&base, "/plugins/hello/").await
        };
        let other_route = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            get(&base, "/plugins/hostile/ok").await
        };
        let ((got, body), (n_status, _), (o_status, o_body)) =
            tokio::join!(hostile, neighbour, other_route);
        let took = started.elapsed();
        assert_eq!(got, status, "{route}: {body}");
        assert!(body.contains(contains), "{route}: {body}");
        assert!(lacks.is_empty() || !body.contains(lacks), "{route}: {body}");
        assert!(
            took < Duration::from_millis(DEADLINE_MS) + MARGIN,
            "{route} took {took:?}"
        );
        assert_eq!(n_status, 200, "another plugin during {route}");
        assert_eq!(
            (o_status, o_body.as_str()),
            (200, "ok"),
            "another route during {route}"
        );
        // The same plugin answers the next request.
        let (after, body) = get(&base, "/plugins/hostile/ok").await;
        assert_eq!((after, body.as_str()), (200, "ok"), "after {route}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_changed_wasm_file_is_reloaded_without_failing_requests_in_flight() {
    // A generous deadline: the 700 ms request must not be cut short while the other tests
    // (the hostile plugin's loops) and the new version's compilation share the two cores.
    let (dir, config) = common::plugin_site(
        &[("hello", "hello")],
        "[www.plugins]\nhello = true\n[www.plugin_limits.hello]\ndeadline_ms = 10000\n",
    );
    let base = serve(&config).await;
    let (status, page) = get(&base, "/plugins/hello/").await;
    assert_eq!(status, 200);
    assert!(!page.contains("hello v2"), "{page}");

    let slow = tokio::spawn({
        let base = base.clone();
        async move { get(&base, "/plugins/hello/slow?ms=700").await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Replace the file the way an installer would: write next to it, then rename.
    let file = dir.path().join("plugins/hello.wasm");
    let tmp = dir.path().join("plugins/hello.wasm.new");
    std::fs::copy(common::test_plugin("hello_next"), &tmp).unwrap();
    std::fs::rename(&tmp, &file).unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, page) = get(&base, "/plugins/hello/").await;
        assert_eq!(status, 200, "{page}");
        if page.contains("hello v2") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new version was never loaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(slow.await.unwrap(), (200, "slow done v1".to_owned()));

    // A broken file keeps the running version.
    std::fs::write(&file, b"garbage").unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, page) = get(&base, "/plugins/hello/").await;
    assert_eq!((status, page.contains("hello v2")), (200, true), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_are_cached_verified_and_a_bad_entry_is_replaced() {
    let cache = tempfile::tempdir().unwrap();
    let (_dir, config) =
        common::plugin_site(&[("hello", "hello")], "[www.plugins]\nhello = true\n");
    common::MasterToml::load(&config)
        .set(
            &["www", "plugin_cache_dir"],
            cache.path().display().to_string(),
        )
        .write(config.parent().unwrap());

    let entries = || -> Vec<PathBuf> {
        std::fs::read_dir(cache.path())
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let first = load(&config).await.unwrap();
    drop(first);
    let mut cached = entries();
    cached.sort();
    assert_eq!(cached.len(), 2, "{cached:?}");
    assert!(cached[0].extension().is_some_and(|e| e == "cwasm"));
    assert!(cached[1].extension().is_some_and(|e| e == "sha256"));
    let compiled = cached[0].clone();
    let sorted = || {
        let mut now = entries();
        now.sort();
        now
    };

    // A second start uses it (no new entry), and a corrupt entry is recompiled over.
    load(&config).await.unwrap();
    assert_eq!(sorted(), cached);
    std::fs::write(&compiled, b"not a compiled component").unwrap();
    let state = load(&config).await.unwrap();
    assert_eq!(sorted(), cached);
    let good = std::fs::read(&compiled).unwrap();
    assert!(good.len() > 1000);
    assert_eq!(state.http.plugins.plugins()[0].name, "hello");

    // Bytes changed in place (same length, still deserialisable or not) no longer match the
    // digest recorded when they were written: the entry is not loaded but rewritten.
    let mut tampered = good.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    std::fs::write(&compiled, &tampered).unwrap();
    load(&config).await.unwrap();
    assert_eq!(std::fs::read(&compiled).unwrap(), good);

    // A cache folder other users could write is not used at all: the plugin still loads,
    // compiled in memory.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::remove_file(&compiled).unwrap();
        std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let state = load(&config).await.unwrap();
        assert_eq!(state.http.plugins.plugins()[0].name, "hello");
        assert!(!compiled.exists(), "wrote into a folder others can write");
    }
}

#[test]
fn plugins_list_shows_what_is_found_and_enabled() {
    let (dir, config) = common::plugin_site(
        &[("hello", "hello"), ("hostile", "hostile")],
        "[www.plugins]\nhello = true\nmissing_one = true\n",
    );
    std::fs::write(dir.path().join("plugins/junk.wasm"), b"junk").unwrap();
    let out = common::plugins_list(&config);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name} in:\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(line("hello")[..4], ["hello", "1.0.0", "0.2.0", "yes"]);
    assert_eq!(line("hostile")[2..4], ["0.2.0", "no"]);
    assert!(line("junk").join(" ").contains("cannot load"), "{text}");
    assert_eq!(line("missing_one")[3], "MISSING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scaffolded_plugin_builds_loads_and_says_hello() {
    // `cargo xtask test` scaffolds it with `new-plugin` and builds it with plain cargo.
    let (_dir, config) = common::plugin_site(
        &[("scaffolded", "scaffolded")],
        "[www.plugins]\nscaffolded = true\n",
    );
    let base = serve(&config).await;
    let (status, page) = get(&base, "/plugins/scaffolded/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Hello, anonymous!"), "{page}");
    // It read the reference database's builders through the Data API.
    let (_, api) = get(&base, "/api/v2/builders").await;
    let api: serde_json::Value = serde_json::from_str(&api).unwrap();
    let count = api["builders"].as_array().unwrap().len();
    assert!(page.contains(&format!("Builders: {count}")), "{page}");
    let state = load(&config).await.unwrap();
    let menu = state.http.plugins.menu();
    assert_eq!(menu.len(), 1);
    assert_eq!(
        (menu[0].0.as_str(), menu[0].1.path.as_str()),
        ("scaffolded", "/")
    );
}

/// The `buildbot-www serve` process under test, killed when dropped; what it logs is collected.
struct ServeProcess {
    child: std::process::Child,
    base: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ServeProcess {
    /// Starts `buildbot-www serve --config CONFIG` and waits for the address it serves on.
    fn start(config: &Path) -> ServeProcess {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("buildbot-www serve starts");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn({
            let log = log.clone();
            move || {
                for line in std::io::BufReader::new(stderr)
                    .lines()
                    .map_while(Result::ok)
                {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let base = line
            .split(" on ")
            .nth(1)
            .and_then(|address| address.trim().strip_suffix('/'))
            .unwrap_or_else(|| panic!("no address in {line:?}: {}", log.lock().unwrap()))
            .to_owned();
        ServeProcess { child, base, log }
    }

    /// Waits until the log has a line containing `text`; panics after a minute.
    async fn wait_for_log(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = self.log.lock().unwrap().clone();
            if let Some(line) = log.lines().find(|line| line.contains(text)) {
                return line.to_owned();
            }
            assert!(Instant::now() < deadline, "no {text:?} in the log:\n{log}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies the files under `from` into `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Replaces `file` the way the scaffold's README says: a copy next to it renamed over it.
fn install(bytes: &[u8], file: &Path) {
    let tmp = file.with_extension("wasm.new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scaffolded_plugin_changed_by_its_author_is_reloaded_by_the_running_server() {
    // The crate `cargo xtask test` scaffolded and built, and the target folder it was built in:
    // the author's rebuild shares it, so only the plugin's own crate is compiled again.
    let kept = common::test_plugin("scaffolded").with_file_name("scaffolded-src");
    let target = std::fs::read_to_string(kept.with_file_name("scaffolded-target-dir"))
        .expect("cargo xtask build-test-plugins records the scaffold's target folder");
    let author = tempfile::tempdir().unwrap();
    let crate_dir = author.path().join("scaffolded");
    copy_tree(&kept, &crate_dir);

    let (dir, config) = common::plugin_site(
        &[("scaffolded", "scaffolded")],
        "[www.plugins]\nscaffolded = true\n",
    );
    common::MasterToml::load(&config)
        .set(&["www", "port"], "tcp:0:interface=127.0.0.1")
        .write(dir.path());
    let server = ServeProcess::start(&config);
    let (status, page) = get(&server.base, "/plugins/scaffolded/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>Hello, anonymous!</h1>"), "{page}");

    // The author changes the default greeting and the version, and rebuilds as the README says.
    let source = crate_dir.join("src/lib.rs");
    let text = std::fs::read_to_string(&source).unwrap();
    let changed = text.replace(
        r#"config.string_or("greeting", "Hello")"#,
        r#"config.string_or("greeting", "Good evening")"#,
    );
    assert_ne!(changed, text, "the scaffold's greeting moved");
    std::fs::write(&source, changed).unwrap();
    let manifest = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen("version = \"0.1.0\"", "version = \"0.1.1\"", 1),
    )
    .unwrap();
    let started = Instant::now();
    let built = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", target.trim())
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    eprintln!("the author's rebuild took {:?}", started.elapsed());
    let wasm = Path::new(target.trim()).join("wasm32-wasip2/release/scaffolded.wasm");
    let file = dir.path().join("plugins/scaffolded.wasm");
    install(&std::fs::read(&wasm).unwrap(), &file);

    // The running server serves the new version, without a restart.
    server
        .wait_for_log("plugin scaffolded reloaded: version 0.1.1")
        .await;
    let (status, page) = get(&server.base, "/plugins/scaffolded/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>Good evening, anonymous!</h1>"), "{page}");

    // A broken build (a file that is not a component) is logged and the new version stays.
    install(b"\0asm\x01\0\0\0 not a component", &file);
    let line = server
        .wait_for_log("plugin scaffolded changed on disk but cannot be loaded")
        .await;
    assert!(line.contains("ERROR"), "{line}");
    let (status, page) = get(&server.base, "/plugins/scaffolded/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>Good evening, anonymous!</h1>"), "{page}");
}

#[tokio::test]
async fn a_registry_without_plugins_answers_not_found() {
    let registry = Registry::default();
    assert!(registry.plugins().is_empty());
    let err = registry
        .handle(
            "hello",
            buildbot_www::plugins::Request {
                method: "GET".into(),
                path: "/".into(),
                query: String::new(),
                headers: Vec::new(),
                body: Vec::new(),
                user: Default::default(),
                root: "../../".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), 404);
}
