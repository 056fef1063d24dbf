//! Query evaluation on the bit-sliced index: a predicate in code space, run
//! chunk by chunk over word buffers (the O'Neil–Quass recurrence).

use super::*;

/// A predicate in code space; codes are `0..D`.
#[derive(Clone, Copy, Debug)]
pub(super) enum CodePredicate {
    Empty,
    All,
    /// code >= c (0 < c < D)
    Ge(u32),
    /// code < c (0 < c < D)
    Lt(u32),
    /// lo <= code < hi (0 < lo, lo + 1 < hi < D)
    Between(u32, u32),
    /// code == c
    Eq(u32),
    /// code != c
    Ne(u32),
}

// The chunk kernel on the index's own containers (`None` is an empty chunk).

fn load(r: &mut Words, c: Option<&Container>) {
    words::load(r, borrowed(c))
}

fn and(r: &mut Words, c: Option<&Container>, tmp: &mut Words) -> bool {
    words::and(r, borrowed(c), tmp)
}

fn or(r: &mut Words, c: Option<&Container>) {
    words::or(r, borrowed(c))
}

fn andnot(r: &mut Words, c: Option<&Container>) -> bool {
    words::andnot(r, borrowed(c))
}

/// r = {code >= c} within one chunk (c > 0), LSB-first O'Neil–Quass.
pub(super) fn ge_chunk(c: u32, slices: &[Option<&Container>], r: &mut Words, tmp: &mut Words) {
    let tz = c.trailing_zeros() as usize;
    load(r, slices.get(tz).copied().flatten());
    for (i, s) in slices.iter().enumerate().skip(tz + 1) {
        if (c >> i) & 1 == 1 {
            and(r, *s, tmp);
        } else {
            or(r, *s);
        }
    }
}

/// r = {code == c} within one chunk.
pub(super) fn eq_chunk(c: u32, ebm: Option<&Container>, slices: &[Option<&Container>], r: &mut Words, tmp: &mut Words) {
    load(r, ebm);
    for (i, s) in slices.iter().enumerate() {
        let nonempty = if (c >> i) & 1 == 1 { and(r, *s, tmp) } else { andnot(r, *s) };
        if !nonempty {
            break;
        }
    }
}

/// Words a fused pass combines at a time: a block of each running result
/// stays in registers while every slice's block is read once.
const BLOCK: usize = 8;

/// The running `code >= c` of one block of words (as [`ge_chunk`], whose
/// recurrence it follows, computes it for the whole chunk).
#[inline(always)]
fn ge_block(c: u32, slices: &[&Words], at: usize) -> [u64; BLOCK] {
    let tz = c.trailing_zeros() as usize;
    let mut acc = [0u64; BLOCK];
    let Some(first) = slices.get(tz) else { return acc };
    acc.copy_from_slice(&first[at..at + BLOCK]);
    for (i, slice) in slices.iter().enumerate().skip(tz + 1) {
        let block = &slice[at..at + BLOCK];
        if (c >> i) & 1 == 1 {
            acc.iter_mut().zip(block).for_each(|(a, s)| *a &= s);
        } else {
            acc.iter_mut().zip(block).for_each(|(a, s)| *a |= s);
        }
    }
    acc
}

/// A range predicate over a chunk whose slices are all bitsets (or absent),
/// in one pass: `r = {lo <= code} & !{hi <= code}` block by block, with
/// `lo` or `hi` left out (`None`) for one-sided ranges, and `r` first taken
/// as the existence words where `lo` is. The per-operation recurrence
/// ([`ge_chunk`]) writes and reads the whole 8 KB result once per slice:
/// a dozen passes over L1 for a two-sided range on six slices.
#[inline(always)]
fn range_words_kernel(lo: Option<u32>, hi: Option<u32>, slices: &[&Words], r: &mut Words) -> bool {
    let mut any = 0u64;
    for (at, out) in (0..WORDS).step_by(BLOCK).zip(r.chunks_exact_mut(BLOCK)) {
        let mut block = [0u64; BLOCK];
        match lo {
            Some(lo) => block = ge_block(lo, slices, at),
            None => block.copy_from_slice(out),
        }
        if let Some(hi) = hi {
            let above = ge_block(hi, slices, at);
            block.iter_mut().zip(above).for_each(|(b, a)| *b &= !a);
        }
        out.copy_from_slice(&block);
        any |= block.iter().fold(0, |acc, &b| acc | b);
    }
    any != 0
}

fn range_words(lo: Option<u32>, hi: Option<u32>, slices: &[&Words], r: &mut Words) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn range_words_avx2(lo: Option<u32>, hi: Option<u32>, slices: &[&Words], r: &mut Words) -> bool {
            range_words_kernel(lo, hi, slices, r)
        }
        if crate::cpu::avx2() {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { range_words_avx2(lo, hi, slices, r) };
        }
    }
    range_words_kernel(lo, hi, slices, r)
}

