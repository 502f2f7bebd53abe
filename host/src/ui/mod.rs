//! The web UI: Buildbot's pages rendered on the server from minijinja templates embedded in the
//! binary (each replaceable from `[www] custom_templates_dir`), the page shell with its themed
//! sidebar, plugin views embedded in that shell (sanitised), and the UI's own static assets.
//!
//! Every URL a page emits is relative (`root` is `../` per path level), so the server works
//! behind a reverse proxy under any path prefix.

mod account;
mod assets;
mod badge_page;
mod change_hooks;
mod controls;
mod format;
mod log_search;
mod page_error;
mod pages;
mod sanitize;
mod trends;
mod views;

use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context};
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Response, StatusCode, Uri};
use axum::routing::get;
use axum::Router;
use minijinja::value::Serde;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::CurrentUser;
use crate::config::Config;
use crate::control::Control;
use crate::data::DataApi;
use crate::identity::User;
use crate::plugins::Registry;
use account::Account;

/// The page templates, by name; `custom_templates_dir` may replace any of them.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("controls.html", include_str!("templates/controls.html")),
    ("home.html", include_str!("templates/home.html")),
    ("builders.html", include_str!("templates/builders.html")),
    ("builder.html", include_str!("templates/builder.html")),
    ("build.html", include_str!("templates/build.html")),
    ("log.html", include_str!("templates/log.html")),
    ("workers.html", include_str!("templates/workers.html")),
    ("changes.html", include_str!("templates/changes.html")),
    (
        "change_hooks.html",
        include_str!("templates/change_hooks.html"),
    ),
    ("pending.html", include_str!("templates/pending.html")),
    ("about.html", include_str!("templates/about.html")),
    ("settings.html", include_str!("templates/settings.html")),
    ("badges.html", include_str!("templates/badges.html")),
    ("view.html", include_str!("templates/view.html")),
    ("error.html", include_str!("templates/error.html")),
];

/// The UI settings, their defaults and what they mean (keys as in Buildbot's settings page).
pub const SETTINGS: &[(&str, &str, &str)] = &[
    (
        "Builders.buildFetchLimit",
        "200",
        "Recent builds fetched for the builders page (shared by all builders)",
    ),
    (
        "Builders.show_old_builders",
        "false",
        "Show builders that no master runs any more",
    ),
    (
        "Builders.page_size",
        "30",
        "Builds per page on a builder's page",
    ),
    (
        "Builders.trendBuilds",
        "100",
        "Builds in the trend charts of a builder's page (at most 1000)",
    ),
    (
        "Workers.showWorkerBuilders",
        "false",
        "List each worker's builders on the workers page",
    ),
    ("Changes.changesFetchLimit", "50", "Changes per page"),
    (
        "Log.initialLines",
        "1000",
        "Log lines shown at once; more are loaded while scrolling",
    ),
    ("Home.recentBuilds", "30", "Builds listed on the home page"),
];

/// What the UI's handlers share.
#[derive(Debug, Clone)]
pub struct UiState {
    /// The loaded config.
    pub config: Arc<Config>,
    /// Read access to Buildbot's data (every page reads through `DataApi::get`).
    pub data: DataApi,
    /// The enabled UI plugins: menu entries and views.
    pub plugins: Registry,
    /// The compiled templates (built-in, or replaced from `custom_templates_dir`).
    pub ui: Arc<Templates>,
    /// Who carries out control actions (the same as the HTTP side's): the pages offer none
    /// while it is `Unavailable`.
    pub control: Arc<Control>,
    /// The change hooks' delivery log (the HTTP side's, shared).
    pub deliveries: Arc<crate::hooks::deliveries::DeliveryLog>,
}

impl UiState {
    /// State for a config, a Data API and the loaded plugins; compiles the templates.
    pub fn new(config: Arc<Config>, data: DataApi, plugins: Registry) -> anyhow::Result<Self> {
        let ui = Arc::new(Templates::new(config.clone())?);
        Ok(UiState {
            config,
            data,
            plugins,
            ui,
            control: Arc::new(Control::default()),
            deliveries: Arc::default(),
        })
    }
}

/// The templates in use, compiled again on request (SIGHUP) from `custom_templates_dir`.
#[derive(Debug)]
pub struct Templates {
    config: Arc<Config>,
    current: RwLock<Arc<Ui>>,
}

impl Templates {
    /// Compiles the templates for `config`; fails on a custom template that does not compile.
    pub fn new(config: Arc<Config>) -> anyhow::Result<Templates> {
        let ui = Ui::new(&config)?;
        Ok(Templates {
            config,
            current: RwLock::new(Arc::new(ui)),
        })
    }

