//! Fonts plugins ask for by family name (`host.font`), resolved with fontdb among the system's
//! fonts, loaded once on first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The system font database and the faces already handed out.
#[derive(Default)]
pub(super) struct Fonts {
    db: OnceLock<fontdb::Database>,
    resolved: Mutex<HashMap<String, Option<Arc<Vec<u8>>>>>,
}

impl Fonts {
    /// The bytes of the font file of the family's regular face, if the system has one.
    pub(super) fn resolve(&self, family: &str) -> Option<Arc<Vec<u8>>> {
        let key = family.trim().to_lowercase();
        if key.is_empty() || key.len() > 200 {
            return None;
        }
        let mut resolved = self.resolved.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = resolved.get(&key) {
            return known.clone();
        }
        let db = self.db.get_or_init(|| {
            let mut db = fontdb::Database::new();
            db.load_system_fonts();
            db
        });
        let families = [fontdb::Family::Name(family.trim())];
        let query = fontdb::Query {
            families: &families,
            ..fontdb::Query::default()
        };
        let bytes = db
            .query(&query)
            .and_then(|id| db.with_face_data(id, |data, _index| Arc::new(data.to_vec())));
        resolved.insert(key, bytes.clone());
        bytes
    }
}
