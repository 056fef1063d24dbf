//! Read access to the containers of a CRoaring bitmap, for the fused query
//! executor (`query::fused`), which combines many bitmaps one chunk at a time
//! without building intermediate bitmaps.
//!
//! The croaring crate does not expose containers, so this mirrors CRoaring's
//! documented in-memory layout (`roaring_array_t` and the three container
//! structs of CRoaring 4/5; `Bitmap` is `repr(transparent)` over
//! `roaring_bitmap_t`). The layout is checked once per process against
//! bitmaps of every container kind; if it ever differs (a CRoaring upgrade),
//! [`RoaringView::new`] returns `None` and callers use CRoaring's own
//! operations instead.

use std::ffi::c_void;
use std::sync::OnceLock;

use croaring::Bitmap;

use super::container::ContainerRef;
use super::words::{Words, WORDS};

const BITSET: u8 = 1;
const ARRAY: u8 = 2;
const RUN: u8 = 3;
const SHARED: u8 = 4;

#[repr(C)]
struct RoaringArray {
    size: i32,
    allocation_size: i32,
    containers: *const *const c_void,
    keys: *const u16,
    typecodes: *const u8,
    flags: u8,
}

#[repr(C)]
struct BitsetContainer {
    cardinality: i32,
    words: *const u64,
}

#[repr(C)]
struct ArrayContainer {
    cardinality: i32,
    capacity: i32,
    array: *const u16,
}

#[repr(C)]
struct RunContainer {
    n_runs: i32,
    capacity: i32,
    runs: *const [u16; 2],
}

#[repr(C)]
struct SharedContainer {
    container: *const c_void,
    typecode: u8,
}

/// The chunk keys and containers of one bitmap, borrowed from it.
#[derive(Clone, Copy)]
pub struct RoaringView<'a> {
    keys: &'a [u16],
    containers: &'a [*const c_void],
    typecodes: &'a [u8],
}

// SAFETY: the view only reads the bitmap it borrows, which is immutable while
// borrowed; croaring's Bitmap is itself Sync.
unsafe impl Send for RoaringView<'_> {}
unsafe impl Sync for RoaringView<'_> {}

impl<'a> RoaringView<'a> {
    /// A view of `bitmap`, or `None` where this build cannot read CRoaring's layout.
    pub fn new(bitmap: &'a Bitmap) -> Option<Self> {
        if !layout_matches() {
            return None;
        }
        // SAFETY: the layout check passed, so `Bitmap` starts with a
        // `roaring_array_t` as mirrored above.
        unsafe { Self::read(bitmap) }
    }

    /// # Safety
    /// `bitmap` must have the mirrored layout.
    unsafe fn read(bitmap: &'a Bitmap) -> Option<Self> {
        let raw = unsafe { &*(bitmap as *const Bitmap).cast::<RoaringArray>() };
        let n = usize::try_from(raw.size).ok()?;
        if n == 0 {
            return Some(RoaringView { keys: &[], containers: &[], typecodes: &[] });
        }
        if raw.keys.is_null() || raw.containers.is_null() || raw.typecodes.is_null() || raw.size > raw.allocation_size {
            return None;
        }
        // SAFETY: CRoaring keeps `size` keys, container pointers and typecodes.
        unsafe {
            Some(RoaringView {
                keys: std::slice::from_raw_parts(raw.keys, n),
                containers: std::slice::from_raw_parts(raw.containers, n),
                typecodes: std::slice::from_raw_parts(raw.typecodes, n),
            })
        }
    }