    /// The templates pages are rendered with now.
    pub fn current(&self) -> Arc<Ui> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Compiles the templates again, custom templates read anew from their folder; when one
    /// does not compile, the error is returned and the running templates stay.
    pub fn reload(&self) -> anyhow::Result<()> {
        let ui = Arc::new(Ui::new(&self.config)?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = ui;
        Ok(())
    }
}

/// The compiled templates and what every page shares.
pub struct Ui {
    env: minijinja::Environment<'static>,
    /// Templates replaced from `custom_templates_dir`, for the log and the about page.
    overridden: Vec<String>,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui")
            .field("overridden", &self.overridden)
            .finish_non_exhaustive()
    }
}

impl Ui {
    /// Compiles the embedded templates, then the `.html` files of `custom_templates_dir` over
    /// them; a template that does not compile stops here with its file and the error.
    pub fn new(config: &Config) -> anyhow::Result<Ui> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        format::register(&mut env);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .with_context(|| format!("built-in template {name}"))?;
        }
        let mut overridden = Vec::new();
        if let Some(dir) = &config.www.custom_templates_dir {
            overridden = load_overrides(&mut env, dir)?;
            for name in &overridden {
                tracing::info!("template {name} replaced by {}", dir.join(name).display());
            }
        }
        Ok(Ui { env, overridden })
    }

    /// Templates replaced from `custom_templates_dir`.
    pub fn overridden(&self) -> &[String] {
        &self.overridden
    }

    /// Renders a template with a context.
    pub fn render(&self, name: &str, context: &impl Serialize) -> Result<String, minijinja::Error> {
        self.env
            .get_template(name)?
            .render(minijinja::Value::from(Serde(context)))
    }
}

fn load_overrides(
    env: &mut minijinja::Environment<'static>,
    dir: &Path,
) -> anyhow::Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "[www] custom_templates_dir: cannot read the folder {}",
            dir.display()
        )
    })?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "html") && p.is_file())
        .collect();
    files.sort();
    let mut names = Vec::new();
    for path in files {
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let source = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the custom template {}", path.display()))?;
        if let Err(err) = env.add_template_owned(name.clone(), source) {
            bail!(
                "custom template {} does not compile: {}",
                path.display(),
                describe(&err)
            );
        }
        if !TEMPLATES.iter().any(|(n, _)| *n == name) {
            tracing::warn!(
                "custom template {} replaces no page template (they are: {})",
                path.display(),
                TEMPLATES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        names.push(name);
    }
    // A template that extends or includes a missing one fails only when rendered: try each.
    Ok(names)
}

/// A minijinja error with its line and the chain of causes, on one line.
fn describe(err: &minijinja::Error) -> String {
    let mut text = match err.line() {
        Some(line) => format!("line {line}: {}", err.kind()),
        None => err.kind().to_string(),
    };
    if let Some(detail) = err.detail() {
        text.push_str(": ");
        text.push_str(detail);
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The UI's routes (pages, plugin views, assets) over their state, merged into the server's
/// router by `server::app`.
pub fn router(state: UiState) -> Router {
    let pages = Router::new()
        .route("/", get(pages::home))
        .route("/index.html", get(pages::home))
        // Where the home page stays when Buildbot's UI takes `/` ([www.buildbot_ui]).
        .route("/home", get(pages::home))
        .route("/builders", get(pages::builders))
        .route("/builders/{builderid}", get(pages::builder))
        .route("/builders/{builderid}/builds/{number}", get(pages::build))
        .route("/logs/{logid}", get(pages::log))
        .route("/workers", get(pages::workers))
        .route("/changes", get(pages::changes))
        .route("/change_hooks", get(change_hooks::page))
        .route("/pendingbuildrequests", get(pages::pending))
        .route("/about", get(pages::about))
        .route("/settings", get(pages::settings))
        .route("/badges", get(badge_page::page))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            page_error::render,
        ));
    Router::new()
        .merge(pages)
        .route("/views/{plugin}", get(views::mount))
        .route("/views/{plugin}/", axum::routing::any(views::view))
        .route("/views/{plugin}/{*rest}", axum::routing::any(views::view))
        .route("/assets/{file}", get(assets::serve))
        .with_state(state)
}

/// What a page request brings: the relative root and the browser's settings.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// `../` per path level: the server's root relative to the page.
    pub root: String,
    /// The path below the server root (as routed).
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// Settings from the `bb_settings` cookie (the browser's own, over the defaults).
    pub browser_settings: Map<String, Value>,
    /// Who asks (the session's or the proxy's user).
    pub user: User,
}

