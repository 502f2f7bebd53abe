//! Behind real reverse proxies, as the seed recommends deploying: its nginx configuration
//! (under `/buildbot/`, `/sse/` unbuffered, `/ws` upgraded) and its Apache 2.4 configuration
//! (`mod_proxy_http` and `mod_proxy_wstunnel`, at the top of the domain), each from its Debian
//! package on loopback ports with TLS (a certificate authority and a server certificate the
//! test makes with openssl), in front of `buildbot-www serve --demo-activity` processes.
//!
//! Through each proxy: every page and asset, REST, a JSON-RPC force, badges, `/sse` streaming
//! unbuffered, login and logout with `Secure` cookies and redirects to the public URL, the
//! client's address in the access log (`trusted_proxies`), and in headless Chromium a page
//! updating live over `/ws` and an `EventSource` on `/sse`. A second site on each proxy asks
//! for the proxy's own basic auth and passes `REMOTE_USER` to a `RemoteUserAuth` server: a
//! client's own `REMOTE_USER` header gets nothing, through the proxy or around it.
//!
//! Without nginx or Apache installed these tests are skipped, unless
//! `BUILDBOT_WWW_REQUIRE_PROXIES=1` (set by `cargo xtask test`, which installs them).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;
use crate::common::nginx::{self, installed, Group};
use crate::ui::{self, Browser};

/// The user of the login tests, and the RemoteUserAuth site's basic-auth user.
const HOMER: (&str, &str) = ("homer", "doh!");
const ALICE: (&str, &str) = ("alice", "wonderland");
/// `[www.auth]` of the login sites: [`HOMER`] logs in with a password.
const PASSWORD_AUTH: &str =
    "[www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"doh!\" }\n";

/// Where the test clients connect from, so that the access log can tell them from the proxy
/// (which connects from 127.0.0.1).
const CLIENT_ADDRESS: &str = "127.0.0.5";
/// An address that is not a trusted proxy, for clients going around the proxy.
const STRANGER_ADDRESS: &str = "127.0.0.3";

/// A folder every user can read: Apache's children run as `nobody` and read the password
/// file at each request.
fn shared_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// An htpasswd file with [`ALICE`] (Apache MD5, which nginx reads too).
fn htpasswd(dir: &Path) -> PathBuf {
    let path = dir.join("htpasswd");
    common::run(
        Command::new("htpasswd")
            .args(["-cbm"])
            .arg(&path)
            .args([ALICE.0, ALICE.1]),
    );
    path
}

/// A `buildbot-www serve --demo-activity` process on the demo dataset.
struct Backend {
    port: u16,
    dir: tempfile::TempDir,
    pool: buildbot_www::db::Pool,
    _process: Group,
}

