//! `cargo xtask bench hooks`: deliveries per second to `/change_hook/github` of a signed push
//! of two commits (each delivery new commits, so two changes and two sourcestamps written),
//! one client after the other and 8 at once, against the release server on a copy of the
//! reference database and, when its Python environment is there, a real Buildbot 4.3 master
//! with the same hook.

use std::io::{Read, Write};

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hmac::Mac as _;

use crate::bench::start_server_with;
use crate::root;

const SECRET: &str = "s3cret";
const OURS_PORT: u16 = 18_040;
const BUILDBOT_PORT: u16 = 18_041;
const BUILDBOT_PB_PORT: u16 = 18_042;
/// Deliveries of the sequential round; the concurrent round gives each client as many.
const SEQUENTIAL: usize = 400;
const CLIENTS: usize = 8;
const PER_CLIENT: usize = 150;

pub(crate) fn hooks() -> Result<()> {
    let bench_dir = root().join("target/bench/hooks");
    let _ = std::fs::remove_dir_all(&bench_dir);
    std::fs::create_dir_all(&bench_dir)?;
    let mut report = String::from(
        "Each delivery: `POST /change_hook/github`, a push of 2 new commits signed with \
         `X-Hub-Signature` (HMAC-SHA1) and `X-Hub-Signature-256`, one connection per delivery; \
         every answer checked to be `200 2 change found`.\n\n\
         | server | clients | deliveries | deliveries/s | changes/s | p50 | p99 |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut next_commit = 0usize;

    let ours_dir = bench_dir.join("ours");
    std::fs::create_dir_all(&ours_dir)?;
    let database = ours_dir.join("state.sqlite");
    std::fs::copy(crate::bench::reference_database(), &database)?;
    {
        let _server = start_server_with(
            &ours_dir,
            &database,
            OURS_PORT,
            &format!(
                "[www.change_hook_dialects]\ngithub = {{ secret = \"{SECRET}\", strict = true }}\n"
            ),
        )?;
        measure(
            "buildbot-www (release)",
            OURS_PORT,
            &mut next_commit,
            &mut report,
        )?;
    }

    match crate::buildbot::venv() {
        Some(venv) => {
            let www = format!(
                "{{\"change_hook_dialects\": {{\"github\": {{\"secret\": \"{SECRET}\", \"strict\": True}}}}}}"
            );
            let _master = crate::buildbot::start_master(
                &venv,
                &bench_dir.join("buildbot"),
                &crate::bench::reference_database(),
                (BUILDBOT_PORT, BUILDBOT_PB_PORT),
                &www,
            )?;
            measure(
                "Buildbot 4.3 (twistd)",
                BUILDBOT_PORT,
                &mut next_commit,
                &mut report,
            )?;
        }
        None => report.push_str(
            "\nBuildbot 4.3 not measured: its Python environment (`$CARGO_TARGET_DIR/\
             buildbot-venv-4.3.0`, made by `fixtures/buildbot/venv.sh`) is not there.\n",
        ),
    }
    println!("\n{report}");
    std::fs::write(root().join("target/bench/hooks.md"), report)?;
    Ok(())
}

/// The sequential round and the concurrent round on `port`, each a row of `report`.
fn measure(label: &str, port: u16, next_commit: &mut usize, report: &mut String) -> Result<()> {
    // A few first, not measured (connections, caches, the first sourcestamps).
    let warm = requests(port, 10, next_commit);
    run_clients(port, vec![warm])?;
    for (clients, each) in [(1, SEQUENTIAL), (CLIENTS, PER_CLIENT)] {
        let batches: Vec<Vec<Vec<u8>>> = (0..clients)
            .map(|_| requests(port, each, next_commit))
            .collect();
        let started = Instant::now();
        let mut latencies = run_clients(port, batches)?;
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort();
        let total = clients * each;
        let rate = total as f64 / elapsed;
        let pick =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        println!(
            "{label:<24} {clients} client(s): {rate:>8.1} deliveries/s  p50 {:>8.2?}  p99 {:>8.2?}",
            pick(0.5),
            pick(0.99)
        );
        report.push_str(&format!(
            "| {label} | {clients} | {total} | {rate:.0} | {:.0} | {:.2?} | {:.2?} |\n",
            rate * 2.0,
            pick(0.5),
            pick(0.99)
        ));
    }
    Ok(())
}

/// `count` deliveries' bytes, each a push of two commits not sent before.
fn requests(port: u16, count: usize, next_commit: &mut usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|_| {
            let first = *next_commit;
            *next_commit += 2;
            delivery(port, &push(first))
        })
        .collect()
}

