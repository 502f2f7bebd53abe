//! The shared wasmtime engine with its epoch ticker, and the `Runtime` every plugin call uses:
//! engine, linker with the host's imports, compile cache, fonts and the Data API.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::Engine;

use super::cache::CompileCache;
use super::fonts::Fonts;
use super::instance::State;
use super::memory::MemoryPool;
use crate::data::DataApi;

/// How often the epoch advances. At every tick a running guest either stops (past its
/// deadline) or yields to the tokio scheduler, so a busy guest holds a thread for at most this
/// long at a time.
const TICK: Duration = Duration::from_millis(1);

/// The process-wide engine. A thread advances its epoch every `TICK`, which is what stops or
/// pauses a guest that keeps computing.
fn engine() -> anyhow::Result<&'static Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(engine) = ENGINE.get() {
        return Ok(engine);
    }
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    let engine = Engine::new(&config)?;
    let engine = ENGINE.get_or_init(|| engine);
    let ticker = engine.clone();
    std::thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            ticker.increment_epoch();
        })?;
    Ok(engine)
}

/// What loading and calling plugins needs.
pub(super) struct Runtime {
    pub(super) engine: &'static Engine,
    pub(super) linker: Linker<State>,
    pub(super) cache: CompileCache,
    pub(super) fonts: Arc<Fonts>,
    /// `None` when listing plugins without a database: data reads then fail with 503.
    pub(super) data: Option<DataApi>,
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
        super::v0_1_0::add_to_linker(&mut linker)?;
        Ok(Runtime {
            engine,
            linker,
            cache,
            fonts: Arc::new(Fonts::default()),
            data,
            memory: MemoryPool::new(memory_limit),
        })
    }
}
