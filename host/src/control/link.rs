//! The link to a Buildbot master (`[www.master]`): a control call this server has authorized
//! (force, stop, cancel, rebuild...) is sent, unchanged, to the same path of the master's own
//! web endpoint, as the caller: the request carries a short `TWISTED_SESSION` token for the
//! caller's `user_info`, signed with the `session_secret` the master and this server share
//! through their database. The master validates, runs and answers; its answer comes back as-is.
//! See docs/control.md.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::auth::session::{SecretError, Sessions, COOKIE};
use crate::config::{Config, MasterLinkConfig};
use crate::identity::User;

/// The cookie Twisted reads the session from on a TLS connection (an https master URL).
const SECURE_COOKIE: &str = "TWISTED_SECURE_SESSION";

/// The largest answer taken from the master; JSON-RPC answers are a few hundred bytes.
const MAX_ANSWER: usize = 4 << 20;

/// How long a forwarded token stays valid beyond the call's own timeout, for clock skew
/// between the two hosts.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// The forwarding end of the link: one HTTP client for the master.
#[derive(Debug)]
pub struct MasterLink {
    /// `[www.master] url`, ending with `/`.
    url: String,
    timeout: Duration,
    client: reqwest::Client,
    sessions: Arc<Sessions>,
}

/// The master's answer, as it gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, when there was a readable one.
    pub content_type: Option<String>,
    /// The whole body.
    pub body: Bytes,
}

/// Why a call could not be forwarded. None of these carries the session token.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No connection: refused, no route, name not resolved, TLS refused.
    #[error("the Buildbot master at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    /// No whole answer within `[www.master] timeout`.
    #[error("the Buildbot master at {url} did not answer within {} s", timeout.as_secs())]
    Timeout { url: String, timeout: Duration },
    /// Something answered, but not with a readable HTTP answer.
    #[error(
        "the Buildbot master at {url} answered something that is not a valid HTTP answer: {reason}"
    )]
    BadAnswer { url: String, reason: String },
    /// The path is not one of the Data API's (`builds/7`).
    #[error("'{0}' is not a Data API path such as builds/7")]
    BadPath(String),
    /// The session secret could not be read to sign the caller's token.
    #[error(transparent)]
    Session(#[from] SecretError),
    /// The HTTP client could not be set up (TLS roots).
    #[error("cannot set up the HTTP client for the Buildbot master: {0}")]
    Client(String),
}

impl MasterLink {
    /// The link `[www.master]` configures, or `None` when the table is absent (standalone).
    /// `sessions` must be the server's own: its secret is the one the master shares.
    pub fn new(config: &Config, sessions: Arc<Sessions>) -> Result<Option<MasterLink>, LinkError> {
        config
            .www
            .master
            .as_ref()
            .map(|master| MasterLink::to(master, sessions))
            .transpose()
    }

