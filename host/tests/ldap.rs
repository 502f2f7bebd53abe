//! `LdapUserInfo` against a real OpenLDAP `slapd` (Debian `slapd`), started once for this
//! test binary on loopback ports (`ldap://` and `ldaps://` with a certificate the harness
//! signs), with a directory the harness writes: people with a full name, an email, extra
//! fields and a `jpegPhoto`, groups, a DN with filter characters. Stopped when the binary
//! exits. Skipped where `slapd` is not installed unless `BUILDBOT_WWW_REQUIRE_LDAP` is set
//! (`cargo xtask test` sets it and installs the package).

use crate::common::{self, free_port, run};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use buildbot_www::auth::user_info;
use buildbot_www::config::UserInfoProvider;
use buildbot_www::identity::User;
use serde_json::json;

const BASE: &str = "dc=example,dc=org";
const READER: &str = "cn=reader,dc=example,dc=org";
const READER_PW: &str = "reader-secret";

/// A JPEG's first bytes (enough for the type to be known) and a PNG, as stored pictures.
const HOMER_JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00homer's picture";
const MARGE_PNG: &[u8] = b"\x89PNG\r\n\x1a\nmarge's picture";

struct Slapd {
    ldap: String,
    ldaps: String,
    ca: PathBuf,
    /// The keeper shell, its stdin open: when this binary exits the stdin closes, and the
    /// keeper stops slapd and removes its folder.
    _keeper: std::process::Child,
}

static SLAPD: OnceLock<Option<Slapd>> = OnceLock::new();

fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The shared directory server, started on first use; `None` (skip) without slapd.
fn slapd() -> Option<&'static Slapd> {
    SLAPD
        .get_or_init(|| {
            let (Some(slapd), Some(slapadd)) = (program("slapd"), program("slapadd")) else {
                assert!(
                    std::env::var("BUILDBOT_WWW_REQUIRE_LDAP").is_err(),
                    "slapd not found: apt-get install slapd ldap-utils"
                );
                eprintln!("skipped: slapd not found (apt-get install slapd ldap-utils)");
                return None;
            };
            Some(start(&slapd, &slapadd))
        })
        .as_ref()
}

fn seed_ldif() -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    format!(
        "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
         dn: {READER}\nobjectClass: person\nobjectClass: simpleSecurityObject\ncn: reader\nsn: reader\nuserPassword: {READER_PW}\n\n\
         dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: uid=homer,ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: homer\ncn: Homer Simpson\nsn: Simpson\n\
         displayName: Homer J. Simpson\nmail: homer@example.com\nemployeeNumber: 742\ndepartmentNumber: Sector 7G\n\
         jpegPhoto:: {}\n\n\
         dn: uid=marge,ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: marge\ncn: Marge Simpson\nsn: Simpson\n\
         displayName: Marge Simpson\nmail: marge@example.com\njpegPhoto:: {}\n\n\
         dn: uid=bart,ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: bart\ncn: Bart Simpson\nsn: Simpson\n\
         displayName: Bart Simpson\nmail: bart@example.com\n\n\
         dn: uid=lisa (jr)*,ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: lisa (jr)*\ncn: Lisa Simpson\nsn: Simpson\n\
         displayName: Lisa Simpson\nmail: lisa@example.com\n\n\
         dn: cn=admins,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: admins\nmember: uid=homer,ou=people,{BASE}\n\n\
         dn: cn=simpsons,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: simpsons\nmember: uid=homer,ou=people,{BASE}\n\
         member: uid=marge,ou=people,{BASE}\nmember: uid=lisa (jr)*,ou=people,{BASE}\n\n\
         dn: cn=saxophonists,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: saxophonists\nmember: uid=lisa (jr)*,ou=people,{BASE}\n",
        b64(HOMER_JPEG),
        b64(MARGE_PNG),
    )
}

