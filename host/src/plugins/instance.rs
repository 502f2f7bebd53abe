//! A loaded plugin: its compiled component, its manifest and a pool of warm instances, each in
//! its own store with the call limits applied: the deadline (epoch yields and a timer around
//! the whole call), memory (`memory::Limiter`), data reads and response size.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::engine::Runtime;
use super::logging::{Level, LogGate};
use super::memory::{Limiter, Refusal as MemoryRefusal};
use super::store::{CallState, State};
use super::versions::{Plugin, PluginPre};
use super::{Fault, Found, PluginInfo, PluginKind, Refusal, Request, Response};
use crate::config::PluginLimits;
use crate::data::budget::Budget;
use crate::identity::User;
use crate::metrics::{PluginMeters, QueueLength};

/// Where a plugin's assets appear inside its sandbox.
pub(super) const ASSETS_GUEST_PATH: &str = "/assets";

/// Where the operator's `templates/` folder (next to the config file) appears.
pub(super) const TEMPLATES_GUEST_PATH: &str = "/templates";

/// How an enabled plugin is set up: fixed for the life of the server, shared by the versions
/// hot reload swaps in (so the concurrency bound holds across a reload).
pub(super) struct Setup {
    pub(super) name: String,
    /// What the config enables it as: a UI plugin (`[www.plugins]`) or the authentication
    /// plugin (`[www.auth]`); a component of the other kind is refused.
    pub(super) kind: PluginKind,
    /// `[www.plugins.<name>]` as JSON.
    pub(super) config_json: String,
    pub(super) limits: PluginLimits,
    pub(super) found: Found,
    /// `templates/` next to the config file, when it exists.
    pub(super) templates: Option<std::path::PathBuf>,
    /// Calls running (`max_concurrent` permits) and waiting.
    pub(super) gate: Gate,
    /// The plugin's log lines (WIT `log`, stdout, stderr), rate-limited.
    pub(super) log: Arc<LogGate>,
    /// Its calls, faults and queue, as `/metrics` shows them.
    pub(super) meters: PluginMeters,
}

impl Setup {
    pub(super) fn new(
        name: &str,
        kind: PluginKind,
        config_json: String,
        limits: PluginLimits,
        found: Found,
        templates: Option<std::path::PathBuf>,
        meters: PluginMeters,
    ) -> Setup {
        Setup {
            name: name.to_owned(),
            kind,
            config_json,
            gate: Gate::new(limits.max_concurrent, limits.max_queued, meters.queue()),
            log: Arc::new(LogGate::new(name)),
            meters,
            limits,
            found,
            templates,
        }
    }

    /// When a call that starts now must have ended.
    pub(super) fn deadline_from_now(&self) -> Instant {
        Instant::now() + self.limits.deadline
    }

    /// The fault of a call stopped at its deadline, logged.
    pub(super) fn timed_out(&self) -> Fault {
        let fault = Fault::Timeout {
            plugin: self.name.clone(),
            deadline: self.limits.deadline,
        };
        self.log_fault(&fault);
        fault
    }

    /// Through the plugin's log gate: a flood of failing calls cannot flood the log.
    fn log_fault(&self, fault: &Fault) {
        self.log.write(Level::Error, &fault.to_string());
    }
}

/// `max_concurrent` calls at once, `max_queued` more waiting; the rest are turned away.
/// Admission ([`Gate::admit`]) takes no lock and never waits, so that it can run on the thread
/// that took the request: a call turned away never reaches the plugin threads.
pub(super) struct Gate {
    running: Arc<Semaphore>,
    /// The calls waiting (the plugin's queue length in `/metrics`).
    waiting: QueueLength,
    max_waiting: usize,
}

/// A call let in by the [`Gate`]: with a running slot already, or with a place in the queue.
pub(super) enum Admission {
    Running(OwnedSemaphorePermit),
    Queued(QueuePlace),
}

/// A place in a plugin's queue, given back when dropped.
pub(super) struct QueuePlace {
    waiting: QueueLength,
    running: Arc<Semaphore>,
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.waiting.leave();
    }
}

