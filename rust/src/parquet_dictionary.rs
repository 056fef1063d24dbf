//! A dictionary-encoded Parquet column chunk written straight from codes.
//!
//! An export's categorical column arrives already as codes into the
//! attribute's values. arrow-rs's writer would re-derive that dictionary by
//! hashing every row's string into its interner (20 ms of the 1 M-user export,
//! more than making the column). Here the codes are only renumbered to the
//! values the chunk uses and bit-packed: the chunk is what a dictionary writer
//! produces for the same rows (polars writes its categoricals the same way).
//!
//! # Layout (the Parquet format's own, data page v1)
//!
//! Integer columns whose values span a small range (`encode_integers`) are
//! written the same way, their dictionary found through a table indexed by
//! value instead of arrow-rs's hashing of every row.
//!
//! * A dictionary page: PLAIN values (strings: a u32 length, then the bytes;
//!   integers: 8 bytes little endian) of the values the chunk uses, in value
//!   order.
//! * One data page of all rows, encoded RLE_DICTIONARY: for a nullable
//!   column, the definition levels first (a u32 byte length, then the
//!   RLE/bit-packed hybrid at bit width 1: one RLE run when no row is null,
//!   else the rows' validity bits as one bit-packed run, which is Arrow's
//!   validity bitmap byte for byte); then the bit width of the indices and the
//!   non-null rows' indices as one bit-packed run.
//! * Both pages Snappy-compressed, as every other column of the file.
//!
//! No column index is kept, nor statistics for strings, as for the dictionary
//! columns arrow-rs writes here (see `parquet_file`); integer chunks keep
//! min/max and null-count statistics; the offset index (where the data page
//! lies) is kept, as every chunk of the file has one.

use arrow_array::types::UInt32Type;
use arrow_array::{Array, DictionaryArray, Int64Array, StringArray};
use arrow_buffer::NullBuffer;
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, EncodingMask, PageType, Type};
use parquet::column::page::{CompressedPage, Page, PageWriteSpec, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ColumnChunkMetaData, PageEncodingStats};
use parquet::file::page_index::offset_index::{OffsetIndexMetaData, PageLocation};
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// One encoded column chunk: its bytes (the dictionary page at offset 0) and
/// what the row group records of it.
pub struct DictionaryChunk {
    pub bytes: Bytes,
    pub close: ColumnCloseResult,
}

/// The chunk of `column` (a dictionary of strings) for the leaf `descr`, or
/// `None` where this path does not apply (other value types, or no row with a
/// value) and arrow-rs's writer should encode it.
pub fn encode(
    descr: ColumnDescPtr,
    column: &DictionaryArray<UInt32Type>,
) -> Result<Option<DictionaryChunk>, ParquetError> {
    let Some(values) = column.values().as_any().downcast_ref::<StringArray>() else {
        return Ok(None);
    };
    let rows = column.len();
    let keys = column.keys();
    let nulls = keys.nulls().filter(|n| n.null_count() > 0);
    if nulls.is_some_and(|n| n.null_count() == rows) || rows == 0 {
        return Ok(None);
    }
    let valid = |row: usize| nulls.is_none_or(|n| n.is_valid(row));

    // The values the chunk uses, renumbered in value order.
    let mut renumbered = vec![u32::MAX; values.len()];
    for (row, &key) in keys.values().iter().enumerate() {
        if valid(row) {
            let slot = renumbered.get_mut(key as usize).ok_or_else(|| bad_key(key, values.len()))?;
            *slot = 0;
        }
    }
    let mut dictionary = Vec::new();
    let mut used = 0u32;
    for (code, slot) in renumbered.iter_mut().enumerate() {
        if *slot == 0 {
            *slot = used;
            used += 1;
            let value = values.value(code).as_bytes();
            let len = u32::try_from(value.len()).map_err(|_| ParquetError::General("a value over 4 GiB".into()))?;
            dictionary.extend_from_slice(&len.to_le_bytes());
            dictionary.extend_from_slice(value);
        }
    }
    let indices =
        keys.values().iter().enumerate().filter(|&(row, _)| valid(row)).map(|(_, &key)| renumbered[key as usize]);
    write_chunk(descr, rows, nulls, Dictionary { bytes: dictionary, used, statistics: None }, indices)
}

/// The widest span of values (max - min + 1) [`encode_integers`] maps
/// through a table (4 bytes a value: 4 MiB at most).
const MAX_INTEGER_SPAN: u64 = 1 << 20;