/// All zeros: an absent slice, for [`range_words`].
static NO_BITS: Words = [0; WORDS];

/// Scratch buffers for evaluating a predicate on one chunk.
pub struct ChunkScratch {
    pub(super) r2: Box<Words>,
    pub(super) tmp: Box<Words>,
}

impl ChunkScratch {
    pub fn new() -> Self {
        ChunkScratch { r2: Box::new([0u64; WORDS]), tmp: Box::new([0u64; WORDS]) }
    }
}

impl Default for ChunkScratch {
    fn default() -> Self {
        Self::new()
    }
}

/// A predicate of one numeric column evaluated one chunk at a time, chunks in
/// ascending key order (each slice keeps a cursor). The fused query executor
/// combines it with other operands chunk by chunk.
pub struct PredicateChunks<'a> {
    pub(super) inner: &'a Inner,
    pub(super) plan: CodePredicate,
    pub(super) ebm_cursor: usize,
    pub(super) cursors: Vec<usize>,
    pub(super) current: Vec<Option<&'a Container>>,
    /// The current chunk's slices as words, when all are bitsets or absent.
    pub(super) current_words: Vec<&'a Words>,
}

impl<'a> PredicateChunks<'a> {
    pub(super) fn new(inner: &'a Inner, plan: CodePredicate) -> Self {
        let k = inner.slices.len();
        PredicateChunks {
            inner,
            plan,
            ebm_cursor: 0,
            cursors: vec![0; k],
            current: vec![None; k],
            current_words: Vec::with_capacity(k),
        }
    }

    /// r = the users of chunk `key` that satisfy the predicate; false if none.
    pub fn eval(&mut self, key: u16, r: &mut Words, scratch: &mut ChunkScratch) -> bool {
        let ec = &self.inner.ebm_chunks;
        while self.ebm_cursor < ec.keys.len() && ec.keys[self.ebm_cursor] < key {
            self.ebm_cursor += 1;
        }
        let e = match ec.keys.get(self.ebm_cursor) {
            Some(&k) if k == key => ec.conts.get(self.ebm_cursor),
            _ => None,
        };
        if e.is_none() || matches!(self.plan, CodePredicate::Empty) {
            r.fill(0);
            return false;
        }
        for ((s, pos), slot) in self.inner.slices.iter().zip(&mut self.cursors).zip(&mut self.current) {
            while *pos < s.keys.len() && s.keys[*pos] < key {
                *pos += 1;
            }
            *slot = (s.keys.get(*pos) == Some(&key)).then(|| &s.conts[*pos]);
        }
        self.current_words.clear();
        for slot in &self.current {
            match slot {
                None => self.current_words.push(&NO_BITS),
                Some(Container::Bitset(words)) => self.current_words.push(words),
                Some(_) => break,
            }
        }
        if self.current_words.len() == self.current.len() {
            let slices = &self.current_words;
            match self.plan {
                CodePredicate::Ge(c) => return range_words(Some(c), None, slices, r),
                CodePredicate::Lt(c) => {
                    load(r, e);
                    return range_words(None, Some(c), slices, r);
                }
                CodePredicate::Between(lo, hi) => return range_words(Some(lo), Some(hi), slices, r),
                _ => {}
            }
        }
        let (cur, r2, tmp) = (&self.current, &mut scratch.r2, &mut scratch.tmp);
        match self.plan {
            CodePredicate::Empty => {}
            CodePredicate::All => load(r, e),
            CodePredicate::Ge(c) => ge_chunk(c, cur, r, tmp),
            CodePredicate::Lt(c) => {
                ge_chunk(c, cur, r2, tmp);
                load(r, e);
                andnot_words(r, r2);
            }
            CodePredicate::Between(lo, hi) => {
                ge_chunk(lo, cur, r, tmp);
                ge_chunk(hi, cur, r2, tmp);
                andnot_words(r, r2);
            }
            CodePredicate::Eq(c) => eq_chunk(c, e, cur, r, tmp),
            CodePredicate::Ne(c) => {
                eq_chunk(c, e, cur, r2, tmp);
                load(r, e);
                andnot_words(r, r2);
            }
        }
        !words::is_empty(r)
    }
}

impl Inner {
    pub(super) fn plan_range(&self, lo: usize, hi: usize) -> CodePredicate {
        let d = self.values.len();
        let hi = hi.min(d);
        if lo >= hi {
            CodePredicate::Empty
        } else if lo == 0 && hi == d {
            CodePredicate::All
        } else if hi == lo + 1 {
            CodePredicate::Eq(lo as u32)
        } else if lo == 0 {
            CodePredicate::Lt(hi as u32)
        } else if hi == d {
            CodePredicate::Ge(lo as u32)
        } else {
            CodePredicate::Between(lo as u32, hi as u32)
        }
    }

