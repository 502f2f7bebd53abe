//! The builder page's trends: its last N finished builds drawn on the server as two SVG charts
//! that need no script: each build's duration as a bar coloured by its result, with the
//! rolling median as a line, and the share of builds that passed on each day. Every bar links
//! to its build and names it in its tooltip.

use serde::Serialize;
use serde_json::{Map, Value};

use super::format::{datetime, duration};

/// The drawing's size in SVG units (the page scales it to its width).
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 100.0;
/// Builds in the rolling median: the build and the ones before it.
const MEDIAN_WINDOW: usize = 9;

/// Both charts, ready for `builder.html`.
#[derive(Debug, Serialize)]
pub struct Trends {
    /// The builds drawn (finished ones among the last N).
    pub count: usize,
    pub width: f64,
    pub height: f64,
    /// One bar per build, oldest on the left.
    pub bars: Vec<Bar>,
    /// The rolling median, as SVG polyline points.
    pub median: String,
    /// The longest duration (the top of the chart), as the UI writes durations.
    pub longest: String,
    /// The first and last build drawn.
    pub first: i64,
    pub last: i64,
    /// One bar per day with a finished build, oldest on the left.
    pub days: Vec<Day>,
}

/// A build's bar.
#[derive(Debug, Serialize)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub number: i64,
    /// Buildbot's result name (`success`, `failure`...), the bar's colour.
    pub result: &'static str,
    /// `#12 success, 3 min 5 s`.
    pub title: String,
}

/// A day's pass rate.
#[derive(Debug, Serialize)]
pub struct Day {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// `2026-11-28`.
    pub date: String,
    /// Percent of that day's builds that passed, rounded.
    pub percent: i64,
    /// `2026-11-28: 8 of 10 passed (80 %)`.
    pub title: String,
}

/// A finished build as the charts need it.
struct Finished {
    number: i64,
    results: Option<i64>,
    complete_at: i64,
    seconds: i64,
}

/// Whether a result counts as passed: success and warnings, as Buildbot's badges count them
/// green.
fn passed(results: Option<i64>) -> bool {
    matches!(results, Some(0 | 1))
}

/// The charts of `builds` (newest first, as the builder page reads them: `number`, `results`,
/// `complete`, `started_at`, `complete_at`); `None` when none has finished.
pub fn trends(builds: &[Map<String, Value>]) -> Option<Trends> {
    let mut finished: Vec<Finished> = builds
        .iter()
        .filter(|b| b.get("complete").and_then(Value::as_bool) == Some(true))
        .filter_map(|b| {
            let started = b.get("started_at")?.as_i64()?;
            let complete_at = b.get("complete_at")?.as_i64()?;
            Some(Finished {
                number: b.get("number")?.as_i64()?,
                results: b.get("results").and_then(Value::as_i64),
                complete_at,
                seconds: (complete_at - started).max(0),
            })
        })
        .collect();
    finished.reverse();
    let (first, last) = (finished.first()?.number, finished.last()?.number);
    let longest = finished.iter().map(|b| b.seconds).max().unwrap_or(0).max(1);
    let scale = |seconds: f64| HEIGHT * seconds / longest as f64;
    let slot = WIDTH / finished.len() as f64;
    let gap = if slot > 4.0 { slot * 0.15 } else { 0.0 };
    let bars = finished
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let height = scale(b.seconds as f64).max(0.5);
            let result = buildbot_plugin_sdk::results::name(b.results);
            Bar {
                x: round(i as f64 * slot + gap / 2.0),
                y: round(HEIGHT - height),
                width: round(slot - gap),
                height: round(height),
                number: b.number,
                result,
                title: format!("#{} {result}, {}", b.number, duration(b.seconds)),
            }
        })
        .collect();
    let median = finished
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let from = (i + 1).saturating_sub(MEDIAN_WINDOW);
            let mut window: Vec<i64> = finished[from..=i].iter().map(|b| b.seconds).collect();
            window.sort_unstable();
            let m = window.len();
            let middle = if m % 2 == 1 {
                window[m / 2] as f64
            } else {
                (window[m / 2 - 1] + window[m / 2]) as f64 / 2.0
            };
            format!(
                "{},{}",
                round(i as f64 * slot + slot / 2.0),
                round(HEIGHT - scale(middle))
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    Some(Trends {
        count: finished.len(),
        width: WIDTH,
        height: HEIGHT,
        bars,
        median,
        longest: duration(longest),
        first,
        last,
        days: days(&finished),
    })
}

/// The pass rate of each day (UTC) on which a build finished.
fn days(finished: &[Finished]) -> Vec<Day> {
    // Day → (builds, passed), in day order.
    let mut counts: std::collections::BTreeMap<i64, (usize, usize)> = Default::default();
    for b in finished {
        let day = counts.entry(b.complete_at.div_euclid(86_400)).or_default();
        day.0 += 1;
        day.1 += usize::from(passed(b.results));
    }
    let slot = WIDTH / counts.len().max(1) as f64;
    let gap = slot * 0.15;
    counts
        .iter()
        .enumerate()
        .map(|(i, (&day, &(total, ok)))| {
            let date = datetime(day * 86_400)[..10].to_owned();
            let percent = (ok as f64 * 100.0 / total as f64).round() as i64;
            let height = (HEIGHT * ok as f64 / total as f64).max(0.5);
            Day {
                x: round(i as f64 * slot + gap / 2.0),
                y: round(HEIGHT - height),
                width: round(slot - gap),
                height: round(height),
                title: format!("{date}: {ok} of {total} passed ({percent} %)"),
                date,
                percent,
            }
        })
        .collect()
}

/// Two decimals are plenty for a drawing 600 units wide.
fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(number: i64, results: Option<i64>, started: i64, seconds: i64) -> Map<String, Value> {
        json!({"number": number, "results": results, "complete": results.is_some(),
               "started_at": started, "complete_at": results.map(|_| started + seconds)})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn bars_medians_and_days() {
        let day = 86_400 * 20_000;
        // Newest first, as read; build 5 still runs.
        let builds = vec![
            build(5, None, day + 900, 0),
            build(4, Some(2), day + 86_400 + 10, 40),
            build(3, Some(0), day + 300, 10),
            build(2, Some(1), day + 200, 30),
            build(1, Some(0), day + 100, 20),
        ];
        let t = trends(&builds).unwrap();
        assert_eq!((t.count, t.first, t.last), (4, 1, 4));
        assert_eq!(t.longest, "40 s");
        let numbers: Vec<i64> = t.bars.iter().map(|b| b.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4]);
        // The longest build reaches the top; heights follow durations.
        assert_eq!(t.bars[3].y, 0.0);
        assert_eq!(t.bars[0].height, 50.0);
        assert_eq!(t.bars[3].title, "#4 failure, 40 s");
        assert_eq!(t.bars[1].result, "warnings");
        // Medians of 20; 20,30; 20,30,10; 20,30,10,40 → 20, 25, 20, 25 seconds.
        assert_eq!(t.median, "75,50 225,37.5 375,50 525,37.5");
        // Two days: three passed of three, then none of one.
        let days: Vec<(&str, i64)> = t
            .days
            .iter()
            .map(|d| (d.title.as_str(), d.percent))
            .collect();
        assert_eq!(
            days,
            [
                ("2024-10-04: 3 of 3 passed (100 %)", 100),
                ("2024-10-05: 0 of 1 passed (0 %)", 0)
            ]
        );
    }

    #[test]
    fn nothing_finished_draws_nothing() {
        assert!(trends(&[]).is_none());
        assert!(trends(&[build(1, None, 0, 0)]).is_none());
    }
}
