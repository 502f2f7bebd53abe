//! The control actions a page offers (force, stop, rebuild, cancel, pause...): decided on the
//! server for the requesting user by the same `[www.authz]` rules the JSON-RPC call meets, and
//! none at all while nobody can carry them out (`Control::Unavailable`: a read-only server).
//! The buttons call Buildbot's JSON-RPC from `ui.js`; a refusal shows the server's message.

use futures_util::future::join_all;
use serde_json::{json, Map, Value};

use super::UiState;
use crate::authz::Action;
use crate::control::Control;
use crate::identity::User;

type Item = Map<String, Value>;

/// What a user may do on one page.
pub(super) struct Controls<'a> {
    state: &'a UiState,
    user: &'a User,
}

impl<'a> Controls<'a> {
    /// The controls of `user` on a page of `state`.
    pub(super) fn new(state: &'a UiState, user: &'a User) -> Self {
        Controls { state, user }
    }

    /// Whether anyone carries out actions at all.
    fn available(&self) -> bool {
        !matches!(*self.state.control, Control::Unavailable)
    }

    /// Whether the user may call `method` on `path` with `params`.
    pub(super) async fn may(&self, path: &str, method: &str, params: Value) -> bool {
        if !self.available() {
            return false;
        }
        let params = match params {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let data = &self.state.data;
        data.authz()
            .check(data, self.user, path, Action::Control(method), &params)
            .await
            .is_ok()
    }

    /// The force schedulers of a builder whose button this user gets: enabled, and `force`
    /// with `builderid` allowed; each as `/api/v2/forceschedulers` shows it.
    pub(super) async fn force_schedulers(
        &self,
        builderid: i64,
        schedulers: Vec<Item>,
    ) -> Vec<Item> {
        let checks = schedulers.iter().map(|s| {
            let name = s.get("name").and_then(Value::as_str).unwrap_or_default();
            let enabled = s.get("enabled") != Some(&Value::Bool(false));
            let path = format!("forceschedulers/{name}");
            async move {
                enabled
                    && !name.is_empty()
                    && self
                        .may(&path, "force", json!({ "builderid": builderid }))
                        .await
            }
        });
        let allowed = join_all(checks).await;
        schedulers
            .into_iter()
            .zip(allowed)
            .filter_map(|(s, ok)| ok.then_some(s))
            .collect()
    }

    /// Sets `may_cancel` on each pending build request.
    pub(super) async fn mark_cancel(&self, requests: &mut [Item]) {
        let checks = requests.iter().map(|r| {
            let brid = r.get("buildrequestid").and_then(Value::as_i64).unwrap_or(0);
            let path = format!("buildrequests/{brid}");
            async move { self.may(&path, "cancel", json!({})).await }
        });
        let allowed = join_all(checks).await;
        for (request, ok) in requests.iter_mut().zip(allowed) {
            request.insert("may_cancel".into(), Value::Bool(ok));
        }
    }

    /// Sets `may_pause` (pause, or unpause when paused), `may_stop` (graceful stop) and
    /// `may_kill` (the last two for a connected worker) on each worker.
    pub(super) async fn mark_workers(&self, workers: &mut [Item]) {
        // Without a master there is no connection to close: the standalone runner refuses.
        let disconnects = !matches!(
            *self.state.control,
            Control::Unavailable | Control::Standalone(_)
        );
        let checks = workers.iter().map(|w| {
            let id = w.get("workerid").and_then(Value::as_i64).unwrap_or(0);
            let paused = w.get("paused").and_then(Value::as_bool).unwrap_or(false);
            let connected = w
                .get("connected_to")
                .and_then(Value::as_array)
                .is_some_and(|c| !c.is_empty());
            let path = format!("workers/{id}");
            async move {
                let method = if paused { "unpause" } else { "pause" };
                let pause = self.may(&path, method, json!({})).await;
                let stop = disconnects && connected && self.may(&path, "stop", json!({})).await;
                let kill = disconnects && connected && self.may(&path, "kill", json!({})).await;
                (pause, stop, kill)
            }
        });
        let allowed = join_all(checks).await;
        for (worker, (pause, stop, kill)) in workers.iter_mut().zip(allowed) {
            worker.insert("may_pause".into(), Value::Bool(pause));
            worker.insert("may_stop".into(), Value::Bool(stop));
            worker.insert("may_kill".into(), Value::Bool(kill));
        }
    }
}

/// The name the force form's `username` field shows for a logged-in user: the owner the
/// action will record (`control::owner_of`); empty for nobody, who types one.
pub(super) fn force_username(user: &User) -> String {
    match user {
        User::Anonymous => String::new(),
        known => crate::control::owner_of(known),
    }
}
