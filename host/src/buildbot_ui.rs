//! Buildbot's own React UI served by this server (`[www.buildbot_ui]`, docs/ui.md): its
//! index page rendered as Buildbot 4.3 renders it (the frontend config and the theme put into
//! the page), its static files, and the bundles of its view plugins under
//! `plugins/<name>/`. Everything the UI then asks for (`/api/v2`, `/ws`, `/auth`, `/avatar`)
//! is this server's own.
//!
//! It is a layer over the server's router rather than routes of its own, because it shares
//! paths with the rest: `/` and `/index.html` (this server's home page, which moves to
//! `/home`), `assets/` (where this server's own files keep their names) and `plugins/<name>/`
//! (the WASM plugin of the same name answers everything but the bundle's files).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, Response};
use axum::middleware::Next;

use crate::config::{BuildbotUiConfig, Config};
use crate::identity::User;
use crate::jsonfmt::{self, Layout};

/// The most files and bytes read from the UI's folders (Buildbot 4.3's are 11 files and
/// about 3 MB): a folder named by mistake (a whole site-packages) fails start-up clearly.
const MAX_FILES: usize = 2_000;
const MAX_BYTES: u64 = 128 << 20;

/// Where the config goes in Buildbot's `index.html`, and the theme's range.
const CONFIG_PLACEHOLDER: &str = " <!-- BUILDBOT_CONFIG_PLACEHOLDER -->";
const THEME_BEGIN: &str = "<!-- BUILDBOT_THEME_CSS_PLACEHOLDER_BEGIN -->";
const THEME_END: &str = "<!-- BUILDBOT_THEME_CSS_PLACEHOLDER_END -->";

/// Buildbot's UI, read from disk at start-up.
#[derive(Debug)]
pub struct BuildbotUi {
    config: Arc<Config>,
    /// `index.html` with the theme already in place; the config goes in per request.
    index: String,
    /// Every other file by its path below the server's root (`assets/index-….js`,
    /// `plugins/grid_view/scripts.js`).
    files: HashMap<String, StaticFile>,
}

#[derive(Debug)]
struct StaticFile {
    body: Bytes,
    content_type: &'static str,
    etag: String,
}

impl BuildbotUi {
    /// Reads the folders of `[www.buildbot_ui]`; `None` when the table is absent. `plugins`
    /// are the loaded WASM plugins, whose views the warnings compare with the UI's bundles.
    pub fn load(
        config: &Arc<Config>,
        plugins: &crate::plugins::Registry,
    ) -> anyhow::Result<Option<Arc<BuildbotUi>>> {
        let Some(ui) = &config.www.buildbot_ui else {
            return Ok(None);
        };
        let mut files = HashMap::new();
        let mut budget = (MAX_FILES, MAX_BYTES);
        read_folder(&ui.base, "", &mut files, &mut budget)?;
        let index_file = files
            .remove("index.html")
            .with_context(|| format!("{}: no index.html", ui.base.display()))?;
        let index = String::from_utf8(index_file.body.to_vec())
            .with_context(|| format!("{}/index.html is not UTF-8", ui.base.display()))?;
        if !index.contains(CONFIG_PLACEHOLDER) {
            anyhow::bail!(
                "{}/index.html has no `{}`: is it Buildbot 4's UI?",
                ui.base.display(),
                CONFIG_PLACEHOLDER.trim()
            );
        }
        for (name, dir) in &ui.plugins {
            read_folder(dir, &format!("plugins/{name}/"), &mut files, &mut budget)?;
        }
        warn_about_plugins(ui, config, plugins);
        Ok(Some(Arc::new(BuildbotUi {
            index: with_theme(&index, &config.www.theme),
            config: config.clone(),
            files,
        })))
    }

    /// The index page for a user: Buildbot's `window.buildbotFrontendConfig`, as `/config`
    /// shows it to that user.
    fn render_index(&self, user: &User) -> String {
        let value = crate::answers::frontend_config_value(&self.config, user);
        // Python's json.dumps, but `<`, `>` and `&` (only ever inside strings) escaped so
        // that no value (a user's full name from OAuth or LDAP) can end the script element;
        // Buildbot leaves them as they are.
        let json = jsonfmt::to_string(&value, Layout::Spaced, false)
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        self.index.replacen(
            CONFIG_PLACEHOLDER,
            &format!(
                "<script id=\"bb-config\">\n    window.buildbotFrontendConfig = {json};\n</script>"
            ),
            1,
        )
    }
}

/// The layer: answers `GET`/`HEAD` of `/`, `/index.html` and the UI's files, and passes
/// everything else on.
pub async fn serve(
    State(ui): State<Arc<BuildbotUi>>,
    request: Request,
    next: Next,
) -> Response<Body> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let path = request.uri().path();
    if path == "/" || path == "/index.html" {
        let user = crate::auth::CurrentUser::of(request.extensions());
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/html")
            .header(header::CACHE_CONTROL, "public,max-age=0")
            .body(Body::from(ui.render_index(&user)))
            .unwrap_or_default();
    }
    match path.strip_prefix('/').and_then(|p| ui.files.get(p)) {
        Some(file) => file.answer(request.headers()),
        None => next.run(request).await,
    }
}

