//! JSON text exactly as Python's `json.dumps` writes it, which Buildbot's clients compare byte for
//! byte: `ensure_ascii` escapes, Python float reprs, and the three layouts Buildbot uses.

use serde_json::Value;

/// A layout of `json.dumps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `separators=(",", ":")`: what REST sends when the client accepts `application/json`.
    Compact,
    /// `indent=2`: what REST sends otherwise (note the space before each newline).
    Indented,
    /// Python's defaults, on one line: `{"error": "..."}` and `/config`.
    Spaced,
}

/// Serialises `value` like `json.dumps(value, sort_keys=sort_keys, ...)` in the given layout.
pub fn to_string(value: &Value, layout: Layout, sort_keys: bool) -> String {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value, layout, sort_keys, 0);
    out
}

fn write_value(out: &mut String, value: &Value, layout: Layout, sort: bool, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separator(out, layout, i == 0, depth + 1);
                write_value(out, item, layout, sort, depth + 1);
            }
            close(out, layout, depth);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if sort {
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            }
            for (i, (key, item)) in entries.into_iter().enumerate() {
                separator(out, layout, i == 0, depth + 1);
                write_str(out, key);
                out.push_str(if layout == Layout::Compact { ":" } else { ": " });
                write_value(out, item, layout, sort, depth + 1);
            }
            close(out, layout, depth);
            out.push('}');
        }
    }
}

fn separator(out: &mut String, layout: Layout, first: bool, depth: usize) {
    match layout {
        Layout::Compact => {
            if !first {
                out.push(',');
            }
        }
        Layout::Spaced => {
            if !first {
                out.push_str(", ");
            }
        }
        Layout::Indented => {
            if !first {
                out.push_str(", ");
            }
            out.push('\n');
            indent(out, depth);
        }
    }
}

fn close(out: &mut String, layout: Layout, depth: usize) {
    if layout == Layout::Indented {
        out.push('\n');
        indent(out, depth);
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Writes a string with `ensure_ascii=True` escaping.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    if n.is_i64() || n.is_u64() {
        out.push_str(&n.to_string());
    } else if let Some(f) = n.as_f64() {
        out.push_str(&python_float_repr(f));
    }
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form outside 1e-4..1e16.
pub fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `{:e}` gives the shortest round-trip digits as d.ddde±x.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // position of the decimal point within digits
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layouts_match_python() {
        let v = json!({"b": [1, {"x": null}], "a": "é\u{1F600}\n", "c": {}, "d": []});
        assert_eq!(
            to_string(&v, Layout::Compact, true),
            r#"{"a":"\u00e9\ud83d\ude00\n","b":[1,{"x":null}],"c":{},"d":[]}"#
        );
        assert_eq!(
            to_string(&v, Layout::Spaced, true),
            r#"{"a": "\u00e9\ud83d\ude00\n", "b": [1, {"x": null}], "c": {}, "d": []}"#
        );
        assert_eq!(
            to_string(&v, Layout::Indented, true),
            "{\n  \"a\": \"\\u00e9\\ud83d\\ude00\\n\", \n  \"b\": [\n    1, \n    {\n      \"x\": null\n    }\n  ], \n  \"c\": {}, \n  \"d\": []\n}"
        );
        assert_eq!(
            to_string(&json!({"b": 1, "a": 2}), Layout::Spaced, false),
            r#"{"b": 1, "a": 2}"#
        );
    }

    #[test]
    fn floats_print_like_python_repr() {
        for (f, s) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1.5e16, "1.5e+16"),
            (1e16, "1e+16"),
            (123456789.125, "123456789.125"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (0.011815, "0.011815"),
        ] {
            assert_eq!(python_float_repr(f), s, "{f}");
        }
    }
}