    pub fn keys(&self) -> &'a [u16] {
        self.keys
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The container at position `i` (`None` if out of range or unreadable).
    pub fn container(&self, i: usize) -> Option<ContainerRef<'a>> {
        let (mut code, mut ptr) = (*self.typecodes.get(i)?, *self.containers.get(i)?);
        if code == SHARED && !ptr.is_null() {
            // SAFETY: a shared container wraps one container of another kind.
            let shared = unsafe { &*ptr.cast::<SharedContainer>() };
            (code, ptr) = (shared.typecode, shared.container);
        }
        if ptr.is_null() {
            return None;
        }
        // SAFETY: the typecode names the struct behind the pointer; the
        // counts bound the buffers CRoaring allocated for them.
        unsafe {
            match code {
                BITSET => {
                    let c = &*ptr.cast::<BitsetContainer>();
                    (!c.words.is_null()).then(|| ContainerRef::Bitset(&*c.words.cast::<Words>()))
                }
                ARRAY => {
                    let c = &*ptr.cast::<ArrayContainer>();
                    let n = usize::try_from(c.cardinality).ok().filter(|&n| n <= 4096)?;
                    (n == 0 || !c.array.is_null())
                        .then(|| ContainerRef::Array(if n == 0 { &[] } else { std::slice::from_raw_parts(c.array, n) }))
                }
                RUN => {
                    let c = &*ptr.cast::<RunContainer>();
                    let n = usize::try_from(c.n_runs).ok().filter(|&n| n <= 32_768)?;
                    (n == 0 || !c.runs.is_null()).then(|| {
                        ContainerRef::RunLengths(if n == 0 { &[] } else { std::slice::from_raw_parts(c.runs, n) })
                    })
                }
                _ => None,
            }
        }
    }

    /// Position of `key` at or after `from` (keys ascend), for cursor scans.
    pub fn seek(&self, key: u16, from: &mut usize) -> Option<usize> {
        while *from < self.keys.len() && self.keys[*from] < key {
            *from += 1;
        }
        (self.keys.get(*from) == Some(&key)).then_some(*from)
    }
}

/// Whether the mirrored layout reads bitmaps of every container kind back
/// exactly; checked once.
fn layout_matches() -> bool {
    static MATCHES: OnceLock<bool> = OnceLock::new();
    *MATCHES.get_or_init(|| {
        let mut sample = Bitmap::new();
        sample.add_many(&[1, 5, 1000]); // array
        sample.add_range(70_000..=70_100); // run after run_optimize
        sample.add_range(140_000..=140_000 + 70_000); // long run
        for x in (200_000..265_000).step_by(3) {
            sample.add(x); // bitset
        }
        sample.run_optimize();
        let plain = {
            let mut b = Bitmap::new();
            b.add_many(&(300_000..310_000).step_by(2).collect::<Vec<_>>());
            b
        };
        [sample, plain].iter().all(|b| {
            // SAFETY: reading is what is being checked; `read` only follows
            // pointers that the mirrored layout says are there, and a wrong
            // layout shows up in the keys or counts before any payload is read.
            let Some(view) = (unsafe { RoaringView::read(b) }) else { return false };
            let expected = b.to_vec();
            let mut got = Vec::new();
            let mut words = Box::new([0u64; WORDS]);
            for (i, &key) in view.keys.iter().enumerate() {
                let Some(c) = view.container(i) else { return false };
                super::words::load(&mut words, Some(c));
                for (w, &x) in words.iter().enumerate() {
                    let mut x = x;
                    while x != 0 {
                        got.push((u32::from(key) << 16) | (w as u32) << 6 | x.trailing_zeros());
                        x &= x - 1;
                    }
                }
            }
            got == expected
        })
    })
}

/// The ids of `bitmap` in ascending order. Bitsets decode with uoseg's
/// dispatched kernel ([`super::words::push_ids`]), which follows `UOSEG_CPU`
/// as CRoaring's own dispatch in `to_vec` does not.
pub fn sorted_ids(bitmap: &Bitmap) -> Vec<u32> {
    let Some(view) = RoaringView::new(bitmap) else {
        return bitmap.to_vec();
    };
    let mut out = Vec::with_capacity(bitmap.cardinality() as usize);
    for (i, &key) in view.keys().iter().enumerate() {
        let base = u32::from(key) << 16;
        match view.container(i) {
            Some(ContainerRef::Array(lows)) => out.extend(lows.iter().map(|&x| base | u32::from(x))),
            Some(ContainerRef::Bitset(words)) => super::words::push_ids(words, base, &mut out),
            Some(runs) => {
                runs.for_each_run(|start, end| out.extend((u32::from(start)..=u32::from(end)).map(|x| base | x)))
            }
            None => return bitmap.to_vec(),
        }
    }
    out
}

