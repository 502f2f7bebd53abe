//! Fonts plugins ask for by family name (`host.font`), resolved with fontdb among the system's
//! fonts, loaded once on first use. Names resolve exactly as fontdb resolves them (family names
//! compared as written; the CSS generic families `serif`, `sans-serif`, `monospace`, `cursive`
//! and `fantasy` mapped to fontdb's); the faces handed out are cached within a bound.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

/// Names remembered (found or not), and the bytes of found faces kept, at most.
const MAX_ENTRIES: usize = 32;
const MAX_CACHED_BYTES: usize = 64 << 20;

/// The longest family name looked up.
const MAX_NAME: usize = 200;

/// Family names looked up, oldest first, with the face found for each (if any).
type Resolved = VecDeque<(String, Option<Arc<Vec<u8>>>)>;

/// The system font database and the faces already handed out.
#[derive(Default)]
pub(super) struct Fonts {
    db: OnceLock<fontdb::Database>,
    resolved: Mutex<Resolved>,
}

impl Fonts {
    /// The bytes of the font file of the family's regular face, if the system has one.
    pub(super) fn resolve(&self, family: &str) -> Option<Arc<Vec<u8>>> {
        if family.is_empty() || family.len() > MAX_NAME {
            return None;
        }
        if let Some((_, known)) = self.lock().iter().find(|(name, _)| name == family) {
            return known.clone();
        }
        let db = self.db.get_or_init(|| {
            let mut db = fontdb::Database::new();
            db.load_system_fonts();
            db
        });
        let families = [generic(family).unwrap_or(fontdb::Family::Name(family))];
        let query = fontdb::Query {
            families: &families,
            ..fontdb::Query::default()
        };
        let bytes = db
            .query(&query)
            .and_then(|id| db.with_face_data(id, |data, _index| Arc::new(data.to_vec())));
        self.remember(family, bytes.clone());
        bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Resolved> {
        self.resolved.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps the answer, forgetting the oldest ones beyond the bounds.
    fn remember(&self, family: &str, bytes: Option<Arc<Vec<u8>>>) {
        let mut resolved = self.lock();
        if resolved.iter().any(|(name, _)| name == family) {
            return;
        }
        resolved.push_back((family.to_owned(), bytes));
        let held = |r: &Resolved| {
            r.iter()
                .map(|(_, b)| b.as_ref().map_or(0, |b| b.len()))
                .sum::<usize>()
        };
        while resolved.len() > MAX_ENTRIES
            || (resolved.len() > 1 && held(&resolved) > MAX_CACHED_BYTES)
        {
            resolved.pop_front();
        }
    }

    #[cfg(test)]
    fn cached(&self) -> usize {
        self.lock().len()
    }
}

/// fontdb's generic family for a CSS generic family keyword.
fn generic(family: &str) -> Option<fontdb::Family<'static>> {
    Some(match family {
        "serif" => fontdb::Family::Serif,
        "sans-serif" => fontdb::Family::SansSerif,
        "monospace" => fontdb::Family::Monospace,
        "cursive" => fontdb::Family::Cursive,
        "fantasy" => fontdb::Family::Fantasy,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded_and_names_are_exact() {
        let fonts = Fonts::default();
        for i in 0..100 {
            assert!(fonts.resolve(&format!("No Such Family {i}")).is_none());
        }
        assert_eq!(fonts.cached(), MAX_ENTRIES);
        assert!(fonts.resolve(&"x".repeat(MAX_NAME + 1)).is_none());
        assert_eq!(fonts.cached(), MAX_ENTRIES);
        // fontdb compares family names as written: a different case is another name
        let exact = fonts.resolve("DejaVu Sans").is_some();
        if exact {
            assert!(fonts.resolve("dejavu sans").is_none());
        }
    }
}
