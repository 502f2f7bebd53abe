//! The on-disk cache of compiled components, keyed by the wasm's SHA-256 and the engine's
//! compatibility hash (wasmtime version and settings), so a restart does not recompile.
//!
//! Loading compiled code is trusting it, so an entry is only used when it verifies: the SHA-256
//! of its bytes, recorded when the server wrote it, must match, and the folder must be private
//! to the server's user.
//!
//! An entry's pages are kept small in the kernel's page cache ([`advise`]): the server maps the
//! entry, and Linux maps a cached file's folios whole, so an entry cached in large folios would
//! make all of a plugin's code resident, used or not.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

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

    /// The compiled form of the component in the file `wasm`: from the cache when it holds a
    /// verified copy (the file is then only hashed, in pieces, never held in memory whole),
    /// else compiled (seconds for a large component) and stored. A cache that cannot be used
    /// is only logged.
    pub(super) fn component(&self, engine: &Engine, wasm: &Path) -> anyhow::Result<Component> {
        let read =
            || std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()));
        let compile = |bytes: &[u8]| {
            Component::new(engine, bytes).map_err(|err| {
                anyhow::Error::from(err)
                    .context(format!("{} is not a WebAssembly component", wasm.display()))
            })
        };
        let Some(dir) = &self.dir else {
            return compile(&read()?);
        };
        let digest = std::fs::File::open(wasm)
            .and_then(sha256_of)
            .with_context(|| format!("cannot read {}", wasm.display()))?;
        let entry = Entry::of(dir, &digest, engine);
        match private_dir(dir).and_then(|()| entry.verified()) {
            Ok(true) => {
                // SAFETY: the file holds what `Entry::write` stored from `Component::serialize`
                // of an engine with the same compatibility hash (part of the name): its SHA-256
                // matches the digest written with it, it is a regular file (not a symlink), in
                // a folder only this user can write, so nobody else can swap it between the
                // check and this mapping.
                #[allow(unsafe_code)]
                match unsafe { Component::deserialize_file(engine, &entry.compiled) } {
                    Ok(component) => return Ok(component),
                    Err(err) => {
                        tracing::warn!(
                            "dropping unusable compiled plugin {}: {err}",
                            entry.compiled.display()
                        );
                        entry.remove();
                    }
                }
            }
            Ok(false) => {}
            Err(err) => tracing::warn!("not using the compiled plugin cache: {err:#}"),
        }
        // Named after the bytes compiled, in case the file changed since it was hashed.
        let wasm = read()?;
        let entry = Entry::of(dir, &format!("{:x}", Sha256::digest(&wasm)), engine);
        let component = compile(&wasm)?;
        let stored = private_dir(dir).and_then(|()| entry.write(&component.serialize()?));
        if let Err(err) = stored {
            tracing::warn!(
                "cannot cache the compiled plugin in {}: {err:#}",
                dir.display()
            );
        }
        Ok(component)
    }
}

/// One cached component: its compiled bytes and the SHA-256 of those bytes, written together.
struct Entry {
    compiled: PathBuf,
    digest: PathBuf,
}

impl Entry {
    /// The entry of a component whose `.wasm` file has the SHA-256 `wasm_digest` (hex), compiled
    /// by `engine`.
    fn of(dir: &Path, wasm_digest: &str, engine: &Engine) -> Entry {
        let name = format!("{wasm_digest}-{:016x}", engine_key(engine));
        Entry {
            compiled: dir.join(format!("{name}.cwasm")),
            digest: dir.join(format!("{name}.sha256")),
        }
    }

    /// Whether both files are there, are regular files (not symlinks) and agree (the SHA-256
    /// of the compiled file, read in pieces, equals the recorded digest); an entry that does
    /// not verify is removed.
    fn verified(&self) -> anyhow::Result<bool> {
        let regular =
            |path: &Path| std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
        if !regular(&self.compiled) || !regular(&self.digest) {
            if self.compiled.exists() || self.digest.exists() {
                tracing::warn!(
                    "dropping compiled plugin {}: not a regular file with its digest",
                    self.compiled.display()
                );
                self.remove();
            }
            return Ok(false);
        }
        let file = std::fs::File::open(&self.compiled)?;
        advise(&file, Pages::ReadOneByOne);
        let digest = sha256_of(file)?;
        let recorded = std::fs::read_to_string(&self.digest)?;
        if recorded.trim() != digest {
            tracing::warn!(
                "dropping compiled plugin {}: its contents do not match the digest recorded \
                 when it was written",
                self.compiled.display()
            );
            self.remove();
            return Ok(false);
        }
        Ok(true)
    }

