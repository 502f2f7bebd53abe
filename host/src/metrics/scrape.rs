//! Values read when `/metrics` is scraped rather than kept up to date on every event: the
//! database pool's connections, the process's resident memory, the age of the event watcher's
//! last poll, the REST answer cache's size and use.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

/// Registers the pool's connections: in use, idle, and the most it opens.
pub(super) fn register_pool(registry: &mut Registry, pool: crate::db::Pool) {
    registry.register_collector(Box::new(PoolUse(pool)));
}

/// Registers `process_resident_memory_bytes` (the standard name, unprefixed).
pub(super) fn register_process(registry: &mut Registry) {
    registry.register_collector(Box::new(ProcessMemory));
}

/// Registers the age of the watcher's last poll.
pub(super) fn register_poll_age(registry: &mut Registry, last_poll: Arc<Mutex<Option<Instant>>>) {
    registry.register_collector(Box::new(PollAge(last_poll)));
}

/// Registers the REST answer cache's bytes, entries, budget, hits and misses.
pub(super) fn register_answer_cache(
    registry: &mut Registry,
    cache: Arc<crate::http::answer_cache::AnswerCache>,
) {
    registry.register_collector(Box::new(AnswerCacheUse(cache)));
}

#[derive(Debug)]
struct AnswerCacheUse(Arc<crate::http::answer_cache::AnswerCache>);

impl Collector for AnswerCacheUse {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use prometheus_client::metrics::counter::ConstCounter;
        let stats = self.0.stats();
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        for (name, help, value) in [
            (
                "rest_cache_size",
                "Memory the REST answers kept between changes of the data take",
                count(stats.bytes),
            ),
            (
                "rest_cache_budget",
                "The most memory the REST answer cache may take ([www] rest_cache_mib)",
                count(stats.budget),
            ),
        ] {
            let gauge = ConstGauge::new(value);
            let encoded =
                encoder.encode_descriptor(name, help, Some(&Unit::Bytes), gauge.metric_type())?;
            gauge.encode(encoded)?;
        }
        let entries = ConstGauge::new(count(stats.entries));
        let encoded = encoder.encode_descriptor(
            "rest_cache_entries",
            "REST answers kept",
            None,
            entries.metric_type(),
        )?;
        entries.encode(encoded)?;
        for (name, help, value) in [
            (
                "rest_cache_hits",
                "REST reads answered from the cache",
                stats.hits,
            ),
            (
                "rest_cache_misses",
                "REST reads that computed their answer",
                stats.misses,
            ),
        ] {
            let counter = ConstCounter::new(value);
            let encoded = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(encoded)?;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct PoolUse(crate::db::Pool);

impl Collector for PoolUse {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let open = i64::from(self.0.size());
        let idle = i64::try_from(self.0.num_idle()).unwrap_or(i64::MAX);
        let mut connections = encoder.encode_descriptor(
            "db_pool_connections",
            "Database connections of the pool, by state (in_use: lent to a query)",
            None,
            MetricType::Gauge,
        )?;
        for (state, value) in [("in_use", (open - idle).max(0)), ("idle", idle)] {
            let labels = [("state", state)];
            ConstGauge::new(value).encode(connections.encode_family(&labels)?)?;
        }
        let max = ConstGauge::new(i64::from(self.0.options().get_max_connections()));
        let encoded = encoder.encode_descriptor(
            "db_pool_max_connections",
            "The most connections the database pool opens",
            None,
            max.metric_type(),
        )?;
        max.encode(encoded)
    }
}

#[derive(Debug)]
struct ProcessMemory;

impl Collector for ProcessMemory {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(bytes) = resident_bytes() else {
            return Ok(());
        };
        let gauge = ConstGauge::new(bytes);
        let encoded = encoder.encode_descriptor(
            "process_resident_memory",
            "Resident memory of the server process",
            Some(&Unit::Bytes),
            gauge.metric_type(),
        )?;
        gauge.encode(encoded)
    }
}

/// `VmRSS` of `/proc/self/status`, in bytes; `None` where there is no such file.
fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[derive(Debug)]
struct PollAge(Arc<Mutex<Option<Instant>>>);

impl Collector for PollAge {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let last = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        // No poll yet (no watcher, or it has not run): nothing to say.
        let Some(last) = last else {
            return Ok(());
        };
        let gauge = ConstGauge::new(last.elapsed().as_secs_f64());
        let encoded = encoder.encode_descriptor(
            "event_watcher_poll_age",
            "Time since the database watcher last finished a poll; it polls when the database \
             changed and at least twice a second, so a value that keeps growing means live \
             updates have stopped",
            Some(&Unit::Seconds),
            gauge.metric_type(),
        )?;
        gauge.encode(encoded)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn resident_memory_is_read() {
        assert!(super::resident_bytes().is_some_and(|bytes| bytes > 0));
    }
}
