//! The badge options: Buildbot's defaults, the operator's `[www.plugins.badges]`, and the URL
//! arguments that override them per request. Everything is validated here; what passes can be
//! written into an SVG without further escaping.

use std::collections::BTreeMap;
use std::fmt;

use buildbot_plugin_sdk::serde::de::{self, Visitor};
use buildbot_plugin_sdk::serde::{Deserialize, Deserializer};
use buildbot_plugin_sdk::{escape_html, Config};

use crate::color;
use crate::kinds::{Kind, DEFAULT_BUILDS, KINDS, MAX_BUILDS};

/// The built-in styles, each a template `<style>.svg.j2` embedded in the component.
pub const STYLES: [&str; 4] = ["plastic", "flat", "flat-square", "badgeio"];

/// What the right part can say, and so the keys `color_scheme` takes.
pub const STATUSES: [&str; 9] = [
    "success",
    "warnings",
    "failure",
    "skipped",
    "exception",
    "retry",
    "cancelled",
    "running",
    "unknown",
];

/// The colour of a status the scheme does not name (Buildbot's fallback, "lightgrey").
pub const FALLBACK_COLOR: &str = "#9f9f9f";

/// The longest `left_text`, in characters.
pub const MAX_TEXT_CHARS: usize = 100;
/// The longest value of any other URL argument, in characters.
pub const MAX_ARG_CHARS: usize = 200;
/// The most URL arguments a request may carry.
pub const MAX_ARGS: usize = 32;
/// The largest pad and border radius, in pixels.
pub const MAX_PAD: f64 = 100.0;
/// The largest font size, in pixels.
pub const MAX_FONT_SIZE: i64 = 100;

/// A number as the configuration or the URL gave it: integers stay integers, so a template
/// prints `5`, not `5.0`, as Buildbot's Jinja does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// A whole number.
    Int(i64),
    /// Any other finite number.
    Float(f64),
}

impl Num {
    /// The value as a float.
    pub fn get(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The value for templates.
    pub fn value(self) -> minijinja::Value {
        match self {
            Num::Int(i) => minijinja::Value::from(i),
            Num::Float(f) => minijinja::Value::from(f),
        }
    }

    /// Parses a URL argument: an integer, or a finite decimal number.
    fn parse(text: &str) -> Option<Num> {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Num::Int(i));
        }
        // Rust also parses "inf" and "NaN"; only plain decimal numbers are numbers here.
        let plain = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
        match text.parse::<f64>() {
            Ok(f) if plain && f.is_finite() => Some(Num::Float(f)),
            _ => None,
        }
    }
}

/// A number in the config: an integer or a finite number.
impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Num, D::Error> {
        struct Number;
        impl Visitor<'_> for Number {
            type Value = Num;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Num, E> {
                Ok(Num::Int(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Num, E> {
                i64::try_from(value)
                    .map(Num::Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(value), &self))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Num, E> {
                if value.is_finite() {
                    Ok(Num::Float(value))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(value), &self))
                }
            }
        }
        deserializer.deserialize_any(Number)
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x:?}"),
        }
    }
}

/// The effective options of one badge; each field but `extras` is the option of its name in
/// `[www.plugins.badges]` and in the URL.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(crate = "buildbot_plugin_sdk::serde", deny_unknown_fields, default)]
pub struct Options {
    /// Space around the left text (the text is centred in its width plus this).
    pub left_pad: Num,
    /// The left text, as given (not escaped).
    pub left_text: String,
    /// The left part's colour, normalised (`#` added).
    pub left_color: String,
    /// Space around the right text.
    pub right_pad: Num,
    /// `rx` of the rounded styles.
    pub border_radius: Num,
    /// The style, substituted for `{style}` in `template_name`.
    pub style: String,
    /// The template's file name pattern, `{style}.svg.j2` by default.
    pub template_name: String,
    /// The font family the texts are measured (and the PNG drawn) with.
    pub font_face: String,
    /// The font size in pixels, a whole number.
    pub font_size: Num,
    /// Colour of the right part per status; statuses not listed get [`FALLBACK_COLOR`].
    pub color_scheme: BTreeMap<String, String>,
    /// What the badge shows; URL only (`kind=duration`), see [`Kind`].
    #[serde(skip)]
    pub kind: Kind,
    /// How many finished builds a `pass_rate` badge counts, 1 to [`MAX_BUILDS`].
    pub builds: i64,
    /// URL arguments that are not options (by name, escaped): Buildbot hands every argument to
    /// the template as `config.<name>`, so custom templates can take parameters of their own.
    /// They are dropped for the built-in templates, which do not use them.
    #[serde(skip)]
    pub extras: BTreeMap<String, String>,
}

