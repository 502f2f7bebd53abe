//! JSON read as Python's `json.loads` reads it, with its error messages
//! (`Expecting value: line 2 column 1 (char 40)`), which Buildbot's change hooks send back as
//! their 400 answers. Positions count characters, as Python's do; the checks are made in the
//! order of CPython's C scanner, so the first error found is the one Python reports.
//!
//! A decoding error is a `ValueError` (a 400); nesting past the limit is Python's
//! `RecursionError`, which is not one (a 500, unless the dialect catches every error).

use serde_json::{Map, Number, Value};

use super::error::HookError;

/// Deeper documents are refused (Python allows about 1,000 levels; a forge payload has fewer
/// than 20, and the reader must not exhaust a server thread's stack).
const MAX_DEPTH: usize = 128;

/// `json.loads(text)`: the value, or Python's error with its message.
pub fn loads_str(text: &str) -> Result<Value, HookError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.first() == Some(&'\u{feff}') {
        return Err(message(
            "Unexpected UTF-8 BOM (decode using utf-8-sig)",
            &chars,
            0,
        ));
    }
    let mut reader = Reader {
        s: &chars,
        depth: 0,
    };
    let start = reader.skip_ws(0);
    let (value, end) = match reader.value(start) {
        Ok(found) => found,
        Err(Fail::Stop(at)) => return Err(message("Expecting value", &chars, at)),
        Err(Fail::Error(msg, at)) => return Err(message(msg, &chars, at)),
        Err(Fail::Deep(kind)) => {
            return Err(HookError::internal(format!(
            "maximum recursion depth exceeded while decoding a JSON {kind} from a unicode string"
        )))
        }
    };
    let end = reader.skip_ws(end);
    if end != chars.len() {
        return Err(message("Extra data", &chars, end));
    }
    Ok(value)
}

/// Python's `UnicodeDecodeError` text for bytes that are not UTF-8.
pub fn utf8_message(bytes: &[u8], err: &std::str::Utf8Error) -> String {
    let at = err.valid_up_to();
    let byte = bytes[at];
    let reason = match err.error_len() {
        None => "unexpected end of data",
        Some(_) if (0x80..0xc2).contains(&byte) || byte >= 0xf5 => "invalid start byte",
        Some(_) => "invalid continuation byte",
    };
    match err.error_len() {
        Some(len) if len > 1 => format!(
            "'utf-8' codec can't decode bytes in position {at}-{}: {reason}",
            at + len - 1
        ),
        None if bytes.len() - at > 1 => format!(
            "'utf-8' codec can't decode bytes in position {at}-{}: {reason}",
            bytes.len() - 1
        ),
        _ => format!("'utf-8' codec can't decode byte 0x{byte:02x} in position {at}: {reason}"),
    }
}

/// `JSONDecodeError`: the message, then the line, column and character offset.
fn message(msg: &str, s: &[char], pos: usize) -> HookError {
    let before = &s[..pos.min(s.len())];
    let line = before.iter().filter(|&&c| c == '\n').count() + 1;
    let column = match before.iter().rposition(|&c| c == '\n') {
        Some(nl) => pos - nl,
        None => pos + 1,
    };
    HookError::bad(format!("{msg}: line {line} column {column} (char {pos})"))
}

