//! Bindings of WIT package `buildbot:www@0.1.0` and the host's side of its imports.
//!
//! Released WIT versions are frozen; a new version gets a sibling module, and `instance` tries
//! the versions a component might have been built against.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::{HasSelf, Linker};

use super::instance::State;
use super::logging::Level;
use super::{MenuEntry, Request as HostRequest, Response as HostResponse};
use crate::data::Answer;
use crate::identity::User;

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "ui-plugin",
    // Calls run as futures and the host's imports are async: time the host spends for a guest
    // (data reads, font look-ups) is inside the call's deadline and never blocks a thread.
    imports: { default: async },
    exports: { default: async },
});

use buildbot::www::types as wit;

/// The package version these bindings are for.
pub(super) const WIT_VERSION: &str = "0.1.0";

pub(super) use self::UiPlugin as Plugin;
pub(super) use self::UiPluginPre as PluginPre;

/// Adds this version's imports (data, log, host) to the linker.
pub(super) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    UiPlugin::add_to_linker::<State, HasSelf<State>>(linker, |state| state)
}

/// The manifest as the host keeps it.
pub(super) struct HostManifest {
    pub(super) name: String,
    pub(super) version: String,
    pub(super) description: String,
    pub(super) menu: Vec<MenuEntry>,
    pub(super) events: Vec<String>,
}

impl From<wit::Manifest> for HostManifest {
    fn from(m: wit::Manifest) -> Self {
        HostManifest {
            name: m.name,
            version: m.version,
            description: m.description,
            menu: m
                .menu
                .into_iter()
                .map(|e| MenuEntry {
                    label: e.label,
                    path: e.path,
                    order: e.order,
                    icon: e.icon,
                })
                .collect(),
            events: m.events,
        }
    }
}

/// The request in this version's shape.
pub(super) fn request(request: HostRequest) -> wit::Request {
    let user = match request.user {
        User::Anonymous => wit::User {
            anonymous: true,
            username: String::new(),
            full_name: None,
            email: None,
            groups: Vec::new(),
        },
        User::Known {
            username,
            full_name,
            email,
            groups,
        } => wit::User {
            anonymous: false,
            username,
            full_name,
            email,
            groups,
        },
    };
    wit::Request {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: request
            .headers
            .into_iter()
            .map(|(name, value)| wit::Header { name, value })
            .collect(),
        body: request.body,
        user,
        root: request.root,
    }
}

/// The response in the host's shape (checked by the caller).
pub(super) fn response(response: wit::Response) -> HostResponse {
    HostResponse {
        status: response.status,
        headers: response
            .headers
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect(),
        body: response.body,
    }
}

impl wit::Host for State {}

impl buildbot::www::data::Host for State {
    async fn get(&mut self, path: String, query: String) -> Result<String, wit::DataError> {
        let Some(data) = self.data.clone() else {
            return Err(wit::DataError {
                code: 503,
                message: "no database is open".into(),
            });
        };
        if self.call.reads_left == 0 {
            return Err(wit::DataError {
                code: 429,
                message: format!(
                    "this call made its {} data reads (max_data_reads)",
                    self.limits.max_data_reads
                ),
            });
        }
        self.call.reads_left -= 1;
        let args = crate::data::query_args(&query);
        let path = path.trim_matches('/').to_owned();
        let user = self.call.user.clone();
        let budget = self.call.data.clone();
        let answer = budget
            .within(async move { data.get(&user, &path, &args).await })
            .await;
        let body = match answer {
            Ok(Answer::Items {
                plural,
                items,
                total,
            }) => crate::data::envelope(plural, items, total).to_string(),
            Ok(Answer::Raw { body, .. }) => String::from_utf8_lossy(&body).into_owned(),
            Err(err) => {
                return Err(wit::DataError {
                    code: err.status,
                    message: if err.internal {
                        tracing::error!(plugin = %self.plugin, "data read failed: {}", err.message);
                        "internal error".into()
                    } else {
                        err.message
                    },
                })
            }
        };
        Ok(body)
    }
}

impl buildbot::www::log::Host for State {
    async fn write(&mut self, level: wit::Level, message: String) {
        let level = match level {
            wit::Level::Trace => Level::Trace,
            wit::Level::Debug => Level::Debug,
            wit::Level::Info => Level::Info,
            wit::Level::Warn => Level::Warn,
            wit::Level::Error => Level::Error,
        };
        self.log.write(level, &message);
    }
}

impl buildbot::www::host::Host for State {
    async fn now_ms(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    async fn font(&mut self, family: String) -> Option<Vec<u8>> {
        // The first look-up reads the system's fonts: on a blocking thread, abandoned (not
        // waited for) when the call's deadline passes first.
        let fonts = self.fonts.clone();
        let left = self.call.deadline.saturating_duration_since(Instant::now());
        let lookup = tokio::task::spawn_blocking(move || fonts.resolve(&family));
        match tokio::time::timeout(left, lookup).await {
            Ok(Ok(bytes)) => bytes.map(|bytes| bytes.to_vec()),
            _ => None,
        }
    }
}
