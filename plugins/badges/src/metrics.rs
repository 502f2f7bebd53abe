//! Text widths from a font's horizontal metrics, as Buildbot measures them.
//!
//! Buildbot asks cairo's "toy" text API for the `x_advance` of the whole string. For a TrueType
//! or OpenType font that is the sum of the glyphs' advances (`hmtx`) scaled by
//! `font_size / unitsPerEm`: no kerning, no shaping. This module reads exactly those tables
//! (`head`, `hhea`, `maxp`, `hmtx`, `cmap` formats 4 and 12), nothing else, so a width costs a
//! table lookup per character.

use std::collections::HashMap;

/// The metrics of one face: advances per glyph and the character map.
#[derive(Debug)]
pub struct Metrics {
    units_per_em: f64,
    advances: Vec<u16>,
    /// Advances of the characters U+0000..U+007F, the common case.
    ascii: [u16; 128],
    /// Glyph ids of the other characters the font maps.
    glyphs: HashMap<u32, u16>,
}

impl Metrics {
    /// Reads the metrics of the first face of a TrueType/OpenType file (or collection).
    pub fn parse(data: &[u8]) -> Result<Metrics, String> {
        let font = Font::new(data)?;
        let head = font.table(b"head")?;
        let units_per_em = u16_at(head, 18)?;
        if units_per_em == 0 {
            return Err("the font's unitsPerEm is 0".into());
        }
        let hhea = font.table(b"hhea")?;
        let long_metrics = usize::from(u16_at(hhea, 34)?);
        let maxp = font.table(b"maxp")?;
        let glyph_count = usize::from(u16_at(maxp, 4)?);
        let hmtx = font.table(b"hmtx")?;
        if long_metrics == 0 {
            return Err("the font has no horizontal metrics".into());
        }
        let mut advances = Vec::with_capacity(glyph_count.max(long_metrics));
        for i in 0..long_metrics {
            advances.push(u16_at(hmtx, i * 4)?);
        }
        // Glyphs past the long metrics repeat the last advance.
        let last = advances[long_metrics - 1];
        advances.resize(glyph_count.max(long_metrics), last);

        let glyphs = read_cmap(font.table(b"cmap")?)?;
        let mut metrics = Metrics {
            units_per_em: f64::from(units_per_em),
            advances,
            ascii: [0; 128],
            glyphs: HashMap::new(),
        };
        let notdef = metrics.advance_of_glyph(0);
        metrics.ascii = [notdef; 128];
        for (c, glyph) in glyphs {
            if c < 128 {
                metrics.ascii[c as usize] = metrics.advance_of_glyph(glyph);
            } else {
                metrics.glyphs.insert(c, glyph);
            }
        }
        Ok(metrics)
    }

    fn advance_of_glyph(&self, glyph: u16) -> u16 {
        self.advances
            .get(usize::from(glyph))
            .or(self.advances.last())
            .copied()
            .unwrap_or(0)
    }

    /// The advance of `c` in font units; characters the font lacks get the advance of glyph 0
    /// (`.notdef`), which is what is drawn for them.
    pub fn advance(&self, c: char) -> u16 {
        let code = u32::from(c);
        if code < 128 {
            return self.ascii[code as usize];
        }
        self.advance_of_glyph(self.glyphs.get(&code).copied().unwrap_or(0))
    }

    /// The width of `text` at `size` (pixels per em).
    pub fn width(&self, text: &str, size: f64) -> f64 {
        let units: u64 = text.chars().map(|c| u64::from(self.advance(c))).sum();
        units as f64 * size / self.units_per_em
    }
}

/// A face's table directory.
struct Font<'a> {
    data: &'a [u8],
    /// Offset of the face's table directory (0 unless the file is a collection).
    start: usize,
}

impl<'a> Font<'a> {
    fn new(data: &'a [u8]) -> Result<Font<'a>, String> {
        let start = if data.get(..4) == Some(b"ttcf") {
            u32_at(data, 12)? as usize
        } else {
            0
        };
        match data.get(start..start + 4) {
            Some([0, 1, 0, 0] | b"OTTO" | b"true") => Ok(Font { data, start }),
            _ => Err("not a TrueType or OpenType font".into()),
        }
    }

    fn table(&self, tag: &[u8; 4]) -> Result<&'a [u8], String> {
        let count = usize::from(u16_at(self.data, self.start + 4)?);
        for i in 0..count {
            let record = self.start + 12 + i * 16;
            if self.data.get(record..record + 4) == Some(tag.as_slice()) {
                let offset = u32_at(self.data, record + 8)? as usize;
                let length = u32_at(self.data, record + 12)? as usize;
                return self
                    .data
                    .get(offset..offset.saturating_add(length))
                    .ok_or_else(|| format!("the font's {} table is truncated", tag_name(tag)));
            }
        }
        Err(format!("the font has no {} table", tag_name(tag)))
    }
}

fn tag_name(tag: &[u8; 4]) -> String {
    String::from_utf8_lossy(tag).trim().to_owned()
}

