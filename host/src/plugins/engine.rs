//! The shared wasmtime engine with its epoch ticker, and the `Runtime` every plugin call uses:
//! engine, linker with the host's imports, compile cache, fonts and the Data API.

use std::sync::{Arc, OnceLock};

use anyhow::Context;

use wasmtime::component::Linker;
use wasmtime::Engine;

use super::cache::CompileCache;
use super::fonts::Fonts;
use super::memory::MemoryPool;
use super::store::{SharedReads, State};
use crate::data::DataApi;

/// The process-wide engine. A thread advances its epoch every tick while guests run
/// (`epoch`), which is what stops or pauses a guest that keeps computing.
fn engine() -> anyhow::Result<&'static Engine> {
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    // One engine and one ticker for the process, however many threads ask first.
    ENGINE
        .get_or_init(|| {
            let mut config = wasmtime::Config::new();
            config.epoch_interruption(true);
            let engine = Engine::new(&config)
                .inspect_err(|err| tracing::error!("cannot create the wasm engine: {err:#}"))
                .ok()?;
            super::epoch::start(engine.clone())
                .inspect_err(|err| tracing::error!("cannot start the epoch thread: {err}"))
                .ok()?;
            Some(engine)
        })
        .as_ref()
        .context("the wasm engine could not be created")
}

/// Which plugin threads a call moved off the request's thread runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Threads {
    /// Threads at the server's own priority: calls of plugins that keep to their deadlines
    /// (views that wait on data reads and render) run here, and keep running when other
    /// programs load the machine.
    Normal,
    /// Threads scheduled as idle work (Linux `SCHED_IDLE`, nice 19 where refused): calls of a
    /// plugin that recently ran past its deadline. A REST worker that wakes takes the core
    /// at once instead of waiting out the plugin thread's time slice (nice 10 or 19 left a
    /// REST p99 of 4 ms while 300 calls spun; see docs/performance.md), so a spinning plugin
    /// runs only on time nobody else wants, bounded by its deadline.
    Idle,
}

/// The plugin threads of one kind: a tokio runtime of their own, so that a guest that
/// computes never holds a thread serving REST, the UI and live updates, with one thread fewer
/// than there are cores (at least one), so that one core is always left to the server's own
/// work. Calls that answer within a tick never come here. One runtime of each kind for the
/// process, never dropped.
pub(super) fn call_runtime(threads: Threads) -> anyhow::Result<&'static tokio::runtime::Runtime> {
    static NORMAL: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    static IDLE: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    let (cell, name): (_, &str) = match threads {
        Threads::Normal => (&NORMAL, "plugin-call"),
        Threads::Idle => (&IDLE, "plugin-idle"),
    };
    // Built inside `get_or_init`, so that only one of each is ever built: a second one,
    // dropped in an async context, would panic.
    cell.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder
            .worker_threads(cores.saturating_sub(1).max(1))
            .thread_name(name)
            .enable_all();
        if threads == Threads::Idle {
            builder.on_thread_start(idle_priority);
        }
        builder
            .build()
            .inspect_err(|err| tracing::error!("cannot start the {name} threads: {err}"))
            .ok()
    })
    .as_ref()
    .with_context(|| format!("the {name} threads could not be started"))
}

/// Makes the calling thread idle work (Linux: `SCHED_IDLE`, per thread, allowed without
/// privileges); where that fails, nice 19. Elsewhere does nothing.
#[allow(unsafe_code)]
fn idle_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: plain system calls on the current thread (pid 0 / its own id); `param` lives
        // across the call and is only read.
        let idle = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0;
        let niced = idle
            || unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19) }
                == 0;
        if !niced {
            tracing::debug!("cannot lower the priority of a plugin thread");
        }
    }
}

/// What loading and calling plugins needs.
pub(super) struct Runtime {
    pub(super) engine: &'static Engine,
    pub(super) linker: Linker<State>,
    pub(super) cache: CompileCache,
    pub(super) fonts: Arc<Fonts>,
    /// Data reads; without a database (listing plugins) they fail with 503.
    pub(super) reads: SharedReads,
    /// The memory all instances together may hold (`plugin_memory_mib`).
    pub(super) memory: Arc<MemoryPool>,
}

impl Runtime {
    /// The engine with the host's imports: WASI (async, so a guest's sleep or poll waits
    /// without a thread) and every WIT version's interfaces.
    pub(super) fn new(
        cache: CompileCache,
        data: Option<DataApi>,
        memory_limit: usize,
    ) -> anyhow::Result<Runtime> {
        let engine = engine()?;
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        super::versions::add_to_linker(&mut linker)?;
        Ok(Runtime {
            engine,
            linker,
            cache,
            fonts: Arc::new(Fonts::default()),
            reads: SharedReads::new(data),
            memory: MemoryPool::new(memory_limit),
        })
    }
}
