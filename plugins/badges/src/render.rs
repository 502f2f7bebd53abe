//! Drawing a badge: the SVG from a template (built in, or the operator's in `/templates`), and
//! the PNG rasterised from that SVG with resvg.

use std::collections::HashMap;
use std::path::PathBuf;

use buildbot_plugin_sdk::escape_html;
use minijinja::{AutoEscape, Environment, Value};
use resvg::{tiny_skia, usvg};

use crate::fonts::{Face, DEJAVU_FAMILY};
use crate::options::Options;

/// The built-in templates, by file name.
const BUILTIN: [(&str, &str); 4] = [
    (
        "plastic.svg.j2",
        include_str!("../templates/plastic.svg.j2"),
    ),
    ("flat.svg.j2", include_str!("../templates/flat.svg.j2")),
    (
        "flat-square.svg.j2",
        include_str!("../templates/flat-square.svg.j2"),
    ),
    (
        "badgeio.svg.j2",
        include_str!("../templates/badgeio.svg.j2"),
    ),
];

/// How long a look at a custom template file counts as current.
pub const TEMPLATE_RECHECK_MS: u64 = 2_000;
/// Custom template names whose state is remembered (beyond that the memory starts afresh).
const MAX_CHECKED: usize = 64;
/// The largest PNG, in pixels (width × height).
pub const MAX_PNG_PIXELS: u64 = 4 << 20;

/// Why a badge could not be drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The request asked for something that does not exist or cannot be drawn (400).
    BadRequest(String),
    /// The operator's template is broken (500).
    Template(String),
}

/// Where a template comes from, for cache keys: built in, or a custom file with this content
/// hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Embedded in the component.
    Builtin,
    /// A file in the templates folder, by the FNV-1a hash of its text.
    Custom(u64),
}

#[derive(Debug, Clone, Copy)]
struct Check {
    at_ms: u64,
    source: Option<Source>,
}

/// The templates of one instance: the built-in ones and the operator's folder, which wins.
pub struct Templates {
    env: Environment<'static>,
    dir: PathBuf,
    checked: HashMap<String, Check>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").field("dir", &self.dir).finish()
    }
}

impl Templates {
    /// Templates read from `dir` (the sandbox's `/templates`) before the built-in ones.
    pub fn new(dir: impl Into<PathBuf>) -> Templates {
        let dir = dir.into();
        let mut env = Environment::new();
        // Values are escaped (texts) or validated (everything else) before they get here, and
        // Buildbot's Jinja environment does not escape either: custom templates written for it
        // print `{{ left.text }}` as it is.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        let folder = dir.clone();
        env.set_loader(move |name| {
            if !is_plain_name(name) {
                return Ok(None);
            }
            if let Some(text) = read_custom(&folder, name) {
                return Ok(Some(text));
            }
            Ok(builtin(name).map(str::to_owned))
        });
        Templates {
            env,
            dir,
            checked: HashMap::new(),
        }
    }

    /// Where `name` comes from, looking at the folder again when the last look is older than
    /// [`TEMPLATE_RECHECK_MS`]; `None` when there is no such template.
    pub fn source(&mut self, name: &str, now_ms: u64) -> Option<Source> {
        if let Some(check) = self.checked.get(name) {
            if now_ms.saturating_sub(check.at_ms) < TEMPLATE_RECHECK_MS {
                return check.source;
            }
        }
        let source = if !is_plain_name(name) {
            None
        } else if let Some(text) = read_custom(&self.dir, name) {
            Some(Source::Custom(fnv1a(text.as_bytes())))
        } else if builtin(name).is_some() {
            Some(Source::Builtin)
        } else {
            None
        };
        let previous = self.checked.get(name).map(|c| c.source);
        if previous.is_some_and(|p| p != source) {
            // Parsed templates are kept by the environment: forget them all so the changed
            // one (and whatever includes it) is read again.
            self.env.clear_templates();
        }
        if self.checked.len() >= MAX_CHECKED && previous.is_none() {
            self.checked.clear();
        }
        self.checked.insert(
            name.to_owned(),
            Check {
                at_ms: now_ms,
                source,
            },
        );
        source
    }

