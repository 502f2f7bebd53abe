//! The waterfall view plugin: every builder's builds on one vertical time line, newest at the
//! top, builders as columns ordered so that builders scheduled together sit together, each
//! build a box whose height follows its duration and that lists its steps when tall enough.
//! See `docs/waterfall_view.md`.
//!
//! A page costs a fixed number of Data API reads (builds, builders, build requests, buildsets,
//! at most one one-row existence check) plus one read per box that shows its steps, at most
//! `max_step_builds`. What cannot change is kept by the instance for the next page: which
//! buildset and source stamps each build request came from, and the steps of finished builds;
//! builders (names and tags) are reused for [`BUILDER_TTL_MS`].

pub mod fetch;
pub mod layout;
pub mod options;
pub mod order;
pub mod render;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use buildbot_plugin_sdk::prelude::*;

use crate::layout::{Axis, Settings, Span};
use crate::options::{Args, Cursor, Options};
use crate::render::{BuildBox, Column, Empty, Page, Steps};

/// Height of a box's first line (number and state), pixels.
pub const BOX_HEADER_HEIGHT: f64 = 18.0;
/// Height of one step line in a box, pixels.
pub const STEP_LINE_HEIGHT: f64 = 14.0;

/// Build requests whose origin an instance keeps before it starts over.
pub const ORIGIN_ENTRIES: usize = 50_000;
/// Finished builds whose steps an instance keeps before it starts over.
pub const STEP_ENTRIES: usize = 2_000;
/// How long an instance reuses builders (names and tags) it read, in milliseconds.
pub const BUILDER_TTL_MS: u64 = 10_000;
/// Readers whose builders an instance keeps before it starts over.
pub const BUILDER_READERS: usize = 64;

/// The plugin: the operator's options, the page's templates and this instance's caches.
#[derive(Debug)]
pub struct WaterfallView {
    options: Options,
    templates: Templates,
    caches: Mutex<Caches>,
}

/// What an instance keeps between pages: what cannot change, and builders for a few seconds.
#[derive(Debug, Default)]
struct Caches {
    /// Reader → the builders read recently.
    builders: HashMap<String, KnownBuilders>,
    /// Build request → buildset and source stamps.
    origins: fetch::Origins,
    /// (reader, buildid, steps asked for) → the first steps of a finished build. Keyed by
    /// reader because reads are made with the requesting user's rights.
    steps: HashMap<(String, i64, i64), Vec<Step>>,
}

/// Builders one reader read, since `since` (milliseconds).
#[derive(Debug)]
struct KnownBuilders {
    since: u64,
    /// Every builder, when a page needed them all.
    all: Option<Vec<Builder>>,
    by_id: HashMap<i64, Builder>,
}

impl Caches {
    /// The builders `reader` read less than [`BUILDER_TTL_MS`] ago.
    fn builders_of(&mut self, reader: &str, now: u64) -> &mut KnownBuilders {
        if self.builders.len() >= BUILDER_READERS && !self.builders.contains_key(reader) {
            self.builders.clear();
        }
        let known = self
            .builders
            .entry(reader.to_owned())
            .or_insert_with(|| KnownBuilders::new(now));
        if now.saturating_sub(known.since) >= BUILDER_TTL_MS {
            *known = KnownBuilders::new(now);
        }
        known
    }
}

impl KnownBuilders {
    fn new(since: u64) -> KnownBuilders {
        KnownBuilders {
            since,
            all: None,
            by_id: HashMap::new(),
        }
    }
}

impl Plugin for WaterfallView {
    fn manifest() -> Manifest {
        Manifest::new("waterfall_view", env!("CARGO_PKG_VERSION"))
            .description(
                "Every builder's builds on one time line, newest at the top, with their steps",
            )
            .menu(MenuEntry::new("Waterfall View", "/").order(5).icon("▥"))
            .events(["builds/*/*", "builds/*/steps/*/*"])
    }

