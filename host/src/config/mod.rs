//! The config file (`master.toml`): typed, validated, with errors that point at file, line and key.
//!
//! [`load`] reads the file, [`parse`] does the work: the TOML is deserialized with serde into
//! "raw" structs that reject unknown keys, then each value is checked and resolved (paths
//! against the base directory, secrets from the environment or files, defaults filled in).
//! Every failure becomes a [`ConfigError`] naming the file, line, column and key.
//! `docs/configuration.md` is the user's reference for every key.

mod auth;
mod bounded;
mod buildbot_ui;
mod de;
mod error;
mod forcesched;
mod hooks;
mod keys;
mod limits;
mod master;
mod metrics;
mod port;
mod schedulers;
mod secret;

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

pub use auth::{
    AllowRule, Auth, Authz, AvatarGitHub, AvatarMethod, BitbucketAuth, ConfigRegex, CustomAuth,
    EndpointMatcher, GitHubAuth, GitLabAuth, GoogleAuth, HtPasswdAuth, LdapTls, LdapUserInfo,
    RemoteUserAuth, RoleMatcher, StringsMatcher, UserInfoProvider, UserPasswordAuth,
};
pub use buildbot_ui::BuildbotUiConfig;
pub use error::ConfigError;
pub use forcesched::{ForceCodebase, ForceSchedulerSpec, DEFAULT_REASON_STRING};
pub use hooks::HookChecker;
pub use limits::Limits;
pub use master::{LiveUpdates, MasterLinkConfig, DEFAULT_MASTER_TIMEOUT};
pub use metrics::MetricsAccess;
pub use port::Port;
pub use schedulers::{ChangeField, ChangeFilter, SchedulerSpec};
pub use secret::{Secret, SecretSource};

use bounded::Bounded;
use error::{Fail, KeyPath, Locator, Target};

/// The config file read when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "master.toml";

/// `theme`: the CSS variables the UI lets the config set, with their default values, in order.
pub const THEME_DEFAULTS: [(&str, &str); 12] = [
    ("bb-sidebar-background-color", "#30426a"),
    ("bb-sidebar-header-background-color", "#273759"),
    ("bb-sidebar-header-text-color", "#fff"),
    ("bb-sidebar-title-text-color", "#627cb7"),
    ("bb-sidebar-footer-background-color", "#273759"),
    ("bb-sidebar-button-text-color", "#b2bfdc"),
    ("bb-sidebar-button-hover-background-color", "#1b263d"),
    ("bb-sidebar-button-hover-text-color", "#fff"),
    ("bb-sidebar-button-current-background-color", "#273759"),
    ("bb-sidebar-button-current-text-color", "#b2bfdc"),
    ("bb-sidebar-stripe-hover-color", "#e99d1a"),
    ("bb-sidebar-stripe-current-color", "#8c5e10"),
];

/// `change_hook_dialects`: the dialect names Buildbot ships.
pub const CHANGE_HOOK_DIALECTS: &[&str] = &[
    "base",
    "bitbucket",
    "bitbucketcloud",
    "bitbucketserver",
    "github",
    "gitlab",
    "gitorious",
    "poller",
];

/// Change hook options whose values are secrets even when written as plain strings.
const SECRET_HOOK_OPTIONS: &[&str] = &["secret", "token", "client_secret", "password"];

/// `cookie_expiration_time` when not given: one week.
pub const DEFAULT_COOKIE_EXPIRATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A loaded, validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file.
    pub path: PathBuf,
    /// The folder of the config file: relative paths are resolved against it.
    pub base_dir: PathBuf,
    /// `buildbotURL`: the server's public URL, always ending with `/`
    /// (default `http://localhost:8010/`).
    pub buildbot_url: String,
    /// Whether the config sets `buildbotURL` (redirects through a trusted proxy that names
    /// the host use that host otherwise).
    pub buildbot_url_configured: bool,
    /// `title`: the name shown in the UI (default `Buildbot`).
    pub title: String,
    /// `titleURL`: where the title links to (default `http://buildbot.net/`).
    pub title_url: String,
    /// `[db]`.
    pub db: DbConfig,
    /// `[www]`.
    pub www: WwwConfig,
    /// `[[forceschedulers]]`, as the JSON objects `/api/v2/forceschedulers` returns, in file
    /// order, with keys sorted.
    pub forceschedulers: Vec<Value>,
    /// `[[forceschedulers]]`: what the force action needs beyond the JSON (same order).
    pub forcescheduler_specs: Vec<ForceSchedulerSpec>,
    /// `[[schedulers]]`: the change-driven schedulers the standalone runner plays.
    pub schedulers: Vec<SchedulerSpec>,
}

impl Config {
    /// The config every key at its default, as if `path` were an empty file.
    pub fn defaults(path: &Path) -> Config {
        match parse("", path) {
            Ok(config) => config,
            Err(err) => unreachable!("an empty config is valid: {err}"),
        }
    }

    /// The HTTP access log (`logfileName` in the base directory), or `None` for the main log.
    pub fn http_log_path(&self) -> Option<PathBuf> {
        self.www
            .logfile_name
            .as_ref()
            .map(|name| self.base_dir.join(name))
    }
}

/// `[db]`.
#[derive(Clone)]
pub struct DbConfig {
    /// `db_url`, in Buildbot's syntax (default `sqlite:///state.sqlite`: `state.sqlite` in the
    /// base directory). A password written in it is never shown (`Debug` redacts it).
    pub db_url: String,
    /// `password`: the database password, kept apart from the URL (inline, `{ env = ... }` or
    /// `{ file = ... }`); it overrides one written in `db_url`.
    pub password: Option<Secret>,
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig")
            .field("db_url", &crate::db::redacted(&self.db_url))
            .field("password", &self.password)
            .finish()
    }
}

impl Default for DbConfig {
    fn default() -> Self {
        DbConfig {
            db_url: "sqlite:///state.sqlite".to_owned(),
            password: None,
        }
    }
}

