//! Bulk construction of one bitmap per code from (user, code) rows in any order.
//!
//! Rows are first grouped by code with a parallel counting sort. Each code's users
//! (in random order) then become a bitmap: dense groups are marked in a scratch
//! bitset spanning the id range and read back 65,536 ids at a time (one Roaring
//! container); sparse groups are sorted instead. This is the point of uoseg's build
//! speed: it avoids both per-row hashing into bitmaps and a global sort.
//!
//! Each block of 65,536 ids goes to the portable writer of `roaring` as
//! whichever container is smallest (the choice `Bitmap::run_optimize` makes), so
//! the bitmaps come out run-optimised without CRoaring reading every container
//! again afterwards (that pass took ~30 ms of CPU for W1 at 10 M users).

use std::mem::MaybeUninit;
use std::sync::{Mutex, PoisonError};

use croaring::Bitmap;
use rayon::prelude::*;

use crate::ingest::{GroupCodes, GroupRepr, NARROW_NULL};
use crate::parallel::{self, SharedMut};
use crate::roaring::{Writer, ARRAY_MAX, CHUNK_IDS, WORDS};

/// One bitmap per code in `0..n_codes`, run-optimised; rows whose code is
/// `NULL_CODE` (or any code `>= n_codes`) are skipped.
pub fn bitmaps_by_code(users: &[u32], codes: &[u32], n_codes: usize) -> Vec<Bitmap> {
    assert_eq!(users.len(), codes.len(), "one code per user row");
    if n_codes == 0 {
        return Vec::new();
    }
    let Grouped { users: grouped, bounds, max_id } = group_by_code(users, codes, n_codes);
    build_groups(&grouped, &bounds, max_id)
}

/// Rows grouped by code: the users of code `c` are `users[bounds[c]..bounds[c + 1]]`,
/// in row order.
pub struct Grouped {
    pub users: Vec<u32>,
    pub bounds: Vec<usize>,
    /// The largest user id among the grouped rows (0 if none).
    pub max_id: u32,
}

/// A parallel counting sort of (user, code) rows by code; rows whose code is
/// `>= n_codes` are skipped.
pub fn group_by_code(users: &[u32], codes: &[u32], n_codes: usize) -> Grouped {
    // Each range counts into its own `n_codes` counters: with many codes (one per
    // user, say), fewer and longer ranges keep the counters no larger than the rows.
    let ranges = parallel::ranges(users.len(), n_codes.max(1 << 16));
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
    let mut bounds = Vec::with_capacity(n_codes + 1);
    let mut offset = 0usize;
    for code in 0..n_codes {
        bounds.push(offset);
        for (r, count) in counts.iter().enumerate() {
            starts[r][code] = offset;
            offset += count[code];
        }
    }
    bounds.push(offset);
    drop(counts);
    // Pass 2: scatter users into their code's window (and find the largest id).
    let mut grouped: Vec<u32> = Vec::with_capacity(offset);
    let out = SharedMut::new(&mut grouped.spare_capacity_mut()[..offset]);
    let max_id = ranges
        .par_iter()
        .zip(starts.par_iter_mut())
        .map(|(range, next)| {
            let mut max_id = 0u32;
            for (&user, &code) in users[range.clone()].iter().zip(&codes[range.clone()]) {
                if let Some(slot) = next.get_mut(code as usize) {
                    // SAFETY: windows are disjoint per (code, range) and sized by pass 1.
                    unsafe { out.write(*slot, MaybeUninit::new(user)) };
                    *slot += 1;
                    max_id = max_id.max(user);
                }
            }
            max_id
        })
        .max()
        .unwrap_or(0);
    // SAFETY: pass 1 counted exactly the rows that pass 2 wrote (codes < n_codes),
    // and the windows tile 0..offset, so every slot is initialised. Skipping the
    // zero fill saves faulting in and clearing the buffer twice.
    unsafe { grouped.set_len(offset) };
    drop(starts);
    Grouped { users: grouped, bounds, max_id }
}

