//! Deterministic A/B/n splits by a salted hash of the user's own id.
//!
//! The hash is specified so any language can reproduce a user's group:
//!
//! ```text
//! fnv1a64(bytes)  = FNV-1a, 64-bit (offset 0xcbf29ce484222325, prime 0x100000001b3)
//! mix64(z)        = SplitMix64 finaliser:
//!                   z ^= z >> 30; z *= 0xbf58476d1ce4e5b9;
//!                   z ^= z >> 27; z *= 0x94d049bb133111eb; z ^= z >> 31   (wrapping u64)
//! key(id)         = id as u64 for integer ids; fnv1a64(UTF-8 bytes) for string ids
//! h(id)           = mix64(fnv1a64(UTF-8 salt) ^ key(id))
//! group(id)       = the first k with h(id) < bound_k, where
//!                   bound_k = floor(2^64 * (w_0 + ... + w_k) / (w_0 + ... + w_last)),
//!                   and the last bound is 2^64
//! ```
//!
//! Hashing the user's own id (not the dense id) keeps a user's group stable
//! across stores, rebuilds and services.
//!
//! Layers of experiments use the same hash in integer buckets:
//!
//! ```text
//! bucket(id, salt, n) = floor(h(id) * n / 2^64)        (in 0 .. n, exact integer arithmetic)
//! ```

use croaring::Bitmap;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::ids::{Externals, IdMap};
use crate::roaring::words::push_lows;
use crate::roaring::{key_segments, Container, ContainerRef, RoaringView, Writer};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

pub fn mix64(mut z: u64) -> u64 {
    z ^= z >> 30;
    z = z.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z ^= z >> 27;
    z = z.wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Upper bounds of each group in hash space (the last is `None`: up to 2^64).
fn bounds(weights: &[f64]) -> Result<Vec<Option<u64>>> {
    if weights.is_empty() {
        return Err(Error::invalid("split needs at least one weight"));
    }
    if let Some((i, w)) = weights.iter().enumerate().find(|(_, w)| !w.is_finite() || **w < 0.0) {
        return Err(Error::invalid(format!("weight {i} is {w}; weights must be finite and non-negative")));
    }
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return Err(Error::invalid("the weights sum to zero"));
    }
    let mut cumulative = 0.0;
    let last = weights.len() - 1;
    Ok(weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            cumulative += w;
            // 2^64 * fraction, saturating: a fraction of 1.0 means "everything".
            (i < last).then(|| (cumulative / total * 18_446_744_073_709_551_616.0).min(u64::MAX as f64) as u64)
        })
        .collect())
}

/// The group of each user of `audience`, then one bitmap per group.
pub fn split(audience: &Bitmap, ids: &IdMap, weights: &[f64], salt: &str) -> Result<Vec<Bitmap>> {
    if weights.len() > usize::from(u16::MAX) {
        return Err(Error::invalid(format!("{} groups: a split makes at most {}", weights.len(), u16::MAX)));
    }
    let bounds: Vec<u64> = bounds(weights)?.into_iter().flatten().collect();
    let groups = (0..weights.len() as u16).map(Some).collect();
    Ok(partition(audience, ids, salt, &Intervals { bounds, groups }))
}

/// The users of `audience` whose bucket (of `buckets`, by `salt`) lies in
/// `start..end`.
pub fn in_buckets(audience: &Bitmap, ids: &IdMap, salt: &str, buckets: u64, start: u64, end: u64) -> Result<Bitmap> {
    if buckets == 0 || start > end || end > buckets {
        return Err(Error::invalid(format!(
            "buckets {start}..{end} of {buckets}: a range within 0..{buckets} is needed"
        )));
    }
    if start == end {
        return Ok(Bitmap::new());
    }
    // bucket(h) >= b exactly when h >= ceil(b * 2^64 / buckets): the buckets
    // start..end are the hashes lowest(start)..lowest(end).
    let lowest = |b: u64| ((u128::from(b) << 64).div_ceil(u128::from(buckets))) as u64;
    let mut intervals = Intervals { bounds: Vec::new(), groups: vec![None] };
    if start > 0 {
        intervals.bounds.push(lowest(start));
        intervals.groups.push(None);
    }
    *intervals.groups.last_mut().expect("one interval at least") = Some(0);
    if end < buckets {
        intervals.bounds.push(lowest(end));
        intervals.groups.push(None);
    }
    Ok(partition(audience, ids, salt, &intervals).swap_remove(0))
}