impl Gate {
    fn new(max_concurrent: usize, max_queued: usize, waiting: QueueLength) -> Gate {
        Gate {
            running: Arc::new(Semaphore::new(max_concurrent.max(1))),
            waiting,
            max_waiting: max_queued,
        }
    }

    /// A running slot when one is free, else a place in the queue; `None` when the queue is
    /// full. Atomic operations only.
    pub(super) fn admit(&self) -> Option<Admission> {
        if let Ok(permit) = self.running.clone().try_acquire_owned() {
            return Some(Admission::Running(permit));
        }
        if !self.waiting.enter(self.max_waiting) {
            return None;
        }
        Some(Admission::Queued(QueuePlace {
            waiting: self.waiting.clone(),
            running: self.running.clone(),
        }))
    }
}

impl Admission {
    /// The running slot, after waiting in the queue if need be (the place is given back once
    /// the slot is had).
    async fn slot(self) -> OwnedSemaphorePermit {
        match self {
            Admission::Running(permit) => permit,
            Admission::Queued(place) => (place.running.clone().acquire_owned().await)
                .expect("a gate's semaphore is never closed"),
        }
    }
}

/// An instance ready to take a call.
struct Warm {
    store: Store<State>,
    plugin: Plugin,
}

impl Warm {
    /// Resets the per-call state and arms the deadline.
    fn begin(&mut self, user: User, deadline: Instant) {
        let limits = self.store.data().limits;
        self.store.data_mut().call = CallState {
            user,
            deadline,
            reads_left: limits.max_data_reads,
            data: Budget::new(limits.data_bytes),
        };
        // The epoch callback runs at the next tick: it stops the guest past the deadline and
        // otherwise lets other tasks run, so a busy guest never holds a thread.
        self.store.set_epoch_deadline(1);
    }
}

/// A plugin's component, loaded and initialised.
pub(super) struct Loaded {
    pub(super) info: PluginInfo,
    setup: Arc<Setup>,
    pre: PluginPre,
    idle: Mutex<Vec<Warm>>,
}

impl Loaded {
    /// Reads, compiles (or takes from the cache), instantiates and initialises the plugin's
    /// file. Compiling is seconds on a cold cache; it runs on a blocking thread.
    pub(super) async fn from_file(
        runtime: &Arc<Runtime>,
        setup: Arc<Setup>,
    ) -> anyhow::Result<Loaded> {
        let (pre, info, mut warm) = open(runtime, &setup).await?;
        check_kind(&setup, &info)?;
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
        init(&setup, &mut warm)
            .await
            .map_err(|message| super::Rejected {
                plugin: setup.name.clone(),
                kind: setup.kind,
                message,
            })?;
        Ok(Loaded {
            info,
            setup,
            pre,
            idle: Mutex::new(vec![warm]),
        })
    }

    /// Lets a call in, or turns it away (`Fault::Busy`, logged through the plugin's log gate)
    /// when the plugin's queue is full. Takes no lock: see [`Gate::admit`].
    pub(super) fn admit(&self) -> Result<Admission, Fault> {
        self.setup.gate.admit().ok_or_else(|| {
            let fault = Fault::Busy {
                plugin: self.setup.name.clone(),
            };
            self.setup.log_fault(&fault);
            fault
        })
    }

    /// Answers one admitted request within the plugin's limits. The deadline counts from now:
    /// waiting in the queue, instantiating, the guest's own work and the host's work on its
    /// behalf (data reads, clocks, fonts) all fall inside it.
    pub(super) async fn call(
        &self,
        runtime: &Runtime,
        request: Request,
        admission: Admission,
        deadline: Instant,
    ) -> Result<Response, Fault> {
        let user = request.user.clone();
        let work = async {
            let response = self
                .run(
                    runtime,
                    user,
                    admission,
                    deadline,
                    async |warm: &mut Warm| warm.plugin.handle(&mut warm.store, request).await,
                )
                .await?;
            super::policy::response(&self.setup, response)
        };
        self.within_deadline(deadline, work).await
    }

