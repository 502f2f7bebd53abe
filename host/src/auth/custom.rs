//! `CustomAuth`: Buildbot's class whose `check_credentials` the operator writes, here in one of
//! two forms (docs/authentication.md): an authentication plugin (a sandboxed WebAssembly
//! component, `plugins::Registry::check_credentials`) or an external command that reads the
//! user name and password on its standard input and answers by its exit status, optionally
//! with the user's details as JSON on its standard output.
//!
//! The password goes to the plugin or the command and nowhere else: what they print or answer
//! is logged with every occurrence of it masked, and nothing they say reaches the client.

use std::process::{ExitStatus, Stdio};

use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::LoginError;
use crate::config::CustomAuth;
use crate::identity::User;
use crate::plugins::{Refusal, Registry};

/// The exit status by which a command says it cannot decide now (`EX_TEMPFAIL` of
/// sysexits.h): the login is answered 503, not refused.
pub const EXIT_UNAVAILABLE: i32 = 75;

/// The most of a command's standard output (its user info) and error read; the rest is
/// drained and dropped.
const MAX_OUTPUT: usize = 64 << 10;

/// The most of a command's standard error or a plugin's `unavailable` text logged.
const MAX_LOGGED: usize = 1000;

/// Checks a login with the configured plugin or command: the user when accepted, `None` when
/// refused.
pub(super) async fn check(
    custom: &CustomAuth,
    plugins: &Registry,
    username: &str,
    password: &str,
) -> Result<Option<User>, LoginError> {
    let user = match &custom.command {
        Some(command) => run_command(custom, command, username, password).await?,
        None => match plugins.check_credentials(username, password).await {
            Ok(Ok(user)) => Some(user),
            Ok(Err(Refusal::BadCredentials)) => None,
            Ok(Err(Refusal::Unavailable(reason))) => {
                return Err(LoginError::Unavailable(format!(
                    "authentication plugin '{}' cannot check logins now: {}",
                    plugins.auth_plugin().unwrap_or_default(),
                    masked(&reason, password)
                )))
            }
            Err(fault) => return Err(LoginError::Plugin(fault)),
        },
    };
    Ok(user.map(|user| with_default_email(user, username)))
}

/// Buildbot's default user info gives the user name as e-mail when nothing better is known.
fn with_default_email(user: User, login: &str) -> User {
    match user {
        User::Known {
            username,
            full_name,
            email: None,
            groups,
            extra,
        } => User::Known {
            email: Some(if username.is_empty() {
                login.to_owned()
            } else {
                username.clone()
            }),
            username,
            full_name,
            groups,
            extra,
        },
        other => other,
    }
}

/// Runs the command with `username` and `password` on two lines of its standard input.
async fn run_command(
    custom: &CustomAuth,
    command: &[String],
    username: &str,
    password: &str,
) -> Result<Option<User>, LoginError> {
    // A line break would let a user name carry a second line (another user's name with a
    // guess, past the throttle on the first name); such credentials never log in.
    let unsafe_char = |c: char| matches!(c, '\n' | '\r' | '\0');
    if username.contains(unsafe_char) || password.contains(unsafe_char) {
        return Ok(None);
    }
    let program = &command[0];
    let mut child = tokio::process::Command::new(program)
        .args(&command[1..])
        .current_dir(&custom.base_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so that the whole group is killed at the deadline.
        .process_group(0)
        .spawn()
        .map_err(|err| {
            LoginError::Server(format!(
                "cannot run the CustomAuth command {program:?}: {err}"
            ))
        })?;
    let pid = child.id();
    let deadline = custom.command_deadline();
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let input = format!("{username}\n{password}\n");
    let run = async {
        let write = async {
            if let Some(mut stdin) = stdin {
                // A command that exits without reading closes the pipe: not an error here.
                let _ = stdin.write_all(input.as_bytes()).await;
            }
        };
        let ((), out, err, status) = tokio::join!(
            write,
            read_capped(stdout),
            read_capped(stderr),
            child.wait()
        );
        (out, err, status)
    };
    let (out, err, status) = match tokio::time::timeout(deadline, run).await {
        Ok(done) => done,
        Err(_) => {
            if let Some(pid) = pid {
                kill_group(pid);
            }
            return Err(LoginError::Server(format!(
                "the CustomAuth command {program:?} did not finish within {} ms and was killed",
                deadline.as_millis()
            )));
        }
    };
    let status = status.map_err(|err| {
        LoginError::Server(format!(
            "cannot wait for the CustomAuth command {program:?}: {err}"
        ))
    })?;
    if !err.is_empty() {
        tracing::warn!(
            "CustomAuth command {program:?} for user {username:?} wrote on its standard error: {}",
            masked(&String::from_utf8_lossy(&err), password).escape_debug()
        );
    }
    match status.code() {
        Some(0) => user_of(username, &out)
            .map(Some)
            .map_err(|why| LoginError::Server(format!("the CustomAuth command {program:?} accepted {username:?}, but {why}"))),
        Some(EXIT_UNAVAILABLE) => Err(LoginError::Unavailable(format!(
            "the CustomAuth command {program:?} cannot check logins now (exit status {EXIT_UNAVAILABLE})"
        ))),
        Some(_) => Ok(None),
        None => Err(LoginError::Server(format!(
            "the CustomAuth command {program:?} {}",
            ended_by(status)
        ))),
    }
}

/// How a command that has no exit code ended.
fn ended_by(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(signal) => format!("was killed by signal {signal}"),
        None => format!("ended without an exit code ({status})"),
    }
}