/// `bucket(id, salt, n)` of the module docs.
pub fn bucket(key: u64, salt_hash: u64, buckets: u64) -> u64 {
    ((u128::from(mix64(salt_hash ^ key)) * u128::from(buckets)) >> 64) as u64
}

/// Hash space cut at ascending `bounds` into `bounds.len() + 1` intervals
/// (interval i holds the hashes h with exactly i bounds <= h), and the group
/// each interval's users go to (`None`: left out). A group takes one
/// interval at most, so each group's lows come out in order.
struct Intervals {
    bounds: Vec<u64>,
    groups: Vec<Option<u16>>,
}

impl Intervals {
    /// How many groups users go to (one bitmap each).
    fn group_count(&self) -> usize {
        self.groups.iter().flatten().map(|&g| usize::from(g) + 1).max().unwrap_or(0)
    }

    /// Append each of `lows` to `out[g]`, g the group of its interval by its
    /// hash (in `hashes`, one per low).
    fn select(&self, lows: &[u16], hashes: &[u64], out: &mut [Vec<u16>]) {
        assert_eq!(lows.len(), hashes.len());
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::avx2() {
            // SAFETY (each arm): the CPU has AVX2 (checked just above), which
            // implies SSSE3 and POPCNT; N is the number of intervals.
            unsafe {
                match self.groups.len() {
                    1 => return self.select_avx2::<1>(lows, hashes, out),
                    2 => return self.select_avx2::<2>(lows, hashes, out),
                    3 => return self.select_avx2::<3>(lows, hashes, out),
                    4 => return self.select_avx2::<4>(lows, hashes, out),
                    5 => return self.select_avx2::<5>(lows, hashes, out),
                    6 => return self.select_avx2::<6>(lows, hashes, out),
                    7 => return self.select_avx2::<7>(lows, hashes, out),
                    8 => return self.select_avx2::<8>(lows, hashes, out),
                    _ => {}
                }
            }
        }
        self.select_scalar(lows, hashes, out);
    }

    fn select_scalar(&self, lows: &[u16], hashes: &[u64], out: &mut [Vec<u16>]) {
        for (&low, &h) in lows.iter().zip(hashes) {
            if let Some(g) = self.groups[self.bounds.partition_point(|&b| b <= h)] {
                out[usize::from(g)].push(low);
            }
        }
    }

