//! Arrow columns in: user ids resolved to dense ids, strings encoded to codes.
//! Every error names the column and the first offending row.

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::ids::{IdKind, IdMap};
use crate::parallel;

/// Code of a null row in an [`Encoded`] column.
pub const NULL_CODE: u32 = u32::MAX;

/// A string column as codes into its dictionary of distinct values (first-seen order).
#[derive(Debug, Default)]
pub struct Encoded {
    pub codes: Vec<u32>,
    pub dictionary: Vec<String>,
}

impl Encoded {
    pub fn first_null(&self) -> Option<usize> {
        self.codes.iter().position(|&c| c == NULL_CODE)
    }
}

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

/// The id kind a fresh store takes from its first user column.
pub fn id_kind_of(data_type: &DataType, column: &str) -> Result<IdKind> {
    match data_type {
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => Ok(IdKind::UInt32),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => Ok(IdKind::UInt32),
        DataType::Int64 => Ok(IdKind::Int64),
        DataType::UInt64 => Ok(IdKind::UInt64),
        t if is_string_type(t) => Ok(IdKind::String),
        other => Err(Error::type_error(format!(
            "user id column {column:?} has type {other}; expected an integer or string column"
        ))),
    }
}

/// A read-only view of one string-like Arrow array.
enum Strings<'a> {
    Small(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
}

