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
    let classes = Classes::Bounds(bounds(weights)?.into_iter().flatten().collect());
    Ok(partition(audience, ids, salt, weights.len(), weights.len(), &classes))
}

/// The users of `audience` whose bucket (of `buckets`, by `salt`) lies in
/// `start..end`.
pub fn in_buckets(audience: &Bitmap, ids: &IdMap, salt: &str, buckets: u64, start: u64, end: u64) -> Result<Bitmap> {
    if buckets == 0 || start > end || end > buckets {
        return Err(Error::invalid(format!(
            "buckets {start}..{end} of {buckets}: a range within 0..{buckets} is needed"
        )));
    }
    let classes = Classes::OutsideBuckets { buckets, start, end };
    Ok(partition(audience, ids, salt, 2, 1, &classes).swap_remove(0))
}

/// `bucket(id, salt, n)` of the module docs.
pub fn bucket(key: u64, salt_hash: u64, buckets: u64) -> u64 {
    bucket_of_hash(mix64(salt_hash ^ key), buckets)
}

fn bucket_of_hash(h: u64, buckets: u64) -> u64 {
    ((u128::from(h) * u128::from(buckets)) >> 64) as u64
}

/// How a user's hash `h(id)` picks its group.
enum Classes {
    /// Group k takes the hashes at or above k of these ascending bounds.
    Bounds(Vec<u64>),
    /// Group 0 takes the buckets `start..end` of `buckets`, group 1 the rest.
    OutsideBuckets { buckets: u64, start: u64, end: u64 },
}

impl Classes {
    /// The group of each of `hashes`, into `groups`.
    fn classify(&self, hashes: &[u64], groups: &mut [u16]) {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            unsafe fn classify_avx2(classes: &Classes, hashes: &[u64], groups: &mut [u16]) {
                classes.classify_any(hashes, groups)
            }
            // Baseline x86-64 has no 64-bit compare (SSE4.2's PCMPGTQ): the
            // bound passes run four times faster with AVX2.
            if crate::cpu::avx2() {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { classify_avx2(self, hashes, groups) };
            }
        }
        self.classify_any(hashes, groups)
    }

    #[inline(always)]
    fn classify_any(&self, hashes: &[u64], groups: &mut [u16]) {
        match self {
            Classes::Bounds(bounds) => {
                // One pass per bound over the chunk, which vectorises.
                groups.fill(0);
                for &bound in bounds {
                    groups.iter_mut().zip(hashes).for_each(|(g, &h)| *g += u16::from(h >= bound));
                }
            }
            &Classes::OutsideBuckets { buckets, start, end } => {
                groups.iter_mut().zip(hashes).for_each(|(g, &h)| {
                    *g = u16::from(!(start..end).contains(&bucket_of_hash(h, buckets)));
                });
            }
        }
    }
}

/// The users of `audience` by group (of `groups`, as `classes` picks them by
/// `h(id)`); bitmaps of the first `kept` groups.
///
/// One chunk of 2^16 dense ids at a time, in parallel: hash the chunk's
/// members, classify the hashes, then counting-sort the low bits by group,
/// which keeps each group's lows in order, ready to become its container. No
/// id list of the whole audience is made (W6 at 10 M users: 17 ms through
/// one; about 3 ms without).
fn partition(audience: &Bitmap, ids: &IdMap, salt: &str, groups: usize, kept: usize, classes: &Classes) -> Vec<Bitmap> {
    let salt_hash = fnv1a64(salt.as_bytes());
    let externals = ids.externals();
    let chunk = |key: u16, lows: &[u16], s: &mut Scratch| -> (u16, Vec<Option<Container>>) {
        let base = u32::from(key) << 16;
        s.hashes.clear();
        match externals {
            Externals::Dense => hash_dense(salt_hash, base, lows, &mut s.hashes),
            Externals::Integers(own) => s.hashes.extend(lows.iter().map(|&l| {
                let own = own.get((base | u32::from(l)) as usize).copied().unwrap_or(u64::MAX);
                mix64(salt_hash ^ own)
            })),
            Externals::Strings(own) => s.hashes.extend(lows.iter().map(|&l| {
                let own = own.get((base | u32::from(l)) as usize).map_or(&b""[..], |s| s.as_bytes());
                mix64(salt_hash ^ fnv1a64(own))
            })),
        }
        s.groups.clear();
        s.groups.resize(lows.len(), 0);
        classes.classify(&s.hashes, &mut s.groups);
        sort_by_group(lows, &s.groups, groups, kept, &mut s.sorted, &mut s.ends);
        let containers = (0..kept).map(|g| Container::from_sorted(&s.sorted[s.ends[g]..s.ends[g + 1]])).collect();
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
    (0..kept)
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

/// Write `lows` to `sorted` ordered by their group (stable, so each group's
/// lows stay increasing); group `g < kept` ends up in `ends[g]..ends[g + 1]`.
fn sort_by_group(
    lows: &[u16],
    group_of: &[u16],
    groups: usize,
    kept: usize,
    sorted: &mut Vec<u16>,
    ends: &mut Vec<usize>,
) {
    sorted.clear();
    sorted.resize(lows.len() + 1, 0);
    ends.clear();
    ends.push(0);
    if groups <= 8 {
        // One branch-free compaction per group: the write position stays in a
        // register, where a histogram's counters would chain through memory.
        let mut n = 0;
        for g in 0..kept as u16 {
            let out = sorted.as_mut_ptr();
            for (&low, &of) in lows.iter().zip(group_of) {
                // SAFETY: n counts lows already taken, so n <= lows.len() <
                // sorted.len(). (Indexing here cost a bounds check and a
                // reload of `sorted` per low: a third of the split.)
                unsafe { out.add(n).write(low) };
                n += usize::from(of == g);
            }
            ends.push(n);
        }
    } else {
        ends.resize(groups + 1, 0);
        group_of.iter().for_each(|&g| ends[usize::from(g) + 1] += 1);
        for g in 1..=groups {
            ends[g] += ends[g - 1];
        }
        let mut next = ends.clone();
        for (&low, &g) in lows.iter().zip(group_of) {
            let slot = &mut next[usize::from(g)];
            sorted[*slot] = low;
            *slot += 1;
        }
    }
}

/// One worker's buffers for [`partition`], reused chunk after chunk.
#[derive(Default)]
struct Scratch {
    lows: Vec<u16>,
    hashes: Vec<u64>,
    groups: Vec<u16>,
    ends: Vec<usize>,
    sorted: Vec<u16>,
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
