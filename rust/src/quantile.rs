//! Quantile bucketing that reproduces pandas `Series.quantile`, `qcut` and
//! `cut` bit for bit (matched against pandas 3.1.1 / numpy 2.4.6).
//!
//! The arithmetic replicated, in numpy's order (`numpy/lib/_function_base_impl.py`,
//! method "linear", reached from pandas' `quantile_with_mask` -> `np.quantile`;
//! pandas 3.x no longer goes through `np.percentile(q * 100)`):
//!
//! * `v = (n - 1) as f64 * p` (`get_virtual_index`);
//! * `v >= n - 1` -> both neighbours are the maximum and numpy's "previous
//!   index" is `-1`, so `gamma = v - (-1)`; otherwise `prev = floor(v)`,
//!   `next = prev + 1`, `gamma = v - prev` (`_get_indexes`, `_get_gamma`);
//! * `_lerp`: `d = b - a`; `a + d * gamma`, replaced by `b - d * (1 - gamma)`
//!   when `gamma >= 0.5` (no fused multiply-add; Rust never contracts).
//!
//! Integer `q` becomes `np.linspace(0, 1, q + 1)` (`i * (1.0 / q)`, last = 1)
//! where every `p` with `q * p != i` is nudged up by one ulp (pandas' qcut).
//!
//! Speed (no full sort): the order statistics come from the exact selection
//! kernel in [`crate::selection`], which bins values by the top bits of an
//! order-preserving u64 key of their f64 bits (64 Ki bins over a sampled key
//! range). `quantiles` = histogram pass + gather of the few bins holding the
//! needed order statistics + select inside them. `qcut` writes the codes in
//! the gather pass already: a value outside those "target" bins lies strictly
//! between two consecutive order statistics, hence between the same edges as
//! its whole bin, so a per-bin table gives its code; only target-bin values
//! are coded after the edges are known. `cut` uses the same kind of table
//! with a binary search only in bins that contain an edge.
//!
//! Not replicated: with both -0.0 and +0.0 in the data, which zero numpy's
//! introselect leaves at a tied position is an accident of its partitioning;
//! we order -0.0 first, so a zero edge may differ from pandas in its sign
//! bit (never in value; codes are unaffected). Where pandas returns garbage
//! (NaN edges from inf input or overflow, all-NaN input, decreasing
//! probabilities, empty bins) we return `InvalidInput` instead.

use rayon::prelude::*;

use crate::error::Error;
use crate::selection::{
    blockwise, canon_key, check_valid, chunk_len, from_key, gather, key, key_range, marked_slot, merge_runs, pass1,
    plan, push_run, select_in, select_slots, single_keys, Binner, Runs, BLOCK, MARK, NO_SLOT, SMALL,
};

/// Largest integer `q` accepted (bounds allocations; pandas has no limit).
pub const MAX_Q: usize = 1 << 24;
/// Integers with a larger magnitude are not all exactly representable as f64.
/// Callers converting integer columns must reject (or accept rounding of)
/// values beyond this; see [`check_exact_integers`].
pub const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// The error for quantile edges that repeat with `duplicates="raise"`, worded
/// as pandas 3.1.1 words it ("Bin edges must be unique: Index([...],
/// dtype='float64').\nYou can drop duplicate edges by setting the 'duplicates'
/// kwarg"); pandas additionally wraps long edge lists, which we do not.
pub fn duplicate_edges(edges: &[f64]) -> Error {
    let parts: Vec<String> = edges.iter().map(|&e| py_repr(e)).collect();
    Error::DuplicateEdges {
        edges: edges.to_vec(),
        message: format!(
            "Bin edges must be unique: Index([{}], dtype='float64').\n\
             You can drop duplicate edges by setting the 'duplicates' kwarg",
            parts.join(", ")
        ),
    }
}

