//! `/sse`: Buildbot's server-sent events. `GET /sse/listen/<path>` (or `/sse/<path>`, or
//! `/sse/listen` with no path) opens a stream that starts with `event: handshake` carrying a
//! uuid; `/sse/add/<uuid>/<path>` and `/sse/remove/<uuid>/<path>` change what that stream
//! receives. Event data is `{"key": [...], "message": {...}}` with Python's default separators.
//!
//! Deliberate differences from Buildbot 4.3 (docs/compatibility.md): `add`/`remove` answer a
//! plain `ok` (Buildbot appends a Twisted "Request did not return bytes" 500 page to it and to
//! its 400 answers), and a query string is ignored (Buildbot answers 500 on `listen?x=y`).
//! A stream follows at most `[www] sse_max_subscriptions` paths: `/sse/add` beyond them answers
//! 400 `too many subscriptions` (Buildbot has no bound).

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Response, StatusCode, Uri};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Map};

use super::ws::Reader;
use super::HttpState;
use crate::auth::CurrentUser;
use crate::authz::Action;
use crate::events::{Events, Pattern, Subscription};
use crate::jsonfmt::{self, Layout};
use crate::metrics::Connected;

/// Any request under `/sse`.
pub(super) async fn handle(
    State(state): State<HttpState>,
    CurrentUser(user): CurrentUser,
    stopping: Option<axum::Extension<super::listen::Stopping>>,
    uri: Uri,
) -> Response<Body> {
    let rest = uri.path().strip_prefix("/sse").unwrap_or("");
    let mut path: Vec<String> = rest
        .split('/')
        .skip(1)
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    if path.last().is_some_and(String::is_empty) {
        path.pop();
    }
    let command = match path.first().map(String::as_str) {
        Some(c @ ("listen" | "add" | "remove")) => {
            let c = c.to_owned();
            path.remove(0);
            c
        }
        _ => "listen".to_owned(),
    };
    if command == "listen" {
        // Unlike Buildbot, which leaves `/sse` open to all: the same handshake check as
        // `/ws`, and then each event checked for this user.
        if let Err(denied) = state
            .data
            .authz()
            .check(&state.data, &user, "masters", Action::Get, &Map::new())
            .await
        {
            return plain(StatusCode::FORBIDDEN, denied.to_string());
        }
        let subscription = state
            .events
            .subscribe((!path.is_empty()).then(|| Pattern::parse(&path.join("/"))));
        let reader = Reader {
            data: state.data.clone(),
            user,
        };
        let stopping = stopping.map(|axum::Extension(s)| s);
        let connected = state.metrics.sse_client();
        return listen(
            state.events.clone(),
            subscription,
            reader,
            connected,
            stopping,
        );
    }
    if path.is_empty() {
        return plain(StatusCode::BAD_REQUEST, "need uuid");
    }
    let uuid = path.remove(0);
    let Some(patterns) = state.events.named_patterns(&uuid) else {
        return plain(StatusCode::BAD_REQUEST, "unknown uuid");
    };
    let pattern = path.join("/");
    if command == "add" {
        let max = state.config.www.limits.sse_max_subscriptions;
        if !patterns.add(Pattern::parse(&pattern), max) {
            return plain(
                StatusCode::BAD_REQUEST,
                format!("too many subscriptions: at most {max} paths per stream"),
            );
        }
    } else {
        // Buildbot answers `ok` whether or not the path was consumed.
        patterns.remove(&pattern);
    }
    plain(StatusCode::OK, "ok")
}

fn plain(status: StatusCode, text: impl Into<Body>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(text.into())
        .unwrap_or_default()
}

/// Forgets the stream's uuid when the client goes away (the body is dropped), and stops
/// counting the client then.
struct Registration {
    events: Events,
    uuid: String,
    _connected: Connected,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.events.unname(&self.uuid);
    }
}

/// The event stream; it ends (the response completes) when the server stops.
fn listen(
    events: Events,
    subscription: Subscription,
    reader: Reader,
    connected: Connected,
    mut stopping: Option<super::listen::Stopping>,
) -> Response<Body> {
    let uuid = uuid4();
    events.name(&uuid, subscription.patterns());
    let registration = Registration {
        events,
        uuid,
        _connected: connected,
    };
    let handshake = format!("event: handshake\ndata: {}\n\n", registration.uuid);
    let events = futures_util::stream::unfold(
        (subscription, registration, reader),
        |(mut subscription, registration, reader)| async move {
            let event = loop {
                let event = subscription.recv().await?;
                if reader.may_receive(&event).await {
                    break event;
                }
            };
            let data = json!({"key": event.key, "message": event.message});
            let frame = format!(
                "event: event\ndata: {}\n\n",
                jsonfmt::to_string(&data, Layout::Spaced, false)
            );
            Some((
                Ok::<_, Infallible>(Bytes::from(frame)),
                (subscription, registration, reader),
            ))
        },
    );
    let stopped = async move { super::listen::Stopping::wait(stopping.as_mut()).await };
    let stream = futures_util::stream::once(async move { Ok(Bytes::from(handshake)) })
        .chain(events)
        .take_until(stopped);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        // nginx passes each event on at once even where its configuration buffers answers.
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

/// A random (version 4) UUID in its usual text form.
fn uuid4() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No system randomness: fall back to the clock and a counter (still unique).
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        b[..8].copy_from_slice(&nanos.to_be_bytes());
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        b[8..].copy_from_slice(&n.to_be_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        let u = uuid4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, uuid4());
    }
}
