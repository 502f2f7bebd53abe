//! The badge kinds, chosen with the URL argument `kind`: what the right part says and how it is
//! read. `status` is Buildbot's badge (the last build's status); `duration` is how long the
//! last finished build took; `pass_rate` is the share of the last N finished builds that
//! passed. Each costs one Data API read (two for a name that must be looked up first), made
//! with the requester's rights and bounded by N, so it stays cheap whatever the number of builds.

use buildbot_plugin_sdk::prelude::*;

use crate::options::Options;

/// The kinds, by their URL name.
pub const KINDS: [&str; 3] = ["status", "duration", "pass_rate"];
/// The builds a `pass_rate` badge counts when `builds` is not given.
pub const DEFAULT_BUILDS: i64 = 100;
/// The most builds a `pass_rate` badge may count.
pub const MAX_BUILDS: i64 = 1_000;
/// A pass rate of at least this many percent is coloured as `success`.
pub const GOOD_PERCENT: u64 = 90;
/// A pass rate of at least this many percent (and below [`GOOD_PERCENT`]) is coloured as
/// `warnings`; below it, as `failure`.
pub const FAIR_PERCENT: u64 = 75;

/// The fields read of a builder's last (finished) build.
const LAST_BUILD_FIELDS: [&str; 5] = ["number", "complete", "results", "started_at", "complete_at"];

/// What a badge shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// The last build's status (Buildbot's badge).
    #[default]
    Status,
    /// The last finished build's duration.
    Duration,
    /// The share of the last N finished builds that passed.
    PassRate,
}

impl Kind {
    /// The kind of a URL name.
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "status" => Some(Kind::Status),
            "duration" => Some(Kind::Duration),
            "pass_rate" => Some(Kind::PassRate),
            _ => None,
        }
    }

    /// The URL name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Status => "status",
            Kind::Duration => "duration",
            Kind::PassRate => "pass_rate",
        }
    }

    /// The left text when the URL gives none (`None`: the configured `left_text`).
    pub fn left_text(self) -> Option<&'static str> {
        match self {
            Kind::Status => None,
            Kind::Duration => Some("duration"),
            Kind::PassRate => Some("pass rate"),
        }
    }
}

/// What a read found, before it is written and coloured with a badge's options.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// A status: `success` ... `cancelled`, `running`, or `unknown`.
    Status(&'static str),
    /// The last finished build took `seconds` and ended with `result` (a status name).
    Duration {
        /// `complete_at - started_at` (0 when the clock went backwards).
        seconds: i64,
        /// The build's result, as the status badge names it.
        result: &'static str,
    },
    /// Of the last `total` finished builds, `passed` passed (success or warnings).
    PassRate {
        /// Builds with result success or warnings.
        passed: u64,
        /// Finished builds counted (at least 1).
        total: u64,
    },
    /// Nothing to show: no (finished) build, or no such builder.
    Unknown,
}

impl Reading {
    /// The right part's text.
    pub fn text(&self) -> String {
        match self {
            Reading::Status(status) => (*status).to_owned(),
            Reading::Duration { seconds, .. } => duration_text(*seconds),
            Reading::PassRate { passed, total } => format!("{}%", percent(*passed, *total)),
            Reading::Unknown => "unknown".to_owned(),
        }
    }

    /// The status whose colour (in the badge's `color_scheme`) the right part takes.
    pub fn color_status(&self) -> &'static str {
        match self {
            Reading::Status(status) => status,
            Reading::Duration { result, .. } => result,
            Reading::PassRate { passed, total } => rate_status(*passed, *total),
            Reading::Unknown => "unknown",
        }
    }

    /// The right part's colour with these options.
    pub fn color<'a>(&self, options: &'a Options) -> &'a str {
        options.status_color(self.color_status())
    }
}

/// What a read found and when that last changed (Unix seconds), for `Last-Modified`.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The value.
    pub reading: Reading,
    /// `complete_at` of the newest build read (`started_at` of a running one); `None` without.
    pub changed_at: Option<i64>,
}

