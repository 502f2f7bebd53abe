//! The waterfall's options: the operator's `[www.plugins.waterfall_view]` table, checked at
//! start-up, and the URL arguments (`?before=`, `?after=`, `?scale=`, `?limit=`, `?tag=`) that
//! change one page, checked per request.

use buildbot_plugin_sdk::serde::Deserialize;
use buildbot_plugin_sdk::{Config, Query, Request};

/// The most builds one page may show (`limit`, in the config or the URL).
pub const MAX_LIMIT: i64 = 1000;
/// The most `?tag=` arguments a request may carry.
pub const MAX_TAGS: usize = 20;
/// The longest `?tag=` value, in characters.
pub const MAX_TAG_CHARS: usize = 100;

/// How durations become heights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(crate = "buildbot_plugin_sdk::serde", rename_all = "lowercase")]
pub enum Scale {
    /// Height proportional to time: `pixels_per_minute`.
    Linear,
    /// Height growing with the logarithm of time: `pixels_per_decade` per tenfold.
    Log,
}

impl Scale {
    /// `linear` or `log`.
    pub fn parse(text: &str) -> Option<Scale> {
        match text {
            "linear" => Some(Scale::Linear),
            "log" => Some(Scale::Log),
            _ => None,
        }
    }

    /// The name used in the config and the URL.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Linear => "linear",
            Scale::Log => "log",
        }
    }
}

/// The operator's options, with their defaults: each field is the option of its name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(crate = "buildbot_plugin_sdk::serde", deny_unknown_fields, default)]
pub struct Options {
    /// `limit`: builds per page, newest first (1 to [`MAX_LIMIT`]).
    pub limit: i64,
    /// `scale`: `"linear"` or `"log"`.
    pub scale: Scale,
    /// `pixels_per_minute`: height of a minute on the linear scale.
    pub pixels_per_minute: f64,
    /// `pixels_per_decade`: height added by each tenfold of duration on the log scale.
    pub pixels_per_decade: f64,
    /// `idle_threshold`: seconds without any build running after which the gap is collapsed
    /// (0: never).
    pub idle_threshold: i64,
    /// `quiet_threshold`: seconds without any build starting or finishing after which the gap
    /// is collapsed even while builds run (0: never).
    pub quiet_threshold: i64,
    /// `min_column_width`: pixels of a builder column (of each lane when builds overlap).
    pub min_column_width: i64,
    /// `show_builders_without_builds`: also show builders without builds on the page.
    pub show_builders_without_builds: bool,
    /// `max_step_builds`: the most builds per page whose steps are read and shown (0: none).
    pub max_step_builds: i64,
    /// `min_height_for_steps`: the smallest box (pixels) that shows its steps.
    pub min_height_for_steps: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            limit: 200,
            scale: Scale::Linear,
            pixels_per_minute: 4.0,
            pixels_per_decade: 60.0,
            idle_threshold: 300,
            quiet_threshold: 86_400,
            min_column_width: 90,
            show_builders_without_builds: false,
            max_step_builds: 20,
            min_height_for_steps: 44.0,
        }
    }
}

impl Options {
    /// The options of `[www.plugins.waterfall_view]`; an unknown option, a value of the wrong
    /// type or out of its range is an error that names it.
    pub fn from_config(config: &Config) -> Result<Options, String> {
        let options: Options = config.parse()?;
        options.check(config)?;
        Ok(options)
    }

    /// The value checks that types do not make: ranges.
    fn check(&self, config: &Config) -> Result<(), String> {
        let int = |name: &str, value: i64, min: i64, max: i64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(config.out_of_range(name, format_args!("between {min} and {max}"), value))
            }
        };
        let positive = |name: &str, value: f64, max: f64| {
            if value > 0.0 && value <= max {
                Ok(())
            } else {
                Err(config.out_of_range(name, format_args!("above 0 and at most {max}"), value))
            }
        };
        let seconds = i64::from(i32::MAX);
        int("limit", self.limit, 1, MAX_LIMIT)?;
        positive("pixels_per_minute", self.pixels_per_minute, 600.0)?;
        positive("pixels_per_decade", self.pixels_per_decade, 2000.0)?;
        int("idle_threshold", self.idle_threshold, 0, seconds)?;
        int("quiet_threshold", self.quiet_threshold, 0, seconds)?;
        int("min_column_width", self.min_column_width, 20, 2000)?;
        int("max_step_builds", self.max_step_builds, 0, 200)?;
        if !(0.0..=10_000.0).contains(&self.min_height_for_steps) {
            return Err(config.out_of_range(
                "min_height_for_steps",
                "between 0 and 10000",
                self.min_height_for_steps,
            ));
        }
        Ok(())
    }
}

