//! The bitmap bytes of two warehouses, so audiences can be handed to them and
//! read back: Doris / StarRocks `BITMAP` values and ClickHouse
//! `AggregateFunction(groupBitmap, UInt32)` states.
//!
//! # Doris / StarRocks `BITMAP`
//!
//! Defined by `BitmapTypeCode`, `BitmapValue::write_to` / `deserialize` and
//! `detail::Roaring64Map::write` / `read` in Doris's `be/src/util/bitmap_value.h`
//! (serialize version 1, the default `bitmap_serialize_version`). A type code
//! byte, then its payload, all little endian:
//!
//! ```text
//! 0  EMPTY        nothing
//! 1  SINGLE32     u32                     one value <= u32::MAX
//! 3  SINGLE64     u64                     one value >  u32::MAX
//! 5  SET          u8 count, count x u64   2..=32 values (Doris SET_TYPE_THRESHOLD)
//! 2  BITMAP32     Roaring portable        more than 32 values, all <= u32::MAX
//! 4  BITMAP64     LEB128 bucket count, then per bucket in ascending order:
//!                 u32 high 32 bits, Roaring portable bitmap of the low 32 bits
//! ```
//!
//! Read only: `10` SET_V2 (u32 count, count x u64: StarRocks's `SET` and Doris's
//! `SET_V2`), `12` BITMAP32_V2 and `13` BITMAP64_V2 (as 2 and 4, but each
//! Roaring bitmap in CRoaring's native serialization: a byte `1` then a u32
//! count and that many sorted u32 values, or a byte `2` then the portable bytes).
//!
//! The writer picks the type Doris's current defaults pick. Doris writes SET
//! only when the BE setting `enable_set_in_bitmap_value` is on: SET came with
//! Doris 2.0 (apache/doris#19973) with the setting off, and it defaults on
//! since apache/doris#35730 (2024); with it off, 2..=32 values are a BITMAP32
//! or BITMAP64 too. Doris writes SET values in hash-set order; we write them
//! ascending. StarRocks (whose SET is code 10) and Doris before 2.0 cannot read
//! code 5; both read 0-4. Roaring payloads are run-optimised first, as Doris's
//! `getSizeInBytes` does, so more than 32 values get Doris's exact bytes.
//!
//! # ClickHouse `groupBitmap` state (UInt32)
//!
//! Defined by `RoaringBitmapWithSmallSet::write` / `read` in ClickHouse's
//! `src/AggregateFunctions/AggregateFunctionGroupBitmapData.h` (small set of 32,
//! `SmallTable::write` in `src/Common/HashTable/SmallTable.h`, varints from
//! `src/IO/VarInt.h`):
//!
//! ```text
//! 0  small set    LEB128 count (<= 32), count x u32 in insertion order
//! 1  bitmap       LEB128 byte size (> 0), that many bytes of Roaring portable
//! ```
//!
//! ClickHouse keeps up to 32 distinct values in the small set and turns large
//! on the 33rd; it run-optimises a copy before writing. We write sets of at
//! most 32 values small (ascending) and larger ones as a run-optimised bitmap:
//! ClickHouse's exact bytes for a `groupBitmapState` fed the ids in ascending
//! order (its small set keeps insertion order, so we read any order).
//!
//! # Invariants
//!
//! Encoders take sorted, distinct ids (an unsorted slice is sorted and deduped
//! first). Decoders are strict: a truncated, trailing, out-of-range or
//! inconsistent byte is a `StoreFormat` error naming the byte offset and what
//! was expected there; they never panic on any input. Roaring payloads go
//! through the crate's strict portable parser ([`crate::roaring::parse`]) and
//! then CRoaring's validating reader. Decoded values come back ascending and
//! distinct: sets stored in hash or insertion order are sorted; a duplicate in
//! a Doris SET is an error (Doris refuses it), one in a ClickHouse small set is
//! dropped (ClickHouse reads it).

use croaring::{Bitmap, Portable};

use crate::error::{Error, Result};
use crate::roaring;

const EMPTY: u8 = 0;
const SINGLE32: u8 = 1;
const BITMAP32: u8 = 2;
const SINGLE64: u8 = 3;
const BITMAP64: u8 = 4;
const SET: u8 = 5;
const SET_V2: u8 = 10;
const BITMAP32_V2: u8 = 12;
const BITMAP64_V2: u8 = 13;
/// The most values a Doris SET holds (`SET_TYPE_THRESHOLD`).
const SET_MAX: usize = 32;

const SMALL: u8 = 0;
const LARGE: u8 = 1;
/// The most values a ClickHouse small set holds (`RoaringBitmapWithSmallSet<T, 32>`).
const SMALL_MAX: usize = 32;

/// CRoaring's native serialization: sorted u32 values, or the portable bytes.
const NATIVE_ARRAY: u8 = 1;
const NATIVE_PORTABLE: u8 = 2;

const COOKIE_NO_RUN: u32 = 12346;
const COOKIE_RUN: u32 = 12347;
/// With the run cookie, containers carry offsets only from this many on.
const NO_OFFSET_THRESHOLD: usize = 4;
const ARRAY_MAX: usize = 4096;

// ---------------------------------------------------------------- Doris encode

