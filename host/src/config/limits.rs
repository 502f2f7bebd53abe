//! `[www]`'s bounds on what one client may hold or send: timeouts, the connection cap, websocket
//! and SSE subscriptions, REST paging and query size (buildbot-www's own keys).

use std::time::Duration;

use super::error::{Fail, KeyPath};

/// What clients may take of the server. Every field has a `[www]` key and a default; none can
/// be turned off, only moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `rest_max_limit`: the most items one REST read returns; a larger `limit` (and
    /// `limit=-1`) gets this many (default 10 000).
    pub rest_max_limit: u64,
    /// `max_query_args`: arguments one REST query string may have (default 1000).
    pub max_query_args: usize,
    /// `http_header_timeout_ms`: how long a connection may take to send a request's headers,
    /// counted from when it is ready for one (accepted, or done answering the previous
    /// request), so also how long an idle keep-alive connection stays open (default 10 s).
    pub header_timeout: Duration,
    /// `http_body_timeout_ms`: how long a request's body may take to arrive, counted from the
    /// end of its headers (default 30 s).
    pub body_timeout: Duration,
    /// `max_connections`: open client connections, websockets included (default 512).
    pub max_connections: usize,
    /// `ws_max_message_kib`: the largest websocket message or frame a client may send
    /// (default 64 KiB).
    pub ws_max_message_bytes: usize,
    /// `ws_max_subscriptions`: paths one websocket may consume at once (default 1000).
    pub ws_max_subscriptions: usize,
    /// `sse_max_subscriptions`: paths one SSE stream may follow at once (default 1000).
    pub sse_max_subscriptions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rest_max_limit: 10_000,
            max_query_args: 1000,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 512,
            ws_max_message_bytes: 64 << 10,
            ws_max_subscriptions: 1000,
            sse_max_subscriptions: 1000,
        }
    }
}

/// One `[www]` limit key: its name, its largest value (the smallest is 1), and the field it sets.
pub(super) struct LimitKey {
    /// The `[www]` key.
    pub(super) key: &'static str,
    /// The largest value accepted.
    max: u64,
    /// Stores a checked value.
    apply: fn(&mut Limits, u64),
}

/// At most 10^9 (every `max` below): fits a usize on the 64-bit targets the server builds for.
fn count(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// Every limit key, the one list `Limits::set` and `[www]`'s reading follow.
pub(super) const KEYS: &[LimitKey] = &[
    LimitKey {
        key: "rest_max_limit",
        max: 1_000_000_000,
        apply: |l, v| l.rest_max_limit = v,
    },
    LimitKey {
        key: "max_query_args",
        max: 100_000,
        apply: |l, v| l.max_query_args = count(v),
    },
    LimitKey {
        key: "http_header_timeout_ms",
        max: 3_600_000,
        apply: |l, v| l.header_timeout = Duration::from_millis(v),
    },
    LimitKey {
        key: "http_body_timeout_ms",
        max: 3_600_000,
        apply: |l, v| l.body_timeout = Duration::from_millis(v),
    },
    LimitKey {
        key: "max_connections",
        max: 1_000_000,
        apply: |l, v| l.max_connections = count(v),
    },
    LimitKey {
        key: "ws_max_message_kib",
        max: 65_536,
        apply: |l, v| l.ws_max_message_bytes = count(v) << 10,
    },
    LimitKey {
        key: "ws_max_subscriptions",
        max: 1_000_000,
        apply: |l, v| l.ws_max_subscriptions = count(v),
    },
    LimitKey {
        key: "sse_max_subscriptions",
        max: 1_000_000,
        apply: |l, v| l.sse_max_subscriptions = count(v),
    },
];

impl Limits {
    /// Sets the limit a `[www]` key names (one of [`KEYS`]), checking its range; `www` is the
    /// `[www]` table, for messages.
    pub(super) fn set(&mut self, key: &str, value: u64, www: &KeyPath) -> Result<(), Fail> {
        let Some(limit) = KEYS.iter().find(|k| k.key == key) else {
            return Err(Fail::at_key(
                www.key(key),
                format!("'{key}' is not a limit"),
            ));
        };
        if value == 0 || value > limit.max {
            return Err(Fail::at(
                www.key(key),
                format!("must be between 1 and {}, found {value}", limit.max),
            ));
        }
        (limit.apply)(self, value);
        Ok(())
    }
}
