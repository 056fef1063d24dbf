//! Building an index from (user, value) rows, and updating one.

use super::*;

/// Validated input: `set` sorted by user with order-preserving keys; `cleared` = users given
/// null (sorted). No user appears twice across both.
pub(super) struct Input {
    pub(super) set: Vec<(u32, u64)>,
    pub(super) cleared: Vec<u32>,
}

pub(super) fn collect_input(
    users: &[u32],
    n_values: usize,
    valid: Option<&[bool]>,
    key_of: impl Fn(usize) -> Result<Option<u64>> + Sync,
) -> Result<Input> {
    if n_values != users.len() {
        return Err(Error::invalid(format!("{} users but {} values", users.len(), n_values)));
    }
    if let Some(v) = valid {
        if v.len() != users.len() {
            return Err(Error::invalid(format!("{} users but {} validity flags", users.len(), v.len())));
        }
    }
    if let Some(input) = every_value_set(users, valid, &key_of) {
        return Ok(input);
    }
    let mut set = Vec::with_capacity(users.len());
    let mut cleared = Vec::new();
    for (i, &u) in users.iter().enumerate() {
        let key =
            if valid.is_none_or(|v| v[i]) { key_of(i).map_err(|e| e.context(&format!("user {u}")))? } else { None };
        match key {
            Some(k) => set.push((u, k)),
            None => cleared.push(u),
        }
    }
    if !set.windows(2).all(|p| p[0].0 < p[1].0) {
        set.par_sort_unstable_by_key(|p| p.0);
    }
    cleared.sort_unstable();
    let dup = |u: u32| Err(Error::invalid(format!("user {u} appears more than once")));
    if let Some(p) = set.windows(2).find(|p| p[0].0 == p[1].0) {
        return dup(p[0].0);
    }
    if let Some(p) = cleared.windows(2).find(|p| p[0] == p[1]) {
        return dup(p[0]);
    }
    for &u in &cleared {
        if set.binary_search_by_key(&u, |p| p.0).is_ok() {
            return dup(u);
        }
    }
    Ok(Input { set, cleared })
}

/// Inputs below this many rows are collected on one thread.
const PARALLEL_ROWS: usize = 1 << 16;

/// The common case of [`collect_input`], on every thread: every row has a
/// value and users ascend (a column of a wide table). `None` when a row is
/// null, a value is refused or users do not strictly ascend: the one-thread
/// path then finds the first such row and names it. On 10 M rows of a small
/// integer this took the index build from 550 to 325 ms (the serial loop and
/// 160 MB of 4 KiB page faults were a third of it).
fn every_value_set(
    users: &[u32],
    valid: Option<&[bool]>,
    key_of: &(impl Fn(usize) -> Result<Option<u64>> + Sync),
) -> Option<Input> {
    use std::sync::atomic::{AtomicBool, Ordering};
    if users.len() < PARALLEL_ROWS
        || valid.is_some_and(|v| v.par_iter().any(|ok| !ok))
        || !users.par_windows(2).all(|p| p[0] < p[1])
    {
        return None;
    }
    // SAFETY: an all-zero (u32, u64) is a valid pair; every one is written below.
    let mut set: Vec<(u32, u64)> = unsafe { crate::memory::zeroed_vec(users.len()) }?;
    let other = AtomicBool::new(false);
    set.par_chunks_mut(PARALLEL_ROWS).enumerate().for_each(|(c, pairs)| {
        let first = c * PARALLEL_ROWS;
        for (j, pair) in pairs.iter_mut().enumerate() {
            match key_of(first + j) {
                Ok(Some(key)) => *pair = (users[first + j], key),
                _ => other.store(true, Ordering::Relaxed),
            }
        }
    });
    (!other.into_inner()).then_some(Input { set, cleared: Vec::new() })
}

pub(super) fn int_keys(values: &[i64], domain: Domain) -> impl Fn(usize) -> Result<Option<u64>> + '_ {
    move |i| {
        let v = values[i];
        match domain {
            Domain::Int => Ok(Some(int_key(v))),
            Domain::Float => {
                let f = v as f64;
                if f as i128 == v as i128 {
                    Ok(Some(float_key(norm_zero(f))))
                } else {
                    Err(Error::invalid(format!("integer {v} is not exactly representable in a float column")))
                }
            }
        }
    }
}

