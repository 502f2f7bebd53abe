//! The plugin registry: finds the UI plugins enabled in `[www.plugins]`, loads them as
//! sandboxed WebAssembly components and answers `/plugins/<name>/...` with them.
//!
//! **Architecture Invariant:** this module and its children are the only code that knows about
//! wasmtime; the rest of the host sees `Registry`, `Request`, `Response` and `Fault`.

mod auth;
mod cache;
mod discovery;
mod engine;
mod epoch;
mod fonts;
mod instance;
mod logging;
mod memory;
mod policy;
mod stderr;
#[macro_use]
mod store;
mod v0_1_0;
mod v0_2_0;
mod versions;
mod watch;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub use discovery::{describe as describe_plugin_dirs, plugin_dirs, Found};
pub(crate) use policy::request_headers;

use crate::config::Config;
use crate::data::DataApi;
use crate::identity::User;
use engine::Runtime;
use instance::Loaded;

/// The WIT package versions this host loads plugins of.
pub const WIT_VERSIONS: &[&str] = versions::WIT_VERSIONS;

/// A request for a path below `/plugins/<name>/`.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// Path below the mount, starting with `/`, percent-decoded.
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: Vec<u8>,
    /// Who is asking; data reads are made with this user's rights.
    pub user: User,
    /// Relative URL of the server's root from the requested page (`../../`).
    pub root: String,
}

/// A plugin's answer, checked by the host (status, header syntax, size).
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status, 100–599.
    pub status: u16,
    /// Headers as the plugin set them.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// A sidebar entry a plugin's manifest declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuEntry {
    /// Text shown.
    pub label: String,
    /// Path below the plugin's mount.
    pub path: String,
    /// Position; smaller first.
    pub order: i32,
    /// Icon name, empty for none.
    pub icon: String,
}

/// What a plugin says about itself, plus where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// The name it is enabled by.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// One line about it.
    pub description: String,
    /// Sidebar entries.
    pub menu: Vec<MenuEntry>,
    /// Event paths that should refresh its views (`builds/*/*`).
    pub events: Vec<String>,
    /// The WIT package version it was built against (`0.1.0`).
    pub wit_version: String,
    /// A UI plugin or an authentication plugin.
    pub kind: PluginKind,
    /// The `.wasm` file.
    pub path: PathBuf,
}

/// The two kinds of plugins, by the WIT world their component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    /// World `ui-plugin`: pages below `/plugins/<name>/`, enabled in `[www.plugins]`.
    Ui,
    /// World `auth-plugin`: checks logins, enabled as `[www.auth] type = "CustomAuth"`.
    Auth,
}

/// Why an authentication plugin did not let a user in (its own answer, not a fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown user or wrong password.
    BadCredentials,
    /// The plugin cannot decide now; the text is for the server's log only.
    Unavailable(String),
}

/// Why a plugin call did not produce a response. Every variant names the plugin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Fault {
    /// No enabled plugin has this name.
    #[error("no plugin named '{0}' is enabled")]
    NotFound(String),
    /// The call ran past its deadline and was stopped.
    #[error("plugin '{plugin}' did not answer within {} ms and was stopped", deadline.as_millis())]
    Timeout {
        /// The plugin.
        plugin: String,
        /// Its deadline.
        deadline: Duration,
    },
    /// The plugin tried to grow its memory past its cap, or past what the server lets all
    /// plugins hold together.
    #[error("{}", if *server_wide {
        format!("plugin '{plugin}' was stopped: the memory all plugins may hold together (plugin_memory_mib) is in use")
    } else {
        format!("plugin '{plugin}' exceeded its memory cap of {} MiB", limit >> 20)
    })]
    Memory {
        /// The plugin.
        plugin: String,
        /// The instance's cap in bytes.
        limit: usize,
        /// The server-wide budget refused, not the plugin's own cap.
        server_wide: bool,
    },
    /// All of the plugin's call slots and its queue are taken.
    #[error("plugin '{plugin}' is busy: too many requests are running and waiting; retry later")]
    Busy {
        /// The plugin.
        plugin: String,
    },
    /// The plugin trapped (a panic, `unreachable`, an out-of-bounds access...).
    #[error("plugin '{plugin}' crashed: {reason}")]
    Crashed {
        /// The plugin.
        plugin: String,
        /// The trap, one line.
        reason: String,
    },
    /// The response broke the contract (status, header, size).
    #[error("plugin '{plugin}' answered an invalid response: {reason}")]
    BadResponse {
        /// The plugin.
        plugin: String,
        /// What was wrong.
        reason: String,
    },
}

