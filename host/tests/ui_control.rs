//! The UI's control actions: which buttons a page shows for which user under `[www.authz]`
//! (none on a read-only server), the force form generated from every parameter type (user
//! text escaped), and, in a real headless Chromium on a standalone site whose demo runner the
//! test ticks, the force dialog's field errors, a forced build that runs, Stop, Rebuild, Cancel,
//! Pause/Unpause, and a refused action showing the server's message.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common;
use crate::common::html::{attr, has_class, text, Find};
use crate::control::{site_with, Site, USERS};
use crate::ui::Browser;

/// A force scheduler for `docs` with every parameter type, a required field and hostile text.
const CHECKED: &str = r#"
[[forceschedulers]]
name = "checked"
label = "Checked <b>build</b>"
button_name = "Checked build"
builder_names = ["docs"]

[[forceschedulers.all_fields]]
type = "text"
name = "ticket"
label = "Ticket"
required = true
tooltip = "the <issue> this build is for"

[[forceschedulers.all_fields]]
type = "int"
name = "retries"
label = "Retries"
default = 1

[[forceschedulers.all_fields]]
type = "nested"
label = "Options"
columns = 2
fields = [
    { type = "bool", name = "clean", label = "Clean" },
    { type = "list", name = "flavour", choices = ["plain", "spicy"], strict = false, default = "plain" },
    { type = "list", name = "targets", choices = ["x86", "arm", "riscv"], multiple = true, default = ["arm"] },
    { type = "textarea", name = "notes" },
    { type = "file", name = "patch" },
    { type = "fixed", name = "pinned", default = "yes" },
    { type = "fixed", name = "stage", default = "ci", hide = false },
]
"#;

const ADMINS_ONLY: &str = r#"
[www.authz]
allowRules = [{ matcher = "AnyControlEndpointMatcher", role = "admins" }]
roleMatchers = [{ type = "RolesFromUsername", roles = ["admins"], usernames = ["homer"] }]
"#;

/// The reference site with the `checked` scheduler and `www` TOML.
async fn control_site(www: &str, standalone: bool) -> Site {
    let config = common::MasterToml::reference()
        .www_toml(&format!("{www}\n{USERS}"))
        .text();
    site_with(&format!("{config}\n{CHECKED}"), standalone).await
}

