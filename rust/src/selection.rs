//! Exact selection of order statistics from f64 values without a full sort:
//! the kernel under `quantile` (quantiles, qcut, cut) and `rank` (ntile).
//! pandas' semantics (probabilities, interpolation, edges, codes, duplicates)
//! stay in `quantile`; ranks and buckets of ranks in `rank`.
//!
//! What it does (inputs of at most `SMALL` values skip the histograms and are
//! selected in memory by `select_in`):
//!
//! * A *key* is the u64 image of an f64's bits under an order-preserving map
//!   (`key`): integer order of keys is the float total order (-NaN < -inf <
//!   ... < -0.0 < +0.0 < ... < +inf < +NaN), and `from_key` gives the f64
//!   back bit for bit. The *canonical* key (`canon_key`) maps -0.0 and +0.0
//!   to one key, for callers that only compare with `<` and `==`.
//! * A `Binner` maps keys to bins by their top bits over a key range; keys
//!   outside the range clamp to the first or last bin. The first level's
//!   range comes from a strided sample of the values (`sample_range`,
//!   `key_range`).
//! * `pass1` validates the input (no NaN counted, +-inf refused unless
//!   allowed) and histograms the canonical keys; `plan` finds the bin of every
//!   requested rank and gives each such bin a slot (`SelectionPlan`); a second
//!   pass gathers only those bins' keys, as (key, count) runs (`gather`, or a
//!   caller's own pass that also writes codes, with `push_run` and
//!   `merge_runs`); `select_slots` then finds the keys at the requested ranks
//!   inside each slot, by further radix levels over the slot's exact key
//!   range, finishing with `select_nth_unstable`.
//!
//! Invariants:
//!
//! * Selection is exact, never an estimate: the keys returned are those a
//!   full sort of the gathered keys would put at the requested ranks. The
//!   sample only aims the bins; a poor sample costs time, never accuracy.
//! * The bin map is monotone (clamping keeps it so), hence every key of a
//!   lower bin is below every key of a higher one, and a rank's bin and its
//!   offset inside that bin follow from the histogram alone.
//! * Bins are chosen by canonical key; inside a bin the caller decides which
//!   key it gathers: raw keys order -0.0 before +0.0 (`quantile`), canonical
//!   keys make the two zeros one value (`rank`).
//! * Ranks are 0-based among the non-NaN values, sorted, deduplicated and
//!   below their count.
//! * Parallel chunks (`chunk_len`) stay below 2^32 values, so the per-chunk
//!   u32 counters and offsets cannot overflow.
//! * A placeholder code `MARK + slot`, written for a value in a slot's bin
//!   before the selected keys are known, is far below -1 (the missing code),
//!   so it never looks like a code.

use rayon::prelude::*;

use crate::error::Error;

/// Inputs at least this long are split across rayon tasks.
pub(crate) const PAR_MIN: usize = 1 << 16;
/// Below this many values the histogram machinery costs more than it saves.
pub(crate) const SMALL: usize = 1 << 12;
/// Histogram resolution of one radix level (64 Ki bins: 256 KiB of u32
/// counters per task, stays in L2).
const RADIX_BITS: u32 = 16;
/// Values sampled to choose the key range of the first radix level.
const SAMPLE: usize = 4096;

// ---------------------------------------------------------------------------
// Order-preserving keys and binning
// ---------------------------------------------------------------------------

/// Maps f64 bits to u64 so that integer order == float order (total order:
/// -NaN < -inf < ... < -0.0 < +0.0 < ... < +inf < +NaN).
#[inline(always)]
pub(crate) fn key(x: f64) -> u64 {
    // Negative: flip all bits; positive: set the sign bit (branch-free).
    let b = x.to_bits();
    b ^ ((((b as i64) >> 63) as u64) | (1 << 63))
}

#[inline(always)]
pub(crate) fn from_key(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// Key where -0.0 and +0.0 coincide, for code assignment and ranking, which
/// only use `<`/`==` (where the two zeros are equal).
#[inline(always)]
pub(crate) fn canon_key(x: f64) -> u64 {
    key(x + 0.0) // -0.0 + 0.0 == +0.0
}

/// Monotone map from keys to `nbins` bins covering `[lo, hi]`; keys outside
/// clamp to the first/last bin, which keeps the map monotone.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Binner {
    lo: u64,
    shift: u32,
    pub(crate) nbins: usize,
}