impl<S: Send + Sync> FromRequestParts<S> for PageRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(PageRequest::read(
            &parts.uri,
            parts.headers.get_all(header::COOKIE).iter(),
            CurrentUser::of(&parts.extensions),
        ))
    }
}

impl PageRequest {
    /// The page request of a URI and its `Cookie` headers.
    fn read<'a>(
        uri: &Uri,
        cookies: impl Iterator<Item = &'a HeaderValue>,
        user: User,
    ) -> PageRequest {
        let path = uri.path().to_owned();
        let browser_settings = cookies
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix("bb_settings="))
            .find_map(|v| {
                let decoded = crate::data::query_args(&format!("v={v}")).pop()?.1;
                serde_json::from_str::<Map<String, Value>>(&decoded).ok()
            })
            .unwrap_or_default();
        PageRequest {
            root: root_of(&path),
            query: uri.query().unwrap_or("").to_owned(),
            path,
            browser_settings,
            user,
        }
    }
}

/// `../` per level: `/` and `/builders` → `./`, `/builders/3` → `../`.
pub fn root_of(path: &str) -> String {
    match path.matches('/').count() {
        0 | 1 => "./".to_owned(),
        n => "../".repeat(n - 1),
    }
}

impl PageRequest {
    /// The effective settings: built-in defaults, `ui_default_config`, then the browser's.
    pub fn settings(&self, config: &Config) -> Map<String, Value> {
        let mut settings = Map::new();
        for (key, default, _) in SETTINGS {
            settings.insert(
                (*key).to_owned(),
                serde_json::from_str(default).unwrap_or(Value::Null),
            );
        }
        for (key, value) in &config.www.ui_default_config {
            settings.insert(key.clone(), value.clone());
        }
        for (key, value) in &self.browser_settings {
            if settings.contains_key(key) {
                settings.insert(key.clone(), value.clone());
            }
        }
        settings
    }

    /// The page's path with its query, as logging in or out comes back to it.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// A query argument.
    pub fn arg(&self, name: &str) -> Option<String> {
        crate::data::query_args(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// What the shell shows on every page: title, theme, sidebar, live-update subscriptions (the
/// fields every template may use, whatever the page).
#[derive(Debug, Serialize)]
pub struct Shell<'a> {
    /// `../` per path level.
    pub root: &'a str,
    /// The sidebar entry of this page (`builders`, `plugin:NAME`...).
    pub current: String,
    /// The page's own title.
    pub page_title: String,
    /// `title` of the config.
    pub title: &'a str,
    /// `titleURL` of the config.
    pub title_url: &'a str,
    /// The sidebar: the built-in pages, the plugins' views, settings and about.
    pub menu: Vec<MenuEntry>,
    /// `[www.theme]`: CSS custom properties, cleaned.
    pub theme: Vec<(String, String)>,
    /// The event paths the page's script refreshes on.
    pub events: Vec<String>,
    /// What an event must match to refresh the page (the builder page's builder).
    pub live_filter: Option<Value>,
    /// `[www] ui_default_config`.
    pub ui_defaults: &'a Map<String, Value>,
    /// The effective settings.
    pub settings: Map<String, Value>,
    /// buildbot-www's version.
    pub version: &'static str,
    /// The top bar's account area.
    pub account: Account,
}

/// One sidebar entry.
#[derive(Debug, Serialize)]
pub struct MenuEntry {
    /// The text shown.
    pub label: String,
    /// Relative to `root`.
    pub href: String,
    /// What `current` holds on that page.
    pub key: String,
    /// A short symbol.
    pub icon: String,
}

impl MenuEntry {
    fn new(label: &str, href: &str, key: &str, icon: &str) -> MenuEntry {
        MenuEntry {
            label: label.to_owned(),
            href: href.to_owned(),
            key: key.to_owned(),
            icon: icon.to_owned(),
        }
    }
}

/// A template's whole context: the shell's fields and the page's own, side by side.
#[derive(Debug, Serialize)]
struct PageContext<'a, T> {
    #[serde(flatten)]
    shell: &'a Shell<'a>,
    #[serde(flatten)]
    page: &'a T,
}

/// The shell of a page.
pub fn shell<'a>(
    state: &'a UiState,
    req: &'a PageRequest,
    current: &str,
    page_title: &str,
    events: &[String],
) -> Shell<'a> {
    let config = &state.config;
    let mut menu = vec![
        MenuEntry::new("Home", "", "home", "⌂"),
        MenuEntry::new("Builders", "builders", "builders", "▦"),
        MenuEntry::new("Pending", "pendingbuildrequests", "pending", "◷"),
        MenuEntry::new("Changes", "changes", "changes", "✎"),
        MenuEntry::new("Workers", "workers", "workers", "⚙"),
    ];
    if !config.www.change_hook_dialects.is_empty() {
        menu.push(MenuEntry::new(
            "Change hooks",
            "change_hooks",
            "change_hooks",
            "⇄",
        ));
    }
    for (plugin, entry) in state.plugins.menu() {
        let path = entry.path.trim_start_matches('/');
        menu.push(MenuEntry {
            label: entry.label,
            href: format!("views/{plugin}/{path}"),
            key: format!("plugin:{plugin}"),
            icon: if entry.icon.is_empty() {
                "◆".to_owned()
            } else {
                icon_text(&entry.icon)
            },
        });
    }
    if config.www.plugin("badges").is_some() {
        menu.push(MenuEntry::new("Badges", "badges", "badges", "◐"));
    }
    menu.push(MenuEntry::new("Settings", "settings", "settings", "☰"));
    menu.push(MenuEntry::new("About", "about", "about", "ℹ"));
    let theme = config
        .www
        .theme
        .iter()
        .map(|(k, v)| (css_ident(k), css_value(v)))
        .collect();
    Shell {
        root: &req.root,
        current: current.to_owned(),
        page_title: page_title.to_owned(),
        title: &config.title,
        title_url: &config.title_url,
        menu,
        theme,
        events: events.to_vec(),
        live_filter: None,
        ui_defaults: &config.www.ui_default_config,
        settings: req.settings(config),
        version: env!("CARGO_PKG_VERSION"),
        account: Account::new(config, &req.user, &req.path_and_query()),
    }
}