fn start(slapd: &Path, slapadd: &Path) -> Slapd {
    let dir = tempfile::tempdir().unwrap().keep();
    common::certificates(&dir);
    std::fs::create_dir(dir.join("db")).unwrap();
    let conf = dir.join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\nmodulepath /usr/lib/ldap\n\
             moduleload back_mdb\npidfile {d}/slapd.pid\n\
             TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\n\
             TLSCertificateKeyFile {d}/server.key\n\
             database mdb\nmaxsize 10485760\nsuffix \"{BASE}\"\n\
             rootdn \"cn=admin,{BASE}\"\nrootpw admin-secret\ndirectory {d}/db\n\
             access to attrs=userPassword by anonymous auth by * none\n\
             access to * by dn.exact=\"{READER}\" read by * none\n",
            d = dir.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("seed.ldif"), seed_ldif()).unwrap();
    run(Command::new(slapadd)
        .arg("-f")
        .arg(&conf)
        .arg("-l")
        .arg(dir.join("seed.ldif")));
    let (plain, tls) = (free_port(), free_port());
    let urls = format!("ldap://127.0.0.1:{plain}/ ldaps://127.0.0.1:{tls}/");
    let keeper = common::keeper(
        "\"$0\" -f \"$1\" -h \"$2\" -d 0 >/dev/null 2>&1 & pid=$!; \
         cat >/dev/null; kill $pid; wait $pid; rm -rf \"$3\"",
        &[
            slapd.as_os_str(),
            conf.as_os_str(),
            urls.as_ref(),
            dir.as_os_str(),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    for port in [plain, tls] {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "slapd did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Slapd {
        ldap: format!("ldap://127.0.0.1:{plain}"),
        ldaps: format!("ldaps://127.0.0.1:{tls}"),
        ca: dir.join("ca.pem"),
        _keeper: keeper,
    }
}

/// `[www.auth]`'s LdapUserInfo as TOML (groups, avatars, extra fields) on `uri`.
fn ldap_toml(uri: &str, extra: &str) -> String {
    ldap_toml_as(uri, READER_PW, extra)
}

fn ldap_toml_as(uri: &str, password: &str, extra: &str) -> String {
    format!(
        "type = \"LdapUserInfo\"\nuri = \"{uri}\"\nbindUser = \"{READER}\"\nbindPw = \"{password}\"\n\
         accountBase = \"ou=people,{BASE}\"\n\
         accountPattern = \"(&(objectClass=inetOrgPerson)(uid=%(username)s))\"\n\
         accountFullName = \"displayName\"\naccountEmail = \"mail\"\n\
         groupBase = \"ou=groups,{BASE}\"\n\
         groupMemberPattern = \"(&(objectClass=groupOfNames)(member=%(dn)s))\"\ngroupName = \"cn\"\n\
         avatarPattern = \"(&(objectClass=inetOrgPerson)(mail=%(email)s))\"\navatarData = \"jpegPhoto\"\n\
         accountExtraFields = [\"employeeNumber\", \"departmentNumber\", \"title\"]\n{extra}"
    )
}

/// The provider a config with `RemoteUserAuth` and this LdapUserInfo loads to.
fn provider(uri: &str, extra: &str) -> UserInfoProvider {
    provider_of(&ldap_toml(uri, extra))
}

fn provider_of(ldap_toml: &str) -> UserInfoProvider {
    let dir = tempfile::tempdir().unwrap();
    let text = common::MasterToml::sqlite()
        .www_toml(&format!(
            "[www.auth]\ntype = \"RemoteUserAuth\"\n[www.auth.userInfoProvider]\n{ldap_toml}"
        ))
        .write(dir.path());
    let config = buildbot_www::config::load(&text).expect("config loads");
    match config.www.auth {
        buildbot_www::config::Auth::RemoteUserAuth(auth) => {
            auth.user_info_provider.expect("a provider")
        }
        other => panic!("{other:?}"),
    }
}

fn remote(username: &str) -> User {
    User::Known {
        username: username.into(),
        full_name: None,
        email: Some(username.into()),
        groups: Vec::new(),
        extra: serde_json::Map::new(),
    }
}

#[tokio::test]
async fn user_info_comes_from_the_directory() {
    let Some(slapd) = slapd() else { return };
    let provider = provider(&slapd.ldap, "");
    let homer = user_info::complete(Some(&provider), remote("homer"))
        .await
        .unwrap();
    assert_eq!(
        homer.user_info(),
        json!({
            "username": "homer",
            "full_name": "Homer J. Simpson",
            "email": "homer@example.com",
            "groups": ["admins", "simpsons"],
            "employeeNumber": "742",
            "departmentNumber": "Sector 7G",
        })
    );
    // A DN with filter characters is escaped into groupMemberPattern (Buildbot 4.3 does too).
    let lisa = user_info::complete(Some(&provider), remote("lisa (jr)*"))
        .await
        .unwrap();
    let User::Known { groups, email, .. } = &lisa else {
        panic!("{lisa:?}")
    };
    let mut groups = groups.clone();
    groups.sort();
    assert_eq!(groups, ["saxophonists", "simpsons"]);
    assert_eq!(email.as_deref(), Some("lisa@example.com"));
    // Anonymous stays anonymous, without asking.
    assert_eq!(
        user_info::complete(Some(&provider), User::Anonymous)
            .await
            .unwrap(),
        User::Anonymous
    );
}

#[tokio::test]
async fn user_names_cannot_widen_the_search() {
    let Some(slapd) = slapd() else { return };
    let provider = provider(&slapd.ldap, "");
    // Unescaped, `bart*` matches bart and `*` matches everyone; `x)(uid=homer` would make
    // the pattern find homer.
    for hostile in ["bart*", "*", "x)(uid=homer", "homer)(|(uid=*", "lisa (jr)"] {
        let err = user_info::complete(Some(&provider), remote(hostile))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("found 0 entries"), "{hostile}: {err}");
        assert!(!err.contains(READER_PW), "{err}");
    }
}

