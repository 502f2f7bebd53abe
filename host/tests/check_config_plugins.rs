//! `check-config` runs every enabled plugin's `init` with its options (a real component, no
//! database), so an option the plugin refuses is reported before serving, with the file, line
//! and column of the option, like every other config error.

use crate::common;

use std::path::Path;

/// Exit code, stdout and stderr of `buildbot-www check-config`.
fn check_config(config: &Path) -> (i32, String, String) {
    let out = common::buildbot_www(&["check-config".as_ref(), config.as_os_str()]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The 1-based number of the line of `config` that is exactly `line`.
fn line_of(config: &Path, line: &str) -> usize {
    let text = std::fs::read_to_string(config).unwrap();
    1 + text
        .lines()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("no line {line:?} in:\n{text}"))
}

#[test]
fn an_option_of_the_wrong_type_is_located_in_the_file() {
    let (_dir, config) = common::plugin_site(
        &[("hello", "hello")],
        "\n[www.plugins.hello]\ngreeting = 1\n",
    );
    let (code, _, stderr) = check_config(&config);
    assert_eq!(code, 2, "{stderr}");
    let first = stderr.lines().next().unwrap();
    let line = line_of(&config, "greeting = 1");
    assert_eq!(
        first,
        format!(
            "{}:{line}:1: error: [www.plugins.hello] greeting: hello: option 'greeting' must be a \
             string, not 1",
            config.display()
        )
    );
    assert!(
        stderr.contains(&format!("{line} | greeting = 1")),
        "{stderr}"
    );
}

#[test]
fn an_unknown_option_is_located_at_its_key() {
    let (_dir, config) = common::plugin_site(
        &[("hello", "hello")],
        "\n[www.plugins.hello]\ngreeting = \"Hi\"\ncolour = \"red\"\n",
    );
    let (code, _, stderr) = check_config(&config);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "{}:{}:1: error: [www.plugins.hello] colour: hello: unknown option 'colour'",
            config.display(),
            line_of(&config, "colour = \"red\"")
        )),
        "{stderr}"
    );
}

#[test]
fn good_plugin_options_pass_and_a_missing_plugin_fails() {
    let (dir, config) = common::plugin_site(
        &[("hello", "hello"), ("hello_v0_1_0", "hello_v0_1_0")],
        "\n[www.plugins]\nhello = true\nhello_v0_1_0 = true\n",
    );
    let (code, stdout, stderr) = check_config(&config);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with("config is valid\n"), "{stdout}");
    // The folders searched: the config's, then the bundled folder beside the binary's folder
    // (not there in a checkout's build).
    let plugins = dir.path().join("plugins");
    assert!(
        stdout.starts_with(&format!("plugin folders: {}, ", plugins.display())),
        "{stdout}"
    );

    let (_dir, config) = common::plugin_site(&[], "\n[www.plugins]\nnowhere = true\n");
    let (code, _, stderr) = check_config(&config);
    assert_ne!(code, 0);
    assert!(stderr.contains("no nowhere.wasm was found"), "{stderr}");
}

/// The badges plugin's own refusals (`kind` is URL-only, `builds` out of range) are located
/// at the option's line like any other.
#[test]
fn badges_options_are_located_in_the_file() {
    for (key, line, message) in [
        (
            "builds",
            "builds = 0",
            "badges: option 'builds' must be a whole number from 1 to 1000, not 0",
        ),
        (
            "kind",
            "kind = \"duration\"",
            "badges: option 'kind' cannot be set in [www.plugins.badges]: a badge's kind is \
             chosen in its URL (kind=duration, kind=pass_rate)",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("master.toml");
        std::fs::write(&config, common::bundled_plugins_config(&[("badges", line)])).unwrap();
        let (code, _, stderr) = check_config(&config);
        assert_eq!(code, 2, "{stderr}");
        let at = line_of(&config, line);
        assert_eq!(
            stderr.lines().next().unwrap(),
            format!(
                "{}:{at}:1: error: [www.plugins.badges] {key}: {message}",
                config.display()
            ),
            "{stderr}"
        );
    }
}