/// Python's `repr(float)`: shortest round-trip digits, scientific notation
/// when the decimal exponent is < -4 or >= 16.
fn py_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{x:e}"); // e.g. "-1.25e-7", shortest round-trip digits
    let (mant, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if x != 0.0 && !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let s = format!("{x}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    }
}

/// How to treat repeated bin edges (pandas' `duplicates=` keyword).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicates {
    Raise,
    Drop,
}

/// Result of [`qcut`] / [`cut`].
#[derive(Debug, Clone, PartialEq)]
pub struct Binned {
    /// Bucket per input value; -1 = missing (NaN input) or outside the edges.
    pub codes: Vec<i64>,
    /// The edges after duplicates handling, as pandas' `retbins` returns them.
    pub edges: Vec<f64>,
}

/// True when every integer of magnitude <= `max_abs` converts to f64 exactly
/// (|x| <= 2^53). Integer columns failing this must be rejected by the caller:
/// pandas itself silently rounds them.
pub fn check_exact_integers(max_abs: u64) -> bool {
    max_abs <= MAX_EXACT_INTEGER
}

/// Probabilities for an integer q exactly as pandas builds them
/// (`np.linspace(0, 1, q + 1)`, then pandas' one-ulp nudge upwards of every
/// `p` with `q * p != i`). `q == 0` (pandas: "`q` should be a positive
/// integer") and `q > MAX_Q` give an empty vector, which [`qcut`] rejects
/// with `InvalidInput`.
pub fn linspace_probs(q: usize) -> Vec<f64> {
    if q == 0 || q > MAX_Q {
        return Vec::new();
    }
    let qf = q as f64;
    let step = 1.0 / qf; // linspace: delta / div with delta = 1.0
    let mut out = Vec::with_capacity(q + 1);
    for i in 0..=q {
        // y = arange * step; y += start (0.0); y[-1] = stop
        let mut p = if i == q { 1.0 } else { (i as f64) * step + 0.0 };
        if qf * p != i as f64 {
            p = next_toward_one(p);
        }
        out.push(p);
    }
    out
}

/// `np.nextafter(p, 1)` for p in [0, 1].
fn next_toward_one(p: f64) -> f64 {
    if p.is_nan() || p == 1.0 {
        p
    } else if p == 0.0 {
        f64::from_bits(1)
    } else if p < 1.0 {
        f64::from_bits(p.to_bits() + 1)
    } else {
        f64::from_bits(p.to_bits() - 1)
    }
}

// ---------------------------------------------------------------------------
// The order statistics a quantile needs
// ---------------------------------------------------------------------------

/// Sorted, deduplicated ranks of both neighbours of every probability.
fn needed_ranks(n: usize, probs: &[f64]) -> Vec<usize> {
    let mut r = Vec::with_capacity(2 * probs.len());
    for &p in probs {
        let (i, j, _) = virtual_index(n, p);
        r.push(i);
        r.push(j);
    }
    r.sort_unstable();
    r.dedup();
    r
}

/// Non-NaN count, the sorted ranks and the raw keys at those ranks.
struct Selected {
    n: usize,
    ranks: Vec<usize>,
    keys: Vec<u64>,
}

impl Selected {
    /// Value at a selected rank.
    fn at(&self, i: usize) -> f64 {
        match self.ranks.binary_search(&i) {
            Ok(pos) => from_key(self.keys.get(pos).copied().unwrap_or(0)),
            Err(_) => f64::NAN, // unreachable: every needed rank was selected
        }
    }

    fn quantile(&self, p: f64) -> f64 {
        linear_quantile(self.n, p, |i| self.at(i))
    }
}

/// Small inputs: collect the keys and select in memory.
fn select_small(values: &[f64], probs: &[f64]) -> Result<Selected, Error> {
    let mut keys: Vec<u64> = values.iter().filter(|x| !x.is_nan()).map(|&x| key(x)).collect();
    let inf = values.iter().any(|x| x.is_infinite());
    check_valid(values, keys.len(), inf)?;
    let n = keys.len();
    let ranks = needed_ranks(n, probs);
    let keys = select_in(&mut keys, &ranks);
    Ok(Selected { n, ranks, keys })
}

