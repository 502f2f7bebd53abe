//! Template filters: Buildbot's result names, durations, timestamps, URL query values.

use minijinja::value::Value;
use minijinja::Environment;

/// Registers the filters every template may use.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("result", result_name);
    env.add_filter("duration", duration_filter);
    env.add_filter("datetime", datetime_filter);
    env.add_filter("urlq", url_query);
    env.add_filter("bytes", bytes_filter);
    env.add_filter("first_line", first_line);
}

/// `results` → `success`, `failure`... (`pending` for null, Buildbot's `results_PENDING`;
/// `unknown` for a code Buildbot does not define): the SDK's names, which plugins show too.
fn result_name(value: Value) -> String {
    buildbot_plugin_sdk::results::name(value.as_i64()).to_owned()
}

/// `started_at|duration(complete_at)`: the time between two epoch seconds (until now when the
/// end is null), e.g. `1 min 5 s`.
fn duration_filter(start: Value, end: Option<Value>) -> String {
    let Some(start) = start.as_i64() else {
        return String::new();
    };
    let end = end.and_then(|e| e.as_i64()).unwrap_or_else(now);
    duration(end.saturating_sub(start).max(0))
}

/// Seconds as Buildbot's UI writes them.
pub fn duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min {s} s")
    } else {
        format!("{s} s")
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Epoch seconds → `2026-11-28 01:22:30` (UTC); the page's script shows it in local time.
fn datetime_filter(value: Value) -> String {
    value.as_i64().map(datetime).unwrap_or_default()
}

/// Epoch seconds → `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn datetime(ts: i64) -> String {
    buildbot_plugin_sdk::time::UtcTime::from_unix(ts).to_string()
}

/// Percent-encodes a value for a query string, as the SDK's `Query` writes values.
fn url_query(value: Value) -> String {
    let text = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    buildbot_plugin_sdk::data::encode_query_value(&text)
}

/// The first line of a text, cut at `max` characters (default 120) with an ellipsis.
fn first_line(value: Value, max: Option<usize>) -> String {
    let text = value.as_str().unwrap_or_default();
    let line = text.lines().next().unwrap_or_default();
    let max = max.unwrap_or(120);
    if line.chars().count() > max || line.len() < text.trim_end().len() {
        let cut: String = line.chars().take(max).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

fn bytes_filter(value: Value) -> String {
    let n = value.as_i64().unwrap_or(0) as f64;
    if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(datetime(0), "1970-01-01 00:00:00");
        assert_eq!(datetime(1_796_433_750), "2026-12-05 01:22:30");
        assert_eq!(duration(65), "1 min 5 s");
        assert_eq!(duration(3), "3 s");
        assert_eq!(duration(7300), "2 h 1 min");
        assert_eq!(url_query(Value::from("a b&c")), "a%20b%26c");
    }

    /// `#8d4` and `#88DD44` alike.
    fn hex_color(text: &str) -> String {
        let digits = text.trim_start_matches('#').to_ascii_lowercase();
        if digits.len() == 3 {
            digits.chars().flat_map(|c| [c, c]).collect()
        } else {
            digits
        }
    }

    /// The names the `result` filter gives are the SDK's (which plugins show), each has a rule
    /// in the UI's stylesheet, and that rule paints it in the SDK's (Buildbot's) colour.
    #[test]
    fn result_names_and_colours_agree_with_the_sdk() {
        use buildbot_plugin_sdk::results::{self, BuildResult};
        let css = include_str!("assets/ui.css");
        let mut cases: Vec<(Value, &str)> = BuildResult::ALL
            .iter()
            .map(|r| (Value::from(r.code()), r.name()))
            .collect();
        cases.push((Value::from(()), "pending"));
        cases.push((Value::from(99), "unknown"));
        for (value, name) in cases {
            assert_eq!(result_name(value.clone()), name);
            let code = value.as_i64();
            let rule = format!(".results-{name} {{ background-color: ");
            let at = css
                .find(&rule)
                .unwrap_or_else(|| panic!("ui.css has no {rule:?}"));
            let color = css[at + rule.len()..].split(';').next().unwrap();
            assert_eq!(
                hex_color(color),
                hex_color(results::color(code)),
                "colour of {name}"
            );
        }
    }
}
