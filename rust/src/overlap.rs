//! Pairwise intersection counts of many audiences, computed in parallel
//! without materialising any intersection.
//!
//! Chunk by chunk (2^16 ids), every bitmap's container is expanded once into
//! a word buffer, and each pair costs one AND-and-popcount pass over 1024
//! words, with the widest popcount the CPU has (detected at run time).
//! Counting pair by pair with CRoaring instead runs every array container
//! against every other bitmap: for W5's 50 tags (15 dense, 35 sparse) at
//! 10 M users it took 129 ms on two cores against ~40 ms this way.

use croaring::Bitmap;
use rayon::prelude::*;

use crate::roaring::words::{self, Words, WORDS};
use crate::roaring::RoaringView;

/// Row-major `n × n` matrix of `|a_i ∩ a_j|`; the diagonal holds the sizes.
pub fn overlap_matrix(bitmaps: &[&Bitmap]) -> Vec<i64> {
    let n = bitmaps.len();
    let upper = match bitmaps.iter().map(|b| RoaringView::new(b)).collect::<Option<Vec<_>>>() {
        Some(views) => chunkwise(&views),
        None => pairwise(bitmaps),
    };
    let mut matrix = vec![0i64; n * n];
    for i in 0..n {
        matrix[i * n + i] = bitmaps[i].cardinality() as i64;
        for j in i + 1..n {
            let count = upper[i * n + j] as i64;
            matrix[i * n + j] = count;
            matrix[j * n + i] = count;
        }
    }
    matrix
}

/// Counts above the diagonal (row-major `n × n`), one pair at a time.
fn pairwise(bitmaps: &[&Bitmap]) -> Vec<u64> {
    let n = bitmaps.len();
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))).collect();
    let counts: Vec<u64> = pairs.par_iter().map(|&(i, j)| bitmaps[i].and_cardinality(bitmaps[j])).collect();
    let mut upper = vec![0u64; n * n];
    for (&(i, j), &count) in pairs.iter().zip(&counts) {
        upper[i * n + j] = count;
    }
    upper
}

/// Counts above the diagonal, chunk by chunk; chunks are split across threads.
fn chunkwise(views: &[RoaringView<'_>]) -> Vec<u64> {
    let n = views.len();
    let mut keys: Vec<u16> = views.iter().flat_map(|v| v.keys().iter().copied()).collect();
    keys.sort_unstable();
    keys.dedup();
    let and_count = and_count_kernel();
    let per_task = keys.len().div_ceil(crate::parallel::num_threads() * 4).max(1);
    keys.par_chunks(per_task)
        .map(|keys| {
            let mut upper = vec![0u64; n * n];
            let mut cursors = vec![0usize; n];
            let mut buffers: Vec<Box<Words>> = (0..n).map(|_| Box::new([0u64; WORDS])).collect();
            let mut present: Vec<usize> = Vec::with_capacity(n);
            for &key in keys {
                present.clear();
                for (i, (view, cursor)) in views.iter().zip(&mut cursors).enumerate() {
                    if let Some(c) = view.seek(key, cursor).and_then(|p| view.container(p)) {
                        words::load(&mut buffers[i], Some(c));
                        present.push(i);
                    }
                }
                for (a, &i) in present.iter().enumerate() {
                    for &j in &present[a + 1..] {
                        upper[i * n + j] += and_count(&buffers[i], &buffers[j]);
                    }
                }
            }
            upper
        })
        .reduce(
            || vec![0u64; n * n],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

/// `|a ∩ b|` of two chunk buffers, with the best popcount of this CPU.
fn and_count_kernel() -> fn(&Words, &Words) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::avx512_popcnt() {
            return |a, b| {
                // SAFETY: the CPU has the features (checked above).
                unsafe { and_count_avx512(a, b) }
            };
        }
        if crate::cpu::popcnt() {
            return |a, b| {
                // SAFETY: the CPU has the feature (checked above).
                unsafe { and_count_popcnt(a, b) }
            };
        }
    }
    and_count_portable
}

fn and_count_portable(a: &Words, b: &Words) -> u64 {
    a.iter().zip(b.iter()).map(|(x, y)| u64::from((x & y).count_ones())).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
unsafe fn and_count_avx512(a: &Words, b: &Words) -> u64 {
    // The same loop: with these features LLVM vectorises it with VPOPCNTQ.
    and_count_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn and_count_popcnt(a: &Words, b: &Words) -> u64 {
    and_count_portable(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_with_sizes_on_the_diagonal() {
        let a = Bitmap::of(&[1, 2, 3]);
        let b = Bitmap::of(&[2, 3, 4, 5]);
        assert_eq!(overlap_matrix(&[&a, &b]), vec![3, 2, 2, 4]);
    }

    #[test]
    fn every_container_kind_and_both_paths_agree() {
        let mut dense = Bitmap::new();
        dense.add_range(0..200_000);
        dense.remove_range(70_000..70_500);
        let sparse = Bitmap::of(&(0..300_000).step_by(37).collect::<Vec<_>>());
        let mut striped = Bitmap::of(&(0..300_000).filter(|x| x % 7 < 3).collect::<Vec<_>>());
        striped.run_optimize();
        let empty = Bitmap::new();
        let maps = [&dense, &sparse, &striped, &empty];
        let n = maps.len();
        let fast = overlap_matrix(&maps);
        let slow = pairwise(&maps);
        for i in 0..n {
            assert_eq!(fast[i * n + i], maps[i].cardinality() as i64);
            for j in i + 1..n {
                let want = maps[i].and_cardinality(maps[j]) as i64;
                assert_eq!((fast[i * n + j], fast[j * n + i], slow[i * n + j] as i64), (want, want, want));
            }
        }
    }
}
