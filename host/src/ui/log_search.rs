//! Searching a log from the log viewer: the search form's query (plain text or a regular
//! expression), the matching lines read chunk by chunk through `DataApi::scan_log` (never the
//! whole log in memory), and "jump to first error" with its failure markers.

use std::ops::ControlFlow;

use regex::{Regex, RegexBuilder};
use serde::Serialize;

use super::PageRequest;
use crate::data::{ApiError, DataApi};
use crate::identity::User;

/// The most matching lines a search lists.
pub(super) const MAX_MATCHES: usize = 1000;

/// The longest query accepted, in bytes.
pub(super) const MAX_PATTERN: usize = 1000;

/// How much of a long matching line is shown, in bytes (around its first match).
const SHOWN_LINE: usize = 1000;

/// Lines shown above a line opened from a match or the first error.
const CONTEXT_LINES: i64 = 10;

/// What looks like a failure in a log, for "jump to first error" (Rust `regex` syntax, tried
/// on each line but headers; docs/ui.md lists them).
pub(super) const ERROR_MARKERS: &[&str] = &[
    r"(?i)\berror:",
    r"\berror\[E\d+\]",
    r"\b[A-Za-z]*Error\b",
    r"\bERROR\b",
    r"\bFAILED\b",
    r"\bFAIL:",
    r"Traceback \(most recent call last\)",
    r"panicked at",
    r"(?i)\bfatal:",
    r"(?i)\bfatal error\b",
    r"npm ERR!",
    r"make(\[\d+\])?: \*\*\*",
    r"Segmentation fault",
    r"command not found",
];

/// The search form as the request filled it in.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct Query {
    /// The text searched for (`q`).
    pub text: String,
    /// `regex`: the text is a regular expression.
    pub regex: bool,
    /// `icase`: letters match in either case.
    pub ignore_case: bool,
}

impl Query {
    /// The form's fields from the page's query string; `None` without a search.
    pub fn read(req: &PageRequest) -> Option<Query> {
        let text = req.arg("q").filter(|q| !q.is_empty())?;
        let on = |name: &str| req.arg(name).is_some_and(|v| !v.is_empty() && v != "0");
        Some(Query {
            text,
            regex: on("regex"),
            ignore_case: on("icase"),
        })
    }

    /// The query as a regular expression, or what is wrong with it (for the page, as a 400).
    pub fn compile(&self) -> Result<Regex, String> {
        if self.text.len() > MAX_PATTERN {
            return Err(format!(
                "the search is {} bytes long; at most {MAX_PATTERN} are accepted",
                self.text.len()
            ));
        }
        let pattern = if self.regex {
            self.text.clone()
        } else {
            regex::escape(&self.text)
        };
        build(&pattern, self.ignore_case).map_err(|err| match err {
            regex::Error::CompiledTooBig(_) => {
                "the regular expression is too big to search with".to_owned()
            }
            regex::Error::Syntax(detail) => format!("not a valid regular expression:\n{detail}"),
            other => format!("not a valid regular expression: {other}"),
        })
    }
}

/// A regex with bounded compiled size (the `regex` crate runs in linear time; this bounds
/// the memory and the compile time a hostile pattern can take).
fn build(pattern: &str, ignore_case: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 21)
        .build()
}

/// The failure markers as one regex.
fn error_markers() -> Regex {
    let alternatives: Vec<String> = ERROR_MARKERS.iter().map(|m| format!("(?:{m})")).collect();
    // The markers are fixed and tested; they always compile.
    build(&alternatives.join("|"), false).unwrap_or_else(|err| panic!("error markers: {err}"))
}

/// One matching line, ready for the template (the text is escaped there).
#[derive(Debug, Serialize)]
pub(super) struct Match {
    /// The line's number as shown (from 1).
    pub number: i64,
    /// Where the link opens the log (`?from=`): a few lines above this one.
    pub from: i64,
    /// The stdio channel (`o`, `e`, `h`).
    pub channel: &'static str,
    /// The line in pieces: (text, whether it is a match).
    pub parts: Vec<(String, bool)>,
}