/// Plugin icons are names (Font Awesome's in Buildbot); the shell shows a neutral glyph for
/// names and the text itself when it is a single character.
fn icon_text(icon: &str) -> String {
    if icon.chars().count() <= 2 {
        icon.to_owned()
    } else {
        "◆".to_owned()
    }
}

/// Theme keys are CSS custom property names: keep only what such a name may hold.
fn css_ident(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Theme values go into a `<style>` element as written (Buildbot does not sanitize them), but
/// cannot close the element or the declaration.
pub(crate) fn css_value(value: &str) -> String {
    value
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | ';' | '{' | '}'))
        .collect()
}

/// Renders a page in its shell, or a plain 500 when the template fails.
pub fn html<T: Serialize>(state: &UiState, name: &str, shell: &Shell, page: &T) -> Response<Body> {
    html_status(state, StatusCode::OK, name, shell, page)
}

/// Renders a page in its shell with a status.
pub fn html_status<T: Serialize>(
    state: &UiState,
    status: StatusCode,
    name: &str,
    shell: &Shell,
    page: &T,
) -> Response<Body> {
    match state
        .ui
        .current()
        .render(name, &PageContext { shell, page })
    {
        Ok(body) => Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(Body::from(body))
            .unwrap_or_default(),
        Err(err) => {
            let text = describe(&err);
            tracing::error!("template {name}: {text}");
            Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Body::from(format!("template {name} failed: {text}\n")))
                .unwrap_or_default()
        }
    }
}

/// What the error page shows below the shell.
#[derive(Debug, Serialize)]
pub struct ErrorPage {
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for the reader.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_follows_the_depth() {
        assert_eq!(root_of("/"), "./");
        assert_eq!(root_of("/builders"), "./");
        assert_eq!(root_of("/builders/3"), "../");
        assert_eq!(root_of("/builders/3/builds/7"), "../../../");
        assert_eq!(root_of("/views/console_view/"), "../../");
    }

    #[test]
    fn builtin_templates_compile() {
        let config = Config::defaults(Path::new("/nonexistent/master.toml"));
        Ui::new(&config).unwrap();
    }

    #[test]
    fn a_broken_override_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("about.html"), "{% block x %}oops").unwrap();
        let mut config = Config::defaults(&dir.path().join("master.toml"));
        config.www.custom_templates_dir = Some(dir.path().to_owned());
        let err = format!("{:#}", Ui::new(&config).unwrap_err());
        assert!(err.contains("about.html"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn theme_values_cannot_escape_the_style_element() {
        assert_eq!(css_value("#fff</style><script>"), "#fff/stylescript");
        assert_eq!(css_ident("bb-sidebar-x:red"), "bb-sidebar-xred");
    }
}
