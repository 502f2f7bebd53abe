//! `cargo xtask bench authz`: what authorization rules cost. REST throughput of
//! `builds?limit=50` for a logged-in user with 20 allow rules configured (19 that a read passes
//! over, then one that the user's role satisfies) against the same read with no rules, wrk
//! rounds taken in turn; then the `/ws` fan-out of build events to 1,000 subscribers filtered
//! per user (`host/examples/authz_fanout.rs`).

use anyhow::{bail, Context, Result};

use crate::bench::{ensure_wrk, generated_database, run_example, start_server_with};
use crate::bench_auth::{alternate_rounds, get, session_cookie};
use crate::root;

const READ: &str = "/api/v2/builds?limit=50";
const PLAIN_PORT: u16 = 18_040;
const RULES_PORT: u16 = 18_041;
const USERS: &str = "[www.auth]\ntype = \"UserPasswordAuth\"\nusers = { homer = \"doh\" }\n";

/// Twenty rules: control matchers (with builder patterns) a read passes over, then the rule
/// deciding reads, which homer's role satisfies.
fn twenty_rules() -> String {
    let mut rules = Vec::new();
    for i in 0..6 {
        rules.push(format!(
            "{{ matcher = \"ForceBuildEndpointMatcher\", builder = \"team{i}-*\", role = \"team{i}\" }}"
        ));
        rules.push(format!(
            "{{ matcher = \"StopBuildEndpointMatcher\", builder = \"team{i}-*\", role = \"team{i}\" }}"
        ));
        rules.push(format!(
            "{{ matcher = \"RebuildBuildEndpointMatcher\", builder = \"team{i}-*\", role = \"team{i}\" }}"
        ));
    }
    rules.push("{ matcher = \"AnyControlEndpointMatcher\", role = \"admins\" }".into());
    rules.push("{ matcher = \"AnyEndpointMatcher\", role = \"users\" }".into());
    format!(
        "[www.authz]\nallowRules = [\n{}\n]\nroleMatchers = [{{ type = \"RolesFromUsername\", roles = [\"users\"], usernames = [\"homer\"] }}]\n",
        rules.join(",\n")
    )
}

pub(crate) fn authz() -> Result<()> {
    let wrk = ensure_wrk()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let database = generated_database(&bench_dir, 1000, 1000)?;
    let _plain = start_server_with(
        &bench_dir.join("serve-authz-none"),
        &database,
        PLAIN_PORT,
        USERS,
    )?;
    let _ruled = start_server_with(
        &bench_dir.join("serve-authz-20"),
        &database,
        RULES_PORT,
        &format!("{USERS}{}", twenty_rules()),
    )?;
    let login = |port| -> Result<String> {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode("homer:doh");
        let (status, head) = get(
            port,
            "/auth/login",
            &format!("Authorization: Basic {token}\r\n"),
        )?;
        if status != 302 {
            bail!("login on port {port}: status {status}");
        }
        session_cookie(&head).context("the login set no session cookie")
    };
    let (plain_cookie, ruled_cookie) = (login(PLAIN_PORT)?, login(RULES_PORT)?);
    let (status, _) = get(RULES_PORT, READ, &format!("Cookie: {ruled_cookie}\r\n"))?;
    if status != 200 {
        bail!("the read under 20 rules answered {status}");
    }
    let rounds = alternate_rounds(
        &wrk,
        &[
            (PLAIN_PORT, Some(&plain_cookie)),
            (RULES_PORT, Some(&ruled_cookie)),
        ],
        READ,
    )?;
    let (plain, ruled) = (&rounds[0], &rounds[1]);
    let mut report = format!(
        "| `{READ}` as a logged-in user | req/s (median of 4) | p50 | p99 |\n|---|---|---|---|\n\
         | no rules | {:.0} | {} | {} |\n| 20 allow rules | {:.0} | {} | {} |\n\
         \nWith 20 rules: {:.1} % of the throughput without.\n",
        plain.0,
        plain.1,
        plain.2,
        ruled.0,
        ruled.1,
        ruled.2,
        ruled.0 / plain.0 * 100.0
    );
    let copy = bench_dir.join("authz-fanout.sqlite");
    std::fs::copy(crate::bench::reference_database(), &copy)?;
    let text = run_example(
        "authz_fanout",
        &[copy.as_os_str(), "1000".as_ref(), "10".as_ref()],
    )?;
    report.push_str(&format!("\n{}\n", text.lines().last().unwrap_or_default()));
    println!("\n{report}");
    std::fs::write(bench_dir.join("authz.md"), report)?;
    Ok(())
}
