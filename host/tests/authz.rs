//! Authorization (`[www.authz]`) over real HTTP on a copy of the reference database: the rules
//! of Buildbot 4.3's recorded scenarios (`auth/5-authz/`: rule order, `defaultDeny`, the
//! bodies and codes of refusals), every role matcher, `ViewBuildsEndpointMatcher` (which
//! Buildbot declares and never matches), and the places Buildbot forgets: `/sse`, each live
//! event, UI pages, plugin data reads and badges.

use crate::common;

use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// homer (admin), marge and bart, with passwords; their sessions are minted directly.
const USERS: &str =
    "[www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"doh!\", marge = \"hmm\", bart = \"eat\" }\n";

/// A served copy of the reference database with `authz` (TOML of `[www.authz]`), the bus kept
/// for publishing events, and the badges plugin when `badges` is set.
struct Site {
    server: common::Server,
    events: buildbot_www::events::Events,
}

async fn site(authz: &str, badges: bool) -> Site {
    site_on(None, authz, badges).await
}

/// [`site`] on the database `db_url` names instead of a copy of the reference file.
async fn site_on(db_url: Option<String>, authz: &str, badges: bool) -> Site {
    let dir = common::reference_database_dir();
    let mut config = common::MasterToml::reference().www_toml(&format!("{USERS}\n{authz}"));
    if let Some(url) = db_url {
        config = config.set(&["db", "db_url"], url);
    }
    if badges {
        let plugins = common::bundled_plugins_dir(&["badges"]);
        config = config.plugin_dirs(&[&plugins]);
    }
    let path = config.write(dir.path());
    let state = if badges {
        common::load_state(&path).await.expect("the server starts")
    } else {
        let config = buildbot_www::config::load(&path).expect("config loads");
        let data = buildbot_www::server::data_api(&config).await.unwrap();
        buildbot_www::server::AppState::new(
            config,
            data,
            buildbot_www::plugins::Registry::default(),
        )
        .unwrap()
    };
    let events = state.http.events.clone();
    Site {
        server: common::Server::start(state, dir).await,
        events,
    }
}

impl Site {
    /// A session cookie for a password user (Buildbot's user_info: email = username).
    async fn user(&self, name: &str) -> String {
        common::session_cookie(&self.server, json!({"username": name, "email": name})).await
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> (u16, String, String) {
        let mut request = reqwest::Client::new().get(format!("{}{path}", self.server.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }

    async fn rpc(&self, path: &str, cookie: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/v2/{path}", self.server.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_str(&response.text().await.unwrap()).unwrap(),
        )
    }
}

fn call(method: &str, id: i64, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "id": id, "params": params})
}

fn denied_rpc(id: i64, role: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32600, "message": format!("you need to have role '{role}'")}})
}

async fn ws_status(base: &str, cookie: Option<&str>) -> Result<(), u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/ws", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("websocket: {other}"),
    }
}

const LOCKDOWN: &str = r#"
[www.authz]
allowRules = [{ matcher = "AnyEndpointMatcher", role = "admins" }]
roleMatchers = [{ type = "RolesFromUsername", roles = ["admins"], usernames = ["homer"] }]
"#;

