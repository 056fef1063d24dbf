//! `uoseg._core.ExportBatches`: the record batches of one export, made one at a
//! time with the GIL released (`export::Export`), for pyarrow's writers.

use std::sync::{Arc, Mutex, TryLockError};

use croaring::Bitmap;
use pyo3::prelude::*;
use pyo3_arrow::{PyRecordBatch, PySchema};

use super::audience::PyAudience;
use super::{released, released_parallel};
use crate::error::Error;
use crate::export::Export;
use crate::store::Store;

#[pyclass(frozen, module = "uoseg._core", name = "ExportBatches")]
pub struct PyExport {
    inner: Mutex<Export>,
    rows: u64,
}

impl PyExport {
    pub fn new(export: Export, rows: u64) -> Self {
        PyExport { inner: Mutex::new(export), rows }
    }

    /// The export, if no other thread is using it. Never blocks: a thread
    /// waiting here would hold the GIL that the working thread needs back.
    fn take(&self) -> PyResult<std::sync::MutexGuard<'_, Export>> {
        self.inner.try_lock().map_err(|err| match err {
            TryLockError::WouldBlock => {
                Error::invalid("this export is being written by another thread; use one export per thread").into()
            }
            TryLockError::Poisoned(_) => Error::Internal("export poisoned".into()).into(),
        })
    }
}

#[pymethods]
impl PyExport {
    /// The pyarrow schema every batch has.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let schema = self.take()?.schema();
        PySchema::new(schema).into_pyarrow(py)
    }

    /// The rows all batches hold together (the audience's users).
    #[getter]
    fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the batches not yet taken to a new Parquet file at `path` (see
    /// `parquet_file`); returns the rows written.
    fn write_parquet(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<u64> {
        let mut export = self.take()?;
        let export: &mut Export = &mut export;
        released_parallel(py, || crate::parquet_file::write(export, &path))
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mut export = self.take()?;
        let export: &mut Export = &mut export;
        let batch = released(py, || export.next_batch())?;
        batch.map(|batch| PyRecordBatch::new(batch).into_pyarrow(py)).transpose()
    }
}

/// The dense ids of `audience` when it is an audience of `store` (or of an
/// earlier snapshot of it); `what` names it in the error otherwise.
pub fn of_store(py: Python<'_>, store: &Store, audience: &PyAudience, what: &str) -> PyResult<Arc<Bitmap>> {
    let bitmap = audience.bitmap(py)?.clone();
    let ids = store.ids();
    let foreign = match audience.id_space() {
        None => !matches!(ids.kind(), crate::ids::IdKind::UInt32 | crate::ids::IdKind::Auto),
        Some(theirs) => !theirs.compatible(ids),
    };
    if foreign {
        return Err(Error::invalid(format!(
            "{what} is an audience of another store (its user ids are another dictionary); take it from this store"
        ))
        .into());
    }
    if let Some(outsider) = released(py, || Ok(bitmap.andnot(&store.universe().users).minimum()))? {
        return Err(Error::invalid(format!(
            "{what} holds user {}, who is not a user of this store (an audience of another store or of a later \
             snapshot?)",
            audience.describe(outsider)
        ))
        .into());
    }
    Ok(bitmap)
}
