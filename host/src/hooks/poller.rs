//! The `poller` dialect: Buildbot's hook that makes the master's polling change sources poll
//! now (`?poller=NAME`, repeatable; all when absent). This server runs no change sources, so
//! without a master it finds no poller to force: no name asks for `no change found`, named
//! ones get Buildbot's `Could not find pollers: ...`. Linked to a master, the delivery is
//! passed on and the master's pollers poll.

use super::change::Changes;
use super::error::HookError;
use super::request::HookRequest;
use crate::config::ChangeHookDialect;

/// `poller` with its option `allowed` (the poller names it may force).
#[derive(Debug, Clone)]
pub struct Handler;

impl Handler {
    /// Accepts Buildbot's one option, `allowed` (a list of names).
    pub fn new(dialect: &ChangeHookDialect) -> Result<Self, String> {
        for (key, value) in &dialect.options {
            match key.as_str() {
                "allowed"
                    if value
                        .as_array()
                        .is_some_and(|v| v.iter().all(|n| n.is_string())) => {}
                "allowed" => return Err("allowed: expected a list of poller names".into()),
                other => {
                    return Err(format!(
                        "unknown option '{other}' (the poller hook takes: allowed)"
                    ))
                }
            }
        }
        Ok(Handler)
    }

    /// No changes: the pollers named cannot be found here.
    pub fn get_changes(&self, req: &HookRequest) -> Result<Changes, HookError> {
        let named: Vec<&str> = req
            .args
            .iter()
            .filter(|(k, _)| k == "poller")
            .map(|(_, v)| v.as_str())
            .collect();
        if named.is_empty() {
            return Ok(Changes::default());
        }
        Err(HookError::bad(format!(
            "Could not find pollers: {}",
            named.join(",")
        )))
    }
}
