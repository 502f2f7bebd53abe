//! The `base` dialect: a change described by the request's arguments (query string or form
//! fields), as Buildbot's `BaseHookHandler` reads them. A JSON body is not read.

use serde_json::Value;

use super::change::{Change, Changes};
use super::error::HookError;
use super::pyjson;
use super::request::HookRequest;

/// `base`: no options.
#[derive(Debug, Clone, Default)]
pub struct Base;

impl Base {
    /// The change the arguments describe (always exactly one).
    pub fn get_changes(&self, req: &HookRequest) -> Result<Changes, HookError> {
        let text = |name: &str| req.arg(name).map(str::to_string);
        // Buildbot tests these for truth: an empty `files=` is no files.
        let files = match req.arg("files").filter(|v| !v.is_empty()) {
            Some(json) => strings(pyjson::loads_str(json).map_err(HookError::bad)?, "files")?,
            None => Vec::new(),
        };
        let properties = match req.arg("properties").filter(|v| !v.is_empty()) {
            Some(json) => match pyjson::loads_str(json).map_err(HookError::bad)? {
                Value::Object(map) => map,
                // Buildbot fails later, iterating over a non-mapping: not a ValueError.
                other => {
                    return Err(HookError::internal(format!(
                        "properties is not a mapping: {other}"
                    )))
                }
            },
            None => Default::default(),
        };
        let when = match req.arg("when_timestamp").or_else(|| req.arg("when")) {
            Some(when) => Some(py_float(when)?),
            None => None,
        };
        let author = text("author")
            .filter(|a| !a.is_empty())
            .or_else(|| text("who"));
        Ok(Changes {
            changes: vec![Change {
                author,
                committer: text("committer"),
                files,
                comments: text("comments"),
                revision: text("revision"),
                when_timestamp: when,
                branch: text("branch"),
                category: text("category"),
                revlink: text("revlink"),
                properties,
                repository: text("repository").unwrap_or_default(),
                project: text("project").unwrap_or_default(),
                codebase: text("codebase"),
            }],
            src: None,
        })
    }
}

/// A JSON list of file names.
fn strings(value: Value, what: &str) -> Result<Vec<String>, HookError> {
    match value {
        Value::Array(items) => Ok(items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect()),
        other => Err(HookError::internal(format!(
            "{what} is not a list: {other}"
        ))),
    }
}

/// Python's `float(text)` then the database's whole seconds (`1795800001.5` → 1795800001),
/// with Python's message for text that is not a number.
fn py_float(text: &str) -> Result<i64, HookError> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let special = matches!(
        lower.trim_start_matches(['+', '-']),
        "inf" | "infinity" | "nan"
    );
    let parsed = if special || trimmed.is_empty() || trimmed.contains("__") {
        None
    } else {
        trimmed.replace('_', "").parse::<f64>().ok()
    };
    match parsed {
        Some(v) if v.is_finite() => Ok(v.floor() as i64),
        _ if special => Err(HookError::bad("cannot convert float infinity to integer")),
        _ => Err(HookError::bad(format!(
            "could not convert string to float: {}",
            py_str_repr(text)
        ))),
    }
}

/// Python's `repr()` of a str.
pub(crate) fn py_str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_python_reads_them() {
        assert_eq!(py_float("1795800001.5").unwrap(), 1795800001);
        assert_eq!(py_float(" 12 ").unwrap(), 12);
        assert_eq!(py_float("1e3").unwrap(), 1000);
        assert_eq!(
            py_float("yesterday").unwrap_err(),
            HookError::bad("could not convert string to float: 'yesterday'")
        );
        assert_eq!(
            py_float("it's").unwrap_err(),
            HookError::bad("could not convert string to float: \"it's\"")
        );
    }
}