// ---------------------------------------------------------------------------
// numpy's "linear" quantile
// ---------------------------------------------------------------------------

/// numpy `_lerp` (the formula switches at t >= 0.5 for monotonicity).
#[inline]
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Indexes of the two neighbours and gamma, as numpy computes them for a
/// sample of `n >= 1` values.
#[inline]
fn virtual_index(n: usize, p: f64) -> (usize, usize, f64) {
    let nm1 = (n - 1) as f64;
    let v = nm1 * p;
    if v >= nm1 {
        // numpy sets previous = next = -1 (the max) and gamma = v - (-1)
        (n - 1, n - 1, v + 1.0)
    } else if v < 0.0 {
        (0, 0, v)
    } else {
        let f = v.floor();
        let i = f as usize;
        (i, i + 1, v - f)
    }
}

/// The numpy-linear quantile at `p` of a sorted sample given by `at`.
pub(crate) fn linear_quantile(n: usize, p: f64, at: impl Fn(usize) -> f64) -> f64 {
    let (i, j, t) = virtual_index(n, p);
    lerp(at(i), at(j), t)
}

fn check_probs(probs: &[f64]) -> Result<(), Error> {
    match probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        Some(i) => Err(Error::InvalidInput(format!(
            "probability at position {i} ({}) is not in the interval [0, 1]",
            probs[i]
        ))),
        None => Ok(()),
    }
}

/// pandas.Series(x).quantile(probs) (interpolation="linear") over the non-NaN
/// values, bit-exact. `probs` may be in any order. Errors: a prob outside
/// [0, 1] or NaN, an infinite value (pandas would return NaN), all values NaN.
///
/// Only caveat: when the sample holds both -0.0 and +0.0, numpy's
/// introselect decides which zero sits at a tied position; we order -0.0
/// before +0.0, so a zero result may differ from pandas in its sign bit.
pub fn quantiles(values: &[f64], probs: &[f64]) -> Result<Vec<f64>, Error> {
    check_probs(probs)?;
    let sel = if values.len() <= SMALL {
        select_small(values, probs)?
    } else {
        let p1 = pass1(values, false)?;
        let ranks = needed_ranks(p1.n, probs);
        let p = plan(&p1.counts, &ranks);
        let slots = gather(values, &p1.b, &p.slot_of_bin, p.slot_ranks.len());
        let keys = select_slots(slots, &p);
        Selected { n: p1.n, ranks, keys }
    };
    Ok(probs.iter().map(|&p| sel.quantile(p)).collect())
}

// ---------------------------------------------------------------------------
// cut / qcut
// ---------------------------------------------------------------------------

/// numpy `searchsorted` + pandas' `include_lowest` and NA rules for one value.
#[derive(Clone, Copy)]
struct Searcher<'a> {
    bins: &'a [f64],
    right: bool,
    include_lowest: bool,
}

impl Searcher<'_> {
    /// ids = searchsorted(bins, x, side) -> code (ids - 1, or -1 when NA).
    #[inline]
    fn code(&self, x: f64) -> i64 {
        if x.is_nan() {
            return -1;
        }
        let mut ids = if self.right {
            self.bins.partition_point(|&e| e < x) // side="left"
        } else {
            self.bins.partition_point(|&e| e <= x) // side="right"
        };
        if self.include_lowest && self.bins.first() == Some(&x) {
            ids = 1;
        }
        ids_to_code(ids, self.bins.len())
    }
}

/// pandas: ids == 0 or ids == len(bins) is NA, otherwise the code is ids - 1.
#[inline]
fn ids_to_code(ids: usize, len: usize) -> i64 {
    if ids == 0 || ids == len {
        -1
    } else {
        ids as i64 - 1
    }
}