/// A page's HTML as `cookie`'s user sees it.
async fn page(site: &Site, path: &str, cookie: Option<&str>) -> String {
    let mut request = reqwest::Client::new().get(format!("{}{path}", site.server.base));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// The control buttons of a page: `(method, path)` of each action and the force dialogs.
async fn controls(site: &Site, path: &str, cookie: Option<&str>) -> (Vec<String>, Vec<String>) {
    let html = common::html::parse(&page(site, path, cookie).await);
    let actions = html
        .all("button[data-rpc-method]")
        .into_iter()
        .map(|b| {
            format!(
                "{} {}",
                attr(b, "data-rpc-method"),
                attr(b, "data-rpc-path")
            )
        })
        .collect();
    (actions, html.values("button[data-dialog]", "data-dialog"))
}

/// The path of build 1's page, a finished build.
async fn build_one(site: &Site) -> String {
    let build = &site.get("builds/1").await["builds"][0];
    format!(
        "/builders/{}/builds/{}",
        build["builderid"], build["number"]
    )
}

/// A pending request on `docs` (builder 1), forced over JSON-RPC; its id.
async fn pending_request(site: &Site, cookie: Option<&str>) -> i64 {
    let (status, body) = site
        .rpc(
            "forceschedulers/force-docs",
            cookie,
            "force",
            json!({"builderid": 1}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["result"][1]["1"].as_i64().unwrap()
}

/// `AnyControlEndpointMatcher(role=admins)`: homer gets every button, marge and nobody none.
#[tokio::test]
async fn controls_follow_the_authz_rules() {
    let site = control_site(ADMINS_ONLY, true).await;
    let homer = site.user("homer").await;
    let marge = site.user("marge").await;
    let brid = pending_request(&site, Some(&homer)).await;
    let build = build_one(&site).await;
    let cancel = format!("cancel buildrequests/{brid}");
    let (actions, dialogs) = controls(&site, "/builders/1", Some(&homer)).await;
    assert!(actions.contains(&cancel), "{actions:?}");
    assert_eq!(
        dialogs,
        ["force-force", "force-force-docs", "force-checked"],
        "one button per force scheduler of the builder"
    );
    let (actions, _) = controls(&site, &build, Some(&homer)).await;
    assert_eq!(actions, ["rebuild builds/1"], "a finished build: no stop");
    let (actions, _) = controls(&site, "/pendingbuildrequests", Some(&homer)).await;
    assert!(actions.contains(&cancel), "{actions:?}");
    let (actions, _) = controls(&site, "/workers", Some(&homer)).await;
    assert!(
        actions.contains(&"pause workers/2".to_string()),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| a.starts_with("kill ")),
        "the standalone runner cannot disconnect workers: {actions:?}"
    );
    for cookie in [Some(marge.as_str()), None] {
        for path in ["/builders/1", &build, "/pendingbuildrequests", "/workers"] {
            let (actions, dialogs) = controls(&site, path, cookie).await;
            assert!(
                actions.is_empty() && dialogs.is_empty(),
                "{path} {cookie:?}: {actions:?} {dialogs:?}"
            );
        }
        let html = page(&site, "/builders/1", cookie).await;
        assert!(!html.contains("<dialog"), "no force form either");
    }
}

/// Without a master or a runner nobody gets a button, whatever the rules allow.
#[tokio::test]
async fn a_read_only_server_shows_no_controls() {
    let site = control_site("", false).await;
    let build = build_one(&site).await;
    sqlx::query("UPDATE builds SET complete_at = NULL, results = NULL WHERE id = 1")
        .execute(&site.pool)
        .await
        .unwrap();
    let homer = site.user("homer").await;
    for path in ["/builders/1", &build, "/pendingbuildrequests", "/workers"] {
        let (actions, dialogs) = controls(&site, path, Some(&homer)).await;
        assert!(
            actions.is_empty() && dialogs.is_empty(),
            "{path}: {actions:?} {dialogs:?}"
        );
    }
}

/// The force dialog carries every parameter type as Buildbot's form shows it, defaults
/// filled, `required` marked, `hide` respected, tooltips shown and user text escaped.
#[tokio::test]
async fn the_force_form_has_every_field_type() {
    let site = control_site("", true).await;
    let marge = site.user("marge").await;
    let source = page(&site, "/builders/1", Some(&marge)).await;
    assert!(!source.contains("<b>build</b>") && !source.contains("<issue>"));
    let html = common::html::parse(&source);
    let dialog = html.one("dialog#force-checked");
    assert_eq!(attr(dialog, "data-builderid"), "1");
    assert_eq!(attr(dialog, "data-scheduler"), "checked");
    assert_eq!(text(dialog.one("h2")), "Checked <b>build</b>");
    let field = |name: &str| dialog.one(&format!("[data-fullname=\"{name}\"]"));
    let ticket = field("ticket");
    assert_eq!(attr(ticket, "aria-required"), "true");
    assert_eq!(attr(ticket, "title"), "the <issue> this build is for");
    let ticket_box = dialog.one(".field.required");
    assert!(text(ticket_box.one("label")).contains('*'));
    assert_eq!(
        text(ticket_box.one(".field-tooltip")),
        "the <issue> this build is for"
    );
    ticket_box.one(".field-error[data-error-for=\"ticket\"][hidden]");
    let retries = field("retries");
    assert_eq!(
        (attr(retries, "value"), attr(retries, "inputmode")),
        ("1", "numeric")
    );
    assert_eq!(
        text(dialog.one("fieldset.nested[style=\"--columns: 2\"] > legend")),
        "Options"
    );
    assert_eq!(attr(field("clean"), "type"), "checkbox");
    assert!(field("clean").value().attr("checked").is_none());
    let flavour = field("flavour");
    assert_eq!(attr(flavour, "value"), "plain");
    let choices = dialog.values(
        &format!("datalist#{} option", attr(flavour, "list")),
        "value",
    );
    assert_eq!(
        choices,
        ["plain", "spicy"],
        "a non-strict list takes free text"
    );
    let targets = field("targets");
    assert_eq!(targets.value().name(), "select");
    assert!(targets.value().attr("multiple").is_some());
    let selected: Vec<String> = targets
        .all("option[selected]")
        .into_iter()
        .map(text)
        .collect();
    assert_eq!(selected, ["arm"]);
    assert_eq!(field("notes").value().name(), "textarea");
    assert_eq!(attr(field("patch"), "type"), "file");
    let pinned = field("pinned");
    assert_eq!(
        (attr(pinned, "type"), attr(pinned, "value")),
        ("hidden", "yes"),
        "fixed fields are hidden by default, as in Buildbot"
    );
    let stage = field("stage");
    assert_eq!((attr(stage, "type"), attr(stage, "value")), ("text", "ci"));
    assert!(stage.value().attr("readonly").is_some());
    // The reference scheduler: a username field (the logged-in user's, shown read-only and not
    // sent: the owner is the session's user), a strict list, hidden fixed codebase fields.
    let force = html.one("dialog#force-force");
    let username = force.one("#force-force-username");
    assert_eq!(attr(username, "value"), "marge");
    assert!(username.value().attr("readonly").is_some());
    assert!(username.value().attr("data-fullname").is_none());
    assert_eq!(
        force.one("[data-fullname=\"outcome\"]").value().name(),
        "select"
    );
    let project = force.one("[data-fullname=\"project\"]");
    assert_eq!(
        (attr(project, "type"), attr(project, "value")),
        ("hidden", "oracle")
    );
    assert!(has_class(
        html.one("button[data-dialog=\"force-checked\"]"),
        "force"
    ));
    // Nobody logged in types a name.
    let html = common::html::parse(&page(&site, "/builders/1", None).await);
    let username = html.one("dialog#force-force [data-fullname=\"username\"]");
    assert!(username.value().attr("readonly").is_none());
}

/// Waits until a REST read satisfies `done`.
pub(crate) async fn until(
    site: &Site,
    what: &str,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let value = site.get(path).await;
        if done(&value) {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out: {what}: {value}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The whole round in a browser: field errors in the dialog, a forced build that runs, Stop,
/// Rebuild, Cancel on the pending page, Pause/Unpause, and a refusal's message.
#[tokio::test]
async fn control_actions_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    // The browser's origin is the test server's, not buildbotURL's.
    let mut site = control_site("allowed_origins = [\"http://127.0.0.1:*\"]", true).await;
    let base = site.server.base.clone();
    browser.goto(&format!("{base}/builders/1")).await;
    let long = Duration::from_secs(10);
    browser
        .js("document.querySelector('button[data-dialog=\"force-checked\"]').click(); return null;")
        .await;
    browser
        .wait_for(
            "the dialog",
            "return document.getElementById('force-checked').open;",
            long,
        )
        .await;
    // Nothing in the required field, a bad int: each error next to its field.
    browser
        .js("var d = document.getElementById('force-checked');
             d.querySelector('[data-fullname=\"retries\"]').value = 'many';
             d.querySelector('button[type=submit]').click(); return null;")
        .await;
    let errors = browser
        .wait_for(
            "field errors",
            "var d = document.getElementById('force-checked');
             var t = d.querySelector('[data-error-for=\"ticket\"]');
             var r = d.querySelector('[data-error-for=\"retries\"]');
             return !t.hidden && !r.hidden && [t.textContent, r.textContent];",
            long,
        )
        .await;
    browser.screenshot("force-dialog-errors").await;
    assert!(
        errors[0]
            .as_str()
            .unwrap()
            .contains("needs to be specified"),
        "{errors}"
    );
    assert!(!errors[1].as_str().unwrap().is_empty(), "{errors}");
    assert_eq!(
        browser
            .js("return document.querySelector('#force-checked .form-error').hidden;")
            .await,
        true
    );
    // Filled in: the request is made and the builder page shows it.
    browser
        .js(
            "window.bbBefore = 1; var d = document.getElementById('force-checked');
             d.querySelector('[data-fullname=\"ticket\"]').value = 'T-1';
             d.querySelector('[data-fullname=\"retries\"]').value = '3';
             d.querySelector('[data-fullname=\"clean\"]').checked = true;
             d.querySelector('button[type=submit]').click(); return null;",
        )
        .await;
    browser
        .wait_for(
            "the builder page again",
            "return window.bbBefore === undefined && document.readyState === 'complete';",
            long,
        )
        .await;
    let sets = site.get("buildsets?order=-bsid&limit=1").await;
    let bsid = sets["buildsets"][0]["bsid"].as_i64().unwrap();
    let props = &site.get(&format!("buildsets/{bsid}/properties")).await["properties"][0];
    assert_eq!(props["ticket"][0], "T-1");
    assert_eq!(props["retries"][0], 3);
    assert_eq!(props["clean"][0], true);
    assert_eq!(props["targets"][0], json!(["arm"]));
    assert_eq!(props["pinned"][0], "yes");
    let requests = site.get(&format!("buildrequests?buildsetid={bsid}")).await;
    let brid = requests["buildrequests"][0]["buildrequestid"]
        .as_i64()
        .unwrap();
    browser
        .wait_for(
            "the new request's Cancel button",
            &format!("return !!document.querySelector('tr[data-buildrequestid=\"{brid}\"] button[data-rpc-method=cancel]');"),
            long,
        )
        .await;
    // A tick later it runs; Stop on its page cancels it.
    site.tick().await;
    let builds = site.get(&format!("buildrequests/{brid}/builds")).await;
    let number = builds["builds"][0]["number"].as_i64().unwrap();
    let buildid = builds["builds"][0]["buildid"].as_i64().unwrap();
    browser
        .goto(&format!("{base}/builders/1/builds/{number}"))
        .await;
    browser
        .js("document.querySelector('button[data-rpc-method=stop]').click(); return null;")
        .await;
    browser
        .wait_for(
            "the stop call",
            "return document.documentElement.getAttribute('data-control-calls') === '1';",
            long,
        )
        .await;
    site.tick().await;
    assert_eq!(
        site.get(&format!("builds/{buildid}")).await["builds"][0]["results"],
        6
    );
    // Finished: the refreshed page offers Rebuild.
    browser
        .wait_for(
            "the Rebuild button",
            "return !!document.querySelector('button[data-rpc-method=rebuild]') && !document.querySelector('button[data-rpc-method=stop]');",
            long,
        )
        .await;
    browser
        .js("document.querySelector('button[data-rpc-method=rebuild]').click(); return null;")
        .await;
    let sets = until(&site, "the rebuild", "buildsets?order=-bsid&limit=1", |v| {
        v["buildsets"][0]["rebuilt_buildid"] == json!(buildid)
    })
    .await;
    let rebuilt = sets["buildsets"][0]["bsid"].as_i64().unwrap();
    let brid = site
        .get(&format!("buildrequests?buildsetid={rebuilt}"))
        .await["buildrequests"][0]["buildrequestid"]
        .as_i64()
        .unwrap();
    // Cancel it on the pending page.
    browser.goto(&format!("{base}/pendingbuildrequests")).await;
    browser
        .js(&format!(
            "document.querySelector('tr[data-buildrequestid=\"{brid}\"] button[data-rpc-method=cancel]').click(); return null;"
        ))
        .await;
    until(&site, "the cancel", &format!("buildrequests/{brid}"), |v| {
        v["buildrequests"][0]["complete"] == true && v["buildrequests"][0]["results"] == 6
    })
    .await;
    // Pause and unpause a worker.
    browser.goto(&format!("{base}/workers")).await;
    browser
        .js("document.querySelector('#worker-2 button[data-rpc-method=pause]').click(); return null;")
        .await;
    until(&site, "the pause", "workers/2", |v| {
        v["workers"][0]["paused"] == true
    })
    .await;
    browser
        .wait_for(
            "the Unpause button",
            "return !!document.querySelector('#worker-2 button[data-rpc-method=unpause]');",
            long,
        )
        .await;
    browser
        .js("document.querySelector('#worker-2 button[data-rpc-method=unpause]').click(); return null;")
        .await;
    until(&site, "the unpause", "workers/2", |v| {
        v["workers"][0]["paused"] == false
    })
    .await;
    // A build the runner does not run: the server's refusal shows above the page.
    sqlx::query("UPDATE builds SET complete_at = NULL, results = NULL WHERE id = 1")
        .execute(&site.pool)
        .await
        .unwrap();
    browser
        .goto(&format!("{base}{}", build_one(&site).await))
        .await;
    browser
        .js("document.querySelector('button[data-rpc-method=stop]').click(); return null;")
        .await;
    let message = browser
        .wait_for(
            "the refusal",
            "var m = document.getElementById('bb-control-message'); return !m.hidden && m.textContent;",
            long,
        )
        .await;
    assert!(
        message.as_str().unwrap().contains("[www.master] url"),
        "{message}"
    );
    browser.quit().await;
}