/// `[www]`: the web server.
#[derive(Debug, Clone)]
pub struct WwwConfig {
    /// `port`: where to listen; `None` when absent (the server then refuses to start).
    pub port: Option<Port>,
    /// `json_cache_seconds`: how long REST answers may be cached (`Expires`); 0 = off.
    pub json_cache_seconds: u64,
    /// `rest_minimum_version`: the oldest REST API version served (default 0).
    pub rest_minimum_version: u32,
    /// `rest_default_limit`: the `limit` applied to REST lists when the request gives none
    /// (default 1000).
    pub rest_default_limit: u64,
    /// `debug`: show debugging information in the browser.
    pub debug: bool,
    /// `allowed_origins`: CORS origins allowed to use the API, as globs (`*`, `?`).
    pub allowed_origins: Option<Vec<String>>,
    /// `logfileName`: the HTTP access log, relative to the base directory (default
    /// `http.log`); `None` = the main log (written `""` in the config).
    pub logfile_name: Option<String>,
    /// `logRotateLength`: rotate the access log after this many bytes (default 10 000 000).
    pub log_rotate_length: u64,
    /// `maxRotatedFiles`: rotated access logs to keep (default 10).
    pub max_rotated_files: usize,
    /// `versions`: extra `[name, version]` pairs for the About page.
    pub versions: Vec<(String, String)>,
    /// `plugins`: enabled plugins only, in file order, with their settings as the plugin
    /// receives them (`true` = `{}`; options written as `{ env = ... }` or `{ file = ... }`
    /// resolved to their value).
    pub plugins: Vec<(String, Value)>,
    /// The same settings as `/config` shows them: without the options that come from a
    /// secret.
    pub plugins_public: Vec<(String, Value)>,
    /// `plugin_dirs`: folders to look for plugins in, resolved against the base directory;
    /// empty = the runtime's default.
    pub plugin_dirs: Vec<PathBuf>,
    /// `plugin_limits`: per plugin, what one call may use (buildbot-www's own key).
    pub plugin_limits: BTreeMap<String, PluginLimits>,
    /// `plugin_memory_mib`: the memory all plugin instances together may hold, in bytes
    /// (buildbot-www's own key; default a quarter of the machine's memory).
    pub plugin_memory_bytes: usize,
    /// `plugin_cache_dir`: where compiled plugins are cached, resolved against the base
    /// directory (buildbot-www's own key; default: the user's cache folder).
    pub plugin_cache_dir: Option<PathBuf>,
    /// `default_page`: the landing page, e.g. `console`.
    pub default_page: Option<String>,
    /// `auth`: how users log in (default `NoAuth`).
    pub auth: Auth,
    /// `authz`: who may do what (default: no rules, everything allowed).
    pub authz: Authz,
    /// `avatar_methods`: where avatars come from, in order (default `[AvatarGravatar]`).
    pub avatar_methods: Vec<AvatarMethod>,
    /// `custom_templates_dir`: templates overriding the UI's, resolved against the base
    /// directory.
    pub custom_templates_dir: Option<PathBuf>,
    /// `change_hook_dialects`: enabled change hooks, in file order.
    pub change_hook_dialects: Vec<ChangeHookDialect>,
    /// `change_hook_auth`: the credentials a delivery to `/change_hook/` must carry (HTTP basic
    /// auth); empty: none asked.
    pub change_hook_auth: Vec<HookChecker>,
    /// `cookie_expiration_time`: session lifetime (default one week).
    pub cookie_expiration_time: Duration,
    /// `ui_default_config`: default UI settings for every user.
    pub ui_default_config: Map<String, Value>,
    /// `ws_ping_interval`: seconds between websocket pings; 0 = off.
    pub ws_ping_interval: u64,
    /// `theme`: all 12 CSS variables of [`THEME_DEFAULTS`], in that order, with the config's
    /// values applied.
    pub theme: Vec<(String, String)>,
    /// What one client may hold or send: timeouts, connection cap, subscriptions, paging
    /// (buildbot-www's own keys, see [`Limits`]).
    pub limits: Limits,
    /// `master`: the Buildbot master control actions are forwarded to (buildbot-www's own
    /// table); `None` = standalone.
    pub master: Option<MasterLinkConfig>,
    /// `rest_cache_mib`: the memory REST answers kept between changes of the data may take,
    /// in bytes (buildbot-www's own key; default 32 MiB; 0 = none kept).
    pub rest_cache_bytes: usize,
    /// `trusted_proxies`: the reverse proxies whose forwarded headers (client address, scheme,
    /// host) are believed (buildbot-www's own key; default none).
    pub trusted_proxies: crate::http::forwarded::TrustedProxies,
    /// `metrics`: who may read `/metrics` and on which port (buildbot-www's own table);
    /// `None` = no `/metrics` at all.
    pub metrics: Option<MetricsAccess>,
    /// `buildbot_ui`: Buildbot's own UI served at `/` from its packages' static folders
    /// (buildbot-www's own table); `None` = this server's pages.
    pub buildbot_ui: Option<BuildbotUiConfig>,
}

impl Default for WwwConfig {
    fn default() -> Self {
        WwwConfig {
            port: None,
            json_cache_seconds: 0,
            rest_minimum_version: 0,
            rest_default_limit: 1000,
            debug: false,
            allowed_origins: None,
            logfile_name: Some("http.log".to_owned()),
            log_rotate_length: 10_000_000,
            max_rotated_files: 10,
            versions: Vec::new(),
            plugins: Vec::new(),
            plugins_public: Vec::new(),
            plugin_dirs: Vec::new(),
            plugin_limits: BTreeMap::new(),
            plugin_memory_bytes: default_plugin_memory(),
            plugin_cache_dir: None,
            default_page: None,
            auth: Auth::default(),
            authz: Authz::default(),
            avatar_methods: vec![AvatarMethod::AvatarGravatar {}],
            custom_templates_dir: None,
            change_hook_dialects: Vec::new(),
            change_hook_auth: Vec::new(),
            cookie_expiration_time: DEFAULT_COOKIE_EXPIRATION,
            ui_default_config: Map::new(),
            ws_ping_interval: 0,
            theme: THEME_DEFAULTS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            limits: Limits::default(),
            master: None,
            trusted_proxies: Default::default(),
            rest_cache_bytes: 32 << 20,
            metrics: None,
            buildbot_ui: None,
        }
    }
}

impl WwwConfig {
    /// The config of an enabled plugin, or `None` when it is not enabled.
    pub fn plugin(&self, name: &str) -> Option<&Value> {
        self.plugins.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// An enabled change hook dialect.
    pub fn change_hook_dialect(&self, name: &str) -> Option<&ChangeHookDialect> {
        self.change_hook_dialects.iter().find(|d| d.name == name)
    }
}

/// One of `change_hook_dialects`.
#[derive(Debug, Clone)]
pub struct ChangeHookDialect {
    /// The dialect name (`github`, `gitlab`, `base`...).
    pub name: String,
    /// Its options, except secrets.
    pub options: Map<String, Value>,
    /// Its secret options (`secret`, `token`, `client_secret`, `password`, and any option
    /// written as `{ env = ... }` or `{ file = ... }`), resolved.
    pub secrets: Vec<(String, Secret)>,
}

impl ChangeHookDialect {
    /// A secret option by name.
    pub fn secret(&self, key: &str) -> Option<&Secret> {
        self.secrets.iter().find(|(k, _)| k == key).map(|(_, s)| s)
    }
}

/// Loads and validates a config file. Its folder is the base directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        ConfigError::whole_file(
            path,
            format!("cannot read the config file: {}", secret::io_reason(&err)),
        )
    })?;
    let base_dir = base_dir_of(path);
    let base_dir = std::path::absolute(&base_dir).unwrap_or(base_dir);
    parse_in(&text, path, base_dir)
}

