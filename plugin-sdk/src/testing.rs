//! Stand-ins for the server, for unit tests of plugin code on native targets (`cargo test`).
//!
//! In a server, [`data`](crate::data) reads, [`log`](crate::log) lines and [`font`](crate::font)
//! go to the host. In a native build they come here instead: data reads are answered by the
//! function given to [`set_data`] (per thread, so parallel tests do not interfere), log lines are
//! printed to stderr and kept for [`take_logs`], and fonts come from [`set_font`].
//!
//! ```
//! use buildbot_plugin_sdk::{data::{self, Query}, testing, DataError};
//!
//! testing::set_data(|path, query| match path {
//!     "builders" => Ok(r#"{"builders": [{"builderid": 1, "name": "docs"}], "meta": {}}"#.into()),
//!     _ => Err(DataError::new(404, format!("invalid path: {path}"))),
//! });
//! assert_eq!(data::get("builders", &Query::new())?["builders"][0]["name"], "docs");
//! assert_eq!(data::get("nope", &Query::new()).unwrap_err().code, 404);
//! # Ok::<(), DataError>(())
//! ```
//!
//! This module does not exist in `wasm32` builds.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::log::Level;
use crate::DataError;

type DataSource = Box<dyn Fn(&str, &str) -> Result<String, DataError>>;

thread_local! {
    static DATA: RefCell<Option<DataSource>> = const { RefCell::new(None) };
    static LOGS: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    static FONTS: RefCell<HashMap<String, Vec<u8>>> = RefCell::new(HashMap::new());
}

/// Answers this thread's data reads with `source(path, query)`: `path` without a leading `/`,
/// `query` the rendered query string, and the result the JSON text `/api/v2` would answer.
pub fn set_data(source: impl Fn(&str, &str) -> Result<String, DataError> + 'static) {
    DATA.with(|data| *data.borrow_mut() = Some(Box::new(source)));
}

/// Removes this thread's data source; reads then fail with 503.
pub fn clear_data() {
    DATA.with(|data| *data.borrow_mut() = None);
}

/// The log lines written on this thread since the last call.
pub fn take_logs() -> Vec<(Level, String)> {
    LOGS.with(|logs| std::mem::take(&mut *logs.borrow_mut()))
}

/// Makes [`font`](crate::font) return `bytes` for `family` on this thread.
pub fn set_font(family: &str, bytes: Vec<u8>) {
    FONTS.with(|fonts| fonts.borrow_mut().insert(family.to_owned(), bytes));
}

pub(crate) fn data_get(path: &str, query: &str) -> Result<String, DataError> {
    DATA.with(|data| match &*data.borrow() {
        Some(source) => source(path, query),
        None => Err(DataError::new(
            503,
            "no data source: outside a buildbot-www server, call testing::set_data first",
        )),
    })
}

pub(crate) fn log_write(level: Level, message: &str) {
    eprintln!("[{}] {message}", level.as_str());
    LOGS.with(|logs| logs.borrow_mut().push((level, message.to_owned())));
}

pub(crate) fn font(family: &str) -> Option<Vec<u8>> {
    FONTS.with(|fonts| fonts.borrow().get(family).cloned())
}
