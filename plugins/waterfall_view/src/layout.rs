//! The time line: where each moment falls on the page (newest at the top), on a linear or a
//! logarithmic scale, with long gaps collapsed; and the lanes that put a builder's overlapping
//! builds side by side.
//!
//! The line is cut at every moment a shown build starts or ends. Each piece between two cuts
//! gets a height from its duration alone: `pixels_per_minute` per minute on the linear scale,
//! `pixels_per_decade * log10(1 + seconds)` on the log scale. A piece during which no build
//! runs and that lasts longer than `idle_threshold`, or any piece longer than
//! `quiet_threshold`, is drawn [`GAP_HEIGHT`] high instead and listed as a [`Gap`]. Inside a
//! piece, time is spread evenly. So the mapping is monotonic, a box's height is the sum of the
//! pieces its build spans, and on the linear scale (without collapsed gaps) it is exactly
//! proportional to the build's duration.

use crate::options::{Options, Scale};

/// Height of a collapsed gap, in pixels.
pub const GAP_HEIGHT: f64 = 28.0;

/// A build's time span in Unix seconds; `end >= start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// When it started.
    pub start: i64,
    /// When it finished (now, for a running build).
    pub end: i64,
}

impl Span {
    /// A span; an end before the start is taken as the start.
    pub fn new(start: i64, end: i64) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }
}

/// How pieces of time become heights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Linear or log.
    pub scale: Scale,
    /// Pixels per minute (linear).
    pub pixels_per_minute: f64,
    /// Pixels per tenfold of seconds (log).
    pub pixels_per_decade: f64,
    /// Seconds without a running build before a gap is collapsed; 0: never.
    pub idle_threshold: i64,
    /// Seconds without a start or an end before a gap is collapsed; 0: never.
    pub quiet_threshold: i64,
}

impl Settings {
    /// The operator's settings with the page's scale.
    pub fn new(options: &Options, scale: Scale) -> Settings {
        Settings {
            scale,
            pixels_per_minute: options.pixels_per_minute,
            pixels_per_decade: options.pixels_per_decade,
            idle_threshold: options.idle_threshold,
            quiet_threshold: options.quiet_threshold,
        }
    }

    /// The height of `seconds` of time on this scale, uncollapsed.
    pub fn height(&self, seconds: i64) -> f64 {
        let seconds = seconds.max(0) as f64;
        match self.scale {
            Scale::Linear => seconds * self.pixels_per_minute / 60.0,
            Scale::Log => self.pixels_per_decade * (1.0 + seconds).log10(),
        }
    }

    fn collapses(&self, seconds: i64, running: usize) -> Option<GapKind> {
        if running == 0 && self.idle_threshold > 0 && seconds > self.idle_threshold {
            Some(GapKind::Idle)
        } else if self.quiet_threshold > 0 && seconds > self.quiet_threshold {
            Some(GapKind::Quiet)
        } else {
            None
        }
    }
}

/// Why a gap was collapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapKind {
    /// No build ran.
    Idle,
    /// Builds ran, but none started or finished.
    Quiet,
}

/// A collapsed piece of the time line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gap {
    /// Idle or quiet.
    pub kind: GapKind,
    /// Its newer end (Unix seconds), at `top`.
    pub newer: i64,
    /// Its older end.
    pub older: i64,
    /// Pixels from the top of the time line.
    pub top: f64,
    /// Its drawn height.
    pub height: f64,
}

/// The time line of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Every cut, newest first, with its distance from the top in pixels (increasing).
    marks: Vec<(i64, f64)>,
    /// The collapsed gaps, newest first.
    pub gaps: Vec<Gap>,
}

impl Axis {
    /// The time line through `spans`, from the newest moment of `spans` and `top` (when given:
    /// the present on the newest page) down to the oldest start.
    pub fn new(spans: &[Span], top: Option<i64>, settings: &Settings) -> Axis {
        let mut cuts: Vec<i64> = spans.iter().flat_map(|s| [s.start, s.end]).collect();
        cuts.extend(top);
        cuts.sort_unstable_by(|a, b| b.cmp(a));
        cuts.dedup();
        // Walking down the cuts: a build runs through the piece below cut `t` when it ended at
        // or after `t` and started before it.
        let mut ends: Vec<i64> = spans.iter().map(|s| s.end).collect();
        let mut starts: Vec<i64> = spans.iter().map(|s| s.start).collect();
        ends.sort_unstable_by(|a, b| b.cmp(a));
        starts.sort_unstable_by(|a, b| b.cmp(a));
        let (mut ended, mut started) = (0, 0);
        let mut marks = Vec::with_capacity(cuts.len());
        let mut gaps = Vec::new();
        let mut y = 0.0;
        for (i, &newer) in cuts.iter().enumerate() {
            marks.push((newer, y));
            let Some(&older) = cuts.get(i + 1) else {
                break;
            };
            while ended < ends.len() && ends[ended] >= newer {
                ended += 1;
            }
            while started < starts.len() && starts[started] >= newer {
                started += 1;
            }
            let running = ended - started;
            let seconds = newer - older;
            let height = match settings.collapses(seconds, running) {
                Some(kind) => {
                    gaps.push(Gap {
                        kind,
                        newer,
                        older,
                        top: y,
                        height: GAP_HEIGHT,
                    });
                    GAP_HEIGHT
                }
                None => settings.height(seconds),
            };
            y += height;
        }
        Axis { marks, gaps }
    }

    /// Pixels from the top of the time line to moment `t` (clamped to the line).
    pub fn y(&self, t: i64) -> f64 {
        // marks are by decreasing time: find the first mark not newer than t
        let i = self.marks.partition_point(|&(time, _)| time > t);
        match (i.checked_sub(1).map(|j| self.marks[j]), self.marks.get(i)) {
            (_, Some(&(time, y))) if time == t => y,
            (Some((newer, top)), Some(&(older, bottom))) => {
                top + (bottom - top) * (newer - t) as f64 / (newer - older) as f64
            }
            (None, _) => 0.0,
            (Some(_), None) => self.height(),
        }
    }

    /// The height of the whole line.
    pub fn height(&self) -> f64 {
        self.marks.last().map_or(0.0, |&(_, y)| y)
    }

    /// Cuts to label: the first, then each at least `spacing` pixels below the last labelled;
    /// not the tops of collapsed gaps, whose band would hide the label.
    pub fn ticks(&self, spacing: f64) -> Vec<(i64, f64)> {
        let hidden: std::collections::HashSet<i64> = self.gaps.iter().map(|g| g.newer).collect();
        let mut ticks: Vec<(i64, f64)> = Vec::new();
        for &(time, y) in &self.marks {
            if hidden.contains(&time) {
                continue;
            }
            if ticks.last().is_none_or(|&(_, last)| y - last >= spacing) {
                ticks.push((time, y));
            }
        }
        ticks
    }
}

/// Lanes for one builder's builds: overlapping builds go side by side. Returns each span's lane
/// (in the order given) and the number of lanes (at least 1). A build takes the first lane
/// whose last build ended by its start, in order of start.
pub fn lanes(spans: &[Span]) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (spans[i].start, spans[i].end, i));
    let mut lane_ends: Vec<i64> = Vec::new();
    let mut lane_of = vec![0; spans.len()];
    for i in order {
        let span = spans[i];
        let lane = match lane_ends.iter().position(|&end| end <= span.start) {
            Some(lane) => lane,
            None => {
                lane_ends.push(span.end);
                lane_ends.len() - 1
            }
        };
        lane_ends[lane] = span.end;
        lane_of[i] = lane;
    }
    (lane_of, lane_ends.len().max(1))
}