impl<'a> Strings<'a> {
    fn of(array: &'a dyn Array) -> Option<Self> {
        match array.data_type() {
            DataType::Utf8 => Some(Strings::Small(array.as_string::<i32>())),
            DataType::LargeUtf8 => Some(Strings::Large(array.as_string::<i64>())),
            DataType::Utf8View => Some(Strings::View(array.as_string_view())),
            _ => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Strings::Small(a) => a.len(),
            Strings::Large(a) => a.len(),
            Strings::View(a) => a.len(),
        }
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strings::Small(a) => a.is_valid(i).then(|| a.value(i)),
            Strings::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Strings::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// Encode string, large string, string view and dictionary-of-string chunks to
/// codes. Plain strings are hashed in parallel ranges, each with its own map,
/// then merged in row order so codes are deterministic.
pub fn encode_strings(chunks: &[ArrayRef], column: &str) -> Result<Encoded> {
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let mut codes = Vec::with_capacity(total);
    let mut dictionary: Vec<String> = Vec::new();
    let mut global: FxHashMap<String, u32> = FxHashMap::default();
    let intern =
        |value: &str, global: &mut FxHashMap<String, u32>, dictionary: &mut Vec<String>| -> u32 {
            if let Some(&code) = global.get(value) {
                return code;
            }
            let code = dictionary.len() as u32;
            dictionary.push(value.to_string());
            global.insert(value.to_string(), code);
            code
        };
    for chunk in chunks {
        if let DataType::Dictionary(_, _) = chunk.data_type() {
            let dict = chunk.as_any_dictionary();
            let values = Strings::of(dict.values().as_ref())
                .ok_or_else(|| not_strings(column, chunk.data_type()))?;
            let remap: Vec<u32> = (0..values.len())
                .map(|i| {
                    values
                        .get(i)
                        .map_or(NULL_CODE, |v| intern(v, &mut global, &mut dictionary))
                })
                .collect();
            let keys = dict.normalized_keys();
            let nulls = chunk.logical_nulls();
            let start = codes.len();
            codes.extend(
                keys.iter()
                    .map(|&k| remap.get(k).copied().unwrap_or(NULL_CODE)),
            );
            if let Some(nulls) = nulls {
                for (i, valid) in nulls.iter().enumerate() {
                    if !valid {
                        codes[start + i] = NULL_CODE;
                    }
                }
            }
            continue;
        }
        let strings =
            Strings::of(chunk.as_ref()).ok_or_else(|| not_strings(column, chunk.data_type()))?;
        // Each range builds local codes with its own map; merging renumbers them.
        let ranges = parallel::ranges(strings.len(), 1 << 18);
        let locals: Vec<(Vec<u32>, Vec<&str>)> = ranges
            .into_par_iter()
            .map(|range| {
                let mut map: FxHashMap<&str, u32> = FxHashMap::default();
                let mut order: Vec<&str> = Vec::new();
                let local = range
                    .map(|i| match strings.get(i) {
                        None => NULL_CODE,
                        Some(v) => *map.entry(v).or_insert_with(|| {
                            order.push(v);
                            (order.len() - 1) as u32
                        }),
                    })
                    .collect();
                (local, order)
            })
            .collect();
        for (local, order) in locals {
            let remap: Vec<u32> = order
                .iter()
                .map(|v| intern(v, &mut global, &mut dictionary))
                .collect();
            let start = codes.len();
            codes.resize(start + local.len(), NULL_CODE);
            codes[start..]
                .par_iter_mut()
                .zip(local.par_iter())
                .for_each(|(out, &c)| {
                    *out = if c == NULL_CODE {
                        NULL_CODE
                    } else {
                        remap[c as usize]
                    }
                });
        }
    }
    Ok(Encoded { codes, dictionary })
}

fn not_strings(column: &str, data_type: &DataType) -> Error {
    Error::type_error(format!(
        "column {column:?} has type {data_type}; expected a string or dictionary column"
    ))
}

fn null_error(column: &str, row: usize) -> Error {
    Error::invalid(format!(
        "column {column:?} has a null at row {row}; user ids must not be null"
    ))
}

/// What to do with a user id the store has not seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unseen {
    /// Give it the next dense id (the dictionary is copied on first write).
    Register,
    /// Refuse the column with an `UnknownName` error naming the row.
    Refuse,
    /// Leave it out of the result (for removals and look-ups).
    Skip,
}

/// Resolve a user id column to dense ids. The dictionary is only copied if a new
/// id must be registered, so look-ups on a large dictionary stay cheap.
pub fn resolve_user_ids(
    chunks: &[ArrayRef],
    column: &str,
    ids: &mut Cow<'_, IdMap>,
    unseen: Unseen,
) -> Result<Vec<u32>> {
    if let Some(first) = chunks.first() {
        let kind = id_kind_of(first.data_type(), column)?;
        if ids.kind() == IdKind::Auto && unseen == Unseen::Register {
            ids.to_mut().settle(kind);
        }
    }
    if matches!(ids.kind(), IdKind::UInt32 | IdKind::Auto) {
        if let Some(fast) = uint32_ids(chunks) {
            return Ok(fast);
        }
    }
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let mut out: Vec<u32> = Vec::with_capacity(total);
    let mut row_base = 0usize;
    for chunk in chunks {
        if let Some(nulls) = chunk.logical_nulls() {
            if let Some(row) = nulls.iter().position(|valid| !valid) {
                return Err(null_error(column, row_base + row));
            }
        }
        let data_type = chunk.data_type();
        if is_string_type(data_type) {
            if ids.kind() != IdKind::String {
                return Err(Error::type_error(format!(
                    "user id column {column:?} has type {data_type}, but this store's user ids are {}",
                    ids.kind().name()
                )));
            }
            let encoded = encode_strings(std::slice::from_ref(chunk), column)?;
            let mut dense_of = Vec::with_capacity(encoded.dictionary.len());
            for (code, value) in encoded.dictionary.iter().enumerate() {
                let dense = match (ids.lookup_string(value), unseen) {
                    (Some(dense), _) => Some(dense),
                    (None, Unseen::Register) => ids.to_mut().string(value, true)?,
                    (None, Unseen::Skip) => None,
                    (None, Unseen::Refuse) => {
                        let row = encoded
                            .codes
                            .iter()
                            .position(|&c| c == code as u32)
                            .unwrap_or(0)
                            + row_base;
                        return Err(unknown_user(column, &format!("{value:?}"), row));
                    }
                };
                dense_of.push(dense);
            }
            out.extend(encoded.codes.iter().filter_map(|&c| dense_of[c as usize]));
        } else {
            if ids.kind() == IdKind::String {
                return Err(Error::type_error(format!(
                    "user id column {column:?} has type {data_type}, but this store's user ids are strings"
                )));
            }
            for (i, value) in integers(chunk, column)?.into_iter().enumerate() {
                let row = row_base + i;
                let value = u64::try_from(value).map_err(|_| {
                    Error::invalid(format!(
                        "column {column:?} has a negative user id {value} at row {row}"
                    ))
                })?;
                let dense = match ids.kind() {
                    IdKind::UInt32 | IdKind::Auto => Some(u32::try_from(value).map_err(|_| {
                        Error::invalid(format!(
                            "column {column:?} has user id {value} at row {row}, out of range for a uint32 store"
                        ))
                    })?),
                    _ => match (ids.lookup_integer(value), unseen) {
                        (Some(dense), _) => Some(dense),
                        (None, Unseen::Register) => ids.to_mut().integer(value, true)?,
                        (None, Unseen::Skip) => None,
                        (None, Unseen::Refuse) => return Err(unknown_user(column, &value.to_string(), row)),
                    },
                };
                out.extend(dense);
            }
        }
        row_base += chunk.len();
    }
    Ok(out)
}

fn unknown_user(column: &str, value: &str, row: usize) -> Error {
    Error::UnknownName {
        kind: "user id",
        name: format!("{value} (column {column:?}, row {row})"),
        suggestions: vec![],
    }
}

/// Integer values of a chunk as i128 (wide enough for every Arrow integer).
fn integers(chunk: &ArrayRef, column: &str) -> Result<Vec<i128>> {
    macro_rules! widen {
        ($t:ty) => {
            chunk
                .as_primitive::<$t>()
                .values()
                .iter()
                .map(|&v| v as i128)
                .collect()
        };
    }
    Ok(match chunk.data_type() {
        DataType::UInt8 => widen!(UInt8Type),
        DataType::UInt16 => widen!(UInt16Type),
        DataType::UInt32 => widen!(UInt32Type),
        DataType::UInt64 => widen!(UInt64Type),
        DataType::Int8 => widen!(Int8Type),
        DataType::Int16 => widen!(Int16Type),
        DataType::Int32 => widen!(Int32Type),
        DataType::Int64 => widen!(Int64Type),
        other => {
            return Err(Error::type_error(format!(
                "user id column {column:?} has type {other}; expected an integer or string column"
            )))
        }
    })
}

/// Fast path for the common case: a uint32 column into a uint32 store.
pub fn uint32_ids(chunks: &[ArrayRef]) -> Option<Vec<u32>> {
    if !chunks
        .iter()
        .all(|c| c.data_type() == &DataType::UInt32 && c.logical_nulls().is_none())
    {
        return None;
    }
    let mut out = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
    for chunk in chunks {
        out.extend_from_slice(chunk.as_primitive::<UInt32Type>().values());
    }
    Some(out)
}

/// A boolean column: the rows that are true (null counts as false).
pub fn true_rows(chunks: &[ArrayRef], column: &str) -> Result<Vec<usize>> {
    let mut rows = Vec::new();
    let mut base = 0;
    for chunk in chunks {
        if chunk.data_type() != &DataType::Boolean {
            return Err(Error::type_error(format!(
                "column {column:?} has type {}; expected boolean",
                chunk.data_type()
            )));
        }
        let bools = chunk.as_boolean();
        rows.extend(
            (0..bools.len())
                .filter(|&i| bools.is_valid(i) && bools.value(i))
                .map(|i| base + i),
        );
        base += chunk.len();
    }
    Ok(rows)
}
