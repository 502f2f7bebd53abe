//! Finding plugins on disk: `<name>.wasm` files in the plugin folders, first folder wins.

use std::path::PathBuf;

use crate::config::Config;

/// A plugin file found in a plugin folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The file's stem: the name it is enabled by.
    pub name: String,
    /// The `.wasm` file.
    pub path: PathBuf,
    /// `<folder>/<name>/`, the plugin's read-only asset folder, when it exists.
    pub assets: Option<PathBuf>,
}

/// Where a release keeps its bundled plugins, relative to the folder holding the binary's
/// folder: `bin/buildbot-www` next to `share/buildbot-www/plugins/` (an unpacked tarball, or
/// `/usr/bin` and `/usr/share` when installed under a prefix). `cargo xtask dist` lays the
/// tarball out so.
const BUNDLED_PLUGINS: [&str; 3] = ["share", "buildbot-www", "plugins"];

/// The folders searched, in order: `[www] plugin_dirs`, or by default `plugins/` under the base
/// directory; then the release's bundled plugins, [`bundled_dir`]. No folder of the machine the
/// binary was built on is baked in: a checkout's configs (the demo's) name `target/plugins/`
/// themselves.
pub fn plugin_dirs(config: &Config) -> Vec<PathBuf> {
    let mut dirs = if config.www.plugin_dirs.is_empty() {
        vec![config.base_dir.join("plugins")]
    } else {
        config.www.plugin_dirs.clone()
    };
    dirs.extend(bundled_dir().filter(|dir| !dirs.contains(dir)));
    dirs
}

/// The release's bundled plugin folder, found from the running binary's own location (symlinks
/// to the binary resolved): `<prefix>/share/buildbot-www/plugins` for `<prefix>/bin/buildbot-www`.
/// `None` when the binary's path cannot be read.
pub fn bundled_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    let prefix = exe.parent()?.parent()?;
    Some(
        BUNDLED_PLUGINS
            .iter()
            .fold(prefix.to_path_buf(), |dir, part| dir.join(part)),
    )
}

/// The folders as the logs and the command line show them: in order, each one that does not
/// exist marked so.
pub fn describe(dirs: &[PathBuf]) -> String {
    let shown: Vec<String> = dirs
        .iter()
        .map(|dir| {
            if dir.is_dir() {
                dir.display().to_string()
            } else {
                format!("{} (not there)", dir.display())
            }
        })
        .collect();
    shown.join(", ")
}

/// Every `<name>.wasm` in `dirs` whose stem is a plugin name, sorted by name; when two folders
/// hold the same name, the earlier folder's file is taken.
pub fn discover(dirs: &[PathBuf]) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut here: Vec<Found> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "wasm") && path.is_file())
            .filter_map(|path| {
                let name = path.file_stem()?.to_str()?.to_owned();
                let valid = name.chars().next().is_some_and(|c| !c.is_ascii_digit())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                let assets = Some(dir.join(&name)).filter(|a| a.is_dir());
                valid.then_some(Found { name, path, assets })
            })
            .collect();
        here.retain(|f| !found.iter().any(|g| g.name == f.name));
        found.extend(here);
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_folder_comes_after_the_configured_ones() {
        let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
        let bundled = exe
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("share/buildbot-www/plugins");
        assert_eq!(bundled_dir(), Some(bundled.clone()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.toml");
        let config = crate::config::parse("", &path).unwrap();
        assert_eq!(
            plugin_dirs(&config),
            [config.base_dir.join("plugins"), bundled.clone()]
        );
        std::fs::create_dir(dir.path().join("mine")).unwrap();
        let config = crate::config::parse("[www]\nplugin_dirs = [\"mine\"]\n", &path).unwrap();
        assert_eq!(
            plugin_dirs(&config),
            [config.base_dir.join("mine"), bundled.clone()]
        );
        assert_eq!(
            describe(&plugin_dirs(&config)),
            format!(
                "{}, {} (not there)",
                config.base_dir.join("mine").display(),
                bundled.display()
            )
        );
    }

    #[test]
    fn first_folder_wins_and_odd_names_are_skipped() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for (dir, file) in [
            (&a, "hello.wasm"),
            (&b, "hello.wasm"),
            (&b, "zeta.wasm"),
            (&b, "1bad.wasm"),
            (&b, "bad-name.wasm"),
            (&b, "notes.txt"),
        ] {
            std::fs::write(dir.path().join(file), b"x").unwrap();
        }
        std::fs::create_dir(b.path().join("zeta")).unwrap();
        let found = discover(&[a.path().to_owned(), b.path().to_owned()]);
        let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["hello", "zeta"]);
        assert_eq!(found[0].path, a.path().join("hello.wasm"));
        assert_eq!(found[0].assets, None);
        assert_eq!(found[1].assets, Some(b.path().join("zeta")));
    }
}
