//! `CustomAuth` over real HTTP: an authentication plugin (the raw-bindings component
//! `fixtures/plugins/auth_stub`, which also misbehaves on demand, and the SDK-built
//! `new-plugin --kind auth` scaffold) and an external command (shell scripts written by the
//! test) checking Basic and form logins; the sessions they issue carry the user info they
//! return; every failure is a clear 5xx that never shows the password, and the server stays up.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

/// The password the failure cases send: no answer may show it.
const SECRET: &str = "s3cret-Pa55word";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET /auth/login` with Basic credentials: (status, session token if set, body).
async fn login(base: &str, user: &str, password: &str) -> (u16, Option<String>, String) {
    let value = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
    let response = client()
        .get(format!("{base}/auth/login"))
        .header("authorization", value)
        .send()
        .await
        .unwrap();
    answer(response).await
}

/// `POST /auth/login` with the form fields.
async fn form_login(base: &str, user: &str, password: &str) -> (u16, Option<String>, String) {
    let response = client()
        .post(format!("{base}/auth/login"))
        .form(&[("username", user), ("password", password)])
        .send()
        .await
        .unwrap();
    answer(response).await
}

async fn answer(response: reqwest::Response) -> (u16, Option<String>, String) {
    let status = response.status().as_u16();
    let token = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.strip_prefix("TWISTED_SESSION="))
        .and_then(|rest| rest.split(';').next())
        .map(str::to_owned);
    (status, token, response.text().await.unwrap())
}

/// `/config`'s `user` with this session.
async fn config_user(base: &str, token: &str) -> Value {
    let text = client()
        .get(format!("{base}/config"))
        .header("cookie", format!("TWISTED_SESSION={token}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["user"].clone()
}

/// A site with `auth_stub` and `scaffolded_auth` in its plugin folder (and `hello`, a UI
/// plugin) and a secret file `stub-password` (`doh!`), served with `www` in `[www]`.
async fn plugin_server(www: &str) -> (tempfile::TempDir, String) {
    let (dir, config) = common::plugin_site(
        &[
            ("auth_stub", "auth_stub"),
            ("scaffolded_auth", "scaffolded_auth"),
            ("hello", "hello"),
        ],
        www,
    );
    std::fs::write(dir.path().join("stub-password"), "doh!\n").unwrap();
    let state = common::load_state(&config)
        .await
        .expect("the server starts");
    (dir, common::serve_state(state).await)
}

const STUB: &str = "[www.auth]\ntype = \"CustomAuth\"\nplugin = \"auth_stub\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_logs_users_in_with_what_it_knows_of_them() {
    // The plugin's options, with a secret read from a file.
    let (_dir, base) = plugin_server(&format!(
        "{STUB}[www.auth.options]\npassword = {{ file = \"stub-password\" }}\n"
    ))
    .await;

    let (status, token, _) = login(&base, "homer", "doh!").await;
    assert_eq!(status, 302);
    let token = token.expect("a session cookie");
    assert_eq!(
        config_user(&base, &token).await,
        json!({
            "username": "homer",
            "full_name": "Homer Simpson",
            "email": "homer@example.com",
            "groups": ["power-plant", "bowling"],
        })
    );

    // The options reached init, the secret resolved: "doh" (its default) is refused, and the
    // plugin sees them.
    let (status, token, body) = login(&base, "homer", "doh").await;
    assert_eq!((status, token, body.as_str()), (401, None, "Unauthorized"));
    let (status, token, _) = form_login(&base, "config", "x").await;
    assert_eq!(status, 302);
    // An empty user name in the answer is the login name; no e-mail: the name, as Buildbot.
    assert_eq!(
        config_user(&base, &token.unwrap()).await,
        json!({"username": "config", "full_name": "{\"password\":\"doh!\"}", "email": "config"})
    );
    let (status, _, _) = form_login(&base, "marge", "doh!").await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_plugin_fails_that_login_clearly_and_the_server_stays_up() {
    let (_dir, base) = plugin_server(&format!(
        "{STUB}[www.plugin_limits.auth_stub]\ndeadline_ms = 300\nmemory_mib = 16\n"
    ))
    .await;
    for (user, status, says) in [
        ("trap", 500, "plugin 'auth_stub' crashed"),
        (
            "hog",
            500,
            "plugin 'auth_stub' exceeded its memory cap of 16 MiB",
        ),
        ("down", 503, "logins cannot be checked now"),
        ("homer", 302, ""),
        // Last: after a call overran, the plugin's calls run at idle priority for a minute,
        // which a loaded machine may starve.
        (
            "spin",
            504,
            "plugin 'auth_stub' did not answer within 300 ms",
        ),
    ] {
        let started = Instant::now();
        let password = if user == "homer" { "doh" } else { SECRET };
        let (got, token, body) = login(&base, user, password).await;
        // The next login after a failure gets a fresh instance: homer logs in.
        assert_eq!(
            (got, token.is_some()),
            (status, status == 302),
            "{user}: {body}"
        );
        assert!(body.contains(says), "{user}: {body}");
        assert!(!body.contains(SECRET), "{user}: {body}");
        assert!(started.elapsed() < Duration::from_secs(5), "{user}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_credentials_are_refused_before_the_plugin() {
    let (_dir, base) = plugin_server(STUB).await;
    // A Basic header past the login's 4 KiB: refused as no credentials.
    let (status, token, _) = login(&base, "homer", &"x".repeat(8000)).await;
    assert_eq!((status, token), (401, None));
    // A form past 4 KiB: 413.
    let (status, _, body) = form_login(&base, "homer", &"x".repeat(8000)).await;
    assert_eq!(status, 413, "{body}");
    // Just under the limit, the plugin gets them and refuses them; homer still logs in.
    let (status, _, _) = login(&base, &"h".repeat(1500), &"x".repeat(1500)).await;
    assert_eq!(status, 401);
    let (status, _, _) = login(&base, "homer", "doh").await;
    assert_eq!(status, 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_scaffold_is_an_authentication_plugin() {
    let (_dir, base) = plugin_server(
        "[www.auth]\ntype = \"CustomAuth\"\nplugin = \"scaffolded_auth\"\n\
         [www.auth.options]\nusers = { homer = \"doh\" }\ngroups = [\"staff\"]\n",
    )
    .await;
    let (status, token, _) = login(&base, "homer", "doh").await;
    assert_eq!(status, 302);
    assert_eq!(
        config_user(&base, &token.unwrap()).await,
        json!({"username": "homer", "email": "homer", "groups": ["staff"]})
    );
    let (status, _, _) = login(&base, "homer", "DOH").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_start_refuses_a_missing_or_wrong_plugin() {
    for (www, says) in [
        (
            "[www.auth]\ntype = \"CustomAuth\"\nplugin = \"nope\"\n",
            "plugin 'nope' is enabled in [www.auth] plugin but no nope.wasm was found",
        ),
        (
            "[www.auth]\ntype = \"CustomAuth\"\nplugin = \"hello\"\n",
            "it is a UI plugin (world ui-plugin of buildbot:www@0.2.0), and [www.auth] plugin \
             needs an authentication plugin",
        ),
        (
            "[www.auth]\ntype = \"CustomAuth\"\nplugin = \"auth_stub\"\n[www.auth.options]\nrefuse = 1\n",
            "plugin 'auth_stub' rejected its config: auth_stub: unknown option 'refuse'",
        ),
    ] {
        let (_dir, config) = common::plugin_site(
            &[("auth_stub", "auth_stub"), ("hello", "hello")],
            www,
        );
        let error = match common::load_state(&config).await {
            Ok(_) => panic!("the server started with {www}"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(says), "{error}");
    }
}

#[test]
fn check_config_locates_an_option_the_plugin_refuses() {
    let (_dir, config) = common::plugin_site(
        &[("auth_stub", "auth_stub")],
        "[www.auth]\ntype = \"CustomAuth\"\nplugin = \"auth_stub\"\n[www.auth.options]\nrefuse = 1\n",
    );
    let out = common::buildbot_www(&["check-config".as_ref(), config.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("master.toml:")
            && err.contains("[www.auth.options] refuse: auth_stub: unknown option 'refuse'"),
        "{err}"
    );
}

/// A site whose `[www.auth]` runs `script` (a shell script written into the base directory)
/// with `extra` TOML in the table.
async fn command_server(script: &str, extra: &str) -> (tempfile::TempDir, String) {
    command_server_running(
        r#"["/bin/sh", "check.sh", "--realm", "test"]"#,
        script,
        extra,
    )
    .await
}

/// [`command_server`] with another `command` (a TOML array).
async fn command_server_running(
    command: &str,
    script: &str,
    extra: &str,
) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::reference_dir().join("state.sqlite"),
        dir.path().join("state.sqlite"),
    )
    .unwrap();
    std::fs::write(dir.path().join("check.sh"), script).unwrap();
    let config = common::MasterToml::sqlite()
        .www_toml(&format!(
            "[www.auth]\ntype = \"CustomAuth\"\ncommand = {command}\n{extra}"
        ))
        .write(dir.path());
    let state = common::load_state(&config)
        .await
        .expect("the server starts");
    (dir, common::serve_state(state).await)
}

/// Accepts homer/doh! with user info on stdout, says it is down for `down`, refuses the rest
/// (and complains on stderr, with the password).
const CHECK: &str = r#"read user; read password
[ "$1 $2" = "--realm test" ] || exit 3
case "$user:$password" in
  "homer:doh!") echo '{"full_name": "Homer J. Simpson", "groups": ["plant"], "realm": "test"}'; exit 0 ;;
  "marge:"*) exit 0 ;;
  "down:"*) exit 75 ;;
  "bad:"*) echo 'welcome!'; exit 0 ;;
esac
echo "refused $user with $password" >&2
exit 1
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_accepts_and_refuses_logins() {
    let (_dir, base) = command_server(CHECK, "").await;
    let (status, token, _) = login(&base, "homer", "doh!").await;
    assert_eq!(status, 302);
    assert_eq!(
        config_user(&base, &token.unwrap()).await,
        json!({
            "username": "homer",
            "full_name": "Homer J. Simpson",
            "email": "homer",
            "groups": ["plant"],
            "realm": "test",
        })
    );
    // No output: the login name alone (and as e-mail, as Buildbot).
    let (status, token, _) = form_login(&base, "marge", "anything").await;
    assert_eq!(status, 302);
    assert_eq!(
        config_user(&base, &token.unwrap()).await,
        json!({"username": "marge", "email": "marge"})
    );
    let (status, token, _) = login(&base, "homer", "doh").await;
    assert_eq!((status, token), (401, None));
    // A second line smuggled into the user name never reaches the command.
    let (status, _, _) = form_login(&base, "homer\ndoh!", "x").await;
    assert_eq!(status, 401);
    // Exit status 75: cannot check now.
    let (status, _, body) = login(&base, "down", SECRET).await;
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains(SECRET));
    // Accepted, but stdout is not user info: a server error, not a login.
    let (status, token, body) = login(&base, "bad", SECRET).await;
    assert_eq!((status, token), (500, None), "{body}");
    assert!(
        !body.contains(SECRET) && !body.contains("welcome"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_hangs_is_killed_at_its_deadline() {
    let script = "echo $$ > shell.pid\nsleep 30 &\necho $! > sleep.pid\nwait\n";
    let (dir, base) = command_server(script, "deadline_ms = 300\n").await;
    let started = Instant::now();
    let (status, token, body) = login(&base, "homer", SECRET).await;
    assert_eq!((status, token), (500, None), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!body.contains(SECRET), "{body}");
    // The shell and its child are gone (or dead, waiting to be reaped).
    for file in ["shell.pid", "sleep.pid"] {
        let pid = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(gone(pid.trim()).await, "{file}: {pid} still runs");
    }
    // A command that cannot start at all: a clear 500 too.
    let (_dir, base) = command_server_running(r#"["./no-such-program"]"#, "", "").await;
    let (status, _, body) = login(&base, "homer", SECRET).await;
    assert_eq!(status, 500, "{body}");
    assert!(!body.contains(SECRET), "{body}");
}

/// Whether process `pid` has ended (within two seconds).
async fn gone(pid: &str) -> bool {
    for _ in 0..40 {
        let stat = std::fs::read_to_string(Path::new("/proc").join(pid).join("stat"));
        match stat {
            Err(_) => return true,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z') =>
            {
                return true
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    false
}

#[test]
fn check_config_refuses_both_or_neither_form() {
    for (table, says) in [
        (
            "type = \"CustomAuth\"\nplugin = \"x\"\ncommand = [\"true\"]\n",
            "give either plugin or command, not both",
        ),
        (
            "type = \"CustomAuth\"\n",
            "CustomAuth needs plugin = \"<name>\"",
        ),
        (
            "type = \"CustomAuth\"\ncommand = [\"true\"]\noptions = { a = 1 }\n",
            "options are an authentication plugin's",
        ),
        (
            "type = \"CustomAuth\"\nplugin = \"x\"\ndeadline_ms = 10\n",
            "[www.plugin_limits.x] deadline_ms",
        ),
        (
            "type = \"CustomAuth\"\nplugin = \"a-b\"\n",
            "is not a plugin name",
        ),
        (
            "type = \"CustomAuth\"\ncommand = []\n",
            "needs at least the program to run",
        ),
    ] {
        let text = format!("[db]\ndb_url = \"sqlite:///state.sqlite\"\n[www.auth]\n{table}");
        let error = buildbot_www::config::parse(&text, Path::new("master.toml"))
            .err()
            .unwrap_or_else(|| panic!("accepted:\n{text}"))
            .to_string();
        assert!(error.contains(says), "{error}");
    }
}
