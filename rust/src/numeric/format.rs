//! The bytes of a saved numeric index: a bounds-checked reader and the
//! corruption check over them.

pub(super) fn le_u64(p: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    for (d, s) in a.iter_mut().zip(p) {
        *d = *s;
    }
    u64::from_le_bytes(a)
}

pub(super) struct Reader<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end =
            self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| "truncated input".to_string())?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(super) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, String> {
        let p = self.take(2)?;
        Ok(u16::from_le_bytes([p[0], p[1]]))
    }

    pub(super) fn u32(&mut self) -> Result<u32, String> {
        let p = self.take(4)?;
        Ok(u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
    }

    pub(super) fn u64(&mut self) -> Result<u64, String> {
        Ok(le_u64(self.take(8)?))
    }

    /// A length that must fit in the remaining input given `unit` bytes per item.
    pub(super) fn len(&mut self, unit: usize) -> Result<usize, String> {
        let n = self.u64()?;
        let remaining = (self.buf.len() - self.pos) as u64;
        if n.checked_mul(unit as u64).is_none_or(|b| b > remaining) {
            return Err("length field exceeds input".into());
        }
        Ok(n as usize)
    }
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