/// Which builds a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The newest builds.
    Latest,
    /// `?before=<buildid>`: the newest builds with a smaller id.
    Before(i64),
    /// `?after=<buildid>`: the oldest builds with a larger id.
    After(i64),
}

/// One page's arguments: the options as the URL overrides them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Which builds.
    pub cursor: Cursor,
    /// `?scale=`, else the configured scale.
    pub scale: Scale,
    /// `?limit=`, else the configured limit.
    pub limit: i64,
    /// `?tag=` (repeatable): only builders carrying every one of these tags.
    pub tags: Vec<String>,
    /// The arguments other than the cursor that the request gave, carried by the page's links.
    kept: Vec<(&'static str, String)>,
}

impl Args {
    /// Reads the arguments of `request`; the error says which argument is wrong and why.
    pub fn parse(request: &Request, options: &Options) -> Result<Args, String> {
        let mut args = Args {
            cursor: Cursor::Latest,
            scale: options.scale,
            limit: options.limit,
            tags: Vec::new(),
            kept: Vec::new(),
        };
        for (name, value) in request.query_params() {
            match name.as_str() {
                "before" | "after" => {
                    if args.cursor != Cursor::Latest {
                        return Err("give one of 'before' and 'after', once".into());
                    }
                    let id = build_id(&name, &value)?;
                    args.cursor = if name == "before" {
                        Cursor::Before(id)
                    } else {
                        Cursor::After(id)
                    };
                }
                "scale" => {
                    args.scale = Scale::parse(&value).ok_or_else(|| {
                        format!(
                            "'scale' must be 'linear' or 'log', not '{}'",
                            shorten(&value)
                        )
                    })?;
                    args.kept.push(("scale", value));
                }
                "limit" => {
                    args.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            format!(
                                "'limit' must be a number of builds from 1 to {MAX_LIMIT}, not '{}'",
                                shorten(&value)
                            )
                        })?;
                    args.kept.push(("limit", value));
                }
                "tag" => {
                    if value.is_empty() {
                        // the options form sends an empty tag field: no filter
                        continue;
                    }
                    if value.chars().count() > MAX_TAG_CHARS {
                        return Err(format!("a 'tag' is at most {MAX_TAG_CHARS} characters"));
                    }
                    if args.tags.len() == MAX_TAGS {
                        return Err(format!("at most {MAX_TAGS} 'tag' arguments"));
                    }
                    if !args.tags.contains(&value) {
                        args.tags.push(value.clone());
                        args.kept.push(("tag", value));
                    }
                }
                _ => {}
            }
        }
        Ok(args)
    }

    /// A relative link (`?...`) to the page at `cursor` with this page's other arguments.
    pub fn link(&self, cursor: Cursor) -> String {
        let mut query = match cursor {
            Cursor::Latest => Query::new(),
            Cursor::Before(id) => Query::new().param("before", id),
            Cursor::After(id) => Query::new().param("after", id),
        };
        for (name, value) in &self.kept {
            query = query.param(*name, value);
        }
        format!("?{query}")
    }
}

fn build_id(name: &str, value: &str) -> Result<i64, String> {
    value
        .parse()
        .ok()
        .filter(|id: &i64| *id > 0)
        .ok_or_else(|| {
            format!(
                "'{name}' must be a build id (a positive integer), not '{}'",
                shorten(value)
            )
        })
}

/// A value quoted in an error text, cut to 40 characters.
fn shorten(value: &str) -> String {
    if value.chars().count() <= 40 {
        value.to_owned()
    } else {
        value.chars().take(40).chain("…".chars()).collect()
    }
}
