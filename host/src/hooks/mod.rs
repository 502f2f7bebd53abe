//! Change hooks: `/change_hook/<dialect>`, where forges deliver pushes and pull requests that
//! become Buildbot changes (Buildbot's `www.change_hook_dialects` and `change_hook_auth`).
//!
//! A delivery goes through Buildbot's steps in its order: the credentials of
//! `change_hook_auth`, the dialect (from the raw URI, `base` when none), then the dialect's
//! own checks and parsing. What happens to the changes depends on the server:
//! - linked to a master (`[www.master]`), the checked delivery is passed on unchanged to the
//!   master's own `/change_hook/`, whose schedulers act on it; its answer comes back;
//! - otherwise the changes are written to the database (one transaction per delivery), the
//!   event watcher publishes them at once, and a standalone runner's `[[schedulers]]` start
//!   builds for them.
//!
//! Answers are Buildbot's: `200 <n> change found` / `no change found` (`text/html`), a
//! refusal `400 <message>` with the message also as the reason phrase, other failures
//! `500 Error processing changes.`. Every delivery is kept in the [`deliveries`] log.

pub mod base;
pub mod bitbucket;
pub mod bitbucketcloud;
pub mod bitbucketserver;
pub mod change;
pub mod deliveries;
pub mod dialects;
pub mod error;
pub mod forge;
pub mod github;
pub mod gitlab;
pub mod gitorious;
pub mod poller;
pub mod pyjson;
pub mod request;
pub mod store;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};

use crate::config::{Config, HookChecker};
use crate::control::Control;
use crate::http::HttpState;
use deliveries::{Delivery, DeliveryLog, NOT_ENABLED};
use dialects::Dialect;
use error::HookError;
use request::HookRequest;

/// The change hooks the config enables.
#[derive(Debug)]
pub struct ChangeHooks {
    dialects: Vec<(String, Dialect)>,
    auth: Vec<HookChecker>,
    max_body: usize,
    deliveries: Arc<DeliveryLog>,
    /// Deliveries write one at a time: SQLite has one writer anyway, and waiting here costs
    /// nothing, where racing for its lock means its busy handler's sleeps.
    writing: tokio::sync::Mutex<()>,
}

/// What one delivery came to.
struct Outcome {
    status: StatusCode,
    /// The body; for a 400 or 500 also the reason phrase.
    text: String,
    /// For the log: the 500's cause, else `text`.
    logged: String,
    changeids: Vec<i64>,
    forwarded: bool,
    /// `WWW-Authenticate` for a 401.
    challenge: bool,
    /// The body's type (Twisted's own error pages say their charset).
    content_type: &'static str,
}

impl Outcome {
    fn found(changeids: Vec<i64>) -> Self {
        let text = match changeids.len() {
            0 => "no change found".to_owned(),
            n => format!("{n} change found"),
        };
        Outcome::new(StatusCode::OK, text, changeids)
    }

    fn new(status: StatusCode, text: String, changeids: Vec<i64>) -> Self {
        Outcome {
            status,
            logged: text.clone(),
            text,
            changeids,
            forwarded: false,
            challenge: false,
            content_type: "text/html",
        }
    }

    /// Twisted's answer to a method its resource has no `render_` for (only GET, HEAD and
    /// POST are handled).
    fn not_implemented(method: &str) -> Self {
        let mut outcome = Outcome::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "\n<html>\n  <head><title>501 - Huh?</title></head>\n  <body>\n    <h1>Huh?</h1>\n    \
                 <p>I don't know how to treat a {} request.</p>\n  </body>\n</html>\n",
                method
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;")
                    .replace('\'', "&#x27;")
            ),
            Vec::new(),
        );
        outcome.logged = format!("{method} is not handled (GET, HEAD and POST are)");
        outcome.content_type = "text/html; charset=utf-8";
        outcome
    }

    fn refused(err: HookError) -> Self {
        match err {
            HookError::BadRequest(message) => {
                Outcome::new(StatusCode::BAD_REQUEST, message, Vec::new())
            }
            HookError::Internal(cause) => {
                tracing::warn!("change hook: error processing changes: {cause}");
                let mut outcome = Outcome::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Error processing changes.".into(),
                    Vec::new(),
                );
                outcome.logged = format!("Error processing changes.: {cause}");
                outcome
            }
        }
    }
}