/// Below this many ids [`sorted_ids_parallel`] decodes on one thread.
const PARALLEL_IDS: u64 = 1 << 17;

/// [`sorted_ids`] with the containers decoded by the calling thread and
/// uoseg's pool (`crate::parallel::assisted_for_each`): each task takes a run
/// of containers and fills its own part of the output.
/// CRoaring's `to_vec` runs on one thread (W2 Q1 ids on 2 cores: ids of a
/// 1.05 M-user audience in about half the time).
pub fn sorted_ids_parallel(bitmap: &Bitmap) -> Vec<u32> {
    let Some(view) = RoaringView::new(bitmap) else {
        return bitmap.to_vec();
    };
    let total = bitmap.cardinality();
    if total < PARALLEL_IDS || view.len() < 2 {
        return sorted_ids(bitmap);
    }
    let Some(cards) =
        (0..view.len()).map(|i| view.container(i).map(|c| c.cardinality() as usize)).collect::<Option<Vec<usize>>>()
    else {
        return bitmap.to_vec();
    };
    // Each task's part is written once, in place (no zeroing first: a
    // zeroed buffer of a million ids cost as much as decoding them).
    let mut out: Vec<u32> = Vec::with_capacity(total as usize);
    let parts = crate::parallel::split_output(&cards, &mut out.spare_capacity_mut()[..total as usize]);
    crate::parallel::assisted_for_each(parts, Vec::new, |scratch: &mut Vec<u32>, (containers, part)| {
        let mut at = 0;
        for i in containers {
            let base = u32::from(view.keys()[i]) << 16;
            let card = cards[i];
            let dst = &mut part[at..at + card];
            match view.container(i) {
                Some(ContainerRef::Array(lows)) => {
                    dst.iter_mut().zip(lows).for_each(|(d, &x)| {
                        d.write(base | u32::from(x));
                    });
                }
                Some(ContainerRef::Bitset(words)) => {
                    // In place, up to the end of the task's part.
                    super::words::write_ids(words, base, &mut part[at..], scratch);
                }
                Some(runs) => {
                    let mut k = 0;
                    runs.for_each_run(|start, end| {
                        for x in u32::from(start)..=u32::from(end) {
                            dst[k].write(base | x);
                            k += 1;
                        }
                    });
                }
                // Counted above: every container is readable.
                None => {}
            }
            at += card;
        }
    });
    // SAFETY: the parts tile 0..total and every container wrote exactly its
    // cardinality of ids into its slice (CRoaring's counts are exact).
    unsafe { out.set_len(total as usize) };
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorted_ids_match_croaring_for_every_container_kind() {
        let mut bitmap: Bitmap = (0..200_000u32).filter(|x| x % 3 == 0).collect(); // bitsets
        bitmap.add_many(&[300_000, 300_007, 400_001]); // arrays
        bitmap.add_range(500_000..520_000);
        bitmap.run_optimize(); // runs
        assert_eq!(sorted_ids(&bitmap), bitmap.to_vec());
        assert!(sorted_ids(&Bitmap::new()).is_empty());
        // Enough ids to decode in parallel, every kind in every task.
        for step in 1..4u32 {
            let mut many: Bitmap = (0..3_000_000u32).step_by(7 * step as usize).collect();
            many.add_range(4_000_000..4_300_000);
            many.add_many(&[5_000_000, 5_000_007]);
            many.run_optimize();
            assert_eq!(sorted_ids_parallel(&many), many.to_vec(), "step {step}");
        }
        assert_eq!(sorted_ids_parallel(&bitmap), bitmap.to_vec());
        assert!(sorted_ids_parallel(&Bitmap::new()).is_empty());
    }

    use super::*;

    #[test]
    fn the_layout_of_this_croaring_is_understood() {
        assert!(layout_matches());
        let b = Bitmap::of(&[7, 65_536 + 9]);
        let view = RoaringView::new(&b).unwrap();
        assert_eq!(view.keys(), &[0, 1]);
        assert!(matches!(view.container(1), Some(ContainerRef::Array(&[9]))));
        let empty = Bitmap::new();
        assert!(RoaringView::new(&empty).unwrap().is_empty());
    }
}
