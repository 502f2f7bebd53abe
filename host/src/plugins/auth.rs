//! The authentication plugin (`[www.auth] type = "CustomAuth"`, `plugin = "<name>"`): a
//! component of the `auth-plugin` world, found in the plugin folders like a UI plugin and run in
//! the same sandbox with the same limits (`[www.plugin_limits.<name>]`), the same compile cache
//! and the server-wide memory budget, but with no files at all (no `/assets`, no
//! `/templates`). Its options (`[www.auth.options]`) are its `init`'s config. Every call runs on
//! the plugin threads: a login is rare, and a plugin that spins must not hold a thread serving
//! the site.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::engine::Runtime;
use super::instance::{Loaded, Setup};
use super::{find, limits_of, Fault, Found, PluginKind, Refusal, Registry, Slot};
use crate::config::Config;
use crate::identity::User;

/// Loads and initialises the authentication plugin `name` with its options.
pub(super) async fn load(
    config: &Config,
    runtime: &Arc<Runtime>,
    found: &[Found],
    dirs: &[PathBuf],
    name: &str,
    options: &Value,
    meters: crate::metrics::PluginMeters,
) -> anyhow::Result<Slot> {
    let mut plugin = find(found, dirs, name, "[www.auth] plugin")?.clone();
    // No files in an authentication plugin's sandbox, whatever sits next to its file.
    plugin.assets = None;
    let setup = Arc::new(Setup::new(
        name,
        PluginKind::Auth,
        options.to_string(),
        limits_of(config, name),
        plugin,
        None,
        meters,
    ));
    let loaded = Loaded::from_file(runtime, setup.clone()).await?;
    tracing::info!(
        "authentication plugin {name} {} loaded from {}",
        loaded.info.version,
        setup.found.path.display()
    );
    Ok(Slot {
        setup,
        current: RwLock::new(Arc::new(loaded)),
        inline: AtomicBool::new(false),
        overran: AtomicU64::new(0),
    })
}

impl Registry {
    /// The name of the loaded authentication plugin, if the config has one.
    pub fn auth_plugin(&self) -> Option<&str> {
        self.inner
            .auth
            .as_ref()
            .map(|slot| slot.setup.name.as_str())
    }

    /// Asks the authentication plugin whether `username`/`password` may log in: the user it
    /// describes, or its refusal; a [`Fault`] (named after the plugin, logged) when it trapped,
    /// ran out of time or memory, or is busy. The password reaches the plugin and nothing else:
    /// no fault or log line carries it.
    pub async fn check_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Result<User, Refusal>, Fault> {
        let (Some(slot), Some(runtime)) = (self.inner.auth.clone(), self.inner.runtime.clone())
        else {
            return Err(Fault::NotFound("(authentication)".to_owned()));
        };
        let loaded = slot.loaded();
        let (username, password) = (username.to_owned(), password.to_owned());
        let call = async {
            let admission = loaded.admit()?;
            let deadline = slot.setup.deadline_from_now();
            let call = async move {
                loaded
                    .check_credentials(&runtime, &username, &password, admission, deadline)
                    .await
            };
            slot.on_plugin_threads(deadline, call).await
        };
        slot.metered(call).await
    }
}
