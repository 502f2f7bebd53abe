//! The one HTML sanitiser of the UI: what plugin views and the database bring (HTML, CSS, link
//! URLs) is reduced to markup that cannot run script in the UI's origin. Plugin views and the
//! pages both use it; `docs/security.md` says what is kept and why.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use ammonia::{Builder, Url};

/// HTML elements a view or a description may use (plus [`SVG_TAGS`]): text, tables, lists,
/// links, images, GET forms. No script, frame, object, style, base, meta, link or template.
const HTML_TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "bdi",
    "bdo",
    "blockquote",
    "br",
    "button",
    "caption",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "i",
    "img",
    "input",
    "ins",
    "kbd",
    "label",
    "legend",
    "li",
    "mark",
    "meter",
    "nav",
    "ol",
    "optgroup",
    "option",
    "p",
    "pre",
    "progress",
    "q",
    "rp",
    "rt",
    "ruby",
    "s",
    "samp",
    "section",
    "select",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "u",
    "ul",
    "var",
    "wbr",
];

/// Static SVG: shapes, text, gradients. No `script`, `foreignObject` (HTML inside SVG), `use`
/// and `image` (external documents), animation (`animate`, `set`: they can rewrite `href`).
/// ammonia checks that each element sits in the namespace the parser gives it, which is what
/// defeats the namespace-confusion (mXSS) tricks.
const SVG_TAGS: &[&str] = &[
    "svg",
    "g",
    "defs",
    "title",
    "desc",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "linearGradient",
    "radialGradient",
    "stop",
];

/// Elements removed with everything inside them (the others lose only their tags).
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script",
    "style",
    "iframe",
    "noscript",
    "noembed",
    "noframes",
    "template",
    "object",
    "xmp",
    "plaintext",
];

/// Attributes any allowed element may carry (`data-*` and `aria-*` too).
const GENERIC_ATTRIBUTES: &[&str] = &[
    "class", "id", "title", "lang", "dir", "role", "hidden", "style", "tabindex",
];

/// Attributes per element; URL attributes (`href`, `src`, `action`) keep only `http`, `https`
/// and relative URLs.
const TAG_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href", "hreflang"]),
    ("img", &["src", "alt", "width", "height"]),
    ("form", &["action"]),
    (
        "input",
        &[
            "name",
            "value",
            "placeholder",
            "min",
            "max",
            "step",
            "size",
            "maxlength",
            "checked",
            "disabled",
            "readonly",
            "required",
            "multiple",
        ],
    ),
    (
        "select",
        &["name", "multiple", "size", "disabled", "required"],
    ),
    ("option", &["value", "selected", "disabled", "label"]),
    ("optgroup", &["label", "disabled"]),
    (
        "textarea",
        &[
            "name",
            "rows",
            "cols",
            "placeholder",
            "disabled",
            "readonly",
        ],
    ),
    ("button", &["name", "value", "disabled"]),
    ("label", &["for"]),
    ("time", &["datetime"]),
    ("td", &["colspan", "rowspan", "headers"]),
    ("th", &["colspan", "rowspan", "scope", "headers"]),
    ("col", &["span"]),
    ("colgroup", &["span"]),
    ("ol", &["start", "reversed"]),
    ("li", &["value"]),
    ("details", &["open"]),
    ("progress", &["value", "max"]),
    ("meter", &["value", "min", "max", "low", "high", "optimum"]),
    ("q", &["cite"]),
    ("blockquote", &["cite"]),
    (
        "svg",
        &["viewBox", "width", "height", "preserveAspectRatio"],
    ),
    ("path", &["d", "pathLength"]),
    ("rect", &["x", "y", "width", "height", "rx", "ry"]),
    ("circle", &["cx", "cy", "r"]),
    ("ellipse", &["cx", "cy", "rx", "ry"]),
    ("line", &["x1", "y1", "x2", "y2"]),
    ("polyline", &["points"]),
    ("polygon", &["points"]),
    (
        "text",
        &["x", "y", "dx", "dy", "text-anchor", "dominant-baseline"],
    ),
    ("tspan", &["x", "y", "dx", "dy"]),
    (
        "linearGradient",
        &["x1", "y1", "x2", "y2", "gradientUnits", "gradientTransform"],
    ),
    (
        "radialGradient",
        &[
            "cx",
            "cy",
            "r",
            "fx",
            "fy",
            "gradientUnits",
            "gradientTransform",
        ],
    ),
    ("stop", &["offset", "stop-color", "stop-opacity"]),
];

