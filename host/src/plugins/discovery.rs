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

/// The folders searched, in order: `[www] plugin_dirs`, or by default `plugins/` under the base
/// directory. No folder of the machine the binary was built on is baked in: a checkout's
/// configs (the demo's) name `target/plugins/` themselves.
pub fn plugin_dirs(config: &Config) -> Vec<PathBuf> {
    if !config.www.plugin_dirs.is_empty() {
        return config.www.plugin_dirs.clone();
    }
    vec![config.base_dir.join("plugins")]
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
