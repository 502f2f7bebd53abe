//! `/ws`: Buildbot's websocket protocol. Clients send JSON commands (`startConsuming`,
//! `stopConsuming`, `ping`) with an `_id`; replies and event frames (`{"k":…,"m":…}`) are compact
//! JSON in insertion order, errors worded as Buildbot 4.3 words them (`ws/probe.jsonl`).
//!
//! Bounded per connection (`[www]`): a client message or frame over `ws_max_message_kib` closes
//! the websocket, and `startConsuming` beyond `ws_max_subscriptions` paths is refused.

use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use super::HttpState;
use crate::auth::CurrentUser;
use crate::authz::Action;
use crate::data::DataApi;
use crate::events::{Event, Events, Pattern, Patterns};
use crate::identity::User;
use crate::jsonfmt::{self, Layout};

/// `GET /ws`: upgrades, or answers Buildbot's 426 to a plain request.
pub(super) async fn handle(
    State(state): State<HttpState>,
    CurrentUser(user): CurrentUser,
    stopping: Option<axum::Extension<super::listen::Stopping>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response<Body> {
    // As Buildbot: the handshake is a read of `masters`; a refusal is a bare 403.
    if state
        .data
        .authz()
        .check(&state.data, &user, "masters", Action::Get, &Map::new())
        .await
        .is_err()
    {
        return Response::builder()
            .status(StatusCode::FORBIDDEN)
            .body(Body::empty())
            .unwrap_or_default();
    }
    match upgrade {
        Ok(upgrade) => {
            let events = state.events.clone();
            let reader = Reader {
                data: state.data.clone(),
                user,
            };
            let www = &state.config.www;
            let ping_every = www.ws_ping_interval;
            let max_subscriptions = www.limits.ws_max_subscriptions;
            let max_message = www.limits.ws_max_message_bytes;
            // Counted from the answer on (not once the upgrade completes): a client that has
            // its 101 is in `/metrics`.
            let connected = state.metrics.ws_client();
            upgrade
                .max_message_size(max_message)
                .max_frame_size(max_message)
                .on_upgrade(move |socket| {
                    let stopping = stopping.map(|axum::Extension(s)| s);
                    let session = session(
                        socket,
                        events,
                        reader,
                        (ping_every, max_subscriptions),
                        stopping,
                    );
                    async move {
                        let _connected = connected;
                        session.await;
                    }
                })
        }
        Err(_) => Response::builder()
            .status(StatusCode::UPGRADE_REQUIRED)
            .body(Body::empty())
            .unwrap_or_default(),
    }
}

/// What to do after a client frame.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    /// Send this reply.
    Reply(Value),
    /// Drop the connection without a close frame (the frame was not a JSON object).
    Drop,
}

/// Who a connection delivers events to: each event is checked against the rules for this user.
pub(super) struct Reader {
    pub data: DataApi,
    pub user: User,
}

impl Reader {
    pub async fn may_receive(&self, event: &Event) -> bool {
        self.data
            .authz()
            .may_receive(&self.data, &self.user, event)
            .await
    }
}

/// One websocket until the client goes, or the server stops (then a close frame `1001 going
/// away` is sent first).
async fn session(
    mut socket: WebSocket,
    events: Events,
    reader: Reader,
    (ping_every, max_subscriptions): (u64, usize),
    mut stopping: Option<super::listen::Stopping>,
) {
    let mut subscription = events.subscribe([]);
    let mut pings = (ping_every > 0).then(|| {
        let every = Duration::from_secs(ping_every);
        tokio::time::interval_at(tokio::time::Instant::now() + every, every)
    });
    let mut ping_count: u32 = 0;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    // Errors include a message over the size limit: the connection ends.
                    None | Some(Err(_)) => return,
                    Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
                    // Binary frames are processed like text frames.
                    Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                        Ok(text) => text,
                        Err(_) => return,
                    },
                    // Pings are answered by the websocket layer; a close is echoed by it too.
                    Some(Ok(_)) => continue,
                };
                match reply(&text, subscription.patterns(), max_subscriptions) {
                    Outcome::Reply(value) => {
                        let frame = jsonfmt::to_string(&value, Layout::Compact, false);
                        if socket.send(Message::Text(frame.into())).await.is_err() {
                            return;
                        }
                    }
                    Outcome::Drop => return,
                }
            }
            event = subscription.recv() => {
                let Some(event) = event else { return };
                if !reader.may_receive(&event).await {
                    continue;
                }
                let frame = json!({"k": event.path(), "m": event.message});
                let frame = jsonfmt::to_string(&frame, Layout::Compact, false);
                if socket.send(Message::Text(frame.into())).await.is_err() {
                    return;
                }
            }
            () = tick(&mut pings) => {
                ping_count = ping_count.wrapping_add(1);
                if socket.send(Message::Ping(ping_payload(ping_count).into())).await.is_err() {
                    return;
                }
            }
            () = super::listen::Stopping::wait(stopping.as_mut()) => {
                let close = axum::extract::ws::CloseFrame {
                    code: axum::extract::ws::close_code::AWAY,
                    reason: "the server is stopping".into(),
                };
                let _ = socket.send(Message::Close(Some(close))).await;
                return;
            }
        }
    }
}

