//! uoseg's own rayon pool, sized by `UOSEG_NUM_THREADS` (default: all cores), so
//! that uoseg never competes with a host application's global rayon pool.
//!
//! [`assisted_map`] and [`assisted_for_each`] run millisecond work on the
//! calling thread with the pool's threads joining as they wake, instead of
//! handing it to the pool and waiting: waking a sleeping pool took about
//! 100 µs a hand-off on a 2-core virtual machine (15-20 µs while its threads
//! still spun), and a query's ids handed off three times, so Q1's ids took
//! 2.5 ms after 10 ms idle against 1 ms back to back.

use std::any::Any;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

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

/// Items grouped into runs of consecutive ones with about equal totals of
/// `counts` (about four runs a thread), each run with its own part of `out`:
/// the parts tile `out` in order, a run's part as long as its counts' sum.
/// Parallel decoders fill them in place, each task its own part, with no
/// zeroing first and no joining after.
///
/// `out` must be as long as the sum of `counts`.
pub fn split_output<'o, T>(
    counts: &[usize],
    out: &'o mut [MaybeUninit<T>],
) -> Vec<(std::ops::Range<usize>, &'o mut [MaybeUninit<T>])> {
    let total: usize = counts.iter().sum();
    debug_assert_eq!(total, out.len());
    let per_task = total.div_ceil(4 * num_threads().max(1)).max(1);
    let mut tasks = Vec::new();
    let (mut rest, mut first, mut sum) = (out, 0, 0);
    for (i, &count) in counts.iter().enumerate() {
        sum += count;
        if sum >= per_task || i + 1 == counts.len() {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(sum);
            tasks.push((first..i + 1, part));
            (rest, first, sum) = (tail, i + 1, 0);
        }
    }
    tasks
}

/// Set in [`Assist::state`] once the caller has finished: helpers that start
/// later return without touching the work.
const CLOSED: usize = 1 << (usize::BITS - 1);

/// The shared state of one assisted run: the work (its lifetime erased, see
/// [`assisted`]), how many helpers are inside it, and a helper's panic.
struct Assist {
    /// [`CLOSED`] | the number of helpers running `work`.
    state: AtomicUsize,
    work: *const (dyn Fn() + Sync + 'static),
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

// SAFETY: `work` points to a `Sync` closure, only called while the caller of
// `assisted` keeps it alive (see there); the rest is atomics and a mutex.
unsafe impl Send for Assist {}
unsafe impl Sync for Assist {}

impl Assist {
    /// A pool thread's turn: enter unless closed, run the work, leave.
    fn help(&self) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & CLOSED != 0 {
                return;
            }
            match self.state.compare_exchange_weak(state, state + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        // SAFETY: entered before CLOSED was set, so the caller is still in
        // `assisted` and waits for us to leave: `work` is alive.
        let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { (*self.work)() }));
        if let Err(panic) = outcome {
            if let Ok(mut first) = self.panic.lock() {
                first.get_or_insert(panic);
            }
        }
        self.state.fetch_sub(1, Ordering::Release);
    }

    /// Shut late helpers out and wait for those inside the work to leave.
    fn close_and_wait(&self) {
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        let mut spins = 0u32;
        while self.state.load(Ordering::Acquire) & !CLOSED != 0 {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Closes the run when the caller's share ends, also by a panic.
struct CloseOnDrop<'a>(&'a Assist);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close_and_wait();
    }
}

/// Runs `work` on the calling thread and on up to `helpers` pool threads at
/// once; `work` takes its items from a shared counter until none are left.
/// Returns when the caller's call has and every helper that started has
/// returned; helpers that start later do nothing. A helper's panic is
/// raised again here.
fn assisted(work: &(dyn Fn() + Sync), helpers: usize) {
    let pool = match pool() {
        Some(pool) if helpers > 0 => pool,
        _ => return work(),
    };
    // SAFETY: only the lifetime is erased. Helpers call `work` only after
    // entering, which `close_and_wait` forbids from the moment it starts,
    // and it returns only once every helper that entered has left; it runs
    // before this function returns or unwinds (`CloseOnDrop`).
    let work: *const (dyn Fn() + Sync + 'static) = unsafe { std::mem::transmute(work as *const (dyn Fn() + Sync)) };
    let assist = Arc::new(Assist { state: AtomicUsize::new(0), work, panic: Mutex::new(None) });
    for _ in 0..helpers.min(pool.current_num_threads()) {
        let assist = Arc::clone(&assist);
        pool.spawn(move || assist.help());
    }
    {
        let _close = CloseOnDrop(&assist);
        // SAFETY: `work` is the caller's own closure, alive in this frame.
        unsafe { (*assist.work)() };
    }
    let panic = assist.panic.lock().ok().and_then(|mut first| first.take());
    if let Some(panic) = panic {
        resume_unwind(panic);
    }
}

/// `[f(0), …, f(n - 1)]`, computed by the calling thread with the pool's
/// threads joining as they wake (see the module docs).
pub fn assisted_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = slots.get(i) else { break };
        let value = f(i);
        *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(value);
    };
    assisted(&work, n.saturating_sub(1));
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()).expect("every index was computed")
        })
        .collect()
}

