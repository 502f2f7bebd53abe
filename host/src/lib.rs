//! buildbot-www: Buildbot's web server (REST Data API, UI, plugins) as a library; `main.rs` is its CLI.

pub mod answers;
pub mod auth;
pub mod authz;
pub mod avatar;
pub mod buildbot_ui;
pub mod config;
pub mod control;
pub mod data;
pub mod db;
pub mod events;
#[cfg(feature = "demo")]
pub mod fixtures;
pub mod hooks;
pub mod http;
pub mod identity;
pub mod jsonfmt;
pub mod metrics;
pub mod plugins;
pub mod server;
pub mod ui;