impl Backend {
    /// Serves the demo dataset with the demo's config and these changes, trusting the proxies
    /// on 127.0.0.1; waits until it is ready.
    async fn start(configure: impl FnOnce(common::MasterToml) -> common::MasterToml) -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let pool = buildbot_www::db::open_file(&dir.path().join("state.sqlite"))
            .await
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        buildbot_www::fixtures::fill_demo(&pool, now).await.unwrap();
        let port = common::free_port();
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/master.toml");
        let plugins =
            common::bundled_plugins_dir(&["badges", "waterfall_view", "console_view", "grid_view"]);
        let config = configure(
            common::MasterToml::load(&demo)
                .set(&["db", "db_url"], "sqlite:///state.sqlite")
                .set(&["www", "port"], format!("tcp:{port}:interface=127.0.0.1"))
                .set(&["www", "logfileName"], "http.log")
                .set(&["www", "avatar_methods"], toml_edit::Array::new())
                .set(
                    &["www", "trusted_proxies"],
                    toml_edit::Array::from_iter(["127.0.0.1"]),
                )
                .plugin_dirs(&[&plugins]),
        )
        .write(dir.path());
        let process = Group::spawn(
            Command::new(env!("CARGO_BIN_EXE_buildbot-www"))
                .args(["serve", "--demo-activity", "--config"])
                .arg(&config),
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        let ready = format!("http://127.0.0.1:{port}/readyz");
        loop {
            if let Ok(answer) = reqwest::get(&ready).await {
                if answer.status() == 200 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the server on port {port} did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Backend {
            port,
            dir,
            pool,
            _process: process,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("http.log")).unwrap_or_default()
    }
}

/// A proxy in front of two servers: the login site and the RemoteUserAuth site.
struct Front {
    name: &'static str,
    /// The login site's public root (`https://127.0.0.1:PORT/buildbot/` for nginx), where
    /// logins and logouts redirect.
    root: reqwest::Url,
    /// The RemoteUserAuth site's public root.
    remote_root: reqwest::Url,
    _process: Group,
    /// The proxy's configuration, certificates and logs.
    dir: tempfile::TempDir,
}

/// The seed's nginx configuration, with what a test run needs around it (its files in a
/// temporary folder, loopback ports) and TLS on both sites.
fn nginx(dir: &Path, port: u16, remote_port: u16, site: &Backend, remote: &Backend) -> Group {
    let d = dir.display();
    let tls = format!(
        "ssl_certificate {d}/server.pem;\n    ssl_certificate_key {d}/server.key;\n    \
         ssl_session_cache shared:SSL:10m;\n    ssl_session_timeout 1440m;"
    );
    let servers = format!(
        r#"  server {{
    listen 127.0.0.1:{port} ssl http2 default_server;
    server_name localhost;
    {tls}
    add_header Strict-Transport-Security "max-age=31536000; includeSubdomains;";
    proxy_set_header HOST $host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Server $host;
    proxy_set_header X-Forwarded-Host $host;
    location /buildbot/ {{
      proxy_pass http://127.0.0.1:{site}/;
    }}
    location /buildbot/sse/ {{
      proxy_buffering off;
      proxy_pass http://127.0.0.1:{site}/sse/;
    }}
    location /buildbot/ws {{
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_pass http://127.0.0.1:{site}/ws;
      proxy_read_timeout 6000s;
    }}
  }}
  server {{
    listen 127.0.0.1:{remote_port} ssl;
    server_name localhost;
    {tls}
    auth_basic "buildbot";
    auth_basic_user_file {d}/htpasswd;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header REMOTE_USER $remote_user;
    location / {{
      proxy_pass http://127.0.0.1:{remote}/;
    }}
    location /ws {{
      proxy_http_version 1.1;
      proxy_set_header REMOTE_USER $remote_user;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_pass http://127.0.0.1:{remote}/ws;
      proxy_read_timeout 6000s;
    }}
  }}
"#,
        site = site.port,
        remote = remote.port,
    );
    nginx::start(dir, &servers)
}