/// Kills the command's process group (its children too), which may outlive it and keep its
/// pipes open.
#[allow(unsafe_code)]
fn kill_group(pid: u32) {
    let Ok(group) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: a plain system call with integer arguments; the group is the command's own
    // (`process_group(0)`), so nothing of the server's is signalled.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// Up to [`MAX_OUTPUT`] bytes of a pipe, read to its end.
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else {
        return kept;
    };
    let mut buffer = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let room = MAX_OUTPUT.saturating_sub(kept.len());
        kept.extend_from_slice(&buffer[..n.min(room)]);
    }
    kept
}

/// The user an accepting command describes on its standard output: nothing (the login name
/// alone), or a JSON object with `full_name`, `email`, `groups` (strings) and further keys
/// kept as they are; `username`, when given, replaces the login name.
fn user_of(login: &str, stdout: &[u8]) -> Result<User, String> {
    let text = std::str::from_utf8(stdout)
        .map_err(|_| "its standard output is not UTF-8".to_owned())?
        .trim();
    let mut info = if text.is_empty() {
        Map::new()
    } else {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(info)) => info,
            _ => {
                return Err(format!(
                    "its standard output ({} bytes) is not a JSON object of user info",
                    text.len()
                ))
            }
        }
    };
    let string = |info: &mut Map<String, Value>, key: &str| match info.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("'{key}' in its user info is not a string")),
    };
    let username = string(&mut info, "username")?
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| login.to_owned());
    let full_name = string(&mut info, "full_name")?;
    let email = string(&mut info, "email")?;
    let groups = match info.remove("groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(group) => Ok(group),
                _ => Err("'groups' in its user info is not a list of strings".to_owned()),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("'groups' in its user info is not a list of strings".to_owned()),
    };
    Ok(User::Known {
        username,
        full_name,
        email,
        groups,
        extra: info,
    })
}

/// `text` with every occurrence of the password masked, cut to [`MAX_LOGGED`] characters, for
/// the log.
pub(super) fn masked(text: &str, password: &str) -> String {
    let text = if password.is_empty() {
        text.to_owned()
    } else {
        text.replace(password, "***")
    };
    let mut cut: String = text.chars().take(MAX_LOGGED).collect();
    if cut.len() < text.len() {
        cut.push_str("...");
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_on_stdout() {
        let user = user_of(
            "homer",
            br#" {"full_name": "Homer Simpson", "groups": ["a", "b"], "realm": "SPRINGFIELD"} "#,
        )
        .unwrap();
        assert_eq!(
            user.user_info().to_string(),
            r#"{"username":"homer","full_name":"Homer Simpson","groups":["a","b"],"realm":"SPRINGFIELD"}"#
        );
        assert_eq!(
            user_of("homer", b"").unwrap().user_info().to_string(),
            r#"{"username":"homer"}"#
        );
        assert!(user_of("homer", b"OK")
            .unwrap_err()
            .contains("not a JSON object"));
        assert!(user_of("homer", br#"{"groups": "a"}"#)
            .unwrap_err()
            .contains("'groups'"));
        assert!(user_of("homer", br#"{"email": 3}"#)
            .unwrap_err()
            .contains("'email'"));
    }

    #[test]
    fn the_password_is_masked() {
        assert_eq!(
            masked("bad pw s3cret for s3cret", "s3cret"),
            "bad pw *** for ***"
        );
        assert_eq!(masked("nothing", ""), "nothing");
        assert_eq!(masked(&"x".repeat(2000), "y").len(), MAX_LOGGED + 3);
    }
}