/// Codes of all values for sorted, non-empty `bins`.
fn assign_codes(values: &[f64], bins: &[f64], right: bool, include_lowest: bool) -> Vec<i64> {
    let s = Searcher { bins, right, include_lowest };
    // Advised for huge pages, then faulted in up front: with 4 KiB pages
    // faulting in the 80 MB of codes of 10 M values took 18-32 ms (of W3's
    // 60-70), with 2 MiB pages 9 ms.
    let mut codes = crate::memory::output_column::<i64>(values.len());
    let cl = chunk_len(values.len());
    let b = if values.len() > SMALL { key_range(values) } else { Binner::single() };
    if b.nbins == 1 {
        codes.par_chunks_mut(cl).zip(values.par_chunks(cl)).for_each(|(out, xs)| {
            for (o, &x) in out.iter_mut().zip(xs) {
                *o = s.code(x);
            }
        });
        return codes;
    }

    // Lookup table over key bins: a bin that holds no edge lies entirely on
    // one side of every edge, so its code is fixed (and equal for both
    // searchsorted sides); bins holding an edge fall back to the search.
    const STRADDLE: i32 = i32::MIN;
    let mut table = vec![0i32; b.nbins];
    let edge_bins: Vec<usize> = bins.iter().map(|&e| b.bin(canon_key(e))).collect();
    let mut below = 0usize; // edges in bins < current bin
    for (bin, slot) in table.iter_mut().enumerate() {
        while below < edge_bins.len() && edge_bins[below] < bin {
            below += 1;
        }
        let straddle = edge_bins.get(below) == Some(&bin);
        *slot = if straddle { STRADDLE } else { ids_to_code(below, bins.len()) as i32 };
    }
    codes.par_chunks_mut(cl).zip(values.par_chunks(cl)).for_each(|(out, xs)| {
        for (o, &x) in out.iter_mut().zip(xs) {
            let t = table[b.bin(canon_key(x))];
            *o = if t != STRADDLE && !x.is_nan() { i64::from(t) } else { s.code(x) };
        }
    });
    codes
}

/// pandas `algos.unique` on sorted bins: keeps the first of each run of
/// equal edges (-0.0 == 0.0 counts as a duplicate, as in pandas' hashtable).
fn unique_sorted(bins: &[f64]) -> Vec<f64> {
    let mut unique = bins.to_vec();
    unique.dedup_by(|a, b| a == b);
    unique
}

/// pandas' duplicate rule: `Ok(None)` keeps `bins`, `Ok(Some(u))` uses the
/// unique edges. Quirk kept: exactly two equal edges are neither raised nor
/// dropped.
fn handle_duplicates(bins: &[f64], duplicates: Duplicates) -> Result<Option<Vec<f64>>, Error> {
    let unique = unique_sorted(bins);
    if unique.len() < bins.len() && bins.len() != 2 {
        match duplicates {
            Duplicates::Raise => Err(duplicate_edges(bins)),
            Duplicates::Drop => Ok(Some(unique)),
        }
    } else {
        Ok(None)
    }
}

/// pandas `_bins_to_cuts` with labels=False for sorted `bins`.
fn bins_to_cuts(
    values: &[f64],
    bins: Vec<f64>,
    right: bool,
    include_lowest: bool,
    duplicates: Duplicates,
) -> Result<Binned, Error> {
    let bins = handle_duplicates(&bins, duplicates)?.unwrap_or(bins);
    let codes = assign_codes(values, &bins, right, include_lowest);
    Ok(Binned { codes, edges: bins })
}

/// Checks pandas would not do but whose absence yields garbage there.
fn check_edges(edges: &[f64]) -> Result<(), Error> {
    if let Some(i) = edges.iter().position(|e| !e.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "quantile edge {i} overflows to {} (value range too large for f64)",
            edges[i]
        )));
    }
    if edges.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::InvalidInput("quantile edges are not monotonic (floating-point rounding)".into()));
    }
    Ok(())
}

