//! String columns to dictionary codes: every row gets the code of its value in
//! a dictionary of the column's distinct values, in first-seen order, so the
//! codes are the same however the work was split across threads. Plain,
//! large, view and dictionary-of-string arrays; `u32` codes
//! ([`encode_strings`]) or, for grouping rows into bitmaps, one-byte codes
//! with a histogram per task when the column has few distinct values
//! ([`encode_for_bitmaps`]).

use std::mem::MaybeUninit;
use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, GenericStringArray, OffsetSizeTrait};
use arrow_buffer::{ArrowNativeType, NullBuffer};
use arrow_schema::DataType;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::parallel;

/// Code of a null row in an [`Encoded`] column.
pub const NULL_CODE: u32 = u32::MAX;

/// A string column as codes into its dictionary of distinct values (first-seen order).
#[derive(Debug, Default)]
pub struct Encoded {
    pub codes: Vec<u32>,
    pub dictionary: Vec<String>,
    /// False when the input had no null at all, so `first_null` need not scan the
    /// codes (a 200 MB read for W1 at 10 M users).
    maybe_null: bool,
}

impl Encoded {
    pub fn first_null(&self) -> Option<usize> {
        if !self.maybe_null {
            debug_assert!(!self.codes.contains(&NULL_CODE));
            return None;
        }
        self.codes.iter().position(|&c| c == NULL_CODE)
    }
}

/// A read-only view of one string-like Arrow array.
#[derive(Clone, Copy)]
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

    /// Encode `rows` into `out` (one slot per row), see [`encode_rows`].
    fn encode(&self, rows: Range<usize>, dict: &Dictionary, local: &mut Local<'a>, out: &mut [MaybeUninit<u32>]) {
        self.encode_with(rows, dict, local, |k, code| {
            out[k].write(code);
        });
    }

    /// Encode `rows`, handing each row's code to `put` (with the row's index in `rows`).
    #[inline(always)]
    fn encode_with(&self, rows: Range<usize>, dict: &Dictionary, local: &mut Local<'a>, put: impl FnMut(usize, u32)) {
        match *self {
            Strings::Small(a) => encode_rows(&Offsets::of(a), a.nulls(), rows, dict, local, put),
            Strings::Large(a) => encode_rows(&Offsets::of(a), a.nulls(), rows, dict, local, put),
            Strings::View(a) => encode_rows(&Views(a), a.nulls(), rows, dict, local, put),
        }
    }
}

/// Strings of at most this many bytes are keyed by value, as one `u64`.
const SHORT_LEN: usize = 8;
/// Rows encoded alone before the parallel ranges start (see [`encode_plain`]).
const PREFIX_ROWS: usize = 1 << 16;
/// Marks a code that is local to one parallel range (an index into that range's new
/// values) until the merge gives it its global code.
const LOCAL: u32 = 1 << 31;

/// How a row's value is looked up. Tag and category names are short: a string of at
/// most [`SHORT_LEN`] bytes is its bytes as one little-endian integer (zero padded)
/// and its length, and looking that up in a [`ShortMap`] is several times cheaper
/// than hashing a `&str` and `memcmp`-ing it against the map's key (which was about
/// a quarter of `from_long` at 1 M users). Measured on W1's 50 M tags on one core:
/// 0.16 s with `u64` keys, 0.4 s with 12-byte keys as `u128` (the string-view
/// layout), and the `FxHashMap<&str, u32>` before this was slower still.
#[derive(Clone, Copy)]
enum Key<'a> {
    Short(u64, u32),
    Long(&'a str),
}

/// A mask of the low `len <= 8` bytes.
#[inline(always)]
fn low_bytes(len: usize) -> u64 {
    debug_assert!(len <= SHORT_LEN);
    u64::MAX.checked_shr(64 - 8 * len as u32).unwrap_or(0)
}

/// The first `len <= 8` bytes of `bytes`.
#[inline(always)]
fn short_key(bytes: u64, len: usize) -> Key<'static> {
    Key::Short(bytes & low_bytes(len), len as u32)
}

