//! uoseg's own rayon pool, sized by `UOSEG_NUM_THREADS` (default: all cores), so
//! that uoseg never competes with a host application's global rayon pool.

use std::sync::OnceLock;

static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();

fn pool() -> Option<&'static rayon::ThreadPool> {
    POOL.get_or_init(|| {
        let threads = std::env::var("UOSEG_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(0);
        rayon::ThreadPoolBuilder::new().num_threads(threads).thread_name(|i| format!("uoseg-{i}")).build().ok()
    })
    .as_ref()
}

/// Run `work` inside the uoseg pool (falls back to the caller's pool if the
/// pool could not be created).
pub fn install<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    match pool() {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

pub fn num_threads() -> usize {
    pool().map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
}

/// Split `0..len` into contiguous ranges of about `min_len` or more, a few per thread.
pub fn ranges(len: usize, min_len: usize) -> Vec<std::ops::Range<usize>> {
    let parts = (len / min_len.max(1)).clamp(1, num_threads() * 4);
    let step = len.div_ceil(parts).max(1);
    (0..len).step_by(step).map(|start| start..(start + step).min(len)).collect()
}

/// A raw pointer that may cross threads: used where parallel tasks write disjoint
/// index ranges of one buffer that was sized up front (counting-sort scatter).
#[derive(Clone, Copy)]
pub struct SharedMut<T>(*mut T);

unsafe impl<T: Send> Send for SharedMut<T> {}
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    pub fn new(slice: &mut [T]) -> Self {
        SharedMut(slice.as_mut_ptr())
    }

    /// # Safety
    /// `index` is in bounds of the slice this was made from, and no other task
    /// writes the same index.
    pub unsafe fn write(self, index: usize, value: T) {
        unsafe { self.0.add(index).write(value) }
    }
}
