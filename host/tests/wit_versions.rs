//! WIT versions side by side: a component built against the frozen `buildbot:www@0.1.0`
//! (`fixtures/plugins/hello_v0_1_0`, raw bindings, no SDK) served over real HTTP next to 0.2.0
//! components built with the SDK; `plugins list` names each one's version and kind; an
//! authentication plugin (world `auth-plugin`) enabled as a UI plugin is refused clearly.

use crate::common;

use sha2::{Digest, Sha256};

async fn get(base: &str, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_0_component_is_served_next_to_0_2_0_ones() {
    let (_dir, config) = common::plugin_site(
        &[("hello", "hello"), ("hello_v0_1_0", "hello_v0_1_0")],
        "[www.plugins]\nhello = true\nhello_v0_1_0 = true\n",
    );
    let state = common::load_state(&config)
        .await
        .expect("the server starts");
    let base = common::serve_state(state).await;

    let (status, page) = get(&base, "/plugins/hello_v0_1_0/").await;
    assert_eq!(
        (status, page.as_str()),
        (200, "0.1.0 user= anonymous=true groups=")
    );
    // 0.1.0's data import answers what /api/v2 answers.
    let (status, body) = get(&base, "/plugins/hello_v0_1_0/read?field=name").await;
    assert_eq!(status, 200, "{body}");
    let from_plugin: serde_json::Value = serde_json::from_str(&body).unwrap();
    let (_, api) = get(&base, "/api/v2/builders?field=name").await;
    let api: serde_json::Value = serde_json::from_str(&api).unwrap();
    assert_eq!(from_plugin["builders"], api["builders"]);
    // Its errors keep 0.1.0's shape: a code and a message.
    let (_, body) = get(&base, "/plugins/hello_v0_1_0/read?limit=x").await;
    assert_eq!(body, "error 400 invalid limit");

    // The 0.2.0 plugin in the same server: its user has roles, and its data errors name the
    // argument at fault.
    let (status, echo) = get(&base, "/plugins/hello/echo").await;
    assert_eq!(status, 200, "{echo}");
    let echo: serde_json::Value = serde_json::from_str(&echo).unwrap();
    assert_eq!(echo["user"]["roles"], serde_json::json!([]));
    let (_, body) = get(&base, "/plugins/hello/read?limit=x").await;
    assert_eq!(body, "error 400 argument=limit invalid limit");
    let (_, body) = get(&base, "/plugins/hello/read?limit=1").await;
    assert!(body.starts_with("{\"builders\":"), "{body}");

    // Both have their entry in the sidebar.
    let (_, page) = get(&base, "/builders").await;
    assert!(page.contains("Hello 0.1.0"), "{page}");
}

#[test]
fn plugins_list_names_each_wit_version_and_kind() {
    let (_dir, config) = common::plugin_site(
        &[
            ("hello", "hello"),
            ("hello_v0_1_0", "hello_v0_1_0"),
            ("auth_stub", "auth_stub"),
        ],
        "[www.plugins]\nhello = true\n",
    );
    let out = common::plugins_list(&config);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name} in:\n{text}"))
            .to_owned()
    };
    let words = |name: &str| {
        line(name)
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(words("hello")[..4], ["hello", "1.0.0", "0.2.0", "yes"]);
    assert_eq!(
        words("hello_v0_1_0")[..4],
        ["hello_v0_1_0", "0.1.0", "0.1.0", "no"]
    );
    assert_eq!(
        words("auth_stub")[..4],
        ["auth_stub", "0.1.0", "0.2.0", "no"]
    );
    let auth = line("auth_stub");
    assert!(
        auth.contains("(authentication plugin, world auth-plugin"),
        "{auth}"
    );
}

#[tokio::test]
async fn enabling_an_auth_plugin_stops_the_start_with_what_it_is() {
    let (_dir, config) = common::plugin_site(
        &[("auth_stub", "auth_stub")],
        "[www.plugins]\nauth_stub = true\n",
    );
    let error = match common::load_state(&config).await {
        Ok(_) => panic!("the server started with an authentication plugin as a UI plugin"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("auth_stub.wasm"), "{error}");
    assert!(
        error.contains("it is an authentication plugin (world auth-plugin of buildbot:www@0.2.0)"),
        "{error}"
    );
    assert!(
        error.contains("enable it with [www.auth] type = \"CustomAuth\", plugin = \"auth_stub\""),
        "{error}"
    );
}

#[test]
fn released_wit_versions_stay_frozen() {
    // A released version is never edited: a change is a new `since_vX` folder. The digest is
    // that of `wit/v0.1.0/ui-plugin.wit` as released.
    let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugin-sdk/wit/since_v0.1.0/ui-plugin.wit");
    let digest = Sha256::digest(std::fs::read(wit).unwrap());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, FROZEN_V0_1_0);
}

const FROZEN_V0_1_0: &str = "a1c15bc437676552b6feb9be2fbfab673322c58402e1ee3bb235e250dff9c14c";