/// Scenario 5b: everything needs `admins`. Refusals have Buildbot's bodies; what Buildbot
/// leaves open stays open, except `/sse`, which Buildbot forgets.
#[tokio::test]
async fn a_read_lockdown_refuses_as_buildbot_does_and_closes_sse() {
    let site = site(LOCKDOWN, false).await;
    let homer = site.user("homer").await;
    let marge = site.user("marge").await;
    let denied = "{\"error\": \"you need to have role 'admins'\"}";
    for path in [
        "/api/v2/builds",
        "/api/v2/nosuch",
        "/api/v2",
        "/api/v2/builds?foo=1",
        "/api/v2/logs/1/raw",
    ] {
        for cookie in [None, Some(marge.as_str())] {
            let (status, content_type, body) = site.get(path, cookie).await;
            assert_eq!(status, 403, "{path} {cookie:?}");
            assert_eq!(content_type, "text/plain; charset=utf-8", "{path}");
            assert_eq!(body, denied, "{path}");
        }
    }
    let (status, _, body) = site.get("/api/v2/builds", Some(&homer)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = site.get("/api/v2/nosuch", Some(&homer)).await;
    assert_eq!(
        (status, body.as_str()),
        (404, "{\"error\": \"Invalid path: nosuch\"}")
    );
    for open in ["/api", "/config"] {
        assert_eq!(site.get(open, None).await.0, 200, "{open}");
    }
    // The websocket handshake is a bare 403, as in Buildbot; /sse is refused too.
    assert_eq!(ws_status(&site.server.base, None).await, Err(403));
    assert_eq!(ws_status(&site.server.base, Some(&marge)).await, Err(403));
    assert_eq!(ws_status(&site.server.base, Some(&homer)).await, Ok(()));
    let (status, _, body) = site.get("/sse/listen/builds/*/*", None).await;
    assert_eq!(
        (status, body.as_str()),
        (403, "you need to have role 'admins'")
    );
    // A UI page read as a refused user shows the refusal, not the data.
    let (status, _, body) = site.get("/builders", Some(&marge)).await;
    assert_eq!(status, 403);
    assert!(body.contains("you need to have role"), "{body}");
    assert!(!body.contains("linux-build"), "{body}");
    assert_eq!(site.get("/builders", Some(&homer)).await.0, 200);
    // A refused anonymous visitor still gets the shell with its login form.
    let (status, _, body) = site.get("/", None).await;
    assert_eq!(status, 403);
    assert!(body.contains("id=\"bb-login\""), "{body}");
    // Control: marge is refused with Buildbot's JSON-RPC body.
    let (status, body) = site
        .rpc(
            "forceschedulers/force",
            Some(&marge),
            call("force", 3, json!({})),
        )
        .await;
    assert_eq!((status, body), (403, denied_rpc(3, "admins")));
    // Hostile calls: a body over the limit, and JSON nested past the parser's depth, are
    // refused with an error; the server goes on.
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        client
            .post(format!("{}/api/v2/builds/1", site.server.base))
            .header("content-type", "application/json")
            .header("cookie", &homer)
            .body(body)
            .send()
    };
    let huge = vec![b' '; buildbot_www::control::MAX_CALL_BYTES + 1];
    assert_eq!(post(huge).await.unwrap().status(), 413);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let response = post(deep.into_bytes()).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
    assert_eq!(site.get("/api/v2/builds", Some(&homer)).await.0, 200);
}

/// Scenario 5a (read-only for all: control needs a role nobody has) and 5c (`defaultDeny =
/// false`: the rule never refuses, the end of the list allows).
#[tokio::test]
async fn control_lockdown_and_default_deny_false() {
    let site = site(
        "[www.authz]\nallowRules = [{ matcher = \"AnyControlEndpointMatcher\", role = \"admins\" }]\n",
        false,
    )
    .await;
    let homer = site.user("homer").await;
    assert_eq!(site.get("/api/v2/builds", None).await.0, 200);
    for (path, method) in [("forceschedulers/force", "force"), ("builds/1", "stop")] {
        let (status, body) = site
            .rpc(path, Some(&homer), call(method, 1, json!({})))
            .await;
        assert_eq!((status, body), (403, denied_rpc(1, "admins")), "{path}");
    }
    let site = site_with_rules(
        "[{ matcher = \"AnyEndpointMatcher\", role = \"admins\", defaultDeny = false }]",
        "[]",
    )
    .await;
    assert_eq!(site.get("/api/v2/builds", None).await.0, 200);
    // Allowed by the rules; then refused only because no master is linked.
    let (status, body) = site
        .rpc("forceschedulers/force", None, call("force", 2, json!({})))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], -32000);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[www.master] url"),
        "{body}"
    );
}

