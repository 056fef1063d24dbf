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
use crate::ids::{IdKind, IdMap};

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
    let bounds = bounds(weights)?;
    let salt_hash = fnv1a64(salt.as_bytes());
    let dense = audience.to_vec();
    let keys = keys(&dense, ids);
    let groups: Vec<u8> = keys
        .par_iter()
        .map(|&key| {
            let h = mix64(salt_hash ^ key);
            bounds.iter().position(|b| b.is_none_or(|b| h < b)).unwrap_or(bounds.len() - 1) as u8
        })
        .collect();
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); weights.len()];
    for (&user, &group) in dense.iter().zip(&groups) {
        members[group as usize].push(user);
    }
    Ok(members.iter().map(|m| Bitmap::of(m)).collect())
}

/// The own-id hash keys of `dense` users (integer ids, or FNV-1a of strings).
fn keys(dense: &[u32], ids: &IdMap) -> Vec<u64> {
    match ids.kind() {
        IdKind::String => ids.external_strings(dense).par_iter().map(|s| fnv1a64(s.as_bytes())).collect(),
        _ => ids.external_integers(dense),
    }
}

/// `bucket(id, salt, n)` of the module docs.
pub fn bucket(key: u64, salt_hash: u64, buckets: u64) -> u64 {
    ((u128::from(mix64(salt_hash ^ key)) * u128::from(buckets)) >> 64) as u64
}

/// The users of `audience` whose bucket (of `buckets`, by `salt`) lies in
/// `start..end`.
pub fn in_buckets(audience: &Bitmap, ids: &IdMap, salt: &str, buckets: u64, start: u64, end: u64) -> Result<Bitmap> {
    if buckets == 0 || start > end || end > buckets {
        return Err(Error::invalid(format!(
            "buckets {start}..{end} of {buckets}: a range within 0..{buckets} is needed"
        )));
    }
    let salt_hash = fnv1a64(salt.as_bytes());
    let dense = audience.to_vec();
    let keys = keys(&dense, ids);
    let kept: Vec<u32> = dense
        .par_iter()
        .zip(keys.par_iter())
        .filter(|(_, &key)| (start..end).contains(&bucket(key, salt_hash, buckets)))
        .map(|(&user, _)| user)
        .collect();
    Ok(Bitmap::of(&kept))
}

#[cfg(test)]
mod tests {
    use super::*;

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