/// One run-optimised bitmap per value of an encoded string column
/// (`codes.dictionary[i]` gets bitmap `i`); null rows are skipped. One-byte codes come with their counts, so the
/// rows are grouped in a single pass.
pub fn bitmaps_by_group_codes(users: &[u32], codes: &GroupCodes) -> Vec<Bitmap> {
    assert_eq!(users.len(), codes.len(), "one code per user row");
    let (bytes, tasks) = match &codes.repr {
        GroupRepr::Wide(encoded) => return bitmaps_by_code(users, &encoded.codes, codes.dictionary.len()),
        GroupRepr::Narrow { codes, tasks, .. } => (codes, tasks),
    };
    let n_codes = codes.dictionary.len();
    // Offsets: code-major, then task; a task's bytes stand for distinct codes.
    let mut by_code: Vec<Vec<(usize, u8)>> = vec![Vec::new(); n_codes];
    for (t, task) in tasks.iter().enumerate() {
        for byte in 0..NARROW_NULL {
            let code = task.remap[byte as usize];
            if task.counts[byte as usize] > 0 && (code as usize) < n_codes {
                by_code[code as usize].push((t, byte));
            }
        }
    }
    let mut starts = vec![[usize::MAX; 256]; tasks.len()];
    let mut bounds = Vec::with_capacity(n_codes + 1);
    let mut offset = 0usize;
    for list in &by_code {
        bounds.push(offset);
        for &(t, byte) in list {
            starts[t][byte as usize] = offset;
            offset += tasks[t].counts[byte as usize];
        }
    }
    bounds.push(offset);
    // Scatter users into their code's window (and find the largest id).
    let mut grouped: Vec<u32> = Vec::with_capacity(offset);
    let out = SharedMut::new(&mut grouped.spare_capacity_mut()[..offset]);
    let max_id = tasks
        .par_iter()
        .zip(starts.par_iter_mut())
        .map(|(task, next)| {
            let mut max_id = 0u32;
            for (&user, &byte) in users[task.rows.clone()].iter().zip(&bytes[task.rows.clone()]) {
                if byte != NARROW_NULL {
                    let slot = &mut next[byte as usize];
                    // SAFETY: every byte but NARROW_NULL that occurs in a task has a
                    // window of exactly its count, disjoint from all others.
                    unsafe { out.write(*slot, MaybeUninit::new(user)) };
                    *slot += 1;
                    max_id = max_id.max(user);
                }
            }
            max_id
        })
        .max()
        .unwrap_or(0);
    // SAFETY: the windows tile 0..offset and each was filled (see above).
    unsafe { grouped.set_len(offset) };
    drop(starts);
    build_groups(&grouped, &bounds, max_id)
}

/// The union of `bitmaps`, in parallel: `Bitmap::fast_or` of W1's 200 tags at 10 M
/// users takes ~23 ms on one core; this takes ~12 ms on two.
pub fn union_of(bitmaps: &[Bitmap]) -> Bitmap {
    let parts = rayon::current_num_threads().clamp(1, bitmaps.len().max(1));
    // Interleaved, so each part gets large and small bitmaps alike.
    (0..parts)
        .into_par_iter()
        .map(|part| Bitmap::fast_or(&bitmaps.iter().skip(part).step_by(parts).collect::<Vec<_>>()))
        .reduce(Bitmap::new, |mut all, part| {
            all.or_inplace(&part);
            all
        })
}

/// One bitmap per group `grouped[bounds[i]..bounds[i + 1]]` of ids `<= max_id`.
fn build_groups(grouped: &[u32], bounds: &[usize], max_id: u32) -> Vec<Bitmap> {
    // One scratch per worker thread: `map_init` made one per rayon job (26 for W1's
    // 200 groups), each faulting in a fresh bitset of the whole id range.
    let scratches: Vec<Mutex<Scratch>> = (0..rayon::current_num_threads()).map(|_| Mutex::default()).collect();
    (0..bounds.len().saturating_sub(1))
        .into_par_iter()
        .map(|code| {
            let slot = rayon::current_thread_index().unwrap_or(0) % scratches.len();
            let mut scratch = scratches[slot].lock().unwrap_or_else(PoisonError::into_inner);
            scratch.bitmap(&grouped[bounds[code]..bounds[code + 1]], max_id)
        })
        .collect()
}

/// Reusable buffers for building bitmaps one after another on one thread.
#[derive(Default)]
struct Scratch {
    /// A bitset over `0..=max_id`, all zero between uses.
    words: Vec<u64>,
    /// Sorted ids (sparse groups).
    sorted: Vec<u32>,
    /// The low 16 bits of an array container's ids.
    values: Vec<u16>,
    /// Cardinality of each block of `words`.
    cards: Vec<u32>,
    writer: Writer,
}