/// A duration written compactly: `42s`, `4m 12s`, `1h 02m`, `3d 04h`. Negative durations (a
/// clock that went backwards) are `0s`.
pub fn duration_text(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3_599 => format!("{}m {:02}s", s / 60, s % 60),
        3_600..=86_399 => format!("{}h {:02}m", s / 3_600, s % 3_600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3_600),
    }
}

/// The whole percent of `passed` out of `total`, rounded down, so that `100%` means every
/// build passed (`0` when `total` is 0).
pub fn percent(passed: u64, total: u64) -> u64 {
    (passed * 100).checked_div(total).unwrap_or(0)
}

/// The status a pass rate is coloured as: `success` from [`GOOD_PERCENT`], `warnings` from
/// [`FAIR_PERCENT`], `failure` below (compared exactly, not after rounding).
pub fn rate_status(passed: u64, total: u64) -> &'static str {
    if total == 0 {
        "unknown"
    } else if passed * 100 >= GOOD_PERCENT * total {
        "success"
    } else if passed * 100 >= FAIR_PERCENT * total {
        "warnings"
    } else {
        "failure"
    }
}

/// Whether a result counts as passed: success and warnings (as the builder page's trends
/// count them).
pub fn passed(result: Option<BuildResult>) -> bool {
    matches!(result, Some(BuildResult::Success | BuildResult::Warnings))
}

/// Reads what a badge of `kind` shows for `builder` (`builds`: how many finished builds a
/// `pass_rate` counts).
pub fn read(builder: &str, kind: Kind, builds: i64) -> Result<Found, DataError> {
    let query = Query::new().order("-number");
    Ok(match kind {
        Kind::Status => {
            let query = query.limit(1).fields(LAST_BUILD_FIELDS);
            let last = builds_of(builder, &query)?.into_iter().next();
            match last {
                None => Found {
                    reading: Reading::Unknown,
                    changed_at: None,
                },
                Some(build) if !build.complete => Found {
                    reading: Reading::Status("running"),
                    changed_at: Some(build.started_at),
                },
                Some(build) => Found {
                    reading: Reading::Status(build.result().map_or("unknown", BuildResult::name)),
                    changed_at: build.complete_at.or(Some(build.started_at)),
                },
            }
        }
        Kind::Duration => {
            // The Data API filters only on selected fields: `complete` is asked for too.
            let query = query
                .limit(1)
                .eq("complete", "true")
                .fields(LAST_BUILD_FIELDS);
            let last = builds_of(builder, &query)?.into_iter().next();
            match last.and_then(|b| Some((b.complete_at?, b))) {
                None => Found {
                    reading: Reading::Unknown,
                    changed_at: None,
                },
                Some((complete_at, build)) => Found {
                    reading: Reading::Duration {
                        seconds: complete_at - build.started_at,
                        result: build.result().map_or("unknown", BuildResult::name),
                    },
                    changed_at: Some(complete_at),
                },
            }
        }
        Kind::PassRate => {
            let query = query
                .limit(builds.clamp(1, MAX_BUILDS))
                .eq("complete", "true")
                .fields(["number", "complete", "results", "complete_at"]);
            let finished = builds_of(builder, &query)?;
            let total = finished.len() as u64;
            let passed = finished.iter().filter(|b| passed(b.result())).count() as u64;
            Found {
                reading: if total == 0 {
                    Reading::Unknown
                } else {
                    Reading::PassRate { passed, total }
                },
                changed_at: finished.first().and_then(|b| b.complete_at),
            }
        }
    })
}

/// `builders/<builder>/builds` with `query`: one read when the name can be a path segment; a
/// name with a `/`, or one that looks like a builder id (Buildbot's paths take digits for an
/// id), is looked up by `builders?name=` first. An unknown builder has no builds.
fn builds_of(builder: &str, query: &Query) -> Result<Vec<Build>, DataError> {
    let numeric = {
        let digits = builder.strip_prefix('-').unwrap_or(builder);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    if !builder.contains('/') && !numeric {
        return data::list(&format!("builders/{builder}/builds"), query);
    }
    let found: Option<Builder> = data::first(
        "builders",
        &Query::new().eq("name", builder).field("builderid"),
    )?;
    match found {
        Some(b) => data::list(&format!("builders/{}/builds", b.builderid), query),
        None => Ok(Vec::new()),
    }
}
