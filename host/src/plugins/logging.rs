//! A plugin's lines in the server's log (WIT `log.write`, its stdout and stderr): each message
//! is one record with its control characters and line breaks escaped, so a plugin cannot forge
//! records, and the rate is limited per plugin, with a count of what was dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Lines per second a plugin may log on average, and the burst it may log at once.
const RATE_PER_SECOND: f64 = 20.0;
const BURST: f64 = 100.0;

/// The longest message logged; the rest is cut.
pub(super) const MAX_MESSAGE: usize = 4000;

/// Severity of a plugin's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// One plugin's log: a token bucket and the lines it refused since it last said so. No thread
/// ever waits for it: a line that finds the bucket in use by another thread is counted as
/// dropped (the plugin threads run at idle priority, and a server thread must not wait on a
/// lock one of them holds).
#[derive(Debug)]
pub(super) struct LogGate {
    plugin: String,
    bucket: Mutex<Bucket>,
    dropped: AtomicU64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl LogGate {
    pub(super) fn new(plugin: &str) -> LogGate {
        LogGate {
            plugin: plugin.to_owned(),
            bucket: Mutex::new(Bucket {
                tokens: BURST,
                refilled: Instant::now(),
            }),
            dropped: AtomicU64::new(0),
        }
    }

    /// Logs `message` at `level` as one record tagged with the plugin, unless the plugin is over
    /// its rate; the first record after some were dropped says how many.
    pub(super) fn write(&self, level: Level, message: &str) {
        if !self.take_token() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        let plugin = self.plugin.as_str();
        if dropped > 0 {
            tracing::warn!(
                plugin,
                "{dropped} log line(s) of plugin {plugin} dropped: over {RATE_PER_SECOND} lines per second"
            );
        }
        let text = escape(message);
        match level {
            Level::Trace => tracing::trace!(plugin, "{text}"),
            Level::Debug => tracing::debug!(plugin, "{text}"),
            Level::Info => tracing::info!(plugin, "{text}"),
            Level::Warn => tracing::warn!(plugin, "{text}"),
            Level::Error => tracing::error!(plugin, "{text}"),
        }
    }

    /// One token from the bucket, refilled for the time since the last; `false` when it is
    /// empty or another thread holds it.
    fn take_token(&self) -> bool {
        let Ok(mut bucket) = self.bucket.try_lock() else {
            return false;
        };
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * RATE_PER_SECOND).min(BURST);
        bucket.refilled = now;
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }

    /// A warning about the plugin from the host, under the same rate limit.
    pub(super) fn warn(&self, message: &str) {
        self.write(Level::Warn, message);
    }
}

/// `text` cut to [`MAX_MESSAGE`] bytes with line breaks, control characters (C0, DEL, C1) and
/// Unicode line and paragraph separators written as escapes (`\n`, `\u{1b}`).
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE));
    for c in text.chars() {
        if out.len() >= MAX_MESSAGE {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_records_are_escaped() {
        assert_eq!(
            escape("ok\n2026-12-03T00:00:00Z ERROR forged\r\x1b[31m\u{2028}"),
            "ok\\n2026-12-03T00:00:00Z ERROR forged\\r\\u{1b}[31m\\u{2028}"
        );
        assert!(escape(&"x".repeat(10_000)).len() <= MAX_MESSAGE + '…'.len_utf8());
    }

    #[test]
    fn the_rate_is_limited_and_drops_are_counted() {
        let gate = LogGate::new("flood");
        for _ in 0..1000 {
            gate.write(Level::Trace, "line");
        }
        let dropped = gate.dropped.load(Ordering::Relaxed);
        assert!(dropped >= 1000 - BURST as u64 - 5, "{dropped}");
    }

    #[test]
    fn a_line_that_finds_the_bucket_held_is_dropped_not_waited_for() {
        let gate = LogGate::new("contended");
        let held = gate.bucket.lock().unwrap();
        gate.write(Level::Trace, "line");
        drop(held);
        assert_eq!(gate.dropped.load(Ordering::Relaxed), 1);
        gate.write(Level::Trace, "line");
        assert_eq!(
            gate.dropped.load(Ordering::Relaxed),
            0,
            "the next line reports the drop"
        );
    }
}