/// The chunk of an integer `column` for the leaf `descr`, dictionary-encoded
/// when its values span at most [`MAX_INTEGER_SPAN`] (ages, day counts,
/// levels: the numeric attributes of users), else `None` for arrow-rs.
///
/// arrow-rs builds the same dictionary by hashing every row's value into its
/// interner (about 8 ms a column at 1 M rows); a small span is mapped through
/// a table indexed by value instead. Min/max statistics are kept, as arrow-rs
/// keeps them for numeric columns.
pub fn encode_integers(descr: ColumnDescPtr, column: &Int64Array) -> Result<Option<DictionaryChunk>, ParquetError> {
    let rows = column.len();
    let nulls = column.nulls().filter(|n| n.null_count() > 0);
    if nulls.is_some_and(|n| n.null_count() == rows) || rows == 0 || descr.physical_type() != Type::INT64 {
        return Ok(None);
    }
    let values = column.values();
    let valid = |row: usize| nulls.is_none_or(|n| n.is_valid(row));
    let (min, max) = match nulls {
        // The common case, one pass that vectorises.
        None => values.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v))),
        Some(_) => (0..rows)
            .filter(|&row| valid(row))
            .fold((i64::MAX, i64::MIN), |(lo, hi), row| (lo.min(values[row]), hi.max(values[row]))),
    };
    let span = max.abs_diff(min) + 1;
    if span > MAX_INTEGER_SPAN.min(4 * rows as u64) {
        return Ok(None);
    }
    let slot = |v: i64| v.wrapping_sub(min) as u64 as usize;
    // The values present, then each one's index in value order.
    let mut codes = vec![0u32; span as usize];
    for (row, &v) in values.iter().enumerate() {
        if valid(row) {
            codes[slot(v)] = 1;
        }
    }
    let mut dictionary = Vec::new();
    let mut used = 0u32;
    for (offset, code) in codes.iter_mut().enumerate() {
        if *code == 1 {
            *code = used;
            used += 1;
            dictionary.extend_from_slice(&(min.wrapping_add(offset as i64)).to_le_bytes());
        }
    }
    let null_count = nulls.map_or(0, |n| n.null_count() as u64);
    let statistics = Statistics::int64(Some(min), Some(max), None, Some(null_count), false);
    let indices = values.iter().enumerate().filter(|&(row, _)| valid(row)).map(|(_, &v)| codes[slot(v)]);
    write_chunk(descr, rows, nulls, Dictionary { bytes: dictionary, used, statistics: Some(statistics) }, indices)
}

/// A chunk's dictionary page (PLAIN values), how many values it holds, and
/// the chunk's statistics if it keeps any.
struct Dictionary {
    bytes: Vec<u8>,
    used: u32,
    statistics: Option<Statistics>,
}

