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
    fn last_key(&self) -> Option<&str> {
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
}

impl Fail {
    /// A problem with the value at `path`.
    pub(crate) fn at(path: KeyPath, message: impl Into<String>) -> Self {
        Fail {
            path,
            target: Target::Value,
            message: message.into(),
            bare: false,
        }
    }

    /// A problem with the key at the end of `path` (its name).
    pub(crate) fn at_key(path: KeyPath, message: impl Into<String>) -> Self {
        Fail {
            path,
            target: Target::Key,
            message: message.into(),
            bare: false,
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

    fn as_str(self) -> Option<&'a str> {
        match self {
            Walk::Table(_) => None,
            Walk::Item(item) => item.as_str(),
            Walk::Value(value) => value.as_str(),
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

    /// The key path of the node whose key or value span is `span` (or, failing that, the
    /// deepest node whose value span contains its start), and whether it is the key.
    pub(crate) fn path_of(&self, span: &Range<usize>) -> (KeyPath, Target) {
        let mut found: Option<(KeyPath, Target, usize)> = None;
        visit_table(self.doc.as_table(), &KeyPath::default(), span, &mut found);
        match found {
            Some((path, target, _)) => (path, target),
            None => (KeyPath::default(), Target::Value),
        }
    }

    /// Whether the node at `path` is a table or an array (errors raised after serde buffered a
    /// tagged table land on its container).
    pub(crate) fn is_container(&self, path: &KeyPath) -> bool {
        match self.walk(path) {
            Some(Walk::Table(_)) => true,
            Some(Walk::Item(item)) => {
                item.is_table_like() || item.is_array() || item.is_array_of_tables()
            }
            Some(Walk::Value(value)) => value.is_inline_table() || value.is_array(),
            None => false,
        }
    }

    /// The first table under `path` (itself, or elements of an array) that lacks `key`.
    pub(crate) fn table_without(&self, path: &KeyPath, key: &str) -> Option<KeyPath> {
        let at = self.walk(path)?;
        if let Some(table) = at.table() {
            return (!table.contains_key(key)).then(|| path.clone());
        }
        let mut i = 0;
        while let Some((next, _)) = at.step(&Seg::Index(i)) {
            if next.table().is_some_and(|t| !t.contains_key(key)) {
                return Some(path.index(i));
            }
            i += 1;
        }
        None
    }

    /// Whether something is at `path`.
    pub(crate) fn exists(&self, path: &KeyPath) -> bool {
        self.walk(path).is_some()
    }

    /// The first key under `path` (depth first, in file order) for which `wanted(key, item)`
    /// holds.
    pub(crate) fn find(
        &self,
        path: &KeyPath,
        wanted: &dyn Fn(&str, &toml_edit::Item) -> bool,
    ) -> Option<KeyPath> {
        fn search(
            at: Walk<'_>,
            path: &KeyPath,
            wanted: &dyn Fn(&str, &toml_edit::Item) -> bool,
        ) -> Option<KeyPath> {
            if let Some(table) = at.table() {
                for (key, item) in table.iter() {
                    let child = path.key(key);
                    if wanted(key, item) {
                        return Some(child);
                    }
                    if let Some(found) = search(Walk::Item(item), &child, wanted) {
                        return Some(found);
                    }
                }
                return None;
            }
            let mut i = 0;
            while let Some((next, _)) = at.step(&Seg::Index(i)) {
                if let Some(found) = search(next, &path.index(i), wanted) {
                    return Some(found);
                }
                i += 1;
            }
            None
        }
        search(self.walk(path)?, path, wanted)
    }

    /// The string value at `path`, if there is one.
    pub(crate) fn str_at(&self, path: &KeyPath) -> Option<String> {
        self.walk(path)?.as_str().map(str::to_owned)
    }
}

fn first_key_span(table: &toml_edit::Table) -> Option<Range<usize>> {
    table
        .iter()
        .filter_map(|(k, _)| table.key(k).and_then(|k| k.span()))
        .min_by_key(|s| s.start)
}

fn consider(
    found: &mut Option<(KeyPath, Target, usize)>,
    path: &KeyPath,
    target: Target,
    score: usize,
) {
    if found.as_ref().is_none_or(|(_, _, best)| score <= *best) {
        *found = Some((path.clone(), target, score));
    }
}

/// Exact key match scores 0, exact value match 1, containing value spans score by their width.
fn score_spans(
    key_span: Option<Range<usize>>,
    value_span: Option<Range<usize>>,
    span: &Range<usize>,
    path: &KeyPath,
    found: &mut Option<(KeyPath, Target, usize)>,
) {
    if key_span.as_ref() == Some(span) {
        consider(found, path, Target::Key, 0);
    }
    if let Some(v) = value_span {
        if v == *span {
            consider(found, path, Target::Value, 1);
        } else if v.start <= span.start && span.start < v.end.max(v.start + 1) {
            consider(found, path, Target::Value, 2 + (v.end - v.start));
        }
    }
}

fn visit_table(
    table: &dyn toml_edit::TableLike,
    path: &KeyPath,
    span: &Range<usize>,
    found: &mut Option<(KeyPath, Target, usize)>,
) {
    for (key, item) in table.iter() {
        let child = path.key(key);
        let key_span = table.key(key).and_then(|k| k.span());
        score_spans(key_span, item.span(), span, &child, found);
        visit_item(item, &child, span, found);
    }
}

fn visit_item(
    item: &toml_edit::Item,
    path: &KeyPath,
    span: &Range<usize>,
    found: &mut Option<(KeyPath, Target, usize)>,
) {
    match item {
        toml_edit::Item::Table(t) => visit_table(t, path, span, found),
        toml_edit::Item::ArrayOfTables(tables) => {
            for (i, t) in tables.iter().enumerate() {
                let child = path.index(i);
                score_spans(None, t.span(), span, &child, found);
                visit_table(t, &child, span, found);
            }
        }
        toml_edit::Item::Value(v) => visit_value(v, path, span, found),
        toml_edit::Item::None => {}
    }
}

fn visit_value(
    value: &toml_edit::Value,
    path: &KeyPath,
    span: &Range<usize>,
    found: &mut Option<(KeyPath, Target, usize)>,
) {
    match value {
        toml_edit::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let child = path.index(i);
                score_spans(None, v.span(), span, &child, found);
                visit_value(v, &child, span, found);
            }
        }
        toml_edit::Value::InlineTable(t) => visit_table(t, path, span, found),
        _ => {}
    }
}

/// Turns a serde error message into ours, for the key at `path`.
pub(crate) fn rewrite_serde_message(
    message: &str,
    path: &KeyPath,
    target: Target,
    locator: &Locator,
) -> Fail {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let known = parse_expected_names(expected);
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            let key_path = if target == Target::Key && path.last_key() == Some(field) {
                path.clone()
            } else if locator.exists(&path.key(field)) {
                path.key(field)
            } else {
                // reported on a whole (buffered) table: find the key somewhere inside it
                locator
                    .find(path, &|key, _| key == field)
                    .unwrap_or_else(|| path.key(field))
            };
            return Fail::unknown_key(key_path, &known);
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((variant, expected)) = rest.split_once('`') {
            let known = parse_expected_names(expected);
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            // Tagged enums report on the whole table: point at the tag that holds the name.
            let mut at = path.clone();
            let mut what = path.last_key().unwrap_or("value").to_owned();
            if locator.str_at(path).as_deref() != Some(variant) {
                let tag = locator.find(path, &|key, item| {
                    matches!(key, "type" | "matcher") && item.as_str() == Some(variant)
                });
                if let Some(tag) = tag {
                    what = tag.last_key().unwrap_or("value").to_owned();
                    at = tag;
                }
            }
            return Fail::unknown_name(at, &what, variant, &known);
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        let table = locator
            .table_without(path, field)
            .unwrap_or_else(|| path.clone());
        return Fail::missing_key(table, field);
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            let mut at = path.clone();
            if locator.is_container(path) && !expected_container(expected) {
                if let Some(leaf) = locator.find(path, &|_, item| scalar_matches(item, found)) {
                    at = leaf;
                }
            }
            return Fail::at(
                at,
                format!(
                    "expected {}, found {}",
                    friendly_expected(expected),
                    friendly_found(found)
                ),
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            let unsigned = matches!(expected, "u8" | "u16" | "u32" | "u64" | "usize");
            if unsigned && found.starts_with("integer `-") {
                return Fail::at(
                    path.clone(),
                    format!("must not be negative, found {}", friendly_found(found)),
                );
            }
            return Fail::at(
                path.clone(),
                format!(
                    "expected {}, found {}",
                    friendly_expected(expected),
                    friendly_found(found)
                ),
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        if let Some((len, expected)) = rest.split_once(", expected ") {
            return Fail::at(
                path.clone(),
                format!(
                    "expected {}, found {len} {}",
                    friendly_expected(expected),
                    if len == "1" { "element" } else { "elements" }
                ),
            );
        }
    }
    Fail::at(path.clone(), lower_first(message))
}

/// Whether serde expected a table or an array (then the container itself is the culprit).
fn expected_container(expected: &str) -> bool {
    matches!(expected, "a map" | "map" | "a sequence")
        || expected.starts_with("struct ")
        || expected.contains("tuple")
        || expected.contains("tagged enum")
}

/// Whether a TOML value is the one serde describes as `found` (`integer `1``, `string "x"`,
/// `boolean `true``, `floating point `1.5``).
fn scalar_matches(item: &toml_edit::Item, found: &str) -> bool {
    let inner = |prefix: &str| found.strip_prefix(prefix).map(|r| r.trim_matches('`'));
    if let Some(n) = inner("integer ") {
        return item.as_integer().is_some_and(|v| v.to_string() == n);
    }
    if let Some(b) = inner("boolean ") {
        return item.as_bool().is_some_and(|v| v.to_string() == b);
    }
    if let Some(f) = inner("floating point ") {
        return item.as_float().is_some_and(|v| f.parse::<f64>() == Ok(v));
    }
    if let Some(text) = found.strip_prefix("string ") {
        return item.as_str().is_some_and(|v| format!("{v:?}") == text);
    }
    false
}

/// The names listed in serde's "expected one of `a`, `b`" tail.
fn parse_expected_names(text: &str) -> Vec<String> {
    text.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect()
}

fn friendly_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => {
            let max = match expected {
                "u8" => Some(u8::MAX as u64),
                "u16" => Some(u16::MAX as u64),
                "u32" => Some(u32::MAX as u64),
                _ => None,
            };
            match max {
                Some(max) => format!("an integer from 0 to {max}"),
                None => "a non-negative integer".to_owned(),
            }
        }
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" | "map" => "a table".to_owned(),
        "a tuple of size 2" => "an array of two strings".to_owned(),
        other if other.starts_with("struct ") || other.contains("tagged enum") => {
            "a table".to_owned()
        }
        other => other.to_owned(),
    }
}

fn friendly_found(found: &str) -> String {
    let unquoted = |prefix: &str| {
        found
            .strip_prefix(prefix)
            .map(|rest| rest.trim_matches('`').to_owned())
    };
    if let Some(v) = unquoted("integer ") {
        return format!("integer {v}");
    }
    if let Some(v) = unquoted("floating point ") {
        return format!("number {v}");
    }
    if let Some(v) = unquoted("boolean ") {
        return v;
    }
    match found {
        "map" => "a table".to_owned(),
        "sequence" => "an array".to_owned(),
        other => other.to_owned(),
    }
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