impl Default for Options {
    fn default() -> Options {
        let scheme = [
            ("exception", "#007ec6"),
            ("failure", "#e05d44"),
            ("retry", "#007ec6"),
            ("running", "#007ec6"),
            // Buildbot writes "a4a61d", an invalid colour; the '#' is added here.
            ("skipped", "#a4a61d"),
            ("success", "#4c1"),
            ("unknown", "#9f9f9f"),
            ("warnings", "#dfb317"),
        ];
        Options {
            left_pad: Num::Int(5),
            left_text: "Build Status".into(),
            left_color: "#555".into(),
            right_pad: Num::Int(5),
            border_radius: Num::Int(5),
            style: "plastic".into(),
            template_name: "{style}.svg.j2".into(),
            font_face: "DejaVu Sans".into(),
            font_size: Num::Int(11),
            color_scheme: scheme
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            kind: Kind::Status,
            builds: DEFAULT_BUILDS,
            extras: BTreeMap::new(),
        }
    }
}

/// Where [`Options::set`] takes an option's value from.
#[derive(Clone, Copy)]
enum Raw<'a> {
    /// The value already in the field, from the config (its type checked by serde).
    Configured,
    /// A URL argument's text.
    Text(&'a str),
}

impl Raw<'_> {
    fn text(self, current: &str) -> String {
        match self {
            Raw::Configured => current.to_owned(),
            Raw::Text(t) => t.to_owned(),
        }
    }

    fn num(self, name: &str, current: Num) -> Result<Num, String> {
        match self {
            Raw::Configured => Ok(current),
            Raw::Text(t) => Num::parse(t)
                .ok_or_else(|| format!("{name} must be a number, not {:?}", shorten(t))),
        }
    }
}

impl Options {
    /// The defaults with the plugin's config applied; the error names the bad option.
    pub fn from_config(config: &Config) -> Result<Options, String> {
        if config.values().contains_key("kind") {
            // One kind for every badge would make `/<builder>.svg` mean something else on
            // each server: the kind belongs to the badge's URL.
            return Err(config.error(
                "option 'kind' cannot be set in [www.plugins.badges]: a badge's kind is chosen \
                 in its URL (kind=duration, kind=pass_rate)",
            ));
        }
        let mut options: Options = config.parse()?;
        // A configured scheme names some statuses; the others keep Buildbot's colours.
        for (status, colour) in Options::default().color_scheme {
            options.color_scheme.entry(status).or_insert(colour);
        }
        // The values the operator gave, checked as a URL argument's would be.
        for name in config.values().keys() {
            options.set(name, Raw::Configured).map_err(|e| {
                let detail = e.strip_prefix(name.as_str()).unwrap_or(&e);
                config.error(format_args!("option '{name}'{detail}"))
            })?;
        }
        Ok(options)
    }