impl ChangeHooks {
    /// The hooks of `config`: each dialect made from its options, each htpasswd file of
    /// `change_hook_auth` read once to check its entries.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let mut dialects = Vec::new();
        for dialect in &config.www.change_hook_dialects {
            let handler = Dialect::new(dialect).map_err(|message| {
                anyhow::anyhow!(
                    "{}: [www.change_hook_dialects.{}]: {message}",
                    config.path.display(),
                    dialect.name
                )
            })?;
            dialects.push((dialect.name.clone(), handler));
        }
        for checker in &config.www.change_hook_auth {
            if let HookChecker::File(path) = checker {
                crate::auth::htpasswd::check_file(path)
                    .with_context(|| format!("{}: change_hook_auth", config.path.display()))?;
            }
        }
        Ok(ChangeHooks {
            dialects,
            auth: config.www.change_hook_auth.clone(),
            max_body: config.www.limits.change_hook_max_body_bytes,
            deliveries: Arc::new(DeliveryLog::default()),
            writing: tokio::sync::Mutex::new(()),
        })
    }

    /// The delivery log (the UI's change hooks page reads it).
    pub fn deliveries(&self) -> &Arc<DeliveryLog> {
        &self.deliveries
    }

    fn dialect(&self, name: &str) -> Option<&Dialect> {
        self.dialects
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d)
    }

    /// Whether the request carries credentials one of `change_hook_auth`'s checkers accepts
    /// (always, when there are none). Password hashes are checked off the async threads (a
    /// bcrypt entry takes tens of milliseconds).
    async fn authorized(&self, headers: &axum::http::HeaderMap) -> bool {
        if self.auth.is_empty() {
            return true;
        }
        let Some(given) = crate::auth::basic_credentials(headers) else {
            return false;
        };
        for checker in &self.auth {
            let accepted = match checker {
                HookChecker::File(path) => {
                    let (path, user, password) =
                        (path.clone(), given.user.clone(), given.password.clone());
                    tokio::task::spawn_blocking(move || {
                        crate::auth::htpasswd::verify(&path, &user, &password)
                    })
                    .await
                    .map_err(|err| err.to_string())
                    .and_then(|checked| checked.map_err(|err| err.to_string()))
                    .unwrap_or_else(|err| {
                        tracing::warn!("change_hook_auth: {err}");
                        false
                    })
                }
                HookChecker::Memory { username, password } => {
                    // Both compared in full, whatever the first one gives.
                    let user_ok =
                        crate::config::Secret::new(username.clone()).matches(given.user.as_bytes());
                    let password_ok = password.matches(given.password.as_bytes());
                    user_ok & password_ok
                }
            };
            if accepted {
                return true;
            }
        }
        false
    }
}

/// The dialect named by the raw URI, as Buildbot reads it: `^/change_hook/?([a-zA-Z0-9_]*)`,
/// `base` when empty (so `/change_hook/bitbucket-cloud` asks for `bitbucket`).
fn dialect_of(uri: &str) -> String {
    let rest = uri.strip_prefix("/change_hook").unwrap_or("");
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        "base".to_owned()
    } else {
        name
    }
}

/// The forge's event and delivery id, for the log.
fn event_of(headers: &axum::http::HeaderMap) -> (Option<String>, Option<String>) {
    let first = |names: &[&str]| {
        names.iter().find_map(|n| {
            headers
                .get(*n)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(100).collect::<String>())
        })
    };
    (
        first(&["x-github-event", "x-gitlab-event", "x-event-key"]),
        first(&["x-github-delivery", "x-gitlab-event-uuid", "x-request-uuid"]),
    )
}

/// `/change_hook` and `/change_hook/...`, any method.
pub async fn handle(State(state): State<HttpState>, req: Request<Body>) -> Response<Body> {
    let started = Instant::now();
    let received = crate::control::standalone::now();
    let hooks = state.hooks.clone();
    let (parts, body) = req.into_parts();
    let uri = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let name = dialect_of(&uri);
    let (event, delivery_id) = event_of(&parts.headers);
    let bucket = if hooks.dialect(&name).is_some() {
        name.clone()
    } else {
        NOT_ENABLED.to_owned()
    };
    let outcome = deliver(&state, &hooks, parts, body, &uri, &name, received).await;
    hooks.deliveries.record(
        &bucket,
        Delivery {
            at: received,
            // Both come from the caller: kept short, so 50 entries stay small.
            dialect: name.chars().take(100).collect(),
            event,
            delivery_id,
            status: outcome.status.as_u16(),
            result: outcome.logged.chars().take(1000).collect(),
            changeids: outcome.changeids.clone(),
            forwarded: outcome.forwarded,
            millis: started.elapsed().as_millis() as u64,
        },
    );
    answer(outcome)
}

