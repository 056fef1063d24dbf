//! Numeric, date, timestamp and boolean columns read as plain values: one
//! i64 or f64 per row with its validity (`numeric_values`), f64 with NaN for
//! nulls for bucketing (`float_values`), or the true rows of a boolean column
//! (`true_rows`).

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::logical::Logical;
use crate::quantile::MAX_EXACT_INTEGER;

/// A boolean column: the rows that are true (null counts as false).
pub fn true_rows(chunks: &[ArrayRef], column: &str) -> Result<Vec<usize>> {
    let mut rows = Vec::new();
    let mut base = 0;
    for chunk in chunks {
        if chunk.data_type() != &DataType::Boolean {
            return Err(Error::type_error(format!(
                "column '{column}' has type {}; expected boolean",
                chunk.data_type()
            )));
        }
        let bools = chunk.as_boolean();
        rows.extend((0..bools.len()).filter(|&i| bools.is_valid(i) && bools.value(i)).map(|i| base + i));
        base += chunk.len();
    }
    Ok(rows)
}

/// Values of a numeric column, one per row, with validity (`false` = null).
pub enum NumericValues {
    Int(Vec<i64>),
    Float(Vec<f64>),
}

pub fn is_numeric_type(data_type: &DataType) -> bool {
    numeric_logical(data_type).is_some()
}

fn numeric_logical(data_type: &DataType) -> Option<Logical> {
    use arrow_schema::TimeUnit as U;
    Some(match data_type {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Logical::Int,
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Logical::Int,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Logical::Float,
        DataType::Date32 => Logical::Date,
        DataType::Date64 => Logical::Timestamp { ticks_per_second: 1_000 },
        DataType::Timestamp(unit, _) => Logical::Timestamp {
            ticks_per_second: match unit {
                U::Second => 1,
                U::Millisecond => 1_000,
                U::Microsecond => 1_000_000,
                U::Nanosecond => 1_000_000_000,
            },
        },
        _ => return None,
    })
}

/// Read a numeric, date or timestamp column.
///
/// The values go into one huge-page column, converted on every thread (a
/// single-threaded extend into fresh 4 KiB pages took a tenth of indexing a
/// 10 M-row attribute); validity flags are only made when some row is null.
pub fn numeric_values(chunks: &[ArrayRef], column: &str) -> Result<(Logical, NumericValues, Option<Vec<bool>>)> {
    let first = chunks.first().map(|c| c.data_type().clone()).unwrap_or(DataType::Int64);
    let logical = numeric_logical(&first).ok_or_else(|| {
        Error::type_error(format!("column '{column}' has type {first}; expected a number, date or timestamp column"))
    })?;
    if let Some(other) = chunks.iter().find(|c| c.data_type() != &first) {
        return Err(Error::type_error(format!("column '{column}' mixes types {first} and {}", other.data_type())));
    }
    let rows: usize = chunks.iter().map(|c| c.len()).sum();
    let valid = if chunks.iter().any(|c| c.logical_nulls().is_some_and(|n| n.null_count() > 0)) {
        let mut valid = Vec::with_capacity(rows);
        for chunk in chunks {
            match chunk.logical_nulls() {
                Some(nulls) => valid.extend(nulls.iter()),
                None => valid.extend(std::iter::repeat_n(true, chunk.len())),
            }
        }
        Some(valid)
    } else {
        None
    };
    let floats = matches!(first, DataType::Float16 | DataType::Float32 | DataType::Float64);
    if floats {
        let mut out = crate::memory::output_column::<f64>(rows);
        let mut at = 0;
        for chunk in chunks {
            let dst = &mut out[at..at + chunk.len()];
            macro_rules! floats {
                ($t:ty, $f:expr) => {
                    dst.par_iter_mut()
                        .zip(chunk.as_primitive::<$t>().values().par_iter())
                        .for_each(|(d, &v)| *d = $f(v))
                };
            }
            match chunk.data_type() {
                DataType::Float16 => {
                    floats!(Float16Type, |v: <Float16Type as arrow_array::ArrowPrimitiveType>::Native| v.to_f64())
                }
                DataType::Float32 => floats!(Float32Type, f64::from),
                _ => floats!(Float64Type, |v: f64| v),
            }
            at += chunk.len();
        }
        return Ok((logical, NumericValues::Float(out), valid));
    }
    let mut out = crate::memory::output_column::<i64>(rows);
    let mut at = 0;
    for chunk in chunks {
        let dst = &mut out[at..at + chunk.len()];
        macro_rules! ints {
            ($t:ty) => {
                dst.par_iter_mut().zip(chunk.as_primitive::<$t>().values().par_iter()).for_each(|(d, &v)| *d = v as i64)
            };
        }
        match chunk.data_type() {
            DataType::Int8 => ints!(Int8Type),
            DataType::Int16 => ints!(Int16Type),
            DataType::Int32 => ints!(Int32Type),
            DataType::Int64 => ints!(Int64Type),
            DataType::UInt8 => ints!(UInt8Type),
            DataType::UInt16 => ints!(UInt16Type),
            DataType::UInt32 => ints!(UInt32Type),
            DataType::UInt64 => {
                let values = chunk.as_primitive::<UInt64Type>().values();
                for (i, (d, &v)) in dst.iter_mut().zip(values.iter()).enumerate() {
                    let fits = i64::try_from(v).ok();
                    if fits.is_none() && chunk.is_valid(i) {
                        return Err(Error::invalid(format!(
                            "column '{column}' has value {v} at row {}, beyond the int64 range",
                            at + i
                        )));
                    }
                    *d = fits.unwrap_or(0);
                }
            }
            DataType::Date32 => ints!(Date32Type),
            DataType::Date64 => ints!(Date64Type),
            DataType::Timestamp(arrow_schema::TimeUnit::Second, _) => ints!(TimestampSecondType),
            DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, _) => ints!(TimestampMillisecondType),
            DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, _) => ints!(TimestampMicrosecondType),
            DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, _) => ints!(TimestampNanosecondType),
            other => {
                return Err(Error::type_error(format!(
                    "column '{column}' has type {other}; expected a number, date or timestamp column"
                )))
            }
        }
        at += chunk.len();
    }
    Ok((logical, NumericValues::Int(out), valid))
}

/// Values as f64 with NaN for nulls, for bucketing: integers beyond 2^53,
/// which have no exact float, are refused naming the position.
pub fn float_values<'a>(chunks: &'a [ArrayRef], name: &str) -> Result<Cow<'a, [f64]>> {
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
    let (_, values, valid) = numeric_values(chunks, name)?;
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
