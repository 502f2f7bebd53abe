//! The badges plugin: `/plugins/badges/<builder>.svg` and `.png`, the status of a builder's
//! last build as Buildbot 4.3's `buildbot-badges` draws it, or (`?kind=`) the last finished
//! build's duration or the pass rate of the last N finished builds. See `docs/badges.md`.
//!
//! A request costs at most one Data API read (the builder's last builds, a few fields; none
//! when the same reader asked within a second) and a lookup in this instance's render cache;
//! a badge is drawn (template, then resvg for PNG) only the first time an instance sees its
//! (text, colour, options, template) combination.

pub mod color;
pub mod fonts;
pub mod kinds;
pub mod metrics;
pub mod options;
pub mod render;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use buildbot_plugin_sdk::prelude::*;

use crate::fonts::Fonts;
use crate::kinds::{Found, Kind};
use crate::options::{Options, STYLES};
use crate::render::{Source, Templates};

/// Where the server mounts the operator's `templates/` folder in the sandbox.
pub const TEMPLATES_DIR: &str = "/templates";
/// Rendered badges kept per instance and format.
pub const CACHE_ENTRIES: usize = 256;
/// How long an instance reuses what it read of a builder (status, duration, pass rate)
/// before reading it again.
pub const STATUS_TTL_MS: u64 = 1_000;
/// Readings kept per instance.
pub const STATUS_ENTRIES: usize = 1_024;

/// The plugin: the configured options and this instance's caches.
pub struct Badges {
    options: Options,
    fonts: Fonts,
    state: Mutex<State>,
}

impl std::fmt::Debug for Badges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Badges")
            .field("options", &self.options)
            .finish()
    }
}

struct State {
    templates: Templates,
    svg: Cache,
    png: Cache,
    /// Recent readings by (reader, builder, kind, N), with the time they were read.
    readings: HashMap<String, (Found, u64)>,
}

impl Plugin for Badges {
    fn manifest() -> Manifest {
        Manifest::new("badges", env!("CARGO_PKG_VERSION")).description(
            "Badges of builders: /plugins/badges/<builder>.svg or .png, the last build's status, or \
             with ?kind= the last duration or the pass rate",
        )
    }

    fn init(config: Config) -> Result<Self, String> {
        let badges = Badges::new(Options::from_config(&config)?, TEMPLATES_DIR);
        // The configured template must exist now: built in, or in the templates folder.
        let name = badges.options.template_file();
        let found = badges.lock().templates.source(&name, now_ms());
        if found.is_none() {
            return Err(config.error(unknown_template(&badges.options)));
        }
        // Parse the bundled font and build its drawing database now, so that the first PNG
        // of each instance costs what the others do.
        badges.fonts.dejavu().database();
        Ok(badges)
    }

    fn routes() -> Routes<Self> {
        Routes::new().get("/{badge}", Badges::answer)
    }

    fn handle(&mut self, request: &Request) -> Result<Response, Error> {
        // A builder's name may hold `/` (asked for as `%2F`, which the server decodes), and a
        // `{badge}` is one path segment: the routes see the name with its `%` and `/` encoded,
        // and `answer` decodes them. (The SDK's patterns have no rest-of-the-path segment.)
        let path = request.path.strip_prefix('/').unwrap_or(&request.path);
        let routed = Request {
            path: format!("/{}", path.replace('%', "%25").replace('/', "%2F")),
            ..request.clone()
        };
        let answer = Self::routes().dispatch(self, &routed)?;
        // Buildbot's badges list the methods as `HEAD, GET` (compatibility.md).
        Ok(if answer.status == 405 {
            answer.with_header("allow", "HEAD, GET")
        } else {
            answer
        })
    }
}

impl Badges {
    /// `/<builder>.svg` or `/<builder>.png`.
    fn answer(&mut self, request: &Request, params: &Params) -> Result<Response, Error> {
        let file = decode_segment(params.get("badge").unwrap_or_default());
        let (builder, format) = parse_file(&file).ok_or_else(|| Error::not_found("not found"))?;
        Ok(self
            .badge(request, builder, format)
            .unwrap_or_else(|response| response)
            .with_header("cache-control", "no-cache"))
    }
}

