//! `cargo xtask bench auth`: what a session costs a REST read (`builds?limit=50` with a valid
//! session cookie against the same read anonymous, wrk rounds taken in turn) and how long a
//! login takes for each kind of password entry (`htpasswd` with bcrypt at several costs,
//! Apache MD5, SHA-512 crypt).

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::bench::{ensure_wrk, generated_database, parse_wrk, start_server_with};
use crate::{root, run_command};

/// The users of the bench's password file: name, `htpasswd` flags.
const ENTRIES: &[(&str, &[&str])] = &[
    ("bcrypt5", &["-B", "-C", "5"]),
    ("bcrypt10", &["-B", "-C", "10"]),
    ("bcrypt12", &["-B", "-C", "12"]),
    ("apr1", &["-m"]),
    ("sha512", &["-5"]),
];
const PASSWORD: &str = "correct horse battery staple";
const PORT: u16 = 18_030;
const READ: &str = "/api/v2/builds?limit=50";

pub(crate) fn auth() -> Result<()> {
    let wrk = ensure_wrk()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let serve_dir = bench_dir.join("serve-auth");
    std::fs::create_dir_all(&serve_dir)?;
    let passwd = serve_dir.join("users.htpasswd");
    let _ = std::fs::remove_file(&passwd);
    for (user, flags) in ENTRIES {
        let mut command = Command::new("htpasswd");
        command.arg("-b").args(*flags);
        if !passwd.exists() {
            command.arg("-c");
        }
        run_command(command.arg(&passwd).arg(user).arg(PASSWORD))
            .context("htpasswd (apt-get install apache2-utils)")?;
    }
    let database = generated_database(&bench_dir, 1000, 1000)?;
    let _server = start_server_with(
        &serve_dir,
        &database,
        PORT,
        &format!(
            "[www.auth]\ntype = \"HTPasswdAuth\"\npasswdFile = \"{}\"\n",
            passwd.display()
        ),
    )?;
    let mut report = String::from("| login of | median | slowest of 20 |\n|---|---|---|\n");
    let mut cookie = String::new();
    for (user, _) in ENTRIES {
        let mut times = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            let (status, head) = get(PORT, "/auth/login", &basic(user))?;
            times.push(started.elapsed());
            if status != 302 {
                bail!("login of {user}: status {status}");
            }
            cookie = session_cookie(&head).context("the login set no session cookie")?;
        }
        times.sort();
        println!(
            "login {user:<10} median {:>8.2?}  max {:>8.2?}",
            times[times.len() / 2],
            times[times.len() - 1]
        );
        report.push_str(&format!(
            "| `{user}` | {:.2?} | {:.2?} |\n",
            times[times.len() / 2],
            times[times.len() - 1]
        ));
    }
    // wrk rounds in turn, so that the machine's drift affects both alike.
    let mut rounds = alternate_rounds(&wrk, &[(PORT, None), (PORT, Some(&cookie))], READ)?;
    let (session, anonymous) = (rounds.remove(1), rounds.remove(0));
    let ratio = session.0 / anonymous.0;
    report.push_str(&format!(
        "\n| `{READ}` | req/s (median of 4) | p50 | p99 |\n|---|---|---|---|\n\
         | anonymous | {:.0} | {} | {} |\n| session cookie | {:.0} | {} | {} |\n\
         \nWith a session: {:.1} % of the anonymous throughput.\n",
        anonymous.0,
        anonymous.1,
        anonymous.2,
        session.0,
        session.1,
        session.2,
        ratio * 100.0
    ));
    println!("\n{report}");
    std::fs::write(bench_dir.join("auth.md"), report)?;
    Ok(())
}

fn basic(user: &str) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{PASSWORD}"));
    format!("Authorization: Basic {token}\r\n")
}

/// `TWISTED_SESSION=<token>` from a response head.
pub(crate) fn session_cookie(head: &str) -> Option<String> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, value)| {
            let cookie = value.trim().split(';').next()?;
            cookie
                .starts_with("TWISTED_SESSION=")
                .then(|| cookie.to_owned())
        })
}

/// One wrk round (5 s, 8 connections) of `path` on `port`, with a cookie or not: req/s, p50
/// and p99.
fn wrk_round(wrk: &Path, port: u16, path: &str, cookie: Option<&str>) -> Result<Round> {
    let mut command = Command::new(wrk);
    command.args([
        "-t2",
        "-c8",
        "-d5s",
        "--latency",
        "-H",
        "Accept: application/json",
    ]);
    if let Some(cookie) = cookie {
        command.args(["-H", &format!("Cookie: {cookie}")]);
    }
    let output = command
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()?;
    let (rps, p50, p99) = parse_wrk(&String::from_utf8_lossy(&output.stdout));
    Ok((rps.parse().unwrap_or(0.0), p50, p99))
}

/// req/s, p50, p99 of one wrk round.
pub(crate) type Round = (f64, String, String);

/// Four wrk rounds of `path` for each (port, cookie) target, taken in turn so that the
/// machine's drift affects all alike; the median round (by req/s) of each target.
pub(crate) fn alternate_rounds(
    wrk: &Path,
    targets: &[(u16, Option<&str>)],
    path: &str,
) -> Result<Vec<Round>> {
    let mut runs: Vec<Vec<Round>> = vec![Vec::new(); targets.len()];
    for _ in 0..4 {
        for (runs, (port, cookie)) in runs.iter_mut().zip(targets) {
            runs.push(wrk_round(wrk, *port, path, *cookie)?);
        }
    }
    Ok(runs
        .into_iter()
        .map(|mut runs| {
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            runs[runs.len() / 2].clone()
        })
        .collect())
}

/// One HTTP/1.0 GET with extra header lines; the status and the response head.
pub(crate) fn get(port: u16, path: &str, headers: &str) -> Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{headers}\r\n").as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    Ok((status, head))
}
