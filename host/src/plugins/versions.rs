//! The WIT versions this host serves, as one type: `PluginPre` and `Plugin` are enums over the
//! version modules (`v0_1_0`, `v0_2_0`), and every call goes through them, so the rest of the
//! runtime never names a version. A component is matched against the newest version first.
//! Every entry into a guest here keeps the epoch ticker awake while it lasts (`epoch`).
//! Authentication plugins (world `auth-plugin`, from 0.2.0 on) are variants of the same enums:
//! they are loaded, sandboxed and limited like UI plugins, and answer `check-credentials`
//! instead of `handle`.

use wasmtime::component::{Component, Linker};
use wasmtime::Store;

use super::store::State;
use super::{epoch, v0_1_0, v0_2_0, MenuEntry, PluginKind, Refusal, Request, Response};
use crate::identity::User;

/// The WIT package versions this host loads UI plugins of, oldest first.
pub(super) const WIT_VERSIONS: &[&str] = &[v0_1_0::WIT_VERSION, v0_2_0::WIT_VERSION];

/// Adds the imports of every version to the linker (their interface names carry the version,
/// so they live side by side).
pub(super) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    v0_1_0::add_to_linker(linker)?;
    v0_2_0::add_to_linker(linker)
}

/// A manifest as the host keeps it, whatever the version.
pub(super) struct HostManifest {
    pub(super) name: String,
    pub(super) version: String,
    pub(super) description: String,
    pub(super) menu: Vec<MenuEntry>,
    pub(super) events: Vec<String>,
}

/// A component checked against one version's world, ready to instantiate.
pub(super) enum PluginPre {
    V0_1_0(v0_1_0::PluginPre<State>),
    V0_2_0(v0_2_0::PluginPre<State>),
    AuthV0_2_0(v0_2_0::auth::PluginPre<State>),
}

/// An instance of a plugin.
pub(super) enum Plugin {
    V0_1_0(v0_1_0::Plugin),
    V0_2_0(v0_2_0::Plugin),
    AuthV0_2_0(v0_2_0::auth::Plugin),
}

impl PluginPre {
    /// Type-checks `component` against the `ui-plugin` world of each version, newest first,
    /// then against the `auth-plugin` world. A component of an unknown version or world is
    /// refused with what this server serves.
    pub(super) fn new(linker: &Linker<State>, component: &Component) -> anyhow::Result<PluginPre> {
        let pre = linker.instantiate_pre(component)?;
        let newest = match v0_2_0::PluginPre::new(pre.clone()) {
            Ok(pre) => return Ok(PluginPre::V0_2_0(pre)),
            Err(err) => err,
        };
        if let Ok(pre) = v0_1_0::PluginPre::new(pre.clone()) {
            return Ok(PluginPre::V0_1_0(pre));
        }
        if let Ok(pre) = v0_2_0::auth::PluginPre::new(pre) {
            return Ok(PluginPre::AuthV0_2_0(pre));
        }
        Err(anyhow::Error::from(newest).context(format!(
            "it matches the world ui-plugin or auth-plugin of no WIT version this server knows \
             ({})",
            WIT_VERSIONS
                .iter()
                .map(|v| format!("buildbot:www@{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// Whether the component is a UI or an authentication plugin.
    pub(super) fn kind(&self) -> PluginKind {
        match self {
            PluginPre::V0_1_0(_) | PluginPre::V0_2_0(_) => PluginKind::Ui,
            PluginPre::AuthV0_2_0(_) => PluginKind::Auth,
        }
    }

    /// The WIT package version the component was built against.
    pub(super) fn wit_version(&self) -> &'static str {
        match self {
            PluginPre::V0_1_0(_) => v0_1_0::WIT_VERSION,
            PluginPre::V0_2_0(_) | PluginPre::AuthV0_2_0(_) => v0_2_0::WIT_VERSION,
        }
    }

    /// A new instance in `store`.
    pub(super) async fn instantiate(&self, store: &mut Store<State>) -> wasmtime::Result<Plugin> {
        let _running = epoch::running();
        Ok(match self {
            PluginPre::V0_1_0(pre) => Plugin::V0_1_0(pre.instantiate_async(store).await?),
            PluginPre::V0_2_0(pre) => Plugin::V0_2_0(pre.instantiate_async(store).await?),
            PluginPre::AuthV0_2_0(pre) => Plugin::AuthV0_2_0(pre.instantiate_async(store).await?),
        })
    }
}

impl Plugin {
    /// The plugin's `manifest`.
    pub(super) async fn manifest(
        &self,
        store: &mut Store<State>,
    ) -> wasmtime::Result<HostManifest> {
        let _running = epoch::running();
        Ok(match self {
            Plugin::V0_1_0(p) => p.call_manifest(store).await?.into(),
            Plugin::V0_2_0(p) => p.call_manifest(store).await?.into(),
            Plugin::AuthV0_2_0(p) => p.call_manifest(store).await?.into(),
        })
    }

    /// The plugin's `init` with its config as JSON.
    pub(super) async fn init(
        &self,
        store: &mut Store<State>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        let _running = epoch::running();
        match self {
            Plugin::V0_1_0(p) => p.call_init(store, config).await,
            Plugin::V0_2_0(p) => p.call_init(store, config).await,
            Plugin::AuthV0_2_0(p) => p.call_init(store, config).await,
        }
    }

    /// The plugin's `handle`.
    pub(super) async fn handle(
        &self,
        store: &mut Store<State>,
        request: Request,
    ) -> wasmtime::Result<Response> {
        let _running = epoch::running();
        Ok(match self {
            Plugin::V0_1_0(p) => {
                v0_1_0::response(p.call_handle(store, &v0_1_0::request(request)).await?)
            }
            Plugin::V0_2_0(p) => {
                v0_2_0::response(p.call_handle(store, &v0_2_0::request(request)).await?)
            }
            Plugin::AuthV0_2_0(_) => {
                wasmtime::bail!("an authentication plugin answers no requests")
            }
        })
    }

    /// An authentication plugin's `check-credentials`: the user, or why not.
    pub(super) async fn check_credentials(
        &self,
        store: &mut Store<State>,
        username: &str,
        password: &str,
    ) -> wasmtime::Result<Result<User, Refusal>> {
        let _running = epoch::running();
        match self {
            Plugin::AuthV0_2_0(p) => {
                let answer = p.call_check_credentials(store, username, password).await?;
                Ok(v0_2_0::auth::checked(username, answer))
            }
            Plugin::V0_1_0(_) | Plugin::V0_2_0(_) => {
                wasmtime::bail!("a UI plugin checks no credentials")
            }
        }
    }
}
