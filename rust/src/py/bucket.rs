//! Bindings of quantile bucketing (`qcut`, `cut`, `ntile`) and RFM scoring.

use arrow_array::cast::AsArray;
use arrow_array::types::Decimal128Type;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyChunkedArray;
use rayon::prelude::*;

use super::released_parallel;
use crate::error::{Error, Result};
use crate::ingest::{self, encode_strings, is_string_type, Logical, NumericValues};
use crate::quantile::{self, BucketError, Duplicates, MAX_EXACT_INTEGER};
use crate::rank::Ties;
use crate::rfm::{self, Amounts, Monetary};

fn duplicates(mode: &str) -> Result<Duplicates> {
    match mode {
        "raise" => Ok(Duplicates::Raise),
        "drop" => Ok(Duplicates::Drop),
        other => Err(Error::invalid(format!("duplicates must be \"raise\" or \"drop\", got {other:?}"))),
    }
}

fn ties(mode: &str) -> Result<Ties> {
    match mode {
        "first" => Ok(Ties::First),
        "min" => Ok(Ties::Min),
        other => Err(Error::invalid(format!("ties must be \"first\" or \"min\", got {other:?}"))),
    }
}

/// Bucketing errors: duplicate edges get their own exception class.
pub struct BucketFailure(pub BucketError);

impl From<BucketFailure> for PyErr {
    fn from(failure: BucketFailure) -> PyErr {
        let message = failure.0.to_string();
        match failure.0 {
            BucketError::DuplicateEdges { .. } => Python::attach(|py| {
                py.import("uoseg.errors")
                    .and_then(|m| m.getattr("DuplicateEdgesError"))
                    .and_then(|class| class.call1((message.clone(),)))
                    .map(PyErr::from_value)
                    .unwrap_or_else(|e| e)
            }),
            BucketError::InvalidInput(m) => Error::InvalidInput(m).into(),
        }
    }
}

/// Values as f64 with NaN for nulls; integers beyond 2^53 cannot be bucketed exactly.
fn float_values(chunks: &[ArrayRef], name: &str) -> Result<Vec<f64>> {
    // Fast path: float64 without nulls is copied straight from the buffers.
    if chunks.iter().all(|c| c.data_type() == &DataType::Float64 && c.logical_nulls().is_none()) {
        let mut out = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
        for chunk in chunks {
            out.par_extend(chunk.as_primitive::<arrow_array::types::Float64Type>().values().par_iter().copied());
        }
        return Ok(out);
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
    Ok(out)
}

fn chunks(array: PyChunkedArray) -> Vec<ArrayRef> {
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
    bucket: impl FnOnce(&[f64]) -> std::result::Result<quantile::Binned, BucketError> + Send,
) -> PyResult<Coded<'py>> {
    let values = chunks(values);
    let binned = released_parallel(py, || Ok(bucket(&float_values(&values, "x")?)))?.map_err(BucketFailure)?;
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
    let codes = released_parallel(py, || {
        let x = float_values(&values, "x")?;
        Ok(crate::rank::ntile(&x, q, how))
    })?
    .map_err(BucketFailure)?;
    Ok(PyArray1::from_vec(py, codes))
}

fn first_null(chunks: &[ArrayRef], column: &str) -> Result<()> {
    let mut base = 0;
    for chunk in chunks {
        if let Some(nulls) = chunk.logical_nulls() {
            if let Some(row) = nulls.iter().position(|ok| !ok) {
                return Err(Error::invalid(format!("column '{column}' has a null at row {}", base + row)));
            }
        }
        base += chunk.len();
    }
    Ok(())
}

/// Timestamps (or dates) as microseconds since the epoch.
fn micros(chunks: &[ArrayRef], column: &str) -> Result<Vec<i64>> {
    first_null(chunks, column)?;
    // Fast path for the usual log: whole seconds, read straight from the buffers.
    if chunks.iter().all(|c| matches!(c.data_type(), DataType::Timestamp(arrow_schema::TimeUnit::Second, _))) {
        let mut out = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
        for chunk in chunks {
            let seconds = chunk.as_primitive::<arrow_array::types::TimestampSecondType>().values();
            out.par_extend(seconds.par_iter().map(|s| s.saturating_mul(1_000_000)));
        }
        return Ok(out);
    }
    let (logical, values, _) = ingest::numeric_values(chunks, column)?;
    let NumericValues::Int(values) = values else {
        return Err(Error::type_error(format!("column '{column}' must be a timestamp or date column")));
    };
    Ok(match logical {
        Logical::Date => values.iter().map(|d| d * rfm::MICROS_PER_DAY).collect(),
        Logical::Timestamp { ticks_per_second } if ticks_per_second <= 1_000_000 => {
            values.iter().map(|t| t * (1_000_000 / ticks_per_second)).collect()
        }
        Logical::Timestamp { ticks_per_second } => {
            values.iter().map(|t| t.div_euclid(ticks_per_second / 1_000_000)).collect()
        }
        other => {
            return Err(Error::type_error(format!(
                "column '{column}' holds {} values; expected a timestamp or date column",
                other.name()
            )))
        }
    })
}