/// The seed's Apache configuration (a virtual host at the top of the domain), plus the
/// `X-Forwarded-Proto` header that tells the server the client used HTTPS, and a second
/// virtual host with the seed's `RemoteUserAuth` example (basic auth instead of Kerberos).
fn apache(dir: &Path, port: u16, remote_port: u16, site: &Backend, remote: &Backend) -> Group {
    let d = dir.display();
    let modules = "/usr/lib/apache2/modules";
    let load: String = [
        ("mpm_event", "mpm_event"),
        ("authz_core", "authz_core"),
        ("authn_core", "authn_core"),
        ("authn_file", "authn_file"),
        ("auth_basic", "auth_basic"),
        ("authz_user", "authz_user"),
        ("proxy", "proxy"),
        ("proxy_http", "proxy_http"),
        ("proxy_wstunnel", "proxy_wstunnel"),
        ("headers", "headers"),
        ("rewrite", "rewrite"),
        ("setenvif", "setenvif"),
        ("socache_shmcb", "socache_shmcb"),
        ("ssl", "ssl"),
    ]
    .iter()
    .map(|(name, file)| format!("LoadModule {name}_module {modules}/mod_{file}.so\n"))
    .collect();
    let tls = format!(
        "SSLEngine on\n  SSLCertificateFile {d}/server.pem\n  SSLCertificateKeyFile {d}/server.key\n  \
         SSLProtocol all -SSLv3"
    );
    let proxy = |backend: u16| {
        format!(
            "ProxyPass /ws ws://127.0.0.1:{backend}/ws\n  \
             ProxyPassReverse /ws ws://127.0.0.1:{backend}/ws\n  \
             ProxyPass / http://127.0.0.1:{backend}/\n  \
             ProxyPassReverse / http://127.0.0.1:{backend}/\n  \
             SetEnvIf X-Url-Scheme https HTTPS=1\n  \
             ProxyPreserveHost On\n  \
             RequestHeader set X-Forwarded-Proto \"https\""
        )
    };
    let conf = format!(
        r#"ServerRoot "{d}"
ServerName 127.0.0.1
DefaultRuntimeDir {d}
PidFile {d}/apache.pid
Mutex file:{d} default
ErrorLog {d}/error.log
LogLevel warn
User nobody
Group nogroup
{load}
SSLSessionCache shmcb:{d}/ssl_scache(512000)
Listen 127.0.0.1:{port}
Listen 127.0.0.1:{remote_port}
<VirtualHost 127.0.0.1:{port}>
  ServerName 127.0.0.1
  {site_proxy}
  {tls}
</VirtualHost>
<VirtualHost 127.0.0.1:{remote_port}>
  ServerName 127.0.0.1
  {remote_proxy}
  {tls}
  <Location "/">
    AuthType Basic
    AuthName "Buildbot login"
    AuthUserFile {d}/htpasswd
    Require valid-user
    RewriteEngine On
    RewriteCond %{{LA-U:REMOTE_USER}} (.+)$
    RewriteRule . - [E=RU:%1,NS]
    RequestHeader set REMOTE_USER %{{RU}}e
  </Location>
</VirtualHost>
"#,
        site_proxy = proxy(site.port),
        remote_proxy = proxy(remote.port),
    );
    std::fs::write(dir.join("apache.conf"), conf).unwrap();
    Group::spawn(
        Command::new("/usr/sbin/apache2")
            .arg("-f")
            .arg(dir.join("apache.conf"))
            .args(["-D", "FOREGROUND"]),
    )
}