pub(super) fn float_keys(values: &[f64], domain: Domain) -> impl Fn(usize) -> Result<Option<u64>> + '_ {
    move |i| {
        let v = values[i];
        if v.is_nan() {
            return Ok(None);
        }
        match domain {
            Domain::Float => Ok(Some(float_key(norm_zero(v)))),
            Domain::Int => {
                const TWO63: f64 = 9_223_372_036_854_775_808.0;
                if v.fract() == 0.0 && (-TWO63..TWO63).contains(&v) {
                    Ok(Some(int_key(v as i64)))
                } else {
                    Err(Error::invalid(format!("float {v} is not an integer value for an int column")))
                }
            }
        }
    }
}

/// Value spans up to this use a direct rank table instead of sorting.
pub(super) const RANK_TABLE_MAX: u64 = 1 << 22;

/// Code (rank among the distinct keys) of every key, and the sorted distinct keys.
pub(super) fn rank_codes(pairs: &[(u32, u64)]) -> (Vec<u32>, Vec<u64>) {
    let keys = || pairs.par_iter().map(|p| p.1);
    let Some((mn, mx)) = keys().map(|k| (k, k)).reduce_with(|a, b| (a.0.min(b.0), a.1.max(b.1))) else {
        return (Vec::new(), Vec::new());
    };
    if mx - mn < RANK_TABLE_MAX {
        // Small span (ages, day counts, small counters): presence table -> ranks, O(N + span).
        // Each thread marks the keys of its share of the rows.
        let span = (mx - mn + 1) as usize;
        let share = pairs.len().div_ceil(rayon::current_num_threads().max(1)).max(1);
        let present = pairs
            .par_chunks(share)
            .map(|part| {
                let mut seen = vec![false; span];
                for p in part {
                    seen[(p.1 - mn) as usize] = true;
                }
                seen
            })
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x |= y);
                a
            })
            .unwrap_or_default();
        let mut rank = vec![0u32; span];
        let mut dkeys = Vec::new();
        for (i, (r, seen)) in rank.iter_mut().zip(present).enumerate() {
            if seen {
                *r = dkeys.len() as u32;
                dkeys.push(mn + i as u64);
            }
        }
        let codes = keys().map(|k| rank[(k - mn) as usize]).collect();
        return (codes, dkeys);
    }
    // General case: one (key, position) sort yields the distinct keys and every code.
    let mut order: Vec<(u64, u32)> = keys().enumerate().map(|(i, k)| (k, i as u32)).collect();
    order.par_sort_unstable();
    let mut codes = vec![0u32; pairs.len()];
    let mut dkeys: Vec<u64> = Vec::new();
    for &(k, i) in &order {
        if dkeys.last() != Some(&k) {
            dkeys.push(k);
        }
        codes[i as usize] = (dkeys.len() - 1) as u32;
    }
    (codes, dkeys)
}

/// The `bits` slices of one chunk as word buffers: bit `i` of the code of
/// every user `lows[j]` (ascending) at that user's position in slice `i`.
fn slice_words(lows: &[u16], codes: &[u32], bits: u32) -> Vec<Box<Words>> {
    let mut slices: Vec<Box<Words>> = (0..bits).map(|_| Box::new([0u64; WORDS])).collect();
    if lows.len() == WORDS * 64 {
        // Every user of the chunk has a value (a column of a wide table):
        // word w of slice i gathers bit i of codes 64w..64w+63.
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::avx2() {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { transpose_avx2(codes, &mut slices) };
            return slices;
        }
        transpose(codes, &mut slices);
        return slices;
    }
    // Users with gaps: one pass over the rows sets every slice's bit
    // (branch-free: the bit is a coin flip). Consecutive users share a word,
    // so a pass per slice was a chain of read-modify-writes of that word;
    // the slices' chains are independent and overlap.
    for (&lo, &c) in lows.iter().zip(codes) {
        let (w, at) = (usize::from(lo >> 6), lo & 63);
        for (i, slice) in slices.iter_mut().enumerate() {
            slice[w] |= u64::from((c >> i) & 1) << at;
        }
    }
    slices
}

/// The dense case of [`slice_words`], portably.
fn transpose(codes: &[u32], slices: &mut [Box<Words>]) {
    for (w, codes) in codes.chunks_exact(64).enumerate() {
        for (i, slice) in slices.iter_mut().enumerate() {
            let mut word = 0u64;
            for (j, &c) in codes.iter().enumerate() {
                word |= u64::from((c >> i) & 1) << j;
            }
            slice[w] = word;
        }
    }
}

