//! A scored log as one Arrow record batch: the RFM table's columns, typed, in
//! order. The bindings hand it over through the PyCapsule interface; the
//! Python layer only puts the user's own id column in front (the ids are read
//! as u32, i64 or u64 here, or as codes of the user's strings) and, for the
//! cn8 scheme, adds the segment column.

use std::sync::Arc;

use arrow_array::types::Int16Type;
use arrow_array::{
    ArrayRef, Decimal128Array, DictionaryArray, Float64Array, Int16Array, Int64Array, Int8Array, RecordBatch,
    StringArray, UInt32Array, UInt64Array,
};
use arrow_buffer::{Buffer, ScalarBuffer};
use arrow_schema::{Field, Schema};

use super::{CustomerIds, Monetary, Scored};
use crate::error::{Error, Result};

/// Columns, in order: `user` (integer ids only), `first_row` (the row of each
/// customer's first purchase, where string ids are taken from), `recency_days`,
/// `frequency`, `monetary` (int64, decimal128(38, scale) or float64, as the
/// amounts were), `r`, `f`, `m` (int8), `rfm_code` (dictionary of "545"-style
/// codes when scores have one digit, else "r-f-m" strings) and, when
/// `segment_names` is given, `segment` (dictionary of those names, one per
/// customer through the scheme's cells).
pub fn scored_table(scored: Scored, segment_names: Option<&[String]>) -> Result<RecordBatch> {
    let Scored { users, aggregated, monetary, scale, scores, labels } = scored;
    let mut columns: Vec<(&str, ArrayRef)> = Vec::with_capacity(10);
    match users {
        Some(CustomerIds::U32(ids)) => columns.push(("user", Arc::new(UInt32Array::from(ids)))),
        Some(CustomerIds::I64(ids)) => columns.push(("user", Arc::new(Int64Array::from(ids)))),
        Some(CustomerIds::U64(ids)) => columns.push(("user", Arc::new(UInt64Array::from(ids)))),
        None => {}
    }
    columns.push(("first_row", Arc::new(UInt32Array::from(aggregated.first_row))));
    columns.push(("recency_days", Arc::new(Int64Array::from(aggregated.recency_days))));
    columns.push(("frequency", Arc::new(Int64Array::from(aggregated.frequency))));
    let monetary: ArrayRef = match (monetary, scale) {
        (Monetary::Int(sums), Some(scale)) => Arc::new(
            Decimal128Array::from_iter_values(sums.into_iter().map(i128::from))
                .with_precision_and_scale(38, scale)
                .map_err(|e| Error::invalid(format!("monetary: {e}")))?,
        ),
        (Monetary::Int(sums), None) => Arc::new(Int64Array::from(sums)),
        // `in_units` leaves no cents.
        (Monetary::Cents(sums) | Monetary::Float(sums), _) => Arc::new(Float64Array::from(sums)),
    };
    columns.push(("monetary", monetary));
    let code = match labels.digits {
        // One digit per score: "545" is entry 545 of the dictionary.
        Some(digits) => dictionary(digits, (0..1000).map(|i| format!("{i:03}")).collect())?,
        None => Arc::new(StringArray::from_iter_values(
            scores.r.iter().zip(&scores.f).zip(&scores.m).map(|((r, f), m)| format!("{r}-{f}-{m}")),
        )) as ArrayRef,
    };
    // Scores are 1..=100: their bytes read the same as int8, so the arrays
    // take the score vectors' memory as it is.
    let int8 = |v: Vec<u8>| {
        let len = v.len();
        Arc::new(Int8Array::new(ScalarBuffer::new(Buffer::from_vec(v), 0, len), None)) as ArrayRef
    };
    columns.push(("r", int8(scores.r)));
    columns.push(("f", int8(scores.f)));
    columns.push(("m", int8(scores.m)));
    columns.push(("rfm_code", code));
    if let (Some(names), Some(segments)) = (segment_names, labels.segments) {
        columns.push(("segment", dictionary(segments, names.to_vec())?));
    }
    let fields: Vec<Field> =
        columns.iter().map(|(name, array)| Field::new(*name, array.data_type().clone(), false)).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns.into_iter().map(|(_, a)| a).collect())
        .map_err(|e| Error::invalid(format!("RFM table: {e}")))
}

/// A dictionary column; every key must index `values` (checked: a scheme whose
/// cells name a segment it does not have is refused here, not read past).
fn dictionary(keys: Vec<i16>, values: Vec<String>) -> Result<ArrayRef> {
    let keys = Int16Array::from(keys);
    let values = Arc::new(StringArray::from(values));
    let array = DictionaryArray::<Int16Type>::try_new(keys, values)
        .map_err(|e| Error::invalid(format!("segment codes outside the scheme's names: {e}")))?;
    Ok(Arc::new(array))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::Ties;
    use crate::rfm::score_columns;
    use arrow_array::cast::AsArray;
    use arrow_array::TimestampSecondArray;

    fn log() -> (Vec<ArrayRef>, Vec<ArrayRef>, Vec<ArrayRef>) {
        let users: ArrayRef = Arc::new(UInt32Array::from(vec![7, 9, 7, 3]));
        let ts: ArrayRef = Arc::new(TimestampSecondArray::from(vec![0, 86_400, 2 * 86_400, 3 * 86_400]));
        let amount: ArrayRef = Arc::new(Float64Array::from(vec![10.0, 5.5, 20.0, 1.0]));
        (vec![users], vec![ts], vec![amount])
    }

    #[test]
    fn columns_are_named_typed_and_in_order() {
        let (users, ts, amount) = log();
        let as_of = 10 * 86_400 * 1_000_000;
        let cells = vec![0i16; 8];
        let scored = score_columns(users, ts, amount, ("u", "ts", "amount"), as_of, 2, Ties::First, Some(&cells))
            .expect("scores");
        let names = vec!["Everyone".to_string()];
        let batch = scored_table(scored, Some(&names)).expect("table");
        let schema = batch.schema();
        let got: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            got,
            ["user", "first_row", "recency_days", "frequency", "monetary", "r", "f", "m", "rfm_code", "segment"]
        );
        assert_eq!(batch.num_rows(), 3);
        let user = batch.column(0).as_primitive::<arrow_array::types::UInt32Type>();
        assert_eq!(user.values().to_vec(), vec![7, 9, 3]);
        let frequency = batch.column(3).as_primitive::<arrow_array::types::Int64Type>();
        assert_eq!(frequency.values().to_vec(), vec![2, 1, 1]);
        let monetary = batch.column(4).as_primitive::<arrow_array::types::Float64Type>();
        assert_eq!(monetary.values().to_vec(), vec![30.0, 5.5, 1.0]);
        let code = batch.column(8).as_dictionary::<Int16Type>();
        assert_eq!(code.len(), 3);
    }

    #[test]
    fn a_segment_code_outside_the_names_is_refused() {
        let (users, ts, amount) = log();
        let cells = vec![3i16; 8];
        let scored =
            score_columns(users, ts, amount, ("u", "ts", "amount"), 864_000_000_000, 2, Ties::First, Some(&cells))
                .expect("scores");
        let names = vec!["only".to_string()];
        assert!(scored_table(scored, Some(&names)).is_err());
    }
}