    /// A link to the master `master` names.
    pub fn to(master: &MasterLinkConfig, sessions: Arc<Sessions>) -> Result<MasterLink, LinkError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("buildbot-www/", env!("CARGO_PKG_VERSION")))
            .timeout(master.timeout)
            // The master is a private endpoint, and a proxy would see the caller's token.
            .no_proxy()
            // A redirect is the master's answer, not a place to send the token to.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| LinkError::Client(reasons(&err)))?;
        Ok(MasterLink {
            url: master.url.clone(),
            timeout: master.timeout,
            client,
            sessions,
        })
    }

    /// The master's base URL, ending with `/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends the JSON-RPC call `body` to `<master>/api/v2/<path>` as `user` (anonymous: with
    /// no session), and returns the master's answer, whatever its status.
    pub async fn forward(
        &self,
        user: &User,
        path: &str,
        body: Bytes,
    ) -> Result<Forwarded, LinkError> {
        check_path(path)?;
        let mut request = self
            .client
            .post(format!("{}api/v2/{path}", self.url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        if let Some(cookie) = self.cookie(user).await? {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        self.send(request).await
    }

    /// Sends a change hook delivery this server has checked (credentials, signature) to the
    /// same path of the master (`uri`: `/change_hook/<dialect>` and its query), with its
    /// method, body and headers (hop-by-hop ones, `Host` and `Cookie` left out), so the
    /// master handles it as if the forge had called it. Its answer comes back whatever its
    /// status.
    pub async fn forward_hook(
        &self,
        method: &axum::http::Method,
        uri: &str,
        headers: &axum::http::HeaderMap,
        body: Bytes,
    ) -> Result<Forwarded, LinkError> {
        let Some(path) = uri
            .strip_prefix('/')
            .filter(|p| p.starts_with("change_hook"))
        else {
            return Err(LinkError::BadPath(uri.to_owned()));
        };
        let method = reqwest::Method::from_bytes(method.as_str().as_bytes())
            .map_err(|err| LinkError::Client(err.to_string()))?;
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .body(body);
        for (name, value) in headers {
            let skip = matches!(
                name.as_str(),
                "host"
                    | "cookie"
                    | "connection"
                    | "keep-alive"
                    | "transfer-encoding"
                    | "te"
                    | "trailer"
                    | "upgrade"
                    | "content-length"
                    | "expect"
                    | "proxy-authorization"
                    | "proxy-connection"
            );
            if !skip {
                request = request.header(name.as_str(), value.as_bytes());
            }
        }
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Forwarded, LinkError> {
        let response = request.send().await.map_err(|err| self.failure(&err))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = self.read_body(response).await?;
        Ok(Forwarded {
            status,
            content_type,
            body,
        })
    }

    /// Whether the master answers at all: a `GET <master>/api/v2` (for a start-up check).
    pub async fn ping(&self) -> Result<u16, LinkError> {
        let response = self
            .client
            .get(format!("{}api/v2", self.url))
            .send()
            .await
            .map_err(|err| self.failure(&err))?;
        Ok(response.status().as_u16())
    }

    /// The `Cookie` header standing for `user`: a token lasting the call's timeout (plus
    /// margin), under the name Twisted reads on a plain connection and, for an https master,
    /// the one it reads on a TLS connection. Anonymous callers send none.
    async fn cookie(&self, user: &User) -> Result<Option<String>, LinkError> {
        if *user == User::Anonymous {
            return Ok(None);
        }
        let token = self
            .sessions
            .issue_lasting(user, self.timeout + TOKEN_MARGIN)
            .await?;
        Ok(Some(if self.url.starts_with("https:") {
            format!("{COOKIE}={token}; {SECURE_COOKIE}={token}")
        } else {
            format!("{COOKIE}={token}")
        }))
    }

    async fn read_body(&self, mut response: reqwest::Response) -> Result<Bytes, LinkError> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| self.failure(&err))? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(LinkError::BadAnswer {
                    url: self.url.clone(),
                    reason: format!("the answer is larger than {MAX_ANSWER} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }

    fn failure(&self, err: &reqwest::Error) -> LinkError {
        let url = self.url.clone();
        if err.is_timeout() {
            LinkError::Timeout {
                url,
                timeout: self.timeout,
            }
        } else if err.is_connect() {
            LinkError::Unreachable {
                url,
                reason: reasons(err),
            }
        } else {
            LinkError::BadAnswer {
                url,
                reason: reasons(err),
            }
        }
    }
}

/// A Data API path: segments of letters, digits and `-._~:` (`builds/7`,
/// `forceschedulers/force`, `builders/3/builds/5`; Buildbot's identifiers fit), no `.` or
/// `..`, no query, nothing percent-encoded.
fn check_path(path: &str) -> Result<(), LinkError> {
    let segment_ok = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~:".contains(&b))
    };
    if path.split('/').all(segment_ok) {
        Ok(())
    } else {
        Err(LinkError::BadPath(path.to_owned()))
    }
}

/// reqwest's reasons for a failure, innermost last, without the request URL (the error names
/// the master's URL itself).
fn reasons(err: &reqwest::Error) -> String {
    let mut reasons = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    while let Some(reason) = source {
        reasons.push(reason.to_string());
        source = reason.source();
    }
    if reasons.is_empty() {
        reasons.push(err.to_string());
    }
    reasons.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_api_paths_only() {
        for ok in [
            "builds/7",
            "forceschedulers/force",
            "builders/3/builds/5",
            "buildrequests/12",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/builds/7",
            "builds/7/",
            "builds//7",
            "../auth/login",
            "builds/./7",
            "builds/7?x=1",
            "builds/7#x",
            "%2e%2e/auth",
            "builds/7 HTTP/1.1\r\nX: y",
        ] {
            let err = check_path(bad).unwrap_err();
            assert!(matches!(err, LinkError::BadPath(_)), "{bad}");
        }
    }
}
