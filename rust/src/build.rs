//! Bulk construction of one bitmap per code from (user, code) rows in any order.
//!
//! Rows are first grouped by code with a parallel counting sort. Each code's users
//! (in random order) then become a bitmap: dense groups are marked in a scratch
//! bitset spanning the id range and read back in order, 65,536 ids at a time
//! (one Roaring container), so CRoaring only ever sees sorted appends; sparse
//! groups are sorted instead. This is the point of uoseg's build speed: it avoids
//! both per-row hashing into bitmaps and a global sort.

use croaring::Bitmap;
use rayon::prelude::*;

use crate::ingest::NULL_CODE;
use crate::parallel::{self, SharedMut};

/// One bitmap per code in `0..n_codes`; rows whose code is `NULL_CODE` are skipped.
pub fn bitmaps_by_code(users: &[u32], codes: &[u32], n_codes: usize) -> Vec<Bitmap> {
    debug_assert_eq!(users.len(), codes.len());
    let ranges = parallel::ranges(users.len(), 1 << 16);
    // Pass 1: per range, how many rows of each code.
    let counts: Vec<Vec<usize>> = ranges
        .par_iter()
        .map(|range| {
            let mut count = vec![0usize; n_codes];
            for &code in &codes[range.clone()] {
                if let Some(slot) = count.get_mut(code as usize) {
                    *slot += 1;
                }
            }
            count
        })
        .collect();
    // Offsets: code-major, then range, so each range writes its own window.
    let mut starts = vec![vec![0usize; n_codes]; ranges.len()];
    let mut group_bounds = Vec::with_capacity(n_codes + 1);
    let mut offset = 0usize;
    for code in 0..n_codes {
        group_bounds.push(offset);
        for (r, count) in counts.iter().enumerate() {
            starts[r][code] = offset;
            offset += count[code];
        }
    }
    group_bounds.push(offset);
    // Pass 2: scatter users into their code's window.
    let mut grouped = vec![0u32; offset];
    let out = SharedMut::new(&mut grouped);
    ranges
        .par_iter()
        .zip(starts.par_iter_mut())
        .for_each(|(range, next)| {
            for i in range.clone() {
                let code = codes[i];
                if code == NULL_CODE || code as usize >= n_codes {
                    continue;
                }
                let slot = &mut next[code as usize];
                // SAFETY: windows are disjoint per (code, range) and sized by pass 1.
                unsafe { out.write(*slot, users[i]) };
                *slot += 1;
            }
        });
    let max_id = users.iter().copied().max().unwrap_or(0);
    (0..n_codes)
        .into_par_iter()
        .map_init(Vec::new, |scratch, code| {
            bitmap_from_unsorted(
                &grouped[group_bounds[code]..group_bounds[code + 1]],
                max_id,
                scratch,
            )
        })
        .collect()
}

/// A bitmap from ids in any order (duplicates allowed), all `<= max_id`.
pub fn bitmap_from_unsorted(ids: &[u32], max_id: u32, scratch: &mut Vec<u64>) -> Bitmap {
    let words = (max_id as usize >> 6) + 1;
    // Sparse groups: sorting is cheaper than sweeping the whole scratch bitset.
    if ids.len() < words / 4 {
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        return Bitmap::of(&sorted);
    }
    if scratch.len() < words {
        scratch.resize(words, 0);
    }
    for &id in ids {
        scratch[(id >> 6) as usize] |= 1u64 << (id & 63);
    }
    let mut bitmap = Bitmap::new();
    let mut buffer: Vec<u32> = Vec::with_capacity(1 << 16);
    for (block, chunk) in scratch[..words].chunks_mut(1024).enumerate() {
        buffer.clear();
        let base = (block as u32) << 16;
        for (w, word) in chunk.iter_mut().enumerate() {
            let mut bits = *word;
            *word = 0;
            while bits != 0 {
                buffer.push(base | ((w as u32) << 6) | bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
        bitmap.add_many(&buffer);
    }
    bitmap
}

/// A bitmap from ids that may be unsorted (one call, no shared scratch).
pub fn bitmap_from_ids(ids: &[u32]) -> Bitmap {
    let max_id = ids.iter().copied().max().unwrap_or(0);
    let mut bitmap = bitmap_from_unsorted(ids, max_id, &mut Vec::new());
    bitmap.run_optimize();
    bitmap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_rows_by_code() {
        let users = [5, 1, 5, 70_000, 3, 1, 9];
        let codes = [0, 1, 0, 1, NULL_CODE, 1, 2];
        let maps = bitmaps_by_code(&users, &codes, 3);
        assert_eq!(maps[0].to_vec(), vec![5]);
        assert_eq!(maps[1].to_vec(), vec![1, 70_000]);
        assert_eq!(maps[2].to_vec(), vec![9]);
    }

    #[test]
    fn dense_and_sparse_paths_agree() {
        let mut x = 12345u64;
        let ids: Vec<u32> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 300_000) as u32
            })
            .collect();
        let dense = bitmap_from_unsorted(&ids, 300_000, &mut Vec::new());
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(dense.to_vec(), sorted);
        let sparse = bitmap_from_unsorted(&ids[..10], u32::MAX, &mut Vec::new());
        let mut few = ids[..10].to_vec();
        few.sort_unstable();
        few.dedup();
        assert_eq!(sparse.to_vec(), few);
    }
}