    pub(super) fn execute(&self, plan: CodePredicate) -> Bitmap {
        match plan {
            CodePredicate::Empty => return Bitmap::new(),
            CodePredicate::All => return self.ebm.clone(),
            _ => {}
        }
        let mut chunks = PredicateChunks::new(self, plan);
        let mut r = Box::new([0u64; WORDS]);
        let mut scratch = ChunkScratch::new();
        let mut out = Writer::new();
        out.begin(self.ebm_chunks.keys.len(), 2 * self.codes.len);
        for &key in &self.ebm_chunks.keys {
            if chunks.eval(key, &mut r, &mut scratch) {
                out.words(key, &r);
            }
        }
        out.bitmap()
    }

    /// The code of each of the ascending `users`, [`NO_CODE`] for those without a value: one
    /// pass, a rank per user from the EBM chunk's words and per-word prefix counts.
    pub(super) fn codes_of_sorted(&self, users: &[u32]) -> Vec<u32> {
        #[cfg(target_arch = "x86_64")]
        {
            // A rank is a popcount per user: baseline x86-64 has no POPCNT
            // instruction and counts bits in a dozen instructions instead.
            #[target_feature(enable = "popcnt")]
            unsafe fn with_popcnt(inner: &Inner, users: &[u32]) -> Vec<u32> {
                inner.codes_of_sorted_kernel(users)
            }
            if crate::cpu::popcnt() {
                // SAFETY: the CPU has POPCNT (checked just above).
                return unsafe { with_popcnt(self, users) };
            }
        }
        self.codes_of_sorted_kernel(users)
    }

    #[inline(always)]
    fn codes_of_sorted_kernel(&self, users: &[u32]) -> Vec<u32> {
        let ec = &self.ebm_chunks;
        let mut words = Box::new([0u64; WORDS]);
        let mut prefix = vec![0u32; WORDS];
        let mut out = Vec::with_capacity(users.len());
        let mut rest = users;
        while let Some(&first) = rest.first() {
            let key = first >> 16;
            let end = rest.partition_point(|&u| u >> 16 == key);
            let (chunk, tail) = rest.split_at(end);
            rest = tail;
            let Some(j) = ec.find(key as u16) else {
                out.extend(std::iter::repeat_n(NO_CODE, chunk.len()));
                continue;
            };
            load(&mut words, ec.conts.get(j));
            let mut acc = 0u32;
            for (p, w) in prefix.iter_mut().zip(words.iter()) {
                *p = acc;
                acc += w.count_ones();
            }
            let base = ec.cum.get(j).copied().unwrap_or(0) as usize;
            out.extend(chunk.iter().map(|&u| {
                let low = u & 0xFFFF;
                let w = (low >> 6) as usize;
                let word = words[w];
                if word >> (low & 63) & 1 == 0 {
                    return NO_CODE;
                }
                let below = word & ((1u64 << (low & 63)) - 1);
                self.codes.get(base + (prefix[w] + below.count_ones()) as usize)
            }));
        }
        out
    }

    /// Calls `f` with blocks of the codes of the users of `audience ∩ non_null`, in ascending
    /// id order.
    pub(super) fn for_each_code_block(&self, audience: Option<&Bitmap>, mut f: impl FnMut(&[u32])) {
        let m = match audience {
            None => return self.codes.for_each_block(f),
            Some(a) => a.and(&self.ebm),
        };
        if m.cardinality() == self.codes.len as u64 {
            return self.codes.for_each_block(f);
        }
        // Rank of a user among the non-null users = index of its code. Per chunk: expand the
        // EBM container to words plus per-word prefix counts, then each rank is O(1).
        let ec = &self.ebm_chunks;
        let mut words = Box::new([0u64; WORDS]);
        let mut prefix = vec![0u32; WORDS];
        let mut cur_key: Option<u32> = None;
        let mut base = 0u64;
        let mut valid_chunk = false;
        let mut ids = vec![0u32; BLOCK];
        let mut codes = Vec::with_capacity(BLOCK);
        let mut it = m.iter();
        loop {
            let n = it.next_many(&mut ids);
            if n == 0 {
                break;
            }
            codes.clear();
            for &u in &ids[..n] {
                let key = u >> 16;
                if cur_key != Some(key) {
                    cur_key = Some(key);
                    valid_chunk = false;
                    if let Some(j) = ec.find(key as u16) {
                        load(&mut words, ec.conts.get(j));
                        let mut acc = 0u32;
                        for (p, w) in prefix.iter_mut().zip(words.iter()) {
                            *p = acc;
                            acc += w.count_ones();
                        }
                        base = ec.cum.get(j).copied().unwrap_or(0);
                        valid_chunk = true;
                    }
                }
                if valid_chunk {
                    let low = u & 0xFFFF;
                    let w = (low >> 6) as usize;
                    let below = words[w] & ((1u64 << (low & 63)) - 1);
                    let rank = base + (prefix[w] + below.count_ones()) as u64;
                    codes.push(self.codes.get(rank as usize));
                }
            }
            f(&codes);
        }
    }
}
