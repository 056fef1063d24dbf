//! uoseg's own rayon pool, sized by `UOSEG_NUM_THREADS` (default: all cores), so
//! that uoseg never competes with a host application's global rayon pool.

use std::sync::OnceLock;

/// The most threads `UOSEG_NUM_THREADS` may ask for, per core: beyond a few
/// per core, threads only add contention (and 100,000 of them take minutes to
/// start).
pub const MAX_THREADS_PER_CORE: usize = 4;

/// The pool size that `UOSEG_NUM_THREADS` asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadSetting {
    /// Threads to start.
    pub threads: usize,
    /// Why the variable was not taken as it is (for a warning), if it was not.
    pub problem: Option<String>,
}

/// Read a `UOSEG_NUM_THREADS` value: a positive integer, at most
/// [`MAX_THREADS_PER_CORE`] × `cores`. Anything else falls back to `cores`
/// (or to the cap) and says why.
pub fn thread_setting(value: Option<&str>, cores: usize) -> ThreadSetting {
    let cores = cores.max(1);
    let cap = cores * MAX_THREADS_PER_CORE;
    let Some(raw) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return ThreadSetting { threads: cores, problem: None };
    };
    match raw.parse::<i64>() {
        Ok(n) if n >= 1 && n as u64 <= cap as u64 => ThreadSetting { threads: n as usize, problem: None },
        Ok(n) if n >= 1 => ThreadSetting {
            threads: cap,
            problem: Some(format!(
                "UOSEG_NUM_THREADS={raw} is more than {MAX_THREADS_PER_CORE} threads per core ({cores} cores); \
                 using {cap}"
            )),
        },
        _ => ThreadSetting {
            threads: cores,
            problem: Some(format!(
                "UOSEG_NUM_THREADS={raw:?} is not a positive whole number of threads; using {cores} (one per core)"
            )),
        },
    }
}

/// The checked `UOSEG_NUM_THREADS` of this process, read once.
pub fn setting() -> &'static ThreadSetting {
    static SETTING: OnceLock<ThreadSetting> = OnceLock::new();
    SETTING.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        thread_setting(std::env::var("UOSEG_NUM_THREADS").ok().as_deref(), cores)
    })
}

static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();

fn pool() -> Option<&'static rayon::ThreadPool> {
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(setting().threads)
            .thread_name(|i| format!("uoseg-{i}"))
            .build()
            .ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_setting_is_checked_and_capped() {
        assert_eq!(thread_setting(None, 2), ThreadSetting { threads: 2, problem: None });
        assert_eq!(thread_setting(Some(" 3 "), 2), ThreadSetting { threads: 3, problem: None });
        assert_eq!(thread_setting(Some("8"), 2).problem, None);
        let capped = thread_setting(Some("100000"), 2);
        assert_eq!(capped.threads, 8);
        assert!(capped.problem.is_some_and(|p| p.contains("using 8")));
        for bad in ["0", "-1", "abc", "1.5"] {
            let setting = thread_setting(Some(bad), 2);
            assert_eq!(setting.threads, 2, "{bad}");
            assert!(setting.problem.is_some_and(|p| p.contains("not a positive whole number")), "{bad}");
        }
    }
}
