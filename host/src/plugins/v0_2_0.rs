//! Bindings of WIT package `buildbot:www@0.2.0`, world `ui-plugin`, and their conversions to the host's
//! types. The imports' work is `store::State`'s; this module only changes shapes.

use wasmtime::component::{HasSelf, Linker};

use super::logging::Level;
use super::store::State;
use super::versions::HostManifest;
use super::{MenuEntry, Request as HostRequest, Response as HostResponse};
use crate::identity::User;

wasmtime::component::bindgen!({
    path: "../plugin-sdk/wit/since_v0.2.0",
    world: "ui-plugin",
    // Calls run as futures and the host's imports are async: time the host spends for a guest
    // (data reads, font look-ups) is inside the call's deadline and never blocks a thread.
    imports: { default: async },
    exports: { default: async },
});

use buildbot::www::types as wit;

/// The package version these bindings are for.
pub(super) const WIT_VERSION: &str = "0.2.0";

pub(super) use self::UiPlugin as Plugin;
pub(super) use self::UiPluginPre as PluginPre;

/// Adds this version's imports (data, log, host, and the authentication world's types) to
/// the linker.
pub(super) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    UiPlugin::add_to_linker::<State, HasSelf<State>>(linker, |state| state)?;
    auth::buildbot::www::auth_types::add_to_linker::<State, HasSelf<State>>(linker, |state| state)
}

same_in_every_version!();

/// The request in this version's shape. Roles come with the user from 0.2.0 on; the server
/// computes none yet (role matchers arrive with the authentication issue), so they are empty.
pub(super) fn request(request: HostRequest) -> wit::Request {
    let user = match request.user {
        User::Anonymous => wit::User {
            anonymous: true,
            username: String::new(),
            full_name: None,
            email: None,
            groups: Vec::new(),
            roles: Vec::new(),
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
            roles: Vec::new(),
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
                kind: match err.code {
                    400 => wit::DataErrorKind::BadArgument,
                    401 | 403 => wit::DataErrorKind::Forbidden,
                    404 => wit::DataErrorKind::NotFound,
                    413 | 429 => wit::DataErrorKind::LimitReached,
                    503 => wit::DataErrorKind::Unavailable,
                    _ => wit::DataErrorKind::Internal,
                },
                message: err.message,
                argument: err.argument,
            })
    }
}

/// The `auth-plugin` world of the same package: authentication plugins (`CustomAuth`). Its
/// imports (`log`, `host`) are the ui-plugin world's interfaces, already in the linker.
pub(super) mod auth {
    use super::super::store::State;
    use super::super::versions::HostManifest;
    use crate::identity::User;

    wasmtime::component::bindgen!({
        path: "../plugin-sdk/wit/since_v0.2.0",
        world: "auth-plugin",
        imports: { default: async },
        exports: { default: async },
        with: {
            "buildbot:www/log": crate::plugins::v0_2_0::buildbot::www::log,
            "buildbot:www/host": crate::plugins::v0_2_0::buildbot::www::host,
            "buildbot:www/types": crate::plugins::v0_2_0::buildbot::www::types,
        },
    });

    pub(in super::super) use self::AuthPlugin as Plugin;
    pub(in super::super) use self::AuthPluginPre as PluginPre;

    use buildbot::www::auth_types as wit;

    impl From<wit::AuthManifest> for HostManifest {
        fn from(m: wit::AuthManifest) -> Self {
            HostManifest {
                name: m.name,
                version: m.version,
                description: m.description,
                menu: Vec::new(),
                events: Vec::new(),
            }
        }
    }

    impl wit::Host for State {}

    /// What a credentials check answered, in the host's shape: the user (the login name
    /// where the plugin left `username` empty), or why not.
    pub(in super::super) fn checked(
        login: &str,
        answer: Result<wit::UserInfo, wit::AuthError>,
    ) -> Result<User, super::super::Refusal> {
        match answer {
            Ok(info) => Ok(User::Known {
                username: if info.username.is_empty() {
                    login.to_owned()
                } else {
                    info.username
                },
                full_name: info.full_name,
                email: info.email,
                groups: info.groups,
                extra: serde_json::Map::new(),
            }),
            Err(wit::AuthError::BadCredentials) => Err(super::super::Refusal::BadCredentials),
            Err(wit::AuthError::Unavailable(reason)) => {
                Err(super::super::Refusal::Unavailable(reason))
            }
        }
    }
}
