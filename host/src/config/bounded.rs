//! Integer keys with bounds (`[www]` limits, `plugin_limits`, `plugin_memory_mib`): the bounds
//! are part of the key's type in its `Raw*` field, so the key is declared once, and a value out
//! of range is refused while the file is read, at that key.

use std::time::Duration;

use serde::de::{Deserialize, Deserializer, Error as _};

/// An integer from `MIN` to `MAX`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounded<const MIN: u64, const MAX: u64>(u64);

impl<const MIN: u64, const MAX: u64> Bounded<MIN, MAX> {
    pub(crate) fn get(self) -> u64 {
        self.0
    }

    /// The value as a count; every `MAX` in the config fits the 64-bit targets the server
    /// builds for, and a larger value would saturate rather than wrap.
    pub(crate) fn count(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }

    /// The value as milliseconds.
    pub(crate) fn millis(self) -> Duration {
        Duration::from_millis(self.0)
    }

    /// The value as KiB, in bytes.
    pub(crate) fn kib(self) -> usize {
        self.count().saturating_mul(1 << 10)
    }

    /// The value as MiB, in bytes.
    pub(crate) fn mib(self) -> usize {
        self.count().saturating_mul(1 << 20)
    }
}

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(deserializer)?;
        if !(MIN..=MAX).contains(&value) {
            return Err(D::Error::custom(format!(
                "must be between {MIN} and {MAX}, found {value}"
            )));
        }
        Ok(Bounded(value))
    }
}