async fn site_with_rules(rules: &str, role_matchers: &str) -> Site {
    site(
        &format!("[www.authz]\nallowRules = {rules}\nroleMatchers = {role_matchers}\n"),
        false,
    )
    .await
}

/// Each role matcher gives its roles from the session's user_info; the first matching rule
/// decides (a later rule that would allow is not reached), and role patterns are globs.
#[tokio::test]
async fn every_role_matcher_and_rule_order() {
    let site = site_with_rules(
        r#"[
            { matcher = "ForceBuildEndpointMatcher", builder = "docs", role = "writers" },
            { matcher = "ForceBuildEndpointMatcher", role = "dev*" },
            { matcher = "AnyControlEndpointMatcher", role = "admins" },
        ]"#,
        r#"[
            { type = "RolesFromGroups", groupPrefix = "bb-" },
            { type = "RolesFromEmails", roles = { writers = ["lisa@springfield.org"] } },
            { type = "RolesFromDomain", roles = { developers = ["plant.org"] } },
            { type = "RolesFromUsername", roles = ["admins", "devops"], usernames = ["homer"] },
        ]"#,
    )
    .await;
    let server = &site.server;
    let cookie = |info: Value| common::session_cookie(server, info);
    let lisa = cookie(json!({"username": "lisa", "email": "lisa@springfield.org"})).await;
    let lenny = cookie(json!({"username": "lenny", "email": "lenny@plant.org"})).await;
    let carl =
        cookie(json!({"username": "carl", "email": "carl@x.org", "groups": ["bb-devs", "other"]}))
            .await;
    let homer = cookie(json!({"username": "homer", "email": "homer@x.org"})).await;
    let moe = cookie(json!({"username": "moe", "email": "moe@bar.org", "groups": ["devs"]})).await;
    let force = |builder: &str| call("force", 7, json!({"builderNames": [builder]}));
    // The docs rule matches only forces of docs: only writers (lisa) pass it; homer, an
    // admin, is refused by it too, because it comes first.
    for (who, cookie) in [("lenny", &lenny), ("carl", &carl), ("homer", &homer)] {
        let (status, body) = site
            .rpc("forceschedulers/force", Some(cookie), force("docs"))
            .await;
        assert_eq!((status, body), (403, denied_rpc(7, "writers")), "{who}");
    }
    // A scheduler this server does not know (only a linked master would): its builders cannot
    // be named here, so the builder rule matches and refuses rather than lets the call through.
    let (status, body) = site
        .rpc(
            "forceschedulers/elsewhere",
            Some(&lenny),
            call("force", 7, json!({})),
        )
        .await;
    assert_eq!((status, body), (403, denied_rpc(7, "writers")));
    // Past the rule (allowed: no master is linked, so 503).
    let (status, _) = site
        .rpc("forceschedulers/force", Some(&lisa), force("docs"))
        .await;
    assert_eq!(status, 503);
    // linux-build: the `dev*` rule. Domain (lenny: developers), groups without the prefix
    // (carl: devs) and usernames (homer: devops) match; lisa and moe (no prefix) do not.
    for (who, cookie, allowed) in [
        ("lenny", &lenny, true),
        ("carl", &carl, true),
        ("homer", &homer, true),
        ("lisa", &lisa, false),
        ("moe", &moe, false),
    ] {
        let (status, body) = site
            .rpc("forceschedulers/force", Some(cookie), force("linux-build"))
            .await;
        if allowed {
            assert_eq!(status, 503, "{who}: {body}");
        } else {
            assert_eq!((status, body), (403, denied_rpc(7, "dev*")), "{who}");
        }
    }
    // Other control: only admins (homer).
    let (status, body) = site
        .rpc("builds/1", Some(&lenny), call("stop", 8, json!({})))
        .await;
    assert_eq!((status, body), (403, denied_rpc(8, "admins")));
    assert_eq!(
        site.rpc("builds/1", Some(&homer), call("stop", 8, json!({})))
            .await
            .0,
        503
    );
    // Reads are not covered by these rules.
    assert_eq!(site.get("/api/v2/builds", None).await.0, 200);
}

