//! The three columns of a transaction log, read from Arrow: customer ids
//! (integers read in place, strings coded by first appearance), timestamps
//! (any unit, or dates) and amounts (floats, integers or decimals), then
//! scored and labelled. Columns are copied only when their type needs
//! converting.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use rayon::prelude::*;

use super::{Aggregated, Amounts, Keys, Log, Monetary, Rows, Scores, TickScale, Users};
use crate::error::{Error, Result};
use crate::ingest::{self, encode_strings, is_string_type, Logical, NumericValues};
use crate::rank::Ties;

/// The customers' own ids, typed as the user column (integers read in place).
pub enum CustomerIds {
    U32(Vec<u32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
}

/// An RFM table's columns, before they are named and typed for the caller.
pub struct Scored {
    /// The customers' ids when the log's ids are integers; otherwise the
    /// caller takes them from `aggregated.first_row`.
    pub users: Option<CustomerIds>,
    pub aggregated: Aggregated,
    /// Sums in the amount column's units (see `Monetary::in_units`).
    pub monetary: Monetary,
    /// The decimal scale of the amounts, if they were decimals.
    pub scale: Option<i8>,
    pub scores: Scores,
    pub labels: Labels,
}

/// Columns (user, ts, amount) and their names → aggregated, scored and
/// labelled customers. `cells`, flattened r-major, names a segment per score
/// cell; purchases after `as_of` (microseconds since the epoch) are ignored.
#[allow(clippy::too_many_arguments)]
pub fn score_columns(
    users: Vec<ArrayRef>,
    ts: Vec<ArrayRef>,
    amount: Vec<ArrayRef>,
    names: (&str, &str, &str),
    as_of: i64,
    bins: usize,
    ties: Ties,
    cells: Option<&[i16]>,
) -> Result<Scored> {
    let (user_column, ts_column, amount_column) = names;
    let keys = KeyColumn::read(users, user_column)?;
    let stamps = TsColumn::read(ts, ts_column)?;
    let (amounts, scale) = AmountColumn::read(amount, amount_column)?;
    let log = Log::from_columns(&keys.pieces(), &stamps.pieces(), &amounts.pieces(), stamps.scale(), as_of)?;
    let mut aggregated = super::aggregate(&log)?;
    if let Monetary::Float(sums) = &aggregated.monetary {
        if sums.par_iter().any(|s| !s.is_finite()) {
            return Err(amounts.non_finite(amount_column));
        }
    }
    let scores = super::score(&aggregated, bins, ties)?;
    let labels = Labels::of(&scores, cells)?;
    let monetary = std::mem::replace(&mut aggregated.monetary, Monetary::Int(Vec::new())).in_units();
    let users = keys.users(std::mem::replace(&mut aggregated.users, Users::U32(Vec::new())));
    Ok(Scored { users, aggregated, monetary, scale, scores, labels })
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

fn column_type(chunks: &[ArrayRef]) -> Option<DataType> {
    chunks.first().map(|c| c.data_type().clone())
}

/// Customer keys: 32/64-bit integer ids read in place, other integer ids
/// widened, string ids coded by first appearance.
enum KeyColumn {
    InPlace(Vec<ArrayRef>),
    Codes(Vec<u32>),
    Widened(Vec<u64>),
}

impl KeyColumn {
    fn read(chunks: Vec<ArrayRef>, column: &str) -> Result<Self> {
        first_null(&chunks, column)?;
        let data_type = column_type(&chunks).unwrap_or(DataType::UInt32);
        if is_string_type(&data_type) {
            return Ok(KeyColumn::Codes(encode_strings(&chunks, column)?.codes));
        }
        if matches!(data_type, DataType::UInt32 | DataType::UInt64 | DataType::Int64) {
            return Ok(KeyColumn::InPlace(chunks));
        }
        match ingest::numeric_values(&chunks, column)? {
            (Logical::Int, NumericValues::Int(values), _) => {
                Ok(KeyColumn::Widened(values.into_iter().map(|v| v as u64).collect()))
            }
            _ => Err(Error::type_error(format!(
                "user id column '{column}' has type {data_type}; expected an integer or string column"
            ))),
        }
    }

    /// The user ids of the customers from their keys, typed as the column,
    /// when the ids are integers read in place (other keys are codes).
    fn users(&self, keys: Users) -> Option<CustomerIds> {
        let KeyColumn::InPlace(chunks) = self else { return None };
        Some(match (chunks.first()?.data_type(), keys) {
            // Keys of u32 ids are those ids; of i64 ids, their bits.
            (DataType::UInt32, Users::U32(ids)) => CustomerIds::U32(ids),
            (DataType::Int64, Users::U64(bits)) => {
                CustomerIds::I64(bits.into_par_iter().map(|k| k as i64).collect::<Vec<i64>>())
            }
            (_, Users::U64(ids)) => CustomerIds::U64(ids),
            (_, Users::U32(ids)) => CustomerIds::U32(ids),
        })
    }

    fn pieces(&self) -> Vec<Keys<'_>> {
        match self {
            KeyColumn::InPlace(chunks) => chunks
                .iter()
                .map(|c| match c.data_type() {
                    DataType::UInt32 => Keys::U32(c.as_primitive::<UInt32Type>().values()),
                    DataType::UInt64 => Keys::U64(c.as_primitive::<UInt64Type>().values()),
                    _ => Keys::I64(c.as_primitive::<Int64Type>().values()),
                })
                .collect(),
            KeyColumn::Codes(codes) => vec![Keys::U32(codes)],
            KeyColumn::Widened(values) => vec![Keys::U64(values)],
        }
    }
}

/// Timestamps read in place (any unit, or Date64 milliseconds); Date32 days
/// widened to 64 bits.
enum TsColumn {
    InPlace(Vec<ArrayRef>, TickScale),
    Days(Vec<i64>),
}

impl TsColumn {
    fn read(chunks: Vec<ArrayRef>, column: &str) -> Result<Self> {
        first_null(&chunks, column)?;
        let ticks_per_second = match column_type(&chunks).unwrap_or(DataType::Timestamp(TimeUnit::Second, None)) {
            DataType::Timestamp(TimeUnit::Second, _) => 1,
            DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Date64 => 1_000,
            DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000_000,
            DataType::Timestamp(TimeUnit::Nanosecond, _) => 1_000_000_000,
            DataType::Date32 => {
                let days = chunks.iter().flat_map(|c| c.as_primitive::<arrow_array::types::Date32Type>().values());
                return Ok(TsColumn::Days(days.map(|&d| i64::from(d)).collect()));
            }
            other => {
                return Err(Error::type_error(format!(
                    "column '{column}' has type {other}; expected a timestamp or date column"
                )))
            }
        };
        Ok(TsColumn::InPlace(chunks, TickScale::from_ticks_per_second(ticks_per_second)))
    }