/// SVG presentation attributes allowed on every SVG element; their values pass the same CSS
/// filter as `style` (`fill="url(https://...)"` would fetch).
const SVG_PRESENTATION: &[&str] = &[
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-opacity",
    "stroke-dasharray",
    "stroke-linecap",
    "stroke-linejoin",
    "opacity",
    "transform",
    "font-size",
    "font-family",
    "font-weight",
];

/// Attributes allowed only with one of a few values: no `type=password` (a phishing form in
/// the UI's origin), `file` or `image` inputs, no `formaction`.
const TAG_ATTRIBUTE_VALUES: &[(&str, &str, &[&str])] = &[
    (
        "input",
        "type",
        &[
            "text",
            "search",
            "number",
            "hidden",
            "checkbox",
            "radio",
            "date",
            "time",
            "month",
            "week",
            "datetime-local",
            "range",
            "color",
            "submit",
            "reset",
            "button",
        ],
    ),
    ("button", "type", &["submit", "reset", "button"]),
];

/// Prefix given to every `id` (and to the references to ids: `href="#x"`, `for`, `headers`,
/// `url(#x)`), so that a view cannot take the ids the shell and its script look up (`bb-main`,
/// `log`...).
pub const ID_PREFIX: &str = "view-";

static SANITIZER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let svg_elements: HashSet<&str> = SVG_TAGS.iter().copied().collect();
    let mut tag_attributes: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (tag, attributes) in TAG_ATTRIBUTES {
        tag_attributes
            .entry(tag)
            .or_default()
            .extend(attributes.iter().copied());
    }
    for tag in SVG_TAGS {
        tag_attributes
            .entry(tag)
            .or_default()
            .extend(SVG_PRESENTATION.iter().copied());
    }
    let mut tag_attribute_values: HashMap<&str, HashMap<&str, HashSet<&str>>> = HashMap::new();
    for (tag, attribute, values) in TAG_ATTRIBUTE_VALUES {
        tag_attribute_values
            .entry(tag)
            .or_default()
            .insert(attribute, values.iter().copied().collect());
    }
    let mut builder = Builder::empty();
    builder
        .tags(HTML_TAGS.iter().chain(SVG_TAGS).copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .generic_attributes(GENERIC_ATTRIBUTES.iter().copied().collect())
        .generic_attribute_prefixes(["data-", "aria-"].into_iter().collect())
        .tag_attributes(tag_attributes)
        .tag_attribute_values(tag_attribute_values)
        .url_schemes(["http", "https"].into_iter().collect())
        .url_relative(ammonia::UrlRelative::PassThrough)
        .link_rel(Some("noopener noreferrer"))
        .id_prefix(Some(ID_PREFIX))
        .strip_comments(true)
        .attribute_filter(move |element, attribute, value| {
            let css = attribute == "style"
                || (svg_elements.contains(element) && SVG_PRESENTATION.contains(&attribute));
            Some(if css {
                Cow::Owned(
                    declarations(value)
                        .replace("url(#", &format!("url(#{ID_PREFIX}"))
                        .replace(
                            &format!("#{ID_PREFIX}{ID_PREFIX}"),
                            &format!("#{ID_PREFIX}"),
                        ),
                )
            } else if matches!(attribute, "for" | "headers") {
                Cow::Owned(
                    value
                        .split_ascii_whitespace()
                        .map(prefixed)
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            } else if let Some(id) = value.strip_prefix('#').filter(|_| attribute == "href") {
                Cow::Owned(format!("#{}", prefixed(id)))
            } else {
                Cow::Borrowed(value)
            })
        });
    builder
});

/// An id as the sanitised markup has it.
fn prefixed(id: &str) -> String {
    format!("{ID_PREFIX}{}", id.strip_prefix(ID_PREFIX).unwrap_or(id))
}

/// An HTML fragment (a view's body, a builder's `description_html`) reduced to the allowed
/// elements and attributes; what is left cannot run script.
///
/// The last few large fragments are remembered with their result: a view answers the same
/// page until the data changes (its reads come from the answer cache), and parsing it again
/// took most of the time the shell added to it (7 ms for the console's 200 KB).
pub fn html(fragment: &str) -> String {
    if fragment.len() < RECENT_MIN_BYTES {
        return SANITIZER.clean(fragment).to_string();
    }
    if let Some(clean) = recent().find(fragment) {
        return clean;
    }
    let clean = SANITIZER.clean(fragment).to_string();
    recent().keep(fragment, &clean);
    clean
}

/// Fragments at least this long are remembered.
const RECENT_MIN_BYTES: usize = 16 << 10;
/// The most fragments and bytes (fragments and results together) remembered.
const RECENT_ENTRIES: usize = 8;
const RECENT_BYTES: usize = 8 << 20;