impl Binner {
    /// `bits` (>= 1) bounds the bin count to 2^bits; the shift stays < 64.
    pub(crate) fn new(lo: u64, hi: u64, bits: u32) -> Self {
        let span = hi.saturating_sub(lo);
        let used = 64 - span.leading_zeros();
        let shift = used.saturating_sub(bits.max(1));
        Binner { lo, shift, nbins: (span >> shift) as usize + 1 }
    }

    /// Everything in one bin.
    pub(crate) fn single() -> Self {
        Binner { lo: 0, shift: 0, nbins: 1 }
    }

    #[inline(always)]
    pub(crate) fn bin(&self, k: u64) -> usize {
        let d = k.saturating_sub(self.lo) >> self.shift;
        d.min(self.nbins as u64 - 1) as usize
    }

    /// `bin(canon_key(x))` of every `x` in `xs` (at most [`BLOCK`] values),
    /// into `out`; whether any of them is NaN or infinite (a NaN's bin means
    /// nothing: callers skip NaNs, or take such blocks value by value).
    ///
    /// Hot loops bin a block at a time so the key arithmetic runs in vector
    /// lanes (8 values an instruction with AVX-512, 4 with AVX2) instead of
    /// a dozen scalar steps each: W3's two passes are bound by it.
    #[inline]
    pub(crate) fn bins_of(&self, xs: &[f64], out: &mut [u32; BLOCK]) -> bool {
        const EXP: u64 = 0x7FF0_0000_0000_0000;
        #[inline(always)]
        fn bins(b: &Binner, xs: &[f64], out: &mut [u32; BLOCK]) -> bool {
            let mut special = 0u64;
            for (o, &x) in out.iter_mut().zip(xs) {
                special |= u64::from(x.to_bits() & EXP == EXP);
                // nbins <= 2^bits + 1 with bits <= 32 fits u32.
                *o = b.bin(canon_key(x)) as u32;
            }
            special != 0
        }
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx512vl,avx512dq")]
            unsafe fn bins_avx512(b: &Binner, xs: &[f64], out: &mut [u32; BLOCK]) -> bool {
                bins(b, xs, out)
            }
            if crate::cpu::avx512_dq() {
                // SAFETY: the CPU has AVX-512 F, VL and DQ (checked just above).
                return unsafe { bins_avx512(self, xs, out) };
            }
            #[target_feature(enable = "avx2")]
            unsafe fn bins_avx2(b: &Binner, xs: &[f64], out: &mut [u32; BLOCK]) -> bool {
                bins(b, xs, out)
            }
            if crate::cpu::avx2() {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { bins_avx2(self, xs, out) };
            }
            // Baseline x86-64 has no 64-bit vector compares: vectorised with
            // SSE2, the loop emulates each one in six steps (W3 went from 50
            // to 60 ms). black_box keeps it value by value. W3's own passes
            // do not come here without AVX2 (see `blockwise`); ntile and
            // quantiles' gather do.
            let mut special = false;
            for (o, &x) in out.iter_mut().zip(xs) {
                let x = std::hint::black_box(x);
                special |= x.to_bits() & EXP == EXP;
                *o = self.bin(canon_key(x)) as u32;
            }
            special
        }
        #[cfg(not(target_arch = "x86_64"))]
        bins(self, xs, out)
    }
}

/// Values a hot loop bins at once with [`Binner::bins_of`].
pub(crate) const BLOCK: usize = 64;

/// Whether [`Binner::bins_of`] runs in vector lanes here. Without them (baseline
/// x86-64), W3's two passes bin value by value inside their own loops, which
/// measured faster than blocks binned one value at a time.
pub(crate) fn blockwise() -> bool {
    #[cfg(target_arch = "x86_64")]
    return crate::cpu::avx2();
    #[cfg(not(target_arch = "x86_64"))]
    true
}

/// Canonical key range of a strided sample of the finite values (None if
/// fewer than two distinct keys): a cheap way to aim the first radix level at
/// the bulk of the data.
pub(crate) fn sample_range(values: &[f64]) -> Option<(u64, u64)> {
    let step = (values.len() / SAMPLE).max(1);
    let mut lo = u64::MAX;
    let mut hi = 0u64;
    for &x in values.iter().step_by(step) {
        if x.is_finite() {
            let k = canon_key(x);
            lo = lo.min(k);
            hi = hi.max(k);
        }
    }
    (lo < hi).then_some((lo, hi))
}