    fn scale(&self) -> TickScale {
        match self {
            TsColumn::InPlace(_, scale) => *scale,
            TsColumn::Days(_) => TickScale::Mul(super::MICROS_PER_DAY),
        }
    }

    fn pieces(&self) -> Vec<&[i64]> {
        match self {
            TsColumn::InPlace(chunks, _) => chunks
                .iter()
                .map(|c| -> &[i64] {
                    match c.data_type() {
                        DataType::Timestamp(TimeUnit::Second, _) => c.as_primitive::<TimestampSecondType>().values(),
                        DataType::Timestamp(TimeUnit::Millisecond, _) => {
                            c.as_primitive::<TimestampMillisecondType>().values()
                        }
                        DataType::Timestamp(TimeUnit::Microsecond, _) => {
                            c.as_primitive::<TimestampMicrosecondType>().values()
                        }
                        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                            c.as_primitive::<TimestampNanosecondType>().values()
                        }
                        _ => c.as_primitive::<arrow_array::types::Date64Type>().values(),
                    }
                })
                .collect(),
            TsColumn::Days(days) => vec![days],
        }
    }
}

/// Amounts: float64 and int64 read in place; decimals as unscaled integers
/// (the scale is kept); other numbers converted.
enum AmountColumn {
    InPlace(Vec<ArrayRef>),
    Converted(NumericValues),
}

impl AmountColumn {
    fn read(chunks: Vec<ArrayRef>, column: &str) -> Result<(Self, Option<i8>)> {
        first_null(&chunks, column)?;
        match column_type(&chunks) {
            Some(DataType::Float64 | DataType::Int64) => return Ok((AmountColumn::InPlace(chunks), None)),
            Some(DataType::Decimal128(_, scale)) => {
                let mut out = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
                for chunk in &chunks {
                    for v in chunk.as_primitive::<Decimal128Type>().values().iter() {
                        out.push(i64::try_from(*v).map_err(|_| {
                            Error::invalid(format!(
                                "column '{column}': amount at row {} is too large for an exact sum",
                                out.len()
                            ))
                        })?);
                    }
                }
                return Ok((AmountColumn::Converted(NumericValues::Int(out)), Some(scale)));
            }
            _ => {}
        }
        let (logical, values, _) = ingest::numeric_values(&chunks, column)?;
        if !matches!(logical, Logical::Int | Logical::Float) {
            return Err(Error::type_error(format!(
                "column '{column}' must hold numbers (integers, floats or decimals)"
            )));
        }
        Ok((AmountColumn::Converted(values), None))
    }

    /// The error for a float sum that is not finite: names the first NaN or
    /// infinite amount, if there is one.
    fn non_finite(&self, column: &str) -> Error {
        let mut base = 0;
        for piece in self.pieces() {
            if let Amounts::Float(values) = piece {
                if let Some(row) = values.iter().position(|v| !v.is_finite()) {
                    return Error::invalid(format!(
                        "column '{column}' has a non-finite amount ({}) at row {}",
                        values[row],
                        base + row
                    ));
                }
            }
            base += piece.rows();
        }
        Error::invalid(format!("a customer's sum of column '{column}' overflows a 64-bit float"))
    }

