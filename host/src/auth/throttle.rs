//! Slowing down password guessing: after [`FREE_FAILURES`] failed logins in a row for a user
//! name, or from an address, further attempts for it are refused (429 with `Retry-After`)
//! without checking the password, for a time that doubles with each failure: 1 s after the
//! fifth, 2 s after the sixth, ... at most [`MAX_LOCK`]. A successful login clears the user's
//! count (not the address's). Counts are forgotten [`FORGET_AFTER`] after the last failure;
//! the table is bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures in a row that cost nothing.
pub const FREE_FAILURES: u32 = 5;
/// The longest lock.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// A count is forgotten this long after its last failure.
pub const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Keys tracked at most; the oldest are dropped first.
const MAX_KEYS: usize = 50_000;

/// What a failure count is kept for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// When the lock of this count ends, if it has one.
    fn locked_until(&self) -> Option<Instant> {
        let over = self.count.checked_sub(FREE_FAILURES)?;
        let lock = Duration::from_secs(1u64 << over.min(20)).min(MAX_LOCK);
        Some(self.last + lock)
    }
}

/// Failed logins by user name and by address.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Key, Failures>>,
}

impl Throttle {
    /// How long an attempt for `user` from `address` must wait, if it must.
    pub fn wait(&self, user: &str, address: Option<IpAddr>) -> Option<Duration> {
        let now = Instant::now();
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        keys(user, address)
            .filter_map(|key| failures.get(&key)?.locked_until())
            .filter(|until| *until > now)
            .max()
            .map(|until| until - now)
    }

    /// Counts a failed attempt.
    pub fn failed(&self, user: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if failures.len() >= MAX_KEYS {
                let mut lasts: Vec<Instant> = failures.values().map(|f| f.last).collect();
                lasts.sort_unstable();
                let cut = lasts[lasts.len() / 10];
                failures.retain(|_, f| f.last > cut);
            }
        }
        for key in keys(user, address) {
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(entry.last) >= FORGET_AFTER {
                entry.count = 0;
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
    }

    /// Clears the user's count after a successful login.
    pub fn succeeded(&self, user: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&Key::User(user.to_owned()));
    }
}

fn keys(user: &str, address: Option<IpAddr>) -> impl Iterator<Item = Key> {
    std::iter::once(Key::User(user.to_owned())).chain(address.map(Key::Address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_are_free_then_the_lock_doubles() {
        let throttle = Throttle::default();
        let address: Option<IpAddr> = Some("127.0.0.1".parse().unwrap());
        for _ in 0..FREE_FAILURES - 1 {
            throttle.failed("homer", address);
            assert_eq!(throttle.wait("homer", address), None);
        }
        throttle.failed("homer", address);
        let first = throttle.wait("homer", None).expect("locked by user");
        assert!(first <= Duration::from_secs(1), "{first:?}");
        // the address is locked for any user name
        assert!(throttle.wait("marge", address).is_some());
        assert_eq!(
            throttle.wait("marge", Some("10.0.0.1".parse().unwrap())),
            None
        );
        throttle.failed("homer", address);
        let second = throttle.wait("homer", None).unwrap();
        assert!(second > Duration::from_secs(1), "{second:?}");
        // success clears the user, not the address
        throttle.succeeded("homer");
        assert_eq!(throttle.wait("homer", None), None);
        assert!(throttle.wait("homer", address).is_some());
    }

    #[test]
    fn the_lock_is_capped() {
        let f = Failures {
            count: u32::MAX,
            last: Instant::now(),
        };
        assert_eq!(f.locked_until(), Some(f.last + MAX_LOCK));
    }
}
