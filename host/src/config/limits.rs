//! `[www]`'s bounds on what one client may hold or send: timeouts, the connection cap, websocket
//! and SSE subscriptions, REST paging and query size (buildbot-www's own keys).

use std::time::Duration;

/// What clients may take of the server. Every field has a `[www]` key and a default; none can
/// be turned off, only moved. A key's bounds are declared with its field in `RawWww`.
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
    /// `change_hook_max_body_kib`: the largest delivery to `/change_hook/` (default 25 MiB,
    /// the most GitHub sends).
    pub change_hook_max_body_bytes: usize,
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
            change_hook_max_body_bytes: 25 << 20,
        }
    }
}