/// Every (character, glyph) pair of the best Unicode subtable: format 12 (full repertoire)
/// when there is one, else format 4 (the BMP).
fn read_cmap(cmap: &[u8]) -> Result<Vec<(u32, u16)>, String> {
    let count = usize::from(u16_at(cmap, 2)?);
    let mut best: Option<(u8, usize)> = None;
    for i in 0..count {
        let record = 4 + i * 8;
        let platform = u16_at(cmap, record)?;
        let encoding = u16_at(cmap, record + 2)?;
        let offset = u32_at(cmap, record + 4)? as usize;
        let format = u16_at(cmap, offset)?;
        let unicode = platform == 0 || (platform == 3 && matches!(encoding, 1 | 10));
        let rank = match (unicode, format) {
            (true, 12) => 2,
            (true, 4) => 1,
            _ => continue,
        };
        if best.is_none_or(|(r, _)| rank > r) {
            best = Some((rank, offset));
        }
    }
    let Some((rank, offset)) = best else {
        return Err("the font has no Unicode character map".into());
    };
    let table = cmap.get(offset..).ok_or("the font's cmap is truncated")?;
    if rank == 2 {
        read_format12(table)
    } else {
        read_format4(table)
    }
}

fn read_format4(table: &[u8]) -> Result<Vec<(u32, u16)>, String> {
    let segments = usize::from(u16_at(table, 6)? / 2);
    let ends = 14;
    let starts = ends + segments * 2 + 2;
    let deltas = starts + segments * 2;
    let range_offsets = deltas + segments * 2;
    let mut pairs = Vec::new();
    for s in 0..segments {
        let end = u16_at(table, ends + s * 2)?;
        let start = u16_at(table, starts + s * 2)?;
        let delta = u16_at(table, deltas + s * 2)?;
        let range_offset = usize::from(u16_at(table, range_offsets + s * 2)?);
        if start > end {
            continue;
        }
        for c in start..=end {
            if c == 0xFFFF {
                break;
            }
            let glyph = if range_offset == 0 {
                c.wrapping_add(delta)
            } else {
                let at = range_offsets + s * 2 + range_offset + usize::from(c - start) * 2;
                match u16_at(table, at)? {
                    0 => 0,
                    g => g.wrapping_add(delta),
                }
            };
            if glyph != 0 {
                pairs.push((u32::from(c), glyph));
            }
        }
    }
    Ok(pairs)
}

fn read_format12(table: &[u8]) -> Result<Vec<(u32, u16)>, String> {
    let groups = u32_at(table, 12)? as usize;
    let mut pairs = Vec::new();
    for g in 0..groups {
        let at = 16 + g * 12;
        let start = u32_at(table, at)?;
        let end = u32_at(table, at + 4)?;
        let first = u32_at(table, at + 8)?;
        if end < start || end > 0x10FFFF {
            continue;
        }
        for c in start..=end {
            let glyph = first.wrapping_add(c - start);
            if let Ok(glyph @ 1..) = u16::try_from(glyph) {
                pairs.push((c, glyph));
            }
        }
    }
    Ok(pairs)
}

fn u16_at(data: &[u8], at: usize) -> Result<u16, String> {
    data.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| "the font is truncated".into())
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, String> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| "the font is truncated".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dejavu() -> Metrics {
        Metrics::parse(crate::fonts::DEJAVU_SANS).unwrap()
    }

    /// `badges/textwidths.txt` of the reference: cairo's x_advance at size 11.
    #[test]
    fn widths_match_cairo() {
        let m = dejavu();
        for (text, width) in [
            ("Build Status", 66.1611328125),
            ("success", 43.02783203125),
            ("warnings", 49.97265625),
            ("failure", 34.9873046875),
            ("skipped", 42.8720703125),
            ("exception", 54.14599609375),
            ("retry", 26.63525390625),
            ("cancelled", 52.43798828125),
            ("running", 42.44775390625),
            ("unknown", 49.9833984375),
            ("Docs &amp; more", 99.4296875),
            ("docs", 25.4912109375),
            ("AVAWAy To", 64.431640625),
        ] {
            assert_eq!(m.width(text, 11.0), width, "{text}");
        }
        assert_eq!(m.width("Build Status", 10.0), 60.146484375);
        assert_eq!(m.width("success", 12.0), 46.939453125);
        assert_eq!(m.width("Build Status", 14.0), 84.205078125);
        assert_eq!(m.width("success", 14.0), 54.7626953125);
    }

    #[test]
    fn every_printable_ascii_character() {
        // The per-character table of textwidths.txt, a few of each class.
        let m = dejavu();
        for (c, width) in [
            (' ', 3.49658203125),
            ('@', 11.0),
            ('W', 10.87646484375),
            ('m', 10.71533203125),
            ('~', 9.216796875),
            ('"', 5.0595703125),
            ('&', 8.57763671875),
        ] {
            assert_eq!(m.width(&c.to_string(), 11.0), width, "{c:?}");
        }
        // Outside ASCII: DejaVu has é; a private-use character falls back to .notdef.
        assert!(m.width("é", 11.0) > 0.0);
        assert_eq!(m.advance('\u{E000}'), m.advance_of_glyph(0));
    }

    #[test]
    fn rejects_what_is_not_a_font() {
        assert!(Metrics::parse(b"").is_err());
        assert!(Metrics::parse(b"hello world, not a font at all").is_err());
        let mut truncated = crate::fonts::DEJAVU_SANS[..2000].to_vec();
        truncated[0..4].copy_from_slice(&[0, 1, 0, 0]);
        assert!(Metrics::parse(&truncated).is_err());
    }
}