impl Scratch {
    /// A bitmap from ids in any order (duplicates allowed), all `<= max_id`.
    fn bitmap(&mut self, ids: &[u32], max_id: u32) -> Bitmap {
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::popcnt() && crate::cpu::features().bmi1 {
            // SAFETY: this CPU has the features `bitmap_x86` is compiled for.
            return unsafe { self.bitmap_x86(ids, max_id) };
        }
        self.bitmap_any(ids, max_id)
    }

    /// [`Self::bitmap`] with hardware popcount and bit scans: the crate is built for
    /// baseline x86-64, where `count_ones` is a dozen instructions. W1's 200 tags
    /// at 10 M users: 135 ms on one core, 186 ms without.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt,bmi1")]
    unsafe fn bitmap_x86(&mut self, ids: &[u32], max_id: u32) -> Bitmap {
        self.bitmap_any(ids, max_id)
    }

    #[inline(always)]
    fn bitmap_any(&mut self, ids: &[u32], max_id: u32) -> Bitmap {
        let blocks = (max_id as usize >> 16) + 1;
        // Sparse groups: sorting is cheaper than sweeping the whole scratch bitset.
        if ids.len() < blocks * WORDS / 4 {
            return self.sparse(ids);
        }
        let words = &mut self.words;
        if words.len() < blocks * WORDS {
            words.resize(blocks * WORDS, 0);
        }
        let words = &mut words[..blocks * WORDS];
        for &id in ids {
            words[(id >> 6) as usize] |= 1u64 << (id & 63);
        }
        self.cards.clear();
        self.cards.extend(words.chunks_exact(WORDS).map(|block| block.iter().map(|w| w.count_ones()).sum::<u32>()));
        let containers = self.cards.iter().filter(|&&card| card > 0).count();
        let payload = self.cards.iter().map(|&card| (2 * card as usize).min(2 * CHUNK_IDS / 8)).sum();
        self.writer.begin(containers, payload);
        for (key, block) in words.chunks_exact_mut(WORDS).enumerate() {
            let card = self.cards[key];
            if card > 0 {
                self.writer.smallest_and_clear(key as u16, block, card);
            }
        }
        self.writer.bitmap()
    }

    /// A bitmap from few ids: sort, then cut into containers.
    fn sparse(&mut self, ids: &[u32]) -> Bitmap {
        let sorted = &mut self.sorted;
        sorted.clear();
        sorted.extend_from_slice(ids);
        sorted.sort_unstable();
        sorted.dedup();
        let containers = sorted.chunk_by(|a, b| a >> 16 == b >> 16).count();
        self.writer.begin(containers, 2 * sorted.len());
        for block in sorted.chunk_by(|a, b| a >> 16 == b >> 16) {
            let key = (block[0] >> 16) as u16;
            if block.len() > ARRAY_MAX {
                let mut words = [0u64; WORDS];
                for &id in block {
                    words[(id >> 6) as usize & (WORDS - 1)] |= 1u64 << (id & 63);
                }
                self.writer.bitset_or_runs(key, &words, block.len() as u32);
            } else {
                self.values.clear();
                self.values.extend(block.iter().map(|&id| id as u16));
                self.writer.array_or_runs(key, &self.values);
            }
        }
        self.writer.bitmap()
    }
}

/// A run-optimised bitmap from ids in any order (duplicates allowed), all
/// `<= max_id`. `scratch` is a bitset reused between calls (left all zero).
pub fn bitmap_from_unsorted(ids: &[u32], max_id: u32, scratch: &mut Vec<u64>) -> Bitmap {
    let mut buffers = Scratch { words: std::mem::take(scratch), ..Scratch::default() };
    let bitmap = buffers.bitmap(ids, max_id);
    *scratch = buffers.words;
    bitmap
}