async fn tick(pings: &mut Option<tokio::time::Interval>) {
    match pings {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Autobahn's ping payload: 8 random bytes and a 4-byte big-endian counter.
fn ping_payload(count: u32) -> Vec<u8> {
    let mut payload = vec![0u8; 12];
    if getrandom::fill(&mut payload[..8]).is_err() {
        payload[..8].copy_from_slice(
            &u64::from(count)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .to_be_bytes(),
        );
    }
    payload[8..].copy_from_slice(&count.to_be_bytes());
    payload
}

fn ok(msg: &str, id: Value) -> Outcome {
    Outcome::Reply(json!({"msg": msg, "code": 200, "_id": id}))
}

fn error(text: String, code: u16, id: Value) -> Outcome {
    Outcome::Reply(json!({"error": text, "code": code, "_id": id}))
}

/// The reply to one client frame, applying `startConsuming`/`stopConsuming` to `patterns`
/// (at most `max_subscriptions` of them). Mirrors Buildbot's handler: `_id` and `type` are
/// looked up first, then `cmd`, then the remaining keys are the command's keyword arguments
/// (checked like a Python call).
pub(crate) fn reply(frame: &str, patterns: &Patterns, max_subscriptions: usize) -> Outcome {
    let Ok(Value::Object(mut frame)) = serde_json::from_str::<Value>(frame) else {
        return Outcome::Drop;
    };
    let id = frame.get("_id").cloned().unwrap_or(Value::Null);
    let kind = frame.shift_remove("type").unwrap_or(Value::Null);
    if id.is_null() && kind.is_null() {
        return error(
            "no '_id' or 'type' in websocket frame".into(),
            400,
            Value::Null,
        );
    }
    let cmd = match frame.shift_remove("cmd") {
        None | Some(Value::Null) => {
            return error("no 'cmd' in websocket frame".into(), 400, Value::Null)
        }
        Some(Value::String(cmd)) => cmd,
        Some(other) => crate::data::query::py_text(&other),
    };
    let params: &[&str] = match cmd.as_str() {
        "ping" => &["_id"],
        "startConsuming" | "stopConsuming" => &["path", "_id"],
        _ => return error(format!("no such command type '{cmd}'"), 404, id),
    };
    if let Some(message) = call_error(&cmd, params, &frame) {
        return error(format!("Invalid method argument '{message}'"), 400, id);
    }
    let path = match frame.get("path") {
        None => return ok("pong", id),
        Some(Value::String(path)) => path.clone(),
        Some(other) => {
            return error(
                format!(
                    "invalid path format '{}'",
                    crate::data::query::py_text(other)
                ),
                400,
                id,
            )
        }
    };
    if cmd == "startConsuming" {
        if patterns.add(Pattern::parse(&path), max_subscriptions) {
            ok("OK", id)
        } else {
            error(
                format!("too many subscriptions: at most {max_subscriptions} paths per connection"),
                400,
                id,
            )
        }
    } else if patterns.remove(&path) {
        ok("OK", id)
    } else {
        error(format!("path was not consumed '{path}'"), 400, id)
    }
}

/// The `TypeError` text Python gives for calling `WsProtocol.cmd_<cmd>(**args)`.
fn call_error(cmd: &str, params: &[&str], args: &Map<String, Value>) -> Option<String> {
    if let Some(extra) = args.keys().find(|k| !params.contains(&k.as_str())) {
        return Some(format!(
            "WsProtocol.cmd_{cmd}() got an unexpected keyword argument '{extra}'"
        ));
    }
    let missing: Vec<String> = params
        .iter()
        .filter(|p| !args.contains_key(**p))
        .map(|p| format!("'{p}'"))
        .collect();
    match missing.len() {
        0 => None,
        1 => Some(format!(
            "WsProtocol.cmd_{cmd}() missing 1 required positional argument: {}",
            missing[0]
        )),
        n => Some(format!(
            "WsProtocol.cmd_{cmd}() missing {n} required positional arguments: {}",
            missing.join(" and ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(outcome: Outcome) -> String {
        match outcome {
            Outcome::Reply(v) => jsonfmt::to_string(&v, Layout::Compact, false),
            Outcome::Drop => "DROP".into(),
        }
    }

    #[test]
    fn replies_match_the_recorded_probe() {
        let p = Patterns::default();
        let cases = [
            (
                r#"{"cmd":"ping","_id":1}"#,
                r#"{"msg":"pong","code":200,"_id":1}"#,
            ),
            (
                r#"{"cmd":"startConsuming","path":"builders/*/*","_id":2}"#,
                r#"{"msg":"OK","code":200,"_id":2}"#,
            ),
            (
                r#"{"cmd":"startConsuming","path":"builders/*/*","_id":3}"#,
                r#"{"msg":"OK","code":200,"_id":3}"#,
            ),
            (
                r#"{"cmd":"stopConsuming","path":"builders/*/*","_id":4}"#,
                r#"{"msg":"OK","code":200,"_id":4}"#,
            ),
            (
                r#"{"cmd":"stopConsuming","path":"builders/*/*","_id":5}"#,
                r#"{"error":"path was not consumed 'builders/*/*'","code":400,"_id":5}"#,
            ),
            (
                r#"{"cmd":"startConsuming","path":123,"_id":6}"#,
                r#"{"error":"invalid path format '123'","code":400,"_id":6}"#,
            ),
            (
                r#"{"cmd":"startConsuming","_id":7}"#,
                r#"{"error":"Invalid method argument 'WsProtocol.cmd_startConsuming() missing 1 required positional argument: 'path''","code":400,"_id":7}"#,
            ),
            (
                r#"{"cmd":"startConsuming","path":"x","_id":8,"extra":1}"#,
                r#"{"error":"Invalid method argument 'WsProtocol.cmd_startConsuming() got an unexpected keyword argument 'extra''","code":400,"_id":8}"#,
            ),
            (
                r#"{"cmd":"nosuch","_id":9}"#,
                r#"{"error":"no such command type 'nosuch'","code":404,"_id":9}"#,
            ),
            (
                r#"{"_id":10}"#,
                r#"{"error":"no 'cmd' in websocket frame","code":400,"_id":null}"#,
            ),
            (
                r#"{"cmd":"ping"}"#,
                r#"{"error":"no '_id' or 'type' in websocket frame","code":400,"_id":null}"#,
            ),
            (
                r#"{"cmd":"ping","type":"x"}"#,
                r#"{"error":"Invalid method argument 'WsProtocol.cmd_ping() missing 1 required positional argument: '_id''","code":400,"_id":null}"#,
            ),
            (
                r#"{"cmd":"ping","_id":"str-id"}"#,
                r#"{"msg":"pong","code":200,"_id":"str-id"}"#,
            ),
            (
                r#"{"cmd":"startConsuming","path":"nosuchthing/*","_id":11}"#,
                r#"{"msg":"OK","code":200,"_id":11}"#,
            ),
            ("this is not json", "DROP"),
            ("[1]", "DROP"),
            (
                r#"{"cmd":"stopConsuming","type":"t"}"#,
                r#"{"error":"Invalid method argument 'WsProtocol.cmd_stopConsuming() missing 2 required positional arguments: 'path' and '_id''","code":400,"_id":null}"#,
            ),
            (
                r#"{"cmd":"startConsuming","path":[1,"a",null,true,1.5],"_id":12}"#,
                r#"{"error":"invalid path format '[1, 'a', None, True, 1.5]'","code":400,"_id":12}"#,
            ),
        ];
        for (frame, expected) in cases {
            assert_eq!(text(reply(frame, &p, 100)), expected, "{frame}");
        }
        assert!(p.contains("nosuchthing/*"));
        assert!(!p.contains("builders/*/*"));
    }

    #[test]
    fn subscriptions_are_bounded_and_duplicates_free() {
        let p = Patterns::default();
        let start = |path: &str| {
            text(reply(
                &format!(r#"{{"cmd":"startConsuming","path":"{path}","_id":1}}"#),
                &p,
                2,
            ))
        };
        assert_eq!(start("a/*"), r#"{"msg":"OK","code":200,"_id":1}"#);
        assert_eq!(start("b/*"), r#"{"msg":"OK","code":200,"_id":1}"#);
        // Already consumed: accepted again, takes no room.
        assert_eq!(start("a/*"), r#"{"msg":"OK","code":200,"_id":1}"#);
        assert_eq!(
            start("c/*"),
            r#"{"error":"too many subscriptions: at most 2 paths per connection","code":400,"_id":1}"#
        );
        assert!(!p.contains("c/*"));
        // Stopping one makes room again.
        let stop = r#"{"cmd":"stopConsuming","path":"a/*","_id":2}"#;
        assert_eq!(
            text(reply(stop, &p, 2)),
            r#"{"msg":"OK","code":200,"_id":2}"#
        );
        assert_eq!(start("c/*"), r#"{"msg":"OK","code":200,"_id":1}"#);
    }

    #[test]
    fn ping_payload_is_12_bytes_ending_with_the_counter() {
        let p = ping_payload(3);
        assert_eq!(p.len(), 12);
        assert_eq!(&p[8..], &[0, 0, 0, 3]);
    }
}