/// A path segment as `Badges::handle` encoded it, decoded: `%2F` is `/`, `%25` is `%`.
fn decode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    let mut rest = segment;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at..at + 3);
        out.push(if code == Some("%2F") { '/' } else { '%' });
        rest = &rest[(at + 3).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// The two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `image/svg+xml`
    Svg,
    /// `image/png`
    Png,
}

/// `<builder>.svg` or `<builder>.png` (percent-decoded; the builder is what is left, and may
/// contain anything, `/` included).
fn parse_file(rest: &str) -> Option<(&str, Format)> {
    let (name, format) = if let Some(name) = rest.strip_suffix(".svg") {
        (name, Format::Svg)
    } else {
        (rest.strip_suffix(".png")?, Format::Png)
    };
    (!name.is_empty()).then_some((name, format))
}

/// A drawn badge and its entity tag.
#[derive(Debug)]
struct Rendered {
    body: Vec<u8>,
    etag: String,
}

impl Rendered {
    fn new(body: Vec<u8>) -> Arc<Rendered> {
        let etag = format!("\"{:016x}\"", render::fnv1a(&body));
        Arc::new(Rendered { body, etag })
    }
}

/// A bounded map of rendered badges; the least recently used one goes when it is full.
struct Cache {
    entries: HashMap<String, (Arc<Rendered>, u64)>,
    tick: u64,
}

impl Cache {
    fn new() -> Cache {
        Cache {
            entries: HashMap::new(),
            tick: 0,
        }
    }

    fn get(&mut self, key: &str) -> Option<Arc<Rendered>> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|(rendered, used)| {
            *used = tick;
            rendered.clone()
        })
    }

    fn insert(&mut self, key: String, rendered: Arc<Rendered>) {
        if self.entries.len() >= CACHE_ENTRIES {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.tick += 1;
        self.entries.insert(key, (rendered, self.tick));
    }
}

