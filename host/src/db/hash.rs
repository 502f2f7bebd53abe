//! Buildbot's hash columns: `name_hash` and `ss_hash` are SHA-1 over the values (`hashColumns`).

/// SHA-1 of `data` in lower-case hex (Buildbot's `name_hash` and `ss_hash` columns).
pub(crate) fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    let mut message = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (slot, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *slot = slot.wrapping_add(v);
        }
    }
    h.iter().map(|v| format!("{v:08x}")).collect()
}

/// Buildbot's `hashColumns`: SHA-1 over the values joined by NUL, with `None` as byte 0xf5.
pub(crate) fn hash_columns(values: &[Option<&str>]) -> String {
    let mut bytes = Vec::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            bytes.push(0);
        }
        match v {
            Some(s) => bytes.extend_from_slice(s.as_bytes()),
            None => bytes.push(0xf5),
        }
    }
    sha1_hex(&bytes)
}

/// `ss_hash` of a sourcestamp without patch, as Buildbot computes it.
pub(crate) fn ss_hash(
    branch: Option<&str>,
    revision: Option<&str>,
    repository: &str,
    project: &str,
    codebase: &str,
) -> String {
    hash_columns(&[
        branch,
        revision,
        Some(repository),
        Some(project),
        Some(codebase),
        None,
    ])
}
