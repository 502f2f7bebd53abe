//! Hot reload: a plugin whose `.wasm` file changes is loaded again and swapped in; requests in
//! flight finish on the instance they started on. A file that fails to load is logged and the
//! running version stays.

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use super::instance::Loaded;
use super::Inner;

/// How often plugin files are checked.
const POLL: Duration = Duration::from_millis(500);

/// Size and modification time: what tells that a file changed.
type Stamp = Option<(u64, SystemTime)>;

fn stamp(path: &std::path::Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Watches the registry's plugin files until the registry is dropped.
pub(super) fn start(registry: Weak<Inner>) {
    let Some(inner) = registry.upgrade() else {
        return;
    };
    let mut stamps: Vec<Stamp> = inner
        .slots
        .iter()
        .map(|(_, slot)| stamp(&slot.setup.found.path))
        .collect();
    drop(inner);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(POLL).await;
            let Some(inner) = registry.upgrade() else {
                return;
            };
            let Some(runtime) = inner.runtime.clone() else {
                return;
            };
            for ((name, slot), seen) in inner.slots.iter().zip(stamps.iter_mut()) {
                let now = stamp(&slot.setup.found.path);
                if now == *seen || now.is_none() {
                    continue;
                }
                // A file still being written changes again; wait until it holds still.
                tokio::time::sleep(POLL / 5).await;
                if stamp(&slot.setup.found.path) != now {
                    continue;
                }
                *seen = now;
                let setup = slot.setup.clone();
                let runtime = runtime.clone();
                let loaded = Loaded::from_file(&runtime, setup).await;
                match loaded {
                    Ok(loaded) => {
                        tracing::info!("plugin {name} reloaded: version {}", loaded.info.version);
                        *slot.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(loaded);
                    }
                    Err(err) => {
                        tracing::error!("plugin {name} changed on disk but cannot be loaded, keeping the running version: {err:#}");
                    }
                }
            }
        }
    });
}
