//! A loaded plugin: its compiled component, its manifest and a pool of warm instances, each in
//! its own store with the call limits (deadline, memory, response size) applied.

use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use axum::http::{HeaderName, HeaderValue};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::engine::{Runtime, TICK};
use super::fonts::Fonts;
use super::v0_1_0 as wit;
use super::{Fault, Found, PluginInfo, Request, Response};
use crate::config::PluginLimits;
use crate::data::DataApi;
use crate::identity::User;

/// Warm instances kept per plugin; more concurrent calls instantiate extra ones, dropped after.
const MAX_IDLE: usize = 8;

/// Where a plugin's assets appear inside its sandbox.
pub(super) const ASSETS_GUEST_PATH: &str = "/assets";

/// Where the operator's `templates/` folder (next to the config file) appears.
pub(super) const TEMPLATES_GUEST_PATH: &str = "/templates";

/// How an enabled plugin is set up: fixed for the life of the server.
pub(super) struct Setup {
    pub(super) name: String,
    /// `[www.plugins.<name>]` as JSON.
    pub(super) config_json: String,
    pub(super) limits: PluginLimits,
    pub(super) found: Found,
    /// `templates/` next to the config file, when it exists.
    pub(super) templates: Option<std::path::PathBuf>,
}

/// The data of one instance's store: its sandbox, its limits, and whose request it serves.
pub(super) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    pub(super) plugin: Arc<str>,
    pub(super) user: User,
    pub(super) data: Option<DataApi>,
    pub(super) tokio: tokio::runtime::Handle,
    pub(super) fonts: Arc<Fonts>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory; remembers that it refused so the fault can say so.
struct Limiter {
    memory_bytes: usize,
    refused: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.refused = true;
            wasmtime::bail!("memory cap of {} MiB reached", self.memory_bytes >> 20);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// An instance ready to take a call.
struct Warm {
    store: Store<State>,
    plugin: wit::Plugin,
}

/// A plugin's component, loaded and initialised.
pub(super) struct Loaded {
    pub(super) info: PluginInfo,
    setup: Arc<Setup>,
    pre: wit::PluginPre<State>,
    idle: Mutex<Vec<Warm>>,
}

impl Loaded {
    /// Reads, compiles (or takes from the cache), instantiates and initialises the plugin's
    /// file. Blocking: seconds on a cold cache.
    pub(super) fn from_file(runtime: &Runtime, setup: Arc<Setup>) -> anyhow::Result<Loaded> {
        let (pre, info, mut warm) = open(runtime, &setup)?;
        if info.name != setup.name {
            bail!(
                "{} declares the plugin name '{}', but is enabled as '{}'; rename the file \
                 to {}.wasm",
                setup.found.path.display(),
                info.name,
                setup.name,
                info.name
            );
        }
        init(&setup, &mut warm).map_err(|message| {
            anyhow::anyhow!("plugin '{}' rejected its config: {message}", setup.name)
        })?;
        Ok(Loaded {
            info,
            setup,
            pre,
            idle: Mutex::new(vec![warm]),
        })
    }

    /// Answers one request. Blocking: run it on a blocking thread.
    pub(super) fn call(&self, runtime: &Runtime, request: Request) -> Result<Response, Fault> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut warm = match idle {
            Some(warm) => warm,
            None => self.fresh(runtime)?,
        };
        warm.store.data_mut().user = request.user.clone();
        arm(&mut warm.store, &self.setup.limits);
        let result = warm
            .plugin
            .call_handle(&mut warm.store, &wit::request(request));
        warm.store.data_mut().user = User::Anonymous;
        let response = match result {
            Ok(response) => wit::response(response),
            Err(err) => {
                // A store whose call failed is dead: it is dropped here, not put back.
                let fault = fault(&self.setup, &warm.store, &err);
                tracing::error!("{fault} ({err:#})");
                return Err(fault);
            }
        };
        {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(warm);
            }
        }
        check(&self.setup, response).inspect_err(|fault| tracing::error!("{fault}"))
    }

    /// A new instance, initialised like the first one was.
    fn fresh(&self, runtime: &Runtime) -> Result<Warm, Fault> {
        let mut warm = instantiate(runtime, &self.setup, &self.pre).map_err(|err| {
            let fault = Fault::Crashed {
                plugin: self.setup.name.clone(),
                reason: format!("cannot instantiate: {err}"),
            };
            tracing::error!("{fault} ({err:#})");
            fault
        })?;
        init(&self.setup, &mut warm).map_err(|message| {
            let fault = Fault::Crashed {
                plugin: self.setup.name.clone(),
                reason: format!("init failed on a new instance: {message}"),
            };
            tracing::error!("{fault}");
            fault
        })?;
        Ok(warm)
    }
}

/// The manifest of a plugin file, without initialising it (for `plugins list`).
pub(super) fn manifest_of(runtime: &Runtime, found: &Found) -> anyhow::Result<PluginInfo> {
    let setup = Setup {
        name: found.name.clone(),
        config_json: "{}".into(),
        limits: PluginLimits::default(),
        found: found.clone(),
        templates: None,
    };
    Ok(open(runtime, &setup)?.1)
}