/// What a search found.
#[derive(Debug, Default, Serialize)]
pub(super) struct Found {
    /// Up to [`MAX_MATCHES`] matching lines, in order.
    pub matches: Vec<Match>,
    /// More lines match than are listed.
    pub more: bool,
}

/// Where to open the log for line `line` (from 0): that line in view with some context.
pub(super) fn open_from(line: i64) -> i64 {
    (line - CONTEXT_LINES).max(0)
}

/// A stored line's channel and text (`kind` is the log's type: stdio lines start with theirs).
fn channel_and_text<'a>(line: &'a str, kind: &str) -> (&'static str, &'a str) {
    if kind != "s" {
        return ("o", line);
    }
    let channel = match line.as_bytes().first() {
        Some(b'e') => "e",
        Some(b'h') => "h",
        _ => "o",
    };
    let rest = line.char_indices().nth(1).map_or("", |(i, _)| &line[i..]);
    (channel, rest)
}

/// The lines of log `logid` (of type `kind`) that `regex` matches, read as `user`.
pub(super) async fn search(
    data: &DataApi,
    user: &User,
    logid: i64,
    kind: &str,
    regex: Regex,
) -> Result<Found, ApiError> {
    let kind = kind.to_owned();
    data.scan_log(user, logid, Found::default(), move |found, number, line| {
        let (channel, text) = channel_and_text(line, &kind);
        if !regex.is_match(text) {
            return ControlFlow::Continue(());
        }
        if found.matches.len() == MAX_MATCHES {
            found.more = true;
            return ControlFlow::Break(());
        }
        found.matches.push(Match {
            number: number + 1,
            from: open_from(number),
            channel,
            parts: highlight(&regex, text),
        });
        ControlFlow::Continue(())
    })
    .await
}

