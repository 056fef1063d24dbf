//! The PyO3 bindings: the only code that knows Python. Everything here converts
//! arguments, releases the GIL around core calls and converts results back.

mod audience;
mod bucket;
mod errors;
mod export;
mod rfm;
mod store;

use pyo3::prelude::*;

pub use audience::PyAudience;
pub use store::PyStore;

/// Run core work with the GIL released on the calling thread, turning a panic
/// into a `uoseg.InternalError` instead of letting it reach Python. Set
/// operations and queries run here: handing them to a pool thread would cost
/// more than most of them take.
pub(crate) fn released<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> crate::Result<T> + Send,
{
    let outcome = py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)));
    match outcome {
        Ok(result) => result.map_err(PyErr::from),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(crate::Error::Internal(message).into())
        }
    }
}

/// As [`released`], for work that fans out: it runs on uoseg's own pool
/// (`UOSEG_NUM_THREADS`), never on a host application's global rayon pool.
pub(crate) fn released_parallel<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> crate::Result<T> + Send,
{
    released(py, || crate::parallel::install(work))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAudience>()?;
    m.add_class::<PyStore>()?;
    m.add_class::<export::PyExport>()?;
    m.add_function(wrap_pyfunction!(audience::union, m)?)?;
    m.add_function(wrap_pyfunction!(audience::intersection, m)?)?;
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(thread_setting_problem, m)?)?;
    m.add_function(wrap_pyfunction!(cpu_paths, m)?)?;
    m.add_function(wrap_pyfunction!(set_cpu_paths, m)?)?;
    m.add_function(wrap_pyfunction!(canonical, m)?)?;
    m.add_function(wrap_pyfunction!(lint, m)?)?;
    m.add_function(wrap_pyfunction!(bucket::qcut, m)?)?;
    m.add_function(wrap_pyfunction!(bucket::cut, m)?)?;
    m.add_function(wrap_pyfunction!(bucket::ntile, m)?)?;
    m.add_function(wrap_pyfunction!(rfm::rfm_scores, m)?)?;
    m.add("FORMAT_VERSION", crate::persist::FORMAT_VERSION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// Number of threads in uoseg's pool (`UOSEG_NUM_THREADS`, default all cores).
#[pyfunction]
fn num_threads() -> usize {
    crate::parallel::num_threads()
}

/// Why `UOSEG_NUM_THREADS` was not taken as it is (the pool then uses a sane
/// size), or `None`; the package warns with it on import.
#[pyfunction]
fn thread_setting_problem() -> Option<String> {
    crate::parallel::setting().problem.clone()
}

/// The instruction-set paths this process takes: `(level, features, problem)`,
/// the `UOSEG_CPU` level (native, avx2 or scalar), the features kernels may
/// use under it, and why the variable was not taken as it is, if it was not.
#[pyfunction]
fn cpu_paths() -> (&'static str, Vec<&'static str>, Option<&'static str>) {
    (crate::cpu::level().name(), crate::cpu::features().names(), crate::cpu::problem())
}

/// Sets the instruction-set level of this process from now on, over
/// `UOSEG_CPU` (`None`: back to the variable's); returns the level before.
#[pyfunction]
#[pyo3(signature = (level))]
fn set_cpu_paths(level: Option<&str>) -> PyResult<&'static str> {
    let level = match level {
        None => None,
        Some(name) => Some(crate::cpu::Level::from_name(name).ok_or_else(|| {
            crate::error::Error::invalid(format!("CPU level {name:?} is not one of native, avx2, scalar"))
        })?),
    };
    Ok(crate::cpu::set_level(level).name())
}

/// Static findings about a query without a store (see `PyStore::lint`).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn lint(text: &str) -> PyResult<(Vec<(&'static str, String, usize, usize)>, &'static str)> {
    let (findings, verdict) = crate::query::lint_text(None, text)?;
    Ok(lint_rows(findings, verdict))
}

/// Findings as plain rows for Python.
#[allow(clippy::type_complexity)]
pub(crate) fn lint_rows(
    findings: Vec<crate::query::lint::Located>,
    verdict: crate::query::lint::Verdict,
) -> (Vec<(&'static str, String, usize, usize)>, &'static str) {
    use crate::query::lint::Verdict;
    let rows = findings.into_iter().map(|l| (l.finding.kind.name(), l.finding.message, l.start, l.end)).collect();
    let verdict = match verdict {
        Verdict::Empty => "empty",
        Verdict::All => "all",
        Verdict::Unknown => "unknown",
    };
    (rows, verdict)
}

/// The canonical DSL text of a query: it parses back to an equal query.
#[pyfunction]
fn canonical(text: &str) -> PyResult<String> {
    Ok(crate::query::canonical(text)?)
}
