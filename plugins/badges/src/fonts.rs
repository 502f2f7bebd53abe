//! The faces badges are measured and drawn with: DejaVu Sans, bundled, and any other family the
//! server resolves (`font`), each with its metrics and, once a PNG needs it, a font database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use buildbot_plugin_sdk::log;
use resvg::usvg::fontdb;

use crate::metrics::Metrics;

/// The default family, which is bundled.
pub const DEJAVU_FAMILY: &str = "DejaVu Sans";

/// DejaVu Sans 2.37 (Debian's fonts-dejavu-core, the version Buildbot's recordings were made
/// with); its license is `fonts/LICENSE`.
pub static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Faces resolved through the server, at most this many per instance.
const MAX_FACES: usize = 8;

/// One face: metrics for measuring, and the database resvg draws the PNG's text from (DejaVu
/// Sans plus the face, DejaVu standing in for the generic families).
#[derive(Debug)]
pub struct Face {
    /// Advances per character.
    pub metrics: Metrics,
    bytes: Option<Arc<Vec<u8>>>,
    db: OnceLock<Arc<fontdb::Database>>,
}

impl Face {
    fn new(bytes: Option<Arc<Vec<u8>>>) -> Result<Face, String> {
        let metrics = match &bytes {
            Some(b) => Metrics::parse(b)?,
            None => Metrics::parse(DEJAVU_SANS)?,
        };
        Ok(Face {
            metrics,
            bytes,
            db: OnceLock::new(),
        })
    }

    /// The font database for rendering (built on first use): the faces without their
    /// [`LAYOUT_TABLES`].
    pub fn database(&self) -> Arc<fontdb::Database> {
        self.db
            .get_or_init(|| {
                let mut db = fontdb::Database::new();
                let dejavu = dejavu_for_drawing();
                db.load_font_source(fontdb::Source::Binary(dejavu));
                if let Some(bytes) = &self.bytes {
                    let plain =
                        without_layout_tables(bytes).map_or_else(|| bytes.clone(), Arc::new);
                    db.load_font_source(fontdb::Source::Binary(plain));
                }
                db.set_sans_serif_family(DEJAVU_FAMILY);
                db.set_serif_family(DEJAVU_FAMILY);
                db.set_monospace_family(DEJAVU_FAMILY);
                db.set_cursive_family(DEJAVU_FAMILY);
                db.set_fantasy_family(DEJAVU_FAMILY);
                Arc::new(db)
            })
            .clone()
    }
}

/// The faces of one instance.
#[derive(Debug, Default)]
pub struct Fonts {
    dejavu: OnceLock<Arc<Face>>,
    others: Mutex<HashMap<String, Arc<Face>>>,
}

impl Fonts {
    /// The bundled DejaVu Sans.
    pub fn dejavu(&self) -> Arc<Face> {
        self.dejavu
            .get_or_init(|| Arc::new(Face::new(None).expect("the bundled font parses")))
            .clone()
    }

    /// The face of `family`: DejaVu Sans for its own name, else what the server resolves the
    /// family to, else (logged once per instance and family) DejaVu Sans.
    pub fn face(&self, family: &str) -> Arc<Face> {
        let family = family.trim();
        if family.eq_ignore_ascii_case(DEJAVU_FAMILY) {
            return self.dejavu();
        }
        let key = family.to_ascii_lowercase();
        let mut others = self.others.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(face) = others.get(&key) {
            return face.clone();
        }
        let face = match buildbot_plugin_sdk::font(family) {
            Some(bytes) => match Face::new(Some(Arc::new(bytes))) {
                Ok(face) => Arc::new(face),
                Err(e) => {
                    log::warn!("font '{family}': {e}; using {DEJAVU_FAMILY}");
                    self.dejavu()
                }
            },
            None => {
                log::warn!("the server has no font '{family}'; using {DEJAVU_FAMILY}");
                self.dejavu()
            }
        };
        if others.len() >= MAX_FACES {
            others.clear();
        }
        others.insert(key, face.clone());
        face
    }
}