/// Chunk length giving a few tasks per thread for big inputs, one for small
/// ones (chunks stay below 2^32 so u32 counters cannot overflow).
pub(crate) fn chunk_len(n: usize) -> usize {
    if n < PAR_MIN {
        return n.max(1);
    }
    let threads = rayon::current_num_threads().max(1);
    let chunks = (threads * 4).min(n / (PAR_MIN / 4)).max(n >> 31).max(1);
    n.div_ceil(chunks)
}

// ---------------------------------------------------------------------------
// Radix select
// ---------------------------------------------------------------------------
//
// The big-input path bins values by the top bits of their *canonical* key
// (where -0.0 == +0.0). `gather` collects and orders the raw keys inside a
// bin, so order statistics come out exactly as a sort with -0.0 < +0.0 would
// give; ntile gathers canonical keys instead, as ranks tie the two zeros.

/// Per-bin counts of in-memory keys (one parallel pass).
fn histogram(keys: &[u64], b: &Binner) -> Vec<u64> {
    let parts: Vec<Vec<u32>> = keys
        .par_chunks(chunk_len(keys.len()))
        .map(|chunk| {
            let mut counts = vec![0u32; b.nbins];
            for &k in chunk {
                counts[b.bin(k)] += 1;
            }
            counts
        })
        .collect();
    sum_counts(parts, b.nbins)
}

fn sum_counts(parts: Vec<Vec<u32>>, nbins: usize) -> Vec<u64> {
    let mut total = vec![0u64; nbins];
    for part in parts {
        for (acc, c) in total.iter_mut().zip(part) {
            *acc += u64::from(c);
        }
    }
    total
}

/// Where the requested ranks live: one "slot" per bin holding any of them.
pub(crate) struct SelectionPlan {
    pub(crate) slot_of_bin: Vec<u32>,
    /// Offsets of the requested ranks inside each slot's bin (sorted).
    pub(crate) slot_ranks: Vec<Vec<usize>>,
    /// Bin of each requested rank (same order as the ranks).
    pub(crate) rank_bins: Vec<usize>,
}

pub(crate) const NO_SLOT: u32 = u32::MAX;

/// `ranks` sorted, deduplicated, all < the total count.
pub(crate) fn plan(counts: &[u64], ranks: &[usize]) -> SelectionPlan {
    let mut p = SelectionPlan {
        slot_of_bin: vec![NO_SLOT; counts.len()],
        slot_ranks: Vec::new(),
        rank_bins: Vec::with_capacity(ranks.len()),
    };
    let mut bin = 0usize;
    let mut start = 0u64; // number of keys in bins before `bin`
    for &r in ranks {
        let r = r as u64;
        while bin + 1 < counts.len() && start + counts[bin] <= r {
            start += counts[bin];
            bin += 1;
        }
        if p.slot_of_bin[bin] == NO_SLOT {
            p.slot_of_bin[bin] = p.slot_ranks.len() as u32;
            p.slot_ranks.push(Vec::new());
        }
        if let Some(v) = p.slot_ranks.last_mut() {
            v.push((r - start) as usize);
        }
        p.rank_bins.push(bin);
    }
    p
}

/// Keys gathered for one slot as (raw key, repeat count) runs: heavy ties
/// (a bin that is all zeros, say) then cost one entry per task, not per value.
pub(crate) type Runs = Vec<(u64, u64)>;

#[inline(always)]
pub(crate) fn push_run(runs: &mut Runs, k: u64) {
    match runs.last_mut() {
        Some(last) if last.0 == k => last.1 += 1,
        _ => runs.push((k, 1)),
    }
}

pub(crate) fn merge_runs(parts: Vec<Vec<Runs>>, nslots: usize) -> Vec<Runs> {
    let mut slots: Vec<Runs> = vec![Vec::new(); nslots];
    for part in parts {
        for (dst, src) in slots.iter_mut().zip(part) {
            dst.extend_from_slice(&src);
        }
    }
    slots
}

/// Second pass for `quantile::quantiles`: the raw keys of the target bins.
pub(crate) fn gather(values: &[f64], b: &Binner, slot_of_bin: &[u32], nslots: usize) -> Vec<Runs> {
    let parts: Vec<Vec<Runs>> = values
        .par_chunks(chunk_len(values.len()))
        .map(|chunk| {
            let mut local: Vec<Runs> = vec![Vec::new(); nslots];
            let mut bins = [0u32; BLOCK];
            for xs in chunk.chunks(BLOCK) {
                let special = b.bins_of(xs, &mut bins);
                for (&x, &bin) in xs.iter().zip(&bins) {
                    if !(special && x.is_nan()) {
                        let s = slot_of_bin[bin as usize];
                        if s != NO_SLOT {
                            push_run(&mut local[s as usize], key(x));
                        }
                    }
                }
            }
            local
        })
        .collect();
    merge_runs(parts, nslots)
}

