//! The meters other modules own and record into: the plugin registry's ([`PluginMetrics`],
//! one [`PluginMeters`] per plugin), the event bus's ([`EventMeters`]) and authentication's
//! ([`LoginMeters`]). Each is made with its owner (before any `/metrics` registry exists) and
//! shares its values with the clones [`super::Metrics::new`] registers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::seconds_histogram;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PluginLabel {
    plugin: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FaultLabels {
    plugin: Arc<str>,
    kind: &'static str,
}

/// The plugin registry's meters: every plugin's calls, faults, call times and queue.
#[derive(Debug, Clone)]
pub struct PluginMetrics {
    calls: Family<PluginLabel, Counter>,
    faults: Family<FaultLabels, Counter>,
    durations: Family<PluginLabel, Histogram, fn() -> Histogram>,
    queued: Family<PluginLabel, Gauge>,
}

impl Default for PluginMetrics {
    fn default() -> Self {
        PluginMetrics {
            calls: Family::default(),
            faults: Family::default(),
            durations: Family::new_with_constructor(seconds_histogram as fn() -> Histogram),
            queued: Family::default(),
        }
    }
}

impl PluginMetrics {
    /// The meters of the plugin `name` (its series appear at once, at zero).
    pub fn plugin(&self, name: &str) -> PluginMeters {
        let label = PluginLabel {
            plugin: Arc::from(name),
        };
        PluginMeters {
            calls: self.calls.get_or_create_owned(&label),
            duration: self.durations.get_or_create_owned(&label),
            queued: self.queued.get_or_create_owned(&label),
            faults: self.faults.clone(),
            plugin: label.plugin,
        }
    }

    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "plugin_calls",
            "Calls into each plugin (pages and logins), faulted ones included",
            self.calls.clone(),
        );
        registry.register(
            "plugin_faults",
            "Plugin calls that failed, by plugin and kind: timeout (deadline), memory, busy \
             (slots and queue full), crashed (trap), bad_response (refused by the policy)",
            self.faults.clone(),
        );
        registry.register_with_unit(
            "plugin_call_duration",
            "Time of each plugin call from its arrival (queue included) to its answer",
            Unit::Seconds,
            self.durations.clone(),
        );
        registry.register(
            "plugin_calls_queued",
            "Calls of each plugin waiting for one of its max_concurrent slots",
            self.queued.clone(),
        );
    }
}

/// One plugin's meters: cheap to clone, recording allocates nothing (but a fault kind's first
/// occurrence).
#[derive(Debug, Clone)]
pub struct PluginMeters {
    plugin: Arc<str>,
    calls: Counter,
    duration: Histogram,
    queued: Gauge,
    faults: Family<FaultLabels, Counter>,
}

impl PluginMeters {
    /// One call that took `elapsed`; `fault` names its failure's kind, if it failed.
    pub fn call(&self, elapsed: Duration, fault: Option<&'static str>) {
        self.calls.inc();
        self.duration.observe(elapsed.as_secs_f64());
        if let Some(kind) = fault {
            let labels = FaultLabels {
                plugin: self.plugin.clone(),
                kind,
            };
            self.faults.get_or_create(&labels).inc();
        }
    }

    /// The number of calls waiting for a slot: the plugin's gate counts with it.
    pub fn queue(&self) -> QueueLength {
        QueueLength(self.queued.clone())
    }
}

/// A plugin's queue length, kept by its gate and shown by `/metrics`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct QueueLength(Gauge);

impl QueueLength {
    /// Takes a place in the queue unless `max` places are taken; atomic, takes no lock.
    pub fn enter(&self, max: usize) -> bool {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        self.0
            .inner()
            .fetch_update(
                std::sync::atomic::Ordering::AcqRel,
                std::sync::atomic::Ordering::Acquire,
                |n| (n < max).then_some(n + 1),
            )
            .is_ok()
    }

    /// Gives a place back.
    pub fn leave(&self) {
        self.0.dec();
    }
}

/// The event bus's meters: events published, and the database watcher's polls.
#[derive(Debug, Clone)]
pub struct EventMeters {
    published: Counter,
    polls: Histogram,
    /// When the watcher last finished a poll (read at scrape time).
    pub(super) last_poll: Arc<Mutex<Option<Instant>>>,
}

impl Default for EventMeters {
    fn default() -> Self {
        EventMeters {
            published: Counter::default(),
            polls: seconds_histogram(),
            last_poll: Arc::default(),
        }
    }
}

impl EventMeters {
    /// One event published to the subscribers.
    pub fn published(&self) {
        self.published.inc();
    }

    /// The watcher finished a poll (reading the changes and publishing their events) that took
    /// `took`.
    pub fn polled(&self, took: Duration) {
        self.polls.observe(took.as_secs_f64());
        *self.last_poll.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "events_published",
            "Live-update events published to /ws and /sse subscribers (by the database \
             watcher, a linked master's feed or this process)",
            self.published.clone(),
        );
        registry.register_with_unit(
            "event_watcher_poll_duration",
            "Time of each poll of the database watcher, from reading what changed to \
             publishing its events; a change waits at most one check interval (20 ms) plus \
             this before its event is published",
            Unit::Seconds,
            self.polls.clone(),
        );
        super::scrape::register_poll_age(registry, self.last_poll.clone());
    }
}

/// Why a login failed (the user name is never a label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong or missing user name or password.
    BadCredentials,
    /// Refused without checking: too many failures for the name or the address.
    Throttled,
    /// The login could not be checked (server error, backend unavailable, plugin fault,
    /// OAuth2 provider error).
    Error,
}

impl LoginFailure {
    const ALL: [LoginFailure; 3] = [
        LoginFailure::BadCredentials,
        LoginFailure::Throttled,
        LoginFailure::Error,
    ];

    fn label(self) -> &'static str {
        match self {
            LoginFailure::BadCredentials => "bad_credentials",
            LoginFailure::Throttled => "throttled",
            LoginFailure::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// Authentication's meters: failed logins by reason.
#[derive(Debug, Clone)]
pub struct LoginMeters {
    failures: Family<ReasonLabel, Counter>,
}

impl Default for LoginMeters {
    fn default() -> Self {
        let failures = Family::<ReasonLabel, Counter>::default();
        // Every reason is shown from the start, at zero.
        for why in LoginFailure::ALL {
            drop(failures.get_or_create(&ReasonLabel {
                reason: why.label(),
            }));
        }
        LoginMeters { failures }
    }
}

impl LoginMeters {
    /// One failed login.
    pub fn failed(&self, why: LoginFailure) {
        self.failures
            .get_or_create(&ReasonLabel {
                reason: why.label(),
            })
            .inc();
    }

    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "login_failures",
            "Failed logins at /auth/login, by reason",
            self.failures.clone(),
        );
    }
}
