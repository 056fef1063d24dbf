//! Bit-packed codes: the code of every non-null user, `bits` bits each, in
//! ascending user order.

#[derive(Clone, Debug, Default)]
pub(super) struct Packed {
    pub(super) bits: u32,
    pub(super) len: usize,
    pub(super) words: Vec<u64>,
}

impl Packed {
    pub(super) fn words_needed(len: usize, bits: u32) -> Option<usize> {
        len.checked_mul(bits as usize).map(|b| b.div_ceil(64))
    }

    pub(super) fn from_codes(codes: &[u32], bits: u32) -> Packed {
        let len = codes.len();
        if bits == 0 {
            return Packed { bits, len, words: Vec::new() };
        }
        let mut words = vec![0u64; Self::words_needed(len, bits).unwrap_or(0)];
        let mask = (1u64 << bits) - 1;
        let mut bit = 0usize;
        for &c in codes {
            let c = c as u64 & mask;
            let (w, off) = (bit >> 6, (bit & 63) as u32);
            if let Some(x) = words.get_mut(w) {
                *x |= c << off;
            }
            if off + bits > 64 {
                if let Some(x) = words.get_mut(w + 1) {
                    *x |= c >> (64 - off);
                }
            }
            bit += bits as usize;
        }
        Packed { bits, len, words }
    }

    /// Code at `i` (`i < len`; out of range reads as 0, never panics).
    #[inline]
    pub(super) fn get(&self, i: usize) -> u32 {
        if self.bits == 0 {
            return 0;
        }
        let bit = i * self.bits as usize;
        let (w, off) = (bit >> 6, (bit & 63) as u32);
        let mut v = self.words.get(w).copied().unwrap_or(0) >> off;
        if off + self.bits > 64 {
            v |= self.words.get(w + 1).copied().unwrap_or(0) << (64 - off);
        }
        (v & ((1u64 << self.bits) - 1)) as u32
    }

    /// Decodes the codes `start..start + out.len()` into `out` (out-of-range reads are 0).
    pub(super) fn decode(&self, start: usize, out: &mut [u32]) {
        if self.bits == 0 {
            out.fill(0);
            return;
        }
        let bits = self.bits as usize;
        let mask = (1u64 << bits) - 1;
        let mut bit = start * bits;
        for o in out.iter_mut() {
            let w = bit >> 6;
            let lo = self.words.get(w).copied().unwrap_or(0) as u128;
            let hi = self.words.get(w + 1).copied().unwrap_or(0) as u128;
            *o = ((((hi << 64) | lo) >> (bit & 63)) as u64 & mask) as u32;
            bit += bits;
        }
    }

    /// Calls `f` with consecutive blocks of all codes.
    pub(super) fn for_each_block(&self, mut f: impl FnMut(&[u32])) {
        let mut buf = vec![0u32; BLOCK.min(self.len)];
        let mut start = 0;
        while start < self.len {
            let n = BLOCK.min(self.len - start);
            self.decode(start, &mut buf[..n]);
            f(&buf[..n]);
            start += n;
        }
    }
}

/// Codes are handed out in blocks so that value lookups run in tight, independent loops (the
/// distinct array is large and randomly accessed: per-element callbacks were ~2x slower).
pub(super) const BLOCK: usize = 4096;
