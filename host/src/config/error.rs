//! Config errors: key paths, locating them in the TOML source, and the rendered message.

use std::fmt;
use std::ops::Range;
use std::path::Path;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Where a value lives in the config file, e.g. `www.auth.clientSecret`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(pub(crate) Vec<Seg>);

impl KeyPath {
    /// The path of the given keys.
    pub(crate) fn of(keys: &[&str]) -> Self {
        KeyPath(keys.iter().map(|k| Seg::Key((*k).to_owned())).collect())
    }

    /// This path followed by a key.
    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        KeyPath(segs)
    }

    /// This path followed by an array index.
    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        KeyPath(segs)
    }

    /// The path without its last step.
    fn parent(&self) -> KeyPath {
        let mut segs = self.0.clone();
        segs.pop();
        KeyPath(segs)
    }

    /// The last key of the path, if it ends with a key.
    pub(crate) fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// How the path reads in a message: `buildbotURL`, `[www] port`,
    /// `[www.authz] allowRules[0].role`, `forceschedulers[1].name`.
    pub(crate) fn describe(&self) -> String {
        let segs = &self.0;
        if segs.is_empty() {
            return "the top-level table".to_owned();
        }
        let first_index = segs.iter().position(|s| matches!(s, Seg::Index(_)));
        let split = match first_index {
            None => segs.len() - 1,
            Some(i) => i.saturating_sub(1),
        };
        let table = &segs[..split];
        let rest = render_dotted(&segs[split..]);
        if table.is_empty() {
            rest
        } else {
            format!("[{}] {rest}", render_dotted(table))
        }
    }

    /// How the path reads as a table name: `the top level`, `[www]`, `[www.authz] allowRules[0]`.
    fn describe_table(&self) -> String {
        if self.0.is_empty() {
            return "the top level".to_owned();
        }
        if self.0.iter().any(|s| matches!(s, Seg::Index(_))) {
            self.describe()
        } else {
            format!("[{}]", render_dotted(&self.0))
        }
    }
}

fn render_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

fn render_dotted(segs: &[Seg]) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&render_key(k));
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// What a located error points at: the key, or its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Key,
    Value,
}

/// A validation failure, before it is located in the source.
#[derive(Debug, Clone)]
pub(crate) struct Fail {
    pub(crate) path: KeyPath,
    pub(crate) target: Target,
    pub(crate) message: String,
    /// When set, the message is printed as is, without the key path in front.
    pub(crate) bare: bool,
    /// When set, the source line is not shown (it may hold a password).
    pub(crate) conceal: bool,
}

impl Fail {
    /// The same failure, reported without the source line (for a value that may be a
    /// secret: the message never repeats it, and neither may the excerpt).
    pub(crate) fn concealed(mut self) -> Self {
        self.conceal = true;
        self
    }

    /// A problem with the value at `path`.
    pub(crate) fn at(path: KeyPath, message: impl Into<String>) -> Self {
        Fail {
            path,
            target: Target::Value,
            message: message.into(),
            bare: false,
            conceal: false,
        }
    }

    /// A problem with the key at the end of `path` (its name).
    pub(crate) fn at_key(path: KeyPath, message: impl Into<String>) -> Self {
        Fail {
            path,
            target: Target::Key,
            message: message.into(),
            bare: false,
            conceal: false,
        }
    }

    /// An unknown key at `path`, with a suggestion taken from `known`.
    pub(crate) fn unknown_key(path: KeyPath, known: &[&str]) -> Self {
        let key = path.last_key().unwrap_or_default().to_owned();
        let parent = path.parent();
        let mut message = if parent.0.is_empty() {
            format!("unknown top-level key '{key}'")
        } else {
            format!("unknown key '{key}' in {}", parent.describe_table())
        };
        message.push_str(&suggestion(&key, known));
        Fail {
            path,
            target: Target::Key,
            message,
            bare: true,
            conceal: false,
        }
    }

    /// A required key absent from the table at `table`.
    pub(crate) fn missing_key(table: KeyPath, key: &str) -> Self {
        let message = if table.0.is_empty() {
            format!("missing top-level key '{key}'")
        } else {
            format!("missing key '{key}' in {}", table.describe_table())
        };
        Fail {
            path: table,
            target: Target::Value,
            message,
            bare: true,
            conceal: false,
        }
    }