/// pandas.qcut(x, q, labels=False, retbins=True, duplicates=...) bit-exact:
/// same edges and codes. For an integer q pass [`linspace_probs`]`(q)`.
///
/// Beyond pandas' own errors this rejects: infinite values and all-NaN input
/// (pandas returns NaN edges), decreasing probabilities and an empty list
/// (pandas returns meaningless codes or crashes), and edges that overflow to
/// inf/NaN (|values| near f64::MAX with opposite signs; pandas returns NaN
/// edges). Note pandas' collapse rule, kept here: with Drop, if all edges are
/// equal only one edge remains and every code is -1 (q >= 2 on a constant).
pub fn qcut(values: &[f64], probs: &[f64], duplicates: Duplicates) -> Result<Binned, Error> {
    if probs.is_empty() || probs.len() > MAX_Q + 1 {
        return Err(Error::InvalidInput(format!(
            "between 1 and {} quantile probabilities required, got {} (q must be >= 1)",
            MAX_Q + 1,
            probs.len()
        )));
    }
    check_probs(probs)?;
    if let Some(i) = probs.windows(2).position(|w| w[1] < w[0]) {
        return Err(Error::InvalidInput(format!("probabilities must be non-decreasing (position {})", i + 1)));
    }
    if values.len() <= SMALL {
        let edges = quantiles(values, probs)?;
        check_edges(&edges)?;
        return bins_to_cuts(values, edges, true, true, duplicates);
    }
    qcut_large(values, probs, duplicates)
}

/// (offset inside a task's chunk, value) of values coded after the edges.
type Fixups = Vec<(u32, f64)>;