impl Fault {
    /// The HTTP status the failed request is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Fault::NotFound(_) => 404,
            Fault::Timeout { .. } => 504,
            Fault::BadResponse { .. } => 502,
            Fault::Busy { .. }
            | Fault::Memory {
                server_wide: true, ..
            } => 503,
            Fault::Memory { .. } | Fault::Crashed { .. } => 500,
        }
    }

    /// The fault's kind, as `/metrics` counts it: `not_found`, `timeout`, `memory`, `busy`,
    /// `crashed` or `bad_response`.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::NotFound(_) => "not_found",
            Fault::Timeout { .. } => "timeout",
            Fault::Memory { .. } => "memory",
            Fault::Busy { .. } => "busy",
            Fault::Crashed { .. } => "crashed",
            Fault::BadResponse { .. } => "bad_response",
        }
    }

    /// Seconds a client should wait before retrying, for the faults that pass (`Retry-After`).
    pub fn retry_after(&self) -> Option<u32> {
        (self.status() == 503).then_some(1)
    }
}

/// A call on the plugin threads that answered within this makes the plugin's calls start
/// inline again.
const INLINE_AGAIN: Duration = Duration::from_micros(500);

/// How long past its deadline the request's side waits for a call on the plugin threads before
/// answering 504 itself (see `Registry::handle`).
const DEADLINE_BACKSTOP: Duration = Duration::from_millis(20);

/// How long after a call of a plugin ran past its deadline the plugin's calls run on the
/// idle-priority plugin threads (see `Registry::handle`).
const OVERRAN_FOR: Duration = Duration::from_secs(60);

/// One enabled plugin: its settings and the component currently serving it.
struct Slot {
    setup: Arc<instance::Setup>,
    current: RwLock<Arc<Loaded>>,
    /// Whether calls start on the caller's thread (see `Registry::handle`).
    inline: AtomicBool,
    /// When a call last ran past its deadline: milliseconds after [`process_start`], plus
    /// one (0: never).
    overran: AtomicU64,
}

/// A fixed instant early in the process, for times kept in atomics.
fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

impl Slot {
    /// Notes that a call ran past its deadline.
    fn mark_overran(&self) {
        let since = process_start().elapsed().as_millis();
        self.overran.store(
            u64::try_from(since).unwrap_or(u64::MAX - 1) + 1,
            Ordering::Relaxed,
        );
    }

    /// Which plugin threads the plugin's moved calls run on: the idle-priority ones for
    /// [`OVERRAN_FOR`] after a call ran past its deadline, the normal ones otherwise.
    fn threads(&self) -> engine::Threads {
        let overran = self.overran.load(Ordering::Relaxed);
        let recent = overran != 0
            && process_start().elapsed().as_millis()
                < u128::from(overran - 1) + OVERRAN_FOR.as_millis();
        if recent {
            engine::Threads::Idle
        } else {
            engine::Threads::Normal
        }
    }