/// Customer keys: integer ids as they are, string ids by first-seen code.
fn customer_keys(chunks: &[ArrayRef], column: &str) -> Result<Vec<u64>> {
    first_null(chunks, column)?;
    let data_type = chunks.first().map(|c| c.data_type().clone()).unwrap_or(DataType::UInt32);
    if is_string_type(&data_type) {
        return Ok(encode_strings(chunks, column)?.codes.into_iter().map(u64::from).collect());
    }
    match ingest::numeric_values(chunks, column)? {
        (Logical::Int, NumericValues::Int(values), _) => Ok(values.into_iter().map(|v| v as u64).collect()),
        _ => Err(Error::type_error(format!(
            "user id column '{column}' has type {data_type}; expected an integer or string column"
        ))),
    }
}

/// Amounts: integers, floats, or decimals (unscaled; the scale is returned).
fn amounts(chunks: &[ArrayRef], column: &str) -> Result<(NumericValues, Option<i8>)> {
    first_null(chunks, column)?;
    if let Some(DataType::Decimal128(_, scale)) = chunks.first().map(|c| c.data_type().clone()) {
        let mut out = Vec::new();
        for chunk in chunks {
            for (i, v) in chunk.as_primitive::<Decimal128Type>().values().iter().enumerate() {
                out.push(i64::try_from(*v).map_err(|_| {
                    Error::invalid(format!("column '{column}': amount at row {i} is too large for an exact sum"))
                })?);
            }
        }
        return Ok((NumericValues::Int(out), Some(scale)));
    }
    let (logical, values, _) = ingest::numeric_values(chunks, column)?;
    if !matches!(logical, Logical::Int | Logical::Float) {
        return Err(Error::type_error(format!("column '{column}' must hold numbers (integers, floats or decimals)")));
    }
    Ok((values, None))
}

/// RFM aggregation and scores. Returns a dict of NumPy arrays plus metadata;
/// the Python layer assembles the table and names the segments.
#[pyfunction]
#[pyo3(signature = (users, ts, amount, as_of, bins, ties_mode, columns))]
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
) -> PyResult<Bound<'py, PyDict>> {
    let (users, ts, amount) = (chunks(users), chunks(ts), chunks(amount));
    let how = ties(ties_mode)?;
    let (user_column, ts_column, amount_column) = columns;
    let (aggregated, scores, scale) = released_parallel(py, || {
        let rows = |c: &[ArrayRef]| c.iter().map(|a| a.len()).sum::<usize>();
        if rows(&users) != rows(&ts) || rows(&users) != rows(&amount) {
            return Err(Error::invalid("the user, ts and amount columns differ in length"));
        }
        let keys = customer_keys(&users, &user_column)?;
        let stamps = micros(&ts, &ts_column)?;
        let (values, scale) = amounts(&amount, &amount_column)?;
        let (codes, first_row) = rfm::first_appearance_codes(&keys, &stamps, as_of);
        let amounts = match &values {
            NumericValues::Int(v) => Amounts::Int(v),
            NumericValues::Float(v) => Amounts::Float(v),
        };
        let aggregated = rfm::aggregate(&codes, first_row, &stamps, amounts, as_of);
        let scores = rfm::score(&aggregated, bins, how)?;
        Ok((aggregated, scores, scale))
    })?;
    let out = PyDict::new(py);
    out.set_item("first_row", PyArray1::from_vec(py, aggregated.first_row))?;
    out.set_item("recency_days", PyArray1::from_vec(py, aggregated.recency_days))?;
    out.set_item("frequency", PyArray1::from_vec(py, aggregated.frequency))?;
    match aggregated.monetary {
        Monetary::Int { sums, cents } => {
            let fits: Option<Vec<i64>> = sums.iter().map(|&s| i64::try_from(s).ok()).collect();
            let sums = fits.ok_or_else(|| Error::invalid("a customer's monetary sum overflows 64 bits"))?;
            out.set_item("monetary", PyArray1::from_vec(py, sums))?;
            out.set_item(
                "monetary_kind",
                if cents {
                    "cents"
                } else if scale.is_some() {
                    "decimal"
                } else {
                    "int"
                },
            )?;
        }
        Monetary::Float(sums) => {
            out.set_item("monetary", PyArray1::from_vec(py, sums))?;
            out.set_item("monetary_kind", "float")?;
        }
    }
    out.set_item("scale", scale)?;
    out.set_item("r", PyArray1::from_vec(py, scores.r))?;
    out.set_item("f", PyArray1::from_vec(py, scores.f))?;
    out.set_item("m", PyArray1::from_vec(py, scores.m))?;
    out.set_item("levels", scores.levels)?;
    Ok(out)
}
