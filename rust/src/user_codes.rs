//! A categorical attribute as a column: each user's value as a code per dense
//! id, the transpose of the one-bitmap-per-value form the store keeps.
//!
//! Queries want the bitmaps; an export wants the value of each of its rows.
//! Reading a value from the bitmaps means probing every value's bitmap (at
//! 10 M users and 300 cities, 10 M probes for any audience), while the column
//! answers with one load per row. So an attribute builds its column once, on
//! the first export that needs it, and keeps it as long as the attribute lives
//! (attributes are immutable: an update makes a new one).
//!
//! # Invariants
//!
//! * Slot `d` holds 1 + the index (in the groups given to [`UserCodes::build`])
//!   of the group that holds dense id `d`, or 0 if none does; ids past the
//!   column's end hold none. Zero for "none" lets the column start as fresh
//!   zero pages, touched only where users have a value.
//! * Codes are `u16` while the groups fit, `u32` beyond.

use croaring::Bitmap;
use rayon::prelude::*;

use crate::memory::{zeroed_vec, Zeroable};
use crate::roaring::{ContainerRef, RoaringView, CHUNK_IDS};

/// The code [`UserCodes::gather`] writes for a user in no group.
pub const NO_GROUP: u32 = u32::MAX;

/// Each dense id's group, as 1 + its index (0: none).
pub enum UserCodes {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl UserCodes {
    /// The column of `groups`, disjoint bitmaps of dense ids (a user in two
    /// gets the later one).
    pub fn build(groups: &[&Bitmap]) -> UserCodes {
        let len = groups.iter().filter_map(|g| g.maximum()).max().map_or(0, |max| max as usize + 1);
        if groups.len() < usize::from(u16::MAX) {
            UserCodes::Narrow(fill(groups, len, |code| code as u16))
        } else {
            UserCodes::Wide(fill(groups, len, |code| code as u32))
        }
    }

    /// Appends to `out` the group index of each of `dense`, or [`NO_GROUP`].
    pub fn gather(&self, dense: &[u32], out: &mut Vec<u32>) {
        fn gather_from<T: Copy + Into<u32>>(slots: &[T], dense: &[u32], out: &mut Vec<u32>) {
            // `wrapping_sub`: slot 0 (no group) becomes NO_GROUP without a branch.
            out.extend(dense.iter().map(|&d| slots.get(d as usize).map_or(0, |&c| c.into()).wrapping_sub(1)));
        }
        match self {
            UserCodes::Narrow(slots) => gather_from(slots, dense, out),
            UserCodes::Wide(slots) => gather_from(slots, dense, out),
        }
    }

    /// Bytes the column holds.
    pub fn heap_bytes(&self) -> usize {
        match self {
            UserCodes::Narrow(slots) => slots.len() * 2,
            UserCodes::Wide(slots) => slots.len() * 4,
        }
    }
}

/// The column of `groups` over `len` dense ids, `code(i)` being group `i`'s
/// slot value less one. Filled one 2^16-id chunk per task, reading the
/// containers in place where CRoaring's layout is readable.
fn fill<T: Zeroable>(groups: &[&Bitmap], len: usize, code: impl Fn(usize) -> T + Sync) -> Vec<T> {
    // SAFETY: T is Zeroable: all-zero bytes are the value zero ("no group").
    let mut slots: Vec<T> = unsafe { zeroed_vec(len) }.unwrap_or_else(|| vec![T::ZERO; len]);
    let slot_of = |i: usize| code(i + 1);
    let views: Option<Vec<RoaringView<'_>>> = groups.iter().map(|g| RoaringView::new(g)).collect();
    let Some(views) = views else {
        for (i, group) in groups.iter().enumerate() {
            let value = slot_of(i);
            for id in group.iter() {
                if let Some(slot) = slots.get_mut(id as usize) {
                    *slot = value;
                }
            }
        }
        return slots;
    };
    slots.par_chunks_mut(CHUNK_IDS).enumerate().for_each(|(key, chunk)| {
        let Ok(key) = u16::try_from(key) else { return };
        for (i, view) in views.iter().enumerate() {
            let Ok(j) = view.keys().binary_search(&key) else { continue };
            let value = slot_of(i);
            let mut set = |low: usize| {
                if let Some(slot) = chunk.get_mut(low) {
                    *slot = value;
                }
            };
            match view.container(j) {
                Some(ContainerRef::Array(lows)) => lows.iter().for_each(|&x| set(usize::from(x))),
                Some(ContainerRef::Bitset(words)) => {
                    for (w, &word) in words.iter().enumerate() {
                        let mut bits = word;
                        while bits != 0 {
                            set(w * 64 + bits.trailing_zeros() as usize);
                            bits &= bits - 1;
                        }
                    }
                }
                Some(runs) => {
                    runs.for_each_run(|start, end| (usize::from(start)..=usize::from(end)).for_each(&mut set))
                }
                None => {}
            }
        }
    });
    slots
}

impl std::fmt::Debug for UserCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserCodes({} bytes)", self.heap_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes_of(codes: &UserCodes, dense: &[u32]) -> Vec<u32> {
        let mut out = Vec::new();
        codes.gather(dense, &mut out);
        out
    }

    #[test]
    fn every_container_kind_gives_its_users_their_group() {
        let array = Bitmap::of(&[1, 70_000, 200_000]);
        let mut runs = Bitmap::from_range(100..5_000);
        runs.run_optimize();
        let bitset: Bitmap = (131_072..131_072 + 30_000).step_by(2).collect();
        let codes = UserCodes::build(&[&array, &runs, &bitset]);
        let probe = [0, 1, 99, 100, 4_999, 5_000, 70_000, 131_072, 131_073, 161_070, 200_000, 200_001, u32::MAX];
        let expected =
            probe.map(|d| [&array, &runs, &bitset].iter().position(|g| g.contains(d)).map_or(NO_GROUP, |i| i as u32));
        assert_eq!(codes_of(&codes, &probe), expected);
    }

    #[test]
    fn many_groups_take_wide_codes() {
        let groups: Vec<Bitmap> = (0..70_000u32).map(|i| Bitmap::of(&[i * 3])).collect();
        let refs: Vec<&Bitmap> = groups.iter().collect();
        let codes = UserCodes::build(&refs);
        assert!(matches!(codes, UserCodes::Wide(_)));
        assert_eq!(codes_of(&codes, &[0, 1, 3, 209_997, 209_998]), [0, NO_GROUP, 1, 69_999, NO_GROUP]);
    }

    #[test]
    fn no_groups_hold_no_one() {
        let codes = UserCodes::build(&[]);
        assert_eq!(codes.heap_bytes(), 0);
        assert_eq!(codes_of(&codes, &[0, 5]), [NO_GROUP, NO_GROUP]);
    }
}