/// Recently sanitised fragments with their results, newest last.
#[derive(Default)]
struct Recent {
    entries: std::collections::VecDeque<(Arc<str>, Arc<str>)>,
    bytes: usize,
}

fn recent() -> std::sync::MutexGuard<'static, Recent> {
    static RECENT: LazyLock<Mutex<Recent>> = LazyLock::new(Mutex::default);
    RECENT.lock().unwrap_or_else(|p| p.into_inner())
}

impl Recent {
    /// The result for a fragment equal to `fragment`, byte for byte.
    fn find(&self, fragment: &str) -> Option<String> {
        self.entries
            .iter()
            .rev()
            .find(|(seen, _)| **seen == *fragment)
            .map(|(_, clean)| clean.to_string())
    }

    fn keep(&mut self, fragment: &str, clean: &str) {
        let size = fragment.len() + clean.len();
        if size > RECENT_BYTES {
            return;
        }
        self.entries.push_back((fragment.into(), clean.into()));
        self.bytes += size;
        while self.entries.len() > RECENT_ENTRIES || self.bytes > RECENT_BYTES {
            let Some((old, old_clean)) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= old.len() + old_clean.len();
        }
    }
}

/// CSS (a `<style>` element's text) that can neither load anything nor leave its element: comments and backslashes (escapes that would
/// spell a function's name) go, `url(`, `image-set(`, `image(`, `src(`, `expression(` and
/// `@import` are renamed so the browser drops the declaration (`url(#id)`, a reference within
/// the page, stays), and `<` cannot close the `<style>` element.
pub fn stylesheet(css: &str) -> String {
    let mut text = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        text.push_str(&rest[..start]);
        text.push(' ');
        rest = rest[start + 2..]
            .find("*/")
            .map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    text.push_str(rest);
    text.retain(|c| !matches!(c, '\\' | '<' | '\0'));
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        let here = &lower[at..];
        if let Some(word) = LOADING.iter().find(|w| here.starts_with(**w)) {
            let after = here[word.len()..].trim_start_matches([' ', '\t', '\n', '\r', '\x0c']);
            let local = *word == "url(" && after.trim_start_matches(['"', '\'']).starts_with('#');
            if !local {
                out.push_str(BLOCKED);
            }
            out.push_str(&text[at..at + word.len()]);
            at += word.len();
        } else {
            let len = here.chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[at..at + len]);
            at += len;
        }
    }
    out
}

/// What [`stylesheet`] puts before what loads.
const BLOCKED: &str = "blocked-";

/// Declarations (a `style` or presentation attribute's value) as [`stylesheet`] leaves them,
/// less those that would load something: `background:url(...)` goes as a whole.
fn declarations(style: &str) -> String {
    stylesheet(style)
        .split(';')
        .filter(|declaration| !declaration.contains(BLOCKED))
        .collect::<Vec<_>>()
        .join(";")
}

/// What, in CSS, loads something or runs script (lower case).
const LOADING: &[&str] = &[
    "url(",
    "image-set(",
    "image(",
    "src(",
    "expression(",
    "@import",
];