/// Keys at the sorted `ranks` of the values described by `runs`.
fn select_runs(mut runs: Runs, ranks: &[usize]) -> Vec<u64> {
    let total: u64 = runs.iter().map(|r| r.1).sum();
    if runs.len() <= SMALL || (runs.len() as u64) * 4 <= total {
        runs.sort_unstable_by_key(|r| r.0);
        let mut out = Vec::with_capacity(ranks.len());
        let mut cum = 0u64;
        let mut i = 0usize;
        for &r in ranks {
            while i + 1 < runs.len() && cum + runs[i].1 <= r as u64 {
                cum += runs[i].1;
                i += 1;
            }
            out.push(runs.get(i).map_or(0, |x| x.0));
        }
        out
    } else {
        let mut keys: Vec<u64> = Vec::with_capacity(total as usize);
        for &(k, c) in &runs {
            keys.extend(std::iter::repeat_n(k, c as usize));
        }
        select_in(&mut keys, ranks)
    }
}

/// Keys for every requested rank (in rank order), from the gathered slots.
pub(crate) fn select_slots(slots: Vec<Runs>, plan: &SelectionPlan) -> Vec<u64> {
    let per_slot: Vec<Vec<u64>> =
        slots.into_par_iter().zip(plan.slot_ranks.par_iter()).map(|(runs, rs)| select_runs(runs, rs)).collect();
    // Slots are in bin order and ranks inside a slot sorted: rank order.
    per_slot.into_iter().flatten().collect()
}

/// Keys at the sorted, deduplicated 0-based `ranks` of an in-memory key
/// slice, by radix levels over the exact key range (each level strips
/// >= 8 bits of the span), finishing with `select_nth_unstable`.
pub(crate) fn select_in(keys: &mut [u64], ranks: &[usize]) -> Vec<u64> {
    if keys.len() <= SMALL || ranks.is_empty() {
        let mut out = vec![0u64; ranks.len()];
        multi_select(keys, ranks, &mut out);
        return out;
    }
    let (lo, hi) = keys.iter().fold((u64::MAX, 0u64), |(lo, hi), &k| (lo.min(k), hi.max(k)));
    if lo == hi {
        return vec![lo; ranks.len()];
    }
    let bits = (usize::BITS - keys.len().leading_zeros()).clamp(8, RADIX_BITS);
    let b = Binner::new(lo, hi, bits);
    let counts = histogram(keys, &b);
    let p = plan(&counts, ranks);
    let nslots = p.slot_ranks.len();
    let parts: Vec<Vec<Runs>> = keys
        .par_chunks(chunk_len(keys.len()))
        .map(|chunk| {
            let mut local: Vec<Runs> = vec![Vec::new(); nslots];
            for &k in chunk {
                let s = p.slot_of_bin[b.bin(k)];
                if s != NO_SLOT {
                    push_run(&mut local[s as usize], k);
                }
            }
            local
        })
        .collect();
    select_slots(merge_runs(parts, nslots), &p)
}

/// Recursive `select_nth_unstable` for several sorted ranks.
fn multi_select(keys: &mut [u64], ranks: &[usize], out: &mut [u64]) {
    if ranks.is_empty() || keys.is_empty() {
        return;
    }
    let mid = ranks.len() / 2;
    let r = ranks[mid];
    if r >= keys.len() {
        return; // unreachable for valid ranks; never panic
    }
    let (left, nth, right) = keys.select_nth_unstable(r);
    out[mid] = *nth;
    let (out_l, out_r) = out.split_at_mut(mid);
    multi_select(left, &ranks[..mid], out_l);
    let right_ranks: Vec<usize> = ranks[mid + 1..].iter().map(|&x| x - r - 1).collect();
    multi_select(right, &right_ranks, &mut out_r[1..]);
}