/// `f(&mut state, item)` for every item, on the calling thread and the
/// pool's threads as they wake, each with its own `init()` state.
pub fn assisted_for_each<I: Send, S>(items: Vec<I>, init: impl Fn() -> S + Sync, f: impl Fn(&mut S, I) + Sync) {
    let n = items.len();
    let items: Vec<Mutex<Option<I>>> = items.into_iter().map(|item| Mutex::new(Some(item))).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        let mut state = None;
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = items.get(i) else { break };
            // Never skipped, even past a poisoned lock (none is held across
            // a call that could panic): callers rely on every item running.
            let Some(item) = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() else { continue };
            f(state.get_or_insert_with(&init), item);
        }
    };
    assisted(&work, n.saturating_sub(1));
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
    fn assisted_map_gives_every_result_in_order() {
        for n in [0usize, 1, 2, 3, 64, 1000] {
            for _ in 0..20 {
                let got = assisted_map(n, |i| {
                    if i % 7 == 0 {
                        std::thread::sleep(std::time::Duration::from_micros(20));
                    }
                    i * i
                });
                assert_eq!(got, (0..n).map(|i| i * i).collect::<Vec<_>>(), "{n}");
            }
        }
    }

    #[test]
    fn split_output_tiles_the_output_in_runs_of_consecutive_items() {
        let mut random = crate::test_random::Rng::new(16);
        for n in [0usize, 1, 2, 7, 300] {
            let counts: Vec<usize> = (0..n).map(|_| random.below(5_000) as usize).collect();
            let total: usize = counts.iter().sum();
            let mut out: Vec<MaybeUninit<u32>> = (0..total).map(|_| MaybeUninit::uninit()).collect();
            let start = out.as_ptr() as usize;
            let tasks = split_output(&counts, &mut out);
            let (mut item, mut at) = (0, 0);
            for (run, part) in &tasks {
                assert_eq!(run.start, item, "runs are consecutive");
                assert_eq!(part.len(), counts[run.clone()].iter().sum::<usize>());
                assert_eq!(part.as_ptr() as usize, start + at * 4, "parts tile the output in order");
                (item, at) = (run.end, at + part.len());
            }
            assert_eq!((item, at), (n, total));
            assert!(tasks.len() <= n.min(4 * num_threads() + 1));
        }
    }

    #[test]
    fn assisted_for_each_takes_every_item_once() {
        let items: Vec<usize> = (0..500).collect();
        let seen: Vec<AtomicUsize> = (0..500).map(|_| AtomicUsize::new(0)).collect();
        let states = AtomicUsize::new(0);
        assisted_for_each(
            items,
            || states.fetch_add(1, Ordering::Relaxed),
            |_, i| {
                seen[i].fetch_add(1, Ordering::Relaxed);
            },
        );
        assert!(seen.iter().all(|s| s.load(Ordering::Relaxed) == 1));
        assert!((1..=1 + num_threads()).contains(&states.load(Ordering::Relaxed)));
    }

    #[test]
    fn a_panic_in_assisted_work_reaches_the_caller_after_the_helpers_left() {
        for bad in [0usize, 5, 99] {
            let outcome = catch_unwind(|| {
                assisted_map(100, |i| {
                    std::thread::sleep(std::time::Duration::from_micros(10));
                    assert!(i != bad, "item {i} failed");
                    i
                })
            });
            let panic = outcome.expect_err("the panic comes back");
            let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(message.contains(&format!("item {bad} failed")), "{message}");
        }
    }

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
