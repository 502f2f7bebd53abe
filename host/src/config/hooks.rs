//! `change_hook_auth`: who may deliver to `/change_hook/`. Buildbot takes a list of Twisted
//! credential checkers, written `strcred.makeChecker("file:changehook.passwd")`; here the list
//! holds the same descriptions as strings: `"file:PATH"` (an htpasswd file: plain text, as
//! Twisted reads it, or any hash `HTPasswdAuth` knows) and `"memory:USER:PASSWORD"`.

use std::path::{Path, PathBuf};

use super::error::{Fail, KeyPath};
use super::secret::Secret;

/// One credential checker of `change_hook_auth`.
#[derive(Debug, Clone)]
pub enum HookChecker {
    /// `file:PATH`: user names and passwords in an htpasswd file, read at each delivery.
    File(PathBuf),
    /// `memory:USER:PASSWORD`: one user given in the config.
    Memory {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
}

/// Reads `change_hook_auth` (already known to be a list of strings).
pub(crate) fn checkers(
    written: Vec<String>,
    at: &KeyPath,
    base_dir: &Path,
) -> Result<Vec<HookChecker>, Fail> {
    if written.is_empty() {
        // Buildbot would then refuse every delivery (a portal without checkers).
        return Err(Fail::at(
            at.clone(),
            "an empty list would refuse every delivery; list a checker, or leave the key out",
        ));
    }
    let mut out = Vec::new();
    for (i, description) in written.into_iter().enumerate() {
        let at = at.index(i);
        let checker = match description.split_once(':') {
            // Read (and each entry's hash checked) when the server starts, as HTPasswdAuth.
            Some(("file", path)) if !path.is_empty() => HookChecker::File(base_dir.join(path)),
            Some(("memory", rest)) => match rest.split_once(':') {
                Some((user, password)) if !user.is_empty() => HookChecker::Memory {
                    username: user.to_owned(),
                    password: Secret::new(password),
                },
                _ => return Err(Fail::at(at, "expected \"memory:USER:PASSWORD\"").concealed()),
            },
            // Never echo the string, nor its line: it may be a password.
            _ => {
                return Err(Fail::at(
                    at,
                    "expected \"file:PATH\" (an htpasswd file) or \"memory:USER:PASSWORD\", \
                     the descriptions Twisted's strcred.makeChecker takes; Buildbot refuses a \
                     plain \"user:password\" string too",
                )
                .concealed())
            }
        };
        out.push(checker);
    }
    Ok(out)
}