fn key_of(value: &str) -> Key<'_> {
    if value.len() > SHORT_LEN {
        return Key::Long(value);
    }
    let mut bytes = [0u8; 8];
    bytes[..value.len()].copy_from_slice(value.as_bytes());
    short_key(u64::from_le_bytes(bytes), value.len())
}

/// Row access for the encoding loop, monomorphised per string layout.
trait Source<'a> {
    /// The short key of row `i` if it has one and it is cheap to read.
    fn short(&self, i: usize) -> Option<(u64, u32)>;
    fn key(&self, i: usize) -> Key<'a>;
    fn text(&self, i: usize) -> &'a str;
}

struct Offsets<'a, O: OffsetSizeTrait> {
    array: &'a GenericStringArray<O>,
    offsets: &'a [O],
    values: &'a [u8],
}

impl<'a, O: OffsetSizeTrait> Offsets<'a, O> {
    fn of(array: &'a GenericStringArray<O>) -> Self {
        Offsets { array, offsets: array.value_offsets(), values: array.value_data() }
    }
}

impl<'a, O: OffsetSizeTrait> Source<'a> for Offsets<'a, O> {
    #[inline(always)]
    fn short(&self, i: usize) -> Option<(u64, u32)> {
        let start = self.offsets[i].as_usize();
        let len = self.offsets[i + 1].as_usize().wrapping_sub(start);
        let bytes = self.values.get(start..start + 8)?;
        (len <= SHORT_LEN)
            .then(|| (u64::from_le_bytes(bytes.try_into().expect("8 bytes")) & low_bytes(len), len as u32))
    }

    #[inline(always)]
    fn key(&self, i: usize) -> Key<'a> {
        let start = self.offsets[i].as_usize();
        let len = self.offsets[i + 1].as_usize() - start;
        if len > SHORT_LEN {
            return Key::Long(self.array.value(i));
        }
        // One unaligned 8-byte load (masked to the length), except at the very end.
        let bytes = match self.values.get(start..start + 8) {
            Some(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")),
            None => {
                let mut b = [0u8; 8];
                b[..len].copy_from_slice(&self.values[start..start + len]);
                u64::from_le_bytes(b)
            }
        };
        short_key(bytes, len)
    }

    fn text(&self, i: usize) -> &'a str {
        self.array.value(i)
    }
}

struct Views<'a>(&'a arrow_array::StringViewArray);

impl<'a> Source<'a> for Views<'a> {
    #[inline(always)]
    fn short(&self, i: usize) -> Option<(u64, u32)> {
        let view = u128::from_le_bytes(self.0.views()[i].to_ne_bytes());
        let len = view as u32 as usize;
        (len <= SHORT_LEN).then(|| ((view >> 32) as u64 & low_bytes(len), len as u32))
    }

    #[inline(always)]
    fn key(&self, i: usize) -> Key<'a> {
        // A view holds the length in its first 4 bytes, then a short string inline.
        let view = u128::from_le_bytes(self.0.views()[i].to_ne_bytes());
        let len = view as u32 as usize;
        if len <= SHORT_LEN {
            short_key((view >> 32) as u64, len)
        } else {
            Key::Long(self.0.value(i))
        }
    }

    fn text(&self, i: usize) -> &'a str {
        self.0.value(i)
    }
}

/// Open addressing from short keys to codes: linear probing.
/// A slot is (bytes, length, code); empty slots have length `u32::MAX`.
struct ShortMap {
    slots: Vec<(u64, u32, u32)>,
    shift: u32,
    len: usize,
}

const EMPTY_SLOT: (u64, u32, u32) = (0, u32::MAX, 0);

impl Default for ShortMap {
    fn default() -> Self {
        ShortMap { slots: vec![EMPTY_SLOT; 256], shift: 64 - 8, len: 0 }
    }
}