/// Validates config text as if it were the file `path` (used in messages; its folder is the
/// base directory for relative paths and secret files).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    parse_in(text, path, base_dir_of(path))
}

/// An error a plugin's `init` gave about its options (`check-config` runs every enabled
/// plugin's `init`), located like every other config error: at the option its message names
/// (`option 'x'`, as the SDK words it), else at the table of its options (`options`:
/// `["www", "plugins", "<name>"]`, or `["www", "auth", "options"]` for the authentication
/// plugin), else at that table's parent.
pub fn plugin_option_error(path: &Path, options: &[&str], message: &str) -> ConfigError {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut keys = options.to_vec();
    let option = message
        .split_once("option '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(option, _)| option);
    keys.extend(option);
    let mut at = KeyPath::of(&keys);
    let located = toml_edit::ImDocument::parse(text.clone())
        .ok()
        .map(Locator::new);
    if let Some(locator) = &located {
        for fallback in [options, &options[..options.len().saturating_sub(1)]] {
            if locator.exists(&at) {
                break;
            }
            at = KeyPath::of(fallback);
        }
    }
    let span = located.and_then(|locator| locator.span_of(&at, Target::Key));
    ConfigError::at_span(path, &text, span, format!("{}: {message}", at.describe()))
}

fn base_dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn parse_in(text: &str, path: &Path, base_dir: PathBuf) -> Result<Config, ConfigError> {
    let doc = toml_edit::ImDocument::parse(text.to_owned()).map_err(|err| {
        let message = err
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        ConfigError::at_span(
            path,
            text,
            err.span(),
            format!("invalid TOML: {}", error::lower_first(&message)),
        )
    })?;
    let raw: Result<RawConfig, _> = de::from_document(&doc);
    let locator = Locator::new(doc);
    let render = |fail: Fail| {
        let span = locator.span_of(&fail.path, fail.target);
        let conceal = fail.conceal;
        let message = if fail.bare {
            fail.message
        } else {
            format!("{}: {}", fail.path.describe(), fail.message)
        };
        let err = ConfigError::at_span(path, text, span, message);
        if conceal {
            err.without_excerpt()
        } else {
            err
        }
    };
    let raw = raw.map_err(|fault| {
        let mut fail = fault.into_fail();
        misplaced_www_key(&mut fail);
        render(fail)
    })?;
    build(raw, path, base_dir).map_err(render)
}

/// `port = 8010` at the top level: say it belongs in `[www]`.
fn misplaced_www_key(fail: &mut Fail) {
    if let [error::Seg::Key(key)] = fail.path.0.as_slice() {
        if fail.bare && keys::field_names::<RawWww>().contains(&key.as_str()) {
            fail.message = format!("unknown top-level key '{key}'; it belongs in the [www] table");
        }
    }
}

/// The file as written (top level).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(rename = "buildbotURL", default)]
    buildbot_url: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(rename = "titleURL", default)]
    title_url: Option<String>,
    #[serde(default)]
    db: RawDb,
    #[serde(default)]
    www: RawWww,
    #[serde(default)]
    forceschedulers: Vec<forcesched::RawForceScheduler>,
    #[serde(default)]
    schedulers: Vec<schedulers::RawScheduler>,
}

/// `[db]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDb {
    #[serde(default)]
    db_url: Option<String>,
    #[serde(default)]
    password: Option<Secret>,
}

/// `[www]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWww {
    #[serde(default)]
    port: Option<port::RawPort>,
    #[serde(default)]
    json_cache_seconds: Option<u64>,
    #[serde(default)]
    rest_minimum_version: Option<u32>,
    #[serde(default)]
    rest_default_limit: Option<u64>,
    #[serde(default, deserialize_with = "ordered_map")]
    plugins: Vec<(String, Value)>,
    #[serde(default)]
    plugin_dirs: Option<Vec<String>>,
    #[serde(default)]
    plugin_limits: BTreeMap<String, RawPluginLimits>,
    #[serde(default)]
    plugin_memory_mib: Option<Bounded<16, { 1 << 20 }>>,
    #[serde(default)]
    plugin_cache_dir: Option<String>,
    #[serde(default)]
    default_page: Option<String>,
    #[serde(default)]
    debug: Option<bool>,
    #[serde(default)]
    allowed_origins: Option<Vec<String>>,
    #[serde(default)]
    auth: Option<Auth>,
    #[serde(default)]
    authz: Option<auth::RawAuthz>,
    #[serde(default)]
    avatar_methods: Option<Vec<AvatarMethod>>,
    #[serde(rename = "logfileName", default)]
    logfile_name: Option<String>,
    #[serde(rename = "logRotateLength", default)]
    log_rotate_length: Option<u64>,
    #[serde(rename = "maxRotatedFiles", default)]
    max_rotated_files: Option<usize>,
    #[serde(default)]
    versions: Option<Vec<Vec<String>>>,
    #[serde(default)]
    custom_templates_dir: Option<String>,
    #[serde(default, deserialize_with = "ordered_map")]
    change_hook_dialects: Vec<(String, Value)>,
    #[serde(default)]
    change_hook_auth: Option<Vec<String>>,
    #[serde(default)]
    change_hook_max_body_kib: Option<Bounded<1, { 1 << 20 }>>,
    #[serde(default)]
    cookie_expiration_time: Option<RawDuration>,
    #[serde(default)]
    ui_default_config: Option<Map<String, Value>>,
    #[serde(default)]
    ws_ping_interval: Option<u64>,
    #[serde(default, deserialize_with = "ordered_map")]
    theme: Vec<(String, String)>,
    // The limits (see `Limits`).
    #[serde(default)]
    rest_max_limit: Option<Bounded<1, 1_000_000_000>>,
    #[serde(default)]
    max_query_args: Option<Bounded<1, 100_000>>,
    #[serde(default)]
    http_header_timeout_ms: Option<Bounded<1, 3_600_000>>,
    #[serde(default)]
    http_body_timeout_ms: Option<Bounded<1, 3_600_000>>,
    #[serde(default)]
    max_connections: Option<Bounded<1, 1_000_000>>,
    #[serde(default)]
    ws_max_message_kib: Option<Bounded<1, 65_536>>,
    #[serde(default)]
    ws_max_subscriptions: Option<Bounded<1, 1_000_000>>,
    #[serde(default)]
    sse_max_subscriptions: Option<Bounded<1, 1_000_000>>,
    #[serde(default)]
    master: Option<master::RawMaster>,
    #[serde(default)]
    trusted_proxies: Option<Vec<String>>,
    #[serde(default)]
    rest_cache_mib: Option<Bounded<0, 65_536>>,
    metrics: Option<metrics::RawMetrics>,
    buildbot_ui: Option<buildbot_ui::RawBuildbotUi>,
}