/// Doris / StarRocks BITMAP serialization (what `bitmap_to_base64` gives
/// before base64, and what BITMAP columns store) of sorted, distinct ids.
/// Layout: `BitmapValue::write_to` in Doris's `be/src/util/bitmap_value.h`
/// (see the module doc for which type code each size gets).
pub fn doris_encode(values: &[u64]) -> Vec<u8> {
    let sorted;
    let values = if values.windows(2).all(|p| p[0] < p[1]) {
        values
    } else {
        sorted = sorted_distinct(values);
        &sorted[..]
    };
    match values {
        [] => vec![EMPTY],
        &[value] => single(value),
        _ if values.len() <= SET_MAX => set(values),
        _ if values.last().is_some_and(|&max| max <= u64::from(u32::MAX)) => {
            let low: Vec<u32> = values.iter().map(|&v| v as u32).collect();
            bitmap32(&Bitmap::of(&low))
        }
        _ => bitmap64(values),
    }
}

/// [`doris_encode`] of a 32-bit bitmap, without listing its ids as `u64`s
/// (BITMAP32 for more than 32 ids). Layout: `BitmapValue::write_to` in Doris's
/// `be/src/util/bitmap_value.h`.
pub fn doris_encode_bitmap(bitmap: &Bitmap) -> Vec<u8> {
    match bitmap.cardinality() {
        0 => vec![EMPTY],
        1 => single(bitmap.minimum().map_or(0, u64::from)),
        n if n <= SET_MAX as u64 => set(&bitmap.iter().map(u64::from).collect::<Vec<_>>()),
        _ => bitmap32(bitmap),
    }
}

fn sorted_distinct(values: &[u64]) -> Vec<u64> {
    let mut out = values.to_vec();
    out.sort_unstable();
    out.dedup();
    out
}

fn single(value: u64) -> Vec<u8> {
    match u32::try_from(value) {
        Ok(small) => [&[SINGLE32][..], &small.to_le_bytes()].concat(),
        Err(_) => [&[SINGLE64][..], &value.to_le_bytes()].concat(),
    }
}

/// A SET of 2..=32 ascending values.
fn set(values: &[u64]) -> Vec<u8> {
    let n = values.len();
    debug_assert!(n <= SET_MAX);
    let mut out = Vec::with_capacity(2 + 8 * n);
    out.extend([SET, n as u8]);
    for v in values {
        out.extend(v.to_le_bytes());
    }
    out
}

fn bitmap32(bitmap: &Bitmap) -> Vec<u8> {
    let mut out = vec![BITMAP32];
    push_portable(bitmap, &mut out);
    out
}

/// Run-optimises a copy of `bitmap` (as Doris and ClickHouse do before
/// writing) and appends its portable bytes to `out`; returns their length.
fn push_portable(bitmap: &Bitmap, out: &mut Vec<u8>) -> usize {
    let mut optimised = bitmap.clone();
    optimised.run_optimize();
    let len = optimised.get_serialized_size_in_bytes::<Portable>();
    out.reserve(len);
    let written = optimised.serialize_into_vec::<Portable>(out).len();
    debug_assert_eq!(written, len);
    written
}

/// BITMAP64 of sorted, distinct values: one Roaring bitmap per high 32 bits.
fn bitmap64(values: &[u64]) -> Vec<u8> {
    let buckets = values.chunk_by(|a, b| a >> 32 == b >> 32);
    let mut out = vec![BITMAP64];
    push_varint(buckets.clone().count() as u64, &mut out);
    let mut low = Vec::new();
    for bucket in buckets {
        low.clear();
        low.extend(bucket.iter().map(|&v| v as u32));
        out.extend(((bucket[0] >> 32) as u32).to_le_bytes());
        push_portable(&Bitmap::of(&low), &mut out);
    }
    out
}

/// LEB128, as Doris's `encode_varint64` and ClickHouse's `writeVarUInt` write it.
fn push_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

// ---------------------------------------------------------------- Doris decode

/// Decodes a Doris / StarRocks BITMAP value (type codes 0-5, 10, 12, 13) into
/// its ids, ascending and distinct. Layout: `BitmapValue::deserialize` and
/// `Roaring64Map::read` in Doris's `be/src/util/bitmap_value.h`.
pub fn doris_decode(bytes: &[u8]) -> Result<Vec<u64>> {
    Ok(match parse_doris(bytes)? {
        Doris::Values(values) => values,
        Doris::Buckets(buckets) => {
            let total = buckets.iter().map(|(_, b)| b.cardinality()).sum::<u64>();
            let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
            for (high, bitmap) in &buckets {
                let base = u64::from(*high) << 32;
                out.extend(bitmap.iter().map(|low| base | u64::from(low)));
            }
            out
        }
    })
}

/// [`doris_decode`] into a 32-bit bitmap, without listing the ids as `u64`s;
/// an `InvalidInput` error if some id exceeds `u32::MAX`.
pub fn doris_decode_bitmap(bytes: &[u8]) -> Result<Bitmap> {
    match parse_doris(bytes)? {
        Doris::Values(values) => match values.iter().find(|&&v| v > u64::from(u32::MAX)) {
            Some(&wide) => Err(too_wide(wide)),
            None => Ok(Bitmap::of(&values.iter().map(|&v| v as u32).collect::<Vec<_>>())),
        },
        Doris::Buckets(buckets) => {
            let mut out = Bitmap::new();
            for (high, bitmap) in buckets {
                match (high, bitmap.minimum()) {
                    (_, None) => {}
                    (0, Some(_)) => out = bitmap,
                    (_, Some(low)) => return Err(too_wide(u64::from(high) << 32 | u64::from(low))),
                }
            }
            Ok(out)
        }
    }
}

fn too_wide(value: u64) -> Error {
    Error::invalid(format!("Doris bitmap: id {value} does not fit a 32-bit bitmap"))
}

