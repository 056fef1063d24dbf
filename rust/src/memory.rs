//! Large working tables that are read and written at random (per-customer
//! totals, lookup tables) are backed by 2 MiB pages where the kernel offers
//! them on request (Linux transparent huge pages in "madvise" mode): with 4 KiB
//! pages every random access to a few hundred MB also misses the TLB, and the
//! page walks, not the memory, set the pace.

/// Zero-filled `n` values of a type for which all-zero bytes are valid.
///
/// The memory comes straight from the allocator (for large tables, fresh
/// zero pages that nobody has touched), is advised for huge pages, and is
/// first touched by whichever threads fill it.
///
/// # Safety
/// All-zero bytes must be a valid value of `T`.
pub unsafe fn zeroed_vec<T>(n: usize) -> Option<Vec<T>> {
    if n == 0 || std::mem::size_of::<T>() == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<T>(n).ok()?;
    // SAFETY: the layout has a non-zero size; the caller vouches that zeroed
    // memory holds `n` valid values, and `Vec` frees it with this same layout.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout).cast::<T>();
        if ptr.is_null() {
            return None;
        }
        let mut v = Vec::from_raw_parts(ptr, n, n);
        advise_huge_pages(&mut v);
        Some(v)
    }
}

/// Plain numbers whose all-zero bytes are the value zero.
///
/// # Safety
/// All-zero bytes must be a valid value of the implementing type.
pub unsafe trait Zeroable: Copy + Send + Sync {
    const ZERO: Self;
}

macro_rules! zeroable {
    ($($t:ty),*) => {$(
        // SAFETY: all-zero bytes are 0 (0.0 for floats).
        unsafe impl Zeroable for $t {
            const ZERO: Self = 0 as $t;
        }
    )*};
}
zeroable!(u8, u16, i16, u32, i64, u64, f64);

/// A zeroed output column of `n` numbers that is about to be written in
/// full: advised for huge pages and faulted in up front on every thread.
/// Freshly mapped 4 KiB pages cost more than writing them here: a 6 MB
/// column of bytes took 1,500 page faults in the middle of its fill.
pub fn output_column<T: Zeroable>(n: usize) -> Vec<T> {
    // SAFETY: the `Zeroable` contract.
    let mut column = unsafe { zeroed_vec(n) }.unwrap_or_else(|| vec![T::ZERO; n]);
    populate(&mut column);
    column
}

/// Asks the kernel to back the whole 2 MiB pages inside `memory` with huge
/// pages. Only advice: nothing changes if the kernel declines.
pub fn advise_huge_pages<T>(memory: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = memory.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(memory);
        let (first, last) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if last > first {
            // SAFETY: the range lies inside `memory`, which we borrow mutably;
            // MADV_HUGEPAGE changes how pages are backed, never their contents.
            unsafe {
                libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = memory;
}

/// Hints the CPU to start loading `item`'s cache line: loops that visit a
/// big table at random (one customer per row of a log) prefetch a few dozen
/// rows ahead, so that many misses are in flight instead of one.
#[inline(always)]
pub fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching reads nothing architecturally and cannot fault.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((item as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// Pre-faults the whole pages of a large, freshly allocated buffer that is
/// about to be filled, in one call per thread (Linux `MADV_POPULATE_WRITE`):
/// taking 20,000 separate page faults for an 80 MB output cost about a third
/// of a 10 M-value `qcut`. Only advice: nothing changes where unsupported.
pub fn populate<T: Send>(memory: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        const MIN_BYTES: usize = 4 << 20;
        if std::mem::size_of_val(memory) < MIN_BYTES {
            return;
        }
        let start = memory.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(memory);
        let (first, last) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
        let parts = crate::parallel::num_threads().max(1);
        let step = (last - first).div_ceil(parts).next_multiple_of(PAGE);
        let ranges: Vec<(usize, usize)> =
            (first..last).step_by(step.max(PAGE)).map(|a| (a, (a + step).min(last))).collect();
        rayon::scope(|scope| {
            for (a, b) in ranges {
                scope.spawn(move |_| {
                    // SAFETY: the range lies inside `memory`, which we borrow
                    // mutably; populating writes zero pages only where no page
                    // is mapped yet, so contents never change.
                    unsafe {
                        libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_POPULATE_WRITE);
                    }
                });
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = memory;
}
