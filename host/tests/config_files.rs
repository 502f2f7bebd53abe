//! Config fixture tests: `fixtures/config/bad/*.toml` must fail with the message in the sibling
//! `.expected` file (regenerate with `UPDATE_EXPECT=1`), `fixtures/config/good/*.toml` must
//! load, and `fixtures/reference/master.toml` must reproduce the reference master.

use std::path::{Path, PathBuf};
use std::sync::Once;

use buildbot_www::config::{self, Auth, EndpointMatcher, RoleMatcher, SecretSource};
use serde_json::Value;

/// The variable that the good fixtures read secrets from.
const TEST_SECRET_VAR: &str = "BUILDBOT_WWW_TEST_SECRET";
const TEST_SECRET: &str = "secret-from-the-environment";

fn setup() {
    static ONCE: Once = Once::new();
    // Only this test binary reads the variable, and std serializes environment access.
    ONCE.call_once(|| std::env::set_var(TEST_SECRET_VAR, TEST_SECRET));
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the host crate lives in the workspace")
        .to_path_buf()
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .toml files in {}", dir.display());
    files
}

fn load(path: &Path) -> config::Config {
    setup();
    config::load(path).unwrap_or_else(|e| panic!("{} should load:\n{e}", path.display()))
}

#[test]
fn bad_configs_fail_with_the_expected_message() {
    setup();
    let dir = root().join("fixtures/config/bad");
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let prefix = format!("{}/", dir.display());
    let mut failures = Vec::new();
    for file in toml_files(&dir) {
        let expected_file = file.with_extension("expected");
        let actual = match config::load(&file) {
            Ok(_) => {
                failures.push(format!("{}: was accepted", file.display()));
                continue;
            }
            Err(err) => err.to_string().replace(&prefix, "") + "\n",
        };
        if update {
            std::fs::write(&expected_file, &actual).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expected_file) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                file.display()
            )),
            Err(_) => failures.push(format!(
                "{}: missing (run with UPDATE_EXPECT=1)\n--- actual\n{actual}",
                expected_file.display()
            )),
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "expected")
            && !path.with_extension("toml").exists()
        {
            failures.push(format!("{}: has no .toml", path.display()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn bad_messages_never_show_secrets() {
    setup();
    let dir = root().join("fixtures/config/bad");
    for file in toml_files(&dir) {
        if let Err(err) = config::load(&file) {
            let text = err.to_string();
            // the snippet shows the source line, which may hold an inline secret; the message
            // itself (first line) must not
            let first = text.lines().next().unwrap();
            for secret in ["s3cret", "p4ss", TEST_SECRET] {
                assert!(!first.contains(secret), "{}: {first}", file.display());
            }
        }
    }
}

#[test]
fn good_configs_load() {
    for file in toml_files(&root().join("fixtures/config/good")) {
        let config = load(&file);
        assert_eq!(config.path, file);
        assert!(config.base_dir.is_absolute());
        assert!(config.buildbot_url.ends_with('/'));
        assert_eq!(config.www.theme.len(), 12);
    }
}

#[test]
fn full_config_sets_every_key() {
    let dir = root().join("fixtures/config/good");
    let c = load(&dir.join("full.toml"));
    assert_eq!(
        c.db.password
            .as_ref()
            .map(buildbot_www::config::Secret::expose),
        Some("p4ss")
    );
    assert!(!format!("{:?}", c.db).contains("p4ss"));
    assert_eq!(c.buildbot_url, "https://ci.example.com/buildbot/");
    assert_eq!(c.title, "Example CI");
    assert_eq!(c.title_url, "https://example.com/");
    let w = &c.www;
    let port = w.port.as_ref().unwrap();
    assert_eq!((port.host.as_str(), port.port), ("::1", 8010));
    assert_eq!(port.text, Value::from("tcp:port=8010:interface=::1"));
    assert_eq!(w.json_cache_seconds, 30);
    assert_eq!(w.rest_minimum_version, 2);
    assert_eq!(w.rest_default_limit, 200);
    assert_eq!(w.default_page.as_deref(), Some("console"));
    assert!(w.debug);
    assert_eq!(w.allowed_origins.as_ref().unwrap().len(), 2);
    assert_eq!(w.logfile_name.as_deref(), Some("logs/http.log"));
    assert_eq!(c.http_log_path(), Some(c.base_dir.join("logs/http.log")));
    assert_eq!(w.log_rotate_length, 1_000_000);
    assert_eq!(w.max_rotated_files, 3);
    assert_eq!(w.versions.len(), 2);
    assert_eq!(w.custom_templates_dir, Some(c.base_dir.join("templates")));
    assert_eq!(w.plugin_dirs, vec![c.base_dir.join("plugins")]);
    assert_eq!(w.cookie_expiration_time.as_secs(), 14 * 24 * 3600);
    assert_eq!(w.ws_ping_interval, 25);

    let plugins: Vec<&str> = w.plugins.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(plugins, ["waterfall_view", "console_view", "badges"]);
    assert_eq!(
        w.plugin("badges").unwrap()["color_scheme"]["success"],
        "#4c1"
    );

    let Auth::UserPasswordAuth(auth) = &w.auth else {
        panic!("{:?}", w.auth)
    };
    let users: Vec<(&str, &str)> = auth
        .users
        .iter()
        .map(|(u, p)| (u.as_str(), p.expose()))
        .collect();
    assert_eq!(
        users,
        [
            ("homer", "doh!"),
            ("marge", TEST_SECRET),
            ("bart", "client-secret-from-a-file")
        ]
    );
    assert_eq!(
        auth.users[1].1.source(),
        &SecretSource::Env(TEST_SECRET_VAR.to_owned())
    );

    assert_eq!(w.authz.allow_rules.len(), 8);
    assert_eq!(
        w.authz.allow_rules[1].matcher,
        EndpointMatcher::ForceBuild {
            builder: Some("linux-*".to_owned())
        }
    );
    assert!(!w.authz.allow_rules[7].default_deny);
    assert_eq!(
        w.authz.role_matchers[4],
        RoleMatcher::RolesFromDomain {
            roles: vec![("viewers".to_owned(), vec!["example.com".to_owned()])]
        }
    );
    let names: Vec<&str> = w.avatar_methods.iter().map(|m| m.name()).collect();
    assert_eq!(names, ["github", "gravatar"]);

    let dialects: Vec<&str> = w
        .change_hook_dialects
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(dialects, ["base", "github", "gitlab", "bitbucketcloud"]);
    let github = w.change_hook_dialect("github").unwrap();
    assert_eq!(github.secret("secret").unwrap().expose(), TEST_SECRET);
    assert_eq!(github.options["strict"], true);
    assert_eq!(
        w.change_hook_dialect("gitlab")
            .unwrap()
            .secret("secret")
            .unwrap()
            .expose(),
        "tok"
    );

    assert_eq!(w.ui_default_config["Builders.buildFetchLimit"], 500);
    assert_eq!(w.theme[0].1, "#101010");
    assert_eq!(w.theme[1].1, "#273759");
    assert_eq!(w.theme[11].1, "rgb(1, 2, 3)");

    assert_eq!(c.forceschedulers.len(), 2);
    let force = &c.forceschedulers[0];
    assert_eq!(force["all_fields"].as_array().unwrap().len(), 6);
    assert_eq!(
        force["all_fields"][2]["fields"][0]["fullName"],
        "lib_branch"
    );
    assert_eq!(force["all_fields"][4]["cols"], 80);
    assert_eq!(force["all_fields"][5]["maxsize"], 10 * 1024 * 1024);
    assert_eq!(c.forceschedulers[1]["enabled"], false);
    let spec = &c.forcescheduler_specs[0];
    assert_eq!(spec.reason_string, "forced by %(owner)s because %(reason)s");
    let codebases: Vec<(&str, usize)> = spec
        .codebases
        .iter()
        .map(|cb| (cb.codebase.as_str(), cb.field))
        .collect();
    assert_eq!(codebases, [("", 1), ("lib", 2)]);

    // secrets never show in Debug output
    let debug = format!("{c:?}");
    assert!(!debug.contains(TEST_SECRET) && !debug.contains("doh!"));
}

/// The JSON body of a recorded response.
fn recorded_json(relative: &str) -> Value {
    let path = root()
        .join("fixtures/reference/buildbot-4.3")
        .join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the recordings live in fixtures/reference/buildbot-4.3)",
            path.display()
        )
    });
    let body = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .map(|(_, body)| body)
        .unwrap_or_else(|| panic!("{}: no body", path.display()));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn reference_master_reproduces_the_recorded_force_schedulers() {
    let c = load(&root().join("fixtures/reference/master.toml"));
    let recorded = recorded_json("rest/forceschedulers.compact.http");
    let recorded = recorded["forceschedulers"].as_array().unwrap();
    assert_eq!(c.forceschedulers.len(), recorded.len());
    for (ours, theirs) in c.forceschedulers.iter().zip(recorded) {
        // serde_json's Value compares objects by content, whatever the key order
        assert_eq!(
            ours,
            theirs,
            "\nours:   {}\ntheirs: {}",
            serde_json::to_string(ours).unwrap(),
            serde_json::to_string(theirs).unwrap()
        );
    }
    let codebases: Vec<usize> = c
        .forcescheduler_specs
        .iter()
        .map(|s| s.codebases[0].field)
        .collect();
    assert_eq!(codebases, [1, 1]);
}

#[test]
fn reference_master_matches_the_recorded_config() {
    let c = load(&root().join("fixtures/reference/master.toml"));
    let recorded = recorded_json("ui/config.http");
    assert_eq!(c.buildbot_url, recorded["buildbotURL"]);
    assert_eq!(c.title, recorded["title"]);
    assert_eq!(c.title_url, recorded["titleURL"]);
    let port = c.www.port.as_ref().unwrap();
    assert_eq!(port.text, recorded["port"]);
    assert_eq!(port.socket_addr(), "127.0.0.1:8010");
    assert_eq!(
        c.www.logfile_name.as_deref(),
        recorded["logfileName"].as_str()
    );
    let plugins: serde_json::Map<String, Value> = c.www.plugins.iter().cloned().collect();
    assert_eq!(Value::Object(plugins), recorded["plugins"]);
    assert_eq!(c.www.auth.name(), recorded["auth"]["name"]);
    assert_eq!(
        c.www.avatar_methods[0].name(),
        recorded["avatar_methods"]["name"]
    );
    assert!(c.www.versions.is_empty());
    assert_eq!(c.db.db_url, "sqlite:///state.sqlite");
    let hooks: Vec<&str> = c
        .www
        .change_hook_dialects
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(hooks, ["base"]);
}