/// An HTTPS client that trusts the test's authority, connects from `from`, and does not
/// follow redirects (the tests look at them).
fn client(dir: &Path, from: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .tls_built_in_root_certs(false)
        .local_address(from.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Starts a proxy (`nginx` or `apache`) in front of its two servers; waits until both sites
/// answer through it.
async fn front(
    name: &'static str,
    (port, remote_port): (u16, u16),
    site: &Backend,
    remote: &Backend,
) -> Front {
    let dir = shared_dir();
    common::certificates(dir.path());
    htpasswd(dir.path());
    let (process, root) = match name {
        "nginx" => (
            nginx(dir.path(), port, remote_port, site, remote),
            format!("https://127.0.0.1:{port}/buildbot/"),
        ),
        _ => (
            apache(dir.path(), port, remote_port, site, remote),
            format!("https://127.0.0.1:{port}/"),
        ),
    };
    let root = reqwest::Url::parse(&root).unwrap();
    let remote_root = reqwest::Url::parse(&format!("https://127.0.0.1:{remote_port}/")).unwrap();
    let http = client(dir.path(), CLIENT_ADDRESS);
    let deadline = Instant::now() + Duration::from_secs(30);
    for url in [
        root.join("healthz").unwrap(),
        remote_root.join("healthz").unwrap(),
    ] {
        loop {
            match http.get(url.clone()).send().await {
                Ok(answer) if answer.status() == 200 || answer.status() == 401 => break,
                _ => {}
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                panic!("{name} does not answer {url}:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Front {
        name,
        root,
        remote_root,
        _process: process,
        dir,
    }
}

fn cookie_of(answer: &reqwest::Response) -> Vec<String> {
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Everything a user does through `front` to the login site `site`.
async fn through(front: &Front, site: &Backend, dir: &Path) {
    let name = front.name;
    let http = client(dir, CLIENT_ADDRESS);
    let root = &front.root;
    let get = |path: &str| http.get(root.join(path).unwrap());

    // Every page, and every link, stylesheet, script and image on them.
    let ids = ui::ids(&site.pool).await;
    let checked = ui::crawl(&http, root, &ui::pages(&ids)).await;
    assert!(checked > 50, "{name}: only {checked} URLs checked");

    // REST: the same answer as from the server itself.
    let via = get("api/v2/builders").send().await.unwrap();
    assert_eq!(via.status(), 200, "{name}");
    let via: Value = via.json().await.unwrap();
    let direct: Value = reqwest::get(format!("{}api/v2/builders", site.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(via, direct, "{name}");

    // A badge and a plugin view.
    let badge = get("plugins/badges/linux-x86_64.svg").send().await.unwrap();
    assert_eq!(badge.status(), 200, "{name}");
    assert_eq!(badge.headers()["content-type"], "image/svg+xml", "{name}");
    assert!(badge.text().await.unwrap().contains("<svg"), "{name}");

    // Logging in: a Secure cookie, and back to the public URL.
    let login = http
        .post(root.join("auth/login?redirect=%2Fbuilders").unwrap())
        .form(&[("username", HOMER.0), ("password", HOMER.1)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 302, "{name}");
    assert_eq!(
        login.headers()["location"],
        format!("{}#/builders", front.root).as_str(),
        "{name}"
    );
    let cookies = cookie_of(&login);
    assert!(
        cookies.len() == 1 && cookies[0].contains("; Secure") && cookies[0].contains("HttpOnly"),
        "{name}: {cookies:?}"
    );
    let session = cookies[0].split(';').next().unwrap().to_owned();
    let config: Value = get("config")
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["user"]["username"], HOMER.0, "{name}: {config}");

    // A JSON-RPC force as that user.
    let forced = http
        .post(root.join("api/v2/forceschedulers/force").unwrap())
        .header("cookie", &session)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "force",
                      "params": {"builderid": "1", "reason": "through the proxy"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(forced.status(), 200, "{name}");
    let forced: Value = forced.json().await.unwrap();
    let bsid = forced["result"][0]
        .as_i64()
        .unwrap_or_else(|| panic!("{name}: {forced}"));
    let buildset: Value = get(&format!("api/v2/buildsets/{bsid}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        buildset["buildsets"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("through the proxy"),
        "{name}: {buildset}"
    );

    // Logging out: the cookie removed (Secure too), back to the public URL.
    let logout = get("auth/logout")
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 302, "{name}");
    assert_eq!(
        logout.headers()["location"],
        format!("{}#/", front.root).as_str()
    );
    let cookies = cookie_of(&logout);
    assert!(
        cookies.len() == 1 && cookies[0].contains("Max-Age=0") && cookies[0].contains("; Secure"),
        "{name}: {cookies:?}"
    );

    // Server-sent events arrive as they happen, not when a proxy buffer fills.
    sse_streams(&http, root, name).await;

    // The access log names the client, not the proxy.
    let log = site.access_log();
    assert!(
        log.lines().any(|l| l.starts_with(&format!("{CLIENT_ADDRESS} ")) && l.contains("/api/v2/builders")),
        "{name}: no line from {CLIENT_ADDRESS}:\n{}",
        log.lines().take(5).collect::<Vec<_>>().join("\n")
    );
    assert!(
        !log.lines()
            .any(|l| l.starts_with("127.0.0.1 ") && l.contains("/auth/login")),
        "{name}: the proxy's address was logged for a login"
    );
}

/// `/sse/listen/builds/*/*`: the handshake, then a build event (the demo runner makes them),
/// each read as it comes.
async fn sse_streams(http: &reqwest::Client, root: &reqwest::Url, name: &str) {
    let mut stream = http
        .get(root.join("sse/listen/builds/*/*").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200, "{name}");
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(seen.contains("event: handshake") && seen.contains("event: event")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("{name}: the event stream stopped ({other:?}) after:\n{seen}"),
        }
    }
}

/// In Chromium through the proxy: the builders page opens its websocket and refreshes live;
/// an `EventSource` on `sse/` receives events.
async fn in_the_browser(front: &Front) {
    let Some(browser) = Browser::start_with(&["--ignore-certificate-errors"]).await else {
        return;
    };
    let name = front.name;
    let wait = Duration::from_secs(30);
    browser
        .goto(front.root.join("builders").unwrap().as_str())
        .await;
    browser
        .wait_for(
            &format!("the websocket through {name}"),
            "return document.documentElement.getAttribute('data-ws') === 'open'",
            wait,
        )
        .await;
    browser
        .js("window.__notReloaded = true; document.documentElement.removeAttribute('data-refreshed'); \
             window.__sse = []; var es = new EventSource('sse/listen/builds/*/*'); \
             es.addEventListener('event', function (e) { window.__sse.push(e.data); }); return 1")
        .await;
    browser
        .wait_for(
            &format!("a live refresh through {name}"),
            "return window.__notReloaded === true && \
             document.documentElement.getAttribute('data-refreshed') !== null",
            wait,
        )
        .await;
    let event = browser
        .wait_for(
            &format!("an SSE event through {name}"),
            "return window.__sse.length > 0 && window.__sse[0]",
            wait,
        )
        .await;
    let event: Value = serde_json::from_str(event.as_str().unwrap()).unwrap();
    assert_eq!(event["key"][0], "builds", "{name}: {event}");
    browser.screenshot(&format!("proxy-{name}-builders")).await;
    let errors = ui::severe(&browser.console().await);
    assert!(errors.is_empty(), "{name}: console errors: {errors:#?}");
    browser.quit().await;
}

/// The RemoteUserAuth site: the proxy's basic auth names the user; a client's own header
/// is overwritten through the proxy and ignored around it.
async fn remote_user(front: &Front, remote: &Backend, dir: &Path) {
    let name = front.name;
    let http = client(dir, CLIENT_ADDRESS);
    let config = |answer: reqwest::Response| async move {
        assert_eq!(answer.status(), 200, "{name}");
        answer.json::<Value>().await.unwrap()
    };
    let url = front.remote_root.join("config").unwrap();
    let refused = http
        .get(url.clone())
        .header("REMOTE_USER", "marge")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "{name}: no basic auth, no entry");
    let alice = config(
        http.get(url.clone())
            .basic_auth(ALICE.0, Some(ALICE.1))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(alice["user"]["username"], ALICE.0, "{name}: {alice}");
    let forged = config(
        http.get(url.clone())
            .basic_auth(ALICE.0, Some(ALICE.1))
            .header("REMOTE_USER", "marge")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(forged["user"]["username"], ALICE.0, "{name}: {forged}");
    // Around the proxy, from an address that is not a trusted proxy: anonymous.
    let around = client(dir, STRANGER_ADDRESS)
        .get(format!("{}config", remote.url()))
        .header("REMOTE_USER", "marge")
        .send()
        .await
        .unwrap();
    let around = config(around).await;
    assert_eq!(around["user"]["anonymous"], true, "{name}: {around}");
    // The UI through the proxy shows the user.
    let page = http
        .get(front.remote_root.join("builders").unwrap())
        .basic_auth(ALICE.0, Some(ALICE.1))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(ALICE.0), "{name}");
}

/// The login site, the RemoteUserAuth site and `proxy` in front of both. Behind nginx (under
/// a path) the login site's `buildbotURL` is its public URL, as the seed asks; behind Apache
/// it is left out, and the host and scheme the proxy forwards make the redirects.
async fn deployment(proxy: &'static str) -> (Front, Backend, Backend) {
    let ports = (common::free_port(), common::free_port());
    let site = Backend::start(|config| {
        let config = config.www_toml(PASSWORD_AUTH);
        match proxy {
            "nginx" => config.set(
                &["buildbotURL"],
                format!("https://127.0.0.1:{}/buildbot/", ports.0),
            ),
            _ => config.remove(&["buildbotURL"]),
        }
    })
    .await;
    let remote = Backend::start(|config| {
        config.www_toml(
            "[www.auth]\ntype = \"RemoteUserAuth\"\nheaderRegex = \"(?P<username>[^ @]+)\"\n",
        )
    })
    .await;
    let front = front(proxy, ports, &site, &remote).await;
    (front, site, remote)
}

async fn a_deployment_works(proxy: &'static str) {
    let (front, site, remote) = deployment(proxy).await;
    let dir = front.dir.path().to_owned();
    through(&front, &site, &dir).await;
    remote_user(&front, &remote, &dir).await;
    in_the_browser(&front).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_in_front() {
    if installed("/usr/sbin/nginx", "nginx") {
        a_deployment_works("nginx").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_in_front() {
    if installed("/usr/sbin/apache2", "apache2") {
        a_deployment_works("apache").await;
    }
}

/// Forwarded headers are believed from a trusted proxy and ignored from anyone else: the
/// client's address in the access log, the scheme in the cookie's `Secure` flag, the host and
/// prefix in the redirect of a login (the config sets no `buildbotURL`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_from_trusted_and_untrusted_peers() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::MasterToml::sqlite()
        .set(
            &["www", "trusted_proxies"],
            toml_edit::Array::from_iter(["127.0.0.1"]),
        )
        .www_toml(PASSWORD_AUTH)
        .write(dir.path());
    let state = common::load_state(&config).await.unwrap();
    let limits = state.http.config.www.limits;
    let log_path = dir.path().join("http.log");
    let log =
        buildbot_www::http::access_log::AccessLog::open(Some(log_path.clone()), 10_000_000, 10)
            .unwrap();
    let base =
        common::serve_router(buildbot_www::server::app_logged(state, Some(log)), limits).await;
    let from = |address: &str| {
        reqwest::Client::builder()
            .local_address(address.parse::<IpAddr>().unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    let login = |client: reqwest::Client, headers: &'static [(&'static str, &'static str)]| {
        let base = base.clone();
        async move {
            let mut request = client
                .post(format!("{base}/auth/login"))
                .form(&[("username", HOMER.0), ("password", HOMER.1)]);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 302);
            let location = answer.headers()["location"].to_str().unwrap().to_owned();
            (location, cookie_of(&answer).join("\n"))
        }
    };
    const X_FORWARDED: &[(&str, &str)] = &[
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "ci.example.org"),
        ("x-forwarded-prefix", "/bb/"),
    ];
    let (location, cookie) = login(from("127.0.0.1"), X_FORWARDED).await;
    assert_eq!(location, "https://ci.example.org/bb/#/");
    assert!(cookie.contains("; Secure"), "{cookie}");
    let (location, cookie) = login(from(STRANGER_ADDRESS), X_FORWARDED).await;
    assert_eq!(location, "http://localhost:8010/#/");
    assert!(!cookie.contains("Secure"), "{cookie}");
    // RFC 7239, with a client that tried to name itself first.
    let (location, cookie) = login(
        from("127.0.0.1"),
        &[(
            "forwarded",
            "for=192.0.2.1, for=\"[2001:db8::9]:4711\";proto=https;host=bb.example",
        )],
    )
    .await;
    assert_eq!(location, "https://bb.example/#/");
    assert!(cookie.contains("; Secure"), "{cookie}");

    let log = std::fs::read_to_string(&log_path).unwrap();
    let addresses: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("/auth/login"))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        addresses,
        ["203.0.113.7", STRANGER_ADDRESS, "2001:db8::9"],
        "{log}"
    );
}
