//! The `buildbot-www` command as an operator runs it: exit statuses and messages.

use std::process::Command;

fn buildbot_www() -> Command {
    Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
}

#[test]
fn serve_without_port_refuses_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("master.toml");
    std::fs::write(&config, "title = \"no port\"\n[www]\n").unwrap();
    let out = buildbot_www()
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no `port`"), "{stderr}");
}

#[test]
fn check_config_exits_2_with_location_on_a_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("master.toml");
    std::fs::write(&config, "[www]\nport = 8010\njson_cache_secs = 3\n").unwrap();
    let out = buildbot_www()
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("master.toml:3:"), "{stderr}");
    assert!(
        stderr.contains("json_cache_seconds"),
        "did-you-mean: {stderr}"
    );

    std::fs::write(&config, "[www]\nport = 8010\n").unwrap();
    let out = buildbot_www()
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_corrupt_database_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state.sqlite"), vec![0x42u8; 8192]).unwrap();
    let config = dir.path().join("master.toml");
    std::fs::write(
        &config,
        "[www]\nport = \"tcp:0:interface=127.0.0.1\"\nlogfileName = \"\"\n",
    )
    .unwrap();
    let out = buildbot_www()
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("state.sqlite"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