enum Doris {
    /// Ascending, distinct.
    Values(Vec<u64>),
    /// Ascending high 32 bits with the bitmap of their low 32 bits.
    Buckets(Vec<(u32, Bitmap)>),
}

fn parse_doris(bytes: &[u8]) -> Result<Doris> {
    let mut r = Cursor::new(bytes, "Doris bitmap");
    let out = match r.u8("a type code")? {
        EMPTY => Doris::Values(Vec::new()),
        SINGLE32 => Doris::Values(vec![u64::from(r.u32("the SINGLE32 value")?)]),
        SINGLE64 => Doris::Values(vec![r.u64("the SINGLE64 value")?]),
        SET => {
            let n = usize::from(r.u8("the SET count")?);
            if n > SET_MAX {
                return Err(r.error_at(1, format!("a SET count of at most {SET_MAX}, found {n}")));
            }
            Doris::Values(r.set_values(n, "SET")?)
        }
        SET_V2 => {
            let n = r.u32("the SET_V2 count")? as usize;
            Doris::Values(r.set_values(n, "SET_V2")?)
        }
        BITMAP32 => Doris::Buckets(vec![(0, r.portable("the BITMAP32 Roaring bitmap", None)?)]),
        BITMAP32_V2 => Doris::Buckets(vec![(0, r.native("the BITMAP32_V2 Roaring bitmap")?)]),
        code @ (BITMAP64 | BITMAP64_V2) => {
            let n = r.varint("the BITMAP64 bucket count")?;
            let mut buckets: Vec<(u32, Bitmap)> = Vec::new();
            for i in 0..n {
                let at = r.pos;
                let high = r.u32("a bucket's high 32 bits")?;
                if let Some(&(last, _)) = buckets.last() {
                    if high <= last {
                        return Err(r.error_at(at, format!("bucket {i}: high bits {high} not above {last}")));
                    }
                }
                let bitmap = match code {
                    BITMAP64 => r.portable("a bucket's Roaring bitmap", None)?,
                    _ => r.native("a bucket's Roaring bitmap")?,
                };
                buckets.push((high, bitmap));
            }
            Doris::Buckets(buckets)
        }
        code => {
            return Err(r.error_at(0, format!("a type code 0-5, 10, 12 or 13, found {code}")));
        }
    };
    r.finish()?;
    Ok(out)
}

// ----------------------------------------------------------------- ClickHouse

/// ClickHouse `AggregateFunction(groupBitmap, UInt32)` state of `values`:
/// small for at most 32 ids, else the run-optimised Roaring bitmap. Layout:
/// `RoaringBitmapWithSmallSet::write` in ClickHouse's
/// `src/AggregateFunctions/AggregateFunctionGroupBitmapData.h`.
pub fn clickhouse_encode(values: &Bitmap) -> Vec<u8> {
    let n = values.cardinality();
    if n <= SMALL_MAX as u64 {
        let mut out = Vec::with_capacity(2 + 4 * n as usize);
        out.push(SMALL);
        push_varint(n, &mut out);
        for v in values.iter() {
            out.extend(v.to_le_bytes());
        }
        return out;
    }
    let mut optimised = values.clone();
    optimised.run_optimize();
    let size = optimised.get_serialized_size_in_bytes::<Portable>();
    let mut out = Vec::with_capacity(11 + size);
    out.push(LARGE);
    push_varint(size as u64, &mut out);
    let written = optimised.serialize_into_vec::<Portable>(&mut out).len();
    debug_assert_eq!(written, size);
    out
}

/// Decodes a ClickHouse `AggregateFunction(groupBitmap, UInt32)` state, either
/// kind. Layout: `RoaringBitmapWithSmallSet::read` in ClickHouse's
/// `src/AggregateFunctions/AggregateFunctionGroupBitmapData.h`; the size of a
/// large state must match its Roaring bytes exactly.
pub fn clickhouse_decode(bytes: &[u8]) -> Result<Bitmap> {
    let mut r = Cursor::new(bytes, "ClickHouse groupBitmap state");
    let out = match r.u8("the kind byte")? {
        SMALL => {
            let n = r.varint("the small-set count")?;
            if n > SMALL_MAX as u64 {
                return Err(r.error_at(1, format!("a small-set count of at most {SMALL_MAX}, found {n}")));
            }
            let mut values = Vec::with_capacity(n as usize);
            for _ in 0..n {
                values.push(r.u32("a small-set value")?);
            }
            values.sort_unstable();
            values.dedup();
            Bitmap::of(&values)
        }
        LARGE => {
            let size = r.varint("the Roaring byte size")?;
            if size == 0 {
                return Err(r.error_at(1, "a Roaring byte size above 0, found 0".to_string()));
            }
            let size = usize::try_from(size).ok().filter(|&s| s <= r.remaining()).ok_or_else(|| {
                r.error(format!("the {size} Roaring bytes the size field declares, {} remain", r.remaining()))
            })?;
            r.portable("the Roaring bitmap", Some(size))?
        }
        kind => return Err(r.error_at(0, format!("kind 0 (small set) or 1 (Roaring bitmap), found {kind}"))),
    };
    r.finish()?;
    Ok(out)
}

// ---------------------------------------------------------------- the reader