    /// Runs a call on the plugin threads ([`Slot::threads`]) and waits for it, at most until
    /// its deadline and a backstop after it; notes a call that ran past its deadline.
    async fn on_plugin_threads<T: Send + 'static>(
        &self,
        deadline: Instant,
        call: impl Future<Output = Result<T, Fault>> + Send + 'static,
    ) -> Result<T, Fault> {
        let crashed = |reason: String| Fault::Crashed {
            plugin: self.setup.name.clone(),
            reason,
        };
        let threads = engine::call_runtime(self.threads())
            .map_err(|err| crashed(format!("no thread to run it on: {err}")))?;
        let mut moved = AbortOnDrop(threads.spawn(call));
        // The call ends itself at its deadline; this timer, on the request's side, is the
        // backstop for when the plugin threads get no CPU at all (they run at idle priority,
        // and a server saturated with its own work starves them): the answer is a 504 all
        // the same, and dropping `moved` stops the call when its thread next runs.
        let backstop = tokio::time::Instant::from_std(deadline + DEADLINE_BACKSTOP);
        let result = match tokio::time::timeout_at(backstop, &mut moved.0).await {
            Ok(Ok(result)) => result,
            Ok(Err(err)) => Err(crashed(format!("the task calling it failed: {err}"))),
            Err(_) => Err(self.setup.timed_out()),
        };
        if matches!(result, Err(Fault::Timeout { .. })) {
            self.mark_overran();
        }
        result
    }

    /// Runs `call`, counting it in the plugin's meters (its time, its fault if any).
    async fn metered<T>(&self, call: impl Future<Output = Result<T, Fault>>) -> Result<T, Fault> {
        let started = Instant::now();
        let result = call.await;
        let fault = result.as_ref().err().map(Fault::kind);
        self.setup.meters.call(started.elapsed(), fault);
        result
    }

    fn loaded(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// The enabled plugins, loaded and ready; cheap to clone.
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    runtime: Option<Arc<Runtime>>,
    /// In `[www.plugins]` order.
    slots: Vec<(String, Arc<Slot>)>,
    /// The authentication plugin of `[www.auth] type = "CustomAuth"`, `plugin = "<name>"`.
    auth: Option<Arc<Slot>>,
    /// Every plugin's meters, for `/metrics`.
    metrics: crate::metrics::PluginMetrics,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.inner.slots.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Registry {
    /// Loads every plugin enabled in the config: an unknown name, a file that is not a plugin
    /// component, or an `init` that rejects its config stops here with a message saying so.
    /// Starts watching the `.wasm` files so that a changed plugin is reloaded.
    pub async fn load(config: &Config, data: DataApi) -> anyhow::Result<Registry> {
        let registry = Registry::load_with(config, Some(data)).await?;
        watch::start(Arc::downgrade(&registry.inner));
        Ok(registry)
    }

    /// [`Registry::load`] without the watcher, with or without a database.
    async fn load_with(config: &Config, data: Option<DataApi>) -> anyhow::Result<Registry> {
        let auth_plugin = match &config.www.auth {
            crate::config::Auth::CustomAuth(custom) => custom.plugin(),
            _ => None,
        };
        if config.www.plugins.is_empty() && auth_plugin.is_none() {
            return Ok(Registry::default());
        }
        let metrics = crate::metrics::PluginMetrics::default();
        let dirs = plugin_dirs(config);
        tracing::info!("plugin folders: {}", discovery::describe(&dirs));
        let found = discovery::discover(&dirs);
        let runtime = Arc::new(Runtime::new(
            cache::CompileCache::new(config.www.plugin_cache_dir.clone()),
            data,
            config.www.plugin_memory_bytes,
        )?);
        let mut slots = Vec::new();
        for (name, options) in &config.www.plugins {
            let plugin = find(&found, &dirs, name, "[www.plugins]")?;
            let setup = Arc::new(instance::Setup::new(
                name,
                PluginKind::Ui,
                options.to_string(),
                limits_of(config, name),
                plugin.clone(),
                Some(config.base_dir.join("templates")).filter(|t| t.is_dir()),
                metrics.plugin(name),
            ));
            let loaded = Loaded::from_file(&runtime, setup.clone()).await?;
            tracing::info!(
                "plugin {name} {} loaded from {}",
                loaded.info.version,
                plugin.path.display()
            );
            slots.push((
                name.clone(),
                Arc::new(Slot {
                    setup,
                    current: RwLock::new(Arc::new(loaded)),
                    inline: AtomicBool::new(true),
                    overran: AtomicU64::new(0),
                }),
            ));
        }
        let auth = match auth_plugin {
            Some((name, options)) => {
                let meters = metrics.plugin(name);
                let slot =
                    auth::load(config, &runtime, &found, &dirs, name, &options, meters).await?;
                Some(Arc::new(slot))
            }
            None => None,
        };
        Ok(Registry {
            inner: Arc::new(Inner {
                runtime: Some(runtime),
                slots,
                auth,
                metrics,
            }),
        })
    }

    /// The loaded plugins' manifests, in config order.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.inner
            .slots
            .iter()
            .map(|(_, slot)| slot.loaded().info.clone())
            .collect()
    }

    /// Every plugin's sidebar entries as `(plugin, entry)`, by `order` then label.
    pub fn menu(&self) -> Vec<(String, MenuEntry)> {
        let mut entries: Vec<(String, MenuEntry)> = self
            .plugins()
            .into_iter()
            .flat_map(|info| {
                let name = info.name;
                info.menu.into_iter().map(move |e| (name.clone(), e))
            })
            .collect();
        entries.sort_by(|a, b| (a.1.order, &a.1.label).cmp(&(b.1.order, &b.1.label)));
        entries
    }

    /// Makes the plugins' data reads go through the server's answer cache (`reads`), so that
    /// they share answers with each other and with REST while the data stays the same.
    pub fn read_through(&self, reads: crate::http::answer_cache::Reads) {
        if let Some(runtime) = &self.inner.runtime {
            runtime.reads.set(reads);
        }
    }

    /// The meters of every loaded plugin (`/metrics` registers them).
    pub fn metrics(&self) -> &crate::metrics::PluginMetrics {
        &self.inner.metrics
    }

    /// Whether a plugin of this name is enabled.
    pub fn has(&self, name: &str) -> bool {
        self.slot(name).is_some()
    }

    /// Answers one request with the named plugin within its limits; the answer has passed the
    /// response policy (docs/security.md).
    /// While a plugin's calls answer at once (most do: a warm instance, no data read), they
    /// run right here. A call that has to wait or keeps computing past its first epoch tick
    /// (1 ms) is handed, as it is, to the plugin threads (`engine::call_runtime`), and so are
    /// the plugin's next calls until one of them answers within [`INLINE_AGAIN`]: a plugin
    /// that computes never holds a thread serving REST or the UI for more than a tick, and
    /// only once. The plugin threads are the normal ones, or, for a minute after one of the
    /// plugin's calls ran past its deadline, the idle-priority ones (`engine::Threads`): a
    /// plugin that spins cannot take CPU time from REST, while views that keep to their
    /// deadlines keep running when other programs load the machine. If the caller goes away,
    /// the call is stopped.
    pub async fn handle(&self, name: &str, request: Request) -> Result<Response, Fault> {
        let (Some(slot), Some(runtime)) = (self.slot(name), self.inner.runtime.clone()) else {
            return Err(Fault::NotFound(name.to_owned()));
        };
        slot.metered(Self::call(&slot, runtime, request)).await
    }

    /// [`Registry::handle`] once the plugin is found.
    async fn call(slot: &Slot, runtime: Arc<Runtime>, request: Request) -> Result<Response, Fault> {
        let loaded = slot.loaded();
        // Turned away here, on the request's thread, when the plugin is full: a flood of calls
        // to a busy plugin is answered without touching the plugin threads.
        let admission = loaded.admit()?;
        let deadline = slot.setup.deadline_from_now();
        let mut call =
            Box::pin(async move { loaded.call(&runtime, request, admission, deadline).await });
        if slot.inline.load(Ordering::Relaxed) {
            let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
            if let Poll::Ready(result) = first {
                return result;
            }
            slot.inline.store(false, Ordering::Relaxed);
        }
        let started = Instant::now();
        let result = slot.on_plugin_threads(deadline, call).await;
        if started.elapsed() < INLINE_AGAIN {
            slot.inline.store(true, Ordering::Relaxed);
        }
        result
    }

    fn slot(&self, name: &str) -> Option<Arc<Slot>> {
        self.inner
            .slots
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, slot)| slot.clone())
    }
}

