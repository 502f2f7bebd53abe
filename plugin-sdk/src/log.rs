//! Writing to the server's log; lines are tagged with the plugin's name by the server.
//!
//! Functions take anything that displays; the macros of the same names format their arguments:
//!
//! ```
//! use buildbot_plugin_sdk::log;
//!
//! log::info("started");
//! log::warn!("builder {} has no builds", "docs");
//! # #[cfg(not(target_arch = "wasm32"))]
//! assert_eq!(buildbot_plugin_sdk::testing::take_logs(), [
//!     (log::Level::Info, "started".to_string()),
//!     (log::Level::Warn, "builder docs has no builds".to_string()),
//! ]);
//! ```

use std::fmt;

/// The WIT enum `level` of `buildbot:www@0.2.0`:
pub use crate::guest::wit::Level;

impl Level {
    /// The level's name in lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Writes one line at `level`.
pub fn write(level: Level, message: impl fmt::Display) {
    crate::guest::log_write(level, &message.to_string());
}

/// Writes one line at trace level.
pub fn trace(message: impl fmt::Display) {
    write(Level::Trace, message);
}

/// Writes one line at debug level.
pub fn debug(message: impl fmt::Display) {
    write(Level::Debug, message);
}

/// Writes one line at info level.
pub fn info(message: impl fmt::Display) {
    write(Level::Info, message);
}

/// Writes one line at warn level.
pub fn warn(message: impl fmt::Display) {
    write(Level::Warn, message);
}

/// Writes one line at error level.
pub fn error(message: impl fmt::Display) {
    write(Level::Error, message);
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_trace {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Trace, format_args!($($arg)+)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_debug {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Debug, format_args!($($arg)+)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_info {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Info, format_args!($($arg)+)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_warn {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Warn, format_args!($($arg)+)) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_error {
    ($($arg:tt)+) => { $crate::log::write($crate::log::Level::Error, format_args!($($arg)+)) };
}

/// `trace!("format", args...)`: formats and writes one line at trace level.
#[doc(inline)]
pub use crate::__log_trace as trace;

/// `debug!("format", args...)`: formats and writes one line at debug level.
#[doc(inline)]
pub use crate::__log_debug as debug;

/// `info!("format", args...)`: formats and writes one line at info level.
#[doc(inline)]
pub use crate::__log_info as info;

/// `warn!("format", args...)`: formats and writes one line at warn level.
#[doc(inline)]
pub use crate::__log_warn as warn;

/// `error!("format", args...)`: formats and writes one line at error level.
#[doc(inline)]
pub use crate::__log_error as error;
