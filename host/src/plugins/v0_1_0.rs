//! Bindings of WIT package `buildbot:www@0.1.0` and the host's side of its imports.
//!
//! Released WIT versions are frozen; a new version gets a sibling module, and `instance` tries
//! the versions a component might have been built against.

use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::component::{HasSelf, Linker};

use super::instance::State;
use super::{MenuEntry, Request as HostRequest, Response as HostResponse};
use crate::data::Answer;
use crate::identity::User;

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "ui-plugin",
});

use buildbot::www::types as wit;

/// The package version these bindings are for.
pub(super) const WIT_VERSION: &str = "0.1.0";

/// The longest log line a plugin may write; the rest is cut.
const MAX_LOG_LINE: usize = 4000;

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
    fn get(&mut self, path: String, query: String) -> Result<String, wit::DataError> {
        let Some(data) = self.data.clone() else {
            return Err(wit::DataError {
                code: 503,
                message: "no database is open".into(),
            });
        };
        let args = crate::data::query_args(&query);
        let path = path.trim_matches('/').to_owned();
        let user = self.user.clone();
        let answer = self
            .tokio
            .block_on(async move { data.get(&user, &path, &args).await });
        match answer {
            Ok(Answer::Items {
                plural,
                items,
                total,
            }) => Ok(crate::data::envelope(plural, items, total).to_string()),
            Ok(Answer::Raw { body, .. }) => Ok(String::from_utf8_lossy(&body).into_owned()),
            Err(err) => Err(wit::DataError {
                code: err.status,
                message: if err.internal {
                    tracing::error!(plugin = %self.plugin, "data read failed: {}", err.message);
                    "internal error".into()
                } else {
                    err.message
                },
            }),
        }
    }
}

impl buildbot::www::log::Host for State {
    fn write(&mut self, level: wit::Level, message: String) {
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let plugin = &*self.plugin;
        match level {
            wit::Level::Trace => tracing::trace!(plugin, "{message}"),
            wit::Level::Debug => tracing::debug!(plugin, "{message}"),
            wit::Level::Info => tracing::info!(plugin, "{message}"),
            wit::Level::Warn => tracing::warn!(plugin, "{message}"),
            wit::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

impl buildbot::www::host::Host for State {
    fn now_ms(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn font(&mut self, family: String) -> Option<Vec<u8>> {
        self.fonts.resolve(&family).map(|bytes| bytes.to_vec())
    }
}