/// DejaVu Sans without its layout tables, made once per instance.
fn dejavu_for_drawing() -> Arc<Vec<u8>> {
    static PLAIN: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    PLAIN
        .get_or_init(|| {
            Arc::new(without_layout_tables(DEJAVU_SANS).unwrap_or_else(|| DEJAVU_SANS.to_vec()))
        })
        .clone()
}

/// Tables of text layout (substitution, positioning, kerning) that cairo's toy text API, which
/// Buildbot draws with, does not apply.
const LAYOUT_TABLES: [&[u8; 4]; 8] = [
    b"GSUB", b"GPOS", b"GDEF", b"kern", b"morx", b"kerx", b"JSTF", b"MATH",
];

/// A copy of the first face of `font` without its [`LAYOUT_TABLES`]: glyphs are then placed by
/// their advances alone, as Buildbot's cairo places them (no kerning, no ligatures), and shaping
/// a text is cheap. `None` when `font` is not an sfnt font.
pub fn without_layout_tables(font: &[u8]) -> Option<Vec<u8>> {
    let be16 = |at: usize| {
        font.get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let be32 = |at: usize| {
        font.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let start = if font.get(..4) == Some(b"ttcf") {
        be32(12)? as usize
    } else {
        0
    };
    let version = font.get(start..start + 4)?;
    let count = usize::from(be16(start + 4)?);
    let mut tables = Vec::new();
    for i in 0..count {
        let record = start + 12 + i * 16;
        let tag = font.get(record..record + 4)?;
        let offset = be32(record + 8)? as usize;
        let length = be32(record + 12)? as usize;
        let data = font.get(offset..offset.checked_add(length)?)?;
        if !LAYOUT_TABLES.iter().any(|t| t.as_slice() == tag) {
            tables.push((tag, be32(record + 4)?, data));
        }
    }
    let count = u16::try_from(tables.len()).ok()?;
    let mut out = Vec::with_capacity(font.len());
    out.extend_from_slice(version);
    let pow = if count == 0 {
        0
    } else {
        15 - count.leading_zeros() as u16
    };
    let search_range = (1u16 << pow) * 16;
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&search_range.to_be_bytes());
    out.extend_from_slice(&pow.to_be_bytes());
    out.extend_from_slice(&(count * 16 - search_range).to_be_bytes());
    let mut offset = 12 + tables.len() * 16;
    for (tag, checksum, data) in &tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum.to_be_bytes());
        out.extend_from_slice(&u32::try_from(offset).ok()?.to_be_bytes());
        out.extend_from_slice(&u32::try_from(data.len()).ok()?.to_be_bytes());
        offset += data.len().next_multiple_of(4);
    }
    for (_, _, data) in &tables {
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_faces_and_falls_back() {
        let fonts = Fonts::default();
        let dejavu = fonts.dejavu();
        assert!(Arc::ptr_eq(&fonts.face("dejavu sans"), &dejavu));
        // Unknown to the (test) server: DejaVu, and asked only once.
        assert!(Arc::ptr_eq(&fonts.face("No Such Font"), &dejavu));
        let logs = buildbot_plugin_sdk::testing::take_logs();
        assert_eq!(logs.len(), 1, "{logs:?}");
        fonts.face("No Such Font");
        assert!(buildbot_plugin_sdk::testing::take_logs().is_empty());
        // A face the server has (here: DejaVu's bytes under another name).
        buildbot_plugin_sdk::testing::set_font("Other", DEJAVU_SANS.to_vec());
        let other = fonts.face("Other");
        assert!(!Arc::ptr_eq(&other, &dejavu));
        assert_eq!(other.metrics.width("docs", 11.0), 25.4912109375);
        assert_eq!(other.database().len(), 2);
        // Not a font: DejaVu.
        buildbot_plugin_sdk::testing::set_font("Broken", b"nope".to_vec());
        assert!(Arc::ptr_eq(&fonts.face("Broken"), &dejavu));
    }
}