/// Bounds-checked reading whose errors name the format, the byte offset and
/// what was expected there.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Reads stop here (the end of a sized payload, else of `bytes`).
    end: usize,
    format: &'static str,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8], format: &'static str) -> Self {
        Cursor { bytes, pos: 0, end: bytes.len(), format }
    }

    fn remaining(&self) -> usize {
        self.end - self.pos
    }

    fn error(&self, message: String) -> Error {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, at: usize, expected: String) -> Error {
        Error::format(format!("{}: at byte {at}: expected {expected}", self.format))
    }

    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8]> {
        if len > self.remaining() {
            let left = self.remaining();
            return Err(self.error(format!("{what} ({len} bytes), but only {left} remain")));
        }
        let out = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// LEB128 of at most 10 bytes that fits 64 bits (Doris `decode_varint64_ptr`,
    /// ClickHouse `readVarUInt`).
    fn varint(&mut self, what: &str) -> Result<u64> {
        let start = self.pos;
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.u8(what)?;
            if i == 9 && byte > 1 {
                return Err(self.error_at(start, format!("{what} as a varint of at most 64 bits")));
            }
            value |= u64::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        // Not reached: the tenth byte either ends the varint or is refused above.
        Err(self.error_at(start, format!("{what} as a varint of at most 10 bytes")))
    }

    /// `n` u64 values of a Doris SET, sorted; a duplicate is an error.
    fn set_values(&mut self, n: usize, kind: &str) -> Result<Vec<u64>> {
        let start = self.pos;
        let raw = self.take(n.saturating_mul(8), &format!("{n} {kind} values"))?;
        let mut values: Vec<u64> =
            raw.chunks_exact(8).map(|p| u64::from_le_bytes([p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]])).collect();
        values.sort_unstable();
        if let Some(p) = values.windows(2).find(|p| p[0] == p[1]) {
            return Err(self.error_at(start, format!("distinct {kind} values, found {} twice", p[0])));
        }
        Ok(values)
    }

    /// A Roaring bitmap in the portable format, of exactly `size` bytes when
    /// given (else as many as its header says), checked by the crate's strict
    /// parser and by CRoaring's validator.
    fn portable(&mut self, what: &str, size: Option<usize>) -> Result<Bitmap> {
        let start = self.pos;
        let mut walk = *self;
        if let Some(size) = size {
            walk.end = start + size;
        }
        walk.walk_portable(what)?;
        if let Some(size) = size {
            if walk.pos != walk.end {
                let used = walk.pos - start;
                return Err(walk.error(format!("the end of {what} at {size} bytes, its header accounts for {used}")));
            }
        }
        let bytes = &self.bytes[start..walk.pos];
        roaring::parse(bytes).map_err(|e| self.error_at(start, format!("{what}: {e}")))?;
        let bitmap = Bitmap::try_deserialize::<Portable>(bytes).ok_or_else(|| {
            self.error_at(start, format!("{what} that CRoaring accepts (runs must not touch or overlap)"))
        })?;
        self.pos = walk.pos;
        Ok(bitmap)
    }

    /// Steps over one portable bitmap, checking only that every count it
    /// declares fits in the input (the RoaringFormatSpec layout).
    fn walk_portable(&mut self, what: &str) -> Result<()> {
        let at = self.pos;
        let cookie = self.u32(&format!("the cookie of {what}"))?;
        let (n, run_flags) = if cookie & 0xFFFF == COOKIE_RUN {
            let n = (cookie >> 16) as usize + 1;
            (n, Some(self.take(n.div_ceil(8), "the run flags")?))
        } else if cookie == COOKIE_NO_RUN {
            let n = self.u32("the container count")? as usize;
            if n > 1 << 16 {
                return Err(self.error_at(at + 4, format!("at most 65536 containers, found {n}")));
            }
            (n, None)
        } else {
            return Err(self.error_at(at, format!("{what}: a Roaring cookie 12346 or 12347, found {cookie}")));
        };
        let header = self.take(4 * n, "the container keys and cardinalities")?;
        if run_flags.is_none() || n >= NO_OFFSET_THRESHOLD {
            self.take(4 * n, "the container offsets")?;
        }
        for i in 0..n {
            let card = usize::from(u16::from_le_bytes([header[4 * i + 2], header[4 * i + 3]])) + 1;
            if run_flags.is_some_and(|f| f[i / 8] >> (i % 8) & 1 == 1) {
                let runs = usize::from(self.u16("a run count")?);
                self.take(4 * runs, &format!("container {i}'s {runs} runs"))?;
            } else if card <= ARRAY_MAX {
                self.take(2 * card, &format!("container {i}'s {card} array values"))?;
            } else {
                self.take(8192, &format!("container {i}'s bitset"))?;
            }
        }
        Ok(())
    }

    /// A Roaring bitmap in CRoaring's native serialization
    /// (`roaring_bitmap_serialize`): sorted u32 values or the portable bytes.
    fn native(&mut self, what: &str) -> Result<Bitmap> {
        let at = self.pos;
        match self.u8(&format!("the form byte of {what}"))? {
            NATIVE_ARRAY => {
                let n = self.u32("the count of the native array")? as usize;
                let start = self.pos;
                let raw = self.take(n.saturating_mul(4), &format!("{n} native array values"))?;
                let values: Vec<u32> =
                    raw.chunks_exact(4).map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]])).collect();
                if values.windows(2).any(|p| p[0] >= p[1]) {
                    return Err(self.error_at(start, "strictly increasing native array values".to_string()));
                }
                Ok(Bitmap::of(&values))
            }
            NATIVE_PORTABLE => self.portable(what, None),
            form => Err(self.error_at(at, format!("{what}: native form 1 or 2, found {form}"))),
        }
    }

    fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(format!("the end of the input, found {n} trailing bytes"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use croaring::Native;

    /// Standard base64 with padding (the warehouses' `bitmap_to_base64`).
    fn b64(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0);
        for c in text.bytes().filter(|&c| c != b'=') {
            let v = ALPHABET.iter().position(|&a| a == c).expect("base64 character") as u32;
            acc = acc << 6 | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        out
    }

    fn le32(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn le64(values: &[u64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn optimised_portable(values: &[u32]) -> Vec<u8> {
        let mut b = Bitmap::of(values);
        b.run_optimize();
        b.serialize::<Portable>()
    }

    const TWO_32: u64 = 1 << 32;

    /// 0..=32 and 0..=31 plus 2^32: Doris's `bits32` / `bits64` (SET_TYPE_THRESHOLD + 1).
    fn bits32() -> Vec<u64> {
        (0..=32).collect()
    }

    fn bits64() -> Vec<u64> {
        (0..32).chain([TWO_32]).collect()
    }

    // Vectors from apache/doris be/test/vec/function/function_bitmap_test.cpp
    // (function_bitmap_to_base64 with the defaults enable_set_in_bitmap_value =
    // true and bitmap_serialize_version = 1): our encoder writes these bytes.
    #[test]
    fn doris_test_vectors_encode_exactly() {
        let cases: Vec<(Vec<u64>, &str)> = vec![
            (vec![], "AA=="),
            (vec![1], "AQEAAAA="),
            (vec![TWO_32], "AwAAAAABAAAA"),
            (vec![1, 9_999_999], "BQIBAAAAAAAAAH+WmAAAAAAA"),
            (vec![0, 1, 2, 3], "BQQAAAAAAAAAAAEAAAAAAAAAAgAAAAAAAAADAAAAAAAAAA=="),
            (bits32(), "AjswAAABAAAgAAEAAAAgAA=="),
            (bits64(), "BAIAAAAAOzAAAAEAAB8AAQAAAB8AAQAAADowAAABAAAAAAAAABAAAAAAAA=="),
        ];
        for (values, text) in cases {
            assert_eq!(doris_encode(&values), b64(text), "{text}");
            assert_eq!(doris_decode(&b64(text)).unwrap(), values, "{text}");
            if values.iter().all(|&v| v <= u64::from(u32::MAX)) {
                let low: Vec<u32> = values.iter().map(|&v| v as u32).collect();
                assert_eq!(doris_encode_bitmap(&Bitmap::of(&low)), b64(text), "{text}");
                assert_eq!(doris_decode_bitmap(&b64(text)).unwrap(), Bitmap::of(&low), "{text}");
            }
        }
    }

    // Bytes other writers give, which we read but do not write.
    #[test]
    fn doris_and_starrocks_vectors_decode() {
        let cases: Vec<(&str, Vec<u64>)> = vec![
            // Doris function_bitmap_test.cpp, SET in hash-set order (2^32 before 1).
            ("BQIAAAAAAQAAAAEAAAAAAAAA", vec![1, TWO_32]),
            // Doris with enable_set_in_bitmap_value = false (Doris 2.0 / 2.1 default).
            ("AjowAAACAAAAAAAAAJgAAAAYAAAAGgAAAAEAf5Y=", vec![1, 9_999_999]),
            ("BAIAAAAAOjAAAAEAAAAAAAAAEAAAAAEAAQAAADowAAABAAAAAAAAABAAAAAAAA==", vec![1, TWO_32]),
            // Doris function_bitmap_from_base64: StarRocks's output (no run containers).
            (
                "AjowAAABAAAAAAAgABAAAAAAAAEAAgADAAQABQAGAAcACAAJAAoACwAMAA0ADgAPABAAEQASABMAFAAVABYAFwAYABkAGgAbABwAHQAeAB8AIAA=",
                bits32(),
            ),
            (
                "BAIAAAAAOjAAAAEAAAAAAB8AEAAAAAAAAQACAAMABAAFAAYABwAIAAkACgALAAwADQAOAA8AEAARABIAEwAUABUAFgAXABgAGQAaABsAHAAdAB4AHwABAAAAOjAAAAEAAAAAAAAAEAAAAAAA",
                bits64(),
            ),
            // Doris bitmap_serialize_version = 2: BITMAP32_V2 / BITMAP64_V2 (CRoaring native).
            ("DAI7MAAAAQAAIAABAAAAIAA=", bits32()),
            ("DQIAAAAAAjswAAABAAAfAAEAAAAfAAEAAAABAQAAAAAAAAA=", bits64()),
            (
                "DAI6MAAAAQAAAAAAIAAQAAAAAAABAAIAAwAEAAUABgAHAAgACQAKAAsADAANAA4ADwAQABEAEgATABQAFQAWABcAGAAZABoAGwAcAB0AHgAfACAA",
                bits32(),
            ),
            (
                "DQIAAAAAAjowAAABAAAAAAAfABAAAAAAAAEAAgADAAQABQAGAAcACAAJAAoACwAMAA0ADgAPABAAEQASABMAFAAVABYAFwAYABkAGgAbABwAHQAeAB8AAQAAAAEBAAAAAAAAAA==",
                bits64(),
            ),
            // Doris SET_V2 (code 10, StarRocks's SET): u32 count, u64 values.
            ("CgIAAAAAAAAAAAAAAAEAAAAAAAAA", vec![0, 1]),
            // StarRocks docs, bitmap_to_base64(bitmap_from_string("0, 1, 2, 3")).
            ("AjowAAABAAAAAAADABAAAAAAAAEAAgADAA==", vec![0, 1, 2, 3]),
            // StarRocks docs, base64_to_bitmap example ({1, 2, 3}).
            ("AjowAAABAAAAAAACABAAAAABAAIAAwA=", vec![1, 2, 3]),
        ];
        for (text, values) in cases {
            assert_eq!(doris_decode(&b64(text)).unwrap(), values, "{text}");
        }
    }

    #[test]
    fn doris_hand_written_bytes() {
        assert_eq!(doris_encode(&[]), [0]);
        assert_eq!(doris_encode(&[1]), [1, 1, 0, 0, 0]);
        assert_eq!(doris_encode(&[u64::from(u32::MAX)]), [1, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(doris_encode(&[TWO_32 + 5]), [3, 5, 0, 0, 0, 1, 0, 0, 0]);
        // SET: count byte, then u64 values ascending.
        let mut set = vec![5, 3];
        set.extend(le64(&[7, 1 << 20, u64::MAX]));
        assert_eq!(doris_encode(&[7, 1 << 20, u64::MAX]), set);
        assert_eq!(doris_decode(&set).unwrap(), [7, 1 << 20, u64::MAX]);
        // 32 values are still a SET; 33 a BITMAP32.
        let thirty_two: Vec<u64> = (0..32).map(|i| i * 1000).collect();
        assert_eq!(doris_encode(&thirty_two)[..2], [5, 32]);
        // BITMAP32: the run-optimised portable bytes, starting with a cookie.
        let ids: Vec<u32> = (0..40).map(|i| i * 3).chain(1000..2000).collect();
        let wide: Vec<u64> = ids.iter().map(|&v| u64::from(v)).collect();
        let encoded = doris_encode(&wide);
        assert_eq!(encoded[0], 2);
        assert_eq!(encoded[1..3], [0x3B, 0x30]); // 12347: it has a run container
        assert_eq!(encoded[1..], optimised_portable(&ids)[..]);
        // BITMAP64 with two buckets: varint 2, then per bucket high u32 and portable.
        let values = [1, 2, 3, TWO_32 * 7 + 9];
        let many: Vec<u64> = values.iter().copied().chain((100..130).map(|v| TWO_32 * 7 + v)).collect();
        let mut expected = vec![4, 2, 0, 0, 0, 0];
        expected.extend([0x3A, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 16, 0, 0, 0, 1, 0, 2, 0, 3, 0]);
        expected.extend([7, 0, 0, 0]);
        let high: Vec<u32> = std::iter::once(9).chain(100..130).collect();
        expected.extend(optimised_portable(&high));
        assert_eq!(doris_encode(&many), expected);
        assert_eq!(doris_decode(&expected).unwrap(), many);
    }

    #[test]
    fn doris_encode_sorts_unsorted_input() {
        assert_eq!(doris_encode(&[9_999_999, 1, 1]), b64("BQIBAAAAAAAAAH+WmAAAAAAA"));
        let mut shuffled = bits64();
        shuffled.reverse();
        assert_eq!(doris_encode(&shuffled), doris_encode(&bits64()));
    }

    // ClickHouse: 0, varint count, u32 values (RoaringBitmapWithSmallSet::write).
    #[test]
    fn clickhouse_hand_written_bytes() {
        assert_eq!(clickhouse_encode(&Bitmap::new()), [0, 0]);
        let small = [0, 3, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0];
        assert_eq!(clickhouse_encode(&Bitmap::of(&[1, 2, 3])), small);
        assert_eq!(clickhouse_decode(&small).unwrap(), Bitmap::of(&[1, 2, 3]));
        // Insertion order and a repeated value are read as ClickHouse reads them.
        let unordered = [0, 4, 3, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0];
        assert_eq!(clickhouse_decode(&unordered).unwrap(), Bitmap::of(&[1, 2, 3]));
        // 32 values stay small; 33 turn large.
        let thirty_two = Bitmap::from_range(0..32);
        assert_eq!(clickhouse_encode(&thirty_two)[..2], [0, 32]);
        assert_eq!(clickhouse_encode(&thirty_two).len(), 2 + 4 * 32);
        let thirty_three = Bitmap::from_range(0..33);
        let mut large = vec![1, 15];
        large.extend([0x3B, 0x30, 0, 0, 1, 0, 0, 32, 0, 1, 0, 0, 0, 32, 0]); // one run 0..=32
        assert_eq!(clickhouse_encode(&thirty_three), large);
        assert_eq!(clickhouse_decode(&large).unwrap(), thirty_three);
        // 100 odd ids: an array container of 216 portable bytes, varint D8 01.
        let odd: Vec<u32> = (0..100).map(|i| 2 * i + 1).collect();
        let mut large = vec![1, 0xD8, 0x01, 0x3A, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 99, 0, 16, 0, 0, 0];
        large.extend(odd.iter().flat_map(|&v| (v as u16).to_le_bytes()));
        assert_eq!(clickhouse_encode(&Bitmap::of(&odd)), large);
        assert_eq!(clickhouse_decode(&large).unwrap(), Bitmap::of(&odd));
    }

    // kb.altinity.com "Roaring bitmaps for calculating retention":
    // hex(groupBitmapState(toUInt16(...))) of [0,1,2,3,4] is 000500000100020003000400.
    // The layout is ours with 2-byte values; as a UInt32 state it is truncated.
    #[test]
    fn clickhouse_uint16_state_is_not_a_uint32_state() {
        let uint16 = [0x00, 0x05, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x04, 0x00];
        assert!(clickhouse_decode(&uint16).is_err());
        let mut uint32 = vec![0, 5];
        uint32.extend(le32(&[0, 1, 2, 3, 4]));
        assert_eq!(clickhouse_decode(&uint32).unwrap(), Bitmap::from_range(0..5));
    }

    fn sizes() -> Vec<Vec<u64>> {
        let top = u64::from(u32::MAX);
        let mut out: Vec<Vec<u64>> = [0usize, 1, 2, 31, 32, 33, 4096, 4097, 100_000]
            .iter()
            .map(|&n| (0..n as u64).map(|i| i * 7 + 3).collect())
            .collect();
        out.push((0..200_000).collect()); // dense: runs and full containers
        out.push((0..70_000).map(|i| i * 2).collect()); // bitsets
        out.push((top - 40..=top).collect()); // near u32::MAX, BITMAP32
        out.push((top - 20..=top + 20).collect()); // straddles: BITMAP64, two buckets
        out.push((top - 5..=top + 5).collect()); // straddles: SET
        out.push(vec![0, u64::MAX]);
        out.push((0..50).map(|i| i << 40 | i).collect()); // one value per bucket
        out.push((0..10).flat_map(|k| (0..5000).map(move |i| (k << 33) | (i * 3))).collect());
        out.push((u64::MAX - 99..=u64::MAX).collect());
        out
    }

    #[test]
    fn doris_round_trips() {
        for values in sizes() {
            let bytes = doris_encode(&values);
            assert_eq!(doris_decode(&bytes).unwrap(), values, "{} values", values.len());
            if let Some(low) = values.iter().map(|&v| u32::try_from(v).ok()).collect::<Option<Vec<u32>>>() {
                let bitmap = Bitmap::of(&low);
                assert_eq!(doris_encode_bitmap(&bitmap), bytes);
                assert_eq!(doris_decode_bitmap(&bytes).unwrap(), bitmap);
            } else {
                assert!(matches!(doris_decode_bitmap(&bytes), Err(Error::InvalidInput(_))));
            }
        }
    }

    #[test]
    fn clickhouse_round_trips() {
        for values in sizes() {
            let low: Vec<u32> = values.iter().filter_map(|&v| u32::try_from(v).ok()).collect();
            let bitmap = Bitmap::of(&low);
            let bytes = clickhouse_encode(&bitmap);
            assert_eq!(bytes[0], u8::from(low.len() > 32));
            assert_eq!(clickhouse_decode(&bytes).unwrap(), bitmap, "{} values", low.len());
        }
    }

    /// Doris's V2 codes hold CRoaring's native bytes: croaring's own `Native` reads alike.
    #[test]
    fn doris_v2_matches_croaring_native() {
        for values in [vec![], vec![5], (0..33).collect(), (0..5000).map(|i| i * 5).collect::<Vec<u32>>()] {
            let bitmap = Bitmap::of(&values);
            let mut bytes = vec![BITMAP32_V2];
            bytes.extend(bitmap.serialize::<Native>());
            assert_eq!(doris_decode_bitmap(&bytes).unwrap(), bitmap);
            let mut bytes = vec![BITMAP64_V2, 2, 0, 0, 0, 0];
            bytes.extend(bitmap.serialize::<Native>());
            bytes.extend([3, 0, 0, 0]);
            bytes.extend(Bitmap::of(&[8]).serialize::<Native>());
            let expected: Vec<u64> = values.iter().map(|&v| u64::from(v)).chain([3 << 32 | 8]).collect();
            assert_eq!(doris_decode(&bytes).unwrap(), expected);
        }
    }

    fn samples() -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = [
            vec![],
            vec![1],
            vec![TWO_32],
            vec![1, 9_999_999],
            bits32(),
            bits64(),
            (0..5000).map(|i| i * 2).collect(),
            (0..100).map(|i| i << 32 | i).collect(),
        ]
        .iter()
        .map(|v| doris_encode(v))
        .collect();
        out.push(b64("DQIAAAAAAjswAAABAAAfAAEAAAAfAAEAAAABAQAAAAAAAAA="));
        out.push(b64("CgIAAAAAAAAAAAAAAAEAAAAAAAAA"));
        out
    }

    fn clickhouse_samples() -> Vec<Vec<u8>> {
        [Bitmap::new(), Bitmap::of(&[1, 2, 3]), Bitmap::from_range(0..33), Bitmap::from_range_with_step(0..20_000, 3)]
            .iter()
            .map(clickhouse_encode)
            .collect()
    }

    #[test]
    fn truncation_at_every_cut_is_an_error() {
        for bytes in samples() {
            for cut in 0..bytes.len() {
                assert!(doris_decode(&bytes[..cut]).is_err(), "cut {cut} of {bytes:?}");
            }
        }
        for bytes in clickhouse_samples() {
            for cut in 0..bytes.len() {
                assert!(clickhouse_decode(&bytes[..cut]).is_err(), "cut {cut} of {bytes:?}");
            }
        }
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        for mut bytes in samples() {
            bytes.push(0);
            let err = doris_decode(&bytes).unwrap_err().to_string();
            assert!(err.contains("trailing"), "{err}");
        }
        for mut bytes in clickhouse_samples() {
            bytes.push(0);
            assert!(clickhouse_decode(&bytes).is_err());
        }
    }

    #[test]
    fn errors_name_the_offset_and_what_was_expected() {
        let err = doris_decode(&[1, 7, 0]).unwrap_err();
        assert!(matches!(err, Error::StoreFormat(_)));
        assert_eq!(
            err.to_string(),
            "Doris bitmap: at byte 1: expected the SINGLE32 value (4 bytes), but only 2 remain"
        );
        let err = doris_decode(&[9]).unwrap_err().to_string();
        assert_eq!(err, "Doris bitmap: at byte 0: expected a type code 0-5, 10, 12 or 13, found 9");
        let err = clickhouse_decode(&[1, 3, 0x3A, 0x30, 0]).unwrap_err().to_string();
        assert!(err.contains("at byte 2") && err.contains("cookie"), "{err}");
    }

    #[test]
    fn malformed_doris_input_is_an_error() {
        for code in [6u8, 7, 8, 9, 11, 14, 15, 100, 255] {
            assert!(doris_decode(&[code]).is_err(), "code {code}");
            assert!(doris_decode(&[code, 0, 0, 0, 0]).is_err(), "code {code}");
        }
        // SET count above what follows, above 32, or with a repeated value.
        let mut set = vec![5, 4];
        set.extend(le64(&[1, 2, 3]));
        assert!(doris_decode(&set).is_err());
        let mut set = vec![5, 33];
        set.extend(le64(&(0..33).collect::<Vec<_>>()));
        assert!(doris_decode(&set).unwrap_err().to_string().contains("at most 32"));
        let mut set = vec![5, 2];
        set.extend(le64(&[4, 4]));
        assert!(doris_decode(&set).unwrap_err().to_string().contains("twice"));
        // A SET_V2 count no input could hold.
        assert!(doris_decode(&[10, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        // BITMAP64: buckets out of order, a count larger than the buckets, varint overflow.
        let bucket = optimised_portable(&[1]);
        let mut two = vec![4, 2, 5, 0, 0, 0];
        two.extend(&bucket);
        two.extend([5, 0, 0, 0]);
        two.extend(&bucket);
        assert!(doris_decode(&two).unwrap_err().to_string().contains("not above"));
        let mut three = vec![4, 3, 5, 0, 0, 0];
        three.extend(&bucket);
        assert!(doris_decode(&three).is_err());
        let mut huge = vec![4];
        huge.extend([0xFF; 9]);
        huge.push(0x02);
        assert!(doris_decode(&huge).unwrap_err().to_string().contains("64 bits"));
        assert!(doris_decode(&[4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]).is_err());
        // Roaring payloads: bad cookie, keys out of order, unsorted array, adjacent runs.
        assert!(doris_decode(&[2, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        let mut keys = vec![2, 0x3A, 0x30, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        keys.extend([24, 0, 0, 0, 26, 0, 0, 0, 1, 0, 2, 0]);
        assert!(doris_decode(&keys).unwrap_err().to_string().contains("keys not increasing"));
        let unsorted = [2, 0x3A, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 5, 0, 3, 0];
        assert!(doris_decode(&unsorted).is_err());
        // One container of two runs [0, 1] and [2, 3] that touch: CRoaring refuses it.
        let touching = [2, 0x3B, 0x30, 0, 0, 1, 0, 0, 3, 0, 2, 0, 0, 0, 1, 0, 2, 0, 1, 0];
        assert!(doris_decode(&touching).unwrap_err().to_string().contains("CRoaring"));
        // Native payloads: unknown form, unsorted array.
        assert!(doris_decode(&[12, 3, 0, 0, 0, 0]).is_err());
        let mut native = vec![12, 1, 2, 0, 0, 0];
        native.extend(le32(&[9, 4]));
        assert!(doris_decode(&native).is_err());
        // Too wide for a 32-bit bitmap.
        assert!(matches!(doris_decode_bitmap(&doris_encode(&[TWO_32])), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn malformed_clickhouse_input_is_an_error() {
        assert!(clickhouse_decode(&[]).is_err());
        assert!(clickhouse_decode(&[2, 0]).is_err());
        let mut small = vec![0, 33];
        small.extend(le32(&(0..33).collect::<Vec<_>>()));
        assert!(clickhouse_decode(&small).unwrap_err().to_string().contains("at most 32"));
        assert!(clickhouse_decode(&[0, 2, 1, 0, 0, 0]).is_err());
        assert!(clickhouse_decode(&[1, 0]).is_err());
        let portable = optimised_portable(&(0..100).map(|i| i * 2).collect::<Vec<_>>());
        for size in [portable.len() - 1, portable.len() + 1] {
            let mut bytes = vec![LARGE];
            push_varint(size as u64, &mut bytes);
            bytes.extend(&portable);
            bytes.push(0);
            assert!(clickhouse_decode(&bytes).is_err(), "size {size} of {}", portable.len());
        }
        // A size far beyond the input, and a varint that never ends.
        assert!(clickhouse_decode(&[1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x3A, 0x30]).is_err());
        assert!(clickhouse_decode(&[1, 0x80, 0x80, 0x80]).is_err());
    }

    /// Every single-byte change of valid encodings decodes or errs; none panics.
    #[test]
    fn corrupted_bytes_never_panic() {
        let mut random = crate::test_random::Rng::new(0x2545_F491_4F6C_DD1D);
        let mut next = || random.next();
        let doris = samples().into_iter().map(|b| (b, true));
        for (bytes, is_doris) in doris.chain(clickhouse_samples().into_iter().map(|b| (b, false))) {
            for at in 0..bytes.len().min(200) {
                for _ in 0..4 {
                    let mut bad = bytes.clone();
                    bad[at] = next() as u8;
                    match is_doris {
                        true => drop(doris_decode(&bad)),
                        false => drop(clickhouse_decode(&bad)),
                    }
                }
            }
        }
    }
}