/// A run-optimised bitmap from ids that may be unsorted (one call, no shared
/// scratch).
pub fn bitmap_from_ids(ids: &[u32]) -> Bitmap {
    // Consecutive ascending ids (the users of a wide table numbered in
    // order) are one range: no bitset to fill and convert.
    if let (Some(&first), Some(&last)) = (ids.first(), ids.last()) {
        if last >= first
            && (last - first) as usize + 1 == ids.len()
            && ids.par_windows(2).all(|pair| pair[0].checked_add(1) == Some(pair[1]))
        {
            let mut range = Bitmap::from_range(first..=last);
            range.run_optimize();
            return range;
        }
    }
    let max_id = ids.iter().copied().max().unwrap_or(0);
    bitmap_from_unsorted(ids, max_id, &mut Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::NULL_CODE;
    use croaring::Portable;

    #[test]
    fn consecutive_ids_make_the_same_bitmap() {
        for ids in [vec![7u32], (5..300_000).collect(), (0..=u16::MAX as u32 + 1).collect(), vec![3, 4, 6]] {
            let expected = Bitmap::of(&ids);
            assert_eq!(bitmap_from_ids(&ids), expected);
        }
        assert!(bitmap_from_ids(&[]).is_empty());
        assert_eq!(bitmap_from_ids(&[u32::MAX - 1, u32::MAX]), Bitmap::of(&[u32::MAX - 1, u32::MAX]));
    }

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
        let mut random = crate::test_random::Rng::new(12345);
        let ids: Vec<u32> = (0..200_000).map(|_| random.below(300_000) as u32).collect();
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

    /// Sort-based reference: one sorted, deduplicated id list per code.
    fn reference(users: &[u32], codes: &[u32], n_codes: usize) -> Vec<Vec<u32>> {
        let mut pairs: Vec<(u32, u32)> =
            codes.iter().zip(users).filter(|(&c, _)| (c as usize) < n_codes).map(|(&c, &u)| (c, u)).collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut out = vec![Vec::new(); n_codes];
        for (c, u) in pairs {
            out[c as usize].push(u);
        }
        out
    }

    fn draws(seed: u64) -> impl FnMut() -> u64 {
        let mut random = crate::test_random::Rng::new(seed);
        move || random.next()
    }

    /// `map` holds exactly `ids` (sorted) in the containers `run_optimize` picks.
    fn assert_bitmap(map: &Bitmap, ids: &[u32]) {
        assert_eq!(map.to_vec(), ids);
        let mut expected = Bitmap::of(ids);
        expected.run_optimize();
        assert_eq!(map.serialize::<Portable>(), expected.serialize::<Portable>());
    }

    fn assert_matches_reference(users: &[u32], codes: &[u32], n_codes: usize) {
        let maps = bitmaps_by_code(users, codes, n_codes);
        let expected = reference(users, codes, n_codes);
        assert_eq!(maps.len(), n_codes);
        for (map, ids) in maps.iter().zip(&expected) {
            assert_bitmap(map, ids);
        }
    }

    #[test]
    fn matches_sort_reference() {
        let mut next = draws(7);
        // Dense and sparse codes, blocks of every kind, duplicates, skipped rows.
        for (rows, max_user, n_codes) in
            [(300_000, 200_000, 7), (100_000, 70_000_000, 5), (50_000, 4_000_000_000, 3), (20_000, 1_000, 40)]
        {
            let users: Vec<u32> = (0..rows).map(|_| (next() % max_user) as u32).collect();
            let codes: Vec<u32> = (0..rows)
                .map(|_| match next() % 100 {
                    0 => NULL_CODE,
                    1 => n_codes as u32 + 3,
                    r => (r % (n_codes as u64) * (r % 3)) as u32 % n_codes as u32,
                })
                .collect();
            assert_matches_reference(&users, &codes, n_codes);
        }
        // Runs: a full block, exactly 4096 and 4097 ids, a block of 2047 and one of
        // 2048 runs, arrays of few and of many runs, shuffled, dense and sparse.
        let mut ids: Vec<u32> = (0..65_536).chain(65_536..65_536 + 4096).collect();
        ids.extend((2 << 16)..(2 << 16) + 4097);
        ids.extend(((3 << 16)..(4 << 16)).filter(|i| i % 32 < 20 || i % 65_536 >= 2047 * 32));
        ids.extend(((4 << 16)..(5 << 16)).filter(|i| i % 32 < 20));
        ids.extend(((5 << 16) + 7..(5 << 16) + 300).chain((5 << 16) + 1000..(5 << 16) + 1010));
        ids.extend(((6 << 16)..(6 << 16) + 3000).filter(|i| i % 3 != 0));
        ids.extend([(7 << 16) + 65_535, (7 << 16) + 65_534, (8 << 16) + 5]);
        for i in (1..ids.len()).rev() {
            ids.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        let codes: Vec<u32> = (0..ids.len()).map(|i| (i % 2) as u32).collect();
        assert_matches_reference(&ids, &codes, 2);
        assert_matches_reference(&ids, &vec![0; ids.len()], 1);
        let max_id = 9 << 16;
        let dense: Vec<u32> = (0..ids.len() as u32).map(|i| i % max_id).chain(ids.clone()).collect();
        assert_matches_reference(&dense, &vec![0; dense.len()], 1);
        // The same through the sparse path (ids spread over the whole u32 range).
        let far: Vec<u32> = ids.iter().map(|&i| i + (1 << 30)).chain([u32::MAX, 0]).collect();
        assert_matches_reference(&far, &vec![0; far.len()], 1);
        assert_matches_reference(&[], &[], 3);
        assert!(bitmaps_by_code(&[1], &[0], 0).is_empty());
    }

    #[test]
    fn many_codes() {
        let mut next = draws(11);
        let n_codes = 100_000;
        let users: Vec<u32> = (0..400_000).map(|_| (next() % 1_000_000) as u32).collect();
        let codes: Vec<u32> = (0..400_000).map(|_| (next() % n_codes as u64) as u32).collect();
        assert_matches_reference(&users, &codes, n_codes);
    }

    /// `encode_strings` against a plain `HashMap` in first-seen order.
    fn assert_encodes(chunks: &[arrow_array::ArrayRef]) {
        let encoded = crate::ingest::encode_strings(chunks, "c").unwrap();
        let mut seen = std::collections::HashMap::new();
        let mut dictionary = Vec::new();
        let mut codes = Vec::new();
        for chunk in chunks {
            let chunk = arrow_cast_strings(chunk);
            for value in chunk {
                codes.push(match value {
                    None => NULL_CODE,
                    Some(v) => *seen.entry(v.clone()).or_insert_with(|| {
                        dictionary.push(v);
                        dictionary.len() as u32 - 1
                    }),
                });
            }
        }
        assert_eq!(encoded.dictionary, dictionary);
        assert_eq!(encoded.codes, codes);
    }

    /// A string-like chunk's values, whatever its layout.
    fn arrow_cast_strings(chunk: &arrow_array::ArrayRef) -> Vec<Option<String>> {
        use arrow_array::cast::AsArray;
        use arrow_array::Array;
        use arrow_schema::DataType;
        let plain = |a: &dyn Array| -> Vec<Option<String>> {
            match a.data_type() {
                DataType::Utf8 => a.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect(),
                DataType::LargeUtf8 => a.as_string::<i64>().iter().map(|v| v.map(str::to_string)).collect(),
                DataType::Utf8View => a.as_string_view().iter().map(|v| v.map(str::to_string)).collect(),
                other => panic!("{other}"),
            }
        };
        match chunk.data_type() {
            DataType::Dictionary(_, _) => {
                let dict = chunk.as_any_dictionary();
                let values = plain(dict.values().as_ref());
                let nulls = chunk.logical_nulls();
                dict.normalized_keys()
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| if nulls.as_ref().is_some_and(|n| n.is_null(i)) { None } else { values[k].clone() })
                    .collect()
            }
            _ => plain(chunk.as_ref()),
        }
    }

    #[test]
    fn encodes_strings_in_first_seen_order() {
        use arrow_array::types::{Int8Type, UInt16Type};
        use arrow_array::{ArrayRef, DictionaryArray, LargeStringArray, StringArray, StringViewArray};
        use std::sync::Arc;
        let mut next = draws(3);
        // Short and long values, the empty string, NUL bytes, 8 and 9 bytes, non-ASCII.
        let pool: Vec<String> = [
            "",
            "a",
            "a\0",
            "\0",
            "t1",
            "t12",
            "abcdefgh",
            "abcdefgi",
            "abcdefghi",
            "高价值用户",
            "a much longer tag name than twelve bytes",
            "x\0y",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain((0..300).map(|i| format!("tag{i}")))
        .collect();
        let mut values = |n: usize, distinct: u64| -> Vec<Option<String>> {
            (0..n)
                .map(|_| {
                    let r = next();
                    (!r.is_multiple_of(50)).then(|| pool[(r >> 8) as usize % distinct as usize].clone())
                })
                .collect()
        };
        // Many rows (parallel ranges) with a few new values only after the prefix.
        let mut big = values(200_000, 5);
        big.extend(values(200_000, pool.len() as u64));
        let chunks: Vec<ArrayRef> = vec![Arc::new(StringArray::from(big.clone()))];
        assert_encodes(&chunks);
        // Every layout, in several chunks, including tiny and empty ones.
        let chunks: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(values(1_000, 8))),
            Arc::new(StringViewArray::from(values(150_000, pool.len() as u64))),
            Arc::new(StringArray::from(Vec::<Option<String>>::new())),
            Arc::new(LargeStringArray::from(values(70_000, 20))),
            Arc::new(values(90_000, 30).iter().map(Option::as_deref).collect::<DictionaryArray<UInt16Type>>()),
            Arc::new(StringArray::from(values(3, 300))),
            Arc::new(values(500, 10).iter().map(Option::as_deref).collect::<DictionaryArray<Int8Type>>()),
        ];
        assert_encodes(&chunks);
        // A slice: offsets that do not start at zero.
        let sliced: ArrayRef = Arc::new(StringArray::from(big).slice(12_345, 100_000));
        assert_encodes(&[sliced]);
        // A value at the very end of the buffer (no 8 bytes to read past it).
        let tail: ArrayRef = Arc::new(StringArray::from(vec!["abc", "x", "ab"]));
        assert_encodes(&[tail]);
        // Nearly every value distinct (string user ids).
        let ids: ArrayRef =
            Arc::new(StringArray::from_iter_values((0..300_000u64).map(|i| format!("user-{}", (i * 7919) % 250_000))));
        assert_encodes(&[ids]);
    }

    /// `encode_for_bitmaps` + `bitmaps_by_group_codes` against `encode_strings` and
    /// the sort reference.
    fn assert_groups(chunks: &[arrow_array::ArrayRef], seed: u64, narrow: bool) {
        let rows: usize = chunks.iter().map(|c| c.len()).sum();
        let mut next = draws(seed);
        let users: Vec<u32> = (0..rows).map(|_| (next() % 300_000) as u32).collect();
        let codes = crate::ingest::encode_for_bitmaps(chunks, "c").unwrap();
        assert_eq!(matches!(codes.repr, GroupRepr::Narrow { .. }), narrow);
        let plain = crate::ingest::encode_strings(chunks, "c").unwrap();
        assert_eq!(codes.dictionary, plain.dictionary);
        assert_eq!(codes.len(), rows);
        assert_eq!(codes.first_null(), plain.first_null());
        let maps = bitmaps_by_group_codes(&users, &codes);
        let expected = reference(&users, &plain.codes, plain.dictionary.len());
        assert_eq!(maps.len(), expected.len());
        for (map, ids) in maps.iter().zip(&expected) {
            assert_bitmap(map, ids);
        }
    }

    #[test]
    fn groups_string_columns() {
        use arrow_array::types::Int16Type;
        use arrow_array::{ArrayRef, DictionaryArray, LargeStringArray, StringArray, StringViewArray};
        use std::sync::Arc;
        let mut next = draws(9);
        let names: Vec<String> = (0..400).map(|i| format!("t{i}")).chain(["a longer tag name".into()]).collect();
        let mut column = |n: usize, distinct: usize, null_every: u64| -> Vec<Option<String>> {
            (0..n)
                .map(|_| {
                    let r = next();
                    (null_every == 0 || !r.is_multiple_of(null_every))
                        .then(|| names[(r >> 8) as usize % distinct].clone())
                })
                .collect()
        };
        // One-byte codes: few values, nulls, a long value, several layouts and chunks.
        let few: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(column(300_000, 40, 0))),
            Arc::new(StringArray::from(Vec::<Option<String>>::new())),
            Arc::new(LargeStringArray::from(column(70_000, 41, 500))),
            Arc::new(StringViewArray::from(column(90_000, 60, 0))),
        ];
        assert_groups(&few, 1, true);
        // An empty first chunk, then values only seen after the prefix.
        let mut late = column(100_000, 3, 0);
        late.extend(column(200_000, 60, 0));
        assert_groups(&[Arc::new(StringArray::from(Vec::<&str>::new())), Arc::new(StringArray::from(late))], 2, true);
        // Sorted by value: every range meets new values (still one byte each).
        let mut sorted = column(400_000, 100, 0);
        sorted.sort();
        assert_groups(&[Arc::new(StringArray::from(sorted))], 3, true);
        // Too many values for one byte: after the prefix, and in it.
        let mut many = column(100_000, 10, 0);
        many.extend(column(300_000, 401, 0));
        assert_groups(&[Arc::new(StringArray::from(many))], 4, false);
        assert_groups(&[Arc::new(StringArray::from(column(100_000, 401, 7)))], 5, false);
        // Dictionary chunks go the general way.
        let dict: DictionaryArray<Int16Type> = column(50_000, 30, 9).iter().map(Option::as_deref).collect();
        assert_groups(&[Arc::new(dict), Arc::new(StringArray::from(column(1000, 30, 0)))], 6, false);
        assert_groups(&[], 7, true);
    }

    #[test]
    fn w1_pipeline_matches_reference() {
        let (users, tags) = w1_data(100_000, 5);
        let users: arrow_array::ArrayRef = std::sync::Arc::new(users);
        let tags: arrow_array::ArrayRef = std::sync::Arc::new(tags);
        let (maps, universe) = from_long(&users, &tags);
        let dense = crate::ingest::uint32_ids(std::slice::from_ref(&users)).unwrap();
        let encoded = crate::ingest::encode_strings(std::slice::from_ref(&tags), "tag").unwrap();
        assert_eq!(encoded.dictionary.len(), 200);
        let expected = reference(&dense, &encoded.codes, 200);
        for (map, ids) in maps.iter().zip(&expected) {
            assert_bitmap(map, ids);
        }
        let mut all: Vec<u32> = dense.to_vec();
        all.sort_unstable();
        all.dedup();
        assert_eq!(universe.to_vec(), all);
    }

    /// W1 of shared/benchmarks.md in Rust: `N` users (env `UOSEG_W1_N`, default
    /// 10 M), 200 tags, tag `i` holding each user with probability
    /// `max(0.001, 0.5 / (i + 1)^0.8)`, rows shuffled. Returns (users, tags).
    fn w1_data(n: u32, seed: u64) -> (arrow_array::UInt32Array, arrow_array::StringArray) {
        let mut next = draws(seed);
        let mut rows: Vec<u64> = Vec::new();
        for tag in 0..200u64 {
            let p = (0.5 / ((tag + 1) as f64).powf(0.8)).max(0.001);
            let log_q = (1.0 - p).ln();
            // Geometric gaps between members: cost follows the output, not `n`.
            let mut user = 0u64;
            loop {
                let u = ((next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                user += (u.ln() / log_q) as u64;
                if user >= n as u64 {
                    break;
                }
                rows.push(user << 8 | tag);
                user += 1;
            }
        }
        for i in (1..rows.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            rows.swap(i, j);
        }
        let names: Vec<String> = (0..200).map(|i| format!("t{i}")).collect();
        let users = arrow_array::UInt32Array::from_iter_values(rows.iter().map(|&r| (r >> 8) as u32));
        let tags = arrow_array::StringArray::from_iter_values(rows.iter().map(|&r| names[(r & 255) as usize].as_str()));
        (users, tags)
    }

    /// What `arrow_io::from_long` does with the rows: dense ids, codes, one
    /// bitmap per code and their union.
    fn from_long(users: &arrow_array::ArrayRef, tags: &arrow_array::ArrayRef) -> (Vec<Bitmap>, Bitmap) {
        let mut ids = std::borrow::Cow::Owned(crate::ids::IdMap::new(crate::ids::IdKind::Auto));
        let dense = crate::ingest::resolve_user_ids(
            std::slice::from_ref(users),
            "user_id",
            &mut ids,
            crate::ingest::Unseen::Register,
        )
        .unwrap();
        let encoded = crate::ingest::encode_for_bitmaps(std::slice::from_ref(tags), "tag").unwrap();
        assert!(encoded.first_null().is_none());
        assert_eq!(encoded.len(), dense.len());
        let maps = bitmaps_by_group_codes(&dense, &encoded);
        let universe = union_of(&maps);
        (maps, universe)
    }
}
