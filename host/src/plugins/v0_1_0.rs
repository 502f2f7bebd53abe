//! Bindings of WIT package `buildbot:www@0.1.0` (frozen) and their conversions to the host's
//! types. The imports' work is `store::State`'s; this module only changes shapes.

use wasmtime::component::{HasSelf, Linker};

use super::logging::Level;
use super::store::State;
use super::versions::HostManifest;
use super::{MenuEntry, Request as HostRequest, Response as HostResponse};
use crate::identity::User;

wasmtime::component::bindgen!({
    path: "../plugin-sdk/wit/since_v0.1.0",
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

same_in_every_version!();

/// The request in this version's shape: the user without roles.
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
            ..
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
        headers: headers(request.headers),
        body: request.body,
        user,
        root: request.root,
    }
}

impl buildbot::www::data::Host for State {
    async fn get(&mut self, path: String, query: String) -> Result<String, wit::DataError> {
        self.read_data(path, query)
            .await
            .map_err(|err| wit::DataError {
                code: err.code,
                message: err.message,
            })
    }
}