    /// [`Intervals::select`] for `N` intervals, eight users at a time. Each
    /// bound gives an 8-bit mask of the users below it (a 64-bit compare); an
    /// interval's users are those below its upper bound and not below its
    /// lower one. The mask picks a byte shuffle that packs those users' lows
    /// to the front of a 16-byte store, and the group's length advances by the
    /// mask's popcount: no branch on any user's group, no per-user group to
    /// store and reload, and (N known) every group's write position in a
    /// register. (W6, three groups: classifying and sorting users by group took
    /// about 40 % of the split's time on AVX2; this takes about 15 %.)
    ///
    /// # Safety
    /// The CPU has AVX2; `N == self.groups.len()`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    unsafe fn select_avx2<const N: usize>(&self, lows: &[u16], hashes: &[u64], out: &mut [Vec<u16>]) {
        use std::arch::x86_64::*;
        assert_eq!(self.groups.len(), N);
        // AVX2 compares signed: flipping the top bit of both sides orders
        // them as unsigned.
        let flip = _mm256_set1_epi64x(i64::MIN);
        let mut bounds = [flip; N];
        for (v, &b) in bounds.iter_mut().zip(&self.bounds) {
            *v = _mm256_xor_si256(_mm256_set1_epi64x(b as i64), flip);
        }
        let blocks = lows.len() / 8;
        // Each interval's output and length so far (groups name one interval
        // each, so these never alias).
        let mut dst = [std::ptr::null_mut::<u16>(); N];
        let mut len = [0usize; N];
        for (i, group) in self.groups.iter().enumerate() {
            if let &Some(g) = group {
                let v = &mut out[usize::from(g)];
                v.reserve(8 * blocks + 8);
                (dst[i], len[i]) = (v.as_mut_ptr(), v.len());
            }
        }
        for block in 0..blocks {
            // SAFETY: 8 * block + 8 <= lows.len() == hashes.len(); a group
            // takes at most eight lows a block, so the 16-byte store at its
            // length stays within the room reserved above.
            unsafe {
                let at = 8 * block;
                let h0 = _mm256_xor_si256(_mm256_loadu_si256(hashes.as_ptr().add(at).cast()), flip);
                let h1 = _mm256_xor_si256(_mm256_loadu_si256(hashes.as_ptr().add(at + 4).cast()), flip);
                let v = _mm_loadu_si128(lows.as_ptr().add(at).cast());
                let mut below_lower = 0u32;
                for i in 0..N {
                    let below_upper = if i + 1 < N {
                        let lo = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(bounds[i], h0))) as u32;
                        let hi = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(bounds[i], h1))) as u32;
                        lo | hi << 4
                    } else {
                        0xff
                    };
                    let mask = below_upper & !below_lower;
                    below_lower = below_upper;
                    if !dst[i].is_null() {
                        let shuffle = _mm_loadu_si128(SELECT_SHUFFLES[mask as usize].as_ptr().cast());
                        _mm_storeu_si128(dst[i].add(len[i]).cast(), _mm_shuffle_epi8(v, shuffle));
                        len[i] += mask.count_ones() as usize;
                    }
                }
            }
        }
        for (i, group) in self.groups.iter().enumerate() {
            if let &Some(g) = group {
                // SAFETY: the first len[i] values are initialised (stored above).
                unsafe { out[usize::from(g)].set_len(len[i]) };
            }
        }
        self.select_scalar(&lows[8 * blocks..], &hashes[8 * blocks..], out);
    }
}

/// For each 8-bit lane mask, the byte shuffle that moves the masked 16-bit
/// lanes to the front, in order (0x80 zeroes the rest).
#[cfg(target_arch = "x86_64")]
static SELECT_SHUFFLES: [[u8; 16]; 256] = {
    let mut table = [[0x80u8; 16]; 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut taken, mut lane) = (0, 0);
        while lane < 8 {
            if (mask >> lane) & 1 == 1 {
                table[mask][2 * taken] = 2 * lane as u8;
                table[mask][2 * taken + 1] = 2 * lane as u8 + 1;
                taken += 1;
            }
            lane += 1;
        }
        mask += 1;
    }
    table
};

/// How many users a worker hashes and selects at a time: their hashes
/// (8 bytes each) stay in the L1 cache between the two steps.
const PIECE: usize = 2048;