const WINDOWS_HIDDEN: &str = r#"
[www.authz]
allowRules = [{ matcher = "ViewBuildsEndpointMatcher", builder = "windows-*", role = "windows" }]
roleMatchers = [{ type = "RolesFromUsername", roles = ["windows"], usernames = ["homer"] }]
"#;

fn ids(body: &str, plural: &str, field: &str) -> Vec<i64> {
    let value: Value = serde_json::from_str(body).unwrap();
    value[plural]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_i64().unwrap())
        .collect()
}

fn total(body: &str) -> i64 {
    serde_json::from_str::<Value>(body).unwrap()["meta"]["total"]
        .as_i64()
        .unwrap()
}

/// `ViewBuildsEndpointMatcher` for real: a builder's builds, their steps, logs and requests
/// (and the builder itself, for a rule about builders only) are hidden from users without
/// the role; collections leave them out before paging, so `total` and `limit` count only
/// what the user sees.
#[tokio::test]
async fn view_builds_hides_a_builder_everywhere() {
    hides_a_builder_everywhere(site(WINDOWS_HIDDEN, false).await).await;
}

/// The same rules on the reference rows in PostgreSQL.
#[tokio::test]
async fn view_builds_hides_a_builder_everywhere_on_postgresql() {
    if let Some(url) = common::postgres::reference_postgres().await {
        hides_a_builder_everywhere(site_on(Some(url), WINDOWS_HIDDEN, false).await).await;
    }
}

