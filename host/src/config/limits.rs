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

impl Limits {
    /// Sets the limit a `[www]` key names (one of the keys in the field docs above), checking
    /// its range; `www` is the `[www]` table, for messages.
    pub(super) fn set(&mut self, key: &str, value: u64, www: &KeyPath) -> Result<(), Fail> {
        let max: u64 = match key {
            "rest_max_limit" => 1_000_000_000,
            "max_query_args" => 100_000,
            "http_header_timeout_ms" | "http_body_timeout_ms" => 3_600_000,
            "ws_max_message_kib" => 65_536,
            _ => 1_000_000,
        };
        if value == 0 || value > max {
            return Err(Fail::at(
                www.key(key),
                format!("must be between 1 and {max}, found {value}"),
            ));
        }
        // At most 10^9: fits a usize on the 64-bit targets the server builds for.
        let count = usize::try_from(value).unwrap_or(usize::MAX);
        match key {
            "rest_max_limit" => self.rest_max_limit = value,
            "max_query_args" => self.max_query_args = count,
            "http_header_timeout_ms" => self.header_timeout = Duration::from_millis(value),
            "http_body_timeout_ms" => self.body_timeout = Duration::from_millis(value),
            "max_connections" => self.max_connections = count,
            "ws_max_message_kib" => self.ws_max_message_bytes = count << 10,
            "ws_max_subscriptions" => self.ws_max_subscriptions = count,
            "sse_max_subscriptions" => self.sse_max_subscriptions = count,
            _ => {
                return Err(Fail::at_key(
                    www.key(key),
                    format!("'{key}' is not a limit"),
                ))
            }
        }
        Ok(())
    }
}