/// The number (from 0) of the first line of log `logid` that looks like a failure (headers
/// left out: they name the command, not its outcome), read as `user`.
pub(super) async fn first_error(
    data: &DataApi,
    user: &User,
    logid: i64,
    kind: &str,
) -> Result<Option<i64>, ApiError> {
    let kind = kind.to_owned();
    let markers = error_markers();
    data.scan_log(user, logid, None, move |first, number, line| {
        let (channel, text) = channel_and_text(line, &kind);
        if channel != "h" && markers.is_match(text) {
            *first = Some(number);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })
    .await
}

/// The largest char boundary of `text` at or before `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// `text` split into plain and matching pieces; a line longer than [`SHOWN_LINE`] is cut to
/// that much around its first match, with `…` where it was cut.
fn highlight(regex: &Regex, text: &str) -> Vec<(String, bool)> {
    let first = regex.find(text).map_or(0, |m| m.start());
    let (start, end) = if text.len() <= SHOWN_LINE {
        (0, text.len())
    } else {
        let start = floor_boundary(text, first.saturating_sub(SHOWN_LINE / 4));
        (start, floor_boundary(text, start + SHOWN_LINE))
    };
    let mut parts = Vec::new();
    if start > 0 {
        parts.push(("…".to_owned(), false));
    }
    let mut at = start;
    for m in regex.find_iter(&text[..end]) {
        if m.start() < at || m.is_empty() {
            continue;
        }
        if m.start() > at {
            parts.push((text[at..m.start()].to_owned(), false));
        }
        parts.push((m.as_str().to_owned(), true));
        at = m.end();
    }
    if at < end {
        parts.push((text[at..end].to_owned(), false));
    }
    if end < text.len() {
        parts.push(("…".to_owned(), false));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str, regex: bool, ignore_case: bool) -> Query {
        Query {
            text: text.into(),
            regex,
            ignore_case,
        }
    }

    #[test]
    fn plain_text_is_literal_and_case_is_an_option() {
        let re = query("a.b (c)", false, false).compile().unwrap();
        assert!(re.is_match("x a.b (c) y"));
        assert!(!re.is_match("axb (c)"));
        let re = query("Error", false, true).compile().unwrap();
        assert!(re.is_match("an ERROR here"));
        assert!(!query("Error", false, false)
            .compile()
            .unwrap()
            .is_match("ERROR"));
    }

    #[test]
    fn bad_and_oversized_patterns_are_messages() {
        let err = query("(unclosed", true, false).compile().unwrap_err();
        assert!(err.starts_with("not a valid regular expression"), "{err}");
        let err = query(&"a".repeat(MAX_PATTERN + 1), false, false)
            .compile()
            .unwrap_err();
        assert!(err.contains("at most 1000"), "{err}");
        // Small text, huge program: refused by the size limit, not compiled.
        let err = query(r"\w{500}\w{500}", true, false).compile().unwrap_err();
        assert_eq!(err, "the regular expression is too big to search with");
    }

    #[test]
    fn highlight_marks_each_match_and_cuts_long_lines() {
        let re = query("ab", false, false).compile().unwrap();
        assert_eq!(
            highlight(&re, "xabyab"),
            vec![
                ("x".to_owned(), false),
                ("ab".to_owned(), true),
                ("y".to_owned(), false),
                ("ab".to_owned(), true),
            ]
        );
        let long = format!("{}ab{}", "é".repeat(2000), "z".repeat(3000));
        let parts = highlight(&re, &long);
        assert_eq!(parts.first().unwrap().0, "…");
        assert_eq!(parts.last().unwrap().0, "…");
        assert!(parts.contains(&("ab".to_owned(), true)));
        let shown: usize = parts.iter().map(|p| p.0.len()).sum();
        assert!(shown <= SHOWN_LINE + 6, "{shown}");
        // An empty match highlights nothing.
        let re = query("^", true, false).compile().unwrap();
        assert_eq!(highlight(&re, "abc"), vec![("abc".to_owned(), false)]);
    }

    #[test]
    fn markers_find_failures_and_spare_ordinary_lines() {
        let markers = error_markers();
        for line in [
            "src/main.c:3:1: error: expected ';'",
            "error[E0308]: mismatched types",
            "TypeError: undefined is not a function",
            "ERROR tests/test_x.py::test_y",
            "FAILED tests/test_x.py::test_y - assert 1 == 2",
            "Traceback (most recent call last):",
            "thread 'main' panicked at src/lib.rs:1:1:",
            "fatal: not a git repository",
            "npm ERR! code ELIFECYCLE",
            "make[2]: *** [Makefile:12: all] Error 1",
            "Segmentation fault (core dumped)",
            "sh: 1: cmake: command not found",
        ] {
            assert!(markers.is_match(line), "{line}");
        }
        for line in [
            "tests/test_x.py::test_error_path PASSED",
            "0 Errors, 0 Warnings",
            "gcc -Werror -c x.c",
            "collected 12 items",
        ] {
            assert!(!markers.is_match(line), "{line}");
        }
    }

    #[test]
    fn every_marker_is_listed_in_the_docs() {
        let docs = include_str!("../../../docs/ui.md");
        for marker in ERROR_MARKERS {
            assert!(
                docs.contains(&format!("`{marker}`")),
                "docs/ui.md lacks `{marker}`"
            );
        }
    }

    #[test]
    fn stdio_lines_lose_their_channel_letter() {
        assert_eq!(channel_and_text("ehello", "s"), ("e", "hello"));
        assert_eq!(channel_and_text("hcmd", "s"), ("h", "cmd"));
        assert_eq!(channel_and_text("", "s"), ("o", ""));
        assert_eq!(channel_and_text("ehello", "t"), ("o", "ehello"));
    }
}