/// The chunk of `rows` rows (`nulls` among them) whose non-null rows have
/// `indices` into `dictionary`: its two pages and what the row group records.
fn write_chunk(
    descr: ColumnDescPtr,
    rows: usize,
    nulls: Option<&NullBuffer>,
    dictionary: Dictionary,
    indices: impl Iterator<Item = u32>,
) -> Result<Option<DictionaryChunk>, ParquetError> {
    let width = bit_width(dictionary.used.saturating_sub(1));
    // Levels (a bit a row at most), the indices, and headers: no regrowth.
    let mut data = Vec::with_capacity(rows / 8 + rows * usize::from(width) / 8 + 64);
    if descr.max_def_level() > 0 {
        let levels = definition_levels(rows, nulls.map(|n| n.inner().sliced()));
        let len = u32::try_from(levels.len()).map_err(|_| ParquetError::General("levels over 4 GiB".into()))?;
        data.extend_from_slice(&len.to_le_bytes());
        data.extend_from_slice(&levels);
    } else if nulls.is_some() {
        return Err(ParquetError::General(format!("nulls in the required column {}", descr.name())));
    }
    data.push(width);
    bit_packed_run(indices, rows - nulls.map_or(0, |n| n.null_count()), width, &mut data);

    let mut sink = TrackedWrite::new(Vec::with_capacity(data.len() / 2 + dictionary.bytes.len() + 256));
    let (dictionary_spec, data_spec) = {
        let mut pages = SerializedPageWriter::new(&mut sink);
        let (buf, size) = snappy(&dictionary.bytes)?;
        let dictionary_page =
            Page::DictionaryPage { buf, num_values: dictionary.used, encoding: Encoding::PLAIN, is_sorted: false };
        let dictionary_spec = pages.write_page(CompressedPage::new(dictionary_page, size))?;
        let (buf, size) = snappy(&data)?;
        let num_values = u32::try_from(rows).map_err(|_| ParquetError::General("over 2^32 rows in a chunk".into()))?;
        let data_page = Page::DataPage {
            buf,
            num_values,
            encoding: Encoding::RLE_DICTIONARY,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let data_spec = pages.write_page(CompressedPage::new(data_page, size))?;
        pages.close()?;
        (dictionary_spec, data_spec)
    };
    let bytes = Bytes::from(sink.into_inner()?);
    let close = close_result(descr, rows as u64, &dictionary_spec, &data_spec, dictionary.statistics)?;
    Ok(Some(DictionaryChunk { bytes, close }))
}

fn close_result(
    descr: ColumnDescPtr,
    rows: u64,
    dictionary: &PageWriteSpec,
    data: &PageWriteSpec,
    statistics: Option<Statistics>,
) -> Result<ColumnCloseResult, ParquetError> {
    let offset = |spec: &PageWriteSpec| i64::try_from(spec.offset).map_err(|_| ParquetError::General("offset".into()));
    let size = |a: usize, b: usize| i64::try_from(a + b).map_err(|_| ParquetError::General("size".into()));
    let encodings = [Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY];
    let mut metadata = ColumnChunkMetaData::builder(descr);
    if let Some(statistics) = statistics {
        metadata = metadata.set_statistics(statistics);
    }
    let metadata = metadata
        .set_compression(Compression::SNAPPY)
        .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
        .set_page_encoding_stats(vec![
            PageEncodingStats { page_type: PageType::DICTIONARY_PAGE, encoding: Encoding::PLAIN, count: 1 },
            PageEncodingStats { page_type: PageType::DATA_PAGE, encoding: Encoding::RLE_DICTIONARY, count: 1 },
        ])
        .set_total_compressed_size(size(dictionary.compressed_size, data.compressed_size)?)
        .set_total_uncompressed_size(size(dictionary.uncompressed_size, data.uncompressed_size)?)
        .set_num_values(i64::from(data.num_values))
        .set_data_page_offset(offset(data)?)
        .set_dictionary_page_offset(Some(offset(dictionary)?))
        .build()?;
    // Readers that use page indexes need every chunk's data page locations.
    let data_page = PageLocation {
        offset: offset(data)?,
        compressed_page_size: i32::try_from(data.compressed_size).map_err(|_| ParquetError::General("page".into()))?,
        first_row_index: 0,
    };
    Ok(ColumnCloseResult {
        bytes_written: dictionary.bytes_written + data.bytes_written,
        rows_written: rows,
        metadata,
        bloom_filter: None,
        column_index: None,
        offset_index: Some(OffsetIndexMetaData {
            page_locations: vec![data_page],
            unencoded_byte_array_data_bytes: None,
        }),
    })
}

fn bad_key(key: u32, values: usize) -> ParquetError {
    ParquetError::General(format!("dictionary key {key} past the {values} values"))
}

/// Bits needed for values up to `max`, at least 1 (a width of 0 is legal
/// but not every reader takes it).
fn bit_width(max: u32) -> u8 {
    (32 - max.leading_zeros()).max(1) as u8
}

/// The definition levels (0 null, 1 valid) of `rows` rows, RLE/bit-packed
/// hybrid at bit width 1: one RLE run of 1s without nulls, else `validity`
/// (LSB-first bits, as Arrow keeps them) as one bit-packed run.
fn definition_levels(rows: usize, validity: Option<arrow_buffer::Buffer>) -> Vec<u8> {
    let mut out = Vec::new();
    match validity {
        None => {
            varint((rows as u64) << 1, &mut out);
            out.push(1);
        }
        Some(bits) => {
            let groups = rows.div_ceil(8);
            varint((groups as u64) << 1 | 1, &mut out);
            out.extend_from_slice(&bits.as_slice()[..groups]);
        }
    }
    out
}

/// `count` values of `width` bits as one bit-packed run: a header, then groups
/// of 8 values packed LSB first (the last group padded with zeros).
fn bit_packed_run(values: impl Iterator<Item = u32>, count: usize, width: u8, out: &mut Vec<u8>) {
    let groups = count.div_ceil(8);
    varint((groups as u64) << 1 | 1, out);
    out.reserve(groups * usize::from(width));
    let start = out.len();
    let (mut buffer, mut filled) = (0u64, 0u32);
    for value in values {
        buffer |= u64::from(value) << filled;
        filled += u32::from(width);
        while filled >= 8 {
            out.push(buffer as u8);
            buffer >>= 8;
            filled -= 8;
        }
    }
    if filled > 0 {
        out.push(buffer as u8);
    }
    out.resize(start + groups * usize::from(width), 0);
}

/// ULEB128, the RLE hybrid's run headers.
fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn snappy(raw: &[u8]) -> Result<(Bytes, usize), ParquetError> {
    let compressed =
        snap::raw::Encoder::new().compress_vec(raw).map_err(|e| ParquetError::General(format!("snappy: {e}")))?;
    Ok((Bytes::from(compressed), raw.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_packing_puts_values_lsb_first_in_groups_of_eight() {
        let mut out = Vec::new();
        bit_packed_run([1u32, 2, 3, 4, 5, 6, 7, 0, 5].into_iter(), 9, 3, &mut out);
        // Two groups: header (2 << 1 | 1), then 3 bytes per group.
        // The first group is the Parquet spec's own example (values 0..7 there; here 1..7, 0).
        assert_eq!(out[0], 5);
        assert_eq!(out.len(), 1 + 6);
        let bits: Vec<u32> = (0..9).map(|i| (u32::from_le_bytes([out[1], out[2], out[3], 0]) >> (3 * i)) & 7).collect();
        assert_eq!(&bits[..8], &[1, 2, 3, 4, 5, 6, 7, 0]);
        assert_eq!(out[4] & 7, 5);
    }

    #[test]
    fn varints_and_widths() {
        let mut out = Vec::new();
        varint(300, &mut out);
        assert_eq!(out, [0xAC, 0x02]);
        assert_eq!([bit_width(0), bit_width(1), bit_width(2), bit_width(299), bit_width(511)], [1, 1, 2, 9, 9]);
    }
}