impl StaticFile {
    fn answer(&self, request: &HeaderMap) -> Response<Body> {
        let fresh = crate::answers::if_none_match(request, &self.etag);
        crate::answers::file_answer(
            Response::builder(),
            &self.etag,
            fresh,
            self.content_type,
            Body::from(self.body.clone()),
        )
    }
}

/// Reads every regular file below `dir` into `files` as `prefix` + its relative path.
fn read_folder(
    dir: &Path,
    prefix: &str,
    files: &mut HashMap<String, StaticFile>,
    budget: &mut (usize, u64),
) -> anyhow::Result<()> {
    let mut pending: Vec<(PathBuf, String)> = vec![(dir.to_path_buf(), prefix.to_owned())];
    while let Some((folder, prefix)) = pending.pop() {
        let entries = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read {}", folder.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", folder.display()))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            // Symbolic links are not followed: nothing outside the folders is served.
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push((entry.path(), format!("{prefix}{name}/")));
            } else if kind.is_file() {
                let path = entry.path();
                let body = std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                budget.0 = budget
                    .0
                    .checked_sub(1)
                    .with_context(|| format!("{}: more than {MAX_FILES} files", dir.display()))?;
                budget.1 = budget.1.checked_sub(body.len() as u64).with_context(|| {
                    format!(
                        "{}: more than {} MiB of files",
                        dir.display(),
                        MAX_BYTES >> 20
                    )
                })?;
                let etag = crate::answers::content_etag(&body);
                files.insert(
                    format!("{prefix}{name}"),
                    StaticFile {
                        content_type: content_type(&name),
                        etag,
                        body: Bytes::from(body),
                    },
                );
            }
        }
    }
    Ok(())
}

/// The content type of a UI file, by its extension.
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("map") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("gif") => "image/gif",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("woff") => "font/woff",
        Some("woff2") => "font/woff2",
        Some("ttf") => "font/ttf",
        Some("eot") => "application/vnd.ms-fontobject",
        _ => "application/octet-stream",
    }
}

/// Buildbot's theme block: the twelve variables on lines of their own, in place of the
/// defaults `index.html` carries.
fn with_theme(index: &str, theme: &[(String, String)]) -> String {
    let (Some(begin), Some(end)) = (index.find(THEME_BEGIN), index.find(THEME_END)) else {
        return index.to_owned();
    };
    if end < begin {
        return index.to_owned();
    }
    let variables = theme
        .iter()
        .map(|(name, value)| format!("--{name}: {};", crate::ui::css_value(value)))
        .collect::<Vec<_>>()
        .join("\n        ");
    format!(
        "{}<style>\n      :root {{\n        {variables}\n      }}\n    </style>{}",
        &index[..begin],
        &index[end + THEME_END.len()..]
    )
}

/// The UI loads `plugins/<name>/scripts.js` for each plugin in `[www.plugins]`: say when an
/// enabled plugin with a view of its own here has no bundle there (Buildbot's UI then has no
/// page for it), or a bundle is never loaded because its plugin is not enabled.
fn warn_about_plugins(ui: &BuildbotUiConfig, config: &Config, plugins: &crate::plugins::Registry) {
    let views = plugins.plugins().into_iter().filter(|p| !p.menu.is_empty());
    for name in views.map(|p| p.name) {
        if !ui.plugins.iter().any(|(n, _)| *n == name) {
            tracing::warn!(
                "[www.buildbot_ui]: no static folder for the plugin {name}: Buildbot's UI \
                 shows no page of its own for it"
            );
        }
    }
    for (name, _) in &ui.plugins {
        if config.www.plugin(name).is_none() {
            tracing::warn!(
                "[www.buildbot_ui]: {name} is not enabled in [www.plugins], so Buildbot's UI \
                 does not load it"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_theme_replaces_the_default_block() {
        let index = "<head>\n    <!-- BUILDBOT_THEME_CSS_PLACEHOLDER_BEGIN -->\n    <style>old</style>\n    <!-- BUILDBOT_THEME_CSS_PLACEHOLDER_END -->\n</head>";
        let theme = vec![
            ("bb-a".to_owned(), "#fff".to_owned()),
            ("bb-b".to_owned(), "red}</style><script>".to_owned()),
        ];
        assert_eq!(
            with_theme(index, &theme),
            "<head>\n    <style>\n      :root {\n        --bb-a: #fff;\n        --bb-b: red/stylescript;\n      }\n    </style>\n</head>"
        );
        assert_eq!(with_theme("no block", &theme), "no block");
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(
            content_type("index-D1Qujclx.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("icon.svg"), "image/svg+xml");
        assert_eq!(content_type("README"), "application/octet-stream");
    }
}
