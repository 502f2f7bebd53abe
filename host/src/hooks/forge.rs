//! What the forge dialects (github, gitlab, bitbucketcloud, bitbucketserver, bitbucket,
//! gitorious) share: their options, Twisted's view of headers and body, payload fields read as
//! Python reads them (a missing key is a `KeyError`, so a 500), dates as `dateutil` parses
//! them, and the `fnmatch` whitelist of payload properties (Buildbot's `PullRequestMixin`).

use regex::Regex;
use serde_json::{Map, Value};

use super::error::HookError;
use super::pyjson;
use super::request::HookRequest;
use crate::config::{ChangeHookDialect, Secret};
use crate::data::query::py_str as py_str_repr;

/// A dialect's options, checked against the names it knows.
pub(crate) struct Options<'a> {
    dialect: &'a ChangeHookDialect,
}

impl<'a> Options<'a> {
    /// The options of `dialect`, refused when one is not in `known` (Buildbot's `class` and
    /// `custom_class` are Python classes, which a TOML file cannot give).
    pub(crate) fn check(dialect: &'a ChangeHookDialect, known: &[&str]) -> Result<Self, String> {
        let names = dialect
            .options
            .keys()
            .map(String::as_str)
            .chain(dialect.secrets.iter().map(|(k, _)| k.as_str()));
        for name in names {
            if name == "class" || name == "custom_class" {
                return Err(format!(
                    "{}: option '{name}' is a Python class in Buildbot; buildbot-www has only \
                     its built-in {} handler",
                    dialect.name, dialect.name
                ));
            }
            if !known.contains(&name) {
                let known = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                return Err(format!(
                    "{}: unknown option '{name}' (the options are: {known})",
                    dialect.name
                ));
            }
        }
        Ok(Options { dialect })
    }

    fn error(&self, name: &str, expected: &str) -> String {
        format!("{}: option '{name}' must be {expected}", self.dialect.name)
    }

    /// A text option (written inline, or as a secret reference).
    pub(crate) fn string(&self, name: &str) -> Result<Option<String>, String> {
        match self.dialect.options.get(name) {
            None => Ok(self.dialect.secret(name).map(|s| s.expose().to_string())),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.error(name, "a string")),
        }
    }

    /// `codebase`: a string (Buildbot also takes a Python callable, which cannot be given here).
    pub(crate) fn codebase(&self) -> Result<Option<String>, String> {
        self.string("codebase").map_err(|_| {
            self.error(
                "codebase",
                "a string (a Python callable cannot be given to buildbot-www)",
            )
        })
    }

    /// A secret option (`secret`, `token`); an empty one counts as unset, as Buildbot tests it
    /// for truth.
    pub(crate) fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        match self.dialect.secret(name) {
            Some(secret) if secret.expose().is_empty() => Ok(None),
            Some(secret) => Ok(Some(secret.clone())),
            None => match self.dialect.options.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(_) => Err(self.error(name, "a string")),
            },
        }
    }

    /// An option that cannot come from a secret reference (`{ env = ... }`, `{ file = ... }`
    /// give text only).
    fn plain(&self, name: &str, expected: &str) -> Result<Option<&'a Value>, String> {
        match self.dialect.secret(name) {
            Some(_) => Err(self.error(name, expected)),
            None => Ok(self.dialect.options.get(name)),
        }
    }

    /// A true/false option.
    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, String> {
        match self.plain(name, "true or false")? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.error(name, "true or false")),
        }
    }

    /// A list of strings.
    pub(crate) fn strings(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self.plain(name, "a list of strings")? {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| self.error(name, "a list of strings")),
            Some(_) => Err(self.error(name, "a list of strings")),
        }
    }

    /// `<basename>_property_whitelist`: `fnmatch` patterns.
    pub(crate) fn whitelist(&self, name: &str) -> Result<Whitelist, String> {
        Whitelist::new(&self.strings(name)?.unwrap_or_default()).map_err(|pattern| {
            format!(
                "{}: option '{name}': '{pattern}' is not an fnmatch pattern (a bad range?)",
                self.dialect.name
            )
        })
    }
}