/// Compiles (or loads from cache), type-checks against the WIT versions this host knows, makes
/// one instance and reads its manifest.
fn open(
    runtime: &Runtime,
    setup: &Setup,
) -> anyhow::Result<(wit::PluginPre<State>, PluginInfo, Warm)> {
    let path = &setup.found.path;
    let wasm = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let component = runtime
        .cache
        .component(runtime.engine, &wasm)
        .with_context(|| format!("{} is not a WebAssembly component", path.display()))?;
    let pre = runtime
        .linker
        .instantiate_pre(&component)
        .and_then(wit::PluginPre::new)
        .map_err(anyhow::Error::from)
        .with_context(|| {
            format!(
                "{} is not a buildbot-www plugin of a WIT version this server knows ({})",
                path.display(),
                super::WIT_VERSIONS
                    .iter()
                    .map(|v| format!("buildbot:www@{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let mut warm = instantiate(runtime, setup, &pre)?;
    arm(&mut warm.store, &setup.limits);
    let manifest: wit::HostManifest = warm
        .plugin
        .call_manifest(&mut warm.store)
        .map_err(|err| anyhow::anyhow!("{}", fault(setup, &warm.store, &err)))?
        .into();
    let info = PluginInfo {
        name: manifest.name,
        version: manifest.version,
        description: manifest.description,
        menu: manifest.menu,
        events: manifest.events,
        wit_version: wit::WIT_VERSION.into(),
        path: path.clone(),
    };
    Ok((pre, info, warm))
}

/// A new store and instance: an empty WASI context (no environment, no arguments, no network,
/// no files) but for the plugin's asset folder, read-only.
fn instantiate(
    runtime: &Runtime,
    setup: &Setup,
    pre: &wit::PluginPre<State>,
) -> anyhow::Result<Warm> {
    let mut wasi = WasiCtxBuilder::new();
    let output = super::stderr::LogStream::new(&setup.name);
    wasi.stdout(output.clone())
        .stderr(output)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .allow_blocking_current_thread(true);
    if let Some(assets) = &setup.found.assets {
        wasi.preopened_dir(assets, ASSETS_GUEST_PATH, FsPerms::ReadOnly)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot open the asset folder {}", assets.display()))?;
    }
    if let Some(templates) = &setup.templates {
        wasi.preopened_dir(templates, TEMPLATES_GUEST_PATH, FsPerms::ReadOnly)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot open the templates folder {}", templates.display()))?;
    }
    let state = State {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        limiter: Limiter {
            memory_bytes: setup.limits.memory_bytes,
            refused: false,
        },
        plugin: setup.name.as_str().into(),
        user: User::Anonymous,
        data: runtime.data.clone(),
        tokio: runtime.tokio.clone(),
        fonts: runtime.fonts.clone(),
    };
    let mut store = Store::new(runtime.engine, state);
    store.limiter(|state| &mut state.limiter);
    store.epoch_deadline_trap();
    arm(&mut store, &setup.limits);
    let plugin = pre.instantiate(&mut store)?;
    Ok(Warm { store, plugin })
}

/// Sets the deadline of the next call.
fn arm(store: &mut Store<State>, limits: &PluginLimits) {
    let ticks = limits
        .deadline
        .as_millis()
        .div_ceil(TICK.as_millis())
        .max(1) as u64;
    store.set_epoch_deadline(ticks);
}

/// Calls `init` with the plugin's config.
fn init(setup: &Setup, warm: &mut Warm) -> Result<(), String> {
    arm(&mut warm.store, &setup.limits);
    match warm.plugin.call_init(&mut warm.store, &setup.config_json) {
        Ok(result) => result,
        Err(err) => Err(fault(setup, &warm.store, &err).to_string()),
    }
}

/// Names what went wrong in a failed call.
fn fault(setup: &Setup, store: &Store<State>, err: &wasmtime::Error) -> Fault {
    let plugin = setup.name.clone();
    if store.data().limiter.refused {
        return Fault::Memory {
            plugin,
            limit: setup.limits.memory_bytes,
        };
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => Fault::Timeout {
            plugin,
            deadline: setup.limits.deadline,
        },
        Some(trap) => Fault::Crashed {
            plugin,
            reason: format!("wasm trap: {trap}"),
        },
        None => Fault::Crashed {
            plugin,
            reason: err.to_string(),
        },
    }
}

/// Checks the status, the header names and values, and the body size.
fn check(setup: &Setup, response: Response) -> Result<Response, Fault> {
    let bad = |reason: String| Fault::BadResponse {
        plugin: setup.name.clone(),
        reason,
    };
    if !(100..=599).contains(&response.status) {
        return Err(bad(format!(
            "status {} is not an HTTP status",
            response.status
        )));
    }
    if response.body.len() > setup.limits.response_bytes {
        return Err(bad(format!(
            "the body of {} bytes is over the limit of {} MiB",
            response.body.len(),
            setup.limits.response_bytes >> 20
        )));
    }
    for (name, value) in &response.headers {
        if HeaderName::from_bytes(name.as_bytes()).is_err() || HeaderValue::from_str(value).is_err()
        {
            return Err(bad(format!("invalid header {name:?}: {value:?}")));
        }
    }
    Ok(response)
}