fn build(raw: RawConfig, path: &Path, base_dir: PathBuf) -> Result<Config, Fail> {
    let buildbot_url_configured = raw.buildbot_url.is_some();
    let buildbot_url = match raw.buildbot_url {
        Some(url) => {
            check_http_url(&url).map_err(|m| Fail::at(KeyPath::of(&["buildbotURL"]), m))?;
            if url.ends_with('/') {
                url
            } else {
                url + "/"
            }
        }
        None => "http://localhost:8010/".to_owned(),
    };
    let mut db = match raw.db.db_url {
        Some(db_url) => {
            let scheme_ok = db_url
                .split_once("://")
                .is_some_and(|(scheme, _)| !scheme.is_empty());
            if !scheme_ok {
                return Err(Fail::at(
                    KeyPath::of(&["db", "db_url"]),
                    format!(
                        "'{}' is not a database URL such as sqlite:///state.sqlite",
                        crate::db::redacted(&db_url)
                    ),
                ));
            }
            if let Err(err) = crate::db::parse_db_url(&db_url, &base_dir) {
                return Err(Fail::at(KeyPath::of(&["db", "db_url"]), format!("{err:#}")));
            }
            DbConfig {
                db_url,
                password: None,
            }
        }
        None => DbConfig::default(),
    };
    if let Some(mut password) = raw.db.password {
        password.resolve(&KeyPath::of(&["db", "password"]), &base_dir)?;
        db.password = Some(password);
    }
    let www = build_www(raw.www, &base_dir)?;
    let (forceschedulers, forcescheduler_specs) = forcesched::normalize_all(raw.forceschedulers)?;
    let schedulers = schedulers::normalize_all(raw.schedulers)?;
    Ok(Config {
        path: path.to_path_buf(),
        base_dir,
        buildbot_url,
        buildbot_url_configured,
        title: raw.title.unwrap_or_else(|| "Buildbot".to_owned()),
        title_url: raw
            .title_url
            .unwrap_or_else(|| "http://buildbot.net/".to_owned()),
        db,
        www,
        forceschedulers,
        forcescheduler_specs,
        schedulers,
    })
}