/// qcut in two full passes. Pass 1 histograms; the bins holding the needed
/// order statistics ("target" bins) are then known. A value in any other bin
/// lies strictly between the same two consecutive order statistics as its
/// whole bin, and every edge lies between its own two neighbours, so its
/// code (before duplicate handling) is fixed by the bin: pass 2 writes those
/// codes while gathering the target bins. Target-bin values are coded after
/// the edges are known.
fn qcut_large(values: &[f64], probs: &[f64], duplicates: Duplicates) -> Result<Binned, Error> {
    let p1 = pass1(values, false)?;
    let n = p1.n;
    let ranks = needed_ranks(n, probs);
    let p = plan(&p1.counts, &ranks);
    let nslots = p.slot_ranks.len();
    let bin_of_rank = |r: usize| match ranks.binary_search(&r) {
        Ok(i) => p.rank_bins[i],
        Err(_) => 0,
    };

    // Provisional table: -2 - slot for target bins, else the code for the
    // full (not yet deduplicated) edge list: #edges below = #edges whose
    // upper neighbour lies in a lower bin.
    let nedges = probs.len();
    let upper_bins: Vec<usize> = probs.iter().map(|&q| bin_of_rank(virtual_index(n, q).1)).collect();
    let mut table = vec![0i32; p1.b.nbins];
    let mut below = 0usize;
    for (bin, t) in table.iter_mut().enumerate() {
        while below < nedges && upper_bins[below] < bin {
            below += 1;
        }
        let s = p.slot_of_bin[bin];
        // q <= MAX_Q and slots <= 2 * (q + 1), so both fit in i32.
        *t = if s != NO_SLOT { -2 - s as i32 } else { ids_to_code(below, nedges) as i32 };
    }
    let target_total: u64 = p.slot_of_bin.iter().zip(&p1.counts).filter(|(s, _)| **s != NO_SLOT).map(|(_, c)| c).sum();
    // Few target values: remember their positions. Many (heavy ties): mark
    // them and fix them in a final pass instead.
    let want_pos = target_total <= (n as u64) / 16;

    // Advised for huge pages, then faulted in up front: with 4 KiB pages
    // faulting in the 80 MB of codes of 10 M values took 18-32 ms (of W3's
    // 60-70), with 2 MiB pages 9 ms.
    let mut codes = crate::memory::output_column::<i64>(values.len());
    let cl = chunk_len(values.len());
    let b = p1.b;
    let table: &[i32] = &table;
    // Per task: gathered runs, plus (offset in task, value) of target values.
    let parts: Vec<(Vec<Runs>, Fixups)> = codes
        .par_chunks_mut(cl)
        .zip(values.par_chunks(cl))
        .map(|(out, xs)| {
            let mut local: Vec<Runs> = vec![Vec::new(); nslots];
            let mut pos = Vec::new();
            if !blockwise() {
                for (i, (o, &x)) in out.iter_mut().zip(xs).enumerate() {
                    if x.is_nan() {
                        *o = -1;
                        continue;
                    }
                    let t = table[b.bin(canon_key(x))];
                    if t >= -1 {
                        *o = i64::from(t);
                        continue;
                    }
                    let slot = (-2 - t) as usize;
                    *o = MARK + slot as i64;
                    push_run(&mut local[slot], key(x));
                    if want_pos {
                        pos.push((i as u32, x)); // chunks are < 2^32 long
                    }
                }
                return (local, pos);
            }
            let mut bins = [0u32; BLOCK];
            for (k, (out, xs)) in out.chunks_mut(BLOCK).zip(xs.chunks(BLOCK)).enumerate() {
                // pass1 refused infinities: a special value here is a NaN.
                let nans = b.bins_of(xs, &mut bins);
                // Most blocks hold neither a NaN nor a target value: their
                // codes are table lookups, stored in one tight loop.
                let mut coded = !nans;
                for (o, &bin) in out.iter_mut().zip(&bins) {
                    let t = table[bin as usize];
                    *o = i64::from(t);
                    coded &= t >= -1;
                }
                if coded {
                    continue;
                }
                for (j, (o, &x)) in out.iter_mut().zip(xs).enumerate() {
                    if nans && x.is_nan() {
                        *o = -1;
                        continue;
                    }
                    let t = *o; // the table entry
                    if t >= -1 {
                        continue;
                    }
                    let slot = (-2 - t) as usize;
                    *o = MARK + slot as i64;
                    push_run(&mut local[slot], key(x));
                    if want_pos {
                        pos.push(((k * BLOCK + j) as u32, x)); // chunks are < 2^32 long
                    }
                }
            }
            (local, pos)
        })
        .collect();
    let mut fixups = Vec::with_capacity(parts.len());
    let mut slot_parts = Vec::with_capacity(parts.len());
    for (local, pos) in parts {
        slot_parts.push(local);
        fixups.push(pos);
    }
    let merged = merge_runs(slot_parts, nslots);
    let single = single_keys(&merged);
    let keys = select_slots(merged, &p);
    let sel = Selected { n, ranks, keys };

    let edges: Vec<f64> = probs.iter().map(|&q| sel.quantile(q)).collect();
    check_edges(&edges)?;
    let unique = handle_duplicates(&edges, duplicates)?;
    // The fixed-per-bin argument needs each edge inside [lower, upper]
    // neighbour; numpy's lerp guarantees it, but verify rather than trust.
    let bounded = probs.iter().zip(&edges).all(|(&q, &e)| {
        let (i, j, _) = virtual_index(n, q);
        sel.at(i) <= e && e <= sel.at(j)
    });
    let dropped = unique.is_some();
    let bins = unique.unwrap_or_else(|| edges.clone());
    if !bounded {
        let codes = assign_codes(values, &bins, true, true);
        return Ok(Binned { codes, edges: bins });
    }
    // Dropped duplicates: provisional codes (for the full edge list) map to
    // the unique list by the number of distinct values among the first
    // `ids` edges. Identity when nothing was dropped.
    let remap: Vec<i64> = if dropped {
        let mut remap = vec![-1i64; nedges + 1];
        let mut distinct = 0usize;
        for ids in 1..nedges {
            if ids == 1 || edges[ids - 1] != edges[ids - 2] {
                distinct += 1;
            }
            remap[ids] = ids_to_code(distinct, bins.len());
        }
        remap
    } else {
        Vec::new()
    };
    let s = Searcher { bins: &bins, right: true, include_lowest: true };
    // Tie-block slots get one code; other target values are searched.
    let slot_code: Vec<Option<i64>> = single.iter().map(|k| k.map(|k| s.code(from_key(k)))).collect();
    let fix = |slot: usize, x: f64| match slot_code.get(slot) {
        Some(Some(c)) => *c,
        _ => s.code(x),
    };
    if want_pos {
        if dropped {
            codes.par_chunks_mut(cl).for_each(|out| {
                for c in out.iter_mut().filter(|c| **c >= 0) {
                    *c = remap[(*c + 1) as usize];
                }
            });
        }
        codes.par_chunks_mut(cl).zip(fixups.par_iter()).for_each(|(out, list)| {
            for &(i, x) in list {
                if let Some(o) = out.get_mut(i as usize) {
                    if let Some(slot) = marked_slot(*o) {
                        *o = fix(slot, x);
                    }
                }
            }
        });
    } else {
        // One pass does both the remap and the placeholders.
        codes.par_chunks_mut(cl).zip(values.par_chunks(cl)).for_each(|(out, xs)| {
            for (i, o) in out.iter_mut().enumerate() {
                if let Some(slot) = marked_slot(*o) {
                    *o = fix(slot, xs.get(i).copied().unwrap_or(f64::NAN));
                } else if dropped && *o >= 0 {
                    *o = remap[(*o + 1) as usize];
                }
            }
        });
    }
    Ok(Binned { codes, edges: bins })
}

