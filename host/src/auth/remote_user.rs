//! `RemoteUserAuth`: a reverse proxy authenticates and names the user in a request header.
//!
//! The header is read on every request (Buildbot reads it only on `/` and then trusts the
//! session cookie it set there); a request without a matching header is anonymous whatever
//! cookie it carries. What the `userInfoProvider` knows of a user is cached for a while, so a
//! directory is not asked on every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName};
use serde_json::{Map, Value};

use super::user_info;
use crate::config::{RemoteUserAuth, UserInfoProvider};
use crate::identity::User;

/// How long what the provider said of a user is reused.
const KNOWN_FOR: Duration = Duration::from_secs(300);
/// How long a provider failure is reused (the user meanwhile has only what the header says).
const FAILED_FOR: Duration = Duration::from_secs(30);
/// Most users whose provider answers are kept; the oldest half goes when it is reached.
const MOST_CACHED: usize = 10_000;
/// Longest header value read; a longer one is not a user name.
const MAX_VALUE: usize = 1024;

/// The configured header and expression, and the provider answers recently seen.
#[derive(Debug)]
pub struct RemoteUser {
    header: HeaderName,
    /// `headerRegex`, anchored at both ends: it must match the whole value.
    pattern: regex::Regex,
    provider: Option<UserInfoProvider>,
    cache: Mutex<HashMap<String, (Instant, Duration, User)>>,
}

impl RemoteUser {
    /// The reader of `config`'s header (a loaded config has checked the name and expression).
    pub fn new(config: &RemoteUserAuth) -> anyhow::Result<RemoteUser> {
        let header = HeaderName::try_from(config.header.trim()).map_err(|_| {
            anyhow::anyhow!(
                "[www.auth] header: '{}' is not a valid HTTP header name",
                config.header
            )
        })?;
        let pattern = regex::Regex::new(&format!("^(?:{})$", config.header_regex.as_str()))?;
        Ok(RemoteUser {
            header,
            pattern,
            provider: config.user_info_provider.clone(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The user the proxy named in `headers`; anonymous without exactly one header whose
    /// whole value matches the expression.
    pub async fn user(&self, headers: &HeaderMap) -> User {
        let Some(user) = self.named_by(headers) else {
            return User::Anonymous;
        };
        if self.provider.is_none() {
            return user;
        }
        let User::Known { username, .. } = &user else {
            return user;
        };
        let username = username.clone();
        if let Some(known) = self.cached(&username) {
            return known;
        }
        let (user, keep) = match user_info::complete(self.provider.as_ref(), user.clone()).await {
            Ok(completed) => (completed, KNOWN_FOR),
            Err(err) => {
                tracing::error!(
                    "userInfoProvider: no details for remote user {username:?}, who has only \
                     what the header says for {}s: {err}",
                    FAILED_FOR.as_secs()
                );
                (user, FAILED_FOR)
            }
        };
        self.remember(username, keep, user.clone());
        user
    }

    /// The user the header names, before any provider: the expression's named groups
    /// (`username`, `email` and `full_name` in their fields, the others kept in order), the
    /// e-mail being the user name when no group gives it, as Buildbot does.
    fn named_by(&self, headers: &HeaderMap) -> Option<User> {
        let mut values = headers.get_all(&self.header).iter();
        let value = values.next()?;
        if values.next().is_some() || value.len() > MAX_VALUE {
            return None;
        }
        let value = value.to_str().ok()?;
        let Some(captures) = self.pattern.captures(value) else {
            tracing::debug!(
                "{} {value:?} does not match headerRegex: anonymous",
                self.header
            );
            return None;
        };
        let group = |name: &str| {
            captures
                .name(name)
                .map(|m| m.as_str().to_owned())
                .filter(|v| !v.is_empty())
        };
        let username = group("username")?;
        let mut extra = Map::new();
        for name in self.pattern.capture_names().flatten() {
            if !matches!(name, "username" | "email" | "full_name") {
                if let Some(value) = group(name) {
                    extra.insert(name.to_owned(), Value::String(value));
                }
            }
        }
        Some(User::Known {
            email: Some(group("email").unwrap_or_else(|| username.clone())),
            full_name: group("full_name"),
            username,
            groups: Vec::new(),
            extra,
        })
    }

    fn cached(&self, username: &str) -> Option<User> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(username)
            .filter(|(at, keep, _)| at.elapsed() < *keep)
            .map(|(_, _, user)| user.clone())
    }

    fn remember(&self, username: String, keep: Duration, user: User) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MOST_CACHED {
            let mut ages: Vec<Instant> = cache.values().map(|(at, _, _)| *at).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            cache.retain(|_, (at, _, _)| *at > cut);
        }
        cache.insert(username, (Instant::now(), keep, user));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigRegex;

    fn reader(header: &str, regex: &str) -> RemoteUser {
        RemoteUser::new(&RemoteUserAuth {
            header: header.into(),
            header_regex: ConfigRegex::new(regex).unwrap(),
            user_info_provider: None,
        })
        .unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::try_from(*name).unwrap(), value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_whole_value_must_match() {
        let remote = reader("REMOTE_USER", r"(?P<username>[^ @]+)@(?P<realm>[^ @]+)");
        let user = remote
            .named_by(&headers(&[("remote_user", "homer@EXAMPLE.COM")]))
            .unwrap();
        assert_eq!(
            user.user_info(),
            serde_json::json!({"username": "homer", "email": "homer", "realm": "EXAMPLE.COM"})
        );
        for value in ["homer@EXAMPLE@COM", "homer@EXAMPLE.COM junk", "homer", ""] {
            assert_eq!(
                remote.named_by(&headers(&[("REMOTE_USER", value)])),
                None,
                "{value}"
            );
        }
        // Another header, or the header twice, names nobody.
        assert_eq!(
            remote.named_by(&headers(&[("Remote-User", "homer@EXAMPLE.COM")])),
            None
        );
        assert_eq!(
            remote.named_by(&headers(&[
                ("REMOTE_USER", "homer@EXAMPLE.COM"),
                ("REMOTE_USER", "marge@EXAMPLE.COM")
            ])),
            None
        );
    }

    #[test]
    fn groups_fill_the_user() {
        let remote = reader(
            "X-Forwarded-User",
            r"(?P<full_name>[^<]+) <(?P<email>[^>]+)> (?P<username>\w+)",
        );
        let user = remote
            .named_by(&headers(&[(
                "x-forwarded-user",
                "Homer Simpson <homer@example.org> homer",
            )]))
            .unwrap();
        assert_eq!(
            user.user_info(),
            serde_json::json!({"username": "homer", "full_name": "Homer Simpson", "email": "homer@example.org"})
        );
    }

    #[test]
    fn a_flag_at_the_start_still_applies() {
        let remote = reader("REMOTE_USER", r"(?i)(?P<username>[a-z]+)");
        assert!(remote
            .named_by(&headers(&[("REMOTE_USER", "HOMER")]))
            .is_some());
    }
}
