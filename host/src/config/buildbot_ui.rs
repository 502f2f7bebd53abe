//! `[www.buildbot_ui]`: serve Buildbot's own React UI, from the static files its Python
//! packages install, instead of this server's pages at `/`. See docs/ui.md, "Buildbot's UI".

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{Fail, KeyPath};

/// `[www.buildbot_ui]`, validated: where each part of Buildbot's UI is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildbotUiConfig {
    /// The static folder of the `buildbot-www` package (the one with `index.html`).
    pub base: PathBuf,
    /// The static folder of each UI plugin package (`scripts.js`), by the plugin's name in
    /// `[www.plugins]` (`buildbot_waterfall_view` installs `waterfall_view`), in file order.
    pub plugins: Vec<(String, PathBuf)>,
}

/// `[www.buildbot_ui]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuildbotUi {
    static_dirs: Vec<String>,
}

impl RawBuildbotUi {
    /// Resolves each folder against `base_dir` and tells the base package from the plugins.
    pub(super) fn validate(self, at: &KeyPath, base_dir: &Path) -> Result<BuildbotUiConfig, Fail> {
        let at = at.key("static_dirs");
        let mut base: Option<PathBuf> = None;
        let mut plugins: Vec<(String, PathBuf)> = Vec::new();
        if self.static_dirs.is_empty() {
            return Err(Fail::at(
                at,
                "name at least the static folder of the buildbot-www package \
                 (site-packages/buildbot_www/static)",
            ));
        }
        for (i, dir) in self.static_dirs.iter().enumerate() {
            let here = at.index(i);
            let dir_path = super::existing_dir(base_dir, dir, here.clone())?;
            // The package folder itself will do: its files are in `static/`.
            let folder = if !holds_ui_files(&dir_path) && dir_path.join("static").is_dir() {
                dir_path.join("static")
            } else {
                dir_path
            };
            if folder.join("index.html").is_file() {
                if base.is_some() {
                    return Err(Fail::at(
                        here,
                        format!(
                            "'{dir}' holds an index.html, and so does an earlier folder: \
                             name the buildbot-www package's static folder once"
                        ),
                    ));
                }
                base = Some(folder);
            } else if folder.join("scripts.js").is_file() {
                let name = plugin_name(&folder).ok_or_else(|| {
                    Fail::at(
                        here.clone(),
                        format!("'{dir}': cannot tell the plugin's name"),
                    )
                })?;
                if plugins.iter().any(|(n, _)| *n == name) {
                    return Err(Fail::at(
                        here,
                        format!("'{dir}': the plugin {name} is named twice"),
                    ));
                }
                plugins.push((name, folder));
            } else {
                return Err(Fail::at(
                    here,
                    format!(
                        "'{dir}' holds neither index.html (the buildbot-www package's static \
                         folder) nor scripts.js (a UI plugin's, such as \
                         buildbot_waterfall_view/static)"
                    ),
                ));
            }
        }
        let base = base.ok_or_else(|| {
            Fail::at(
                at,
                "none of these folders holds index.html: add the buildbot-www package's static \
                 folder (site-packages/buildbot_www/static)",
            )
        })?;
        Ok(BuildbotUiConfig { base, plugins })
    }
}

fn holds_ui_files(dir: &Path) -> bool {
    dir.join("index.html").is_file() || dir.join("scripts.js").is_file()
}

/// The name Buildbot registers a UI plugin package under: its Python package's name without
/// `buildbot_` (`…/buildbot_grid_view/static` is `grid_view`).
fn plugin_name(static_dir: &Path) -> Option<String> {
    let package = if static_dir.file_name()? == "static" {
        static_dir.parent()?.file_name()?
    } else {
        static_dir.file_name()?
    };
    let package = package.to_str()?;
    let name = package.strip_prefix("buildbot_").unwrap_or(package);
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(root: &Path, package: &str, file: &str) -> PathBuf {
        let dir = root.join(package).join("static");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), "x").unwrap();
        dir
    }

    fn validate(dirs: &[&str], base: &Path) -> Result<BuildbotUiConfig, String> {
        RawBuildbotUi {
            static_dirs: dirs.iter().map(|d| (*d).to_owned()).collect(),
        }
        .validate(&KeyPath::of(&["www", "buildbot_ui"]), base)
        .map_err(|f| f.message().to_owned())
    }

    #[test]
    fn the_base_and_plugins_are_told_apart_by_their_files() {
        let root = tempfile::tempdir().unwrap();
        let www = folder(root.path(), "buildbot_www", "index.html");
        let grid = folder(root.path(), "buildbot_grid_view", "scripts.js");
        // The package folder (without /static) does too.
        folder(root.path(), "buildbot_console_view", "scripts.js");
        let ui = validate(
            &[
                "buildbot_grid_view/static",
                "buildbot_www/static",
                "buildbot_console_view",
            ],
            root.path(),
        )
        .unwrap();
        assert_eq!(ui.base, www);
        assert_eq!(
            ui.plugins,
            [
                ("grid_view".to_owned(), grid),
                (
                    "console_view".to_owned(),
                    root.path().join("buildbot_console_view/static")
                )
            ]
        );
    }

    #[test]
    fn bad_folders_are_named() {
        let root = tempfile::tempdir().unwrap();
        folder(root.path(), "buildbot_www", "index.html");
        folder(root.path(), "other_www", "index.html");
        folder(root.path(), "buildbot_grid_view", "scripts.js");
        folder(root.path(), "empty", "README");
        let err = validate(&["buildbot_grid_view"], root.path()).unwrap_err();
        assert!(
            err.contains("none of these folders holds index.html"),
            "{err}"
        );
        let err = validate(&["buildbot_www", "other_www"], root.path()).unwrap_err();
        assert!(err.contains("'other_www' holds an index.html"), "{err}");
        let err = validate(&["buildbot_www", "empty"], root.path()).unwrap_err();
        assert!(err.contains("holds neither index.html"), "{err}");
        let err = validate(&["buildbot_www", "missing"], root.path()).unwrap_err();
        assert!(err.contains("'missing' is not a directory"), "{err}");
        let err = validate(&[], root.path()).unwrap_err();
        assert!(err.contains("at least"), "{err}");
        let err = validate(
            &[
                "buildbot_www",
                "buildbot_grid_view",
                "buildbot_grid_view/static",
            ],
            root.path(),
        )
        .unwrap_err();
        assert!(err.contains("grid_view is named twice"), "{err}");
    }
}