    /// An authentication plugin's check of one admitted login, within the plugin's limits
    /// (as [`Loaded::call`]).
    pub(super) async fn check_credentials(
        &self,
        runtime: &Runtime,
        username: &str,
        password: &str,
        admission: Admission,
        deadline: Instant,
    ) -> Result<Result<User, Refusal>, Fault> {
        let work = self.run(
            runtime,
            User::Anonymous,
            admission,
            deadline,
            async |warm: &mut Warm| {
                (warm.plugin)
                    .check_credentials(&mut warm.store, username, password)
                    .await
            },
        );
        self.within_deadline(deadline, work).await
    }

    /// Runs `entry` on a warm instance (a fresh one when none is idle) for `user`, once the
    /// admission has its slot. An instance whose call failed is dropped, not put back.
    async fn run<T>(
        &self,
        runtime: &Runtime,
        user: User,
        admission: Admission,
        deadline: Instant,
        entry: impl AsyncFnOnce(&mut Warm) -> wasmtime::Result<T>,
    ) -> Result<T, Fault> {
        let _slot = admission.slot().await;
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut warm = match idle {
            Some(warm) => warm,
            None => self.fresh(runtime).await?,
        };
        warm.begin(user, deadline);
        let result = entry(&mut warm).await;
        warm.store.data_mut().call = CallState::idle();
        let answer = result.map_err(|err| fault(&self.setup, &warm.store, &err))?;
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.setup.limits.max_concurrent {
            idle.push(warm);
        }
        Ok(answer)
    }

    /// `work` stopped at the deadline; its fault, if any, logged. When the timer fires first,
    /// the call's future is dropped with its store: the guest stops wherever it was, in its
    /// own code or waiting on the host.
    async fn within_deadline<T>(
        &self,
        deadline: Instant,
        work: impl std::future::Future<Output = Result<T, Fault>>,
    ) -> Result<T, Fault> {
        match tokio::time::timeout_at(deadline.into(), work).await {
            Ok(result) => result.inspect_err(|fault| self.setup.log_fault(fault)),
            Err(_) => Err(self.setup.timed_out()),
        }
    }

    /// A new instance, initialised like the first one was.
    async fn fresh(&self, runtime: &Runtime) -> Result<Warm, Fault> {
        let mut warm = instantiate(runtime, &self.setup, &self.pre)
            .await
            .map_err(|err| Fault::Crashed {
                plugin: self.setup.name.clone(),
                reason: format!("cannot instantiate: {err}"),
            })?;
        init(&self.setup, &mut warm)
            .await
            .map_err(|message| Fault::Crashed {
                plugin: self.setup.name.clone(),
                reason: format!("init failed on a new instance: {message}"),
            })?;
        Ok(warm)
    }
}

/// The manifest of a plugin file, without initialising it (for `plugins list`).
pub(super) async fn manifest_of(
    runtime: &Arc<Runtime>,
    found: &Found,
) -> anyhow::Result<PluginInfo> {
    let setup = Setup::new(
        &found.name,
        PluginKind::Ui,
        "{}".into(),
        PluginLimits::default(),
        found.clone(),
        None,
        crate::metrics::PluginMetrics::default().plugin(&found.name),
    );
    Ok(open(runtime, &setup).await?.1)
}

/// Compiles (or loads from cache), type-checks against the WIT versions this host knows, makes
/// one instance and reads its manifest.
async fn open(
    runtime: &Arc<Runtime>,
    setup: &Setup,
) -> anyhow::Result<(PluginPre, PluginInfo, Warm)> {
    let path = setup.found.path.clone();
    let component = {
        let runtime = runtime.clone();
        let path = path.clone();
        tokio::task::spawn_blocking(move || runtime.cache.component(runtime.engine, &path))
            .await??
    };
    let pre = PluginPre::new(&runtime.linker, &component).with_context(|| {
        format!(
            "{} cannot be served as a buildbot-www plugin",
            path.display()
        )
    })?;
    let mut warm = instantiate(runtime, setup, &pre).await?;
    warm.begin(User::Anonymous, Instant::now() + setup.limits.deadline);
    let manifest =
        tokio::time::timeout(setup.limits.deadline, warm.plugin.manifest(&mut warm.store))
            .await
            .map_err(|_| anyhow::anyhow!("{}", timeout(setup)))?
            .map_err(|err| anyhow::anyhow!("{}", fault(setup, &warm.store, &err)))?;
    let manifest = super::policy::manifest(manifest)
        .with_context(|| format!("{}: the plugin's manifest is refused", path.display()))?;
    let info = PluginInfo {
        name: manifest.name,
        version: manifest.version,
        description: manifest.description,
        menu: manifest.menu,
        events: manifest.events,
        wit_version: pre.wit_version().into(),
        kind: pre.kind(),
        path,
    };
    Ok((pre, info, warm))
}