/// pandas.cut(x, bins=edges, right=right, labels=False, include_lowest=...,
/// duplicates=...) with explicit edges. Values outside the edges and NaN get
/// -1. Infinite values and edges are allowed (pandas handles them exactly).
/// Errors: empty edges, a NaN edge or edges not monotonically increasing
/// ("bins must increase monotonically."), repeated edges with Raise (unless
/// there are exactly two edges, a pandas quirk).
pub fn cut(
    values: &[f64],
    edges: &[f64],
    right: bool,
    include_lowest: bool,
    duplicates: Duplicates,
) -> Result<Binned, Error> {
    if edges.is_empty() {
        return Err(Error::InvalidInput("bins must not be empty".into()));
    }
    // `!(a <= b)` also catches NaN, like Index.is_monotonic_increasing.
    if edges.iter().any(|e| e.is_nan()) || edges.windows(2).any(|w| w[0] > w[1]) {
        return Err(Error::InvalidInput("bins must increase monotonically.".into()));
    }
    bins_to_cuts(values, edges.to_vec(), right, include_lowest, duplicates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn py_repr_matches_python() {
        assert_eq!(py_repr(3.0), "3.0");
        assert_eq!(py_repr(-0.0), "-0.0");
        assert_eq!(py_repr(1.4000000000000004), "1.4000000000000004");
        assert_eq!(py_repr(1e308), "1e+308");
        assert_eq!(py_repr(1.5e16), "1.5e+16");
        assert_eq!(py_repr(1e15), "1000000000000000.0");
        assert_eq!(py_repr(1e-5), "1e-05");
        assert_eq!(py_repr(0.0001), "0.0001");
    }

    #[test]
    fn linspace_small() {
        assert_eq!(linspace_probs(1), vec![0.0, 1.0]);
        assert_eq!(linspace_probs(4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert!(linspace_probs(0).is_empty());
        assert!(linspace_probs(MAX_Q + 1).is_empty());
    }
}
