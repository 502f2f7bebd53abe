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
        let text = |name: &str| Ok::<_, HookError>(req.arg(name)?.map(str::to_string));
        // Buildbot tests the list of values for truth: `files=` is given, and not JSON.
        let files = match req.arg("files")? {
            Some(json) => file_names(pyjson::loads_str(json)?)?,
            None => Vec::new(),
        };
        let properties = match req.arg("properties")? {
            Some(json) => match pyjson::loads_str(json)? {
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
        let when = match req.arg("when_timestamp")?.or(req.arg("when")?) {
            Some(when) => Some(epoch_seconds(py_float(when)?)?),
            None => None,
        };
        let author = text("author")?.filter(|a| !a.is_empty()).or(text("who")?);
        Ok(Changes {
            changes: vec![Change {
                author,
                committer: text("committer")?,
                files,
                comments: text("comments")?,
                revision: text("revision")?,
                when_timestamp: when,
                branch: text("branch")?,
                category: text("category")?,
                revlink: text("revlink")?,
                properties,
                repository: text("repository")?.unwrap_or_default(),
                project: text("project")?.unwrap_or_default(),
                codebase: text("codebase")?,
            }],
            src: None,
        })
    }
}

/// The file names of `files`: Buildbot iterates the JSON value, so a string gives its
/// characters and a mapping its keys; a name that is not text fails later (a 500).
fn file_names(value: Value) -> Result<Vec<String>, HookError> {
    let not_text = |v: &Value| HookError::internal(format!("a file name is not text: {v}"));
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                other => Err(not_text(&other)),
            })
            .collect(),
        Value::String(s) => Ok(s.chars().map(String::from).collect()),
        Value::Object(map) => Ok(map.into_iter().map(|(k, _)| k).collect()),
        other => Err(HookError::internal(format!(
            "files is not iterable: {other}"
        ))),
    }
}

/// Python's `float(text)`, with its message for text that is not a number.
fn py_float(text: &str) -> Result<f64, HookError> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    let negative = lower.starts_with('-');
    let parsed = match unsigned {
        "inf" | "infinity" => Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        "nan" => Some(f64::NAN),
        _ if trimmed.is_empty() || trimmed.contains("__") || trimmed.ends_with('_') => None,
        _ => trimmed.replace('_', "").parse::<f64>().ok(),
    };
    parsed.ok_or_else(|| {
        HookError::bad(format!(
            "could not convert string to float: {}",
            crate::data::query::py_str(text)
        ))
    })
}

/// The whole seconds the database stores for a float timestamp, after Buildbot's
/// `epoch2datetime` (Python's `datetime.fromtimestamp`) accepted it: NaN and years outside
/// 1–9999 are its `ValueError`s (400), numbers past the platform's `time_t` or `gmtime` its
/// `OverflowError`/`OSError` (500).
fn epoch_seconds(value: f64) -> Result<i64, HookError> {
    if value.is_nan() {
        return Err(HookError::bad("Invalid value NaN (not a number)"));
    }
    let seconds = value.floor();
    // ±2^63: the range of a 64-bit time_t.
    let time_t = 2f64.powi(63);
    if !(-time_t..time_t).contains(&seconds) {
        return Err(HookError::internal(
            "OverflowError: timestamp out of range for platform time_t",
        ));
    }
    let seconds = seconds as i64;
    let year = buildbot_plugin_sdk::time::UtcTime::from_unix(seconds).year;
    if year - 1900 > i64::from(i32::MAX) || year - 1900 < i64::from(i32::MIN) {
        return Err(HookError::internal(
            "OSError: [Errno 75] Value too large for defined data type",
        ));
    }
    if !(1..=9999).contains(&year) {
        return Err(HookError::bad(format!("year {year} is out of range")));
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_python_reads_them() {
        let seconds = |t: &str| py_float(t).and_then(epoch_seconds);
        assert_eq!(seconds("1795800001.5").unwrap(), 1795800001);
        assert_eq!(seconds(" 12 ").unwrap(), 12);
        assert_eq!(seconds("1e3").unwrap(), 1000);
        assert_eq!(seconds("-1.5").unwrap(), -2);
        assert_eq!(
            seconds("yesterday").unwrap_err(),
            HookError::bad("could not convert string to float: 'yesterday'")
        );
        assert_eq!(
            seconds("it's").unwrap_err(),
            HookError::bad("could not convert string to float: \"it's\"")
        );
        // Python 3.11's datetime.fromtimestamp, asked on this machine.
        assert_eq!(
            seconds("nan").unwrap_err(),
            HookError::bad("Invalid value NaN (not a number)")
        );
        assert_eq!(
            seconds("1e12").unwrap_err(),
            HookError::bad("year 33658 is out of range")
        );
        assert_eq!(
            seconds("-1e12").unwrap_err(),
            HookError::bad("year -29719 is out of range")
        );
        assert_eq!(
            seconds("1e16").unwrap_err(),
            HookError::bad("year 316889355 is out of range")
        );
        assert_eq!(
            seconds("-1e16").unwrap_err(),
            HookError::bad("year -316885416 is out of range")
        );
        assert_eq!(
            seconds("253402300800").unwrap_err(),
            HookError::bad("year 10000 is out of range")
        );
        assert_eq!(
            seconds("-62135596801").unwrap_err(),
            HookError::bad("year 0 is out of range")
        );
        assert_eq!(seconds("-62135596800").unwrap(), -62135596800);
        for past in ["1e17", "6.8e16", "inf", "-inf", "1e20"] {
            assert!(
                matches!(seconds(past), Err(HookError::Internal(_))),
                "{past}"
            );
        }
    }

    #[test]
    fn files_as_buildbot_iterates_them() {
        assert_eq!(
            file_names(serde_json::json!("abc")).unwrap(),
            ["a", "b", "c"]
        );
        assert!(file_names(serde_json::json!(["a", 1])).is_err());
    }
}