/// The users of `audience` by group, as `intervals` picks them by `h(id)`:
/// one bitmap per group.
///
/// One chunk of 2^16 dense ids at a time, in parallel: hash the chunk's
/// members and append each one's low bits to its group, which keeps each
/// group's lows in order, ready to become its container. No id list of the
/// whole audience is made (W6 at 10 M users: 17 ms through one; about 3 ms
/// without).
fn partition(audience: &Bitmap, ids: &IdMap, salt: &str, intervals: &Intervals) -> Vec<Bitmap> {
    let salt_hash = fnv1a64(salt.as_bytes());
    let externals = ids.externals();
    let groups = intervals.group_count();
    let chunk = |key: u16, lows: &[u16], s: &mut Scratch| -> (u16, Vec<Option<Container>>) {
        let base = u32::from(key) << 16;
        s.selected.resize_with(groups, Vec::new);
        for piece in lows.chunks(PIECE) {
            s.hashes.clear();
            match externals {
                Externals::Dense => hash_dense(salt_hash, base, piece, &mut s.hashes),
                Externals::Integers(own) => s.hashes.extend(piece.iter().map(|&l| {
                    let own = own.get((base | u32::from(l)) as usize).copied().unwrap_or(u64::MAX);
                    mix64(salt_hash ^ own)
                })),
                Externals::Strings(own) => s.hashes.extend(piece.iter().map(|&l| {
                    let own = own.get((base | u32::from(l)) as usize).map_or(&b""[..], |s| s.as_bytes());
                    mix64(salt_hash ^ fnv1a64(own))
                })),
            }
            intervals.select(piece, &s.hashes, &mut s.selected);
        }
        let containers = s
            .selected
            .iter_mut()
            .map(|lows| {
                let c = Container::from_sorted(lows);
                lows.clear();
                c
            })
            .collect();
        (key, containers)
    };
    let chunks: Vec<(u16, Vec<Option<Container>>)> = match RoaringView::new(audience) {
        Some(view) => (0..view.len())
            .into_par_iter()
            .with_min_len(4)
            .map_init(Scratch::default, |s, i| {
                let mut lows = std::mem::take(&mut s.lows);
                lows.clear();
                let members: &[u16] = match view.container(i) {
                    Some(ContainerRef::Array(values)) => values,
                    Some(ContainerRef::Bitset(words)) => {
                        push_lows(words, &mut lows);
                        &lows
                    }
                    Some(runs) => {
                        runs.for_each_run(|a, b| lows.extend(a..=b));
                        &lows
                    }
                    None => &[],
                };
                let out = chunk(view.keys()[i], members, s);
                s.lows = lows;
                out
            })
            .collect(),
        // A build whose CRoaring layout cannot be read: the same, from the id list.
        None => {
            let dense = audience.to_vec();
            key_segments(&dense, |&d| d)
                .into_par_iter()
                .map_init(Scratch::default, |s, (key, a, b)| {
                    let lows: Vec<u16> = dense[a..b].iter().map(|&d| d as u16).collect();
                    chunk(key, &lows, s)
                })
                .collect()
        }
    };
    // One writer a group, in parallel: each copies its containers twice
    // (into the portable bytes, then into CRoaring's).
    (0..groups)
        .into_par_iter()
        .map(|g| {
            let mut writer = Writer::new();
            writer.begin(chunks.len(), 0);
            for (key, containers) in &chunks {
                if let Some(c) = &containers[g] {
                    writer.container(*key, c);
                }
            }
            writer.bitmap()
        })
        .collect()
}

/// `h(id)` of the dense ids `base | low` of a uint32 store.
fn hash_dense(salt_hash: u64, base: u32, lows: &[u16], out: &mut Vec<u64>) {
    #[inline(always)]
    fn hash_all(salt_hash: u64, base: u32, lows: &[u16], out: &mut Vec<u64>) {
        out.extend(lows.iter().map(|&l| mix64(salt_hash ^ u64::from(base | u32::from(l)))));
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx512dq")]
        unsafe fn hash_all_avx512(salt_hash: u64, base: u32, lows: &[u16], out: &mut Vec<u64>) {
            hash_all(salt_hash, base, lows, out)
        }
        // VPMULLQ multiplies 64-bit lanes in one instruction (AVX2 emulates
        // each multiply with three 32-bit ones).
        if crate::cpu::avx512_dq() {
            // SAFETY: the CPU has AVX-512 F, VL and DQ (checked just above).
            return unsafe { hash_all_avx512(salt_hash, base, lows, out) };
        }
        #[target_feature(enable = "avx2")]
        unsafe fn hash_all_avx2(salt_hash: u64, base: u32, lows: &[u16], out: &mut Vec<u64>) {
            hash_all(salt_hash, base, lows, out)
        }
        // Four hashes per instruction instead of two (the multiplies are
        // emulated with 32-bit ones either way: W6 hashing 1.9 → 1.1 ns a user).
        if crate::cpu::avx2() {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { hash_all_avx2(salt_hash, base, lows, out) };
        }
    }
    hash_all(salt_hash, base, lows, out)
}

