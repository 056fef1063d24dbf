//! Uniform samples of an audience: exactly `count` users, the same ones for
//! the same audience and seed on every machine and every uoseg version.
//!
//! The ranks to keep are drawn by Floyd's algorithm (one draw per kept user,
//! no rejection loop) from a SplitMix64 stream seeded with `seed`; a draw in
//! `0..=j` is the high half of `x * (j + 1)`. Written here rather than taken
//! from `rand` because `rand` does not promise the same samples across its
//! versions, and a sample handed to a channel must be reproducible.
//! When more than half is kept, the complement is drawn instead.

use croaring::Bitmap;

use crate::error::{Error, Result};
use crate::split::mix64;

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }

    /// A draw in `0..=bound`.
    fn up_to(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next()) * (u128::from(bound) + 1)) >> 64) as u64
    }
}

/// `count` distinct ranks of `0..n`, as a bitmap (Floyd's algorithm).
fn ranks(n: u64, count: u64, seed: u64) -> Bitmap {
    let mut rng = SplitMix64(seed);
    let mut chosen = Bitmap::new();
    for j in (n - count)..n {
        let t = rng.up_to(j);
        // j and t are below n <= 2^32.
        if !chosen.add_checked(t as u32) {
            chosen.add(j as u32);
        }
    }
    chosen
}

/// Exactly `count` users of `audience`, uniformly (see the module docs).
pub fn sample(audience: &Bitmap, count: u64, seed: u64) -> Result<Bitmap> {
    let n = audience.cardinality();
    if count > n {
        return Err(Error::invalid(format!("a sample of {count} users from an audience of {n}")));
    }
    let complement = count > n / 2;
    let drawn = ranks(n, if complement { n - count } else { count }, seed);
    let mut kept = Vec::with_capacity(count as usize);
    let mut next_drawn = drawn.iter().peekable();
    for (rank, user) in audience.iter().enumerate() {
        let is_drawn = next_drawn.peek() == Some(&(rank as u32));
        if is_drawn {
            next_drawn.next();
        }
        if is_drawn != complement {
            kept.push(user);
        }
    }
    Ok(Bitmap::of(&kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_have_the_exact_size_and_repeat_with_the_seed() {
        let audience = Bitmap::from_range(1000..21_000);
        for count in [0, 1, 10, 9_999, 10_001, 20_000] {
            let a = sample(&audience, count, 7).unwrap();
            assert_eq!(a.cardinality(), count);
            assert!(a.is_subset(&audience));
            assert_eq!(a, sample(&audience, count, 7).unwrap());
        }
        assert_ne!(sample(&audience, 100, 1).unwrap(), sample(&audience, 100, 2).unwrap());
        assert!(sample(&audience, 20_001, 0).is_err());
    }

    #[test]
    fn every_user_is_about_equally_likely() {
        let audience = Bitmap::from_range(0..100);
        let mut hits = [0u32; 100];
        for seed in 0..4_000 {
            for user in sample(&audience, 10, seed).unwrap().iter() {
                hits[user as usize] += 1;
            }
        }
        // 400 expected each; 5 standard deviations is about 95.
        assert!(hits.iter().all(|&h| (300..=500).contains(&h)), "{hits:?}");
    }
}
