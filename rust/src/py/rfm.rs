//! Binding of RFM scoring: hands the log's three Arrow columns to
//! `rfm::score_columns` and returns NumPy arrays for the Python layer to
//! assemble into a table.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyChunkedArray;

use super::bucket::{chunks, ties};
use super::released_parallel;
use crate::rfm::{self, CustomerIds, Monetary, Scored};

/// RFM aggregation and scores. Returns a dict of NumPy arrays plus metadata;
/// the Python layer assembles the table and names the segments.
#[pyfunction]
#[pyo3(signature = (users, ts, amount, as_of, bins, ties_mode, columns, cells=None))]
#[allow(clippy::too_many_arguments)]
pub fn rfm_scores<'py>(
    py: Python<'py>,
    users: PyChunkedArray,
    ts: PyChunkedArray,
    amount: PyChunkedArray,
    as_of: i64,
    bins: usize,
    ties_mode: &str,
    columns: (String, String, String),
    cells: Option<PyReadonlyArray1<'py, i16>>,
) -> PyResult<Bound<'py, PyDict>> {
    let cells: Option<Vec<i16>> = cells.map(|c| c.as_array().to_vec());
    let (users, ts, amount) = (chunks(users), chunks(ts), chunks(amount));
    let how = ties(ties_mode)?;
    let (user_column, ts_column, amount_column) = columns;
    let scored = released_parallel(py, || {
        rfm::score_columns(
            users,
            ts,
            amount,
            (&user_column, &ts_column, &amount_column),
            as_of,
            bins,
            how,
            cells.as_deref(),
        )
    })?;
    let Scored { users, aggregated, monetary, scale, scores, labels } = scored;
    let out = PyDict::new(py);
    match users {
        Some(CustomerIds::U32(ids)) => out.set_item("users", PyArray1::from_vec(py, ids))?,
        Some(CustomerIds::I64(ids)) => out.set_item("users", PyArray1::from_vec(py, ids))?,
        Some(CustomerIds::U64(ids)) => out.set_item("users", PyArray1::from_vec(py, ids))?,
        None => {}
    }
    out.set_item("first_row", PyArray1::from_vec(py, aggregated.first_row))?;
    out.set_item("recency_days", PyArray1::from_vec(py, aggregated.recency_days))?;
    out.set_item("frequency", PyArray1::from_vec(py, aggregated.frequency))?;
    match monetary {
        Monetary::Int(sums) => {
            out.set_item("monetary", PyArray1::from_vec(py, sums))?;
            let kind = if scale.is_some() { "decimal" } else { "int" };
            out.set_item("monetary_kind", kind)?;
        }
        // `in_units` leaves no cents.
        Monetary::Cents(sums) | Monetary::Float(sums) => {
            out.set_item("monetary", PyArray1::from_vec(py, sums))?;
            out.set_item("monetary_kind", "float")?;
        }
    }
    out.set_item("scale", scale)?;
    out.set_item("r", PyArray1::from_vec(py, scores.r))?;
    out.set_item("f", PyArray1::from_vec(py, scores.f))?;
    out.set_item("m", PyArray1::from_vec(py, scores.m))?;
    out.set_item("levels", scores.levels)?;
    if let Some(digits) = labels.digits {
        out.set_item("digits", PyArray1::from_vec(py, digits))?;
    }
    if let Some(segments) = labels.segments {
        out.set_item("segments", PyArray1::from_vec(py, segments))?;
    }
    Ok(out)
}
