//! Bindings of quantile bucketing (`qcut`, `cut`, `ntile`).

use arrow_array::ArrayRef;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3_arrow::PyChunkedArray;

use super::released_parallel;
use crate::error::{Error, Result};
use crate::ingest;
use crate::quantile::{self, Duplicates};
use crate::rank::Ties;

fn duplicates(mode: &str) -> Result<Duplicates> {
    match mode {
        "raise" => Ok(Duplicates::Raise),
        "drop" => Ok(Duplicates::Drop),
        other => Err(Error::invalid(format!("duplicates must be \"raise\" or \"drop\", got {other:?}"))),
    }
}

pub(super) fn ties(mode: &str) -> Result<Ties> {
    match mode {
        "first" => Ok(Ties::First),
        "min" => Ok(Ties::Min),
        other => Err(Error::invalid(format!("ties must be \"first\" or \"min\", got {other:?}"))),
    }
}

pub(super) fn chunks(array: PyChunkedArray) -> Vec<ArrayRef> {
    array.into_inner().0
}

type Coded<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f64>>);

/// pandas.qcut(x, probs) with labels=False and retbins=True: (codes, edges).
#[pyfunction]
pub fn qcut<'py>(
    py: Python<'py>,
    values: PyChunkedArray,
    probs: Vec<f64>,
    duplicates_mode: &str,
) -> PyResult<Coded<'py>> {
    let mode = duplicates(duplicates_mode)?;
    binned(py, values, |x| quantile::qcut(x, &probs, mode))
}

/// Read the values as floats, bucket them off the GIL, hand back (codes, edges).
fn binned<'py>(
    py: Python<'py>,
    values: PyChunkedArray,
    bucket: impl FnOnce(&[f64]) -> Result<quantile::Binned> + Send,
) -> PyResult<Coded<'py>> {
    let values = chunks(values);
    let binned = released_parallel(py, || bucket(&ingest::float_values(&values, "x")?))?;
    Ok((PyArray1::from_vec(py, binned.codes), PyArray1::from_vec(py, binned.edges)))
}

/// pandas.cut(x, bins=edges, right=..., include_lowest=..., labels=False).
#[pyfunction]
pub fn cut<'py>(
    py: Python<'py>,
    values: PyChunkedArray,
    edges: Vec<f64>,
    right: bool,
    include_lowest: bool,
    duplicates_mode: &str,
) -> PyResult<Coded<'py>> {
    let mode = duplicates(duplicates_mode)?;
    binned(py, values, |x| quantile::cut(x, &edges, right, include_lowest, mode))
}

/// Rank-based equal-frequency buckets.
#[pyfunction]
pub fn ntile<'py>(
    py: Python<'py>,
    values: PyChunkedArray,
    q: usize,
    ties_mode: &str,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let values = chunks(values);
    let how = ties(ties_mode)?;
    let codes = released_parallel(py, || crate::rank::ntile(&ingest::float_values(&values, "x")?, q, how))?;
    Ok(PyArray1::from_vec(py, codes))
}
