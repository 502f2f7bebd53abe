//! The delivery log: the last deliveries of each dialect (when, which event, the answer, the
//! changes written or why it was refused), kept in memory for the UI's change hooks page, so
//! an operator setting up a webhook sees why a forge's delivery was refused.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

/// Deliveries kept per dialect.
pub const KEPT: usize = 50;

/// The bucket of deliveries to a dialect that is not enabled (their names are the caller's
/// text, so they are not kept apart).
pub const NOT_ENABLED: &str = "(not enabled)";

/// One delivery, as the page shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Delivery {
    /// When it arrived, Unix seconds.
    pub at: i64,
    /// The dialect asked for.
    pub dialect: String,
    /// The forge's event (`X-GitHub-Event`, `X-Gitlab-Event`, `X-Event-Key`), if any.
    pub event: Option<String>,
    /// The forge's delivery id (`X-GitHub-Delivery`, `X-Gitlab-Event-UUID`, `X-Request-UUID`).
    pub delivery_id: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The answer's text (`2 change found`, the 400 message) or, for a 500, its cause.
    pub result: String,
    /// The ids of the changes written.
    pub changeids: Vec<i64>,
    /// Whether the delivery was passed on to the linked Buildbot master.
    pub forwarded: bool,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// The log, shared by the handler and the page.
#[derive(Debug, Default)]
pub struct DeliveryLog {
    by_dialect: Mutex<BTreeMap<String, VecDeque<Delivery>>>,
}

impl DeliveryLog {
    /// Keeps `delivery` under `bucket` (its dialect, or [`NOT_ENABLED`]), dropping the oldest
    /// beyond [`KEPT`].
    pub fn record(&self, bucket: &str, delivery: Delivery) {
        let mut log = self.by_dialect.lock().unwrap_or_else(|p| p.into_inner());
        let kept = log.entry(bucket.to_owned()).or_default();
        if kept.len() == KEPT {
            kept.pop_back();
        }
        kept.push_front(delivery);
    }

    /// Every bucket's deliveries, newest first, buckets by name.
    pub fn snapshot(&self) -> Vec<(String, Vec<Delivery>)> {
        let log = self.by_dialect.lock().unwrap_or_else(|p| p.into_inner());
        log.iter()
            .map(|(name, kept)| (name.clone(), kept.iter().cloned().collect()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_per_dialect() {
        let log = DeliveryLog::default();
        for i in 0..(KEPT as i64 + 5) {
            let d = Delivery {
                at: i,
                dialect: "github".into(),
                event: Some("push".into()),
                delivery_id: None,
                status: 200,
                result: "1 change found".into(),
                changeids: vec![i],
                forwarded: false,
                millis: 1,
            };
            log.record("github", d);
        }
        let snap = log.snapshot();
        assert_eq!(snap.len(), 1);
        assert_eq!(snap[0].1.len(), KEPT);
        assert_eq!(snap[0].1[0].at, KEPT as i64 + 4);
    }
}
