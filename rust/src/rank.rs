//! Ranks (pandas `Series.rank`, methods "first" and "min") and ntile buckets
//! (qcut of the ranks). `rank` needs a full sort (MSD radix sort); `ntile`
//! on more than 4096 values does not: it selects the values at the bucket
//! thresholds like `qcut` and compares every value with them.

use crate::error::Error;
use crate::quantile::{linear_quantile, linspace_probs, MAX_Q};
use crate::selection::{
    canon_key, chunk_len, marked_slot, merge_runs, pass1, plan, push_run, sample_range, select_slots, single_keys,
    Binner, Runs, BLOCK, MARK, NO_SLOT, PAR_MIN, SMALL,
};
use rayon::prelude::*;

/// How tied values are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ties {
    /// pandas method="first": ties broken by position.
    First,
    /// pandas method="min": every tied value gets the lowest rank of its group.
    Min,
}

/// (canonical key, position) of every non-NaN value, sorted by key then
/// position, i.e. a stable sort by value with -0.0 == +0.0 (as pandas ranks).
///
/// Big inputs use an MSD radix sort: 256 buckets over a sampled key range
/// (each rayon task scans the input and scatters only its own buckets, which
/// keeps the scatter stable and safe), then each bucket is refined on its
/// exact key range in cache.
fn sorted_pairs(values: &[f64]) -> Vec<(u64, usize)> {
    let n = values.len();
    if n < PAR_MIN {
        let mut v: Vec<(u64, usize)> =
            values.iter().enumerate().filter(|(_, x)| !x.is_nan()).map(|(i, &x)| (canon_key(x), i)).collect();
        v.sort_unstable();
        return v;
    }
    let b = match sample_range(values) {
        Some((lo, hi)) => Binner::new(lo, hi, 8),
        None => Binner::single(),
    };
    let counts = values
        .par_chunks(chunk_len(n))
        .map(|chunk| {
            let mut c = vec![0usize; b.nbins];
            for &x in chunk {
                if !x.is_nan() {
                    c[b.bin(canon_key(x))] += 1;
                }
            }
            c
        })
        .reduce(
            || vec![0usize; b.nbins],
            |mut a, c| {
                a.iter_mut().zip(c).for_each(|(x, y)| *x += y);
                a
            },
        );
    let total: usize = counts.iter().sum();
    let mut out = vec![(0u64, 0usize); total];

    // Contiguous bucket ranges of about equal size, one per task.
    let tasks = rayon::current_num_threads().clamp(1, 64);
    let target = total.div_ceil(tasks).max(1);
    let mut ranges = Vec::new();
    let mut rest: &mut [(u64, usize)] = &mut out;
    let mut bin0 = 0usize;
    while bin0 < b.nbins {
        let mut bin1 = bin0;
        let mut size = 0usize;
        while bin1 < b.nbins && (size == 0 || size + counts[bin1] <= target) {
            size += counts[bin1];
            bin1 += 1;
        }
        let (head, tail) = rest.split_at_mut(size);
        ranges.push((bin0, bin1, head));
        rest = tail;
        bin0 = bin1;
    }
    ranges.into_par_iter().for_each(|(bin0, bin1, dst)| {
        let mut fill = Vec::with_capacity(bin1 - bin0);
        let mut acc = 0usize;
        for &c in &counts[bin0..bin1] {
            fill.push(acc);
            acc += c;
        }
        for (i, &x) in values.iter().enumerate() {
            if x.is_nan() {
                continue;
            }
            let k = canon_key(x);
            let bin = b.bin(k);
            if (bin0..bin1).contains(&bin) {
                let f = &mut fill[bin - bin0];
                if let Some(slot) = dst.get_mut(*f) {
                    *slot = (k, i);
                }
                *f += 1;
            }
        }
    });

    let mut buckets = Vec::with_capacity(b.nbins);
    let mut rest: &mut [(u64, usize)] = &mut out;
    for &c in &counts {
        let (head, tail) = rest.split_at_mut(c);
        buckets.push(head);
        rest = tail;
    }
    buckets.into_par_iter().for_each(refine);
    out
}

