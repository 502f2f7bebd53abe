//! The on-disk cache of compiled components, keyed by the wasm's SHA-256 and the engine's
//! compatibility hash (wasmtime version and settings), so a restart does not recompile.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Where compiled components are kept; `None` = compile every time.
#[derive(Debug, Clone)]
pub(super) struct CompileCache {
    dir: Option<PathBuf>,
}

impl CompileCache {
    /// The configured folder, or `$XDG_CACHE_HOME/buildbot-www/components`, or
    /// `~/.cache/buildbot-www/components`.
    pub(super) fn new(configured: Option<PathBuf>) -> Self {
        let dir = configured.or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|base| base.join("buildbot-www").join("components"))
        });
        CompileCache { dir }
    }

    /// The compiled form of `wasm`: from the cache when it holds it, else compiled (seconds
    /// for a large component) and stored. A cache that cannot be written is only logged.
    pub(super) fn component(&self, engine: &Engine, wasm: &[u8]) -> anyhow::Result<Component> {
        let Some(dir) = &self.dir else {
            return Ok(Component::new(engine, wasm)?);
        };
        let path = dir.join(format!(
            "{:x}-{:016x}.cwasm",
            Sha256::digest(wasm),
            engine_key(engine)
        ));
        if path.is_file() {
            // SAFETY: the file was written by `store` below from `Component::serialize` of an
            // engine with the same compatibility hash (part of the name), and is only read here.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(err) => {
                    tracing::warn!(
                        "dropping unusable compiled plugin {}: {err}",
                        path.display()
                    );
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::new(engine, wasm)?;
        if let Err(err) = store(dir, &path, &component) {
            tracing::warn!(
                "cannot cache the compiled plugin in {}: {err:#}",
                dir.display()
            );
        }
        Ok(component)
    }
}

/// Writes atomically (temporary file, then rename) so a reader never sees half a file.
fn store(dir: &PathBuf, path: &PathBuf, component: &Component) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let bytes = component.serialize()?;
    let tmp = dir.join(format!(
        ".tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn engine_key(engine: &Engine) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    "buildbot-www compile cache 1".hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}