/// Canonical key range used to aim the first radix level: a strided sample,
/// or (if the sample is degenerate) the exact range of the finite values.
pub(crate) fn key_range(values: &[f64]) -> Binner {
    let range = sample_range(values).or_else(|| {
        let (lo, hi) = values
            .par_chunks(chunk_len(values.len()))
            .map(|c| {
                c.iter().filter(|x| x.is_finite()).fold((u64::MAX, 0u64), |(lo, hi), &x| {
                    let k = canon_key(x);
                    (lo.min(k), hi.max(k))
                })
            })
            .reduce(|| (u64::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
        (lo < hi).then_some((lo, hi))
    });
    match range {
        Some((lo, hi)) => Binner::new(lo, hi, RADIX_BITS),
        None => Binner::single(),
    }
}

/// First pass over a big input: validates it and histograms canonical keys.
pub(crate) struct Pass1 {
    pub(crate) b: Binner,
    pub(crate) counts: Vec<u64>,
    pub(crate) n: usize,
}

/// `allow_inf`: ranks accept +-inf; quantiles reject it.
pub(crate) fn pass1(values: &[f64], allow_inf: bool) -> Result<Pass1, Error> {
    const EXP: u64 = 0x7FF0_0000_0000_0000;
    let b = key_range(values);
    let parts: Vec<(Vec<u32>, usize, bool)> = values
        .par_chunks(chunk_len(values.len()))
        .map(|chunk| {
            let mut counts = vec![0u32; b.nbins];
            let (mut nans, mut inf) = (0usize, false);
            let mut bins = [0u32; BLOCK];
            let blockwise = blockwise();
            for block in chunk.chunks(BLOCK) {
                if blockwise && !b.bins_of(block, &mut bins) {
                    for &bin in &bins[..block.len()] {
                        counts[bin as usize] += 1;
                    }
                    continue;
                }
                for &x in block {
                    // One test catches NaN and inf (both rare).
                    if x.to_bits() & EXP == EXP {
                        if x.is_nan() {
                            nans += 1;
                            continue;
                        }
                        inf = true;
                    }
                    counts[b.bin(canon_key(x))] += 1;
                }
            }
            (counts, chunk.len() - nans, inf)
        })
        .collect();
    let n = parts.iter().map(|p| p.1).sum();
    let inf = parts.iter().any(|p| p.2);
    let counts = sum_counts(parts.into_iter().map(|p| p.0).collect(), b.nbins);
    check_valid(values, n, inf && !allow_inf)?;
    Ok(Pass1 { b, counts, n })
}

/// All-NaN and +-inf checks given the non-NaN count and whether an inf was seen.
pub(crate) fn check_valid(values: &[f64], n: usize, inf: bool) -> Result<(), Error> {
    if n == 0 {
        return Err(Error::InvalidInput("all values are missing (NaN): nothing to take quantiles of".into()));
    }
    if inf {
        return Err(inf_error(values));
    }
    Ok(())
}

fn inf_error(values: &[f64]) -> Error {
    match values.iter().position(|x| x.is_infinite()) {
        Some(i) => {
            Error::InvalidInput(format!("value at position {i} is {}", if values[i] > 0.0 { "inf" } else { "-inf" }))
        }
        None => Error::InvalidInput("input contains inf".into()),
    }
}

// ---------------------------------------------------------------------------
// Placeholder codes
// ---------------------------------------------------------------------------

/// Placeholder code of a value in target bin `slot`: `MARK + slot` (far
/// below -1, so it never looks like a code).
pub(crate) const MARK: i64 = i64::MIN;

/// The slot a placeholder code stands for, if it is one.
#[inline]
pub(crate) fn marked_slot(code: i64) -> Option<usize> {
    (code < -1).then(|| code.wrapping_sub(MARK) as usize)
}

/// The single raw key of each slot whose runs all hold the same key (a tie
/// block, e.g. a bin of zeros): its values then share one code.
pub(crate) fn single_keys(slots: &[Runs]) -> Vec<Option<u64>> {
    slots
        .iter()
        .map(|runs| {
            let first = runs.first()?.0;
            runs.iter().all(|r| r.0 == first).then_some(first)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_roundtrip_and_order() {
        let xs = [f64::NEG_INFINITY, -1e308, -1.0, -f64::MIN_POSITIVE, -0.0, 0.0, 5e-324, 1.0, f64::MAX, f64::INFINITY];
        for w in xs.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{w:?}");
        }
        for &x in &xs {
            assert_eq!(from_key(key(x)).to_bits(), x.to_bits());
        }
        assert_eq!(canon_key(-0.0), canon_key(0.0));
    }

    #[test]
    fn binner_is_monotone_and_clamped() {
        let b = Binner::new(100, 100 + (1 << 20), 16);
        assert!(b.nbins <= 1 << 16);
        assert_eq!(b.bin(0), 0);
        assert_eq!(b.bin(u64::MAX), b.nbins - 1);
        let mut last = 0;
        for k in (0..(1u64 << 21)).step_by(977) {
            let bin = b.bin(k);
            assert!(bin >= last);
            last = bin;
        }
    }
}