/// The dense case of [`slice_words`]: eight codes at a time, bit `i` moved
/// to each lane's sign bit and collected by VMOVMSKPS, eight such masks a
/// word (the portable loop spends four scalar steps on every bit).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_avx2(codes: &[u32], slices: &mut [Box<Words>]) {
    use std::arch::x86_64::*;
    for (w, codes) in codes.chunks_exact(64).enumerate() {
        // SAFETY: eight loads of eight u32 cover the 64 codes of the chunk.
        let lanes: [__m256i; 8] =
            std::array::from_fn(|k| unsafe { _mm256_loadu_si256(codes[8 * k..].as_ptr().cast()) });
        for (i, slice) in slices.iter_mut().enumerate() {
            // Codes have at most 32 bits, so i < 32.
            let to_sign = _mm_cvtsi32_si128(31 - i as i32);
            let mut word = 0u64;
            for (k, &lane) in lanes.iter().enumerate() {
                let signs = _mm256_castsi256_ps(_mm256_sll_epi32(lane, to_sign));
                word |= u64::from(_mm256_movemask_ps(signs) as u8) << (8 * k);
            }
            slice[w] = word;
        }
    }
}

impl Inner {
    /// Builds the index from (user, order-preserving key) pairs sorted strictly by user.
    pub(super) fn build(domain: Domain, pairs: &[(u32, u64)]) -> Inner {
        let (codes, dkeys) = rank_codes(pairs);
        let bits = bits_for(dkeys.len());
        let values = Distinct::from_keys(domain, &dkeys);

        // Per 2^16-id chunk (independent, so in parallel): the EBM container and one
        // container per slice.
        type ChunkParts = (u16, Option<Container>, Vec<Option<Container>>);
        let per_chunk: Vec<ChunkParts> = key_segments(pairs, |p| p.0)
            .into_par_iter()
            .map(|(key, a, b)| {
                let lows: Vec<u16> = pairs[a..b].iter().map(|p| p.0 as u16).collect();
                let words = slice_words(&lows, &codes[a..b], bits);
                let mut scratch = Vec::new();
                let slices = words.iter().map(|w| Container::from_words(w, &mut scratch)).collect();
                (key, Container::from_sorted(&lows), slices)
            })
            .collect();
        let mut ebm_chunks = Chunks::default();
        let mut slices = vec![Chunks::default(); bits as usize];
        for (key, ebm_c, slice_cs) in per_chunk {
            if let Some(c) = ebm_c {
                ebm_chunks.push(key, c);
            }
            for (s, c) in slices.iter_mut().zip(slice_cs) {
                if let Some(c) = c {
                    s.push(key, c);
                }
            }
        }
        let codes = Packed::from_codes(&codes, bits);
        let ebm = ebm_chunks.to_bitmap();
        Inner { values, bits, codes, ebm, ebm_chunks, slices }
    }

    /// (users ascending, keys) of the current non-null values.
    pub(super) fn pairs(&self) -> Vec<(u32, u64)> {
        self.ebm.iter().enumerate().map(|(i, u)| (u, self.values.key_at(self.codes.get(i) as usize))).collect()
    }
}

#[cfg(test)]
mod slice_tests {
    use super::*;

    fn bit(w: &Words, at: usize) -> u32 {
        (w[at / 64] >> (at % 64) & 1) as u32
    }

    #[test]
    fn slices_hold_every_code_bit_with_and_without_gaps() {
        let mut random = crate::test_random::Rng::new(3);
        let mut next = move || random.next_u32();
        for bits in [1u32, 7, 32] {
            let codes: Vec<u32> =
                (0..WORDS * 64).map(|_| if bits == 32 { next() } else { next() % (1 << bits) }).collect();
            let dense: Vec<u16> = (0..=u16::MAX).collect();
            let mut ways = vec![slice_words(&dense, &codes, bits)];
            let mut portable: Vec<Box<Words>> = (0..bits).map(|_| Box::new([0u64; WORDS])).collect();
            transpose(&codes, &mut portable);
            ways.push(portable);
            for slices in &ways {
                for (j, &c) in codes.iter().enumerate() {
                    for (i, slice) in slices.iter().enumerate() {
                        assert_eq!(bit(slice, j), c >> i & 1, "{bits} bits, user {j}, slice {i}");
                    }
                }
            }
            // Every third user: the path with gaps.
            let lows: Vec<u16> = dense.iter().copied().step_by(3).collect();
            let sparse_codes: Vec<u32> = codes.iter().copied().step_by(3).collect();
            let slices = slice_words(&lows, &sparse_codes, bits);
            for (i, slice) in slices.iter().enumerate() {
                for (at, &code) in codes.iter().enumerate() {
                    let expected = if at % 3 == 0 { code >> i & 1 } else { 0 };
                    assert_eq!(bit(slice, at), expected, "{bits} bits, user {at}, slice {i}");
                }
            }
        }
    }
}