fn build_www(raw: RawWww, base_dir: &Path) -> Result<WwwConfig, Fail> {
    let www = KeyPath::of(&["www"]);
    let mut out = WwwConfig::default();
    if let Some(port) = raw.port {
        out.port = Some(port.resolve().map_err(|m| Fail::at(www.key("port"), m))?);
    }
    if let Some(v) = raw.json_cache_seconds {
        out.json_cache_seconds = v;
    }
    if let Some(v) = raw.rest_minimum_version {
        out.rest_minimum_version = v;
    }
    if let Some(v) = raw.rest_default_limit {
        if v == 0 {
            return Err(Fail::at(
                www.key("rest_default_limit"),
                "must be at least 1: every list is bounded",
            ));
        }
        out.rest_default_limit = v;
    }
    for (name, value) in raw.plugins {
        let at = www.key("plugins").key(&name);
        if !is_plugin_name(&name) {
            return Err(Fail::at_key(
                at,
                format!("'{name}' is not a plugin name (letters, digits and '_', not starting with a digit)"),
            ));
        }
        match value {
            Value::Bool(false) => {}
            Value::Bool(true) => {
                out.plugins.push((name.clone(), Value::Object(Map::new())));
                out.plugins_public.push((name, Value::Object(Map::new())));
            }
            Value::Object(mut map) => {
                let public = secret::resolve_within(&mut map, &at, base_dir)?;
                out.plugins.push((name.clone(), Value::Object(map)));
                out.plugins_public.push((name, Value::Object(public)));
            }
            _ => {
                return Err(Fail::at(
                    at,
                    "expected true, false or a table of plugin settings",
                ))
            }
        }
    }
    if let Some(dirs) = raw.plugin_dirs {
        for (i, dir) in dirs.into_iter().enumerate() {
            out.plugin_dirs.push(existing_dir(
                base_dir,
                &dir,
                www.key("plugin_dirs").index(i),
            )?);
        }
    }
    for (name, limits) in raw.plugin_limits {
        let at = www.key("plugin_limits").key(&name);
        if !is_plugin_name(&name) {
            return Err(Fail::at_key(at, format!("'{name}' is not a plugin name")));
        }
        out.plugin_limits.insert(name, limits.resolve());
    }
    if let Some(mib) = raw.plugin_memory_mib {
        out.plugin_memory_bytes = mib.mib();
    }
    if let Some(dir) = raw.plugin_cache_dir {
        if dir.trim().is_empty() {
            return Err(Fail::at(www.key("plugin_cache_dir"), "must not be empty"));
        }
        out.plugin_cache_dir = Some(base_dir.join(dir));
    }
    if let Some(page) = raw.default_page {
        if page.trim().is_empty() {
            return Err(Fail::at(www.key("default_page"), "must not be empty"));
        }
        out.default_page = Some(page);
    }
    if let Some(v) = raw.debug {
        out.debug = v;
    }
    if let Some(origins) = raw.allowed_origins {
        for (i, origin) in origins.iter().enumerate() {
            let at = www.key("allowed_origins").index(i);
            if origin.trim().is_empty() {
                return Err(Fail::at(at, "an origin must not be empty"));
            }
            globset::Glob::new(origin)
                .map_err(|e| Fail::at(at, format!("invalid pattern '{origin}': {}", e.kind())))?;
        }
        out.allowed_origins = Some(origins);
    }
    if let Some(mut auth) = raw.auth {
        auth.validate(&www.key("auth"), base_dir)?;
        out.auth = auth;
    }
    if let Some(authz) = raw.authz {
        out.authz = authz.validate(&www.key("authz"))?;
    }
    if let Some(mut methods) = raw.avatar_methods {
        for (i, method) in methods.iter_mut().enumerate() {
            method.validate(&www.key("avatar_methods").index(i), base_dir)?;
        }
        out.avatar_methods = methods;
    }
    if let Some(name) = raw.logfile_name {
        out.logfile_name = if name.is_empty() { None } else { Some(name) };
    }
    if let Some(v) = raw.log_rotate_length {
        out.log_rotate_length = v;
    }
    if let Some(v) = raw.max_rotated_files {
        out.max_rotated_files = v;
    }
    if let Some(versions) = raw.versions {
        for (i, pair) in versions.into_iter().enumerate() {
            let at = www.key("versions").index(i);
            let [name, version]: [String; 2] = pair.try_into().map_err(|pair: Vec<String>| {
                Fail::at(
                    at.clone(),
                    match pair.len() {
                        1 => "expected a [name, version] pair, found 1 string".to_owned(),
                        n => format!("expected a [name, version] pair, found {n} strings"),
                    },
                )
            })?;
            if name.trim().is_empty() {
                return Err(Fail::at(at, "a component name must not be empty"));
            }
            out.versions.push((name, version));
        }
    }
    if let Some(dir) = raw.custom_templates_dir {
        out.custom_templates_dir = Some(existing_dir(
            base_dir,
            &dir,
            www.key("custom_templates_dir"),
        )?);
    }
    for (name, value) in raw.change_hook_dialects {
        let at = www.key("change_hook_dialects").key(&name);
        if !CHANGE_HOOK_DIALECTS.contains(&name.as_str()) {
            let mut fail =
                Fail::unknown_name(at, "change hook dialect", &name, CHANGE_HOOK_DIALECTS);
            fail.target = Target::Key;
            return Err(fail);
        }
        let options = match value {
            Value::Bool(false) => continue,
            Value::Bool(true) => Map::new(),
            Value::Object(map) => map,
            _ => {
                return Err(Fail::at(
                    at,
                    "expected true, false or a table of dialect options",
                ))
            }
        };
        out.change_hook_dialects
            .push(build_dialect(name, options, &at, base_dir)?);
    }
    if let Some(written) = raw.change_hook_auth {
        out.change_hook_auth = hooks::checkers(written, &www.key("change_hook_auth"), base_dir)?;
    }
    if let Some(v) = raw.change_hook_max_body_kib {
        out.limits.change_hook_max_body_bytes = v.kib();
    }
    if let Some(duration) = raw.cookie_expiration_time {
        out.cookie_expiration_time = duration
            .resolve()
            .map_err(|m| Fail::at(www.key("cookie_expiration_time"), m))?;
    }
    if let Some(map) = raw.ui_default_config {
        out.ui_default_config = map;
    }
    if let Some(v) = raw.ws_ping_interval {
        out.ws_ping_interval = v;
    }
    let known: Vec<&str> = THEME_DEFAULTS.iter().map(|(k, _)| *k).collect();
    for (key, value) in raw.theme {
        let at = www.key("theme").key(&key);
        let Some(slot) = out.theme.iter_mut().find(|(k, _)| *k == key) else {
            return Err(Fail::unknown_key(at, &known));
        };
        if value.trim().is_empty() {
            return Err(Fail::at(at, "a CSS value must not be empty"));
        }
        if let Some(bad) = value
            .chars()
            .find(|c| matches!(c, ';' | '{' | '}' | '<' | '>' | '\n' | '\r'))
        {
            return Err(Fail::at(
                at,
                format!("{bad:?} cannot appear in a CSS value"),
            ));
        }
        slot.1 = value;
    }
    let limits = &mut out.limits;
    if let Some(v) = raw.rest_max_limit {
        limits.rest_max_limit = v.get();
    }
    if let Some(v) = raw.max_query_args {
        limits.max_query_args = v.count();
    }
    if let Some(v) = raw.http_header_timeout_ms {
        limits.header_timeout = v.millis();
    }
    if let Some(v) = raw.http_body_timeout_ms {
        limits.body_timeout = v.millis();
    }
    if let Some(v) = raw.max_connections {
        limits.max_connections = v.count();
    }
    if let Some(v) = raw.ws_max_message_kib {
        limits.ws_max_message_bytes = v.kib();
    }
    if let Some(v) = raw.ws_max_subscriptions {
        limits.ws_max_subscriptions = v.count();
    }
    if let Some(v) = raw.sse_max_subscriptions {
        limits.sse_max_subscriptions = v.count();
    }
    if let Some(master) = raw.master {
        out.master = Some(master.validate(&www.key("master"))?);
    }
    if let Some(mib) = raw.rest_cache_mib {
        out.rest_cache_bytes = mib.mib();
    }
    if let Some(entries) = raw.trusted_proxies {
        out.trusted_proxies = crate::http::forwarded::TrustedProxies::parse(&entries)
            .map_err(|(i, message)| Fail::at(www.key("trusted_proxies").index(i), message))?;
    }
    if let Some(metrics) = raw.metrics {
        out.metrics = Some(metrics.validate(&www.key("metrics"), out.port.as_ref())?);
    }
    if let Some(ui) = raw.buildbot_ui {
        out.buildbot_ui = Some(ui.validate(&www.key("buildbot_ui"), base_dir)?);
    }
    if out.rest_default_limit > out.limits.rest_max_limit {
        return Err(Fail::at(
            www.key("rest_default_limit"),
            format!(
                "{} is above rest_max_limit ({}); raise rest_max_limit or lower this",
                out.rest_default_limit, out.limits.rest_max_limit
            ),
        ));
    }
    Ok(out)
}

fn build_dialect(
    name: String,
    options: Map<String, Value>,
    path: &KeyPath,
    base_dir: &Path,
) -> Result<ChangeHookDialect, Fail> {
    let mut dialect = ChangeHookDialect {
        name,
        options: Map::new(),
        secrets: Vec::new(),
    };
    for (key, value) in options {
        let at = path.key(&key);
        let source = SecretSource::written_as(&value);
        let secret = match (source, &value) {
            (Some(source), _) => Some(Secret::unresolved(source)),
            (None, Value::String(s)) if SECRET_HOOK_OPTIONS.contains(&key.as_str()) => {
                Some(Secret::new(s.clone()))
            }
            (None, _) if SECRET_HOOK_OPTIONS.contains(&key.as_str()) => {
                return Err(Fail::at(
                    at,
                    "expected a string, { env = \"NAME\" } or { file = \"path\" }",
                )
                .concealed())
            }
            _ => None,
        };
        match secret {
            Some(mut secret) => {
                secret.resolve(&at, base_dir)?;
                dialect.secrets.push((key, secret));
            }
            None => {
                dialect.options.insert(key, value);
            }
        }
    }
    Ok(dialect)
}

/// What one call into a plugin may use: `[www.plugin_limits.<name>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    /// `deadline_ms`: wall time one call may take, from its arrival, time in the queue included
    /// (default 1000).
    pub deadline: Duration,
    /// `memory_mib`: what one instance may allocate, all its linear memories and tables
    /// together (default 64).
    pub memory_bytes: usize,
    /// `response_mib`: the largest response, headers and body (default 16).
    pub response_bytes: usize,
    /// `max_concurrent`: calls of this plugin running at once (default: the number of cores,
    /// at least 2).
    pub max_concurrent: usize,
    /// `max_queued`: calls waiting for a free slot; more are answered 503 (default 32 per
    /// concurrent call).
    pub max_queued: usize,
    /// `max_data_reads`: Data API reads one call may make (default 200).
    pub max_data_reads: usize,
    /// `data_mib`: bytes all the Data API reads of one call may return (default 32).
    pub data_bytes: usize,
}