enum Fail {
    /// Python's `StopIteration(at)`: no value starts here ("Expecting value").
    Stop(usize),
    /// A `JSONDecodeError` with its message.
    Error(&'static str, usize),
    /// Python's `RecursionError` in an array or an object.
    Deep(&'static str),
}

struct Reader<'a> {
    s: &'a [char],
    depth: usize,
}

impl Reader<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i).copied()
    }

    fn skip_ws(&self, mut i: usize) -> usize {
        while matches!(self.at(i), Some(' ' | '\t' | '\n' | '\r')) {
            i += 1;
        }
        i
    }

    fn word(&self, i: usize, word: &str) -> bool {
        word.chars()
            .enumerate()
            .all(|(k, c)| self.at(i + k) == Some(c))
    }

    fn value(&mut self, i: usize) -> Result<(Value, usize), Fail> {
        match self.at(i) {
            None => Err(Fail::Stop(i)),
            Some('"') => {
                let (s, end) = self.string(i + 1)?;
                Ok((Value::String(s), end))
            }
            Some('{') => self.nested("object", |r| r.object(i + 1)),
            Some('[') => self.nested("array", |r| r.array(i + 1)),
            Some('n') if self.word(i, "null") => Ok((Value::Null, i + 4)),
            Some('t') if self.word(i, "true") => Ok((Value::Bool(true), i + 4)),
            Some('f') if self.word(i, "false") => Ok((Value::Bool(false), i + 5)),
            // Python reads these as floats; JSON values here cannot hold them.
            Some('N') if self.word(i, "NaN") => Ok((Value::Null, i + 3)),
            Some('I') if self.word(i, "Infinity") => Ok((Value::Null, i + 8)),
            Some('-') if self.word(i, "-Infinity") => Ok((Value::Null, i + 9)),
            Some(_) => self.number(i),
        }
    }

    fn nested(
        &mut self,
        kind: &'static str,
        read: impl FnOnce(&mut Self) -> Result<(Value, usize), Fail>,
    ) -> Result<(Value, usize), Fail> {
        if self.depth >= MAX_DEPTH {
            return Err(Fail::Deep(kind));
        }
        self.depth += 1;
        let found = read(self);
        self.depth -= 1;
        found
    }

    fn object(&mut self, start: usize) -> Result<(Value, usize), Fail> {
        let mut map = Map::new();
        let mut i = self.skip_ws(start);
        if self.at(i) == Some('}') {
            return Ok((Value::Object(map), i + 1));
        }
        loop {
            if self.at(i) != Some('"') {
                return Err(Fail::Error(
                    "Expecting property name enclosed in double quotes",
                    i,
                ));
            }
            let (key, next) = self.string(i + 1)?;
            i = self.skip_ws(next);
            if self.at(i) != Some(':') {
                return Err(Fail::Error("Expecting ':' delimiter", i));
            }
            i = self.skip_ws(i + 1);
            let (value, next) = self.value(i)?;
            map.insert(key, value);
            i = self.skip_ws(next);
            match self.at(i) {
                Some('}') => return Ok((Value::Object(map), i + 1)),
                Some(',') => i = self.skip_ws(i + 1),
                _ => return Err(Fail::Error("Expecting ',' delimiter", i)),
            }
        }
    }

    fn array(&mut self, start: usize) -> Result<(Value, usize), Fail> {
        let mut items = Vec::new();
        let mut i = self.skip_ws(start);
        if self.at(i) == Some(']') {
            return Ok((Value::Array(items), i + 1));
        }
        loop {
            let (value, next) = self.value(i)?;
            items.push(value);
            i = self.skip_ws(next);
            match self.at(i) {
                Some(']') => return Ok((Value::Array(items), i + 1)),
                Some(',') => i = self.skip_ws(i + 1),
                _ => return Err(Fail::Error("Expecting ',' delimiter", i)),
            }
        }
    }

    /// A string whose opening quote is at `start - 1`; returns it and the index after it.
    fn string(&self, start: usize) -> Result<(String, usize), Fail> {
        let begin = start - 1;
        let mut out = String::new();
        let mut i = start;
        loop {
            let c = match self.at(i) {
                None => return Err(Fail::Error("Unterminated string starting at", begin)),
                Some(c) => c,
            };
            match c {
                '"' => return Ok((out, i + 1)),
                '\\' => {
                    let Some(e) = self.at(i + 1) else {
                        return Err(Fail::Error("Unterminated string starting at", begin));
                    };
                    let simple = match e {
                        '"' => Some('"'),
                        '\\' => Some('\\'),
                        '/' => Some('/'),
                        'b' => Some('\u{8}'),
                        'f' => Some('\u{c}'),
                        'n' => Some('\n'),
                        'r' => Some('\r'),
                        't' => Some('\t'),
                        'u' => None,
                        _ => return Err(Fail::Error("Invalid \\escape", i)),
                    };
                    if let Some(ch) = simple {
                        out.push(ch);
                        i += 2;
                        continue;
                    }
                    let unit = self.hex4(i + 2)?;
                    i += 6;
                    if (0xd800..0xdc00).contains(&unit)
                        && self.at(i) == Some('\\')
                        && self.at(i + 1) == Some('u')
                    {
                        let low = self.hex4(i + 2)?;
                        if (0xdc00..0xe000).contains(&low) {
                            let code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                            i += 6;
                            continue;
                        }
                    }
                    // A lone surrogate is kept by Python; text here cannot hold one.
                    out.push(char::from_u32(unit).unwrap_or('\u{fffd}'));
                }
                c if (c as u32) < 0x20 => {
                    return Err(Fail::Error("Invalid control character at", i));
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    /// Four hex digits at `i` (after `\u`).
    fn hex4(&self, i: usize) -> Result<u32, Fail> {
        if i + 4 > self.s.len() {
            return Err(Fail::Error("Invalid \\uXXXX escape", i - 1));
        }
        let mut unit = 0;
        for k in 0..4 {
            match self.s[i + k].to_digit(16) {
                Some(d) => unit = unit * 16 + d,
                None => return Err(Fail::Error("Invalid \\uXXXX escape", i - 1)),
            }
        }
        Ok(unit)
    }

    fn number(&self, start: usize) -> Result<(Value, usize), Fail> {
        let digit = |i: usize| self.at(i).is_some_and(|c| c.is_ascii_digit());
        let mut i = start;
        if self.at(i) == Some('-') {
            i += 1;
        }
        match self.at(i) {
            Some('1'..='9') => {
                while digit(i) {
                    i += 1;
                }
            }
            Some('0') => i += 1,
            _ => return Err(Fail::Stop(start)),
        }
        let mut float = false;
        if self.at(i) == Some('.') && digit(i + 1) {
            float = true;
            i += 2;
            while digit(i) {
                i += 1;
            }
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let e = i;
            i += 1;
            if matches!(self.at(i), Some('-' | '+')) {
                i += 1;
            }
            let digits = i;
            while digit(i) {
                i += 1;
            }
            if i > digits {
                float = true;
            } else {
                i = e;
            }
        }
        let text: String = self.s[start..i].iter().collect();
        let number = if float {
            text.parse::<f64>().ok().and_then(Number::from_f64)
        } else {
            text.parse::<i64>()
                .map(Number::from)
                .ok()
                .or_else(|| text.parse::<u64>().ok().map(Number::from))
                .or_else(|| text.parse::<f64>().ok().and_then(Number::from_f64))
        };
        Ok((number.map_or(Value::Null, Value::Number), i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(text: &str) -> String {
        match loads_str(text).unwrap_err() {
            HookError::BadRequest(message) => message,
            HookError::Internal(cause) => panic!("not a ValueError: {cause}"),
        }
    }

    #[test]
    fn recorded_messages() {
        // fixtures/reference/buildbot-4.3/auth/7-change-hooks: github, gitlab, bitbucketcloud.
        assert_eq!(
            err("{\"ref\": \"refs/heads/main\", \"commits\": [\n"),
            "Expecting value: line 2 column 1 (char 40)"
        );
        assert_eq!(
            err("{\"object_kind\": \"push\",,}\n"),
            "Expecting property name enclosed in double quotes: line 1 column 24 (char 23)"
        );
        assert_eq!(
            err("{\"push\": \n"),
            "Expecting value: line 2 column 1 (char 10)"
        );
        assert_eq!(err("not json"), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(err(""), "Expecting value: line 1 column 1 (char 0)");
    }

    #[test]
    fn python_messages_for_each_kind_of_error() {
        assert_eq!(
            err("{\"a\" 1}"),
            "Expecting ':' delimiter: line 1 column 6 (char 5)"
        );
        assert_eq!(
            err("[1 2]"),
            "Expecting ',' delimiter: line 1 column 4 (char 3)"
        );
        assert_eq!(
            err("{\"a\":1,}"),
            "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"
        );
        assert_eq!(err("[1,]"), "Expecting value: line 1 column 4 (char 3)");
        assert_eq!(err("{} x"), "Extra data: line 1 column 4 (char 3)");
        assert_eq!(
            err("\"abc"),
            "Unterminated string starting at: line 1 column 1 (char 0)"
        );
        assert_eq!(
            err("\"a\\qb\""),
            "Invalid \\escape: line 1 column 3 (char 2)"
        );
        assert_eq!(
            err("\"\\u12x4\""),
            "Invalid \\uXXXX escape: line 1 column 3 (char 2)"
        );
        assert_eq!(
            err("\"a\tb\""),
            "Invalid control character at: line 1 column 3 (char 2)"
        );
        assert_eq!(
            err("[1.]"),
            "Expecting ',' delimiter: line 1 column 3 (char 2)"
        );
        assert_eq!(err("-"), "Expecting value: line 1 column 1 (char 0)");
        // Characters, not bytes.
        assert_eq!(
            err("[\"é\" 1]"),
            "Expecting ',' delimiter: line 1 column 6 (char 5)"
        );
        assert_eq!(err("\n\n  x"), "Expecting value: line 3 column 3 (char 4)");
        assert_eq!(
            err("\u{feff}{}"),
            "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"
        );
    }

    #[test]
    fn values_as_python_reads_them() {
        assert_eq!(
            loads_str(" {\"a\": [1, -2.5e1, true, null, \"\\ud83d\\ude00\\n\"], \"a\": 3} ")
                .unwrap(),
            json!({"a": 3})
        );
        assert_eq!(
            loads_str("[1E2, 0, -0, 123456789012345678901]").unwrap(),
            json!([100.0, 0, 0, 123456789012345678901.0])
        );
        // Python's RecursionError (not a ValueError), in the container that went too deep.
        assert_eq!(
            loads_str(&format!("{}{{\"a\": {{", "[".repeat(127))).unwrap_err(),
            HookError::internal(
                "maximum recursion depth exceeded while decoding a JSON object from a unicode string"
            )
        );
        assert_eq!(
            loads_str(&"[".repeat(10_000)).unwrap_err(),
            HookError::internal(
                "maximum recursion depth exceeded while decoding a JSON array from a unicode string"
            )
        );
    }

    #[test]
    fn bytes_that_are_not_utf8() {
        let decode = |bytes: &[u8]| utf8_message(bytes, &std::str::from_utf8(bytes).unwrap_err());
        assert_eq!(
            decode(b"[\"\xff\"]"),
            "'utf-8' codec can't decode byte 0xff in position 2: invalid start byte"
        );
        assert_eq!(
            decode(b"[\"\xc3(\"]"),
            "'utf-8' codec can't decode byte 0xc3 in position 2: invalid continuation byte"
        );
        assert_eq!(
            decode(b"\"\xe2\x82"),
            "'utf-8' codec can't decode bytes in position 1-2: unexpected end of data"
        );
    }
}