    /// An unknown name used as a value (a type, a matcher, a dialect...), with a suggestion.
    pub(crate) fn unknown_name(path: KeyPath, what: &str, name: &str, known: &[&str]) -> Self {
        Fail::at(
            path,
            format!("unknown {what} '{name}'{}", suggestion(name, known)),
        )
    }
}

/// `; did you mean 'x'?` or `; expected one of: a, b, c`, for an unknown `name`.
pub(crate) fn suggestion(name: &str, known: &[&str]) -> String {
    if known.is_empty() {
        return String::new();
    }
    if let Some(best) = closest(name, known) {
        return format!("; did you mean '{best}'?");
    }
    if known.len() <= 12 {
        format!("; expected one of: {}", known.join(", "))
    } else {
        String::new()
    }
}

/// The known name closest to `name`, if one is close enough to be a likely typo.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    if let Some(same) = known.iter().find(|k| k.to_lowercase() == lower) {
        return Some(same);
    }
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(&lower, &k.to_lowercase()), *k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// A config file that could not be loaded. `Display` gives the whole message: file, line and
/// column, the key, what is wrong, and the offending source line with a caret under it.
#[derive(Debug, Clone)]
pub struct ConfigError {
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    message: String,
    snippet: Option<String>,
}

impl ConfigError {
    /// An error about the file as a whole (it cannot be read, for instance).
    pub(crate) fn whole_file(path: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: path.display().to_string(),
            line: None,
            column: None,
            message: message.into(),
            snippet: None,
        }
    }

    /// An error at a byte span of the source.
    pub(crate) fn at_span(
        path: &Path,
        source: &str,
        span: Option<Range<usize>>,
        message: String,
    ) -> Self {
        let mut err = ConfigError::whole_file(path, message);
        if let Some(span) = span {
            let (line, column, snippet) = locate(source, span);
            err.line = Some(line);
            err.column = Some(column);
            err.snippet = Some(snippet);
        }
        err
    }

    /// The error without its source excerpt (the line and column stay).
    pub(crate) fn without_excerpt(mut self) -> Self {
        self.snippet = None;
        self
    }

    /// What is wrong, without the location (e.g. `[www] port: ...`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 1-based line of the offending text, when the error has a location.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The 1-based column (in characters) of the offending text, when the error has a location.
    pub fn column(&self) -> Option<usize> {
        self.column
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "{}:{line}:{column}: error: {}", self.file, self.message)?
            }
            _ => write!(f, "{}: error: {}", self.file, self.message)?,
        }
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Line, column (1-based, in characters) and a source excerpt with carets for a byte span.
fn locate(source: &str, span: Range<usize>) -> (usize, usize, String) {
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let end = floor_char_boundary(source, span.end.clamp(start, source.len()));
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let line_no = source[..start].matches('\n').count() + 1;
    let text = source[line_start..line_end].trim_end_matches('\r');
    let column = source[line_start..start].chars().count() + 1;
    let caret_end = end.min(line_start + text.len()).max(start);
    let width = source[start..caret_end].chars().count().max(1);
    let gutter = line_no.to_string();
    let pad = " ".repeat(gutter.len());
    let snippet = format!(
        "{pad} |\n{gutter} | {text}\n{pad} | {}{}",
        " ".repeat(column - 1),
        "^".repeat(width)
    );
    (line_no, column, snippet)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The spans of keys and values of a parsed TOML document, looked up by key path.
pub(crate) struct Locator {
    doc: toml_edit::ImDocument<String>,
}

/// A position in the document while following a key path.
#[derive(Clone, Copy)]
enum Walk<'a> {
    Table(&'a toml_edit::Table),
    Item(&'a toml_edit::Item),
    Value(&'a toml_edit::Value),
}

impl<'a> Walk<'a> {
    fn span(self) -> Option<Range<usize>> {
        match self {
            Walk::Table(t) => t.span().or_else(|| first_key_span(t)),
            Walk::Item(toml_edit::Item::Table(t)) => t.span().or_else(|| first_key_span(t)),
            Walk::Item(item) => item.span(),
            Walk::Value(value) => value.span(),
        }
    }

    fn table(self) -> Option<&'a dyn toml_edit::TableLike> {
        match self {
            Walk::Table(t) => Some(t),
            Walk::Item(item) => item.as_table_like(),
            Walk::Value(value) => value
                .as_inline_table()
                .map(|t| t as &dyn toml_edit::TableLike),
        }
    }

    /// One step along the path: the next position and the span of the key that led there.
    fn step(self, seg: &Seg) -> Option<(Walk<'a>, Option<Range<usize>>)> {
        match seg {
            Seg::Key(key) => {
                let (k, item) = self.table()?.get_key_value(key)?;
                Some((Walk::Item(item), k.span()))
            }
            Seg::Index(i) => match self {
                Walk::Item(toml_edit::Item::ArrayOfTables(tables)) => {
                    Some((Walk::Table(tables.get(*i)?), None))
                }
                Walk::Item(toml_edit::Item::Value(value)) | Walk::Value(value) => {
                    Some((Walk::Value(value.as_array()?.get(*i)?), None))
                }
                _ => None,
            },
        }
    }
}

impl Locator {
    pub(crate) fn new(doc: toml_edit::ImDocument<String>) -> Self {
        Locator { doc }
    }

    fn walk(&self, path: &KeyPath) -> Option<Walk<'_>> {
        let mut at = Walk::Table(self.doc.as_table());
        for seg in &path.0 {
            at = at.step(seg)?.0;
        }
        Some(at)
    }

    /// The source span of the key or the value at `path`; when the path does not exist, the
    /// span of its deepest existing ancestor.
    pub(crate) fn span_of(&self, path: &KeyPath, target: Target) -> Option<Range<usize>> {
        let mut best = None;
        let mut at = Walk::Table(self.doc.as_table());
        let last = path.0.len();
        for (i, seg) in path.0.iter().enumerate() {
            let Some((next, key_span)) = at.step(seg) else {
                break;
            };
            let span = if i + 1 == last && target == Target::Key {
                key_span.clone().or_else(|| next.span())
            } else {
                next.span().or(key_span)
            };
            if span.is_some() {
                best = span;
            }
            at = next;
        }
        best
    }

    /// Whether something is at `path`.
    pub(crate) fn exists(&self, path: &KeyPath) -> bool {
        self.walk(path).is_some()
    }
}

fn first_key_span(table: &toml_edit::Table) -> Option<Range<usize>> {
    table
        .iter()
        .filter_map(|(k, _)| table.key(k).and_then(|k| k.span()))
        .min_by_key(|s| s.start)
}

/// The message with its first letter in lower case and no final period.
pub(crate) fn lower_first(message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    let mut chars = message.chars();
    match chars.next() {
        Some(first) if !message.starts_with("TOML") => {
            first.to_lowercase().collect::<String>() + chars.as_str()
        }
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_paths() {
        assert_eq!(KeyPath::of(&["buildbotURL"]).describe(), "buildbotURL");
        assert_eq!(KeyPath::of(&["www", "port"]).describe(), "[www] port");
        let rule = KeyPath::of(&["www", "authz", "allowRules"])
            .index(0)
            .key("role");
        assert_eq!(rule.describe(), "[www.authz] allowRules[0].role");
        let field = KeyPath::of(&["forceschedulers"]).index(1).key("name");
        assert_eq!(field.describe(), "forceschedulers[1].name");
        let theme = KeyPath::of(&["www", "theme", "a.b"]);
        assert_eq!(theme.describe(), "[www.theme] \"a.b\"");
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(
            suggestion("jsn_cache_seconds", &["port", "json_cache_seconds"]),
            "; did you mean 'json_cache_seconds'?"
        );
        assert_eq!(
            suggestion("buildboturl", &["buildbotURL", "title"]),
            "; did you mean 'buildbotURL'?"
        );
        assert_eq!(
            suggestion("zzz", &["port", "title"]),
            "; expected one of: port, title"
        );
    }

    #[test]
    fn locates_spans() {
        let src = "a = 1\n[www]\nport = \"x\"\n";
        let (line, col, snippet) = locate(src, 19..22);
        assert_eq!((line, col), (3, 8));
        assert_eq!(snippet, "  |\n3 | port = \"x\"\n  |        ^^^");
    }
}
