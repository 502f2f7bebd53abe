//! REST answers kept while the data stays the same: an answer is cached under the data's
//! generation (`Events::generation`, advanced before every database poll and every event), the
//! request (path, query, JSON or text layout) and, when authorization rules could make answers
//! differ between users, the user. A newer generation empties the cache, so a client that has
//! received an event never gets an answer computed before it. Memory is bounded by
//! `[www] rest_cache_mib`: the oldest answers go first.
//!
//! Plugins' data reads (`data.get`) go through the same cache ([`Reads`]): a view rendered
//! again before the data changed reads nothing from the database, and several users' views
//! refreshed by one event share their reads.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::data::{Answer, ApiError, DataApi};
use crate::identity::User;
use crate::jsonfmt::{self, Layout};

/// What identifies an answer within one generation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The path below `/api/v2/`.
    pub path: String,
    /// The query string as sent.
    pub query: String,
    /// Whether the answer is compact JSON (`Accept: application/json`) or indented text.
    pub json: bool,
    /// The user, when authorization rules may make answers differ between users.
    pub viewer: Option<String>,
}

/// A rendered answer.
#[derive(Debug)]
pub struct Cached {
    /// The body.
    pub body: Bytes,
    /// Its strong entity tag.
    pub etag: String,
    /// `application/json` or `text/plain`, with the charset.
    pub content_type: &'static str,
}

impl Cached {
    fn size(&self, key: &Key) -> usize {
        // The body, the tag and the key, plus the maps' bookkeeping.
        self.body.len()
            + self.etag.len()
            + key.path.len()
            + key.query.len()
            + key.viewer.as_ref().map_or(0, String::len)
            + 128
    }
}

/// How the cache does: what [`AnswerCache::stats`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Answers held.
    pub entries: usize,
    /// Bytes they take (bodies, tags and keys).
    pub bytes: usize,
    /// The most bytes it may take.
    pub budget: usize,
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests that computed their answer.
    pub misses: u64,
}

/// The bounded cache of REST answers.
#[derive(Debug)]
pub struct AnswerCache {
    budget: usize,
    held: Mutex<Held>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Default)]
struct Held {
    generation: u64,
    answers: HashMap<Arc<Key>, Arc<Cached>>,
    /// Keys in the order they were added: the oldest goes first when over budget.
    order: VecDeque<Arc<Key>>,
    bytes: usize,
}

impl Held {
    /// Forgets everything when `generation` is newer than what is held.
    fn catch_up(&mut self, generation: u64) {
        if generation > self.generation {
            self.generation = generation;
            self.answers.clear();
            self.order.clear();
            self.bytes = 0;
        }
    }
}

