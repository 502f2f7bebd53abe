//! Buildbot's result codes (`results` of builds, steps, buildrequests and buildsets), their
//! names and the colours Buildbot's web UI paints them with.
//!
//! Codes and names follow `buildbot.process.results` (`SUCCESS` = 0 ... `CANCELLED` = 6,
//! `Results = ["success", "warnings", ...]`). Colours are those of Buildbot's React UI,
//! `www/react-base/src/styles/colors.scss` (`.label.results_*`): background and text colour of
//! the result labels. The badges plugin uses another scheme (shields.io colours).
//!
//! ```
//! use buildbot_plugin_sdk::results::{self, BuildResult};
//!
//! assert_eq!(BuildResult::from_code(2), Some(BuildResult::Failure));
//! assert_eq!(BuildResult::Failure.name(), "failure");
//! assert_eq!(BuildResult::Failure.color(), "#e88");
//! // `results` is null while a build runs
//! assert_eq!(results::name(None), "pending");
//! assert_eq!(results::color(Some(0)), "#8d4");
//! assert_eq!(results::name(Some(99)), "unknown");
//! ```

/// `SUCCESS`: a successful run.
pub const SUCCESS: i64 = 0;
/// `WARNINGS`: a successful run, with some warnings.
pub const WARNINGS: i64 = 1;
/// `FAILURE`: a failed run, due to problems in the build itself.
pub const FAILURE: i64 = 2;
/// `SKIPPED`: a run that was skipped.
pub const SKIPPED: i64 = 3;
/// `EXCEPTION`: a run that failed due to a problem in Buildbot or the infrastructure.
pub const EXCEPTION: i64 = 4;
/// `RETRY`: a run that should be retried, usually after a lost worker.
pub const RETRY: i64 = 5;
/// `CANCELLED`: a run that was cancelled by a user.
pub const CANCELLED: i64 = 6;

/// Label colour of something without a result yet (running or pending), `.results_PENDING`.
pub const PENDING_COLOR: &str = "#E7D100";
/// Label colour of an unknown result code, `.results_UNKNOWN`.
pub const UNKNOWN_COLOR: &str = "#EEE";

/// One of Buildbot's result codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuildResult {
    /// 0, `success`.
    Success,
    /// 1, `warnings`.
    Warnings,
    /// 2, `failure`.
    Failure,
    /// 3, `skipped`.
    Skipped,
    /// 4, `exception`.
    Exception,
    /// 5, `retry`.
    Retry,
    /// 6, `cancelled`.
    Cancelled,
}

impl BuildResult {
    /// Every result, in code order.
    pub const ALL: [BuildResult; 7] = [
        BuildResult::Success,
        BuildResult::Warnings,
        BuildResult::Failure,
        BuildResult::Skipped,
        BuildResult::Exception,
        BuildResult::Retry,
        BuildResult::Cancelled,
    ];

    /// The result with this code, `None` for codes Buildbot does not define.
    pub fn from_code(code: i64) -> Option<BuildResult> {
        usize::try_from(code)
            .ok()
            .and_then(|i| BuildResult::ALL.get(i).copied())
    }

    /// The numeric code stored in the database and the Data API.
    pub fn code(self) -> i64 {
        self as i64
    }

    /// Buildbot's name: `success`, `warnings`, `failure`, `skipped`, `exception`, `retry`,
    /// `cancelled`.
    pub fn name(self) -> &'static str {
        match self {
            BuildResult::Success => "success",
            BuildResult::Warnings => "warnings",
            BuildResult::Failure => "failure",
            BuildResult::Skipped => "skipped",
            BuildResult::Exception => "exception",
            BuildResult::Retry => "retry",
            BuildResult::Cancelled => "cancelled",
        }
    }

    /// The name in upper case, as in the UI's CSS classes (`results_SUCCESS`).
    pub fn css_name(self) -> &'static str {
        match self {
            BuildResult::Success => "SUCCESS",
            BuildResult::Warnings => "WARNINGS",
            BuildResult::Failure => "FAILURE",
            BuildResult::Skipped => "SKIPPED",
            BuildResult::Exception => "EXCEPTION",
            BuildResult::Retry => "RETRY",
            BuildResult::Cancelled => "CANCELLED",
        }
    }

    /// The background colour of the UI's result labels.
    pub fn color(self) -> &'static str {
        match self {
            BuildResult::Success => "#8d4",
            BuildResult::Warnings => "#fa3",
            BuildResult::Failure => "#e88",
            BuildResult::Skipped => "#AADDEE",
            BuildResult::Exception => "#c6c",
            BuildResult::Retry => "#ecc",
            BuildResult::Cancelled => "#ecc",
        }
    }

    /// The text colour the UI uses on [`color`](BuildResult::color).
    pub fn text_color(self) -> &'static str {
        match self {
            BuildResult::Warnings | BuildResult::Exception => "#FFFFFF",
            _ => "#000",
        }
    }
}

impl std::fmt::Display for BuildResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The name of a `results` value: Buildbot's name, `pending` for `None` (not finished), and
/// `unknown` for an undefined code.
pub fn name(results: Option<i64>) -> &'static str {
    match results {
        None => "pending",
        Some(code) => BuildResult::from_code(code).map_or("unknown", BuildResult::name),
    }
}

/// The label colour of a `results` value: the result's colour, [`PENDING_COLOR`] for `None`
/// and [`UNKNOWN_COLOR`] for an undefined code.
pub fn color(results: Option<i64>) -> &'static str {
    match results {
        None => PENDING_COLOR,
        Some(code) => BuildResult::from_code(code).map_or(UNKNOWN_COLOR, BuildResult::color),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_names_and_colors() {
        let codes = [
            SUCCESS, WARNINGS, FAILURE, SKIPPED, EXCEPTION, RETRY, CANCELLED,
        ];
        for (code, result) in codes.into_iter().zip(BuildResult::ALL) {
            assert_eq!(result.code(), code);
            assert_eq!(BuildResult::from_code(code), Some(result));
            assert_eq!(result.css_name().to_ascii_lowercase(), result.name());
            assert_eq!(result.to_string(), result.name());
        }
        assert_eq!(BuildResult::from_code(-1), None);
        assert_eq!(BuildResult::from_code(7), None);
        let colors: Vec<_> = BuildResult::ALL.iter().map(|r| r.color()).collect();
        assert_eq!(
            colors,
            ["#8d4", "#fa3", "#e88", "#AADDEE", "#c6c", "#ecc", "#ecc"]
        );
        assert_eq!(color(None), PENDING_COLOR);
        assert_eq!(color(Some(-1)), UNKNOWN_COLOR);
        assert_eq!(name(Some(6)), "cancelled");
        assert_eq!(BuildResult::Warnings.text_color(), "#FFFFFF");
    }
}