    fn init(config: Config) -> Result<Self, String> {
        WaterfallView::new(Options::from_config(&config)?)
    }

    fn routes() -> Routes<Self> {
        Routes::new().get("/", WaterfallView::index)
    }
}

impl WaterfallView {
    /// The waterfall page, with a `Server-Timing` header of where the time went.
    fn index(&mut self, request: &Request, _: &Params) -> Result<Response, Error> {
        let args = Args::parse(request, &self.options)
            .map_err(|message| view_common::bad_request("waterfall", message))?;
        let now = i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX);
        let mut timing = Timing::start();
        let reader = reader_key(&request.user);
        let html = self.timed_page(&args, &request.root, &reader, now, &mut timing)?;
        Ok(view_common::page(html).with_header("server-timing", timing.header()))
    }
}

impl WaterfallView {
    /// The plugin with these options; the error is a template's that does not compile.
    pub fn new(options: Options) -> Result<WaterfallView, String> {
        Ok(WaterfallView {
            options,
            templates: render::templates()?,
            caches: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Caches> {
        self.caches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The page for `args` as an anonymous user sees it, with links built on `root`, at time
    /// `now` (Unix seconds).
    pub fn page(&self, args: &Args, root: &str, now: i64) -> Result<String, Error> {
        self.timed_page(args, root, "", now, &mut Timing::start())
    }

    /// [`WaterfallView::page`] for `reader` (see [`reader_key`]), noting how long each phase
    /// took in `timing`.
    fn timed_page(
        &self,
        args: &Args,
        root: &str,
        reader: &str,
        now: i64,
        timing: &mut Timing,
    ) -> Result<String, Error> {
        let data_error = |error| view_common::data_error("waterfall", error);
        let options = &self.options;
        let mut page = Page {
            args,
            root,
            min_column_width: options.min_column_width,
            columns: Vec::new(),
            axis: Axis::new(&[], None, &Settings::new(options, args.scale)),
            older: None,
            newer: None,
            empty: None,
        };

        // Builders first when a tag filter or the builders without builds need them all.
        let mut all_builders = None;
        let mut total_builders = 0;
        if !args.tags.is_empty() || options.show_builders_without_builds {
            let mut builders = self.all_builders(reader).map_err(data_error)?;
            total_builders = builders.len();
            builders.retain(|b| args.tags.iter().all(|tag| b.tags.contains(tag)));
            if builders.is_empty() && !args.tags.is_empty() {
                page.empty = Some(Empty::NoBuilderWithTags);
                return render::document(&self.templates, &page);
            }
            all_builders = Some(builders);
        }
        let only = match &all_builders {
            Some(builders) if !args.tags.is_empty() => Some(fetch::Only::new(
                builders.iter().map(|b| b.builderid).collect(),
                total_builders,
            )),
            _ => None,
        };
        let found = fetch::builds(args, only.as_ref()).map_err(data_error)?;
        timing.mark("builds");
        let builds = found.builds;
        if builds.is_empty() {
            // (an empty older page links to the newest one, as every older page does)
            page.empty = Some(match args.cursor {
                Cursor::Before(id) => Empty::NoBuildsBefore(id),
                _ => Empty::NoBuilds,
            });
            return render::document(&self.templates, &page);
        }
        if let (Some(oldest), Some(newest)) = (builds.last(), builds.first()) {
            page.older = found.older.then_some(Cursor::Before(oldest.buildid));
            page.newer = found.newer.then_some(Cursor::After(newest.buildid));
        }

        // The columns: the builders of these builds (and the others when asked for).
        let ids: BTreeSet<i64> = builds.iter().map(|b| b.builderid).collect();
        let mut builders = match all_builders {
            Some(builders) => builders,
            None => self.builders_by_id(reader, &ids).map_err(data_error)?,
        };
        if !options.show_builders_without_builds {
            builders.retain(|b| ids.contains(&b.builderid));
        }
        // a build of a builder the Data API did not list (deleted meanwhile) keeps a column
        let listed: BTreeSet<i64> = builders.iter().map(|b| b.builderid).collect();
        for &id in ids.difference(&listed) {
            builders.push(Builder {
                builderid: id,
                name: format!("builder {id}"),
                ..Builder::default()
            });
        }
        timing.mark("builders");
        let groups = if builders.len() > 2 {
            self.groups(&builds).map_err(data_error)?
        } else {
            Vec::new()
        };
        let named: Vec<order::Column<'_>> = builders
            .iter()
            .map(|b| order::Column {
                builderid: b.builderid,
                name: &b.name,
            })
            .collect();
        timing.mark("groups");
        let order = order::order_builders(&named, &groups);

        // The time line and the boxes.
        let span_of = |b: &Build| Span::new(b.started_at, b.complete_at.unwrap_or(now));
        let spans: Vec<Span> = builds.iter().map(span_of).collect();
        let top = found.latest.then_some(now);
        page.axis = Axis::new(&spans, top, &Settings::new(options, args.scale));
        let mut by_builder: HashMap<i64, Vec<Build>> = HashMap::new();
        for build in builds {
            by_builder.entry(build.builderid).or_default().push(build);
        }
        let mut builder_of: HashMap<i64, Builder> =
            builders.into_iter().map(|b| (b.builderid, b)).collect();
        for builderid in order {
            let Some(builder) = builder_of.remove(&builderid) else {
                continue;
            };
            let builds = by_builder.remove(&builderid).unwrap_or_default();
            let spans: Vec<Span> = builds.iter().map(span_of).collect();
            let (lane_of, lanes) = layout::lanes(&spans);
            let boxes = builds
                .into_iter()
                .zip(spans)
                .zip(lane_of)
                .map(|((build, span), lane)| {
                    let top = page.axis.y(span.end);
                    BuildBox {
                        build,
                        lane,
                        top,
                        height: page.axis.y(span.start) - top,
                        seconds: span.end - span.start,
                        steps: None,
                    }
                })
                .collect();
            page.columns.push(Column {
                builder,
                lanes,
                boxes,
            });
        }
        timing.mark("layout");
        self.add_steps(&mut page.columns, reader)
            .map_err(data_error)?;
        timing.mark("steps");
        let html = render::document(&self.templates, &page)?;
        timing.mark("render");
        Ok(html)
    }

    /// Every builder, by name, as `reader` may see them.
    fn all_builders(&self, reader: &str) -> Result<Vec<Builder>, DataError> {
        let now = now_ms();
        if let Some(all) = &self.lock().builders_of(reader, now).all {
            return Ok(all.clone());
        }
        let all = fetch::all_builders()?;
        let mut caches = self.lock();
        let known = caches.builders_of(reader, now);
        known
            .by_id
            .extend(all.iter().map(|b| (b.builderid, b.clone())));
        known.all = Some(all.clone());
        Ok(all)
    }

    /// The builders with these ids, reading those not read recently.
    fn builders_by_id(&self, reader: &str, ids: &BTreeSet<i64>) -> Result<Vec<Builder>, DataError> {
        let now = now_ms();
        let missing: BTreeSet<i64> = {
            let mut caches = self.lock();
            let known = caches.builders_of(reader, now);
            ids.iter()
                .filter(|id| !known.by_id.contains_key(id))
                .copied()
                .collect()
        };
        let found = if missing.is_empty() {
            Vec::new()
        } else {
            fetch::builders_by_id(&missing)?
        };
        let mut caches = self.lock();
        let known = caches.builders_of(reader, now);
        known
            .by_id
            .extend(found.into_iter().map(|b| (b.builderid, b)));
        Ok(ids
            .iter()
            .filter_map(|id| known.by_id.get(id).cloned())
            .collect())
    }

    /// The groups of builders scheduled together among `builds`, reading the origins of the
    /// build requests this instance has not seen yet.
    fn groups(&self, builds: &[Build]) -> Result<Vec<Vec<i64>>, DataError> {
        let unseen: BTreeSet<i64> = {
            let caches = self.lock();
            builds
                .iter()
                .map(|b| b.buildrequestid)
                .filter(|id| *id > 0 && !caches.origins.contains_key(id))
                .collect()
        };
        let found = fetch::origins(&unseen)?;
        let mut caches = self.lock();
        if caches.origins.len() + found.len() > ORIGIN_ENTRIES {
            caches.origins.clear();
        }
        caches.origins.extend(found);
        Ok(order::groups(builds, &caches.origins))
    }

    /// Reads the steps of the tallest boxes that have room for them, at most
    /// `max_step_builds` of them; those of finished builds come from the cache when they can.
    fn add_steps(&self, columns: &mut [Column], reader: &str) -> Result<(), DataError> {
        let mut tall: Vec<(f64, i64, &mut BuildBox)> = columns
            .iter_mut()
            .flat_map(|c| c.boxes.iter_mut())
            .filter(|b| b.height >= self.options.min_height_for_steps)
            .map(|b| (b.height, step_lines(b.height), b))
            .filter(|(_, lines, _)| *lines > 0)
            .collect();
        tall.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(b.2.build.buildid.cmp(&a.2.build.buildid))
        });
        let cap = usize::try_from(self.options.max_step_builds).unwrap_or(0);
        for (_, lines, build_box) in tall.into_iter().take(cap) {
            let buildid = build_box.build.buildid;
            let finished = build_box.build.complete_at.is_some();
            let key = (reader.to_owned(), buildid, lines + 1);
            let cached = finished
                .then(|| self.lock().steps.get(&key).cloned())
                .flatten();
            let mut steps = match cached {
                Some(steps) => steps,
                None => {
                    let steps = fetch::steps(buildid, lines + 1)?;
                    if finished {
                        let mut caches = self.lock();
                        if caches.steps.len() >= STEP_ENTRIES {
                            caches.steps.clear();
                        }
                        caches.steps.insert(key, steps.clone());
                    }
                    steps
                }
            };
            let more = steps.len() as i64 > lines;
            if more {
                steps.truncate((lines - 1).max(1) as usize);
            }
            build_box.steps = Some(Steps { steps, more });
        }
        Ok(())
    }
}

/// How long the phases of a page took, for the `server-timing` header (benchmarks read it):
/// `builds` (the builds, and all builders for a tag filter), `builders` (those of the builds),
/// `groups` (their build requests and buildsets), `layout` (order, time line, boxes), `steps`
/// and `render`.
#[derive(Debug)]
pub struct Timing {
    phases: Vec<(&'static str, f64)>,
    last: std::time::Instant,
}

impl Timing {
    /// Starts timing now.
    pub fn start() -> Timing {
        Timing {
            phases: Vec::new(),
            last: std::time::Instant::now(),
        }
    }

    /// Ends phase `name`, begun at the previous mark.
    pub fn mark(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        let ms = now.duration_since(self.last).as_secs_f64() * 1000.0;
        self.phases.push((name, ms));
        self.last = now;
    }

    /// `builds;dur=4.210, columns;dur=...`
    pub fn header(&self) -> String {
        self.phases
            .iter()
            .map(|(name, ms)| format!("{name};dur={ms:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Who reads, for the caches: empty for anonymous users, else the user name and groups.
pub fn reader_key(user: &User) -> String {
    if user.anonymous {
        return String::new();
    }
    let mut key = user.username.clone();
    for group in &user.groups {
        key.push('\u{1}');
        key.push_str(group);
    }
    key
}

/// How many step lines fit in a box `height` pixels high.
pub fn step_lines(height: f64) -> i64 {
    ((height - BOX_HEADER_HEIGHT) / STEP_LINE_HEIGHT)
        .floor()
        .max(0.0) as i64
}

register_plugin!(WaterfallView);

#[cfg(test)]
mod tests;
