//! The shared wasmtime engine with its epoch ticker, and the `Runtime` every plugin call uses:
//! engine, linker with the host's imports, compile cache, fonts and the Data API.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::Engine;

use super::cache::CompileCache;
use super::fonts::Fonts;
use super::instance::State;
use crate::data::DataApi;

/// How often the epoch advances; deadlines are counted in these ticks.
pub(super) const TICK: Duration = Duration::from_millis(10);

/// The process-wide engine. A thread advances its epoch every `TICK`, which is what stops a
/// guest that runs past its deadline.
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
    /// The server's runtime, for running Data API reads from a plugin's blocking thread.
    pub(super) tokio: tokio::runtime::Handle,
}

impl Runtime {
    /// A runtime on the current tokio runtime (or a small private one when there is none).
    pub(super) fn new(cache: CompileCache, data: Option<DataApi>) -> anyhow::Result<Runtime> {
        let engine = engine()?;
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        super::v0_1_0::add_to_linker(&mut linker)?;
        let tokio = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle,
            Err(_) => private_tokio()?,
        };
        Ok(Runtime {
            engine,
            linker,
            cache,
            fonts: Arc::new(Fonts::default()),
            data,
            tokio,
        })
    }
}

/// For the CLI commands that run outside a tokio runtime.
fn private_tokio() -> anyhow::Result<tokio::runtime::Handle> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt.handle().clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    Ok(RUNTIME.get_or_init(|| rt).handle().clone())
}