/// One worker's buffers for [`partition`], reused chunk after chunk.
#[derive(Default)]
struct Scratch {
    lows: Vec<u16>,
    hashes: Vec<u64>,
    /// Each group's lows of the chunk at hand.
    selected: Vec<Vec<u16>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IdKind;

    /// The module docs' definition, one user at a time.
    fn reference(audience: &Bitmap, keys: impl Fn(u32) -> u64, weights: &[f64], salt: &str) -> Vec<Vec<u32>> {
        let total: f64 = weights.iter().sum();
        let mut cumulative = 0.0;
        let bounds: Vec<f64> = weights
            .iter()
            .map(|w| {
                cumulative += w;
                cumulative / total * 2f64.powi(64)
            })
            .collect();
        let mut out = vec![Vec::new(); weights.len()];
        for user in audience.iter() {
            let h = mix64(fnv1a64(salt.as_bytes()) ^ keys(user));
            let group = bounds[..bounds.len() - 1].iter().take_while(|&&b| h as f64 >= b.min(u64::MAX as f64)).count();
            out[group].push(user);
        }
        out
    }

    #[test]
    fn every_chunk_kind_and_id_kind_splits_as_the_definition() {
        // Arrays, a bitset, runs, and a lone user far out.
        let mut audience = Bitmap::from_range(70_000..140_000);
        audience.add_many(&(0..60_000).step_by(7).collect::<Vec<u32>>());
        audience.add_many(&(200_000..400_000).step_by(3).collect::<Vec<u32>>());
        audience.add(9_999_999);
        audience.run_optimize();
        let ids = IdMap::new(IdKind::UInt32);
        for weights in [&[0.33, 0.33, 0.34][..], &[1.0][..], &[0.0, 1.0, 0.0], &[1.0; 12]] {
            let got: Vec<Vec<u32>> =
                split(&audience, &ids, weights, "exp1").unwrap().iter().map(|b| b.to_vec()).collect();
            assert_eq!(got, reference(&audience, u64::from, weights, "exp1"), "{weights:?}");
        }
        let mut integers = IdMap::new(IdKind::UInt64);
        let mut strings = IdMap::new(IdKind::String);
        for i in 0..2000u64 {
            integers.integer(i * 1_000_003 + 5, true).unwrap();
            strings.string(&format!("u-{i}"), true).unwrap();
        }
        let some = Bitmap::from_range(0..2000);
        let got: Vec<Vec<u32>> =
            split(&some, &integers, &[0.5, 0.5], "s").unwrap().iter().map(|b| b.to_vec()).collect();
        assert_eq!(got, reference(&some, |d| u64::from(d) * 1_000_003 + 5, &[0.5, 0.5], "s"));
        let got: Vec<Vec<u32>> = split(&some, &strings, &[0.5, 0.5], "s").unwrap().iter().map(|b| b.to_vec()).collect();
        assert_eq!(got, reference(&some, |d| fnv1a64(format!("u-{d}").as_bytes()), &[0.5, 0.5], "s"));
        let kept = in_buckets(&audience, &ids, "layer", 1000, 100, 250).unwrap();
        let expected: Vec<u32> =
            audience.iter().filter(|&u| (100..250).contains(&bucket(u64::from(u), fnv1a64(b"layer"), 1000))).collect();
        assert_eq!(kept.to_vec(), expected);
    }

    #[test]
    fn groups_partition_the_audience_in_proportion() {
        let audience = Bitmap::from_range(0..100_000);
        let ids = IdMap::new(IdKind::UInt32);
        let groups = split(&audience, &ids, &[0.2, 0.3, 0.5], "exp").unwrap();
        let sizes: Vec<u64> = groups.iter().map(|g| g.cardinality()).collect();
        assert_eq!(sizes.iter().sum::<u64>(), 100_000);
        for (size, expected) in sizes.iter().zip([20_000.0, 30_000.0, 50_000.0]) {
            assert!((*size as f64 - expected).abs() < 1_000.0, "{sizes:?}");
        }
        assert!(groups[0].and(&groups[1]).is_empty());
        assert_eq!(split(&audience, &ids, &[0.2, 0.3, 0.5], "exp").unwrap(), groups);
        assert_ne!(split(&audience, &ids, &[0.2, 0.3, 0.5], "other").unwrap(), groups);
    }

