//! Log chunk contents as Buildbot stores them: raw, or compressed with zlib/gzip, bz2, lz4, zstd
//! or brotli (the `compressed` column: 0 raw, 1 gz, 2 bz2, 3 lz4, 4 zstd, 5 br).

use std::io::Read;

/// Why a stored chunk could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// The `compressed` column holds a code Buildbot never writes.
    #[error("unknown log chunk compression {0}")]
    UnknownCompression(i64),
    /// The bytes do not decompress with the declared method.
    #[error("corrupt {method} log chunk: {detail}")]
    Corrupt {
        /// The compression named by the row.
        method: &'static str,
        /// What the decoder said.
        detail: String,
    },
}

fn corrupt(method: &'static str, err: impl std::fmt::Display) -> ChunkError {
    ChunkError::Corrupt {
        method,
        detail: err.to_string(),
    }
}

/// Decompresses one `logchunks.content` value into its text.
pub fn decode(compressed: i64, content: &[u8]) -> Result<String, ChunkError> {
    let bytes = match compressed {
        0 => content.to_vec(),
        1 => {
            let mut out = Vec::new();
            // Buildbot writes zlib streams; accept gzip members too.
            if content.starts_with(&[0x1f, 0x8b]) {
                flate2::read::GzDecoder::new(content)
                    .read_to_end(&mut out)
                    .map_err(|e| corrupt("gz", e))?;
            } else {
                flate2::read::ZlibDecoder::new(content)
                    .read_to_end(&mut out)
                    .map_err(|e| corrupt("gz", e))?;
            }
            out
        }
        2 => {
            let mut out = Vec::new();
            bzip2::read::BzDecoder::new(content)
                .read_to_end(&mut out)
                .map_err(|e| corrupt("bz2", e))?;
            out
        }
        3 => {
            if content.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
                let mut out = Vec::new();
                lz4_flex::frame::FrameDecoder::new(content)
                    .read_to_end(&mut out)
                    .map_err(|e| corrupt("lz4", e))?;
                out
            } else {
                lz4_flex::block::decompress_size_prepended(content)
                    .map_err(|e| corrupt("lz4", e))?
            }
        }
        4 => {
            let mut out = Vec::new();
            ruzstd::decoding::StreamingDecoder::new(content)
                .map_err(|e| corrupt("zstd", e))?
                .read_to_end(&mut out)
                .map_err(|e| corrupt("zstd", e))?;
            out
        }
        5 => {
            let mut out = Vec::new();
            brotli_decompressor::Decompressor::new(content, 4096)
                .read_to_end(&mut out)
                .map_err(|e| corrupt("br", e))?;
            out
        }
        other => return Err(ChunkError::UnknownCompression(other)),
    };
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &str = "ohello\nethere\nhdone\n";

    #[test]
    fn raw_zlib_gzip_bz2_and_lz4_round_trip() {
        assert_eq!(decode(0, TEXT.as_bytes()).unwrap(), TEXT);

        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(TEXT.as_bytes()).unwrap();
        assert_eq!(decode(1, &z.finish().unwrap()).unwrap(), TEXT);

        let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        g.write_all(TEXT.as_bytes()).unwrap();
        assert_eq!(decode(1, &g.finish().unwrap()).unwrap(), TEXT);

        let mut b = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        b.write_all(TEXT.as_bytes()).unwrap();
        assert_eq!(decode(2, &b.finish().unwrap()).unwrap(), TEXT);

        let block = lz4_flex::block::compress_prepend_size(TEXT.as_bytes());
        assert_eq!(decode(3, &block).unwrap(), TEXT);
        let mut f = lz4_flex::frame::FrameEncoder::new(Vec::new());
        f.write_all(TEXT.as_bytes()).unwrap();
        assert_eq!(decode(3, &f.finish().unwrap()).unwrap(), TEXT);
    }

    #[test]
    fn corrupt_and_unknown_chunks_are_errors_not_panics() {
        assert!(matches!(
            decode(1, b"garbage"),
            Err(ChunkError::Corrupt { method: "gz", .. })
        ));
        assert!(matches!(
            decode(2, b"garbage"),
            Err(ChunkError::Corrupt { method: "bz2", .. })
        ));
        assert!(matches!(
            decode(3, b"\x10\0\0\0xx"),
            Err(ChunkError::Corrupt { method: "lz4", .. })
        ));
        assert!(matches!(
            decode(4, b"garbage"),
            Err(ChunkError::Corrupt { method: "zstd", .. })
        ));
        assert!(matches!(
            decode(5, b"\xff\xff\xff"),
            Err(ChunkError::Corrupt { method: "br", .. })
        ));
        assert!(matches!(
            decode(9, b""),
            Err(ChunkError::UnknownCompression(9))
        ));
    }
}