/// `[www.plugin_limits.<name>]`, or the defaults.
fn limits_of(config: &Config, name: &str) -> crate::config::PluginLimits {
    config
        .www
        .plugin_limits
        .get(name)
        .copied()
        .unwrap_or_default()
}

/// The plugin file of an enabled name, or an error naming the folders searched and what was
/// found there.
fn find<'a>(
    found: &'a [Found],
    dirs: &[PathBuf],
    name: &str,
    enabled_in: &str,
) -> anyhow::Result<&'a Found> {
    let Some(plugin) = found.iter().find(|f| f.name == name) else {
        let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        bail!(
            "plugin '{name}' is enabled in {enabled_in} but no {name}.wasm was found in {}; \
             plugins found: {}",
            discovery::describe(dirs),
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );
    };
    Ok(plugin)
}

/// A spawned call that is stopped when the request waiting for it is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A plugin's `init` refused its options; the message is the plugin's.
#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin '{plugin}' rejected its config: {message}")]
pub struct Rejected {
    /// The plugin's name.
    pub plugin: String,
    /// A UI plugin (options in `[www.plugins.<name>]`) or the authentication plugin (options
    /// in `[www.auth.options]`).
    pub kind: PluginKind,
    /// What its `init` answered.
    pub message: String,
}

/// Loads every plugin the config enables and runs its `init` with its options, without a
/// database (data reads answer 503), then drops them: what `check-config` does so that an
/// option error is caught before serving. A refused option is a [`Rejected`] inside the error.
pub async fn check(config: &Config) -> anyhow::Result<()> {
    Registry::load_with(config, None).await.map(drop)
}

/// A plugin found on disk, as `buildbot-www plugins list` shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Where it was found.
    pub found: Found,
    /// Its manifest, or why it could not be read.
    pub info: Result<PluginInfo, String>,
}

/// Every plugin in the config's plugin folders, with its manifest (compiling what is not cached).
/// For the command line: it runs its own tokio runtime, so call it outside of one.
pub fn list(config: &Config) -> anyhow::Result<Vec<Listed>> {
    let dirs = plugin_dirs(config);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start a tokio runtime")?;
    tokio.block_on(async {
        let runtime = Arc::new(
            Runtime::new(
                cache::CompileCache::new(config.www.plugin_cache_dir.clone()),
                None,
                config.www.plugin_memory_bytes,
            )
            .context("cannot start the plugin runtime")?,
        );
        let mut listed = Vec::new();
        for found in discovery::discover(&dirs) {
            let info = instance::manifest_of(&runtime, &found)
                .await
                .map_err(|e| format!("{e:#}"));
            listed.push(Listed { found, info });
        }
        Ok(listed)
    })
}