impl ShortMap {
    #[inline(always)]
    fn home(&self, bytes: u64, len: u32) -> usize {
        ((bytes ^ u64::from(len).rotate_right(8)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The code of a key found in its home slot or the next, the common case: the
    /// frequent values were inserted first and took their home slots, and a small
    /// map is kept at most a quarter full. On W1's 200 tags this misses 0.5 % of
    /// rows (one slot at half full: 8 %, and each miss costs a mispredicted branch).
    #[inline(always)]
    fn get_home(&self, bytes: u64, len: u32) -> Option<u32> {
        let i = self.home(bytes, len);
        let (b, l, code) = self.slots[i];
        if b == bytes && l == len {
            return Some(code);
        }
        let (b, l, code) = self.slots[(i + 1) & (self.slots.len() - 1)];
        (b == bytes && l == len).then_some(code)
    }

    #[inline]
    fn get(&self, bytes: u64, len: u32) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut i = self.home(bytes, len);
        loop {
            let (b, l, code) = self.slots[i];
            if b == bytes && l == len {
                return Some(code);
            }
            if l == u32::MAX {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Insert a key that is not in the map.
    fn insert(&mut self, bytes: u64, len: u32, code: u32) {
        // At most a quarter full while small (up to 64 KiB), then half.
        let load = if self.slots.len() <= 4096 { 4 } else { 2 };
        if load * (self.len + 1) > self.slots.len() {
            let grown = vec![EMPTY_SLOT; 2 * self.slots.len()];
            let mut old = std::mem::replace(&mut self.slots, grown);
            self.shift -= 1;
            // Re-insert in code order, which is first-seen order: the values met
            // first are usually the most frequent, and keep their home slots.
            old.retain(|&(_, l, _)| l != u32::MAX);
            old.sort_unstable_by_key(|&(_, _, c)| c);
            for (b, l, c) in old {
                self.place(b, l, c);
            }
        }
        self.place(bytes, len, code);
        self.len += 1;
    }

    fn place(&mut self, bytes: u64, len: u32, code: u32) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(bytes, len);
        while self.slots[i].1 != u32::MAX {
            i = (i + 1) & mask;
        }
        self.slots[i] = (bytes, len, code);
    }
}

/// The distinct values met so far, in first-seen order, and their codes.
#[derive(Default)]
struct Dictionary {
    short: ShortMap,
    long: FxHashMap<String, u32>,
    values: Vec<String>,
}

impl Dictionary {
    #[inline(always)]
    fn get(&self, key: Key<'_>) -> Option<u32> {
        match key {
            Key::Short(bytes, len) => self.short.get(bytes, len),
            Key::Long(s) => self.long.get(s).copied(),
        }
    }

    fn intern(&mut self, value: &str, column: &str) -> Result<u32> {
        let key = key_of(value);
        if let Some(code) = self.get(key) {
            return Ok(code);
        }
        let code = self.values.len() as u32;
        if code >= LOCAL {
            return Err(Error::invalid(format!("column '{column}' has more than {LOCAL} distinct values")));
        }
        match key {
            Key::Short(bytes, len) => self.short.insert(bytes, len, code),
            Key::Long(s) => {
                self.long.insert(s.to_string(), code);
            }
        }
        self.values.push(value.to_string());
        Ok(code)
    }
}

/// Values one range met that the shared dictionary did not have, in first-seen order.
#[derive(Default)]
struct Local<'a> {
    short: ShortMap,
    long: FxHashMap<&'a str, u32>,
    values: Vec<&'a str>,
}

impl<'a> Local<'a> {
    #[cold]
    fn code(&mut self, key: Key<'a>, text: impl FnOnce() -> &'a str) -> u32 {
        let next = LOCAL | self.values.len() as u32;
        match key {
            Key::Short(bytes, len) => self.short.get(bytes, len).unwrap_or_else(|| {
                self.short.insert(bytes, len, next);
                self.values.push(text());
                next
            }),
            Key::Long(s) => *self.long.entry(s).or_insert_with(|| {
                self.values.push(s);
                next
            }),
        }
    }
}

/// Encode `rows` of one chunk: a value `dict` has gets its code, a new one a `LOCAL`
/// code into `local.values`, a null `NULL_CODE`; `put` gets each row's code in order.
#[inline(always)]
fn encode_rows<'a, S: Source<'a>>(
    src: &S,
    nulls: Option<&NullBuffer>,
    rows: Range<usize>,
    dict: &Dictionary,
    local: &mut Local<'a>,
    mut put: impl FnMut(usize, u32),
) {
    if nulls.is_none_or(|n| n.null_count() == 0) {
        // The hot loop: a short value found in its home slot, everything else cold.
        for (k, i) in rows.enumerate() {
            let code = match src.short(i).and_then(|(bytes, len)| dict.short.get_home(bytes, len)) {
                Some(code) => code,
                None => lookup(src, i, dict, local),
            };
            put(k, code);
        }
        return;
    }
    for (k, i) in rows.enumerate() {
        put(k, if nulls.is_some_and(|n| n.is_null(i)) { NULL_CODE } else { lookup(src, i, dict, local) });
    }
}

/// The code of row `i` (not null) in `dict`, or else in `local`.
#[inline(never)]
fn lookup<'a, S: Source<'a>>(src: &S, i: usize, dict: &Dictionary, local: &mut Local<'a>) -> u32 {
    let key = src.key(i);
    match dict.get(key) {
        Some(code) => code,
        None => local.code(key, || src.text(i)),
    }
}

/// Encode consecutive plain string chunks, appending to `codes`.
///
/// The chunks are cut into ranges encoded in parallel against the shared
/// dictionary, each collecting the values it did not find; merging those in row
/// order keeps codes deterministic (first-seen order). The first rows are encoded
/// and merged alone first: for a column of few distinct values (tags, categories)
/// that settles the dictionary, so the parallel ranges meet no new value and their
/// codes are final as written, with no second pass over the codes.
fn encode_plain(batch: &[Strings<'_>], dict: &mut Dictionary, codes: &mut Vec<u32>, column: &str) -> Result<()> {
    let start = codes.len();
    let len: usize = batch.iter().map(|s| s.len()).sum();
    codes.reserve(len);
    let mut tasks: Vec<(usize, Range<usize>)> = Vec::new();
    for (c, strings) in batch.iter().enumerate() {
        let from = if c == 0 { strings.len().min(PREFIX_ROWS) } else { 0 };
        if from > 0 {
            tasks.push((0, 0..from));
        }
        for rows in parallel::ranges(strings.len() - from, 1 << 16) {
            if !rows.is_empty() {
                tasks.push((c, from + rows.start..from + rows.end));
            }
        }
    }
    let mut outs: Vec<&mut [MaybeUninit<u32>]> = Vec::with_capacity(tasks.len());
    let mut rest = &mut codes.spare_capacity_mut()[..len];
    for (_, rows) in &tasks {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(rows.len());
        outs.push(head);
        rest = tail;
    }
    let mut locals: Vec<Local> = Vec::with_capacity(tasks.len());
    let mut outs = outs.into_iter();
    let prefix = usize::from(batch.first().is_some_and(|s| s.len() > 0));
    if prefix == 1 {
        let mut local = Local::default();
        let out = outs.next().expect("one slice per task");
        batch[0].encode(tasks[0].1.clone(), dict, &mut local, out);
        for value in &local.values {
            dict.intern(value, column)?;
        }
        locals.push(local);
    }
    let dict_ref = &*dict;
    locals.par_extend(tasks[prefix..].par_iter().zip(outs.collect::<Vec<_>>()).map(|((c, rows), out)| {
        let mut local = Local::default();
        batch[*c].encode(rows.clone(), dict_ref, &mut local, out);
        local
    }));
    // SAFETY: the tasks tile the `len` reserved slots and each wrote every one of its own.
    unsafe { codes.set_len(start + len) };
    // Merge the new values in row order; only ranges that met some are rewritten.
    let mut remaps: Vec<Option<Vec<u32>>> = Vec::with_capacity(locals.len());
    for local in &locals {
        if local.values.len() >= (LOCAL - 1) as usize {
            return Err(Error::invalid(format!("column '{column}' has too many distinct values")));
        }
        remaps.push(if local.values.is_empty() {
            None
        } else {
            Some(local.values.iter().map(|v| dict.intern(v, column)).collect::<Result<_>>()?)
        });
    }
    if remaps.iter().any(Option::is_some) {
        let mut slices: Vec<&mut [u32]> = Vec::with_capacity(tasks.len());
        let mut rest = &mut codes[start..];
        for (_, rows) in &tasks {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(rows.len());
            slices.push(head);
            rest = tail;
        }
        slices.into_par_iter().zip(remaps).for_each(|(slice, remap)| {
            if let Some(remap) = remap {
                for code in slice {
                    if *code != NULL_CODE && *code & LOCAL != 0 {
                        *code = remap[(*code & !LOCAL) as usize];
                    }
                }
            }
        });
    }
    Ok(())
}

/// Encode a dictionary-of-strings chunk: its dictionary values once, then its keys.
fn encode_dictionary(chunk: &ArrayRef, dict: &mut Dictionary, codes: &mut Vec<u32>, column: &str) -> Result<()> {
    let any = chunk.as_any_dictionary();
    let values = Strings::of(any.values().as_ref()).ok_or_else(|| not_strings(column, chunk.data_type()))?;
    let remap: Vec<u32> = (0..values.len())
        .map(|i| values.get(i).map_or(Ok(NULL_CODE), |v| dict.intern(v, column)))
        .collect::<Result<_>>()?;
    let start = codes.len();
    macro_rules! keyed {
        ($k:ty) => {
            codes.par_extend(
                chunk
                    .as_dictionary::<$k>()
                    .keys()
                    .values()
                    .par_iter()
                    .map(|k| remap.get(k.as_usize()).copied().unwrap_or(NULL_CODE)),
            )
        };
    }
    match chunk.data_type() {
        DataType::Dictionary(key, _) => match key.as_ref() {
            DataType::Int8 => keyed!(Int8Type),
            DataType::Int16 => keyed!(Int16Type),
            DataType::Int32 => keyed!(Int32Type),
            DataType::Int64 => keyed!(Int64Type),
            DataType::UInt8 => keyed!(UInt8Type),
            DataType::UInt16 => keyed!(UInt16Type),
            DataType::UInt32 => keyed!(UInt32Type),
            DataType::UInt64 => keyed!(UInt64Type),
            _ => return Err(not_strings(column, chunk.data_type())),
        },
        _ => return Err(not_strings(column, chunk.data_type())),
    }
    if let Some(nulls) = chunk.logical_nulls() {
        for (code, valid) in codes[start..].iter_mut().zip(nulls.iter()) {
            if !valid {
                *code = NULL_CODE;
            }
        }
    }
    Ok(())
}

/// Encode string, large string, string view and dictionary-of-string chunks to
/// codes, into one dictionary of the distinct values in first-seen order.
pub fn encode_strings(chunks: &[ArrayRef], column: &str) -> Result<Encoded> {
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let mut codes = Vec::with_capacity(total);
    let mut dict = Dictionary::default();
    let maybe_null = chunks.iter().any(|c| match c.data_type() {
        DataType::Dictionary(_, _) => {
            c.logical_null_count() > 0 || c.as_any_dictionary().values().logical_null_count() > 0
        }
        _ => c.null_count() > 0,
    });
    let mut next = 0;
    while next < chunks.len() {
        if let DataType::Dictionary(_, _) = chunks[next].data_type() {
            encode_dictionary(&chunks[next], &mut dict, &mut codes, column)?;
            next += 1;
            continue;
        }
        let mut batch = Vec::new();
        while let Some(chunk) = chunks.get(next) {
            if let DataType::Dictionary(_, _) = chunk.data_type() {
                break;
            }
            batch.push(Strings::of(chunk.as_ref()).ok_or_else(|| not_strings(column, chunk.data_type()))?);
            next += 1;
        }
        encode_plain(&batch, &mut dict, &mut codes, column)?;
    }
    Ok(Encoded { codes, dictionary: dict.values, maybe_null })
}

/// A string column encoded for [`crate::build::bitmaps_by_group_codes`]: its distinct
/// values, and the rows' codes in whichever form was cheapest to make.
#[derive(Debug)]
pub struct GroupCodes {
    /// The distinct values in first-seen order (code `i` is `dictionary[i]`).
    pub dictionary: Vec<String>,
    pub(crate) repr: GroupRepr,
}

#[derive(Debug)]
pub(crate) enum GroupRepr {
    /// One `u32` code per row, as [`encode_strings`] makes them.
    Wide(Encoded),
    /// One byte per row, local to its task (see [`NarrowTask`]); `NARROW_NULL` for
    /// a null row.
    Narrow { codes: Vec<u8>, tasks: Vec<NarrowTask>, maybe_null: bool },
}

/// Rows encoded together to one-byte codes, with how many rows have each byte and
/// which dictionary code each byte stands for.
#[derive(Debug)]
pub(crate) struct NarrowTask {
    pub rows: Range<usize>,
    pub counts: Box<[usize; 256]>,
    pub remap: Box<[u32; 256]>,
}

/// The one-byte code of a null row.
pub(crate) const NARROW_NULL: u8 = u8::MAX;

impl GroupCodes {
    pub fn len(&self) -> usize {
        match &self.repr {
            GroupRepr::Wide(encoded) => encoded.codes.len(),
            GroupRepr::Narrow { codes, .. } => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first row whose value is null.
    pub fn first_null(&self) -> Option<usize> {
        match &self.repr {
            GroupRepr::Wide(encoded) => encoded.first_null(),
            GroupRepr::Narrow { codes, tasks, maybe_null } => {
                if !maybe_null {
                    return None;
                }
                let task = tasks.iter().find(|t| t.counts[NARROW_NULL as usize] > 0)?;
                codes[task.rows.clone()].iter().position(|&c| c == NARROW_NULL).map(|k| task.rows.start + k)
            }
        }
    }
}

/// Encode a string column for grouping rows by value (tags, categories).
///
/// A column of plain string chunks whose first rows hold fewer than 255 distinct
/// values gets one-byte codes, with a histogram per task: for W1's 10 M users that
/// writes 50 MB of codes instead of 200 MB (fresh pages cost ~0.4 ms per MB to fault
/// in here) and spares `bitmaps_by_code` its counting pass over them. Any other
/// column, or one whose ranges meet too many new values, is encoded by
/// [`encode_strings`].
pub fn encode_for_bitmaps(chunks: &[ArrayRef], column: &str) -> Result<GroupCodes> {
    if let Some(narrow) = encode_narrow(chunks, column)? {
        return Ok(narrow);
    }
    let mut encoded = encode_strings(chunks, column)?;
    // The dictionary moves out; the codes are all `GroupRepr::Wide` needs.
    Ok(GroupCodes { dictionary: std::mem::take(&mut encoded.dictionary), repr: GroupRepr::Wide(encoded) })
}

/// [`encode_for_bitmaps`] with one-byte codes, or `None` if they do not fit.
fn encode_narrow(chunks: &[ArrayRef], column: &str) -> Result<Option<GroupCodes>> {
    let Some(batch) = chunks.iter().map(|c| Strings::of(c.as_ref())).collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    let len: usize = batch.iter().map(|s| s.len()).sum();
    let maybe_null = chunks.iter().any(|c| c.null_count() > 0);
    // Tasks (chunk, rows in it, first row in the column) in row order; the first is
    // the prefix alone, the first rows of the first chunk that has any.
    let mut tasks: Vec<(usize, Range<usize>, usize)> = Vec::new();
    let mut row = 0;
    for (c, strings) in batch.iter().enumerate() {
        let from = if tasks.is_empty() { strings.len().min(PREFIX_ROWS) } else { 0 };
        if from > 0 {
            tasks.push((c, 0..from, row));
        }
        for rows in parallel::ranges(strings.len() - from, 1 << 16) {
            if !rows.is_empty() {
                tasks.push((c, from + rows.start..from + rows.end, row + from + rows.start));
            }
        }
        row += strings.len();
    }
    let mut codes: Vec<u8> = Vec::with_capacity(len);
    let mut outs: Vec<&mut [MaybeUninit<u8>]> = Vec::with_capacity(tasks.len());
    let mut rest = &mut codes.spare_capacity_mut()[..len];
    for (_, rows, _) in &tasks {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(rows.len());
        outs.push(head);
        rest = tail;
    }
    let mut dict = Dictionary::default();
    let mut outs = outs.into_iter();
    let mut done: Vec<(Local, Box<[usize; 256]>, u32, bool)> = Vec::with_capacity(tasks.len());
    if let Some((c, rows, _)) = tasks.first() {
        // The prefix: its new values become dictionary codes 0, 1, ... in order.
        let mut local = Local::default();
        let (counts, fits) = encode_task(&batch[*c], rows.clone(), &dict, &mut local, 0, outs.next().expect("slice"));
        if !fits {
            return Ok(None);
        }
        for value in &local.values {
            dict.intern(value, column)?;
        }
        done.push((local, counts, 0, fits));
    }
    let base = dict.values.len() as u32;
    let first = done.len();
    let dict_ref = &dict;
    done.par_extend(tasks[first..].par_iter().zip(outs.collect::<Vec<_>>()).map(|((c, rows, _), out)| {
        let mut local = Local::default();
        let (counts, fits) = encode_task(&batch[*c], rows.clone(), dict_ref, &mut local, base, out);
        (local, counts, base, fits)
    }));
    if done.iter().any(|d| !d.3) {
        return Ok(None);
    }
    // SAFETY: the tasks tile the `len` reserved bytes and each wrote every one of its own.
    unsafe { codes.set_len(len) };
    // Merge the new values in row order: each task's bytes map to dictionary codes.
    let mut narrow_tasks = Vec::with_capacity(tasks.len());
    for ((_, _, start), (local, counts, base, _)) in tasks.iter().zip(done) {
        let mut remap = Box::new([NULL_CODE; 256]);
        for (code, slot) in remap.iter_mut().enumerate().take(base as usize) {
            *slot = code as u32;
        }
        for (k, value) in local.values.iter().enumerate() {
            remap[base as usize + k] = dict.intern(value, column)?;
        }
        let rows = *start..*start + counts.iter().sum::<usize>();
        narrow_tasks.push(NarrowTask { rows, counts, remap });
    }
    Ok(Some(GroupCodes { dictionary: dict.values, repr: GroupRepr::Narrow { codes, tasks: narrow_tasks, maybe_null } }))
}

/// Encode one task's rows to one-byte codes: dictionary codes below `base` as they
/// are, the task's new values from `base` on. Returns the histogram of the bytes
/// and whether every code fit below `NARROW_NULL`.
fn encode_task<'a>(
    strings: &Strings<'a>,
    rows: Range<usize>,
    dict: &Dictionary,
    local: &mut Local<'a>,
    base: u32,
    out: &mut [MaybeUninit<u8>],
) -> (Box<[usize; 256]>, bool) {
    let mut counts = Box::new([0usize; 256]);
    let mut fits = true;
    debug_assert_eq!(rows.len(), out.len());
    match *strings {
        Strings::Small(a) if a.null_count() == 0 => {
            narrow_offsets_fast(&Offsets::of(a), rows, dict, local, base, out, &mut counts, &mut fits)
        }
        Strings::Large(a) if a.null_count() == 0 => {
            narrow_offsets_fast(&Offsets::of(a), rows, dict, local, base, out, &mut counts, &mut fits)
        }
        _ => strings.encode_with(rows, dict, local, |k, code| {
            let narrow = narrow_code(code, base, &mut fits);
            counts[narrow as usize] += 1;
            out[k].write(narrow);
        }),
    }
    (counts, fits)
}

/// The one-byte form of a code from [`encode_rows`] in a task with `base` (see
/// [`encode_task`]); clears `fits` if it does not fit.
#[inline(always)]
fn narrow_code(code: u32, base: u32, fits: &mut bool) -> u8 {
    if code < base {
        code as u8
    } else if code == NULL_CODE {
        NARROW_NULL
    } else {
        let code = base + (code & !LOCAL);
        *fits &= code < NARROW_NULL as u32;
        code as u8
    }
}

/// [`narrow_offsets`], with BMI2 where the CPU has it: the crate is built for
/// baseline x86-64, and `bzhi` (and shifts by register without flags) take the
/// masking of each value's bytes from several instructions to one. W1's tags at
/// 10 M users on one core: 155 ms instead of 190 ms.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn narrow_offsets_fast<'a, O: OffsetSizeTrait>(
    src: &Offsets<'a, O>,
    rows: Range<usize>,
    dict: &Dictionary,
    local: &mut Local<'a>,
    base: u32,
    out: &mut [MaybeUninit<u8>],
    counts: &mut [usize; 256],
    fits: &mut bool,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::bmi() {
        // SAFETY: this CPU has the features `narrow_offsets_bmi2` is compiled for.
        return unsafe { narrow_offsets_bmi2(src, rows, dict, local, base, out, counts, fits) };
    }
    narrow_offsets(src, rows, dict, local, base, out, counts, fits, |bytes, len| bytes & low_bytes(len))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi1,bmi2")]
#[allow(clippy::too_many_arguments)]
unsafe fn narrow_offsets_bmi2<'a, O: OffsetSizeTrait>(
    src: &Offsets<'a, O>,
    rows: Range<usize>,
    dict: &Dictionary,
    local: &mut Local<'a>,
    base: u32,
    out: &mut [MaybeUninit<u8>],
    counts: &mut [usize; 256],
    fits: &mut bool,
) {
    // `_bzhi_u64` needs BMI2, which callers of this function check for.
    narrow_offsets(src, rows, dict, local, base, out, counts, fits, |bytes, len| {
        std::arch::x86_64::_bzhi_u64(bytes, 8 * len as u32)
    })
}

/// [`encode_task`] for an offset string array without nulls, W1's hot loop. It is
/// latency-bound (offset, bytes, hash, slot, count: ~40 cycles per row, overlapped
/// only as far as the reorder buffer reaches), so every instruction counts: one
/// bounds check for the offsets, one for the bytes, no second call through
/// `Source`; `low` masks the bytes of a value to its length. W1's tags at 10 M
/// users on one core: 178 ms instead of 192 ms through `encode_rows`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn narrow_offsets<'a, O: OffsetSizeTrait>(
    src: &Offsets<'a, O>,
    rows: Range<usize>,
    dict: &Dictionary,
    local: &mut Local<'a>,
    base: u32,
    out: &mut [MaybeUninit<u8>],
    counts: &mut [usize; 256],
    fits: &mut bool,
    low: impl Fn(u64, usize) -> u64,
) {
    let offsets = &src.offsets[rows.start..rows.end + 1];
    let values = src.values;
    // Rows starting at or before this can read 8 bytes.
    let readable = values.len().saturating_sub(8);
    for ((slot, pair), i) in out.iter_mut().zip(offsets.windows(2)).zip(rows) {
        let start = pair[0].as_usize();
        let len = pair[1].as_usize().wrapping_sub(start);
        let mut code = NULL_CODE;
        if len <= SHORT_LEN && start <= readable && values.len() >= 8 {
            let bytes = low(u64::from_le_bytes(values[start..start + 8].try_into().expect("8 bytes")), len);
            if let Some(c) = dict.short.get_home(bytes, len as u32) {
                code = c;
            }
        }
        let narrow = if code < base { code as u8 } else { narrow_code(lookup(src, i, dict, local), base, fits) };
        counts[narrow as usize] += 1;
        slot.write(narrow);
    }
}

fn not_strings(column: &str, data_type: &DataType) -> Error {
    Error::type_error(format!("column '{column}' has type {data_type}; expected a string or dictionary column"))
}