    /// Renders template `name` for a badge whose right part says `right` (a status, a
    /// duration, a percentage: nothing to escape) in colour `right_color`.
    pub fn svg(
        &self,
        name: &str,
        options: &Options,
        right: (&str, &str),
        face: &Face,
    ) -> Result<String, Error> {
        let (right_text, right_color) = right;
        let size = options.font_size.get();
        // Buildbot measures the text after escaping it ("Docs &amp; more" is 15 characters
        // wide); the same widths keep the same geometry. Quotes are escaped too, for safety,
        // but measured as the characters they are, as Buildbot does.
        let left = Value::from_pairs([
            ("color", Value::from(options.left_color.as_str())),
            (
                "text",
                Value::from(escape_html(&options.left_text).as_ref()),
            ),
            (
                "width",
                Value::from(face.metrics.width(&xml_escape(&options.left_text), size)),
            ),
        ]);
        let right = Value::from_pairs([
            ("color", Value::from(right_color)),
            ("text", Value::from(right_text)),
            ("width", Value::from(face.metrics.width(right_text, size))),
        ]);
        let scheme = Value::from_pairs(
            options
                .color_scheme
                .iter()
                .map(|(k, v)| (k.as_str(), Value::from(v.as_str()))),
        );
        let mut config: Vec<(&str, Value)> = options
            .extras
            .iter()
            .map(|(k, v)| (k.as_str(), Value::from(v.as_str())))
            .collect();
        config.extend([
            ("left_pad", options.left_pad.value()),
            (
                "left_text",
                Value::from(escape_html(&options.left_text).as_ref()),
            ),
            ("left_color", Value::from(options.left_color.as_str())),
            ("right_pad", options.right_pad.value()),
            ("border_radius", options.border_radius.value()),
            ("style", Value::from(options.style.as_str())),
            ("template_name", Value::from(options.template_name.as_str())),
            ("font_face", Value::from(options.font_face.as_str())),
            ("font_size", options.font_size.value()),
            ("color_scheme", scheme),
            ("kind", Value::from(options.kind.name())),
            ("builds", Value::from(options.builds)),
        ]);
        let context = Value::from_pairs([
            ("left", left),
            ("right", right),
            ("config", Value::from_pairs(config)),
        ]);
        let template = self.env.get_template(name).map_err(|e| match e.kind() {
            minijinja::ErrorKind::TemplateNotFound => {
                Error::BadRequest(format!("no template {name}"))
            }
            _ => Error::Template(describe(&e)),
        })?;
        template
            .render(context)
            .map_err(|e| Error::Template(describe(&e)))
    }
}

/// Rasterises `svg` to a PNG of its size (rounded to whole pixels as Python's `round` does,
/// like Buildbot's cairosvg), drawing text with `face` and DejaVu Sans.
pub fn png(svg: &str, face: &Face) -> Result<Vec<u8>, Error> {
    encode(rasterise(&tree(svg, face)?)?)
}

/// Parses the SVG; texts become paths here (shaped with `face`'s database).
pub fn tree(svg: &str, face: &Face) -> Result<usvg::Tree, Error> {
    let options = usvg::Options {
        font_family: DEJAVU_FAMILY.into(),
        fontdb: face.database(),
        ..usvg::Options::default()
    };
    usvg::Tree::from_str(svg, &options)
        .map_err(|e| Error::Template(format!("the template did not produce a valid SVG: {e}")))
}

/// Draws the tree at its size, rounded.
pub fn rasterise(tree: &usvg::Tree) -> Result<tiny_skia::Pixmap, Error> {
    let size = tree.size();
    let (width, height) = (
        round_half_even(size.width()),
        round_half_even(size.height()),
    );
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > MAX_PNG_PIXELS {
        return Err(Error::BadRequest(format!(
            "a {width}×{height} px badge cannot be drawn as PNG (at most {} Mpx, at least 1 px \
             each way)",
            MAX_PNG_PIXELS >> 20
        )));
    }
    let mut pixmap = tiny_skia::Pixmap::new(width, height)
        .ok_or_else(|| Error::BadRequest(format!("cannot allocate a {width}×{height} image")))?;
    resvg::render(tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    Ok(pixmap)
}

/// Encodes the pixels as an 8-bit RGBA PNG with the `png` crate's fast deflate and adaptive
/// filters: about 10× faster than `Pixmap::encode_png` (zlib level 6), for ~40 % more bytes
/// (2.5 → 3.5 KB for a default badge). Badges are cached, so the bytes are paid once.
pub fn encode(pixmap: tiny_skia::Pixmap) -> Result<Vec<u8>, Error> {
    let (width, height) = (pixmap.width(), pixmap.height());
    let rgba = pixmap.take_demultiplied();
    let mut out = Vec::with_capacity(rgba.len() / 2);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::Filter::Adaptive);
    let fail = |e: png::EncodingError| Error::Template(format!("PNG encoding failed: {e}"));
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(&rgba).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

fn round_half_even(x: f32) -> u32 {
    let r = x.round_ties_even();
    if r.is_finite() && r >= 0.0 && r <= u32::MAX as f32 {
        r as u32
    } else {
        0
    }
}

/// The text of a built-in template.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A file name of the templates folder: no separators, no leading dot.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn read_custom(dir: &std::path::Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name)).ok()
}

/// What Python's `xml.sax.saxutils.escape` does: `&`, `<` and `>`.
fn xml_escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['&', '<', '>']) {
        return text.into();
    }
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .into()
}

fn describe(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// 64-bit FNV-1a: stable across builds and instances (ETags and template identities).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