impl Badges {
    /// The plugin with these options, reading custom templates from `templates_dir`.
    pub fn new(options: Options, templates_dir: impl Into<PathBuf>) -> Badges {
        Badges {
            options,
            fonts: Fonts::default(),
            state: Mutex::new(State {
                templates: Templates::new(templates_dir),
                svg: Cache::new(),
                png: Cache::new(),
                readings: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn badge(
        &self,
        request: &Request,
        builder: &str,
        format: Format,
    ) -> Result<Response, Response> {
        let mut options = self
            .options
            .with_args(&request.query_params())
            .map_err(bad_request)?;
        let template = options.template_file();
        let now = now_ms();
        let mut state = self.lock();
        let source = state
            .templates
            .source(&template, now)
            .ok_or_else(|| bad_request(unknown_template(&options)))?;
        if source == Source::Builtin {
            // The built-in templates use no extra arguments: cache busters share the entry.
            options.extras.clear();
        }
        let found = cached_reading(&mut state.readings, &request.user, builder, &options, now)?;
        let started = std::time::Instant::now();
        let right = (found.reading.text(), found.reading.color(&options));
        let (rendered, drawn) =
            self.rendered(&mut state, &options, source, (&right.0, right.1), format)?;
        drop(state);

        let content_type = match format {
            Format::Svg => "image/svg+xml",
            Format::Png => "image/png",
        };
        let mut response = if if_none_match(request.header("if-none-match"), &rendered.etag) {
            Response::new(304)
        } else {
            Response::bytes(content_type, rendered.body.clone())
        };
        response = response.with_header("etag", rendered.etag.clone());
        if drawn {
            // Only when this request drew the badge: how long that took (benchmarks read it).
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            response = response.with_header("server-timing", format!("draw;dur={ms:.3}"));
        }
        if let Some(at) = found.changed_at {
            response = response.with_header("last-modified", http_date(at));
        }
        Ok(response)
    }

    /// The badge from the cache, drawn when it is not there (then `true`).
    fn rendered(
        &self,
        state: &mut State,
        options: &Options,
        source: Source,
        right: (&str, &str),
        format: Format,
    ) -> Result<(Arc<Rendered>, bool), Response> {
        let key = format!(
            "{}\u{2}{}\u{2}{source:?}\u{2}{}\u{2}{}",
            right.0,
            right.1,
            options.template_file(),
            options.key()
        );
        if format == Format::Png {
            if let Some(hit) = state.png.get(&key) {
                return Ok((hit, false));
            }
        }
        let svg = match state.svg.get(&key) {
            Some(hit) if format == Format::Svg => return Ok((hit, false)),
            Some(hit) => hit,
            None => {
                let face = self.fonts.face(&options.font_face);
                let text = state
                    .templates
                    .svg(&options.template_file(), options, right, &face)
                    .map_err(render_error)?;
                let rendered = Rendered::new(text.into_bytes());
                state.svg.insert(key.clone(), rendered.clone());
                rendered
            }
        };
        if format == Format::Svg {
            return Ok((svg, true));
        }
        let face = self.fonts.face(&options.font_face);
        let text = std::str::from_utf8(&svg.body).unwrap_or_default();
        let png = Rendered::new(render::png(text, &face).map_err(render_error)?);
        state.png.insert(key, png.clone());
        Ok((png, true))
    }
}

/// [`kinds::read`] through the instance's cache: a reading less than [`STATUS_TTL_MS`] old
/// of the same builder, kind and N (for `pass_rate`) by the same kind of reader (anonymous, or
/// the same user and groups, since reads are made with the requester's rights) is reused.
fn cached_reading(
    readings: &mut HashMap<String, (Found, u64)>,
    user: &User,
    builder: &str,
    options: &Options,
    now: u64,
) -> Result<Found, Response> {
    let builds = if options.kind == Kind::PassRate {
        options.builds
    } else {
        0
    };
    let mut key = String::with_capacity(builder.len() + 32);
    if !user.anonymous {
        key.push_str(&user.username);
        for group in &user.groups {
            key.push('\u{2}');
            key.push_str(group);
        }
    }
    key.push('\u{1}');
    key.push_str(options.kind.name());
    key.push('\u{1}');
    key.push_str(&builds.to_string());
    key.push('\u{1}');
    key.push_str(builder);
    if let Some((found, at)) = readings.get(&key) {
        if now.saturating_sub(*at) < STATUS_TTL_MS {
            return Ok(found.clone());
        }
    }
    let found = kinds::read(builder, options.kind, options.builds)
        .map_err(|e| Response::error(e.code, e.message + "\n"))?;
    if readings.len() >= STATUS_ENTRIES {
        readings.retain(|_, (_, at)| now.saturating_sub(*at) < STATUS_TTL_MS);
        if readings.len() >= STATUS_ENTRIES {
            readings.clear();
        }
    }
    readings.insert(key, (found.clone(), now));
    Ok(found)
}

fn render_error(error: render::Error) -> Response {
    match error {
        render::Error::BadRequest(message) => bad_request(message),
        render::Error::Template(message) => {
            log::error!("{message}");
            Response::error(500, format!("badges: {message}\n"))
        }
    }
}

fn bad_request(message: String) -> Response {
    Response::error(400, format!("bad badge request: {message}\n"))
}

fn unknown_template(options: &Options) -> String {
    let file = options.template_file();
    if options.template_name.contains("{style}") {
        format!(
            "unknown style '{}' (built in: {}; or put a template {file} in the templates folder \
             next to the config)",
            options.style,
            STYLES.join(", ")
        )
    } else {
        format!("no template {file} (built in: {}; or put it in the templates folder next to the config)",
            STYLES.map(|s| format!("{s}.svg.j2")).join(", "))
    }
}

/// Whether `If-None-Match` names `etag` (weak comparison, as for GET) or is `*`.
fn if_none_match(header: Option<&str>, etag: &str) -> bool {
    header.is_some_and(|value| {
        value
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
    })
}

/// An HTTP date (IMF-fixdate) of Unix time `secs`.
pub fn http_date(secs: i64) -> String {
    buildbot_plugin_sdk::time::UtcTime::from_unix(secs).http_date()
}

register_plugin!(Badges);

#[cfg(test)]
mod tests;