    /// These options overridden by a request's URL arguments (already percent-decoded; the
    /// first of repeated arguments wins, as in Buildbot). The error is the 400 answer's text.
    pub fn with_args(&self, args: &[(String, String)]) -> Result<Options, String> {
        if args.len() > MAX_ARGS {
            return Err(format!(
                "too many URL arguments ({}, at most {MAX_ARGS})",
                args.len()
            ));
        }
        let mut options = self.clone();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in args {
            if seen.contains(&name.as_str()) {
                continue;
            }
            seen.push(name);
            match name.as_str() {
                "color_scheme" => {
                    return Err(
                        "color_scheme cannot be set in the URL, only in [www.plugins.badges]"
                            .into(),
                    )
                }
                "" => {}
                option if options.set(option, Raw::Text(value))? => {}
                "kind" => {
                    options.kind = Kind::parse(value).ok_or_else(|| {
                        format!(
                            "kind {:?} is not a badge kind (expected one of: {})",
                            shorten(value),
                            KINDS.join(", ")
                        )
                    })?
                }
                extra => {
                    if value.chars().count() > MAX_ARG_CHARS {
                        return Err(format!(
                            "{}: the value is too long (at most {MAX_ARG_CHARS} characters)",
                            shorten(extra)
                        ));
                    }
                    // Names that cannot be a template variable are of no use to a template
                    // (and are often cache busters such as `_=123`): ignored.
                    let usable = extra.len() <= 64
                        && extra.starts_with(|c: char| c.is_ascii_alphabetic())
                        && extra
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
                    if usable {
                        options
                            .extras
                            .insert(extra.to_owned(), escape_html(value).into_owned());
                    }
                }
            }
        }
        // Each kind has its left text, unless the URL gives one.
        if !seen.contains(&"left_text") {
            if let Some(text) = options.kind.left_text() {
                options.left_text = text.to_owned();
            }
        }
        Ok(options)
    }