async fn hides_a_builder_everywhere(site: Site) {
    let homer = site.user("homer").await;
    let marge = site.user("marge").await;
    // windows-build is builder 2; its builds include 15 to 18.
    let (_, _, all) = site.get("/api/v2/builds?limit=100", Some(&homer)).await;
    let (_, _, seen) = site.get("/api/v2/builds?limit=100", Some(&marge)).await;
    let all_ids = ids(&all, "builds", "buildid");
    let seen_ids = ids(&seen, "builds", "buildid");
    let (_, _, windows) = site
        .get("/api/v2/builders/2/builds?limit=100", Some(&homer))
        .await;
    let windows_ids = ids(&windows, "builds", "buildid");
    assert!(windows_ids.contains(&15) && windows_ids.len() >= 4);
    let expected: Vec<i64> = all_ids
        .iter()
        .copied()
        .filter(|id| !windows_ids.contains(id))
        .collect();
    assert_eq!(seen_ids, expected);
    assert_eq!(total(&seen), expected.len() as i64);
    // Paging counts what is visible.
    let (_, _, page) = site
        .get(
            "/api/v2/builds?order=buildid&limit=3&offset=12&field=buildid",
            Some(&marge),
        )
        .await;
    let mut sorted = expected.clone();
    sorted.sort_unstable();
    assert_eq!(ids(&page, "builds", "buildid"), sorted[12..15].to_vec());
    assert_eq!(total(&page), expected.len() as i64);
    assert_eq!(
        serde_json::from_str::<Value>(&page).unwrap()["builds"][0]
            .as_object()
            .unwrap()
            .len(),
        1,
        "field= still applies"
    );
    // Single entities and what hangs under them.
    let denied = "{\"error\": \"you need to have role 'windows'\"}";
    let step_of_15 = {
        let (_, _, steps) = site.get("/api/v2/builds/15/steps", Some(&homer)).await;
        ids(&steps, "steps", "stepid")[0]
    };
    for path in [
        "/api/v2/builds/15".to_string(),
        "/api/v2/builders/2/builds/1".into(),
        "/api/v2/builders/windows-build/builds".into(),
        "/api/v2/builds/15/steps".into(),
        format!("/api/v2/steps/{step_of_15}"),
        format!("/api/v2/steps/{step_of_15}/logs"),
        "/api/v2/builds/15/properties".into(),
        "/api/v2/buildrequests/15".into(),
        "/api/v2/builders/2".into(),
    ] {
        let (status, _, body) = site.get(&path, Some(&marge)).await;
        assert_eq!((status, body.as_str()), (403, denied), "{path}");
        assert_eq!(site.get(&path, Some(&homer)).await.0, 200, "{path}");
    }
    // Builders and build requests lists leave windows-build out.
    let (_, _, builders) = site.get("/api/v2/builders", Some(&marge)).await;
    assert_eq!(ids(&builders, "builders", "builderid"), [1, 3, 4]);
    let (_, _, requests) = site
        .get("/api/v2/buildrequests?limit=100", Some(&marge))
        .await;
    let value: Value = serde_json::from_str(&requests).unwrap();
    assert!(value["buildrequests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["builderid"] != 2));
    // Other builders' builds are readable.
    assert_eq!(site.get("/api/v2/builds/1", Some(&marge)).await.0, 200);
    // The UI's builders page as marge does not show the hidden builder.
    let (status, _, page) = site.get("/builders", Some(&marge)).await;
    assert_eq!(status, 200);
    assert!(
        !page.contains("windows-build"),
        "hidden builder on the page"
    );
    assert!(page.contains("linux-build"));
}

/// Live events reach only the users who may read what they are about: one event for a
/// hidden build and one for a visible build, published to three subscribers.
#[tokio::test]
async fn live_events_are_filtered_per_user() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let site = site(WINDOWS_HIDDEN, false).await;
    let homer = site.user("homer").await;
    let marge = site.user("marge").await;
    let url = format!("{}/ws", site.server.base.replacen("http://", "ws://", 1));
    let mut sockets = Vec::new();
    for cookie in [Some(&homer), Some(&marge), None] {
        let mut request = url.clone().into_client_request().unwrap();
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert("cookie", cookie.parse().unwrap());
        }
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        ws.send(Message::Text(
            r#"{"cmd": "startConsuming", "path": "builds/*/*", "_id": 1}"#.into(),
        ))
        .await
        .unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        assert!(reply.to_text().unwrap().contains("\"code\":200"), "{reply}");
        ws.send(Message::Text(
            r#"{"cmd": "startConsuming", "path": "builds/*/properties/*", "_id": 2}"#.into(),
        ))
        .await
        .unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        assert!(reply.to_text().unwrap().contains("\"code\":200"), "{reply}");
        sockets.push(ws);
    }
    // SSE too, for marge.
    let sse = reqwest::Client::new()
        .get(format!("{}/sse/listen/builds/*/*", site.server.base))
        .header("cookie", &marge)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let mut sse = sse;
    let message = |buildid: i64, builderid: i64, brid: i64| json!({"buildid": buildid, "number": 1, "builderid": builderid, "buildrequestid": brid});
    // Build 15 is windows-build's (request 15); build 1 is docs' (request 1).
    site.events.publish(buildbot_www::events::Event::new(
        ["builds", "15", "update"],
        message(15, 2, 15),
    ));
    site.events.publish(buildbot_www::events::Event::new(
        ["builds", "1", "update"],
        message(1, 1, 1),
    ));
    // A build's properties, as reading them would be.
    for buildid in ["15", "1"] {
        site.events.publish(buildbot_www::events::Event::new(
            ["builds", buildid, "properties", "update"],
            json!({"branch": ["main", "Build"]}),
        ));
    }
    assert_eq!(next_key(&mut sockets[0]).await, "builds/15/update");
    assert_eq!(next_key(&mut sockets[0]).await, "builds/1/update");
    assert_eq!(
        next_key(&mut sockets[0]).await,
        "builds/15/properties/update"
    );
    assert_eq!(
        next_key(&mut sockets[0]).await,
        "builds/1/properties/update"
    );
    for (socket, who) in [(1, "marge"), (2, "anonymous")] {
        assert_eq!(
            next_key(&mut sockets[socket]).await,
            "builds/1/update",
            "{who} skips 15"
        );
        assert_eq!(
            next_key(&mut sockets[socket]).await,
            "builds/1/properties/update",
            "{who} skips 15's properties"
        );
    }
    let mut text = String::new();
    while !text.contains("\"builds\", \"1\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), sse.chunk())
            .await
            .expect("an SSE chunk")
            .unwrap()
            .expect("the stream goes on");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        !text.contains("\"15\""),
        "marge's stream carried build 15: {text}"
    );
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The key of the next event frame.
async fn next_key(ws: &mut Ws) -> String {
    use futures_util::StreamExt;
    let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("a frame")
        .unwrap()
        .unwrap();
    let frame: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    frame["k"].as_str().unwrap().to_owned()
}

/// A plugin reads data as the requesting user: the badge of a hidden builder is refused to
/// marge and drawn for homer, and a lockdown refuses badges to anonymous readers.
#[tokio::test]
async fn badges_of_hidden_builders_do_not_leak() {
    let site = site(WINDOWS_HIDDEN, true).await;
    let homer = site.user("homer").await;
    let marge = site.user("marge").await;
    let (status, content_type, svg) = site
        .get("/plugins/badges/windows-build.svg", Some(&homer))
        .await;
    assert_eq!((status, content_type.as_str()), (200, "image/svg+xml"));
    assert!(!svg.contains(">unknown<"), "homer sees the status: {svg}");
    let (status, _, body) = site
        .get("/plugins/badges/windows-build.svg", Some(&marge))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("<svg"), "{body}");
    // The other kinds read with the requester's rights too (and keep their readings apart
    // per reader): homer's reading is not marge's.
    for kind in ["duration", "pass_rate", "pass_rate&builds=1"] {
        for ext in ["svg", "png"] {
            let url = format!("/plugins/badges/windows-build.{ext}?kind={kind}");
            let (status, _, body) = site.get(&url, Some(&homer)).await;
            assert_eq!(status, 200, "{url}: {body}");
            let (status, _, body) = site.get(&url, Some(&marge)).await;
            assert_eq!(status, 403, "{url}: {body}");
            assert!(
                !body.contains("<svg") && !body.contains('%'),
                "{url}: {body}"
            );
        }
    }
    assert_eq!(
        site.get("/plugins/badges/linux-build.svg", Some(&marge))
            .await
            .0,
        200
    );
    let site = site_with_badges_lockdown().await;
    let (status, _, body) = site.get("/plugins/badges/linux-build.svg", None).await;
    assert_eq!(status, 403, "{body}");
    for kind in ["duration", "pass_rate"] {
        let url = format!("/plugins/badges/linux-build.svg?kind={kind}");
        assert_eq!(site.get(&url, None).await.0, 403, "{url}");
    }
}