#[tokio::test]
async fn ldaps_checks_the_certificate() {
    let Some(slapd) = slapd() else { return };
    let trusted = provider(
        &slapd.ldaps,
        &format!("tls = {{ ca_certs_file = \"{}\" }}\n", slapd.ca.display()),
    );
    let marge = user_info::complete(Some(&trusted), remote("marge"))
        .await
        .unwrap();
    assert!(
        matches!(&marge, User::Known { full_name: Some(n), .. } if n == "Marge Simpson"),
        "{marge:?}"
    );
    // The system's roots do not know the test CA.
    let untrusted = provider(&slapd.ldaps, "");
    let err = user_info::complete(Some(&untrusted), remote("marge"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot connect"), "{err}");
    // validate = false accepts it (a throwaway test directory).
    let unchecked = provider(&slapd.ldaps, "tls = { validate = false }\n");
    assert!(user_info::complete(Some(&unchecked), remote("marge"))
        .await
        .is_ok());
    // StartTLS on the plain port, trusting the CA.
    let start_tls = provider(
        &slapd.ldap,
        &format!(
            "tls = {{ ca_certs_file = \"{}\", start_tls = true }}\n",
            slapd.ca.display()
        ),
    );
    assert!(user_info::complete(Some(&start_tls), remote("marge"))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_wrong_password_or_a_dead_directory_is_a_clear_error_in_time() {
    let Some(slapd) = slapd() else { return };
    let wrong = provider_of(&ldap_toml_as(&slapd.ldap, "not the password", ""));
    let err = user_info::complete(Some(&wrong), remote("homer"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot bind as cn=reader"), "{err}");
    assert!(!err.contains("not the password"), "{err}");

    // Nothing listens: refused at once.
    let closed = provider(&format!("ldap://127.0.0.1:{}", free_port()), "");
    let started = Instant::now();
    let err = user_info::complete(Some(&closed), remote("homer"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot connect"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // Accepts connections and never answers: the deadline ends the wait.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let silent = provider(&format!("ldap://{address}"), "");
    let started = Instant::now();
    let err = user_info::complete(Some(&silent), remote("homer"))
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(8), "{err}");
    assert!(err.contains("LDAP ldap://127.0.0.1"), "{err}");
}

#[tokio::test]
async fn avatars_come_from_the_directory_then_the_next_method() {
    let Some(slapd) = slapd() else { return };
    let method = ldap_toml(&slapd.ldap, "")
        .lines()
        .collect::<Vec<_>>()
        .join(", ");
    let server = common::serve_reference_with(&format!(
        "avatar_methods = [{{ {method} }}, {{ type = \"AvatarGravatar\" }}]\n"
    ))
    .await;
    // By user name (accountPattern), then by email (avatarPattern), as Buildbot.
    for (path, content_type, data) in [
        ("/avatar?username=homer", "image/jpeg", HOMER_JPEG),
        ("/avatar?email=marge%40example.com", "image/png", MARGE_PNG),
        (
            "/avatar?email=marge%40example.com&size=64",
            "image/png",
            MARGE_PNG,
        ),
    ] {
        let answer = server.get(path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.header("content-type"), content_type, "{path}");
        assert_eq!(answer.header("x-content-type-options"), "nosniff");
        assert_eq!(&answer.body[..], data, "{path}");
    }
    // No picture in the directory, an injection attempt, nobody: Gravatar answers.
    for (path, email) in [
        ("/avatar?email=bart%40example.com", "bart@example.com"),
        ("/avatar?email=*", "*"),
        ("/avatar?username=*", ""),
        ("/avatar?email=nobody%40example.com", "nobody@example.com"),
    ] {
        let answer = server.get(path).await;
        assert_eq!(answer.status, 302, "{path}");
        let hash: String = {
            use md5::Digest;
            md5::Md5::digest(email.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        assert_eq!(
            answer.header("location"),
            format!("//www.gravatar.com/avatar/{hash}?d=retro&s=32"),
            "{path}"
        );
    }
    let config: serde_json::Value =
        serde_json::from_str(&server.get("/config").await.text()).unwrap();
    assert_eq!(
        config["avatar_methods"],
        json!([{"name": "ldap"}, {"name": "gravatar"}])
    );
}

#[tokio::test]
async fn a_dead_directory_falls_through_to_the_next_avatar_method() {
    let method = ldap_toml(&format!("ldap://127.0.0.1:{}", free_port()), "")
        .lines()
        .collect::<Vec<_>>()
        .join(", ");
    let server = common::serve_reference_with(&format!(
        "avatar_methods = [{{ {method} }}, {{ type = \"AvatarGravatar\" }}]\n"
    ))
    .await;
    let answer = server.get("/avatar?email=homer%40example.com").await;
    assert_eq!(answer.status, 302);
    assert_eq!(
        answer.header("location"),
        "//www.gravatar.com/avatar/998f245b1c6837c0139dac911172a59f?d=retro&s=32"
    );
}

#[test]
fn tls_settings_are_checked_at_load() {
    let load = |uri: &str, tls: &str| {
        let dir = tempfile::tempdir().unwrap();
        let path = common::MasterToml::sqlite()
            .www_toml(&format!(
                "[www.auth]\ntype = \"RemoteUserAuth\"\n[www.auth.userInfoProvider]\n{}",
                ldap_toml(uri, tls)
            ))
            .write(dir.path());
        buildbot_www::config::load(&path).map(|_| ())
    };
    let err = load(
        "ldap://127.0.0.1:389",
        "tls = { ca_certs_file = \"no-such.pem\" }\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("ca_certs_file"), "{err}");
    assert!(err.contains("no-such.pem"), "{err}");
    let err = load("ldaps://127.0.0.1:636", "tls = { start_tls = true }\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("start_tls"), "{err}");
    let err = load("ldap://127.0.0.1:389", "tls = { verify = false }\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("verify"), "{err}");
    load("ldaps://127.0.0.1:636", "tls = { validate = false }\n").unwrap();
}

/// The whole path an operator sets up: a proxy names the user in `REMOTE_USER`, the directory
/// adds the full name, e-mail, groups and extra fields, and `/config` shows them; a user the
/// directory does not know keeps what the header says; a dead directory does not lock anyone
/// out.
#[tokio::test]
async fn a_remote_user_gets_the_directory_details() {
    let Some(slapd) = slapd() else { return };
    let www = |uri: &str| {
        format!(
            "[www.auth]\ntype = \"RemoteUserAuth\"\n[www.auth.userInfoProvider]\n{}",
            ldap_toml(uri, "")
        )
    };
    let server = common::serve_reference_with(&www(&slapd.ldap)).await;
    async fn user(server: &common::Server, value: &str) -> serde_json::Value {
        let request = axum::http::Request::get("/config")
            .header("REMOTE_USER", value)
            .body(axum::body::Body::empty())
            .unwrap();
        let answer = server.send(request).await;
        let config: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        config["user"].clone()
    }
    assert_eq!(
        user(&server, "homer@EXAMPLE.COM").await,
        json!({
            "username": "homer",
            "full_name": "Homer J. Simpson",
            "email": "homer@example.com",
            "groups": ["admins", "simpsons"],
            "realm": "EXAMPLE.COM",
            "employeeNumber": "742",
            "departmentNumber": "Sector 7G",
        })
    );
    let stranger = user(&server, "stranger@EXAMPLE.COM").await;
    assert_eq!(stranger["username"], "stranger");
    assert_eq!(stranger.get("groups"), None);
    let dead =
        common::serve_reference_with(&www(&format!("ldap://127.0.0.1:{}", free_port()))).await;
    let homer = user(&dead, "homer@EXAMPLE.COM").await;
    assert_eq!(homer["username"], "homer");
    assert_eq!(homer.get("groups"), None, "no groups without the directory");
}
