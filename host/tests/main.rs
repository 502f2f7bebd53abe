//! The host's integration tests, one module per concern, linked into one test binary (`www`):
//! the server and wasmtime are compiled and linked once instead of once per file. Run one
//! module with `cargo test -p buildbot-www --test www badges::`.

mod common;

mod auth;
mod auth_custom;
mod auth_oauth2;
mod authz;
mod avatar;
mod badges;
// Buildbot's UI tests use the browser helpers of `ui` and the demo activity runner.
#[cfg(feature = "demo")]
mod buildbot_ui;
mod buildbot_ui_serving;
mod change_hooks;
mod check_config_plugins;
mod cli;
mod config_files;
mod console_view;
// The standalone control tests drive the demo activity runner.
#[cfg(feature = "demo")]
mod control;
// The tarball serves the demo dataset (`load-fixtures`).
#[cfg(feature = "demo")]
mod dist;
mod docs_example;
mod hardening;
mod hooks_master;
mod ldap;
mod lifecycle;
mod log_search;
mod master_link;
mod metrics;
// The demo dataset and activity runner are behind the host's `demo` feature (on by default).
#[cfg(feature = "demo")]
mod live;
mod live_order;
mod plugin_sandbox;
mod plugins;
mod postgres;
mod postgres_instances;
mod projects_active;
mod proxies;
mod query_paging;
mod reference_api;
mod rest_cache;
mod sdk_examples;
#[cfg(feature = "demo")]
mod ui;
#[cfg(feature = "demo")]
mod ui_badge_page;
#[cfg(feature = "demo")]
mod ui_control;
mod ui_sanitizer;
#[cfg(feature = "demo")]
mod ui_trends;
mod view_layouts;
mod waterfall_view;
mod wit_versions;
mod www_keys;

/// Cargo builds only this file's modules (`autotests = false`): a test file added next to
/// them without a `mod` line here would never run, so this fails until it has one.
#[test]
fn every_test_file_is_a_module() {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = std::fs::read_to_string(here.join("main.rs")).unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&here).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let module = path.extension().is_some_and(|e| e == "rs") || path.join("mod.rs").is_file();
        if module && stem != "main" && !main.contains(&format!("\nmod {stem};\n")) {
            missing.push(path.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "add `mod NAME;` to host/tests/main.rs for {missing:?}"
    );
}