impl AnswerCache {
    /// A cache of at most `budget` bytes; 0 keeps nothing.
    pub fn new(budget: usize) -> AnswerCache {
        AnswerCache {
            budget,
            held: Mutex::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Whether answers are kept at all.
    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The answer for `key` at `generation`, if one was kept.
    pub fn get(&self, generation: u64, key: &Key) -> Option<Arc<Cached>> {
        let found = {
            let mut held = self.held();
            held.catch_up(generation);
            (held.generation == generation)
                .then(|| held.answers.get(key).cloned())
                .flatten()
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `answer`, computed at `generation`, unless the data has moved on since, or it is
    /// larger than an eighth of the budget; older answers make room.
    pub fn put(&self, generation: u64, key: Key, answer: Arc<Cached>) {
        let size = answer.size(&key);
        if size > self.budget / 8 {
            return;
        }
        let mut held = self.held();
        held.catch_up(generation);
        if held.generation != generation {
            return;
        }
        let key = Arc::new(key);
        if let Some(old) = held.answers.insert(key.clone(), answer) {
            // Two requests computed the same answer: keep one, count it once.
            held.bytes -= old.size(&key);
        } else {
            held.order.push_back(key);
        }
        held.bytes += size;
        while held.bytes > self.budget {
            let Some(oldest) = held.order.pop_front() else {
                break;
            };
            if let Some(gone) = held.answers.remove(&oldest) {
                held.bytes -= gone.size(&oldest);
            }
        }
    }

    /// What is held and how often it served.
    pub fn stats(&self) -> Stats {
        let held = self.held();
        Stats {
            entries: held.answers.len(),
            bytes: held.bytes,
            budget: self.budget,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// The cache with the data it keeps answers of and the generation they are keyed by: a read
/// served from here is the one the Data API would give at that generation.
#[derive(Debug, Clone)]
pub struct Reads {
    /// The answers kept.
    pub cache: Arc<AnswerCache>,
    /// Whose generation keys them.
    pub events: crate::events::Events,
    /// Where answers come from when none is kept.
    pub data: DataApi,
}

/// What a read gives: a collection or an entity, rendered (and kept when the cache is on), or a
/// raw answer such as a log's text, which is never kept.
pub enum Read {
    /// The answer's body, tag and type.
    Items(Arc<Cached>),
    /// A log's text or a build data value, as the Data API gave it.
    Raw {
        /// The body.
        body: Vec<u8>,
        /// `text/plain`, `text/html` or `application/octet-stream`.
        content_type: &'static str,
        /// For `raw`: the download file name.
        filename: Option<String>,
    },
}

impl Reads {
    /// Reads `path` with the query string `query` as `user`, from the cache when the data has
    /// not changed since the same answer was computed; `json` chooses compact JSON (as for
    /// `Accept: application/json`) or the indented text layout. `args` parses the query when
    /// the answer has to be computed.
    pub async fn read(
        &self,
        user: &User,
        path: &str,
        query: &str,
        json: bool,
        args: impl FnOnce() -> Result<Vec<(String, String)>, ApiError>,
    ) -> Result<Read, ApiError> {
        // Read before the data is: an answer is never kept under a newer generation than the
        // data it was computed from.
        let generation = self.events.generation();
        let key = self.cache.enabled().then(|| Key {
            path: path.to_owned(),
            query: query.to_owned(),
            json,
            // With authorization rules, what one user sees another may not.
            viewer: self
                .data
                .authz()
                .has_rules()
                .then(|| user.user_info().to_string()),
        });
        if let Some(hit) = key.as_ref().and_then(|k| self.cache.get(generation, k)) {
            // A plugin's read is charged the answer's bytes, as a database read is charged
            // its rows' (outside a plugin call this charges nothing).
            crate::data::budget::charge(hit.body.len())?;
            return Ok(Read::Items(hit));
        }
        match self.data.get(user, path, &args()?).await? {
            Answer::Items {
                plural,
                items,
                total,
            } => {
                let envelope = crate::data::envelope(plural, items, total);
                let (layout, content_type) = if json {
                    (Layout::Compact, "application/json; charset=utf-8")
                } else {
                    (Layout::Indented, "text/plain; charset=utf-8")
                };
                let body = jsonfmt::to_string(&envelope, layout, true);
                let answer = Arc::new(Cached {
                    etag: etag(body.as_bytes()),
                    body: body.into(),
                    content_type,
                });
                if let Some(key) = key {
                    self.cache.put(generation, key, answer.clone());
                }
                Ok(Read::Items(answer))
            }
            Answer::Raw {
                body,
                content_type,
                filename,
            } => Ok(Read::Raw {
                body,
                content_type,
                filename,
            }),
        }
    }
}

/// A strong entity tag of an answer's bytes (a 64-bit hash: the same answer, whoever asks and
/// however it was computed, has the same tag).
fn etag(body: &[u8]) -> String {
    use std::hash::Hasher as _;
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(body);
    format!("\"{:016x}{:08x}\"", hasher.finish(), body.len() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> Key {
        Key {
            path: path.into(),
            query: String::new(),
            json: true,
            viewer: None,
        }
    }

    fn answer(len: usize) -> Arc<Cached> {
        Arc::new(Cached {
            body: Bytes::from(vec![b'x'; len]),
            etag: "\"t\"".into(),
            content_type: "application/json; charset=utf-8",
        })
    }

    #[test]
    fn a_newer_generation_forgets_and_an_older_answer_is_not_kept() {
        let cache = AnswerCache::new(1 << 20);
        cache.put(1, key("builds"), answer(10));
        assert!(cache.get(1, &key("builds")).is_some());
        assert!(cache.get(1, &key("builders")).is_none());
        assert!(cache.get(2, &key("builds")).is_none(), "the data moved on");
        // Computed at generation 1, finished after generation 2 began: not kept.
        cache.put(1, key("builds"), answer(10));
        assert!(cache.get(2, &key("builds")).is_none());
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.hits, stats.misses), (0, 1, 3));
    }

    #[test]
    fn memory_stays_within_the_budget_oldest_first() {
        let cache = AnswerCache::new(10_000);
        for i in 0..100 {
            cache.put(7, key(&format!("builds/{i}")), answer(1000));
            assert!(cache.stats().bytes <= 10_000);
        }
        assert!(cache.get(7, &key("builds/99")).is_some());
        assert!(cache.get(7, &key("builds/0")).is_none());
        // Larger than an eighth of the budget: not kept at all.
        cache.put(7, key("big"), answer(2000));
        assert!(cache.get(7, &key("big")).is_none());
        // The same answer twice is counted once.
        let before = cache.stats();
        cache.put(7, key("builds/99"), answer(1000));
        assert_eq!(cache.stats().bytes, before.bytes);
        assert!(!AnswerCache::new(0).enabled());
    }

    #[test]
    fn users_do_not_share_answers_when_they_may_differ() {
        let cache = AnswerCache::new(1 << 20);
        let mut homer = key("builds");
        homer.viewer = Some("homer".into());
        cache.put(1, homer.clone(), answer(5));
        let mut marge = homer.clone();
        marge.viewer = Some("marge".into());
        assert!(cache.get(1, &marge).is_none());
        assert!(cache.get(1, &homer).is_some());
    }
}
