//! The event bus behind `/ws` and `/sse`: events keyed like Buildbot's message queue
//! (`["builds", "7", "update"]`), carrying the entity as the Data API shapes it, and
//! subscriptions in Buildbot's path notation (`builds/*/*`, `*` = any one segment).
//!
//! Events come from two places: [`Events::publish`] (anything this process knows about first)
//! and the database watcher (`watch.rs`), which polls the database a Buildbot master writes and
//! publishes what changed. A writer in this process calls [`Events::sync`] after its write: the
//! watcher then publishes the change at once, so no event is published twice.

mod detect;
pub mod master_feed;
pub mod messages;
mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::data::DataApi;

/// How many events a slow subscriber may fall behind before it loses some.
const CAPACITY: usize = 8192;

pub use detect::{CHECK_INTERVAL, FULL_POLL_INTERVAL};

/// One event: a routing key and the entity it is about (or `Null`, as for a cancelled request).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The routing key, e.g. `["builds", "7", "update"]`; ids are strings.
    pub key: Vec<String>,
    /// The entity as the REST API shapes it (in Buildbot's message field order), or `Null`.
    pub message: Value,
}

impl Event {
    /// An event from key segments (anything printable: ids may be numbers) and a message.
    pub fn new<I, S>(key: I, message: Value) -> Self
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        Event {
            key: key.into_iter().map(|s| s.to_string()).collect(),
            message,
        }
    }

    /// The key joined with `/` (`builds/7/update`), as `/ws` frames carry it.
    pub fn path(&self) -> String {
        self.key.join("/")
    }
}

/// A subscription pattern in Buildbot's notation: `/`-separated segments, `*` matching any one
/// segment; a pattern matches keys of exactly its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    segments: Vec<Option<String>>,
}

impl Pattern {
    /// Parses `builds/*/*`. Every string is a valid pattern (Buildbot accepts any path; one that
    /// names nothing simply never matches).
    pub fn parse(text: &str) -> Self {
        Pattern {
            text: text.to_owned(),
            segments: text
                .split('/')
                .map(|s| (s != "*").then(|| s.to_owned()))
                .collect(),
        }
    }

    /// The pattern as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `key` matches: same length, every non-`*` segment equal.
    pub fn matches(&self, key: &[String]) -> bool {
        key.len() == self.segments.len()
            && self
                .segments
                .iter()
                .zip(key)
                .all(|(p, k)| p.as_deref().is_none_or(|p| p == k))
    }
}

/// The patterns of one subscriber, by their text; shared so another request can change them
/// (`/sse/add`). Adding, removing and looking up take constant time.
#[derive(Debug, Clone, Default)]
pub struct Patterns(Arc<Mutex<HashMap<String, Pattern>>>);

impl Patterns {
    /// Adds a pattern unless `limit` patterns are there already; adding one that is already
    /// there changes nothing and succeeds. False when full.
    pub fn add(&self, pattern: Pattern, limit: usize) -> bool {
        let mut set = self.lock();
        if set.contains_key(pattern.as_str()) {
            return true;
        }
        if set.len() >= limit {
            return false;
        }
        set.insert(pattern.text.clone(), pattern);
        true
    }

    /// Removes a pattern (by its text); false if it was not there.
    pub fn remove(&self, text: &str) -> bool {
        self.lock().remove(text).is_some()
    }

    /// Whether a pattern with this text is present.
    pub fn contains(&self, text: &str) -> bool {
        self.lock().contains_key(text)
    }