    /// Writes both files through new temporary files (created, never opened if something is
    /// already there, so a planted symlink is not followed) and renames them into place; the
    /// digest goes last so a reader never sees a digest without its bytes.
    fn write(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let digest = format!("{:x}\n", Sha256::digest(bytes));
        put(&self.compiled, bytes)?;
        put(&self.digest, digest.as_bytes())
    }

    fn remove(&self) {
        let _ = std::fs::remove_file(&self.digest);
        let _ = std::fs::remove_file(&self.compiled);
    }
}

/// Creates `path` atomically: a fresh temporary file beside it (`create_new`: fails rather than
/// follow anything already there), then a rename, which replaces a symlink instead of writing
/// through it.
fn put(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("a cache entry has a folder")?;
    let tmp = dir.join(format!(
        ".tmp-{}-{:?}-{}",
        std::process::id(),
        std::thread::current().id(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry")
    ));
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    advise(&file, Pages::Forget);
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Bytes read at a time when a file is hashed.
const HASH_READ: usize = 256 << 10;

/// The SHA-256 of a file's bytes in hex, read in pieces (a file is never held whole).
fn sha256_of(file: std::fs::File) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(
        &mut std::io::BufReader::with_capacity(HASH_READ, file),
        &mut hasher,
    )?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// What the kernel is told of an entry's cached pages.
#[derive(Debug, Clone, Copy)]
enum Pages {
    /// Read without read-ahead: the pages a read brings in are single pages.
    ReadOneByOne,
    /// Drop them from the page cache (once written and synced).
    Forget,
}

/// Linux maps a cached file's large folios whole when one of their pages faults in (seen on
/// 6.18; with single-page folios it maps the 64 KiB around the page). The page cache keeps a
/// file written in large pieces in large folios, up to 2 MiB: an entry the server had just
/// written made nearly all of its plugin's compiled code and tables resident in every later
/// start, used or not. So the pages a write leaves behind are dropped once synced, and an entry
/// is read back (hashed, before it is mapped) without read-ahead, one page per folio: what is
/// resident is then the code that runs and its neighbours (docs/performance.md, "Memory").
/// Only a hint: pages already cached stay as they are until the kernel evicts them, and other
/// systems ignore it.
fn advise(file: &std::fs::File, pages: Pages) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let advice = match pages {
            Pages::ReadOneByOne => libc::POSIX_FADV_RANDOM,
            Pages::Forget => libc::POSIX_FADV_DONTNEED,
        };
        // SAFETY: `posix_fadvise` only reads its arguments; the descriptor stays open for the
        // call. A refusal is harmless (the pages are simply cached as the kernel likes).
        #[allow(unsafe_code)]
        let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, advice) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, pages);
}

/// Makes sure `dir` is a real folder (not a symlink) that only this user can write: created
/// with mode 0700 when missing; an existing one owned by another user or writable by group or
/// others is refused, since anyone who can write there could plant code the server would run.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(dir).is_err() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.file_type().is_dir() {
        anyhow::bail!("{} is not a folder (a symlink?)", dir.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.mode() & 0o022 != 0 {
            anyhow::bail!(
                "{} can be written by other users (mode {:o}); make it private with chmod 700",
                dir.display(),
                meta.mode() & 0o777
            );
        }
        let me = std::fs::metadata("/proc/self").map(|m| m.uid());
        if let Ok(me) = me {
            if meta.uid() != me {
                anyhow::bail!("{} belongs to another user", dir.display());
            }
        }
    }
    Ok(())
}

fn engine_key(engine: &Engine) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    "buildbot-www compile cache 2".hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}