    /// Sets option `name` from `raw` (or checks its configured value); `Ok(false)` when there
    /// is no option of that name. The error begins with the option's name.
    fn set(&mut self, name: &str, raw: Raw<'_>) -> Result<bool, String> {
        match name {
            "left_pad" => self.left_pad = pad(name, raw.num(name, self.left_pad)?)?,
            "right_pad" => self.right_pad = pad(name, raw.num(name, self.right_pad)?)?,
            "border_radius" => self.border_radius = pad(name, raw.num(name, self.border_radius)?)?,
            "font_size" => {
                let size = raw.num(name, self.font_size)?;
                self.font_size = match size {
                    Num::Int(i) if (1..=MAX_FONT_SIZE).contains(&i) => size,
                    Num::Float(f)
                        if f.fract() == 0.0 && (1.0..=MAX_FONT_SIZE as f64).contains(&f) =>
                    {
                        Num::Int(f as i64)
                    }
                    _ => {
                        return Err(format!(
                            "font_size must be a whole number from 1 to {MAX_FONT_SIZE}, not {size}"
                        ))
                    }
                }
            }
            "left_text" => {
                let text = raw.text(&self.left_text);
                let count = text.chars().count();
                if count > MAX_TEXT_CHARS {
                    return Err(format!(
                        "left_text is too long ({count} characters, at most {MAX_TEXT_CHARS})"
                    ));
                }
                if text.chars().any(char::is_control) {
                    return Err("left_text must not contain control characters".into());
                }
                self.left_text = text;
            }
            "left_color" => {
                self.left_color = color::normalize(&raw.text(&self.left_color))
                    .map_err(|e| format!("left_color: {e}"))?
            }
            "style" => {
                let style = raw.text(&self.style);
                if !is_file_name_part(&style) {
                    return Err(format!(
                        "style {:?} is not a style name (letters, digits, '-', '_' and '.', at \
                         most 64 characters; built in: {})",
                        shorten(&style),
                        STYLES.join(", ")
                    ));
                }
                self.style = style;
            }
            "template_name" => {
                let pattern = raw.text(&self.template_name);
                let check = pattern.replace("{style}", "x");
                if pattern.len() > 128 || !is_file_name_part(&check) || check.starts_with('.') {
                    return Err(format!(
                        "template_name {:?} is not a template file name (letters, digits, '-', \
                         '_' and '.', not starting with '.', optionally with {{style}})",
                        shorten(&pattern)
                    ));
                }
                self.template_name = pattern;
            }
            "font_face" => {
                let face = raw.text(&self.font_face);
                let ok = !face.trim().is_empty()
                    && face.len() <= 64
                    && face.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b' ' | b'-' | b'_' | b'.')
                    });
                if !ok {
                    return Err(format!(
                        "font_face {:?} is not a font family name (letters, digits, spaces, '-', \
                         '_' and '.', at most 64 characters)",
                        shorten(&face)
                    ));
                }
                self.font_face = face;
            }
            "builds" => {
                let (builds, given) = match raw {
                    Raw::Configured => (Some(self.builds), self.builds.to_string()),
                    Raw::Text(t) => (t.parse().ok(), format!("{:?}", shorten(t))),
                };
                match builds {
                    Some(n) if (1..=MAX_BUILDS).contains(&n) => self.builds = n,
                    _ => {
                        return Err(format!(
                            "builds must be a whole number from 1 to {MAX_BUILDS}, not {given}"
                        ))
                    }
                }
            }
            "color_scheme" => {
                // Only from the config: the URL cannot set it (see `with_args`).
                for (status, colour) in &mut self.color_scheme {
                    if !STATUSES.contains(&status.as_str()) {
                        return Err(format!(
                            "color_scheme: unknown status '{status}' (expected one of: {})",
                            STATUSES.join(", ")
                        ));
                    }
                    *colour = color::normalize(colour)
                        .map_err(|e| format!("color_scheme: {status}: {e}"))?;
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The template's file name: `template_name` with `{style}` replaced.
    pub fn template_file(&self) -> String {
        self.template_name.replace("{style}", &self.style)
    }

    /// The colour of the right part for `status`.
    pub fn status_color(&self, status: &str) -> &str {
        self.color_scheme
            .get(status)
            .map_or(FALLBACK_COLOR, String::as_str)
    }

    /// Whether the badge is drawn with the bundled DejaVu Sans.
    pub fn uses_bundled_font(&self) -> bool {
        self.font_face
            .trim()
            .eq_ignore_ascii_case(crate::fonts::DEJAVU_FAMILY)
    }

    /// A text that identifies these options completely (for the render cache).
    pub fn key(&self) -> String {
        let mut key = format!(
            "{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}",
            self.kind.name(),
            self.builds,
            self.left_pad,
            self.left_text,
            self.left_color,
            self.right_pad,
            self.border_radius,
            self.style,
            self.template_name,
            self.font_face,
            self.font_size,
        );
        for (k, v) in self.color_scheme.iter().chain(&self.extras) {
            key.push('\u{1}');
            key.push_str(k);
            key.push('=');
            key.push_str(v);
        }
        key
    }
}

fn pad(name: &str, n: Num) -> Result<Num, String> {
    if (0.0..=MAX_PAD).contains(&n.get()) {
        Ok(n)
    } else {
        Err(format!("{name} must be from 0 to {MAX_PAD}, not {n}"))
    }
}

/// Letters, digits, `-`, `_`, `.`; 1 to 64 bytes.
fn is_file_name_part(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// At most 40 characters of `text`, for error messages.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(query: &str) -> Vec<(String, String)> {
        buildbot_plugin_sdk::Request::get("/")
            .with_query(query)
            .query_params()
    }

    #[test]
    fn defaults_are_buildbots() {
        let o = Options::default();
        assert_eq!(o.left_pad, Num::Int(5));
        assert_eq!(o.template_file(), "plastic.svg.j2");
        assert_eq!(o.status_color("skipped"), "#a4a61d");
        assert_eq!(o.status_color("cancelled"), FALLBACK_COLOR);
        assert!(o.uses_bundled_font());
    }

    #[test]
    fn config_is_validated() {
        let config = |json: &str| Config::from_json("badges", json).unwrap();
        let o = Options::from_config(&config(
            r##"{"left_pad": 0, "right_pad": 2.5, "border_radius": 3, "style": "badgeio",
                "left_color": "222", "color_scheme": {"cancelled": "#f0f", "success": "green"}}"##,
        ))
        .unwrap();
        assert_eq!((o.left_pad, o.right_pad), (Num::Int(0), Num::Float(2.5)));
        assert_eq!(o.left_color, "#222");
        assert_eq!(o.status_color("cancelled"), "#f0f");
        assert_eq!(o.status_color("success"), "green");
        assert_eq!(o.status_color("failure"), "#e05d44");
        for (json, error) in [
            (r#"{"left_pads": 1}"#, "badges: unknown option 'left_pads'"),
            (
                r#"{"left_pad": "5"}"#,
                "badges: invalid config: option 'left_pad': invalid type: string \"5\", expected a number",
            ),
            (
                r#"{"left_pad": -1}"#,
                "badges: option 'left_pad' must be from 0 to 100, not -1",
            ),
            (
                r#"{"font_size": 11.5}"#,
                "badges: option 'font_size' must be a whole number",
            ),
            (
                r#"{"style": "../x"}"#,
                "badges: option 'style' \"../x\" is not a style name",
            ),
            (
                r#"{"left_color": "nope"}"#,
                "badges: option 'left_color': \"nope\" is not a colour",
            ),
            (
                r##"{"color_scheme": {"green": "#0f0"}}"##,
                "badges: option 'color_scheme': unknown status 'green'",
            ),
            (
                r#"{"color_scheme": {"success": "x"}}"#,
                "badges: option 'color_scheme': success: \"x\" is not a colour",
            ),
            (
                r#"{"color_scheme": "red"}"#,
                "badges: invalid config: option 'color_scheme': invalid type: string \"red\", expected a map",
            ),
            (
                r#"{"template_name": "/etc/passwd"}"#,
                "badges: option 'template_name' \"/etc/passwd\" is not",
            ),
            (
                r#"{"left_text": 3}"#,
                "badges: invalid config: option 'left_text': invalid type: integer `3`, expected a string",
            ),
        ] {
            let err = Options::from_config(&config(json)).unwrap_err();
            assert!(err.starts_with(error), "{json}: {err}");
        }
    }

    #[test]
    fn url_arguments_override_and_are_checked() {
        let base = Options::default();
        let o = base
            .with_args(&args("left_pad=10&right_pad=1.5&left_color=123&style=flat&style=plastic&font_size=14&left_text=a%26b&label=%3Cx%3E&_=1"))
            .unwrap();
        assert_eq!((o.left_pad, o.right_pad), (Num::Int(10), Num::Float(1.5)));
        assert_eq!(o.left_color, "#123");
        assert_eq!(o.style, "flat", "the first of repeated arguments wins");
        assert_eq!(o.font_size, Num::Int(14));
        assert_eq!(o.left_text, "a&b");
        assert_eq!(o.extras.get("label").map(String::as_str), Some("&lt;x&gt;"));
        assert!(!o.extras.contains_key("_"));
        for (query, error) in [
            ("left_pad=abc", "left_pad must be a number, not \"abc\""),
            ("left_pad=inf", "left_pad must be a number"),
            ("right_pad=NaN", "right_pad must be a number"),
            ("left_pad=1000", "left_pad must be from 0 to 100"),
            ("border_radius=-2", "border_radius must be from 0 to 100"),
            (
                "font_size=0",
                "font_size must be a whole number from 1 to 100",
            ),
            ("font_size=12.5", "font_size must be a whole number"),
            ("left_color=%22%3E%3Cscript%3E", "left_color: \"\\\">"),
            ("style=%3Csvg%3E", "style \"<svg>\" is not a style name"),
            ("template_name=..%2Fsecret", "template_name \"../secret\""),
            (
                "font_face=a%22b",
                "font_face \"a\\\"b\" is not a font family name",
            ),
            ("color_scheme=x", "color_scheme cannot be set in the URL"),
            (
                "left_text=a%0Ab",
                "left_text must not contain control characters",
            ),
        ] {
            let err = base.with_args(&args(query)).unwrap_err();
            assert!(err.starts_with(error), "{query}: {err}");
        }
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        assert!(base
            .with_args(&args(&format!("left_text={long}")))
            .unwrap_err()
            .contains("too long"));
        assert!(base
            .with_args(&args(&format!("left_text={}", &long[1..])))
            .is_ok());
        let many: Vec<String> = (0..=MAX_ARGS).map(|i| format!("a{i}=1")).collect();
        assert!(base
            .with_args(&args(&many.join("&")))
            .unwrap_err()
            .starts_with("too many URL arguments"));
    }

    #[test]
    fn keys_differ_when_options_differ() {
        let base = Options::default();
        let a = base.with_args(&args("left_color=123")).unwrap();
        let b = base.with_args(&args("left_color=124")).unwrap();
        let c = base.with_args(&args("left_pad=5.0")).unwrap();
        assert_ne!(a.key(), b.key());
        assert_ne!(base.key(), c.key(), "5.0 prints differently from 5");
        assert_eq!(base.key(), Options::default().key());
    }
}
