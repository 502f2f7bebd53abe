//! JSON-RPC control over real HTTP: the envelope errors of Buildbot 4.3 (`jsonrpc/`
//! recordings), and every action in standalone mode (no Buildbot master: the rows are written
//! here and the demo activity runner claims, runs and stops them), with the owner rules of
//! the recorded scenario 5d.

use crate::common;

use std::sync::Arc;

use buildbot_www::control::standalone::{Runner, Standalone};
use buildbot_www::control::Control;
use serde_json::{json, Value};

pub(crate) const USERS: &str =
    "[www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"doh!\", marge = \"hmm\", bart = \"eat\" }\n";

/// A recorded call: what was sent and what Buildbot answered.
fn recording(name: &str) -> Value {
    let path = common::reference_dir().join(format!("jsonrpc/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A server over a copy of the reference database (shared with the UI's control tests).
pub(crate) struct Site {
    pub(crate) server: common::Server,
    pub(crate) pool: buildbot_www::db::Pool,
    activity: Option<buildbot_www::fixtures::activity::Activity>,
    /// The server's event bus: a tick announces its writes on it, as `serve` does.
    events: buildbot_www::events::Events,
}

/// The reference database and config with `www` TOML; with `standalone`, control actions go
/// to the standalone backend and a demo activity runner that the test ticks itself.
async fn site(www: &str, standalone: bool) -> Site {
    let config = common::MasterToml::reference()
        .www_toml(&format!("{USERS}\n{www}"))
        .text();
    site_with(&config, standalone).await
}

/// The reference database with a whole config file's text (`USERS` are not added); with
/// `standalone`, as `site`, the runner also playing the config's `[[schedulers]]`.
pub(crate) async fn site_with(config_text: &str, standalone: bool) -> Site {
    let dir = common::reference_database_dir();
    let path = dir.path().join("master.toml");
    std::fs::write(&path, config_text).unwrap();
    let config = buildbot_www::config::load(&path).expect("config loads");
    let schedulers = config.schedulers.clone();
    let data = buildbot_www::server::data_api(&config).await.unwrap();
    let pool = data.pool().clone();
    let state = buildbot_www::server::AppState::new(
        config,
        data,
        buildbot_www::plugins::Registry::default(),
    )
    .unwrap();
    let mut activity = None;
    let mut control = Control::Unavailable;
    if standalone {
        let runner = Arc::new(Runner::default());
        control = Control::Standalone(
            Standalone::new(pool.clone(), state.http.events.clone(), runner.clone())
                .with_schedulers(schedulers),
        );
        activity = Some(
            buildbot_www::fixtures::activity::Activity::new(pool.clone())
                .await
                .unwrap()
                .with_runner(runner),
        );
    }
    let events = state.http.events.clone();
    Site {
        server: common::Server::start(state.with_control(control), dir).await,
        pool,
        activity,
        events,
    }
}

impl Site {
    pub(crate) async fn user(&self, name: &str) -> String {
        common::session_cookie(&self.server, json!({"username": name, "email": name})).await
    }

    async fn post(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
        cookie: Option<&str>,
    ) -> (u16, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.server.base))
            .header("content-type", content_type)
            .body(body.to_owned());
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub(crate) async fn rpc(
        &self,
        path: &str,
        cookie: Option<&str>,
        method: &str,
        params: Value,
    ) -> (u16, Value) {
        let body = json!({"jsonrpc": "2.0", "method": method, "id": 5, "params": params});
        let (status, text) = self
            .post(
                "POST",
                &format!("/api/v2/{path}"),
                "application/json",
                &body.to_string(),
                cookie,
            )
            .await;
        (status, serde_json::from_str(&text).unwrap())
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let text = reqwest::get(format!("{}/api/v2/{path}", self.server.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: {text}"))
    }

    /// One round of the runner, its writes then announced (as `fixtures::activity::run`
    /// does), so reads after it see them.
    pub(crate) async fn tick(&mut self) {
        self.activity.as_mut().unwrap().tick().await.unwrap();
        self.events.sync().await;
    }
}

/// Every envelope error and unsupported action answers as Buildbot 4.3 did.
#[tokio::test]
async fn envelope_errors_match_the_recordings() {
    let site = site("", false).await;
    for name in [
        "bad_version",
        "batch",
        "builder_stop_all",
        "collection_post",
        "delete_method",
        "method_not_string",
        "missing_id",
        "missing_params",
        "not_json",
        "params_list",
        "put_method",
        "root_not_object",
        "unknown_endpoint_post",
        "wrong_content_type",
    ] {
        let recorded = recording(name);
        let request = &recorded["request"];
        let (status, body) = site
            .post(
                request["method"].as_str().unwrap(),
                request["path"].as_str().unwrap(),
                request["content-type"]
                    .as_str()
                    .unwrap_or("application/json"),
                request["body"].as_str().unwrap(),
                None,
            )
            .await;
        assert_eq!(status, recorded["status"], "{name}: {body}");
        let expected: Value = serde_json::from_str(recorded["body"].as_str().unwrap()).unwrap();
        let got: Value = serde_json::from_str(&body).unwrap();
        if name == "not_json" {
            // The code is Buildbot's; the parser's own words differ (Python's json module).
            assert_eq!(got["error"]["code"], expected["error"]["code"]);
            assert!(got["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error: "));
        } else {
            assert_eq!(got, expected, "{name}");
        }
    }
}

/// Force with the reference scheduler: validation errors as recorded, then a buildset written
/// as Buildbot's addBuildset writes it, owned by the logged-in user, run by the runner.
#[tokio::test]
async fn force_validates_and_the_runner_runs_the_build() {
    let mut site = site("", true).await;
    let marge = site.user("marge").await;
    for name in ["force_bad_choice", "force_bad_int"] {
        let recorded = recording(name);
        let (status, body) = site
            .post(
                "POST",
                recorded["request"]["path"].as_str().unwrap(),
                "application/json",
                recorded["request"]["body"].as_str().unwrap(),
                Some(&marge),
            )
            .await;
        let expected: Value = serde_json::from_str(recorded["body"].as_str().unwrap()).unwrap();
        assert_eq!(status, recorded["status"], "{name}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            expected,
            "{name}"
        );
    }
    let (status, body) = site
        .rpc(
            "forceschedulers/force",
            Some(&marge),
            "force",
            json!({"builderid": "1", "reason": "check docs", "username": "Mallory <m@evil.example>",
                   "outcome": "slow", "sleep": "3", "priority": 2}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], 5);
    let bsid = body["result"][0].as_i64().unwrap();
    let brid = body["result"][1]["1"].as_i64().unwrap();
    let buildset = &site.get(&format!("buildsets/{bsid}")).await["buildsets"][0];
    assert_eq!(
        buildset["reason"],
        "A build was forced by 'marge': check docs"
    );
    assert_eq!(buildset["complete"], false);
    assert_eq!(buildset["sourcestamps"][0]["branch"], "main");
    assert_eq!(buildset["sourcestamps"][0]["project"], "oracle");
    let props = &site.get(&format!("buildsets/{bsid}/properties")).await["properties"][0];
    assert_eq!(
        props["owner"],
        json!(["marge", "Force Build Form"]),
        "never the form's name"
    );
    assert_eq!(props["reason"], json!(["check docs", "Force Build Form"]));
    assert_eq!(props["outcome"], json!(["slow", "Force Build Form"]));
    assert_eq!(props["sleep"], json!([3, "Force Build Form"]));
    assert_eq!(props["scheduler"], json!(["force", "Scheduler"]));
    let request = &site.get(&format!("buildrequests/{brid}")).await["buildrequests"][0];
    assert_eq!(request["priority"], 2);
    assert_eq!(request["claimed"], false);
    site.tick().await;
    let request = &site.get(&format!("buildrequests/{brid}")).await["buildrequests"][0];
    assert_eq!(request["claimed"], true);
    let builds = site.get(&format!("buildrequests/{brid}/builds")).await;
    let build = &builds["builds"][0];
    assert_eq!(build["builderid"], 1);
    let buildid = build["buildid"].as_i64().unwrap();
    let props = site.get(&format!("builds/{buildid}/properties")).await;
    assert_eq!(
        props["properties"][0]["scheduler"],
        json!(["force", "Scheduler"])
    );
    // Stop it: it ends cancelled at the runner's next round.
    let (status, body) = site
        .rpc(
            &format!("builds/{buildid}"),
            Some(&marge),
            "stop",
            json!({"reason": "enough"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"id": 5, "jsonrpc": "2.0", "result": null}))
    );
    site.tick().await;
    let build = &site.get(&format!("builds/{buildid}")).await["builds"][0];
    assert_eq!(build["results"], 6);
    assert_eq!(build["state_string"], "cancelled (enough)");
    let buildset = &site.get(&format!("buildsets/{bsid}")).await["buildsets"][0];
    assert_eq!(
        (buildset["complete"].clone(), buildset["results"].clone()),
        (json!(true), json!(6))
    );
    // Stopping it again, or a build that does not exist, is a no-op (as in Buildbot).
    for path in [format!("builds/{buildid}"), "builds/99999".into()] {
        assert_eq!(
            site.rpc(&path, Some(&marge), "stop", json!({})).await.0,
            200
        );
    }
    // A build the runner does not run (a real master's) cannot be stopped from here.
    sqlx::query("UPDATE builds SET complete_at = NULL WHERE id = 1")
        .execute(&site.pool)
        .await
        .unwrap();
    let (status, body) = site.rpc("builds/1", None, "stop", json!({})).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("[www.master] url"));
}

/// Rebuild, cancel (pending, again), priority, worker pause/unpause, scheduler enable, and
/// what does not exist.
#[tokio::test]
async fn rebuild_cancel_and_the_other_actions() {
    let mut site = site("", true).await;
    let (status, body) = site.rpc("builds/1", None, "rebuild", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let bsid = body["result"][0].as_i64().unwrap();
    let old = &site.get("builds/1").await["builds"][0];
    let builderid = old["builderid"].to_string();
    let brid = body["result"][1][&builderid].as_i64().unwrap();
    let buildset = &site.get(&format!("buildsets/{bsid}")).await["buildsets"][0];
    assert_eq!(buildset["reason"], "rebuild");
    assert_eq!(buildset["rebuilt_buildid"], 1);
    let old_request = &site
        .get(&format!("buildrequests/{}", old["buildrequestid"]))
        .await["buildrequests"][0];
    let old_set = &site
        .get(&format!("buildsets/{}", old_request["buildsetid"]))
        .await["buildsets"][0];
    assert_eq!(buildset["sourcestamps"], old_set["sourcestamps"]);
    // Cancel it before the runner claims it: completed as cancelled, with its buildset.
    assert_eq!(
        site.rpc(
            &format!("buildrequests/{brid}"),
            None,
            "set_priority",
            json!({"priority": 9})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        site.get(&format!("buildrequests/{brid}")).await["buildrequests"][0]["priority"],
        9
    );
    let (status, _) = site
        .rpc(
            &format!("buildrequests/{brid}"),
            None,
            "cancel",
            json!({"reason": "no"}),
        )
        .await;
    assert_eq!(status, 200);
    let request = &site.get(&format!("buildrequests/{brid}")).await["buildrequests"][0];
    assert_eq!(
        (request["complete"].clone(), request["results"].clone()),
        (json!(true), json!(6))
    );
    assert_eq!(
        site.get(&format!("buildsets/{bsid}")).await["buildsets"][0]["results"],
        6
    );
    site.tick().await;
    assert_eq!(
        site.get(&format!("buildrequests/{brid}/builds")).await["meta"]["total"],
        0,
        "a cancelled request is not run"
    );
    assert_eq!(
        site.rpc(&format!("buildrequests/{brid}"), None, "cancel", json!({}))
            .await
            .0,
        200,
        "cancelling again is a no-op"
    );
    let (status, body) = site.rpc("builds/99999", None, "rebuild", json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!(-32602))
    );
    assert_eq!(
        site.rpc("buildrequests/99999", None, "cancel", json!({}))
            .await
            .0,
        404
    );
    // Workers.
    let (status, _) = site
        .rpc("workers/2", None, "pause", json!({"reason": "maintenance"}))
        .await;
    assert_eq!(status, 200);
    let worker = &site.get("workers/2").await["workers"][0];
    assert_eq!(
        (worker["paused"].clone(), worker["pause_reason"].clone()),
        (json!(true), json!("maintenance"))
    );
    assert_eq!(
        site.rpc("workers/2", None, "unpause", json!({})).await.0,
        200
    );
    assert_eq!(site.get("workers/2").await["workers"][0]["paused"], false);
    assert_eq!(
        site.rpc("workers/99", None, "pause", json!({})).await.0,
        404
    );
    assert_eq!(site.rpc("workers/2", None, "kill", json!({})).await.0, 503);
    // Schedulers.
    assert_eq!(
        site.rpc("schedulers/1", None, "enable", json!({"enabled": false}))
            .await
            .0,
        200
    );
    assert_eq!(
        site.get("schedulers/1").await["schedulers"][0]["enabled"],
        false
    );
    let (status, body) = site.rpc("schedulers/1", None, "enable", json!({})).await;
    assert_eq!(
        (status, body["error"]["message"].clone()),
        (400, json!({"enabled": "expected true or false"}))
    );
}

/// Scenario 5d: only the owner stops a build, even an admin is refused by the first matching
/// rule, and `cancel` is not `stop`.
#[tokio::test]
async fn only_the_owner_stops_a_build() {
    let mut site = site(
        r#"
[www.authz]
allowRules = [
    { matcher = "StopBuildEndpointMatcher", role = "owner" },
    { matcher = "ForceBuildEndpointMatcher", role = "users" },
    { matcher = "AnyControlEndpointMatcher", role = "admins" },
]
roleMatchers = [
    { type = "RolesFromOwner", role = "owner" },
    { type = "RolesFromUsername", roles = ["users"], usernames = ["marge", "bart"] },
    { type = "RolesFromUsername", roles = ["admins", "users"], usernames = ["homer"] },
]
"#,
        true,
    )
    .await;
    let marge = site.user("marge").await;
    let bart = site.user("bart").await;
    let homer = site.user("homer").await;
    let denied = |role: &str| json!({"jsonrpc": "2.0", "id": 5, "error": {"code": -32600, "message": format!("you need to have role '{role}'")}});
    let force = json!({"builderNames": ["docs"], "reason": "owner test"});
    assert_eq!(
        site.rpc("forceschedulers/force", None, "force", force.clone())
            .await,
        (403, denied("users"))
    );
    let (status, body) = site
        .rpc("forceschedulers/force", Some(&marge), "force", force)
        .await;
    assert_eq!(status, 200, "{body}");
    let brid = body["result"][1]["1"].as_i64().unwrap();
    assert_eq!(
        site.rpc(
            &format!("buildrequests/{brid}"),
            Some(&marge),
            "cancel",
            json!({})
        )
        .await,
        (403, denied("admins"))
    );
    site.tick().await;
    let buildid = site.get(&format!("buildrequests/{brid}/builds")).await["builds"][0]["buildid"]
        .as_i64()
        .unwrap();
    let path = format!("builds/{buildid}");
    for cookie in [None, Some(bart.as_str()), Some(homer.as_str())] {
        assert_eq!(
            site.rpc(&path, cookie, "stop", json!({})).await,
            (403, denied("owner")),
            "{cookie:?}"
        );
    }
    assert_eq!(
        site.rpc("builds/99999", Some(&marge), "stop", json!({}))
            .await,
        (403, denied("owner"))
    );
    assert_eq!(
        site.rpc("builds/1", Some(&marge), "stop", json!({})).await,
        (403, denied("owner"))
    );
    let (status, _) = site
        .rpc(
            &path,
            Some(&marge),
            "stop",
            json!({"reason": "marge stops her build"}),
        )
        .await;
    assert_eq!(status, 200);
    site.tick().await;
    assert_eq!(site.get(&path).await["builds"][0]["results"], 6);
    // Rebuild is "other control": admins only.
    assert_eq!(
        site.rpc("builds/1", Some(&marge), "rebuild", json!({}))
            .await,
        (403, denied("admins"))
    );
    assert_eq!(
        site.rpc("builds/1", Some(&homer), "rebuild", json!({}))
            .await
            .0,
        200
    );
}