/// Refuses a component of the other kind than the config enables it as, saying where each
/// kind is enabled.
fn check_kind(setup: &Setup, info: &PluginInfo) -> anyhow::Result<()> {
    let path = setup.found.path.display();
    match (setup.kind, info.kind) {
        (PluginKind::Ui, PluginKind::Auth) => bail!(
            "{path} cannot be served as a UI plugin: it is an authentication plugin (world \
             auth-plugin of buildbot:www@{}); enable it with [www.auth] type = \"CustomAuth\", \
             plugin = \"{}\", not in [www.plugins]",
            info.wit_version,
            setup.name
        ),
        (PluginKind::Auth, PluginKind::Ui) => bail!(
            "{path} cannot check logins: it is a UI plugin (world ui-plugin of \
             buildbot:www@{}), and [www.auth] plugin needs an authentication plugin (world \
             auth-plugin)",
            info.wit_version
        ),
        _ => Ok(()),
    }
}

/// A new store and instance: an empty WASI context (no environment, no arguments, no network,
/// no files) but for the plugin's asset folder, read-only.
async fn instantiate(runtime: &Runtime, setup: &Setup, pre: &PluginPre) -> anyhow::Result<Warm> {
    let mut wasi = WasiCtxBuilder::new();
    let output = super::stderr::LogStream::new(setup.log.clone());
    wasi.stdout(output.clone())
        .stderr(output)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .allow_blocking_current_thread(false);
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
        limiter: Limiter::new(setup.limits.memory_bytes, runtime.memory.clone()),
        plugin: setup.name.as_str().into(),
        limits: setup.limits,
        call: CallState::idle(),
        reads: runtime.reads.clone(),
        fonts: runtime.fonts.clone(),
        log: setup.log.clone(),
    };
    let mut store = Store::new(runtime.engine, state);
    store.limiter(|state| &mut state.limiter);
    store.epoch_deadline_callback(|context| {
        if Instant::now() >= context.data().call.deadline {
            return Ok(UpdateDeadline::Interrupt);
        }
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    });
    store.data_mut().call.deadline = Instant::now() + setup.limits.deadline;
    store.set_epoch_deadline(1);
    let plugin = pre.instantiate(&mut store).await?;
    Ok(Warm { store, plugin })
}

/// Calls `init` with the plugin's config, within the plugin's deadline.
async fn init(setup: &Setup, warm: &mut Warm) -> Result<(), String> {
    warm.begin(User::Anonymous, Instant::now() + setup.limits.deadline);
    let call = warm.plugin.init(&mut warm.store, &setup.config_json);
    match tokio::time::timeout(setup.limits.deadline, call).await {
        Ok(Ok(result)) => result,
        Ok(Err(err)) => Err(fault(setup, &warm.store, &err).to_string()),
        Err(_) => Err(timeout(setup).to_string()),
    }
}

fn timeout(setup: &Setup) -> Fault {
    Fault::Timeout {
        plugin: setup.name.clone(),
        deadline: setup.limits.deadline,
    }
}

/// Names what went wrong in a failed call.
fn fault(setup: &Setup, store: &Store<State>, err: &wasmtime::Error) -> Fault {
    let plugin = setup.name.clone();
    if let Some(refusal) = store.data().limiter.refused {
        return Fault::Memory {
            plugin,
            limit: setup.limits.memory_bytes,
            server_wide: refusal == MemoryRefusal::Server,
        };
    }
    let fault = match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => timeout(setup),
        Some(trap) => Fault::Crashed {
            plugin,
            reason: format!("wasm trap: {trap}"),
        },
        None => Fault::Crashed {
            plugin,
            reason: err.to_string(),
        },
    };
    tracing::debug!("{fault} ({err:#})");
    fault
}
