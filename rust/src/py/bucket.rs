//! Bindings of quantile bucketing (`qcut`, `cut`, `ntile`).

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3_arrow::PyChunkedArray;
use rayon::prelude::*;

use super::released_parallel;
use crate::error::{Error, Result};
use crate::ingest::{self, NumericValues};
use crate::quantile::{self, Duplicates, MAX_EXACT_INTEGER};
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

/// Values as f64 with NaN for nulls; integers beyond 2^53 cannot be bucketed exactly.
fn float_values<'a>(chunks: &'a [ArrayRef], name: &str) -> Result<Cow<'a, [f64]>> {
    // Fast paths: float64 without nulls is read in place (one chunk, e.g. a
    // NumPy array) or copied straight from the buffers.
    if chunks.iter().all(|c| c.data_type() == &DataType::Float64 && c.logical_nulls().is_none()) {
        if let [only] = chunks {
            return Ok(Cow::Borrowed(only.as_primitive::<arrow_array::types::Float64Type>().values()));
        }
        let mut out = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
        for chunk in chunks {
            out.par_extend(chunk.as_primitive::<arrow_array::types::Float64Type>().values().par_iter().copied());
        }
        return Ok(Cow::Owned(out));
    }
    let (_, values, valid) = ingest::numeric_values(chunks, name)?;
    let mut out: Vec<f64> = match values {
        NumericValues::Float(v) => v,
        NumericValues::Int(v) => {
            if let Some(i) = v
                .iter()
                .enumerate()
                .position(|(i, x)| x.unsigned_abs() > MAX_EXACT_INTEGER && valid.as_ref().is_none_or(|ok| ok[i]))
            {
                return Err(Error::invalid(format!(
                    "{name}: value {} at position {i} is beyond 2^53 and has no exact float; pandas would round it",
                    v[i]
                )));
            }
            v.iter().map(|&x| x as f64).collect()
        }
    };
    if let Some(valid) = valid {
        out.iter_mut().zip(valid).filter(|(_, ok)| !ok).for_each(|(x, _)| *x = f64::NAN);
    }
    Ok(Cow::Owned(out))
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
    let binned = released_parallel(py, || bucket(&float_values(&values, "x")?))?;
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
    let codes = released_parallel(py, || crate::rank::ntile(&float_values(&values, "x")?, q, how))?;
    Ok(PyArray1::from_vec(py, codes))
}