/// Twisted's `request.getHeader(name)`: the last value of the header, as raw bytes.
pub(crate) fn last_header<'r>(req: &'r HookRequest, name: &str) -> Option<&'r [u8]> {
    req.headers
        .get_all(name)
        .iter()
        .next_back()
        .map(|v| v.as_bytes())
}

/// Buildbot's `bytes2unicode(request.getHeader(name))`: the last value decoded as UTF-8 (bytes
/// that are not are Python's `UnicodeDecodeError`, a `ValueError`, so a 400).
pub(crate) fn header_text(req: &HookRequest, name: &str) -> Result<Option<String>, HookError> {
    last_header(req, name)
        .map(|bytes| utf8(bytes).map(str::to_string))
        .transpose()
}

/// The body decoded as UTF-8 (Buildbot's `bytes2unicode(request.content.read())`).
pub(crate) fn body_text(req: &HookRequest) -> Result<&str, HookError> {
    utf8(&req.body)
}

fn utf8(bytes: &[u8]) -> Result<&str, HookError> {
    std::str::from_utf8(bytes).map_err(|err| HookError::bad(pyjson::utf8_message(bytes, &err)))
}

/// `json.loads(text)`, its error Python's (a 400 with its message; too deep, a 500).
pub(crate) fn loads(text: &str) -> Result<Value, HookError> {
    pyjson::loads_str(text)
}

/// `value[key]`: a missing key or a value that is not a mapping fails as Python does, with an
/// exception other than `ValueError` (a 500).
pub(crate) fn get<'v>(value: &'v Value, key: &str) -> Result<&'v Value, HookError> {
    match value {
        Value::Object(map) => map
            .get(key)
            .ok_or_else(|| HookError::internal(format!("KeyError: '{key}'"))),
        other => Err(not_a_mapping(other, key)),
    }
}

/// `value[k1][k2]...`.
pub(crate) fn path<'v>(value: &'v Value, keys: &[&str]) -> Result<&'v Value, HookError> {
    keys.iter().try_fold(value, |v, key| get(v, key))
}

/// `value.get(key)` (`None` when absent).
pub(crate) fn get_opt<'v>(value: &'v Value, key: &str) -> Result<Option<&'v Value>, HookError> {
    match value {
        Value::Object(map) => Ok(map.get(key)),
        other => Err(not_a_mapping(other, key)),
    }
}

fn not_a_mapping(value: &Value, key: &str) -> HookError {
    HookError::internal(format!(
        "TypeError: cannot read '{key}' of {}",
        type_name(value)
    ))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "None",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// A change field Buildbot passes through `bytes2unicode`: a string or `None`; anything else is
/// its `TypeError` (a 500).
pub(crate) fn text(value: &Value) -> Result<Option<String>, HookError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(HookError::internal(format!(
            "TypeError: expected a string, not {}",
            type_name(other)
        ))),
    }
}

/// A string field that must be there (`repository`, `project`: the database refuses `None`).
pub(crate) fn required_text(value: &Value) -> Result<String, HookError> {
    text(value)?.ok_or_else(|| HookError::internal("TypeError: expected a string, not None"))
}

/// Python's `str(value)` as an f-string writes it.
pub(crate) fn py_str(value: &Value) -> String {
    crate::data::query::py_text(value)
}

/// Python's truth of a value.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Python's `int(value)` (a text that is not a number is a `ValueError`, a 400).
pub(crate) fn py_int(value: &Value) -> Result<i64, HookError> {
    match value {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.trunc() as i64)
            })
            .ok_or_else(|| HookError::internal(format!("int() of {n}"))),
        Value::String(s) => {
            let t = s.trim();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            let valid = !digits.is_empty()
                && !digits.starts_with('_')
                && !digits.ends_with('_')
                && !digits.contains("__")
                && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
            match t.replace('_', "").parse::<i64>() {
                Ok(n) if valid => Ok(n),
                _ => Err(HookError::bad(format!(
                    "invalid literal for int() with base 10: {}",
                    py_str_repr(s)
                ))),
            }
        }
        other => Err(HookError::internal(format!(
            "TypeError: int() argument must be a string or a number, not '{}'",
            type_name(other)
        ))),
    }
}

