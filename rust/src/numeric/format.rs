//! The bytes of a saved numeric index: little-endian words and the corruption
//! check over them (reading goes through `crate::bytes::Reader`).

pub(super) fn le_u64(p: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    for (d, s) in a.iter_mut().zip(p) {
        *d = *s;
    }
    u64::from_le_bytes(a)
}

/// 4-lane multiply-rotate hash. Each step is a bijection of the lane state, so any single
/// corrupted 8-byte word always changes the result; this is a corruption check, not a MAC.
pub(super) fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lanes = [0x243F_6A88_85A3_08D3u64, 0x1319_8A2E_0370_7344, 0xA409_3822_299F_31D0, 0x082E_FA98_EC4E_6C89];
    let mut blocks = bytes.chunks_exact(32);
    for b in &mut blocks {
        for (l, p) in lanes.iter_mut().zip(b.chunks_exact(8)) {
            *l = (*l ^ le_u64(p)).wrapping_mul(K).rotate_left(29);
        }
    }
    for (i, p) in blocks.remainder().chunks(8).enumerate() {
        lanes[i] = (lanes[i] ^ le_u64(p) ^ 0xFF).wrapping_mul(K).rotate_left(29);
    }
    let mut h = bytes.len() as u64;
    for l in lanes {
        h = (h ^ l).wrapping_mul(K).rotate_left(31);
    }
    h
}

pub(super) const MAGIC: &[u8; 8] = b"UOSNUM\x00\x01";