async fn deliver(
    state: &HttpState,
    hooks: &ChangeHooks,
    parts: axum::http::request::Parts,
    body: Body,
    uri: &str,
    name: &str,
    received: i64,
) -> Outcome {
    if !hooks.authorized(&parts.headers).await {
        let mut outcome = Outcome::new(StatusCode::UNAUTHORIZED, "Unauthorized".into(), Vec::new());
        outcome.challenge = true;
        return outcome;
    }
    if !matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::POST
    ) {
        return Outcome::not_implemented(parts.method.as_str());
    }
    let Some(dialect) = hooks.dialect(name) else {
        return Outcome::refused(HookError::bad(format!(
            "The dialect specified, '{name}', wasn't whitelisted in change_hook"
        )));
    };
    let body = match axum::body::to_bytes(body, hooks.max_body).await {
        Ok(body) => body,
        Err(err) => {
            let too_large = err.into_inner().is::<http_body_util::LengthLimitError>();
            return if too_large {
                Outcome::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "The delivery is larger than {} bytes (change_hook_max_body_kib)",
                        hooks.max_body
                    ),
                    Vec::new(),
                )
            } else {
                Outcome::new(
                    StatusCode::BAD_REQUEST,
                    "The delivery's body could not be read".into(),
                    Vec::new(),
                )
            };
        }
    };
    let req = HookRequest::new(parts.method, uri.to_owned(), parts.headers, body, received);
    if let Control::Linked(link) = &*state.control {
        if let Err(err) = dialect.verify(&req) {
            return Outcome::refused(err);
        }
        return match link
            .forward_hook(&req.method, &req.uri, &req.headers, req.body.clone())
            .await
        {
            Ok(answer) => {
                let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
                let text = String::from_utf8_lossy(&answer.body).into_owned();
                let mut outcome = Outcome::new(status, text, Vec::new());
                outcome.forwarded = true;
                outcome
            }
            Err(err) => {
                let mut outcome = Outcome::new(
                    StatusCode::BAD_GATEWAY,
                    "Error processing changes.".into(),
                    Vec::new(),
                );
                outcome.logged = format!("not passed on: {err}");
                tracing::warn!("change hook: {err}");
                outcome
            }
        };
    }
    let changes = match dialect.get_changes(&req).await {
        Ok(changes) => changes,
        Err(err) => return Outcome::refused(err),
    };
    if changes.changes.is_empty() {
        return Outcome::found(Vec::new());
    }
    let written = {
        let _one_writer = hooks.writing.lock().await;
        store::add_changes(state.data.pool(), &changes, received).await
    };
    let ids = match written {
        Ok(ids) => ids,
        // Nothing was written (one transaction): the forge may deliver it again later.
        Err(err) if crate::data::error::is_unavailable(&err) => {
            tracing::warn!("change hook {name}: the database is unavailable: {err}");
            let mut outcome = Outcome::new(
                StatusCode::SERVICE_UNAVAILABLE,
                crate::data::error::UNAVAILABLE.into(),
                Vec::new(),
            );
            outcome.logged = format!("{}: {err}", crate::data::error::UNAVAILABLE);
            return outcome;
        }
        Err(err) => return Outcome::refused(HookError::internal(format!("database: {err}"))),
    };
    tracing::info!("change hook {name}: added changes {ids:?}");
    state.events.sync().await;
    if let Control::Standalone(standalone) = &*state.control {
        if let Err(err) = standalone.changes_added(&ids).await {
            tracing::warn!("change hook {name}: the schedulers could not act on {ids:?}: {err}");
        }
    }
    Outcome::found(ids)
}

/// The HTTP answer, as Twisted writes Buildbot's: `text/html`, the message of a refusal
/// also as the reason phrase.
fn answer(outcome: Outcome) -> Response<Body> {
    let mut response = Response::builder().status(outcome.status).header(
        header::CONTENT_TYPE,
        HeaderValue::from_static(outcome.content_type),
    );
    if outcome.challenge {
        response = response.header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("basic realm=\"Protected area\""),
        );
    }
    let reason = reason_phrase(&outcome.text);
    let mut response = response
        .body(Body::from(outcome.text))
        .unwrap_or_else(|_| Response::new(Body::empty()));
    if matches!(outcome.status.as_u16(), 400 | 500) {
        if let Some(reason) = reason {
            response.extensions_mut().insert(reason);
        }
    }
    response
}

/// A message as a status line's reason phrase: control characters become spaces, and it is
/// cut at 500 bytes (on a character boundary).
fn reason_phrase(message: &str) -> Option<hyper::ext::ReasonPhrase> {
    let mut cut = message.len().min(500);
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    let cleaned: Vec<u8> = message[..cut]
        .bytes()
        .map(|b| if b < 0x20 || b == 0x7f { b' ' } else { b })
        .collect();
    hyper::ext::ReasonPhrase::try_from(cleaned).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_as_buildbot_reads_the_uri() {
        assert_eq!(dialect_of("/change_hook"), "base");
        assert_eq!(dialect_of("/change_hook/"), "base");
        assert_eq!(dialect_of("/change_hook?x=1"), "base");
        assert_eq!(dialect_of("/change_hook/github"), "github");
        assert_eq!(dialect_of("/change_hook/base/extra/parts"), "base");
        assert_eq!(dialect_of("/change_hook/bitbucket-cloud"), "bitbucket");
        assert_eq!(dialect_of("/change_hook/gitlab?codebase=x"), "gitlab");
    }

    #[test]
    fn reason_phrases_are_one_line() {
        let r = reason_phrase("Unknown event: a\r\nX-Injected: 1").unwrap();
        assert_eq!(r.as_bytes(), b"Unknown event: a  X-Injected: 1");
        assert_eq!(
            reason_phrase(&"é".repeat(400)).unwrap().as_bytes().len(),
            500
        );
    }
}