async fn site_with_badges_lockdown() -> Site {
    site(LOCKDOWN, true).await
}

/// Cross-site requests cannot act: a form's content type or a foreign `Origin` is refused
/// before anything else.
#[tokio::test]
async fn cross_site_calls_are_refused() {
    let site = site("", false).await;
    let url = format!("{}/api/v2/forceschedulers/force", site.server.base);
    let body = call("force", 1, json!({})).to_string();
    let client = reqwest::Client::new();
    let send = |content_type: &str, extra: Option<(&str, &str)>| {
        let mut request = client
            .post(&url)
            .header("content-type", content_type)
            .body(body.clone());
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let value: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
            let message = value["error"]["message"].as_str().map(str::to_owned);
            (
                status,
                message.unwrap_or_else(|| panic!("{status}: {value}")),
            )
        }
    };
    assert_eq!(
        send("application/x-www-form-urlencoded", None).await,
        (400, "Invalid content-type (use application/json)".into())
    );
    assert_eq!(
        send("text/plain", None).await,
        (400, "Invalid content-type (use application/json)".into())
    );
    // A foreign origin is refused by the CORS check every `/api` request passes (Buildbot's
    // answer); buildbotURL's origin (the default allowed one) gets through to the action.
    let foreign = client
        .post(&url)
        .header("content-type", "application/json")
        .header("origin", "http://evil.example")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 400);
    assert_eq!(
        foreign.text().await.unwrap(),
        "{\"error\": \"invalid origin\"}"
    );
    let (status, message) = send(
        "application/json",
        Some(("origin", "http://127.0.0.1:8010")),
    )
    .await;
    assert_eq!(status, 503, "{message}");
}

