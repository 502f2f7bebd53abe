//! Apache `.htpasswd` files (`HTPasswdAuth`), checked with their real hashes: bcrypt
//! (`$2y$`, `$2a$`, `$2b$`), Apache MD5 (`$apr1$`), `{SHA}`, SHA-crypt (`$5$`, `$6$`) and plain
//! text. Buildbot 4.3 compares the stored string with the password as plain text, so only
//! plain-text entries work there, and the hash itself works as the password.
//!
//! The file is read at each login, so edits apply at once. An entry whose hash cannot be
//! checked (DES crypt, an unknown `$id$`) is refused with a message naming its line, when the
//! server starts ([`check_file`]) and at login.

use std::path::Path;

use base64::Engine as _;
use md5::{Digest as _, Md5};
use sha1::Sha1;

/// A file larger than this is refused: an htpasswd file is a few lines per user.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// What is wrong with a password file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HtpasswdError {
    /// The file cannot be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// An entry's hash is of a kind this server cannot check.
    #[error("{path}:{line}: {reason}")]
    Unsupported {
        /// The file.
        path: String,
        /// The 1-based line of the entry.
        line: usize,
        /// What kind of hash, and what to do.
        reason: String,
    },
}

/// How an entry's password is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bcrypt,
    AprMd5,
    Sha1,
    Sha256Crypt,
    Sha512Crypt,
    Plain,
}

/// The kind of a stored password, or why it cannot be checked.
fn kind(stored: &str) -> Result<Kind, String> {
    if ["$2y$", "$2a$", "$2b$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        Ok(Kind::Bcrypt)
    } else if stored.starts_with("$apr1$") {
        Ok(Kind::AprMd5)
    } else if stored.starts_with("{SHA}") {
        Ok(Kind::Sha1)
    } else if stored.starts_with("$5$") {
        Ok(Kind::Sha256Crypt)
    } else if stored.starts_with("$6$") {
        Ok(Kind::Sha512Crypt)
    } else if stored.starts_with('$') {
        Err(format!(
            "the hash kind '{}' is not supported; use bcrypt (htpasswd -B)",
            stored.split('$').nth(1).unwrap_or("")
        ))
    } else if stored.len() == 13
        && stored
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    {
        Err(
            "DES crypt hashes (htpasswd -d) are not supported: they keep only 8 characters \
             of the password; re-create the entry with bcrypt (htpasswd -B)"
                .into(),
        )
    } else {
        Ok(Kind::Plain)
    }
}

/// The entries of a file: `(line, user, stored)`; blank lines and `#` comments are skipped.
fn entries(text: &str) -> impl Iterator<Item = (usize, &str, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            return None;
        }
        let (user, stored) = line.split_once(':')?;
        // Some tools append `:comment` fields after the hash.
        let stored = stored.split(':').next().unwrap_or("");
        Some((i + 1, user, stored))
    })
}

fn read(path: &Path) -> Result<String, HtpasswdError> {
    let unreadable = |reason: String| HtpasswdError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| unreadable(e.to_string()))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(unreadable(format!(
            "{size} bytes, more than {MAX_FILE_BYTES}"
        )));
    }
    std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))
}

/// Checks every entry of the file: the first one whose hash cannot be checked is an error.
pub fn check_file(path: &Path) -> Result<(), HtpasswdError> {
    let text = read(path)?;
    for (line, _, stored) in entries(&text) {
        kind(stored).map_err(|reason| HtpasswdError::Unsupported {
            path: path.display().to_string(),
            line,
            reason,
        })?;
    }
    Ok(())
}

/// Whether `password` is `user`'s password in the file (user names are case-sensitive; the
/// first entry of a user counts, as with Apache).
pub fn verify(path: &Path, user: &str, password: &str) -> Result<bool, HtpasswdError> {
    let text = read(path)?;
    let Some((line, _, stored)) = entries(&text).find(|(_, name, _)| *name == user) else {
        return Ok(false);
    };
    let kind = kind(stored).map_err(|reason| HtpasswdError::Unsupported {
        path: path.display().to_string(),
        line,
        reason,
    })?;
    Ok(matches(kind, stored, password))
}

fn matches(kind: Kind, stored: &str, password: &str) -> bool {
    match kind {
        Kind::Bcrypt => bcrypt::verify(password, stored).unwrap_or(false),
        Kind::AprMd5 => {
            let mut parts = stored.splitn(4, '$');
            let salt = parts.nth(2).unwrap_or("");
            super::same_secret(&apr1(password.as_bytes(), salt.as_bytes()), stored)
        }
        Kind::Sha1 => {
            let digest = Sha1::digest(password.as_bytes());
            let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
            super::same_secret(&format!("{{SHA}}{encoded}"), stored)
        }
        Kind::Sha256Crypt => sha_crypt_matches(stored, password, false).unwrap_or(false),
        Kind::Sha512Crypt => sha_crypt_matches(stored, password, true).unwrap_or(false),
        Kind::Plain => super::same_secret(stored, password),
    }
}