    fn pieces(&self) -> Vec<Amounts<'_>> {
        match self {
            AmountColumn::InPlace(chunks) => chunks
                .iter()
                .map(|c| match c.data_type() {
                    DataType::Int64 => Amounts::Int(c.as_primitive::<Int64Type>().values()),
                    _ => Amounts::Float(c.as_primitive::<Float64Type>().values()),
                })
                .collect(),
            AmountColumn::Converted(NumericValues::Int(v)) => vec![Amounts::Int(v)],
            AmountColumn::Converted(NumericValues::Float(v)) => vec![Amounts::Float(v)],
        }
    }
}

/// Per customer, the RFM code as a three-digit number (`545` for r=5, f=4,
/// m=5; with at most 9 levels) and the index of the segment of its score
/// cell (given the scheme's cells, flattened r-major).
pub struct Labels {
    pub digits: Option<Vec<i16>>,
    pub segments: Option<Vec<i16>>,
}

impl Labels {
    /// Errors when a customer's cell has no segment (`cells` holds a
    /// negative index): the caller builds its dictionary without checking.
    fn of(scores: &Scores, cells: Option<&[i16]>) -> Result<Self> {
        let levels = scores.levels;
        let digits = (levels <= 9)
            .then(|| per_customer(scores, |r, f, m| i16::from(r) * 100 + i16::from(f) * 10 + i16::from(m)));
        // A scheme for another number of levels is refused by the caller.
        let segments = cells.filter(|c| c.len() == levels * levels * levels).map(|cells| {
            // Scores are 1..=levels; anything else finds no cell (-1), never a panic.
            let cell = move |s: u8| usize::from(s).checked_sub(1).filter(|&c| c < levels);
            let segment = move |r, f, m| cells.get((cell(r)? * levels + cell(f)?) * levels + cell(m)?).copied();
            per_customer(scores, |r, f, m| segment(r, f, m).unwrap_or(-1))
        });
        if let Some(row) = segments.as_ref().and_then(|s| s.par_iter().position_any(|&s| s < 0)) {
            let (r, f, m) = (scores.r[row], scores.f[row], scores.m[row]);
            return Err(Error::invalid(format!("the scheme has no segment for score cell ({r}, {f}, {m})")));
        }
        Ok(Labels { digits, segments })
    }
}

/// `label(r, f, m)` of every customer, written into a column of its own
/// (see `output_column`).
fn per_customer(scores: &Scores, label: impl Fn(u8, u8, u8) -> i16 + Sync) -> Vec<i16> {
    let mut out: Vec<i16> = crate::memory::output_column(scores.r.len());
    let scored = scores.r.par_iter().zip(&scores.f).zip(&scores.m);
    out.par_iter_mut().zip(scored).for_each(|(o, ((&r, &f), &m))| *o = label(r, f, m));
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float64Array, StringArray, TimestampSecondArray, UInt32Array};

    use super::*;

    const DAY: i64 = 86_400;

    fn log(users: ArrayRef) -> (Vec<ArrayRef>, Vec<ArrayRef>, Vec<ArrayRef>) {
        let ts = TimestampSecondArray::from(vec![10 * DAY, 12 * DAY, 11 * DAY, 19 * DAY]);
        let amount = Float64Array::from(vec![10.0, 5.5, 20.0, 1.25]);
        (vec![users], vec![Arc::new(ts) as ArrayRef], vec![Arc::new(amount) as ArrayRef])
    }

    #[test]
    fn integer_ids_come_back_typed_and_scored() {
        let (u, t, a) = log(Arc::new(UInt32Array::from(vec![7, 3, 7, 9])));
        let as_of = 20 * DAY * 1_000_000;
        let scored = score_columns(u, t, a, ("u", "ts", "amount"), as_of, 3, Ties::First, None).expect("valid log");
        assert!(matches!(scored.users, Some(CustomerIds::U32(ref ids)) if ids == &[7, 3, 9]));
        assert_eq!(scored.aggregated.recency_days, vec![9, 8, 1]);
        assert_eq!(scored.aggregated.frequency, vec![2, 1, 1]);
        assert!(matches!(scored.monetary, Monetary::Float(ref sums) if sums == &[30.0, 5.5, 1.25]));
        assert_eq!(scored.scores.levels, 3);
        assert_eq!(scored.labels.digits.as_ref().map(Vec::len), Some(3));
    }

    #[test]
    fn string_ids_are_codes_and_nulls_are_refused() {
        let (u, t, a) = log(Arc::new(StringArray::from(vec!["b", "a", "b", "c"])));
        let scored = score_columns(u, t, a, ("u", "ts", "amount"), 20 * DAY * 1_000_000, 3, Ties::First, None)
            .expect("valid log");
        assert!(scored.users.is_none(), "string ids are taken from the first rows");
        assert_eq!(scored.aggregated.first_row, vec![0, 1, 3]);
        let (u, t, a) = log(Arc::new(StringArray::from(vec![Some("b"), None, Some("b"), Some("c")])));
        let err = score_columns(u, t, a, ("user_id", "ts", "amount"), 0, 3, Ties::First, None).err();
        assert!(err.is_some_and(|e| e.to_string().contains("'user_id' has a null at row 1")));
    }
}