    #[test]
    fn intervals_select_each_users_group_in_order() {
        let mut state = 7u64;
        let mut next = move || {
            state = mix64(state.wrapping_add(1));
            state
        };
        for len in [0, 1, 7, 8, 9, 63, 64, 1000, 6861] {
            let lows: Vec<u16> = (0..len as u16).map(|l| l.wrapping_mul(3)).collect();
            // Hashes at and around the bounds as well as anywhere.
            let mut bounds = vec![0, 1 << 63, (1 << 63) + 1, u64::MAX, 5 << 60, 5 << 60, next()];
            bounds.sort_unstable();
            let hashes: Vec<u64> =
                (0..len).map(|_| if next() % 3 == 0 { bounds[(next() % 7) as usize] } else { next() }).collect();
            // Every interval count of the vector paths (1 to 8), one beyond.
            let every_count =
                (1..=bounds.len() + 1).map(|k| (bounds[..k - 1].to_vec(), (0..k as u16).map(Some).collect::<Vec<_>>()));
            for (bounds, groups) in every_count.chain([
                (bounds.clone(), (0..8).map(Some).collect::<Vec<_>>()),
                (bounds[1..3].to_vec(), vec![None, Some(0), None]),
                (vec![], vec![Some(0)]),
                (bounds.iter().chain(&bounds).chain(&bounds).copied().collect(), (0..22).map(Some).collect()),
            ]) {
                let mut bounds = bounds;
                bounds.sort_unstable();
                let intervals = Intervals { bounds, groups };
                let n = intervals.group_count();
                let mut expected = vec![Vec::new(); n];
                for (&low, &h) in lows.iter().zip(&hashes) {
                    let interval = intervals.bounds.iter().filter(|&&b| b <= h).count();
                    if let Some(g) = intervals.groups[interval] {
                        expected[usize::from(g)].push(low);
                    }
                }
                let mut got = vec![vec![9u16]; n];
                intervals.select(&lows, &hashes, &mut got);
                let mut scalar = vec![vec![9u16]; n];
                intervals.select_scalar(&lows, &hashes, &mut scalar);
                for g in 0..n {
                    assert_eq!(got[g][1..], expected[g][..], "len {len}, group {g}");
                    assert_eq!(scalar[g][1..], expected[g][..], "scalar: len {len}, group {g}");
                }
            }
        }
    }

    #[test]
    fn in_buckets_keeps_the_users_of_its_buckets() {
        let audience = Bitmap::from_range(0..20_000);
        let ids = IdMap::new(IdKind::UInt32);
        let salt_hash = fnv1a64(b"layer");
        for (buckets, start, end) in [
            (1000, 0, 1000),
            (1000, 0, 1),
            (1000, 999, 1000),
            (1000, 5, 5),
            (1, 0, 1),
            (7, 2, 5),
            (u64::MAX, 1 << 62, 1 << 63),
        ] {
            let kept = in_buckets(&audience, &ids, "layer", buckets, start, end).unwrap();
            let expected: Vec<u32> =
                audience.iter().filter(|&u| (start..end).contains(&bucket(u64::from(u), salt_hash, buckets))).collect();
            assert_eq!(kept.to_vec(), expected, "{buckets} {start}..{end}");
        }
    }

    #[test]
    fn refuses_bad_weights() {
        let ids = IdMap::new(IdKind::UInt32);
        for weights in [&[][..], &[0.0, 0.0], &[-1.0, 2.0], &[f64::NAN]] {
            assert!(split(&Bitmap::new(), &ids, weights, "s").is_err());
        }
    }

    #[test]
    fn hash_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
    }
}