/// The `files` of a commit: its `added`, `modified` and `removed` lists, in that order.
pub(crate) fn commit_files(commit: &Value) -> Result<Vec<String>, HookError> {
    let mut files = Vec::new();
    for kind in ["added", "modified", "removed"] {
        match get_opt(commit, kind)? {
            None => {}
            Some(Value::Array(items)) => {
                for item in items {
                    files.push(required_text(item)?);
                }
            }
            // Python extends a list with a string's characters.
            Some(Value::String(s)) => files.extend(s.chars().map(String::from)),
            Some(other) => {
                return Err(HookError::internal(format!(
                    "TypeError: '{}' object is not iterable",
                    type_name(other)
                )))
            }
        }
    }
    Ok(files)
}

/// `re.match(r"^refs/(heads|tags)/(.+)$", refname)`: `("heads" | "tags", name)`.
pub(crate) fn split_ref(refname: &str) -> Option<(&str, &str)> {
    // `$` also matches before a final newline; `.` matches no newline.
    let refname = refname.strip_suffix('\n').unwrap_or(refname);
    let rest = refname.strip_prefix("refs/")?;
    let (kind, name) = rest.split_once('/')?;
    let ok = matches!(kind, "heads" | "tags") && !name.is_empty() && !name.contains('\n');
    ok.then_some((kind, name))
}

/// The `src` of a dialect's changes, from a payload's `scm`: the systems Buildbot links an author
/// to a user for (any other is no source, as Buildbot ignores it).
pub(crate) fn scm_src(scm: &Value) -> Result<Option<&'static str>, HookError> {
    Ok(match text(scm)?.as_deref() {
        Some("git") => Some("git"),
        Some("hg") => Some("hg"),
        Some("svn") => Some("svn"),
        Some("darcs") => Some("darcs"),
        Some("bzr") => Some("bzr"),
        _ => None,
    })
}

/// `dateutil.parser.parse(value)` of a timestamp, as whole seconds since the epoch (a time
/// without an offset is UTC). Text it cannot read is its `ParserError`, a `ValueError` (400).
pub(crate) fn timestamp(value: &Value) -> Result<i64, HookError> {
    match value {
        Value::String(s) => {
            iso8601(s).ok_or_else(|| HookError::bad(format!("Unknown string format: {s}")))
        }
        other => Err(HookError::internal(format!(
            "TypeError: Parser must be a string or character stream, not {}",
            type_name(other)
        ))),
    }
}

