//! The epoch ticker: advances the engine's epoch every tick while guest code may be running,
//! and sleeps when no plugin call has been in flight for a while, so that an idle server does
//! not wake a thousand times a second.
//!
//! Every entry into a guest (instantiating, `manifest`, `init`, `handle`) holds a [`Running`]
//! for as long as it lasts, waits on the host included. The ticker parks only after
//! [`PARK_AFTER`] ticks without one, and the first `Running` after that wakes it: a guest's
//! epoch deadline (one tick) is therefore always met by a ticking thread.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::Duration;

use wasmtime::Engine;

/// How often the epoch advances. At every tick a running guest either stops (past its
/// deadline) or yields to the tokio scheduler, so a busy guest holds a thread for at most this
/// long at a time.
pub(super) const TICK: Duration = Duration::from_millis(1);

/// Ticks without any guest entry before the ticker parks (100 ms): steady traffic never pays
/// for waking it.
const PARK_AFTER: u32 = 100;

/// Guest entries in progress.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Whether the ticker is parked, or about to park.
static PARKED: AtomicBool = AtomicBool::new(false);
/// The ticker thread, once started.
static TICKER: OnceLock<Thread> = OnceLock::new();

/// Starts the process's ticker for `engine`. Called once, where the engine is made.
pub(super) fn start(engine: Engine) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || tick(&engine))?;
    Ok(())
}

fn tick(engine: &Engine) -> ! {
    // Known before this thread can first park, so that `running` can always wake it.
    let _ = TICKER.set(std::thread::current());
    let mut quiet = 0;
    loop {
        std::thread::sleep(TICK);
        engine.increment_epoch();
        if RUNNING.load(SeqCst) > 0 {
            quiet = 0;
            continue;
        }
        quiet += 1;
        if quiet < PARK_AFTER {
            continue;
        }
        // Announce the parking before the last look at `RUNNING`: an entry that starts after
        // that look sees `PARKED` and unparks this thread (see `running`).
        PARKED.store(true, SeqCst);
        while RUNNING.load(SeqCst) == 0 {
            std::thread::park();
        }
        PARKED.store(false, SeqCst);
        quiet = 0;
    }
}

/// A guest entry in progress: the ticker keeps ticking while one exists.
#[derive(Debug)]
#[must_use = "the ticker may park as soon as this is dropped"]
pub(super) struct Running(());

/// Marks the start of a guest entry, waking the ticker if it parked.
pub(super) fn running() -> Running {
    RUNNING.fetch_add(1, SeqCst);
    if PARKED.load(SeqCst) {
        if let Some(ticker) = TICKER.get() {
            ticker.unpark();
        }
    }
    Running(())
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, SeqCst);
    }
}