/// Sorts a bucket whose equal keys are already in position order: a stable
/// counting scatter on the bucket's exact key range, recursing into large
/// sub-buckets (each level strips >= 4 bits of the range), small ones sorted.
fn refine(bucket: &mut [(u64, usize)]) {
    if bucket.len() <= 64 {
        bucket.sort_unstable();
        return;
    }
    let (lo, hi) = bucket.iter().fold((u64::MAX, 0u64), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    if lo == hi {
        return; // all keys equal: already in position order
    }
    let bits = (usize::BITS - bucket.len().leading_zeros()).clamp(4, 16);
    let b = Binner::new(lo, hi, bits);
    let mut starts = vec![0usize; b.nbins + 1];
    for p in bucket.iter() {
        starts[b.bin(p.0) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut fill = starts.clone();
    let mut tmp = vec![(0u64, 0usize); bucket.len()];
    for &p in bucket.iter() {
        let f = &mut fill[b.bin(p.0)];
        if let Some(slot) = tmp.get_mut(*f) {
            *slot = p;
        }
        *f += 1;
    }
    bucket.copy_from_slice(&tmp);
    for w in starts.windows(2) {
        let sub = &mut bucket[w[0]..w[1]];
        if sub.len() > 256 {
            refine(sub);
        } else if sub.len() > 1 {
            sub.sort_unstable();
        }
    }
}

/// Writes `step(sorted position, key)` to `out[position in input]` for every
/// pair. Each rayon task owns a range of `out` and scans all pairs, so the
/// random writes run in parallel without unsafe code; every task's `step`
/// (made by `make`) sees all positions in order and may keep state (tie
/// groups, an edge sweep).
fn scatter_by_position<T, G>(pairs: &[(u64, usize)], out: &mut [T], make: impl Fn() -> G + Sync)
where
    T: Send,
    G: FnMut(usize, u64) -> T,
{
    let tasks = if pairs.len() < PAR_MIN { 1 } else { rayon::current_num_threads().clamp(1, 64) };
    let chunk = out.len().div_ceil(tasks).max(1);
    out.par_chunks_mut(chunk).enumerate().for_each(|(t, dst)| {
        let base = t * chunk;
        let mut step = make();
        for (pos, &(k, i)) in pairs.iter().enumerate() {
            let v = step(pos, k);
            if let Some(o) = i.checked_sub(base).and_then(|j| dst.get_mut(j)) {
                *o = v;
            }
        }
    });
}

/// 1-based ranks like pandas Series.rank(method="first"|"min") with the
/// default na_option="keep": NaN -> NaN. -0.0 and +0.0 tie; inf ranks as
/// the largest value, -inf as the smallest.
pub fn rank(values: &[f64], ties: Ties) -> Vec<f64> {
    let pairs = sorted_pairs(values);
    let mut out = vec![f64::NAN; values.len()];
    scatter_by_position(&pairs, &mut out, || {
        let mut group = (u64::MAX, 0usize); // (key, first position) of the tie group
        move |pos, k| {
            if pos == 0 || group.0 != k {
                group = (k, pos);
            }
            match ties {
                Ties::First => (pos + 1) as f64,
                Ties::Min => (group.1 + 1) as f64,
            }
        }
    });
    out
}

/// Equal-count buckets over ranks. Codes 0..q-1, -1 for NaN.
///
/// * `Ties::First`: exactly `pd.qcut(pd.Series(x).rank(method="first"), q,
///   labels=False)` (duplicates="raise"). The edges are numpy-linear
///   quantiles of the ranks 1..m (m = non-NaN count), computed with the same
///   arithmetic as [`crate::quantile::qcut`]; as in pandas, m == 1 with
///   q >= 2 gives `DuplicateEdges` (all edges are 1.0).
/// * `Ties::Min`: the same edges (those of the "first" ranks), applied to the
///   method="min" ranks: `pd.cut(s.rank(method="min"), bins=<edges of the
///   First case>, labels=False, include_lowest=True)`. So a tie group goes
///   where its first member would go under `First`: equal values always share
///   a bucket, codes stay in 0..q-1, later buckets may be smaller or empty.
///
/// Errors: q == 0 or q > MAX_Q, all values NaN (or empty input).
/// Infinite values are fine (they just rank last/first).
pub fn ntile(values: &[f64], q: usize, ties: Ties) -> Result<Vec<i64>, Error> {
    if q == 0 || q > MAX_Q {
        return Err(Error::InvalidInput(format!("q must be between 1 and {MAX_Q}, got {q}")));
    }
    if values.len() <= SMALL {
        ntile_sorted(values, q, ties)
    } else {
        ntile_select::<i64>(values, q, ties)
    }
}

/// [`ntile`] with codes as bytes, NaN as `u8::MAX`, for at most
/// [`MAX_BYTE_Q`] buckets: RFM scores take a byte each, and an 8-byte code per
/// value would be written, then read again to narrow it.
pub fn ntile_bytes(values: &[f64], q: usize, ties: Ties) -> Result<Vec<u8>, Error> {
    if q == 0 || q > MAX_BYTE_Q {
        return Err(Error::InvalidInput(format!("q must be between 1 and {MAX_BYTE_Q}, got {q}")));
    }
    if values.len() <= SMALL {
        let codes = ntile_sorted(values, q, ties)?;
        return Ok(codes.into_iter().map(|c| u8::try_from(c).unwrap_or(u8::MAX)).collect());
    }
    ntile_select(values, q, ties)
}

/// The most buckets [`ntile_bytes`] codes: codes below 128, placeholders
/// (one per threshold) 128 and up, NaN 255.
pub const MAX_BYTE_Q: usize = 127;

/// A code as the selection path stores it: a bucket, the NaN code, or a
/// placeholder for a value in a bin that holds a threshold (coded once the
/// thresholds are known).
trait Code: crate::memory::Zeroable {
    const MISSING: Self;
    /// Bucket `code` (below the `q` the type was chosen for).
    fn code(code: usize) -> Self;
    /// The placeholder of threshold bin `slot` (below `q`).
    fn mark(slot: usize) -> Self;
    fn marked_slot(self) -> Option<usize>;
}

impl Code for i64 {
    const MISSING: i64 = -1;
    fn code(code: usize) -> i64 {
        code as i64
    }
    fn mark(slot: usize) -> i64 {
        MARK + slot as i64
    }
    fn marked_slot(self) -> Option<usize> {
        marked_slot(self)
    }
}

impl Code for u8 {
    const MISSING: u8 = u8::MAX;
    fn code(code: usize) -> u8 {
        code as u8
    }
    fn mark(slot: usize) -> u8 {
        (BYTE_MARK + slot) as u8
    }
    fn marked_slot(self) -> Option<usize> {
        (self != u8::MAX).then(|| usize::from(self).checked_sub(BYTE_MARK)).flatten()
    }
}

const BYTE_MARK: usize = 128;

fn all_missing() -> Error {
    Error::InvalidInput("all values are missing (NaN): nothing to take quantiles of".into())
}

/// qcut edges over the first-ranks, whose sorted sample is 1, 2, ..., m;
/// duplicate edges (m == 1, q >= 2) raise as in pandas.
fn rank_edges(m: usize, q: usize) -> Result<Vec<f64>, Error> {
    let edges: Vec<f64> = linspace_probs(q).iter().map(|&p| linear_quantile(m, p, |i| (i + 1) as f64)).collect();
    let mut unique = edges.clone();
    unique.dedup();
    if unique.len() < edges.len() && edges.len() != 2 {
        return Err(crate::quantile::duplicate_edges(&edges));
    }
    Ok(edges)
}

/// Reference path: full sort, then the code of each sorted position.
fn ntile_sorted(values: &[f64], q: usize, ties: Ties) -> Result<Vec<i64>, Error> {
    let pairs = sorted_pairs(values);
    let m = pairs.len();
    if m == 0 {
        return Err(all_missing());
    }
    let edges = rank_edges(m, q)?;
    // Code of rank r (searchsorted side="left", lowest edge included); ranks
    // grow with the sorted position, so one sweep over the edges suffices.
    let len = edges.len();
    let mut codes = vec![-1i64; values.len()];
    scatter_by_position(&pairs, &mut codes, || {
        let mut below = 0usize; // edges < r
        let mut group = (u64::MAX, 0i64); // (key, code of the tie group's first)
        let edges = &edges;
        move |pos, k| {
            let r = (pos + 1) as f64;
            while below < len && edges[below] < r {
                below += 1;
            }
            let ids = if edges.first() == Some(&r) { 1 } else { below };
            let c = if ids == 0 || ids == len { -1 } else { ids as i64 - 1 };
            if pos == 0 || group.0 != k {
                group = (k, c);
            }
            match ties {
                Ties::First => c,
                Ties::Min => group.1,
            }
        }
    });
    Ok(codes)
}

/// `ntile` of integers spanning at most this many distinct values takes the
/// counting path (RFM's recency days and purchase counts do).
const COUNTING_SPAN: u64 = 1 << 20;

/// [`ntile`] of integers by counting instead of selecting, with codes as
/// bytes: a histogram gives each value's first sorted position, which fixes
/// the code of every value that is not at a threshold; the rows of a value
/// that holds a threshold take one code more from the threshold's occurrence
/// on (ties are broken by position). `None` when the values span too many
/// distinct integers, or q is above 254 (codes leave 255 free).
pub fn ntile_ints(values: &[i64], q: usize, ties: Ties) -> Option<Result<Vec<u8>, Error>> {
    if values.is_empty() || q >= usize::from(u8::MAX) {
        return None;
    }
    let m = values.len();
    let cl = chunk_len(m);
    let (min, max) = values
        .par_chunks(cl)
        .map(|c| c.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v))))
        .reduce(|| (i64::MAX, i64::MIN), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    let span = max.abs_diff(min).checked_add(1).filter(|&s| s <= COUNTING_SPAN)? as usize;
    if q == 0 {
        return Some(Err(Error::InvalidInput(format!("q must be between 1 and {MAX_Q}, got {q}"))));
    }
    let edges = match rank_edges(m, q) {
        Ok(edges) => edges,
        Err(e) => return Some(Err(e)),
    };
    let slot = |v: i64| v.abs_diff(min) as usize;
    // One histogram per chunk (chunks are below 2^32 long), kept to find
    // which chunk holds a threshold's occurrence.
    let chunk_counts: Vec<Vec<u32>> = values
        .par_chunks(cl)
        .map(|chunk| {
            let mut c = vec![0u32; span];
            chunk.iter().for_each(|&v| c[slot(v)] += 1);
            c
        })
        .collect();
    // First sorted position of each value.
    let mut start = vec![0usize; span];
    let mut acc = 0usize;
    for (v, s) in start.iter_mut().enumerate() {
        *s = acc;
        acc += chunk_counts.iter().map(|c| c[v] as usize).sum::<usize>();
    }
    // Thresholds as positions (see `ntile_select`): code = #{t : pos >= t}.
    let thresholds: Vec<usize> = edges[1..q].iter().map(|&e| e.floor() as usize).filter(|&t| t < m).collect();
    let mut codes: Vec<u8> = crate::memory::output_column(m);
    match ties {
        Ties::Min => {
            let code_of: Vec<u8> =
                start.iter().map(|&p| thresholds.iter().filter(|&&t| p >= t).count() as u8).collect();
            codes.par_chunks_mut(cl).zip(values.par_chunks(cl)).for_each(|(out, xs)| {
                out.iter_mut().zip(xs).for_each(|(o, &v)| *o = code_of[slot(v)]);
            });
        }
        Ties::First => {
            // Each threshold sits in the group of sorted positions of one
            // value v, at the (t - start[v])-th occurrence of v in input
            // order (ties are broken by position): its index there.
            let mut cuts: Vec<(usize, usize)> = thresholds
                .iter()
                .map(|&t| {
                    let v = start.partition_point(|&p| p <= t) - 1;
                    let mut nth = t - start[v];
                    let mut chunk = 0;
                    while chunk_counts[chunk][v] as usize <= nth {
                        nth -= chunk_counts[chunk][v] as usize;
                        chunk += 1;
                    }
                    let offset = values[chunk * cl..].iter().enumerate().filter(|(_, &x)| slot(x) == v).nth(nth);
                    (offset.map_or(m, |(i, _)| chunk * cl + i), v)
                })
                .collect();
            cuts.sort_unstable();
            // An occurrence of v at index i has the code of v's first sorted
            // position plus the number of v's cuts at or before i. So codes
            // change only at the (at most q - 1) cut indices, and between two
            // of them one lookup per value codes every row: a loop without
            // per-row comparisons, which measured 2-3x faster than comparing
            // each row's index with its value's cuts.
            let first_codes: Vec<u8> = start.iter().map(|&p| thresholds.partition_point(|&t| t < p) as u8).collect();
            codes.par_chunks_mut(cl).zip(values.par_chunks(cl)).enumerate().for_each(|(c, (out, xs))| {
                let lo = c * cl;
                let mut table = first_codes.clone();
                let passed = cuts.partition_point(|&(i, _)| i < lo);
                for &(_, v) in &cuts[..passed] {
                    table[v] += 1;
                }
                let mut at = 0;
                let code = |out: &mut [u8], xs: &[i64], table: &[u8]| {
                    out.iter_mut().zip(xs).for_each(|(o, &x)| *o = table[slot(x)]);
                };
                let hi = lo + out.len();
                for &(i, v) in cuts[passed..].iter().take_while(|&&(i, _)| i < hi) {
                    code(&mut out[at..i - lo], &xs[at..i - lo], &table);
                    table[v] += 1;
                    at = i - lo;
                }
                code(&mut out[at..], &xs[at..], &table);
            });
        }
    }
    Some(Ok(codes))
}

/// (offset inside a task's chunk, canonical key) of values coded last.
type KeyFixups = Vec<(u32, u64)>;

/// Selection path, no sort. With E the rank edges, the code of sorted
/// position `pos` is #{c in 1..q : pos >= floor(E_c)} (rank pos + 1 > E_c;
/// E_0 = 1 and E_q = m never count). So only the (key, position) pairs at
/// the thresholds `floor(E_c)` are needed: one radix select as in qcut, then
/// every value is compared with them. A value whose key equals a threshold
/// key also needs its occurrence number among equal keys (ties broken by
/// position), counted per task from the gathered runs.
fn ntile_select<C: Code>(values: &[f64], q: usize, ties: Ties) -> Result<Vec<C>, Error> {
    let p1 = pass1(values, true)?; // fails only when all values are NaN
    let m = p1.n;
    let edges = rank_edges(m, q)?;
    let mut thr: Vec<usize> = edges[1..q].iter().map(|&e| e.floor() as usize).filter(|&t| t < m).collect();
    thr.sort_unstable(); // already sorted (monotone edges); keep it certain
    let mut ranks = thr.clone();
    ranks.dedup();
    let p = plan(&p1.counts, &ranks);
    let nslots = p.slot_ranks.len();
    let rank_index = |r: usize| ranks.binary_search(&r).unwrap_or(0);
    let thr_bins: Vec<usize> = thr.iter().map(|&t| p.rank_bins[rank_index(t)]).collect();

    // Values outside the threshold bins get their code straight from the
    // bin: #thresholds in lower bins. Threshold bins: -2 - slot.
    let b = p1.b;
    let mut table = vec![0i32; b.nbins];
    let mut below = 0usize;
    for (bin, t) in table.iter_mut().enumerate() {
        while below < thr_bins.len() && thr_bins[below] < bin {
            below += 1;
        }
        let s = p.slot_of_bin[bin];
        *t = if s != NO_SLOT { -2 - s as i32 } else { below as i32 };
    }
    let target_total: u64 = p.slot_of_bin.iter().zip(&p1.counts).filter(|(s, _)| **s != NO_SLOT).map(|(_, c)| c).sum();
    let want_pos = target_total <= (m as u64) / 16;

    let mut codes: Vec<C> = crate::memory::output_column(values.len());
    let cl = chunk_len(values.len());
    let table: &[i32] = &table;
    let parts: Vec<(Vec<Runs>, KeyFixups)> = codes
        .par_chunks_mut(cl)
        .zip(values.par_chunks(cl))
        .map(|(out, xs)| {
            let mut local: Vec<Runs> = vec![Vec::new(); nslots];
            let mut pos = Vec::new();
            let (mut bins, mut entries) = ([0u32; BLOCK], [0i32; BLOCK]);
            for (k, (out, xs)) in out.chunks_mut(BLOCK).zip(xs.chunks(BLOCK)).enumerate() {
                let special = b.bins_of(xs, &mut bins);
                // Most blocks hold neither a NaN nor a threshold-bin value:
                // their codes are table lookups, stored in one tight loop.
                let mut coded = !special;
                for (e, &bin) in entries[..xs.len()].iter_mut().zip(&bins) {
                    *e = table[bin as usize];
                    coded &= *e >= 0;
                }
                if coded {
                    for (o, &t) in out.iter_mut().zip(&entries) {
                        *o = C::code(t as usize);
                    }
                    continue;
                }
                for (j, (o, &x)) in out.iter_mut().zip(xs).enumerate() {
                    if special && x.is_nan() {
                        *o = C::MISSING;
                        continue;
                    }
                    let t = entries[j];
                    if t >= 0 {
                        *o = C::code(t as usize);
                        continue;
                    }
                    let slot = (-2 - t) as usize;
                    let key = canon_key(x);
                    *o = C::mark(slot);
                    push_run(&mut local[slot], key);
                    if want_pos {
                        pos.push(((k * BLOCK + j) as u32, key)); // chunks are < 2^32 long
                    }
                }
            }
            (local, pos)
        })
        .collect();
    let (chunk_runs, fixups): (Vec<Vec<Runs>>, Vec<KeyFixups>) = parts.into_iter().unzip();
    let merged = merge_runs(chunk_runs.clone(), nslots);
    let single = single_keys(&merged);
    let keys = select_slots(merged, &p);
    let bkeys: Vec<u64> = thr.iter().map(|&t| keys[rank_index(t)]).collect();

    // Distinct threshold keys, the slot holding each, the number of keys
    // below each (L) and per-task occurrence counts.
    let mut dk: Vec<(u64, usize)> = bkeys.iter().zip(&thr_bins).map(|(&k, &bin)| (k, bin)).collect();
    dk.dedup_by_key(|d| d.0);
    let mut before_bin = Vec::with_capacity(p1.counts.len() + 1);
    let mut acc = 0u64;
    for &c in &p1.counts {
        before_bin.push(acc);
        acc += c;
    }
    let mut below_key: Vec<u64> = dk.iter().map(|&(_, bin)| before_bin[bin]).collect();
    let nchunks = chunk_runs.len();
    let mut occ = vec![vec![0u64; dk.len()]; nchunks];
    let mut i0 = 0usize;
    while i0 < dk.len() {
        // dk[i0..i1] share one bin (= one slot)
        let bin = dk[i0].1;
        let mut i1 = i0;
        while i1 < dk.len() && dk[i1].1 == bin {
            i1 += 1;
        }
        let slot = p.slot_of_bin[bin] as usize;
        let group: Vec<u64> = dk[i0..i1].iter().map(|d| d.0).collect();
        let mut less = vec![0u64; group.len() + 1];
        for (t, runs) in chunk_runs.iter().enumerate() {
            for &(k, c) in runs.get(slot).map_or(&[][..], |r| &r[..]) {
                let at = group.partition_point(|&d| d <= k);
                less[at] += c;
                if at > 0 && group[at - 1] == k {
                    occ[t][i0 + at - 1] += c;
                }
            }
        }
        let mut run = 0u64;
        for (j, l) in less.iter().take(group.len()).enumerate() {
            run += l;
            below_key[i0 + j] += run;
        }
        i0 = i1;
    }
    // j_c: offset of threshold c inside its key's tie group.
    let js: Vec<u64> = thr
        .iter()
        .zip(&bkeys)
        .map(|(&t, k)| {
            let d = dk.partition_point(|x| x.0 < *k);
            (t as u64).saturating_sub(below_key.get(d).copied().unwrap_or(0))
        })
        .collect();
    // Occurrences of each threshold key in the tasks before each task.
    let mut starts = Vec::with_capacity(nchunks);
    let mut run = vec![0u64; dk.len()];
    for o in &occ {
        starts.push(run.clone());
        run.iter_mut().zip(o).for_each(|(r, c)| *r += c);
    }

    // Where key k sits among the threshold keys: (lo, hi, d) with
    // bkeys[lo..hi] == k and d its index among the distinct keys.
    let locate = |k: u64| {
        let lo = bkeys.partition_point(|&b| b < k);
        let hi = lo + bkeys[lo..].partition_point(|&b| b == k);
        (lo, hi, dk.partition_point(|x| x.0 < k))
    };
    let slot_loc: Vec<Option<(usize, usize, usize)>> = single.iter().map(|k| k.map(locate)).collect();
    let code_of = |placeholder: C, k: u64, counters: &mut [u64]| -> C {
        let Some(slot) = placeholder.marked_slot() else {
            return placeholder;
        };
        let (lo, hi, d) = match slot_loc.get(slot) {
            Some(Some(loc)) => *loc, // tie block: located once
            _ => locate(k),
        };
        if lo == hi {
            return C::code(lo);
        }
        let within = &js[lo..hi];
        let passed = match ties {
            Ties::First => {
                let n = counters.get(d).copied().unwrap_or(0);
                if let Some(c) = counters.get_mut(d) {
                    *c += 1;
                }
                within.partition_point(|&j| j <= n)
            }
            Ties::Min => within.partition_point(|&j| j == 0),
        };
        C::code(lo + passed)
    };
    if want_pos {
        codes.par_chunks_mut(cl).zip(fixups.par_iter()).zip(starts.par_iter()).for_each(|((out, fix), start)| {
            let mut counters = start.clone();
            for &(i, k) in fix {
                if let Some(o) = out.get_mut(i as usize) {
                    *o = code_of(*o, k, &mut counters);
                }
            }
        });
    } else {
        codes.par_chunks_mut(cl).zip(values.par_chunks(cl)).zip(starts.par_iter()).for_each(|((out, xs), start)| {
            let mut counters = start.clone();
            for (i, o) in out.iter_mut().enumerate() {
                if o.marked_slot().is_some() {
                    let x = xs.get(i).copied().unwrap_or(0.0);
                    *o = code_of(*o, canon_key(x), &mut counters);
                }
            }
        });
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn unif(&mut self) -> f64 {
            (self.next() >> 11) as f64 * (2.0f64).powi(-53)
        }
    }

    /// A threshold whose occurrence is the first row of a parallel chunk (or
    /// next to it) codes that row as the selection path does.
    #[test]
    fn counting_cuts_at_chunk_starts() {
        let m = 300_000;
        let cl = chunk_len(m);
        assert!(cl < m / 2, "the test needs several chunks");
        let t = rank_edges(m, 2).unwrap()[1].floor() as usize;
        // k ones, zeros up to row b, then m - t ones, then zeros: the
        // threshold (sorted position t) is the k-th one, at row b.
        let k = 10;
        for b in [cl - 1, cl, cl + 1, 2 * cl] {
            let mut values = vec![0i64; m];
            values[..k].fill(1);
            values[b..b + m - t].fill(1);
            let floats: Vec<f64> = values.iter().map(|&v| v as f64).collect();
            let counted: Vec<i64> =
                ntile_ints(&values, 2, Ties::First).unwrap().unwrap().into_iter().map(i64::from).collect();
            let selected = ntile(&floats, 2, Ties::First).unwrap();
            assert_eq!(counted[b - 1..b + 2], selected[b - 1..b + 2], "cut at row {b}, chunks of {cl}");
            assert_eq!(counted, selected, "cut at row {b}");
        }
    }

    /// The selection path equals the full-sort path (both ties modes).
    #[test]
    fn ntile_select_equals_sorted() {
        let mut r = Rng(0xDEAD_BEEF);
        for it in 0..120 {
            let n = 1 + (r.next() % 30_000) as usize;
            let kind = r.next() % 6;
            let distinct = 1.0 + (r.next() % 40) as f64;
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    let u = r.unif();
                    match kind {
                        0 => (u * distinct).floor(),
                        1 => u.powi(4) * 1e3,
                        2 if u < 0.1 => f64::NAN,
                        2 => (u * distinct).floor() - 3.0,
                        3 if u < 0.05 => f64::INFINITY,
                        3 if u < 0.1 => f64::NEG_INFINITY,
                        3 => u,
                        4 => ((u * 3.0).floor() - 1.0) * 0.0, // +-0.0
                        _ if u < 0.9 => 0.0,
                        _ => u,
                    }
                })
                .collect();
            let q = 1 + (r.next() % 120) as usize;
            for ties in [Ties::First, Ties::Min] {
                let a = ntile_sorted(&v, q, ties);
                let b = ntile_select::<i64>(&v, q, ties);
                assert_eq!(a, b, "iter {it} n={n} q={q} kind={kind} {ties:?}");
                if q <= MAX_BYTE_Q {
                    let bytes = ntile_select::<u8>(&v, q, ties).map(|c| c.into_iter().map(i64::from).collect());
                    let narrowed = a.map(|c| c.into_iter().map(|c| if c < 0 { 255 } else { c }).collect::<Vec<_>>());
                    assert_eq!(bytes, narrowed, "bytes: iter {it} n={n} q={q} kind={kind} {ties:?}");
                }
            }
        }
    }
}
