//! Logging in and out with `UserPasswordAuth` over real HTTP, and sessions Buildbot 4.3 can
//! share: the token format, the secret in `object_state`, tokens minted by another
//! implementation (Python's standard library, as Buildbot's PyJWT does it), and the holes of
//! Buildbot's sessions that are closed here.

use crate::common;

use std::process::Command;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;

const USERS: &str = "[www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"doh!\", marge = \"blue hair\" }\n";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

async fn login(base: &str, authorization: Option<&str>, query: &str) -> reqwest::Response {
    let mut request = client().get(format!("{base}/auth/login{query}"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.unwrap()
}

/// The session token a login answer sets.
fn session_token(response: &reqwest::Response) -> String {
    let cookies: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 1, "one Set-Cookie: {cookies:?}");
    let cookie = cookies[0];
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http buildbotURL: {cookie}"
    );
    cookie
        .strip_prefix("TWISTED_SESSION=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned()
}

/// `/config`'s `user`, with the session token as a cookie (if any).
async fn config_user(base: &str, token: Option<&str>) -> Value {
    let mut request = client().get(format!("{base}/config"));
    if let Some(token) = token {
        request = request.header("cookie", format!("other=1; TWISTED_SESSION={token}"));
    }
    let config: Value =
        serde_json::from_str(&request.send().await.unwrap().text().await.unwrap()).unwrap();
    config["user"].clone()
}

/// Runs Python 3 (standard library only) and returns what it prints.
fn python(script: &str, args: &[&str]) -> String {
    run_python("python3", script, args)
}

/// Runs `interpreter` on `script` and returns what it prints.
fn run_python(interpreter: &str, script: &str, args: &[&str]) -> String {
    let output = Command::new(interpreter)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("{interpreter} runs (apt-get install python3): {err}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Mints an HS256 token the way PyJWT (Buildbot's) writes one: `python3 - KEY CLAIMS [ALG]`.
const MINT: &str = r#"
import base64, hashlib, hmac, json, sys
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
alg = sys.argv[3] if len(sys.argv) > 3 else "HS256"
header = b64(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
payload = b64(sys.argv[2].encode())
sig = hmac.new(sys.argv[1].encode(), (header + "." + payload).encode(), hashlib.sha256).digest()
print(header + "." + payload + "." + b64(sig))
"#;

/// Verifies a token with the secret, as PyJWT would: prints the claims or `bad`.
const CHECK: &str = r#"
import base64, hashlib, hmac, json, sys
token, key = sys.argv[1], sys.argv[2]
header, payload, sig = token.split(".")
pad = lambda s: s + "=" * (-len(s) % 4)
want = hmac.new(key.encode(), (header + "." + payload).encode(), hashlib.sha256).digest()
ok = hmac.compare_digest(want, base64.urlsafe_b64decode(pad(sig)))
ok = ok and json.loads(base64.urlsafe_b64decode(pad(header))) == {"alg": "HS256", "typ": "JWT"}
print(base64.urlsafe_b64decode(pad(payload)).decode() if ok else "bad")
"#;

#[tokio::test]
async fn no_auth_has_no_login_and_everyone_is_anonymous() {
    let server = common::serve_reference().await;
    let response = login(&server.base, Some(&basic("homer", "doh!")), "").await;
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("set-cookie").is_none());
    let config: Value = client()
        .get(format!("{}/config", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(config["auth"], serde_json::json!({"name": "NoAuth"}));
    assert_eq!(config["user"], serde_json::json!({"anonymous": true}));
}

#[tokio::test]
async fn a_password_login_gives_a_session_that_logout_ends() {
    let server =
        common::serve_reference_config(common::MasterToml::reference().www_toml(USERS)).await;
    let base = &server.base;
    // no credentials, a wrong password, an unknown user, another scheme: 401 with a challenge
    for authorization in [
        None,
        Some(basic("homer", "doh")),
        Some(basic("bart", "doh!")),
        Some("Bearer doh".to_owned()),
        Some("Basic %%%".to_owned()),
    ] {
        let response = login(base, authorization.as_deref(), "").await;
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"buildbot\""
        );
        assert!(response.headers().get("set-cookie").is_none());
    }
    let response = login(base, Some(&basic("homer", "doh!")), "?redirect=/builders/2").await;
    assert_eq!(response.status(), 302);
    let buildbot_url = {
        let config: Value = client()
            .get(format!("{base}/config"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        assert_eq!(config["auth"]["name"], "UserPasswordAuth");
        config["buildbotURL"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        format!("{buildbot_url}#/builders/2")
    );
    let token = session_token(&response);
    let homer = serde_json::json!({"username": "homer", "email": "homer"});
    assert_eq!(config_user(base, Some(&token)).await, homer);
    assert_eq!(
        config_user(base, None).await,
        serde_json::json!({"anonymous": true})
    );
    // REST reads work with the cookie
    let status = client()
        .get(format!("{base}/api/v2/builders"))
        .header("cookie", format!("TWISTED_SESSION={token}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    // a changed token is anonymous
    let mut forged: Vec<String> = token.split('.').map(str::to_owned).collect();
    forged[1] = URL_SAFE_NO_PAD.encode(r#"{"user_info":{"username":"admin"},"exp":9999999999}"#);
    assert_eq!(
        config_user(base, Some(&forged.join("."))).await,
        serde_json::json!({"anonymous": true})
    );
    // logout: the cookie goes, and the same token is refused afterwards
    let response = client()
        .get(format!("{base}/auth/logout?redirect=https://evil.example/"))
        .header("cookie", format!("TWISTED_SESSION={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        format!("{buildbot_url}#/"),
        "an off-site redirect is not followed"
    );
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("TWISTED_SESSION=;") && cookie.contains("Max-Age=0"));
    assert_eq!(
        config_user(base, Some(&token)).await,
        serde_json::json!({"anonymous": true})
    );
    // the other user still logs in
    let response = login(base, Some(&basic("marge", "blue hair")), "").await;
    assert_eq!(response.status(), 302);
    let marge = session_token(&response);
    assert_eq!(config_user(base, Some(&marge)).await["username"], "marge");
}

#[tokio::test]
async fn the_login_form_is_accepted_too() {
    let server =
        common::serve_reference_config(common::MasterToml::reference().www_toml(USERS)).await;
    let response = client()
        .post(format!("{}/auth/login?redirect=/", server.base))
        .form(&[("username", "homer"), ("password", "doh!")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let token = session_token(&response);
    assert_eq!(
        config_user(&server.base, Some(&token)).await["username"],
        "homer"
    );
    let response = client()
        .post(format!("{}/auth/login", server.base))
        .form(&[("username", "homer"), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // no Basic challenge, which would put the browser's password dialog over the form
    assert_eq!(
        response.headers()["www-authenticate"],
        "Form realm=\"buildbot\""
    );
    let response = client()
        .put(format!("{}/auth/login", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn sessions_are_shared_with_buildbot_through_the_database_secret() {
    let server =
        common::serve_reference_config(common::MasterToml::reference().www_toml(USERS)).await;
    let base = &server.base;
    let response = login(base, Some(&basic("homer", "doh!")), "").await;
    let ours = session_token(&response);
    let secret = common::session_secret(&server).await;
    // our token verifies with the secret in another implementation, with Buildbot's claims
    let claims: Value = serde_json::from_str(&python(CHECK, &[&ours, &secret])).unwrap();
    assert_eq!(
        claims["user_info"],
        serde_json::json!({"username": "homer", "email": "homer"})
    );
    let lifetime = common::seconds_until(claims["exp"].as_i64().unwrap());
    assert!(
        (604_700..=604_800).contains(&lifetime),
        "a week: {lifetime}"
    );
    // a token a Buildbot master minted with the same secret is accepted here
    let theirs = python(
        MINT,
        &[
            &secret,
            r#"{"user_info":{"username":"bart","email":"bart@example.org"},"exp":9999999999}"#,
        ],
    );
    assert_eq!(
        config_user(base, Some(&theirs)).await,
        serde_json::json!({"username": "bart", "email": "bart@example.org"})
    );
    // what Buildbot accepts and this server does not: no exp, an expired one, another algorithm
    for (claims, alg) in [
        (r#"{"user_info":{"username":"bart"}}"#, "HS256"),
        (r#"{"user_info":{"username":"bart"},"exp":1}"#, "HS256"),
        (
            r#"{"user_info":{"username":"bart"},"exp":9999999999}"#,
            "HS512",
        ),
    ] {
        let token = python(MINT, &[&secret, claims, alg]);
        assert_eq!(
            config_user(base, Some(&token)).await,
            serde_json::json!({"anonymous": true}),
            "{claims} {alg}"
        );
    }
    // another secret: anonymous
    let other = python(
        MINT,
        &[
            "0123456789abcdef0123456789abcdef",
            r#"{"user_info":{"username":"bart"},"exp":9999999999}"#,
        ],
    );
    assert_eq!(
        config_user(base, Some(&other)).await,
        serde_json::json!({"anonymous": true})
    );
}

#[tokio::test]
async fn the_secret_buildbot_left_is_used_and_one_is_made_when_missing() {
    // The reference database was written by a Buildbot master, which left its secret there.
    let server =
        common::serve_reference_config(common::MasterToml::reference().www_toml(USERS)).await;
    let before = common::session_secret(&server).await;
    let response = login(&server.base, Some(&basic("homer", "doh!")), "").await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        common::session_secret(&server).await,
        before,
        "Buildbot's secret is kept"
    );
    let token = session_token(&response);
    assert_ne!(python(CHECK, &[&token, &before]), "bad");

    // A database without one (a new master, or the row deleted to end every session).
    let server =
        common::serve_reference_config(common::MasterToml::reference().www_toml(USERS)).await;
    let pool = buildbot_www::db::open_file(&server.dir.path().join("state.sqlite"))
        .await
        .unwrap();
    sqlx::query("DELETE FROM objects WHERE name = 'www'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM object_state WHERE name = 'session_secret'")
        .execute(&pool)
        .await
        .unwrap();
    let response = login(&server.base, Some(&basic("homer", "doh!")), "").await;
    assert_eq!(response.status(), 302);
    let made = common::session_secret(&server).await;
    assert_ne!(made, before);
    assert_eq!(made.len(), 32, "32 hex digits, as Buildbot makes it");
    assert!(made.chars().all(|c| c.is_ascii_hexdigit()), "{made}");
    let token = session_token(&response);
    assert_ne!(python(CHECK, &[&token, &made]), "bad");
    assert_eq!(python(CHECK, &[&token, &before]), "bad");
    let rows: (i64,) = sqlx::query_as(
        "SELECT count(*) FROM object_state JOIN objects ON objects.id = object_state.objectid \
         WHERE objects.name = 'www' AND object_state.name = 'session_secret'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(rows.0, 1);
}

#[tokio::test]
async fn repeated_failures_are_slowed_down() {
    let server =
        common::serve_reference_config(common::MasterToml::reference().www_toml(USERS)).await;
    let base = &server.base;
    for _ in 0..5 {
        let response = login(base, Some(&basic("homer", "guess")), "").await;
        assert_eq!(response.status(), 401);
    }
    // even the right password waits now, without being checked
    let response = login(base, Some(&basic("homer", "doh!")), "").await;
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    // the same address is slowed down for other names too
    let response = login(base, Some(&basic("marge", "blue hair")), "").await;
    assert_eq!(response.status(), 429);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let response = login(base, Some(&basic("homer", "doh!")), "").await;
    assert_eq!(response.status(), 302);
}

/// Writes an htpasswd file with Apache's own `htpasswd` tool: one user per hash kind
/// (`(user, flag)`), each with the password `pw-<user>`.
fn htpasswd_file(dir: &std::path::Path, users: &[(&str, &str)]) -> std::path::PathBuf {
    let path = dir.join("users.htpasswd");
    for (i, (user, flag)) in users.iter().enumerate() {
        let create = if i == 0 { "c" } else { "" };
        let status = Command::new("htpasswd")
            .arg(format!("-b{create}{flag}"))
            .arg(&path)
            .arg(user)
            .arg(format!("pw-{user}"))
            .stderr(std::process::Stdio::null())
            .status()
            .expect("htpasswd runs (apt-get install apache2-utils)");
        assert!(status.success(), "htpasswd -b{create}{flag}");
    }
    path
}

fn htpasswd_config(path: &std::path::Path) -> common::MasterToml {
    common::MasterToml::reference().www_toml(&format!(
        "[www.auth]\ntype = \"HTPasswdAuth\"\npasswdFile = {:?}\n",
        path.display().to_string()
    ))
}

#[tokio::test]
async fn htpasswd_files_are_checked_with_their_real_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let kinds = [
        ("bcrypt", "B"),
        ("apr1", "m"),
        ("sha1", "s"),
        ("sha256", "2"),
        ("sha512", "5"),
        ("plain", "p"),
    ];
    let path = htpasswd_file(dir.path(), &kinds);
    let text = std::fs::read_to_string(&path).unwrap();
    for prefix in [
        "bcrypt:$2y$",
        "apr1:$apr1$",
        "sha1:{SHA}",
        "sha256:$5$",
        "sha512:$6$",
    ] {
        assert!(text.contains(prefix), "{prefix} in {text}");
    }
    // A server per kind: the failures below would otherwise trip the login throttle.
    for (user, _) in kinds {
        let server = common::serve_reference_config(htpasswd_config(&path)).await;
        let response = login(&server.base, Some(&basic(user, &format!("pw-{user}"))), "").await;
        assert_eq!(response.status(), 302, "{user}");
        let token = session_token(&response);
        assert_eq!(
            config_user(&server.base, Some(&token)).await["username"],
            user
        );
        // Buildbot accepts the stored hash itself as the password: not here
        let stored = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{user}:")))
            .unwrap();
        if user != "plain" {
            let response = login(&server.base, Some(&basic(user, stored)), "").await;
            assert_eq!(response.status(), 401, "{user} with its hash");
        }
        let response = login(&server.base, Some(&basic(user, "pw-wrong")), "").await;
        assert_eq!(response.status(), 401, "{user} with a wrong password");
    }
    let server = common::serve_reference_config(htpasswd_config(&path)).await;
    // user names are case-sensitive; an unknown user is refused
    let response = login(&server.base, Some(&basic("BCRYPT", "pw-bcrypt")), "").await;
    assert_eq!(response.status(), 401);
    // the file is read at each login: a user added now logs in at once
    htpasswd_file_add(&path, "late", "B");
    let response = login(&server.base, Some(&basic("late", "pw-late")), "").await;
    assert_eq!(response.status(), 302);
}

fn htpasswd_file_add(path: &std::path::Path, user: &str, flag: &str) {
    let status = Command::new("htpasswd")
        .arg(format!("-b{flag}"))
        .arg(path)
        .arg(user)
        .arg(format!("pw-{user}"))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn an_htpasswd_hash_that_cannot_be_checked_is_refused_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = htpasswd_file(dir.path(), &[("homer", "B"), ("des", "d")]);
    std::fs::copy(
        common::reference_dir().join("state.sqlite"),
        dir.path().join("state.sqlite"),
    )
    .unwrap();
    let config_path = htpasswd_config(&path).write(dir.path());
    // check-config reads the file as start-up does
    let checked = common::buildbot_www(&["check-config".as_ref(), config_path.as_os_str()]);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(!checked.status.success());
    assert!(
        stderr.contains("users.htpasswd:2:") && stderr.contains("DES"),
        "{stderr}"
    );
    let config = buildbot_www::config::load(&config_path).expect("the config itself is fine");
    let data = buildbot_www::server::data_api(&config).await.unwrap();
    let Err(err) = buildbot_www::server::AppState::new(
        config,
        data,
        buildbot_www::plugins::Registry::default(),
    ) else {
        panic!("the server started with a DES entry in its password file");
    };
    let message = format!("{err:#}");
    assert!(
        message.contains("users.htpasswd:2:") && message.contains("DES"),
        "{message}"
    );
    assert!(!message.contains("pw-des"), "{message}");
}

const REMOTE_USER: &str = "[www.auth]\ntype = \"RemoteUserAuth\"\n";

/// `/config`'s `user` for a request with these headers (and no cookie unless given).
async fn config_user_with(base: &str, headers: &[(&str, &str)]) -> Value {
    let mut request = client().get(format!("{base}/config"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let config: Value =
        serde_json::from_str(&request.send().await.unwrap().text().await.unwrap()).unwrap();
    config["user"].clone()
}

#[tokio::test]
async fn a_remote_user_is_read_from_the_proxy_header_on_every_request() {
    let server =
        common::serve_reference_config(common::MasterToml::reference().www_toml(REMOTE_USER)).await;
    let base = &server.base;
    let homer = serde_json::json!({"username": "homer", "email": "homer", "realm": "EXAMPLE.COM"});
    // any path, not only `/`; the header name in any case
    for name in ["REMOTE_USER", "remote_user"] {
        assert_eq!(
            config_user_with(base, &[(name, "homer@EXAMPLE.COM")]).await,
            homer
        );
    }
    // the whole value must match (Buildbot accepts a prefix), another header is not this one
    for (name, value) in [
        ("REMOTE_USER", "homer@EXAMPLE@COM"),
        ("REMOTE_USER", "homer@EXAMPLE.COM trailing"),
        ("REMOTE_USER", "homer"),
        ("Remote-User", "homer@EXAMPLE.COM"),
    ] {
        assert_eq!(
            config_user_with(base, &[(name, value)]).await,
            serde_json::json!({"anonymous": true}),
            "{name}: {value}"
        );
    }
    // a valid session cookie of homer's counts for nothing without the header
    let secret = common::session_secret(&server).await;
    let token = python(
        MINT,
        &[
            &secret,
            r#"{"user_info":{"username":"homer","email":"homer"},"exp":9999999999}"#,
        ],
    );
    let cookie = format!("TWISTED_SESSION={token}");
    assert_eq!(
        config_user_with(base, &[("cookie", &cookie)]).await,
        serde_json::json!({"anonymous": true})
    );
    // and the header wins over a cookie of somebody else
    let marge = config_user_with(base, &[("cookie", &cookie), ("REMOTE_USER", "marge@X")]).await;
    assert_eq!(marge["username"], "marge");
    // REST reads, password logins are not this method's
    let status = client()
        .get(format!("{base}/api/v2/builders"))
        .header("REMOTE_USER", "homer@EXAMPLE.COM")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let response = login(base, Some(&basic("homer", "doh!")), "").await;
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn a_remote_user_header_and_expression_can_be_chosen() {
    let www = "[www.auth]\ntype = \"RemoteUserAuth\"\nheader = \"X-Forwarded-User\"\n\
               headerRegex = '(?P<username>[a-z]+)(/(?P<team>[a-z]+))?'\n";
    let server =
        common::serve_reference_config(common::MasterToml::reference().www_toml(www)).await;
    assert_eq!(
        config_user_with(&server.base, &[("x-forwarded-user", "lisa/jazz")]).await,
        serde_json::json!({"username": "lisa", "email": "lisa", "team": "jazz"})
    );
    assert_eq!(
        config_user_with(&server.base, &[("x-forwarded-user", "lisa")]).await,
        serde_json::json!({"username": "lisa", "email": "lisa"})
    );
    assert_eq!(
        config_user_with(&server.base, &[("REMOTE_USER", "lisa@X")]).await,
        serde_json::json!({"anonymous": true})
    );
    // an expression without a username group is refused at start, naming the key
    let error = common::start_up_error(
        "[www.auth]\ntype = \"RemoteUserAuth\"\nheaderRegex = '(?P<user>.+)'\n",
    )
    .await;
    assert!(
        error.contains("headerRegex") && error.contains("username"),
        "{error}"
    );
}

/// Debian's Python, where `python3-jwt` installs PyJWT (a `python3` earlier on the PATH may be
/// another installation).
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// PyJWT (`python3-jwt`, the library Buildbot signs its sessions with) reads our tokens, and we
/// read its.
const PYJWT: &str = r#"
import json, sys, jwt
mode, key = sys.argv[1], sys.argv[2]
if mode == "decode":
    print(json.dumps(jwt.decode(sys.argv[3], key, algorithms=["HS256"])))
else:
    print(jwt.encode(json.loads(sys.argv[3]), key, algorithm="HS256"))
"#;

#[tokio::test]
async fn sessions_interoperate_with_pyjwt() {
    let server =
        common::serve_reference_config(common::MasterToml::reference().www_toml(USERS)).await;
    let base = &server.base;
    let ours = session_token(&login(base, Some(&basic("marge", "blue hair")), "").await);
    let secret = common::session_secret(&server).await;
    let claims: Value = serde_json::from_str(&run_python(
        DEBIAN_PYTHON,
        PYJWT,
        &["decode", &secret, &ours],
    ))
    .unwrap();
    assert_eq!(
        claims["user_info"],
        serde_json::json!({"username": "marge", "email": "marge"})
    );
    let theirs = run_python(
        DEBIAN_PYTHON,
        PYJWT,
        &[
            "encode",
            &secret,
            r#"{"user_info":{"username":"lisa","full_name":"Lisa Simpson","groups":["jazz"]},"exp":9999999999}"#,
        ],
    );
    assert_eq!(
        config_user(base, Some(&theirs)).await,
        serde_json::json!({"username": "lisa", "full_name": "Lisa Simpson", "groups": ["jazz"]})
    );
}

#[tokio::test]
async fn huge_or_malformed_credentials_are_refused_and_the_server_stays_up() {
    let server =
        common::serve_reference_config(common::MasterToml::reference().www_toml(USERS)).await;
    let base = &server.base;
    let long = "x".repeat(6000);
    for authorization in [
        basic("homer", &long),
        basic(&long, "doh!"),
        "Basic ".to_owned() + &"A".repeat(6000),
        "Basic aG9tZXI6".to_owned() + &"=".repeat(10),
        "Basic //8=".to_owned(), // not UTF-8
        "Basicaaa".to_owned(),
    ] {
        let status = login(base, Some(&authorization), "").await.status();
        assert!(
            status == 401 || status == 431,
            "{}…: {status}",
            &authorization[..12]
        );
    }
    // a form far over the limit
    let response = client()
        .post(format!("{base}/auth/login"))
        .form(&[("username", "homer"), ("password", &"y".repeat(100_000))])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // a session cookie far over the limit, or not a token at all, is anonymous
    for token in ["a".repeat(7000), "a.b.c".into(), "..".into(), "%%%".into()] {
        assert_eq!(
            config_user(base, Some(&token)).await,
            serde_json::json!({"anonymous": true})
        );
    }
    // and the real users still log in
    let response = login(base, Some(&basic("homer", "doh!")), "").await;
    assert_eq!(response.status(), 302);
}