impl Default for PluginLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let max_concurrent = cores.max(2);
        PluginLimits {
            deadline: Duration::from_secs(1),
            memory_bytes: 64 << 20,
            response_bytes: 16 << 20,
            max_concurrent,
            max_queued: 32 * max_concurrent,
            max_data_reads: 200,
            data_bytes: 32 << 20,
        }
    }
}

/// The default of `plugin_memory_mib`: a quarter of the machine's memory (`/proc/meminfo`),
/// 1 GiB when that cannot be read.
fn default_plugin_memory() -> usize {
    let total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        });
    total_kib.map_or(1 << 30, |kib| (kib << 10) / 4)
}

/// `[www.plugin_limits.<name>]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPluginLimits {
    #[serde(default)]
    deadline_ms: Option<Bounded<1, 600_000>>,
    #[serde(default)]
    memory_mib: Option<Bounded<1, 4096>>,
    #[serde(default)]
    response_mib: Option<Bounded<1, 1024>>,
    #[serde(default)]
    max_concurrent: Option<Bounded<1, 1024>>,
    #[serde(default)]
    max_queued: Option<Bounded<0, 100_000>>,
    #[serde(default)]
    max_data_reads: Option<Bounded<0, 100_000>>,
    #[serde(default)]
    data_mib: Option<Bounded<1, 4096>>,
}

impl RawPluginLimits {
    fn resolve(self) -> PluginLimits {
        let mut limits = PluginLimits::default();
        if let Some(v) = self.deadline_ms {
            limits.deadline = v.millis();
        }
        if let Some(v) = self.memory_mib {
            limits.memory_bytes = v.mib();
        }
        if let Some(v) = self.response_mib {
            limits.response_bytes = v.mib();
        }
        if let Some(v) = self.max_concurrent {
            limits.max_concurrent = v.count();
            limits.max_queued = 32 * v.count();
        }
        if let Some(v) = self.max_queued {
            limits.max_queued = v.count();
        }
        if let Some(v) = self.max_data_reads {
            limits.max_data_reads = v.count();
        }
        if let Some(v) = self.data_mib {
            limits.data_bytes = v.mib();
        }
        limits
    }
}

/// Plugin names: letters, digits and `_`, not starting with a digit.
fn is_plugin_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn existing_dir(base_dir: &Path, dir: &str, at: KeyPath) -> Result<PathBuf, Fail> {
    if dir.trim().is_empty() {
        return Err(Fail::at(at, "must not be empty"));
    }
    let full = base_dir.join(dir);
    if !full.is_dir() {
        return Err(Fail::at(at, format!("'{dir}' is not a directory")));
    }
    Ok(full)
}

/// A quick check that `url` is an absolute http(s) URL with a host.
pub(crate) fn check_http_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("'{url}' is not an http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("'{url}' has no host"));
    }
    if url.chars().any(char::is_whitespace) {
        return Err(format!("'{url}' contains spaces"));
    }
    Ok(())
}

