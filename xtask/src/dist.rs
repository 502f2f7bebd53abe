//! Assembling a release tarball from a built server binary and built plugins: what
//! `cargo xtask dist` ships, laid out as docs/deployment.md ("Installing a release") describes.
//! The builds themselves are the command's (xtask's `main.rs`); this part only takes their
//! outputs, so the server's tests can assemble a tarball from the debug build and serve from it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The server binary, inside the top folder.
pub const BINARY: &str = "bin/buildbot-www";

/// The bundled plugins: where the server looks relative to its binary's folder (host's
/// `plugins::discovery`, `<prefix>/share/buildbot-www/plugins` for `<prefix>/bin/buildbot-www`).
pub const PLUGINS: &str = "share/buildbot-www/plugins";

/// The sample config (from `dist/master.toml` in the repository).
pub const SAMPLE_CONFIG: &str = "config/master.toml";

/// The systemd unit (from `dist/buildbot-www.service` in the repository).
pub const SYSTEMD_UNIT: &str = "systemd/buildbot-www.service";

/// Files shipped as they are: (path in the repository, path in the top folder). The docs go
/// to `docs/`, as README.md links them.
const FILES: &[(&str, &str)] = &[
    ("dist/master.toml", SAMPLE_CONFIG),
    ("dist/buildbot-www.service", SYSTEMD_UNIT),
    ("README.md", "README.md"),
    ("ARCHITECTURE.md", "ARCHITECTURE.md"),
    // The DejaVu Sans font is compiled into badges.wasm; its license travels with it.
    ("plugins/badges/fonts/LICENSE", "licenses/DejaVu-fonts.txt"),
];

/// What a release is made of.
#[derive(Debug, Clone)]
pub struct Release {
    /// The repository's root (the docs, `dist/`).
    pub root: PathBuf,
    /// The built `buildbot-www`.
    pub binary: PathBuf,
    /// The folder of built plugins: `<name>.wasm` files and their asset folders `<name>/`.
    pub plugins: PathBuf,
    /// The server's version, part of the name.
    pub version: String,
    /// The target triple the binary runs on, part of the name.
    pub target: String,
    /// The modification time of every entry (Unix seconds), so that the same inputs make the
    /// same tarball.
    pub mtime: u64,
}

impl Release {
    /// The tarball's one top folder, and its file name without `.tar.gz`.
    pub fn name(&self) -> String {
        format!("buildbot-www-{}-{}", self.version, self.target)
    }

    /// Writes `<out>/<name>.tar.gz` and returns its path. The entries are sorted by name, owned
    /// by root (uid 0), with the same mtime, and `rw-r--r--` (`rwxr-xr-x` for the binary and
    /// folders). A staging folder `<out>/<name>/` is made and removed.
    pub fn write(&self, out: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let out = &std::path::absolute(out)?;
        let name = self.name();
        let top = out.join(&name);
        if top.exists() {
            std::fs::remove_dir_all(&top)
                .with_context(|| format!("cannot remove {}", top.display()))?;
        }
        self.stage(&top)?;
        let tarball = out.join(format!("{name}.tar.gz"));
        let partial = out.join(format!(".{name}.tar.gz.partial"));
        let packed = pack(out, &name, self.mtime, &partial).and_then(|()| {
            std::fs::rename(&partial, &tarball)
                .with_context(|| format!("cannot rename {}", partial.display()))
        });
        let _ = std::fs::remove_file(&partial);
        std::fs::remove_dir_all(&top)
            .with_context(|| format!("cannot remove {}", top.display()))?;
        packed?;
        Ok(tarball)
    }

    /// Fills the top folder.
    fn stage(&self, top: &Path) -> Result<()> {
        copy(&self.binary, &top.join(BINARY))?;
        let plugins = top.join(PLUGINS);
        let mut shipped = 0;
        for entry in read_dir_sorted(&self.plugins)? {
            let from = self.plugins.join(&entry);
            let wasm = from.extension().is_some_and(|e| e == "wasm") && from.is_file();
            // An asset folder goes with its plugin: `<name>/` beside `<name>.wasm`.
            let assets = from.is_dir() && self.plugins.join(format!("{entry}.wasm")).is_file();
            if wasm {
                shipped += 1;
            }
            if wasm || assets {
                copy_tree(&from, &plugins.join(&entry))?;
            }
        }
        if shipped == 0 {
            bail!(
                "no plugins in {}: build them with `cargo xtask build-plugins`",
                self.plugins.display()
            );
        }
        for (from, to) in FILES {
            copy(&self.root.join(from), &top.join(to))?;
        }
        let docs = self.root.join("docs");
        for entry in read_dir_sorted(&docs)? {
            if entry.ends_with(".md") {
                copy(&docs.join(&entry), &top.join("docs").join(&entry))?;
            }
        }
        Ok(())
    }
}

/// The file names in `dir`, sorted.
fn read_dir_sorted(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let name = entry?.file_name();
        match name.into_string() {
            Ok(name) => names.push(name),
            Err(name) => bail!("{}: a file name that is not UTF-8: {name:?}", dir.display()),
        }
    }
    names.sort();
    Ok(names)
}

/// Copies one file, making the folders it goes in.
fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// Copies a file, or a folder with everything in it.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if !from.is_dir() {
        return copy(from, to);
    }
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in read_dir_sorted(from)? {
        copy_tree(&from.join(&entry), &to.join(&entry))?;
    }
    Ok(())
}

/// `tar` and `gzip` (both essential on Debian, and GNU tar writes reproducible archives with a
/// few options) pack `<dir>/<name>` into `tarball`.
fn pack(dir: &Path, name: &str, mtime: u64, tarball: &Path) -> Result<()> {
    let status = Command::new("tar")
        .current_dir(dir)
        .args([
            "--sort=name",
            "--format=gnu",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            // Executable bits are kept as built (the binary); nobody but the owner writes.
            "--mode=u+rw,go+r,go-w,a+X",
            "--use-compress-program=gzip -n",
        ])
        .arg(format!("--mtime=@{mtime}"))
        .arg("-cf")
        .arg(tarball)
        .arg(name)
        .status()
        .context("cannot run tar (GNU tar)")?;
    if !status.success() {
        bail!(
            "tar failed with {status} packing {}",
            dir.join(name).display()
        );
    }
    Ok(())
}
