//! One chunk's container, owned ([`Container`]) or borrowed ([`ContainerRef`]).

use super::words::{popcount, push_lows, Words, WORDS};
use super::{ARRAY_MAX, BITSET_BYTES};

/// A borrowed container; `None` beside it (`Option<ContainerRef>`) is an
/// empty chunk.
#[derive(Clone, Copy, Debug)]
pub enum ContainerRef<'a> {
    /// Sorted distinct low 16 bits.
    Array(&'a [u16]),
    Bitset(&'a Words),
    /// Runs as inclusive (start, end) pairs.
    Runs(&'a [(u16, u16)]),
    /// Runs as (start, length) pairs, the run covering start..=start + length
    /// (CRoaring's in-memory layout).
    RunLengths(&'a [[u16; 2]]),
}

impl ContainerRef<'_> {
    /// How many values the container holds.
    pub fn cardinality(self) -> u32 {
        match self {
            ContainerRef::Array(values) => values.len() as u32,
            ContainerRef::Bitset(words) => popcount(words),
            ContainerRef::Runs(runs) => runs.iter().map(|&(s, e)| u32::from(e - s) + 1).sum(),
            ContainerRef::RunLengths(runs) => runs.iter().map(|&[_, len]| u32::from(len) + 1).sum(),
        }
    }

    /// Calls `f(start, end)` for each run of a run container (nothing for the
    /// other kinds).
    pub fn for_each_run(self, mut f: impl FnMut(u16, u16)) {
        match self {
            ContainerRef::Runs(runs) => runs.iter().for_each(|&(s, e)| f(s, e)),
            ContainerRef::RunLengths(runs) => runs.iter().for_each(|&[s, len]| f(s, s.saturating_add(len))),
            ContainerRef::Array(_) | ContainerRef::Bitset(_) => {}
        }
    }
}

/// An owned container. Invariants (the module docs of [`super`]; checked by
/// [`super::parse`]): Array has 1..=4096 strictly increasing values; Bitset has
/// more than 4096 bits set; Run has at least one sorted, disjoint range.
#[derive(Clone, Debug, PartialEq)]
pub enum Container {
    Array(Vec<u16>),
    Bitset(Box<Words>),
    Run(Vec<(u16, u16)>),
}

impl Container {
    /// Smallest portable container holding the sorted, distinct `lows` (None if empty).
    /// Choosing run only when it is strictly smaller is croaring's `run_optimize` rule.
    pub fn from_sorted(lows: &[u16]) -> Option<Container> {
        let card = lows.len();
        if card == 0 {
            return None;
        }
        // Zipped slices (not `windows(2)`) vectorise: 16 pairs a compare.
        let breaks: u32 = lows.iter().zip(&lows[1..]).map(|(&a, &b)| u32::from(b != a.wrapping_add(1))).sum();
        let runs = 1 + breaks as usize;
        let run_size = 2 + 4 * runs;
        let plain_size = if card <= ARRAY_MAX { 2 * card } else { BITSET_BYTES };
        Some(if run_size < plain_size {
            let mut v = Vec::with_capacity(runs);
            let (mut s, mut e) = (lows[0], lows[0]);
            for &x in &lows[1..] {
                if x == e.wrapping_add(1) {
                    e = x;
                } else {
                    v.push((s, e));
                    s = x;
                    e = x;
                }
            }
            v.push((s, e));
            Container::Run(v)
        } else if card <= ARRAY_MAX {
            Container::Array(lows.to_vec())
        } else {
            let mut w = Box::new([0u64; WORDS]);
            for &x in lows {
                w[(x >> 6) as usize] |= 1u64 << (x & 63);
            }
            Container::Bitset(w)
        })
    }

    /// Smallest portable container for the bits of `w` (None if empty); `scratch` is reused.
    pub fn from_words(w: &Words, scratch: &mut Vec<u16>) -> Option<Container> {
        let card = popcount(w) as usize;
        if card == 0 {
            return None;
        }
        if card > ARRAY_MAX {
            // A run start is a set bit whose predecessor is clear.
            let mut prev = 0u64;
            let mut runs = 0usize;
            for &x in w.iter() {
                runs += (x & !((x << 1) | (prev >> 63))).count_ones() as usize;
                prev = x;
            }
            if 2 + 4 * runs >= BITSET_BYTES {
                return Some(Container::Bitset(Box::new(*w)));
            }
        }
        scratch.clear();
        push_lows(w, scratch);
        Container::from_sorted(scratch)
    }

    pub fn card(&self) -> u32 {
        match self {
            Container::Array(a) => a.len() as u32,
            Container::Bitset(w) => popcount(w),
            Container::Run(r) => r.iter().map(|&(s, e)| (e - s) as u32 + 1).sum(),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Container>()
            + match self {
                Container::Array(a) => a.capacity() * 2,
                Container::Bitset(_) => BITSET_BYTES,
                Container::Run(r) => r.capacity() * 4,
            }
    }

    pub fn contains(&self, x: u16) -> bool {
        match self {
            Container::Array(a) => a.binary_search(&x).is_ok(),
            Container::Bitset(w) => w[(x >> 6) as usize] >> (x & 63) & 1 == 1,
            Container::Run(r) => {
                let i = r.partition_point(|&(s, _)| s <= x);
                i > 0 && r[i - 1].1 >= x
            }
        }
    }

    /// This container, borrowed.
    pub fn as_ref(&self) -> ContainerRef<'_> {
        match self {
            Container::Array(a) => ContainerRef::Array(a),
            Container::Bitset(w) => ContainerRef::Bitset(w),
            Container::Run(r) => ContainerRef::Runs(r),
        }
    }
}

/// An optional container, borrowed (for the [`super::words`] kernel).
pub fn borrowed(c: Option<&Container>) -> Option<ContainerRef<'_>> {
    c.map(Container::as_ref)
}