/// `cookie_expiration_time` as written: seconds, or a string such as `"2w"` or `"1d12h"`.
#[derive(Debug, Clone)]
enum RawDuration {
    Seconds(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = RawDuration;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number of seconds or a duration such as \"2w\", \"7d\" or \"12h\"")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawDuration, E> {
                Ok(RawDuration::Seconds(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawDuration, E> {
                Ok(RawDuration::Seconds(i64::try_from(v).unwrap_or(i64::MAX)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration::Text(v.to_owned()))
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

impl RawDuration {
    fn resolve(&self) -> Result<Duration, String> {
        let seconds = match self {
            RawDuration::Seconds(n) if *n < 0 => {
                return Err(format!("must not be negative, found {n}"))
            }
            RawDuration::Seconds(n) => n.unsigned_abs(),
            RawDuration::Text(text) => parse_duration(text)?,
        };
        if seconds == 0 {
            return Err("must be longer than 0 seconds".to_owned());
        }
        Ok(Duration::from_secs(seconds))
    }
}

/// Parses `"2w"`, `"7d"`, `"12h"`, `"30m"`, `"45s"`, sums such as `"1d12h"`, or plain seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "'{text}' is not a duration; write seconds (3600) or a number with a unit: w, d, h, m, s (\"2w\", \"1d12h\")"
        )
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = trimmed.parse::<u64>() {
        return Ok(n);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in trimmed.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        if c == ' ' && number.is_empty() {
            continue;
        }
        let unit = match c {
            'w' => 7 * 24 * 3600,
            'd' => 24 * 3600,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("'{text}' is too long"))?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// Deserializes a TOML table into `(key, value)` pairs in file order.
pub(crate) fn ordered_map<'de, D, V>(deserializer: D) -> Result<Vec<(String, V)>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct OrderedVisitor<V>(PhantomData<V>);

    impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
        type Value = Vec<(String, V)>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a table")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((key, value)) = map.next_entry::<String, V>()? {
                out.push((key, value));
            }
            Ok(out)
        }
    }

    deserializer.deserialize_map(OrderedVisitor(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serde structs are where a key is declared: the reference follows them.
    #[test]
    fn every_key_is_declared_once_and_documented() {
        let www = keys::field_names::<RawWww>();
        assert!(
            www.contains(&"port") && www.contains(&"logfileName"),
            "{www:?}"
        );
        let docs = include_str!("../../../docs/configuration.md");
        let tables = [
            ("top level", keys::field_names::<RawConfig>()),
            ("[db]", keys::field_names::<RawDb>()),
            ("[www]", www),
            (
                "[www.plugin_limits.<name>]",
                keys::field_names::<RawPluginLimits>(),
            ),
            ("[www.master]", keys::field_names::<master::RawMaster>()),
            ("[www.metrics]", keys::field_names::<metrics::RawMetrics>()),
            (
                "[www.buildbot_ui]",
                keys::field_names::<buildbot_ui::RawBuildbotUi>(),
            ),
        ];
        for (table, keys) in tables {
            for key in keys {
                // a key, or a table's heading
                let forms = [
                    format!("`{key}`"),
                    format!("`[{key}]`"),
                    format!("`[[{key}]]`"),
                ];
                assert!(
                    forms.iter().any(|form| docs.contains(form.as_str())),
                    "{table} key {key} is missing from docs/configuration.md"
                );
            }
        }
    }

    fn ok(text: &str) -> Config {
        match parse(text, Path::new("master.toml")) {
            Ok(config) => config,
            Err(err) => panic!("{err}"),
        }
    }

    fn err(text: &str) -> String {
        match parse(text, Path::new("master.toml")) {
            Ok(_) => panic!("config was accepted:\n{text}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn empty_config_has_the_defaults() {
        let c = ok("");
        assert_eq!(c.buildbot_url, "http://localhost:8010/");
        assert_eq!(c.title, "Buildbot");
        assert_eq!(c.title_url, "http://buildbot.net/");
        assert_eq!(c.db.db_url, "sqlite:///state.sqlite");
        assert_eq!(c.base_dir, PathBuf::from("."));
        let w = &c.www;
        assert!(w.port.is_none());
        assert_eq!(w.rest_default_limit, 1000);
        assert_eq!(w.logfile_name.as_deref(), Some("http.log"));
        assert_eq!(w.log_rotate_length, 10_000_000);
        assert_eq!(w.max_rotated_files, 10);
        assert_eq!(w.cookie_expiration_time, Duration::from_secs(604_800));
        assert_eq!(w.theme.len(), 12);
        assert_eq!(w.theme[0].0, "bb-sidebar-background-color");
        assert!(matches!(w.auth, Auth::NoAuth {}));
        assert_eq!(w.avatar_methods.len(), 1);
        assert!(c.forceschedulers.is_empty());
        assert_eq!(c.http_log_path(), Some(PathBuf::from("./http.log")));
    }

    #[test]
    fn reads_the_www_keys() {
        let c = ok(r##"
buildbotURL = "https://ci.example.com/bb"
[www]
port = "tcp:8010:interface=127.0.0.1"
json_cache_seconds = 30
logfileName = ""
cookie_expiration_time = "1d12h"
versions = [["master.cfg", "0.1"], ["OS", "Ubuntu"]]
theme = { bb-sidebar-stripe-current-color = "#123456" }
[www.plugins]
waterfall_view = true
console_view = false
badges = { left_color = "#222" }
grid_view = {}
[www.change_hook_dialects]
base = true
github = { secret = "s3cret", strict = true }
"##);
        assert_eq!(c.buildbot_url, "https://ci.example.com/bb/");
        let w = &c.www;
        let port = w.port.as_ref().unwrap();
        assert_eq!((port.host.as_str(), port.port), ("127.0.0.1", 8010));
        assert_eq!(w.json_cache_seconds, 30);
        assert_eq!(w.logfile_name, None);
        assert_eq!(w.cookie_expiration_time, Duration::from_secs(36 * 3600));
        assert_eq!(w.versions[1], ("OS".to_owned(), "Ubuntu".to_owned()));
        assert_eq!(w.theme[11].1, "#123456");
        let names: Vec<&str> = w.plugins.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["waterfall_view", "badges", "grid_view"]);
        assert_eq!(w.plugin("badges").unwrap()["left_color"], "#222");
        assert_eq!(w.plugin("waterfall_view").unwrap(), &serde_json::json!({}));
        let github = w.change_hook_dialect("github").unwrap();
        assert_eq!(github.secret("secret").unwrap().expose(), "s3cret");
        assert_eq!(github.options["strict"], true);
        assert!(!github.options.contains_key("secret"));
    }

    #[test]
    fn datetimes_reach_plugins_hooks_and_ui_settings_as_text() {
        let c = ok("[www]\nui_default_config = { since = 1979-05-27 }\n\
                    [www.plugins.badges]\nwhen = [1979-05-27T07:32:00Z]\n\
                    [www.change_hook_dialects.base]\nat = 07:32:00\n");
        assert_eq!(c.www.ui_default_config["since"], "1979-05-27");
        assert_eq!(
            c.www.plugin("badges").unwrap()["when"][0],
            "1979-05-27T07:32:00Z"
        );
        assert_eq!(
            c.www.change_hook_dialect("base").unwrap().options["at"],
            "07:32:00"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2w"), Ok(14 * 24 * 3600));
        assert_eq!(parse_duration("45s"), Ok(45));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("3600"), Ok(3600));
        assert!(parse_duration("2 weeks").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("12").is_ok());
    }

    #[test]
    fn unknown_keys_get_suggestions() {
        let e = err("[www]\njsn_cache_seconds = 3\n");
        assert!(
            e.starts_with("master.toml:2:1: error: unknown key 'jsn_cache_seconds' in [www]; did you mean 'json_cache_seconds'?"),
            "{e}"
        );
        let e = err("port = 8010\n");
        assert!(e.contains("it belongs in the [www] table"), "{e}");
        let e = err("[www.auth]\ntype = \"GitHubAuth\"\nclientId = \"x\"\nclientSecret = \"y\"\nserverUrl = \"https://x\"\n");
        assert!(
            e.starts_with("master.toml:5:1: error: unknown key 'serverUrl' in [www.auth]; did you mean 'serverURL'?"),
            "{e}"
        );
    }

    #[test]
    fn wrong_types_name_the_key() {
        let e = err("[www]\njson_cache_seconds = \"x\"\n");
        assert!(
            e.starts_with("master.toml:2:22: error: [www] json_cache_seconds: expected a non-negative integer, found string \"x\""),
            "{e}"
        );
        let e = err("[www]\nws_ping_interval = -5\n");
        assert!(
            e.contains("[www] ws_ping_interval: must not be negative, found integer -5"),
            "{e}"
        );
    }

    #[test]
    fn tagged_enums_point_at_the_tag() {
        let e = err("[www.auth]\ntype = \"GitHubAuht\"\n");
        assert!(
            e.starts_with("master.toml:2:8: error: [www.auth] type: unknown type 'GitHubAuht'; did you mean 'GitHubAuth'?"),
            "{e}"
        );
        let e =
            err("[www.authz]\nallowRules = [{ matcher = \"AnyEndpoint\", role = \"admins\" }]\n");
        assert!(e.contains("[www.authz] allowRules[0].matcher: unknown matcher 'AnyEndpoint'; did you mean 'AnyEndpointMatcher'?"), "{e}");
        let e = err(
            "[www.authz]\nallowRules = [{ matcher = \"AnyEndpointMatcher\", role = \"adm[ins\" }]\n",
        );
        assert!(
            e.contains("[www.authz] allowRules[0].role: invalid pattern 'adm[ins'"),
            "{e}"
        );
    }

    #[test]
    fn checks_cross_values() {
        assert!(err("buildbotURL = \"ftp://x/\"\n")
            .contains("buildbotURL: 'ftp://x/' is not an http:// or https:// URL"));
        assert!(err("[www]\nallowed_origins = [\"\"]\n")
            .contains("[www] allowed_origins[0]: an origin must not be empty"));
        assert!(err("[www]\nrest_default_limit = 0\n").contains("must be at least 1"));
        assert!(err("[www.plugins]\n\"my-view\" = true\n").contains("is not a plugin name"));
        assert!(err("[www.plugins]\nbadges = 3\n").contains("expected true, false or a table"));
        assert!(
            err("[www.theme]\nbb-sidebar-title-text-color = \"red;}\"\n")
                .contains("cannot appear in a CSS value")
        );
        assert!(err("[www.change_hook_dialects]\ngithbu = {}\n")
            .contains("unknown change hook dialect 'githbu'; did you mean 'github'?"));
        assert!(err("[www]\ncookie_expiration_time = 0\n").contains("longer than 0"));
    }

    #[test]
    fn auth_forms() {
        let c = ok(r#"
[www.auth]
type = "UserPasswordAuth"
users = { homer = "doh!", marge = "hmm" }
[www.authz]
allowRules = [
  { matcher = "StopBuildEndpointMatcher", role = "owner" },
  { matcher = "ForceBuildEndpointMatcher", role = "users", builder = "linux-*" },
  { matcher = "AnyControlEndpointMatcher", role = "admins", defaultDeny = false },
]
roleMatchers = [
  { type = "RolesFromOwner", role = "owner" },
  { type = "RolesFromUsername", roles = ["admins"], usernames = ["homer"] },
  { type = "RolesFromEmails", roles = { admins = ["homer@example.com"] } },
]
"#);
        let Auth::UserPasswordAuth(up) = &c.www.auth else {
            panic!("{:?}", c.www.auth)
        };
        assert_eq!(up.users[0].0, "homer");
        assert!(up.users[0].1.matches(b"doh!"));
        let rules = &c.www.authz.allow_rules;
        assert_eq!(
            rules[1].matcher,
            EndpointMatcher::ForceBuild {
                builder: Some("linux-*".into())
            }
        );
        assert!(rules[0].default_deny);
        assert!(!rules[2].default_deny);
        assert_eq!(c.www.authz.role_matchers.len(), 3);
        assert!(format!("{:?}", c.www.auth).contains("***"));
        assert!(!format!("{:?}", c.www.auth).contains("doh!"));
    }

    #[test]
    fn remote_user_regex_is_checked() {
        let c = ok("[www.auth]\ntype = \"RemoteUserAuth\"\n");
        let Auth::RemoteUserAuth(r) = &c.www.auth else {
            panic!()
        };
        assert_eq!(r.header, "REMOTE_USER");
        let caps = r
            .header_regex
            .regex()
            .captures("homer@EXAMPLE.COM")
            .unwrap();
        assert_eq!(&caps["username"], "homer");
        let e = err("[www.auth]\ntype = \"RemoteUserAuth\"\nheaderRegex = \"(?P<user>.*)\"\n");
        assert!(
            e.contains(
                "[www.auth] headerRegex: the regular expression needs a group named 'username'"
            ),
            "{e}"
        );
        let e = err("[www.auth]\ntype = \"RemoteUserAuth\"\nheaderRegex = \"(\"\n");
        assert!(
            e.contains("[www.auth] headerRegex: invalid regular expression"),
            "{e}"
        );
    }

    #[test]
    fn limits_have_defaults_ranges_and_messages() {
        let limits = ok("").www.limits;
        assert_eq!(limits, Limits::default());
        assert_eq!(limits.rest_max_limit, 10_000);
        assert_eq!(limits.header_timeout, Duration::from_secs(10));
        let c = ok(
            "[www]\nrest_max_limit = 50\nrest_default_limit = 50\nhttp_header_timeout_ms = 250\n\
                    http_body_timeout_ms = 900\nmax_connections = 7\nws_max_message_kib = 2\n\
                    ws_max_subscriptions = 3\nsse_max_subscriptions = 4\nmax_query_args = 5\n",
        );
        let l = c.www.limits;
        assert_eq!(
            (
                l.rest_max_limit,
                l.header_timeout,
                l.body_timeout,
                l.max_connections
            ),
            (
                50,
                Duration::from_millis(250),
                Duration::from_millis(900),
                7
            )
        );
        assert_eq!(
            (
                l.ws_max_message_bytes,
                l.ws_max_subscriptions,
                l.sse_max_subscriptions
            ),
            (2048, 3, 4)
        );
        assert_eq!(l.max_query_args, 5);
        let e = err("[www]\nmax_connections = 0\n");
        assert!(
            e.starts_with("master.toml:2:19: error: [www] max_connections: must be between 1 and 1000000, found 0"),
            "{e}"
        );
        let e = err("[www]\nhttp_body_timeout_ms = 3600001\n");
        assert!(
            e.contains("must be between 1 and 3600000, found 3600001"),
            "{e}"
        );
        let e = err("[www]\nrest_max_limit = -1\n");
        assert!(
            e.contains("[www] rest_max_limit: must not be negative"),
            "{e}"
        );
        let e = err("[www]\nrest_max_limit = 500\n");
        assert!(
            e.contains("[www] rest_default_limit: 1000 is above rest_max_limit (500)"),
            "{e}"
        );
        let e = err("[www.plugin_limits.badges]\nmemory_mib = 5000\n");
        assert!(
            e.starts_with("master.toml:2:14: error: [www.plugin_limits.badges] memory_mib: must be between 1 and 4096, found 5000"),
            "{e}"
        );
        let e = err("[www]\nplugin_memory_mib = 8\n");
        assert!(
            e.contains("[www] plugin_memory_mib: must be between 16 and 1048576, found 8"),
            "{e}"
        );
        let c = ok("[www]\nplugin_memory_mib = 16\n[www.plugin_limits.badges]\nmax_concurrent = 3\nmax_queued = 0\n");
        assert_eq!(c.www.plugin_memory_bytes, 16 << 20);
        let badges = c.www.plugin_limits["badges"];
        assert_eq!((badges.max_concurrent, badges.max_queued), (3, 0));
        let e = err("[www]\nws_max_subscription = 5\n");
        assert!(e.contains("did you mean 'ws_max_subscriptions'?"), "{e}");
    }

    #[test]
    fn plugin_secrets_are_resolved_for_the_plugin_and_kept_from_the_public_view() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.txt"), "k3y\n").unwrap();
        let text = "[www.plugins.badges]\nleft_text = \"ci\"\nkey = { file = \"key.txt\" }\n\
                    deep = { inner = { file = \"key.txt\" }, kept = [1, { file = \"key.txt\" }] }\n";
        let c = parse(text, &dir.path().join("master.toml")).unwrap();
        let settings = c.www.plugin("badges").unwrap();
        assert_eq!(settings["key"], "k3y");
        assert_eq!(settings["deep"]["inner"], "k3y");
        assert_eq!(settings["deep"]["kept"][1], "k3y");
        assert_eq!(
            c.www.plugins_public,
            vec![(
                "badges".to_owned(),
                serde_json::json!({"left_text": "ci", "deep": {"kept": [1]}})
            )]
        );
        let e = err("[www.plugins.badges]\nkey = { file = \"surely-missing.txt\" }\n");
        assert!(
            e.contains("[www.plugins.badges] key: cannot read secret file 'surely-missing.txt'"),
            "{e}"
        );
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let e = err("[www\nport = 1\n");
        assert!(e.starts_with("master.toml:1:5: error: invalid TOML"), "{e}");
    }
}