/// The control matchers with `builder` patterns (globs, and regular expressions under
/// `stringsMatcher = "re"`), and `EnableSchedulerEndpointMatcher`: each matches only its own
/// action on its own builders; what it does not match falls to the next rules.
#[tokio::test]
async fn builder_patterns_and_scheduler_rules() {
    let site = site(
        r#"
[www.authz]
stringsMatcher = "re"
allowRules = [
    { matcher = "StopBuildEndpointMatcher", builder = "linux|windows", role = "ops" },
    { matcher = "RebuildBuildEndpointMatcher", builder = "do", role = "writers" },
    { matcher = "EnableSchedulerEndpointMatcher", role = "schedulers" },
    { matcher = "AnyControlEndpointMatcher", role = "admins", defaultDeny = false },
]
roleMatchers = [
    { type = "RolesFromUsername", roles = ["ops"], usernames = ["otto"] },
    { type = "RolesFromUsername", roles = ["writers"], usernames = ["wendy"] },
    { type = "RolesFromUsername", roles = ["schedulers"], usernames = ["sam"] },
]
"#,
        false,
    )
    .await;
    let otto = site.user("otto").await;
    let wendy = site.user("wendy").await;
    let sam = site.user("sam").await;
    // Build 20 is linux-build's (builder 4), build 1 is docs' (builder 1).
    let builder_of = |body: &str| -> i64 {
        serde_json::from_str::<Value>(body).unwrap()["builds"][0]["builderid"]
            .as_i64()
            .unwrap()
    };
    let linux_build = {
        let (_, _, body) = site.get("/api/v2/builders/4/builds?limit=1", None).await;
        serde_json::from_str::<Value>(&body).unwrap()["builds"][0]["buildid"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(builder_of(&site.get("/api/v2/builds/1", None).await.2), 1);
    let stop = |id: i64| (format!("builds/{id}"), call("stop", 4, json!({})));
    // `linux|windows` is matched at the start of the name (Python's re.match).
    let (path, body) = stop(linux_build);
    assert_eq!(
        site.rpc(&path, Some(&wendy), body.clone()).await,
        (403, denied_rpc(4, "ops"))
    );
    assert_eq!(site.rpc(&path, Some(&otto), body).await.0, 503);
    // docs' builds are not matched by the stop rule: AnyControl decides, and it does not
    // deny (defaultDeny = false), so the end of the list allows.
    let (path, body) = stop(1);
    assert_eq!(site.rpc(&path, Some(&wendy), body).await.0, 503);
    // Rebuild: `do` matches docs at the start; wendy may, otto may not.
    let rebuild = call("rebuild", 4, json!({}));
    assert_eq!(
        site.rpc("builds/1", Some(&otto), rebuild.clone()).await,
        (403, denied_rpc(4, "writers"))
    );
    assert_eq!(
        site.rpc("builds/1", Some(&wendy), rebuild.clone()).await.0,
        503
    );
    // A rebuild of linux-build is not matched by the rebuild rule.
    assert_eq!(
        site.rpc(&format!("builds/{linux_build}"), Some(&otto), rebuild)
            .await
            .0,
        503
    );
    // Schedulers.
    let enable = call("enable", 4, json!({"enabled": false}));
    assert_eq!(
        site.rpc("schedulers/1", Some(&otto), enable.clone()).await,
        (403, denied_rpc(4, "schedulers"))
    );
    assert_eq!(site.rpc("schedulers/1", Some(&sam), enable).await.0, 503);
}
