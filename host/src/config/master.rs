//! `[www.master]`: the Buildbot master this server forwards control actions to (force, stop,
//! cancel, rebuild...), through the master's own web endpoint. See docs/control.md.

use std::time::Duration;

use serde::Deserialize;

use super::bounded::Bounded;
use super::error::{Fail, KeyPath};

/// `timeout` when not given: Buildbot's own limit for an outgoing web request.
pub const DEFAULT_MASTER_TIMEOUT: Duration = Duration::from_secs(30);

/// `[www.master]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterLinkConfig {
    /// `url`: the master's own web endpoint (`http://127.0.0.1:8011/`), always ending with
    /// `/`; the JSON-RPC calls go to `<url>api/v2/<path>`.
    pub url: String,
    /// `timeout`: how long one forwarded call may take, connection included (default 30 s).
    pub timeout: Duration,
    /// `live_updates`: where `/ws` and `/sse` events come from.
    pub live_updates: LiveUpdates,
}

/// `live_updates`: where live events come from while linked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum LiveUpdates {
    /// `"database"` (default): this server polls the shared database.
    #[default]
    #[serde(rename = "database")]
    Database,
    /// `"master"`: the master's own `/ws` feeds them; the database is polled again while that
    /// connection is down.
    #[serde(rename = "master")]
    Master,
}

/// `[www.master]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMaster {
    url: String,
    #[serde(default)]
    timeout: Option<Bounded<1, 3600>>,
    #[serde(default)]
    live_updates: LiveUpdates,
}

impl RawMaster {
    pub(super) fn validate(self, at: &KeyPath) -> Result<MasterLinkConfig, Fail> {
        let url = self.url.trim();
        let fail = |message: String| Fail::at(at.key("url"), message);
        // Before anything that repeats the URL: a password in it stays out of messages.
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = after_scheme
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default();
        if authority.contains('@') {
            return Err(fail(
                "the URL carries credentials; the link logs in with a session of the caller, \
                 so give the bare URL"
                    .to_owned(),
            ));
        }
        super::check_http_url(url).map_err(fail)?;
        if url.contains(['?', '#']) {
            return Err(fail(format!(
                "'{url}' has a query or fragment; give the master's base URL, such as \
                 http://127.0.0.1:8011/"
            )));
        }
        let url = if url.ends_with('/') {
            url.to_owned()
        } else {
            format!("{url}/")
        };
        Ok(MasterLinkConfig {
            url,
            timeout: self
                .timeout
                .map_or(DEFAULT_MASTER_TIMEOUT, |s| Duration::from_secs(s.get())),
            live_updates: self.live_updates,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<Option<MasterLinkConfig>, String> {
        crate::config::parse(text, Path::new("master.toml"))
            .map(|c| c.www.master)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn url_gets_its_slash_and_timeout_its_default() {
        assert_eq!(parse("").unwrap(), None);
        let link = parse("[www.master]\nurl = \"http://127.0.0.1:8011\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(link.url, "http://127.0.0.1:8011/");
        assert_eq!(link.timeout, DEFAULT_MASTER_TIMEOUT);
        let link = parse("[www.master]\nurl = \"https://master.internal/bb/\"\ntimeout = 5\n")
            .unwrap()
            .unwrap();
        assert_eq!(link.url, "https://master.internal/bb/");
        assert_eq!(link.timeout, Duration::from_secs(5));
    }

    #[test]
    fn bad_values_are_refused_at_their_key() {
        for (lines, expected) in [
            (
                "url = \"ftp://m/\"",
                "master.toml:2:7: error: [www.master] url: 'ftp://m/' is not an http:// or https:// URL",
            ),
            ("url = \"http://:8011/\"", "[www.master] url: 'http://:8011/' has no host"),
            ("url = \"http://m/?x=1\"", "[www.master] url: 'http://m/?x=1' has a query or fragment"),
            (
                "url = \"http://m/\"\ntimeout = 0",
                "[www.master] timeout: must be between 1 and 3600, found 0",
            ),
            ("timeout = 3", "missing key 'url' in [www.master]"),
            ("url = \"http://m/\"\nurls = 1", "unknown key 'urls' in [www.master]"),
        ] {
            let e = parse(&format!("[www.master]\n{lines}\n")).unwrap_err();
            assert!(e.contains(expected), "{lines}: {e}");
        }
        let e = parse("[www.master]\nurl = \"http://bot:pw@127.0.0.1:8011/\"\n").unwrap_err();
        let message = e.lines().next().unwrap();
        assert!(message.ends_with("[www.master] url: the URL carries credentials; the link logs in with a session of the caller, so give the bare URL"), "{e}");
        assert!(
            !message.contains("pw@"),
            "the message does not repeat it: {e}"
        );
    }
}
