//! Live updates straight from a linked Buildbot master (`[www.master] live_updates =
//! "master"`): a websocket to the master's own `/ws`, consuming the same key families the
//! database watcher publishes, each frame published on this server's bus as it arrives. While
//! the connection is up, the watcher keeps its place in the database without publishing (so
//! nothing is published twice); when it drops, the watcher publishes again until the feed is
//! back (retried every few seconds).
//!
//! The feed signs in as the user `buildbot-www` with a session of the shared secret, so the
//! master's rules must let that user read (docs/control.md).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use super::{Event, Events};
use crate::auth::session::Sessions;
use crate::identity::User;

/// The key families this server's events use (`events::messages::events`).
const FAMILIES: &[&str] = &[
    "builds/*/*",
    "builds/*/properties/*",
    "builders/*/builds/*/*",
    "builds/*/steps/*/*",
    "logs/*/*",
    "steps/*/logs/*/*",
    "buildrequests/*/*",
    "buildsets/*/*",
    "changes/*/*",
    "workers/*/*",
];

/// How long to wait before connecting again after the feed failed or closed.
const RETRY: Duration = Duration::from_secs(3);

/// Feeds `events` from the master at `url` (its base URL, ending with `/`) until the bus is
/// dropped. Must be called inside a tokio runtime.
pub fn spawn(events: &Events, url: &str, sessions: Arc<Sessions>) {
    let weak = Arc::downgrade(&events.inner);
    let url = format!("{}ws", url.replacen("http", "ws", 1));
    tokio::spawn(async move {
        loop {
            let Some(inner) = weak.upgrade() else { break };
            let events = Events { inner };
            match feed(&events, &url, &sessions).await {
                Ok(()) => {
                    tracing::warn!("live updates: the master's {url} closed; polling the database")
                }
                Err(err) => tracing::warn!(
                    "live updates: no feed from the master's {url} ({err}); polling the database"
                ),
            }
            events.set_fed(false);
            drop(events);
            tokio::time::sleep(RETRY).await;
        }
    });
}

/// One connection: subscribes to every family, then publishes each event frame.
async fn feed(events: &Events, url: &str, sessions: &Sessions) -> Result<(), String> {
    let user = User::Known {
        username: "buildbot-www".into(),
        full_name: None,
        email: None,
        groups: Vec::new(),
        extra: Default::default(),
    };
    let token = sessions.issue(&user).await.map_err(|e| e.to_string())?;
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    let cookie = format!("TWISTED_SESSION={token}")
        .parse()
        .map_err(|_| "the session token is not a header value".to_string())?;
    request.headers_mut().insert("cookie", cookie);
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .map_err(|_| "no handshake within 10 s".to_string())?
    .map_err(|e| e.to_string())?;
    for (id, family) in FAMILIES.iter().enumerate() {
        let command = serde_json::json!({"cmd": "startConsuming", "path": family, "_id": id});
        ws.send(Message::Text(command.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut acknowledged = 0;
    while let Some(frame) = ws.next().await {
        let text = match frame.map_err(|e| e.to_string())? {
            Message::Text(text) => text,
            Message::Close(_) => return Ok(()),
            _ => continue,
        };
        let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        if let Some(key) = frame.get("k").and_then(Value::as_str) {
            let message = frame.get("m").cloned().unwrap_or(Value::Null);
            events.publish(Event::new(key.split('/'), message));
        } else if frame.get("code").and_then(Value::as_i64) == Some(200) {
            acknowledged += 1;
            if acknowledged == FAMILIES.len() {
                tracing::info!("live updates: fed by the master's {url}");
                events.set_fed(true);
            }
        } else if frame.get("code").is_some() {
            return Err(format!("the master refused a subscription: {text}"));
        }
    }
    Ok(())
}