/// SHA-crypt (`$5$` SHA-256, `$6$` SHA-512): `$id$[rounds=N$]salt$hash`, read as glibc's
/// `crypt` reads it (rounds clamped to 1,000–999,999,999, the salt cut at 16 characters).
fn sha_crypt_matches(stored: &str, password: &str, sha512: bool) -> Option<bool> {
    let rest = stored.get(3..)?;
    let (rounds, rest) = match rest.strip_prefix("rounds=") {
        Some(after) => {
            let (n, rest) = after.split_once('$')?;
            let n: usize = n.parse().ok()?;
            (n.clamp(sha_crypt::ROUNDS_MIN, sha_crypt::ROUNDS_MAX), rest)
        }
        None => (sha_crypt::ROUNDS_DEFAULT, rest),
    };
    let (salt, hash) = rest.rsplit_once('$')?;
    let salt = &salt.as_bytes()[..salt.len().min(16)];
    let computed = if sha512 {
        let params = sha_crypt::Sha512Params::new(rounds).ok()?;
        sha_crypt::sha512_crypt_b64(password.as_bytes(), salt, &params).ok()?
    } else {
        let params = sha_crypt::Sha256Params::new(rounds).ok()?;
        sha_crypt::sha256_crypt_b64(password.as_bytes(), salt, &params).ok()?
    };
    Some(super::same_secret(&computed, hash))
}

/// The characters of crypt's base-64 alphabet.
const CRYPT64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Apache's MD5 crypt (`$apr1$salt$hash`): Poul-Henning Kamp's MD5-crypt with Apache's magic
/// string; the salt is at most 8 characters.
fn apr1(password: &[u8], salt: &[u8]) -> String {
    const MAGIC: &[u8] = b"$apr1$";
    let salt = &salt[..salt.len().min(8)];
    let alternate = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    let mut context = Md5::new();
    context.update(password);
    context.update(MAGIC);
    context.update(salt);
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        context.update(&alternate[..n]);
        left -= n;
    }
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            context.update([0u8]);
        } else {
            context.update(&password[..1]);
        }
        bits >>= 1;
    }
    let mut digest = context.finalize();
    for round in 0..1000 {
        let mut next = Md5::new();
        if round % 2 == 1 {
            next.update(password);
        } else {
            next.update(digest);
        }
        if round % 3 != 0 {
            next.update(salt);
        }
        if round % 7 != 0 {
            next.update(password);
        }
        if round % 2 == 1 {
            next.update(digest);
        } else {
            next.update(password);
        }
        digest = next.finalize();
    }
    let mut out = String::with_capacity(37);
    out.push_str("$apr1$");
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    let mut push = |value: u32, chars: usize| {
        let mut value = value;
        for _ in 0..chars {
            out.push(CRYPT64[(value & 0x3f) as usize] as char);
            value >>= 6;
        }
    };
    let d = |i: usize| u32::from(digest[i]);
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        push((d(a) << 16) | (d(b) << 8) | d(c), 4);
    }
    push(d(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apr1_matches_known_values() {
        // What `openssl passwd -apr1 -salt SALT PASSWORD` prints: another implementation.
        assert_eq!(
            apr1(b"password", b"xxxxxxxx"),
            "$apr1$xxxxxxxx$dxHfLAsjHkDRmG83UXe8K0"
        );
        assert_eq!(
            apr1(b"myPassword", b"r31....."),
            "$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/"
        );
        assert_eq!(apr1(b"", b"ab"), "$apr1$ab$S8K6Sgp3W8c9Jb6LxgywZ.");
    }

    #[test]
    fn kinds_are_told_apart() {
        assert_eq!(kind("$2y$05$abc"), Ok(Kind::Bcrypt));
        assert_eq!(kind("$apr1$a$b"), Ok(Kind::AprMd5));
        assert_eq!(kind("{SHA}abc="), Ok(Kind::Sha1));
        assert_eq!(kind("$5$rounds=5000$a$b"), Ok(Kind::Sha256Crypt));
        assert_eq!(kind("$6$a$b"), Ok(Kind::Sha512Crypt));
        assert_eq!(kind("d'oh"), Ok(Kind::Plain));
        assert!(kind("rOd5ZkTmnyZ2.").unwrap_err().contains("DES"));
        assert!(kind("$1$a$b").unwrap_err().contains("'1'"));
    }

    #[test]
    fn entries_skip_comments_and_blank_lines() {
        let text = "# users\n\nhomer:doh\r\nmarge:$apr1$x$y:comment\nbroken line\n";
        let found: Vec<_> = entries(text).collect();
        assert_eq!(found, vec![(3, "homer", "doh"), (4, "marge", "$apr1$x$y")]);
    }
}