    /// Whether any pattern matches `key`.
    pub fn matches(&self, key: &[String]) -> bool {
        self.lock().values().any(|p| p.matches(key))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pattern>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A subscriber: receives the published events that match its patterns, in publication order.
#[derive(Debug)]
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<Event>>,
    patterns: Patterns,
}

impl Subscription {
    /// The next matching event; `None` once the bus is gone. A subscriber that falls more than
    /// 8192 events behind skips the oldest ones (logged).
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.receiver.recv().await {
                Ok(event) => {
                    if self.patterns.matches(&event.key) {
                        return Some(event);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("a live-update subscriber fell behind and missed {n} events");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The subscriber's patterns (add or remove while it runs).
    pub fn patterns(&self) -> &Patterns {
        &self.patterns
    }
}

/// The event bus: cheap to clone, shared by every handler.
#[derive(Debug, Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sender: broadcast::Sender<Arc<Event>>,
    watcher: Option<watch::Watcher>,
    named: Mutex<HashMap<String, Patterns>>,
    /// A linked master's feed is up (`master_feed`): the watcher only keeps its place.
    fed: std::sync::atomic::AtomicBool,
    /// The data's generation: advanced before every poll of the database and every event
    /// published, so an answer computed at an older generation is never given to a client
    /// that has received an event (see [`Events::generation`]).
    generation: std::sync::atomic::AtomicU64,
    /// Events published and the watcher's polls, for `/metrics`.
    meters: crate::metrics::EventMeters,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    /// A bus without a database watcher (events come only from [`Events::publish`]).
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        Events {
            inner: Arc::new(Inner {
                sender,
                watcher: None,
                named: Mutex::default(),
                fed: Default::default(),
                generation: Default::default(),
                meters: Default::default(),
            }),
        }
    }

    /// A bus that also watches the database behind `data`. When called inside a tokio runtime,
    /// a task asks every [`CHECK_INTERVAL`] whether the database changed (`detect`) and polls
    /// it when it did (and every [`FULL_POLL_INTERVAL`] regardless), until the last clone of
    /// the bus is dropped; the first poll records where the database stands, so only later
    /// changes become events.
    pub fn watching(data: DataApi) -> Self {
        let mut detector = detect::Detector::new(data.pool());
        let (sender, _) = broadcast::channel(CAPACITY);
        let events = Events {
            inner: Arc::new(Inner {
                sender,
                watcher: Some(watch::Watcher::new(data)),
                named: Mutex::default(),
                fed: Default::default(),
                generation: Default::default(),
                meters: Default::default(),
            }),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let weak = Arc::downgrade(&events.inner);
            tokio::spawn(async move {
                loop {
                    let Some(inner) = weak.upgrade() else { break };
                    if let Some(due) = detector.due().await {
                        Events { inner }.poll(due == detect::Due::Changed).await;
                        detector.polled();
                    }
                    tokio::time::sleep(CHECK_INTERVAL).await;
                }
            });
        }
        events
    }

    /// Publishes an event to every subscriber whose patterns match its key.
    pub fn publish(&self, event: Event) {
        self.advance();
        self.inner.meters.published();
        // An error only means nobody is listening.
        let _ = self.inner.sender.send(Arc::new(event));
    }

    /// The data's generation: it changes whenever the data may have (before each database
    /// poll and each event), so an answer cached at one generation may be served for as long
    /// as the generation stays, and never after a client received an event.
    pub fn generation(&self) -> u64 {
        self.inner
            .generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    fn advance(&self) {
        self.inner
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The bus's meters (`/metrics` registers them).
    pub fn metrics(&self) -> &crate::metrics::EventMeters {
        &self.inner.meters
    }

    /// Subscribes with initial patterns (more can be added through [`Subscription::patterns`]).
    pub fn subscribe(&self, patterns: impl IntoIterator<Item = Pattern>) -> Subscription {
        let set = Patterns::default();
        for p in patterns {
            set.add(p, usize::MAX);
        }
        Subscription {
            receiver: self.inner.sender.subscribe(),
            patterns: set,
        }
    }

    /// How many subscribers are connected.
    pub fn subscribers(&self) -> usize {
        self.inner.sender.receiver_count()
    }

    /// Makes a subscription's patterns reachable by `name` (an SSE stream's uuid), so other
    /// requests can change what it receives.
    pub fn name(&self, name: &str, patterns: &Patterns) {
        self.named().insert(name.to_owned(), patterns.clone());
    }

    /// The patterns of the subscription named `name`, while it lives.
    pub fn named_patterns(&self, name: &str) -> Option<Patterns> {
        self.named().get(name).cloned()
    }

    /// Forgets a name given with [`Events::name`].
    pub fn unname(&self, name: &str) {
        self.named().remove(name);
    }

    /// Whether a linked master's feed publishes the events now (the watcher does not).
    pub fn is_fed(&self) -> bool {
        self.inner.fed.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set_fed(&self, fed: bool) {
        self.inner
            .fed
            .store(fed, std::sync::atomic::Ordering::Relaxed);
    }

    fn named(&self) -> std::sync::MutexGuard<'_, HashMap<String, Patterns>> {
        self.inner.named.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Polls the database now and publishes what changed since the last poll (does nothing
    /// without a watcher). Writers in this process call it after writing, so their changes are
    /// published at once, exactly once.
    pub async fn sync(&self) {
        self.poll(true).await;
    }

    /// Polls the database and publishes what changed. The generation advances before the
    /// poll reads when the data is known to have changed (`changed`: a write in this process,
    /// a moved data version), else after it when the poll found a change; either way before
    /// any event of the change is published.
    async fn poll(&self, changed: bool) {
        if let Some(watcher) = &self.inner.watcher {
            if changed {
                self.advance();
            }
            let started = std::time::Instant::now();
            let publish = self.subscribers() > 0 && !self.is_fed();
            let (found, events) = watcher.poll(publish).await;
            if found && !changed {
                self.advance();
            }
            for event in events {
                self.publish(event);
            }
            self.inner.meters.polled(started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(s: &str) -> Vec<String> {
        s.split('/').map(str::to_owned).collect()
    }

    #[test]
    fn patterns_match_like_buildbot() {
        let p = Pattern::parse("builds/*/*");
        assert!(p.matches(&key("builds/7/update")));
        assert!(!p.matches(&key("builds/7/steps/3/new")));
        assert!(!p.matches(&key("builders/7/update")));
        let p = Pattern::parse("builders/*/builds/*/*");
        assert!(p.matches(&key("builders/1/builds/3/new")));
        assert!(Pattern::parse("*").matches(&key("x")));
        assert!(!Pattern::parse("logs/*/append").matches(&key("logs/1/new")));
        assert!(!Pattern::parse("nosuchthing/*").matches(&key("builds/1")));
    }

    #[tokio::test]
    async fn subscribers_get_matching_events_in_order() {
        let events = Events::new();
        let mut a = events.subscribe([Pattern::parse("builds/*/*")]);
        let mut b = events.subscribe([]);
        events.publish(Event::new(["changes", "1", "new"], json!({})));
        events.publish(Event::new(["builds", "7", "new"], json!({"buildid": 7})));
        b.patterns().add(Pattern::parse("builds/7/*"), 1);
        events.publish(Event::new(["builds", "7", "finished"], Value::Null));
        assert_eq!(a.recv().await.unwrap().path(), "builds/7/new");
        assert_eq!(a.recv().await.unwrap().path(), "builds/7/finished");
        // Patterns are read when an event is received, not when it is published.
        assert_eq!(b.recv().await.unwrap().path(), "builds/7/new");
        assert!(b.patterns().remove("builds/7/*"));
        assert!(!b.patterns().remove("builds/7/*"));
    }
}