/// GitHub's push payload for commits `first` and `first + 1` on main.
fn push(first: usize) -> Vec<u8> {
    let repo = "https://github.com/simpsons/springfield";
    let commit = |n: usize, name: &str, email: &str| {
        let id = format!("{n:040x}");
        serde_json::json!({
            "id": id, "tree_id": "f".repeat(40), "distinct": true,
            "message": format!("Commit {n}\n\nWith a body of a few words."),
            "timestamp": "2026-11-27T10:15:30+01:00",
            "url": format!("{repo}/commit/{id}"),
            "author": {"name": name, "email": email, "username": name},
            "committer": {"name": name, "email": email, "username": name},
            "added": [format!("src/new/{n}.c")], "removed": [],
            "modified": ["src/reactor/Makefile", "README.md"],
        })
    };
    let commits = vec![
        commit(first, "Homer Simpson", "homer@example.com"),
        commit(first + 1, "Marge Simpson", "marge@example.com"),
    ];
    serde_json::json!({
        "ref": "refs/heads/main", "before": "0".repeat(40), "after": format!("{:040x}", first + 1),
        "repository": {"id": 700001, "name": "springfield", "full_name": "simpsons/springfield",
                       "html_url": repo, "url": repo, "default_branch": "main"},
        "pusher": {"name": "homer", "email": "homer@example.com"},
        "sender": {"login": "homer", "id": 1001},
        "created": false, "deleted": false, "forced": false,
        "head_commit": commits[1].clone(), "commits": commits,
    })
    .to_string()
    .into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The whole request of a delivery of `body`, signed as GitHub signs.
fn delivery(port: u16, body: &[u8]) -> Vec<u8> {
    let mut sha1 = hmac::Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).expect("a key");
    sha1.update(body);
    let mut sha256 = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("a key");
    sha256.update(body);
    let mut out = format!(
        "POST /change_hook/github HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         User-Agent: GitHub-Hookshot/044aadd\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: push\r\nX-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958\r\n\
         X-Hub-Signature: sha1={}\r\nX-Hub-Signature-256: sha256={}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        hex(&sha1.finalize().into_bytes()),
        hex(&sha256.finalize().into_bytes()),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Each batch sent by its own client thread, one delivery after the other; every delivery's
/// time. Fails unless every answer is `200 ... 2 change found`.
fn run_clients(port: u16, batches: Vec<Vec<Vec<u8>>>) -> Result<Vec<Duration>> {
    let threads: Vec<_> = batches
        .into_iter()
        .map(|batch| {
            std::thread::spawn(move || -> Result<Vec<Duration>> {
                let mut times = Vec::with_capacity(batch.len());
                for request in batch {
                    let started = Instant::now();
                    let answer = send(port, &request)?;
                    times.push(started.elapsed());
                    if !(answer.starts_with("HTTP/1.1 200 ") && answer.ends_with("2 change found"))
                    {
                        bail!("unexpected answer: {answer}");
                    }
                }
                Ok(times)
            })
        })
        .collect();
    let mut all = Vec::new();
    for thread in threads {
        all.extend(
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("a client panicked"))??,
        );
    }
    Ok(all)
}

/// One request on a new connection; the answer with a chunked body joined.
fn send(port: u16, request: &[u8]) -> Result<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").context("no end of headers")?;
    let chunked = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
    let body = if chunked {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).context("a chunk size")?;
            if size == 0 || after.len() < size {
                break;
            }
            out.push_str(&after[..size]);
            rest = after[size..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_owned()
    };
    let status_line = head.lines().next().unwrap_or_default();
    Ok(format!("{status_line} {body}"))
}
