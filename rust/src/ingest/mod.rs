//! Arrow columns in: user ids resolved to dense ids, strings encoded to codes,
//! numbers read as plain values. Every error names the column and the first
//! offending row.
//!
//! * `strings`: string columns to codes into a dictionary of their distinct
//!   values (`encode_strings`), or one-byte codes for bitmap building
//!   (`encode_for_bitmaps`);
//! * `users`: user id columns to the store's dense ids (`resolve_user_ids`);
//! * `values`: numeric, date, timestamp and boolean columns to plain vectors
//!   (`numeric_values`, `float_values`, `true_rows`).
//!
//! Callers use the names re-exported here (`crate::ingest::X`).

mod strings;
mod users;
mod values;

use arrow_schema::DataType;

pub use crate::logical::Logical;
pub use strings::{encode_for_bitmaps, encode_strings, Encoded, GroupCodes, NULL_CODE};
pub(crate) use strings::{GroupRepr, NARROW_NULL};
pub use users::{id_kind_of, resolve_user_ids, uint32_ids, Unseen};
pub use values::{float_values, is_numeric_type, numeric_values, true_rows, NumericValues};

pub fn type_name(data_type: &DataType) -> String {
    data_type.to_string()
}

pub fn is_string_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, value) => is_string_type(value),
        _ => false,
    }
}
