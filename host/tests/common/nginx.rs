//! Real nginx (Debian's `nginx` package) in front of the tests' servers: its files in a
//! temporary folder, its `http` block's servers given by the test, run in the foreground in its
//! own process group and ended (with its workers) when dropped. Skipped where nginx is not
//! installed, unless `BUILDBOT_WWW_REQUIRE_PROXIES` is set (`cargo xtask test` installs it).

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Where Debian's package puts nginx.
pub const NGINX: &str = "/usr/sbin/nginx";

/// Whether `program` is installed; panics when it is not and the proxies are required
/// (`BUILDBOT_WWW_REQUIRE_PROXIES`).
pub fn installed(program: &str, package: &str) -> bool {
    if Path::new(program).is_file() {
        return true;
    }
    assert!(
        std::env::var("BUILDBOT_WWW_REQUIRE_PROXIES").is_err(),
        "{program} not found: apt-get install {package}"
    );
    eprintln!("skipped: {program} not found (apt-get install {package})");
    false
}

/// A process group (a proxy's master and workers), ended when dropped.
pub struct Group(pub Child);

impl Group {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(command: &mut Command) -> Group {
        Group(
            command
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{command:?}: {e}")),
        )
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

/// Starts nginx with its files in `dir` (`nginx.conf`, `error.log`, `access.log`, its
/// temporary folders) and `http` (upstreams and servers) as its `http` block's content.
pub fn start(dir: &Path, http: &str) -> Group {
    let d = dir.display();
    let user = if xtask::is_root() { "user root;" } else { "" };
    let conf = format!(
        r#"{user}
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 512; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/client_temp;
  proxy_temp_path {d}/proxy_temp;
  fastcgi_temp_path {d}/fastcgi_temp;
  uwsgi_temp_path {d}/uwsgi_temp;
  scgi_temp_path {d}/scgi_temp;
{http}
}}
"#
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    Group::spawn(
        Command::new(NGINX)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf")),
    )
}