/// An ISO 8601 date and time (`2026-11-27T10:15:30+01:00`, `2012-05-30 05:58:56`,
/// `...Z`, `...+0100`, fractions of a second) as seconds since the epoch.
pub(crate) fn iso8601(text: &str) -> Option<i64> {
    let s = text.trim().as_bytes();
    let mut i = 0;
    let number = |at: &mut usize, len: usize| -> Option<i64> {
        let digits = s.get(*at..*at + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *at += len;
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let year = number(&mut i, 4)?;
    (s.get(i) == Some(&b'-')).then_some(())?;
    i += 1;
    let month = number(&mut i, 2)?;
    (s.get(i) == Some(&b'-')).then_some(())?;
    i += 1;
    let day = number(&mut i, 2)?;
    let (mut hour, mut minute, mut second) = (0, 0, 0);
    if matches!(s.get(i), Some(b'T' | b't' | b' ')) {
        i += 1;
        hour = number(&mut i, 2)?;
        (s.get(i) == Some(&b':')).then_some(())?;
        i += 1;
        minute = number(&mut i, 2)?;
        if s.get(i) == Some(&b':') {
            i += 1;
            second = number(&mut i, 2)?;
            if matches!(s.get(i), Some(b'.' | b',')) {
                i += 1;
                let start = i;
                while s.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                (i > start).then_some(())?;
            }
        }
    }
    let offset = match s.get(i..)? {
        [] => 0,
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let sign = if *sign == b'-' { -1 } else { 1 };
            let mut j = i + 1;
            let hours = number(&mut j, 2)?;
            let minutes = match rest.len() {
                2 => 0,
                4 => number(&mut j, 2)?,
                5 if rest[2] == b':' => {
                    j += 1;
                    number(&mut j, 2)?
                }
                _ => return None,
            };
            (hours < 24 && minutes < 60).then_some(())?;
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=12).contains(&month)
        && (1..=month_days[(month - 1).clamp(0, 11) as usize]).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then(|| {
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil, the
/// inverse of the SDK's `UtcTime::from_unix`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `*_property_whitelist`: `fnmatch` patterns over the flattened names of a payload's fields
/// (`github.head.sha`), whose values become change properties (Buildbot's `PullRequestMixin`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Whitelist(Vec<Regex>);

impl Whitelist {
    /// The patterns, as `fnmatch` reads them (`*`, `?`, `[seq]`, `[!seq]`; case-sensitive);
    /// the error is a pattern Python's `re` would refuse too (`[z-a]`).
    pub(crate) fn new(patterns: &[String]) -> Result<Self, String> {
        patterns
            .iter()
            .map(|p| Regex::new(&fnmatch_regex(p)).map_err(|_| p.clone()))
            .collect::<Result<_, _>>()
            .map(Whitelist)
    }

    /// The whitelisted fields of `payload`, named `<basename>.<key>.<key>...`; mappings are
    /// entered, never taken whole.
    pub(crate) fn extract(
        &self,
        basename: &str,
        payload: &Value,
    ) -> Result<Map<String, Value>, HookError> {
        let mut properties = Map::new();
        match payload {
            Value::Object(map) => self.flatten(basename, map, &mut properties),
            other => {
                return Err(HookError::internal(format!(
                    "AttributeError: '{}' object has no attribute 'items'",
                    type_name(other)
                )))
            }
        }
        Ok(properties)
    }

    fn flatten(&self, base: &str, map: &Map<String, Value>, out: &mut Map<String, Value>) {
        for (key, value) in map {
            let name = format!("{base}.{key}");
            match value {
                Value::Object(inner) => self.flatten(&name, inner, out),
                _ if self.0.iter().any(|re| re.is_match(&name)) => {
                    out.insert(name, value.clone());
                }
                _ => {}
            }
        }
    }
}

/// Python's `fnmatch.translate`, for the regex crate.
fn fnmatch_regex(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::from("(?s)\\A(?:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                while chars.get(i) == Some(&'*') {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => {
                // The set runs to the next `]` that is not its first character.
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                    continue;
                }
                let mut set: &[char] = &chars[i..j];
                i = j + 1;
                out.push('[');
                if set.first() == Some(&'!') {
                    out.push('^');
                    set = &set[1..];
                }
                for &s in set {
                    match s {
                        '-' => out.push('-'),
                        s if s.is_ascii_punctuation() => {
                            out.push('\\');
                            out.push(s);
                        }
                        s => out.push(s),
                    }
                }
                out.push(']');
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(")\\z");
    out
}

#[cfg(test)]
pub(crate) mod recorded {
    //! The recordings of a real Buildbot 4.3 master (scenario 7): requests replayed from
    //! `requests.tsv`, and the changes it wrote.

    use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
    use bytes::Bytes;
    use serde_json::{Map, Value};

    use crate::config::{ChangeHookDialect, Secret};
    use crate::hooks::change::Change;
    use crate::hooks::request::HookRequest;

    /// The folder of the recordings.
    pub(crate) const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/reference/buildbot-4.3/auth/7-change-hooks/"
    );

    /// A dialect's config as the recordings' master had it.
    pub(crate) fn dialect(
        name: &str,
        options: Value,
        secrets: &[(&str, &str)],
    ) -> ChangeHookDialect {
        ChangeHookDialect {
            name: name.into(),
            options: match options {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            secrets: secrets
                .iter()
                .map(|(k, v)| (k.to_string(), Secret::new(*v)))
                .collect(),
        }
    }

    /// Shell words, with backslash escapes (as `requests.tsv` writes curl's arguments).
    fn words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut in_word = false;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    word.extend(chars.next());
                    in_word = true;
                }
                ' ' | '\t' => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                c => {
                    word.push(c);
                    in_word = true;
                }
            }
        }
        if in_word {
            words.push(word);
        }
        words
    }

    /// The request recorded as `name` (the `.http` file of its answer), as curl sent it.
    pub(crate) fn request(name: &str) -> HookRequest {
        let tsv = std::fs::read_to_string(format!("{DIR}requests.tsv")).unwrap();
        let line = tsv
            .lines()
            .find(|l| l.split('\t').next() == Some(name))
            .unwrap_or_else(|| panic!("{name} is not in requests.tsv"));
        let mut fields = line.splitn(3, '\t');
        let (_, uri, args) = (
            fields.next(),
            fields.next().unwrap(),
            fields.next().unwrap_or(""),
        );
        let args = words(args);
        let mut headers = HeaderMap::new();
        let mut body = Vec::new();
        let mut method = None;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "-H" => {
                    let (k, v) = it.next().unwrap().split_once(':').unwrap();
                    headers.append(
                        HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
                        HeaderValue::from_str(v.trim()).unwrap(),
                    );
                }
                "-X" => method = Some(Method::from_bytes(it.next().unwrap().as_bytes()).unwrap()),
                "--data-binary" => {
                    let data = it.next().unwrap();
                    body = match data.strip_prefix('@') {
                        Some(file) => std::fs::read(format!("{DIR}{file}")).unwrap(),
                        None => data.as_bytes().to_vec(),
                    };
                    method.get_or_insert(Method::POST);
                }
                other => panic!("{name}: curl argument {other} not replayed here"),
            }
        }
        HookRequest::new(
            method.unwrap_or(Method::GET),
            uri.to_string(),
            headers,
            Bytes::from(body),
            1_795_800_000,
        )
    }

    /// The answer recorded as `name`: status line's code and reason.
    pub(crate) fn answer(name: &str) -> (u16, String) {
        let text = std::fs::read_to_string(format!("{DIR}{name}")).unwrap();
        let status = text.lines().next().unwrap();
        let mut parts = status.splitn(3, ' ');
        parts.next();
        let code = parts.next().unwrap().parse().unwrap();
        (code, parts.next().unwrap_or("").to_string())
    }

    /// The changes the master stored, oldest first.
    pub(crate) fn stored(name: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(format!("{DIR}{name}")).unwrap();
        let (_, json) = text
            .split_once("\r\n\r\n")
            .or_else(|| text.split_once("\n\n"))
            .unwrap();
        let doc: Value = serde_json::from_str(json).unwrap();
        let mut changes = doc["changes"].as_array().unwrap().clone();
        changes.sort_by_key(|c| c["changeid"].as_i64());
        changes
    }

    /// Checks our change against the one the master stored, field for field, as the database
    /// stores it (`None` author, comments and codebase as `""`; properties with their source).
    /// A stored `when_timestamp` is the receive time when ours is `None`.
    pub(crate) fn assert_stored(ours: &Change, stored: &Value) {
        let or_empty = |v: &Option<String>| Value::from(v.clone().unwrap_or_default());
        let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::from);
        let id = &stored["changeid"];
        assert_eq!(or_empty(&ours.author), stored["author"], "author of {id}");
        assert_eq!(
            opt(&ours.committer),
            stored["committer"],
            "committer of {id}"
        );
        assert_eq!(
            Value::from(ours.files.clone()),
            stored["files"],
            "files of {id}"
        );
        assert_eq!(
            or_empty(&ours.comments),
            stored["comments"],
            "comments of {id}"
        );
        assert_eq!(opt(&ours.revision), stored["revision"], "revision of {id}");
        assert_eq!(opt(&ours.branch), stored["branch"], "branch of {id}");
        assert_eq!(opt(&ours.category), stored["category"], "category of {id}");
        assert_eq!(opt(&ours.revlink), stored["revlink"], "revlink of {id}");
        assert_eq!(
            Value::from(ours.repository.clone()),
            stored["repository"],
            "repository of {id}"
        );
        assert_eq!(
            Value::from(ours.project.clone()),
            stored["project"],
            "project of {id}"
        );
        assert_eq!(
            or_empty(&ours.codebase),
            stored["codebase"],
            "codebase of {id}"
        );
        match ours.when_timestamp {
            Some(when) => assert_eq!(Value::from(when), stored["when_timestamp"], "when of {id}"),
            None => assert!(stored["when_timestamp"].is_i64(), "when of {id}"),
        }
        let properties: Map<String, Value> = ours
            .properties
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    Value::from(vec![v.clone(), Value::from("Change")]),
                )
            })
            .collect();
        assert_eq!(
            Value::Object(properties),
            stored["properties"],
            "properties of {id}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buildbot_plugin_sdk::time::UtcTime;
    use serde_json::json;

    #[test]
    fn dates_as_dateutil_reads_them() {
        assert_eq!(iso8601("2026-11-27T10:15:30+01:00"), Some(1_795_770_930));
        assert_eq!(iso8601("2026-11-27T09:15:30Z"), Some(1_795_770_930));
        assert_eq!(iso8601("2026-11-27 09:15:30"), Some(1_795_770_930));
        assert_eq!(iso8601("2026-11-27T04:15:30.123-0500"), Some(1_795_770_930));
        assert_eq!(iso8601("2026-11-27T10:45:30+01:30"), Some(1_795_770_930));
        assert_eq!(iso8601("2026-11-27T10:15:30+01"), Some(1_795_770_930));
        assert_eq!(iso8601("2026-11-27"), Some(1_795_737_600));
        for bad in [
            "yesterday",
            "2026-13-01",
            "2026-02-29",
            "2026-11-27T25:00:00",
            "2026-11-27T10:15:30+1",
            "",
        ] {
            assert_eq!(iso8601(bad), None, "{bad}");
        }
        assert_eq!(
            timestamp(&json!("soon")).unwrap_err(),
            HookError::bad("Unknown string format: soon")
        );
        assert!(matches!(timestamp(&json!(5)), Err(HookError::Internal(_))));
        // The inverse of the SDK's calendar, before and after the epoch.
        for seconds in [-86_400 * 40_000, -1, 0, 951_782_400, 4_102_444_800] {
            let t = UtcTime::from_unix(seconds);
            let text = format!("{}T{}Z", t.date(), t.clock());
            assert_eq!(iso8601(&text), Some(seconds), "{text}");
        }
    }

    #[test]
    fn whitelist_as_fnmatch() {
        let w = Whitelist::new(&[
            "github.head.*".into(),
            "github.numbe?".into(),
            "github.[!x]d".into(),
        ])
        .unwrap();
        let payload = json!({"number": 7, "id": 1, "head": {"sha": "abc", "repo": {"name": "r"}}, "title": "t"});
        let props = w.extract("github", &payload).unwrap();
        assert_eq!(
            Value::Object(props),
            json!({"github.number": 7, "github.id": 1, "github.head.sha": "abc", "github.head.repo.name": "r"})
        );
        assert_eq!(fnmatch_regex("a[]b]c"), "(?s)\\A(?:a[\\]b]c)\\z");
        assert!(Regex::new(&fnmatch_regex("a[")).unwrap().is_match("a["));
        assert!(Regex::new(&fnmatch_regex("x.[a-c&&]"))
            .unwrap()
            .is_match("x.&"));
        assert_eq!(Whitelist::new(&["a[z-a]".into()]).unwrap_err(), "a[z-a]");
        assert!(Whitelist::new(&[])
            .unwrap()
            .extract("b", &json!({"a": 1}))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn python_values() {
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(
            py_str(&json!(["a", true, {"k": 1}])),
            "['a', True, {'k': 1}]"
        );
        assert_eq!(py_int(&json!("12")).unwrap(), 12);
        assert_eq!(py_int(&json!(" -1_2 ")).unwrap(), -12);
        assert_eq!(py_int(&json!(12.9)).unwrap(), 12);
        assert_eq!(
            py_int(&json!("x")).unwrap_err(),
            HookError::bad("invalid literal for int() with base 10: 'x'")
        );
        assert!(matches!(py_int(&json!(null)), Err(HookError::Internal(_))));
        assert!(!truthy(&json!({})) && truthy(&json!("x")) && !truthy(&json!(0)));
        assert_eq!(
            split_ref("refs/heads/feature/donut"),
            Some(("heads", "feature/donut"))
        );
        assert_eq!(split_ref("refs/tags/v1\n"), Some(("tags", "v1")));
        assert_eq!(split_ref("refs/pull/1/head"), None);
        assert_eq!(split_ref("refs/heads/"), None);
        assert!(matches!(get(&json!([]), "a"), Err(HookError::Internal(_))));
        assert!(matches!(
            path(&json!({"a": {}}), &["a", "b"]),
            Err(HookError::Internal(_))
        ));
    }
}