/// A URL from the database (a revlink, a step URL) as a link target: only `http`, `https` and
/// relative URLs; `None` for any other scheme (`javascript:`, `data:`...) however it is spelt
/// (case, leading control characters, tabs and newlines, which browsers ignore).
pub fn link_url(url: &str) -> Option<&str> {
    match Url::parse(url) {
        Ok(parsed) => matches!(parsed.scheme(), "http" | "https").then_some(url),
        Err(ammonia::url::ParseError::RelativeUrlWithoutBase) => Some(url),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_and_handlers_go() {
        let out = html(
            "<p onclick=alert(1)>a<script>alert(2)</script><img src=x onerror=alert(3)>\
             <svg><script>alert(4)</script><circle r=1 onload=alert(5) /></svg>",
        );
        assert!(!out.contains("alert"), "{out}");
        assert!(out.contains("<p>a"), "{out}");
        assert!(out.contains("<circle r=\"1\">"), "{out}");
    }

    #[test]
    fn link_schemes_are_checked_however_spelt() {
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " \x01javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
        ] {
            assert_eq!(link_url(bad), None, "{bad:?}");
            let out = html(&format!("<a href=\"{bad}\">x</a>"));
            assert!(!out.contains("href"), "{bad:?}: {out}");
        }
        for good in [
            "https://example.org/r/1",
            "http://x/",
            "../builders/1",
            "?a=b",
            "#x",
        ] {
            assert_eq!(link_url(good), Some(good));
        }
        // (in HTML a NUL becomes U+FFFD, which makes a harmless relative URL)
        assert_eq!(link_url("\x00javascript:alert(1)"), None);
        let entity = html("<a href=\"&#106;avascript&#58;alert(1)\">x</a>");
        assert!(!entity.contains("href"), "{entity}");
    }

    #[test]
    fn css_cannot_load_or_escape() {
        assert_eq!(
            stylesheet("@import 'x.css'; a{background:URL(https://e/x)}"),
            "blocked-@import 'x.css'; a{background:blocked-URL(https://e/x)}"
        );
        assert_eq!(stylesheet("a{b:u\\72l(x)}"), "a{b:u72l(x)}");
        assert_eq!(stylesheet("a{b:ur/**/l(x)}"), "a{b:ur l(x)}");
        assert_eq!(stylesheet("x{}</style><script>"), "x{}/style>script>");
        assert_eq!(stylesheet("fill:url(#g)"), "fill:url(#g)");
        assert_eq!(
            stylesheet("a{width:expression(alert(1))}"),
            "a{width:blocked-expression(alert(1))}"
        );
        assert_eq!(
            declarations("color:red; background:url(javascript:alert(1));top:1px"),
            "color:red;top:1px"
        );
        let out = html("<div style=\"background:url(javascript:alert(1))\">x</div>");
        assert_eq!(out, "<div style=\"\">x</div>");
    }

    #[test]
    fn views_keep_what_they_need() {
        let input = "<div class=\"wf\" data-scale=\"linear\" style=\"top:1.0px;left:5%\">\
             <a class=\"wf-build\" href=\"../../builders/1/builds/2\" title=\"t\">#2</a>\
             <form class=\"f\" method=\"get\" action=\"./\"><input name=\"tag\" value=\"a\">\
             <select name=\"scale\"><option value=\"log\" selected>log</option></select>\
             <button type=\"submit\">Show</button></form>\
             <time class=\"t\" datetime=\"2024-01-01T00:00:00Z\">x</time>\
             <svg viewBox=\"0 0 10 10\"><rect x=\"1\" width=\"2\" fill=\"#8d4\"></rect></svg></div>";
        let out = html(input);
        for kept in [
            "class=\"wf\"",
            "data-scale=\"linear\"",
            "style=\"top:1.0px;left:5%\"",
            "href=\"../../builders/1/builds/2\"",
            "<input name=\"tag\" value=\"a\">",
            "<option value=\"log\" selected=\"\">",
            "<button type=\"submit\">",
            "datetime=\"2024-01-01T00:00:00Z\"",
            "<svg viewBox=\"0 0 10 10\">",
            "fill=\"#8d4\"",
        ] {
            assert!(out.contains(kept), "{kept} missing from {out}");
        }
        assert!(!out.contains("method"), "{out}");
    }

    #[test]
    fn ids_and_their_references_are_prefixed() {
        let out = html(
            "<label for=\"a\">A</label><input id=\"a\"><a href=\"#log\">x</a><div id=\"log\">\
             </div><svg><linearGradient id=\"g\"></linearGradient><rect fill=\"url(#g)\"></rect></svg>",
        );
        for kept in [
            "for=\"view-a\"",
            "id=\"view-a\"",
            "href=\"#view-log\"",
            "id=\"view-log\"",
            "id=\"view-g\"",
            "fill=\"url(#view-g)\"",
        ] {
            assert!(out.contains(kept), "{kept} missing from {out}");
        }
    }

    #[test]
    fn large_fragments_remembered_are_matched_byte_for_byte() {
        let page = |cell: &str| {
            format!(
                "<table>{}</table>",
                format!("<tr><td>{cell}</td></tr>").repeat(2000)
            )
        };
        let safe = page("ok");
        let hostile = page("<img src=x onerror=alert(1)>");
        assert!(safe.len() >= RECENT_MIN_BYTES);
        let first = html(&safe);
        assert_eq!(html(&safe), first, "the same page, the same result");
        // Same length, other bytes: sanitised on its own, never served another's result.
        let other = page("no");
        assert_eq!(other.len(), safe.len());
        assert!(html(&other).contains("<td>no</td>"));
        let cleaned = html(&hostile);
        assert!(!cleaned.contains("onerror"), "{}", &cleaned[..200]);
        assert_eq!(html(&hostile), cleaned);
        assert_eq!(html(&safe), first);
        let recent = recent();
        assert!(recent.entries.len() <= RECENT_ENTRIES && recent.bytes <= RECENT_BYTES);
    }
}
