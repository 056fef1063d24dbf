//! The Roaring portable format: [`Writer`], its one writer, and [`parse`], its
//! strict reader.
//!
//! We write containers ourselves and hand the bytes to CRoaring in one call:
//! feeding ids through `Bitmap::add_many` instead costs a lookup and a
//! container insert per id (W1's 200 tags at 10 M users: 420 ms on one core
//! that way, 135 ms this way).
//!
//! The writer reserves room for the largest header the bitmap could need in
//! front of the payloads and writes the real header right before them at the
//! end, so payload bytes are written once and never moved. It picks the cookie
//! as CRoaring's serializer does (12347 when any container is runs, else
//! 12346), so a bitmap written here has CRoaring's exact bytes.

use croaring::{Bitmap, Portable};

use super::chunks::Chunks;
use super::container::Container;
use super::words::{extract_lows, popcount, Words, EXTRACT_ROOM};
use super::{ARRAY_MAX, BITSET_BYTES, CHUNK_IDS, WORDS};
use crate::bytes::Reader;
use crate::error::{Error, Result};

const COOKIE_NO_RUN: u32 = 12346;
const COOKIE_RUN: u32 = 12347;
/// With runs, containers carry offsets only from this many on.
const NO_OFFSET_THRESHOLD: usize = 4;

/// One container written so far.
#[derive(Clone, Copy)]
struct Entry {
    key: u16,
    card: u32,
    run: bool,
    /// Payload bytes.
    len: u32,
}

/// Writes one bitmap at a time in the portable format; reusable.
///
/// Call [`Writer::begin`], push containers in increasing key order, then take
/// the bytes ([`Writer::finish`]) or the bitmap ([`Writer::bitmap`]). Every
/// push keeps the format's invariants: callers give arrays as strictly
/// increasing values and bitsets with their true cardinality (checked in
/// debug builds), and the writer derives every length and offset itself.
#[derive(Default)]
pub struct Writer {
    /// `reserved` bytes of header room, then the payloads.
    bytes: Vec<u8>,
    reserved: usize,
    entries: Vec<Entry>,
    /// Scratch for values extracted from a chunk.
    values: Option<Box<[u16; EXTRACT_ROOM]>>,
}

/// The largest header `n` containers can need (with runs: flags and, from 4
/// on, offsets; without: a count and offsets).
fn max_header_len(n: usize) -> usize {
    4 + 4usize.max(n.div_ceil(8)) + 8 * n
}

fn header_len(n: usize, has_run: bool) -> usize {
    match has_run {
        true => 4 + n.div_ceil(8) + 4 * n + if n >= NO_OFFSET_THRESHOLD { 4 * n } else { 0 },
        false => 8 + 8 * n,
    }
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Start a bitmap of at most `max_containers` containers (more still work,
    /// at the cost of one copy), with room for `payload_bytes`.
    pub fn begin(&mut self, max_containers: usize, payload_bytes: usize) {
        self.reserved = max_header_len(max_containers);
        self.bytes.clear();
        self.bytes.reserve(self.reserved + payload_bytes);
        self.bytes.resize(self.reserved, 0);
        self.entries.clear();
    }

    #[inline(always)]
    fn open(&self, key: u16) -> usize {
        // An internal invariant of every caller (chunks are visited in key order).
        assert!(self.entries.last().is_none_or(|e| e.key < key), "containers pushed out of key order");
        self.bytes.len()
    }

    #[inline(always)]
    fn close(&mut self, key: u16, card: u32, run: bool, start: usize) {
        let len = (self.bytes.len() - start) as u32;
        self.entries.push(Entry { key, card, run, len });
    }

    /// An array container: 1..=4096 strictly increasing values.
    #[inline(always)]
    pub fn array(&mut self, key: u16, values: &[u16]) {
        debug_assert!(!values.is_empty() && values.len() <= ARRAY_MAX);
        debug_assert!(values.windows(2).all(|p| p[0] < p[1]));
        let start = self.open(key);
        push_le(&mut self.bytes, values, u16::to_le_bytes);
        self.close(key, values.len() as u32, false, start);
    }

    /// A bitset container with `card` (> 4096) bits set.
    #[inline(always)]
    pub fn bitset(&mut self, key: u16, words: &[u64], card: u32) {
        debug_assert!(words.len() == WORDS && card as usize > ARRAY_MAX);
        debug_assert_eq!(words.iter().map(|w| w.count_ones()).sum::<u32>(), card);
        let start = self.open(key);
        push_le(&mut self.bytes, words, u64::to_le_bytes);
        self.close(key, card, false, start);
    }

    /// A run container of sorted, disjoint, non-adjacent inclusive ranges.
    pub fn runs(&mut self, key: u16, runs: &[(u16, u16)]) {
        debug_assert!(!runs.is_empty() && runs.windows(2).all(|p| p[0].1.wrapping_add(1) < p[1].0));
        let start = self.open(key);
        self.bytes.extend_from_slice(&(runs.len() as u16).to_le_bytes());
        let mut card = 0;
        for &(first, last) in runs {
            push_run(&mut self.bytes, first, last);
            card += u32::from(last - first) + 1;
        }
        self.close(key, card, true, start);
    }

    /// Whichever of an array and runs is smaller, for 1..=4096 strictly
    /// increasing values.
    #[inline(always)]
    pub fn array_or_runs(&mut self, key: u16, values: &[u16]) {
        // Values that continue a run (counted so the loop vectorises).
        let continued: u32 = values[1..].iter().zip(values).map(|(&b, &a)| u32::from(b.wrapping_sub(a) == 1)).sum();
        let runs = values.len() - continued as usize;
        if 2 + 4 * runs >= 2 * values.len() {
            return self.array(key, values);
        }
        let start = self.open(key);
        self.bytes.extend_from_slice(&(runs as u16).to_le_bytes());
        let mut first = values[0];
        for (&a, &b) in values.iter().zip(&values[1..]) {
            if b != a.wrapping_add(1) {
                push_run(&mut self.bytes, first, a);
                first = b;
            }
        }
        push_run(&mut self.bytes, first, values[values.len() - 1]);
        self.close(key, values.len() as u32, true, start);
    }

    /// Whichever of a bitset and runs is smaller, for a chunk with `card`
    /// (> 4096) bits set.
    #[inline(always)]
    pub fn bitset_or_runs(&mut self, key: u16, words: &[u64], card: u32) {
        let mut carry = 0;
        let runs: u32 = words
            .iter()
            .map(|&w| {
                let starts = w & !((w << 1) | carry);
                carry = w >> 63;
                starts.count_ones()
            })
            .sum();
        if 2 + 4 * runs as usize >= BITSET_BYTES {
            return self.bitset(key, words, card);
        }
        let start = self.open(key);
        self.bytes.extend_from_slice(&(runs as u16).to_le_bytes());
        let bit = |i: usize| words[i / 64] >> (i % 64) & 1 == 1;
        let mut i = 0;
        while i < CHUNK_IDS {
            if !bit(i) {
                i += 1;
                continue;
            }
            let first = i;
            while i < CHUNK_IDS && bit(i) {
                i += 1;
            }
            push_run(&mut self.bytes, first as u16, (i - 1) as u16);
        }
        self.close(key, card, true, start);
    }

    /// The smallest container for a chunk's words with `card` bits set; the
    /// words are left all zero (the chunk builders reuse them).
    #[inline(always)]
    pub fn smallest_and_clear(&mut self, key: u16, words: &mut [u64], card: u32) {
        if card as usize > ARRAY_MAX {
            self.bitset_or_runs(key, words, card);
            words.fill(0);
        } else {
            let mut values = self.values.take().unwrap_or_else(|| Box::new([0; EXTRACT_ROOM]));
            let n = extract_lows(words.iter_mut().map(std::mem::take), &mut values);
            debug_assert_eq!(n, card as usize);
            self.array_or_runs(key, &values[..n]);
            self.values = Some(values);
        }
    }

    /// A chunk's words as an array or a bitset by cardinality, without looking
    /// for runs (query results, written as fast as possible); nothing if empty.
    pub fn words(&mut self, key: u16, words: &Words) {
        let card = popcount(words);
        if card == 0 {
            return;
        }
        if card as usize > ARRAY_MAX {
            return self.bitset(key, words, card);
        }
        let mut values = self.values.take().unwrap_or_else(|| Box::new([0; EXTRACT_ROOM]));
        let n = extract_lows(words.iter().copied(), &mut values);
        self.array(key, &values[..n]);
        self.values = Some(values);
    }

    /// An owned container, as it is.
    pub fn container(&mut self, key: u16, container: &Container) {
        match container {
            Container::Array(values) => self.array(key, values),
            Container::Bitset(words) => self.bitset(key, &words[..], container.card()),
            Container::Run(runs) => self.runs(key, runs),
        }
    }

    /// Containers written since [`Writer::begin`].
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Write the header in front of the payloads and return the whole
    /// serialization.
    pub fn finish(&mut self) -> &[u8] {
        let n = self.entries.len();
        let has_run = self.entries.iter().any(|e| e.run);
        let header = header_len(n, has_run);
        if header > self.reserved {
            // More containers than `begin` was told: make room (one copy).
            let more = header - self.reserved;
            self.bytes.splice(0..0, std::iter::repeat_n(0, more));
            self.reserved = header;
        }
        let start = self.reserved - header;
        let head = &mut self.bytes[start..self.reserved];
        let (cookie, rest) = head.split_at_mut(4);
        let rest = if has_run {
            cookie.copy_from_slice(&(COOKIE_RUN | ((n.max(1) as u32 - 1) << 16)).to_le_bytes());
            let (flags, rest) = rest.split_at_mut(n.div_ceil(8));
            flags.fill(0);
            for (i, e) in self.entries.iter().enumerate() {
                flags[i / 8] |= u8::from(e.run) << (i % 8);
            }
            rest
        } else {
            cookie.copy_from_slice(&COOKIE_NO_RUN.to_le_bytes());
            rest[..4].copy_from_slice(&(n as u32).to_le_bytes());
            &mut rest[4..]
        };
        let (keys, offsets) = rest.split_at_mut(4 * n);
        for (slot, e) in keys.chunks_exact_mut(4).zip(&self.entries) {
            slot[..2].copy_from_slice(&e.key.to_le_bytes());
            slot[2..].copy_from_slice(&((e.card - 1) as u16).to_le_bytes());
        }
        let mut position = header as u32;
        for (slot, e) in offsets.chunks_exact_mut(4).zip(&self.entries) {
            slot.copy_from_slice(&position.to_le_bytes());
            position += e.len;
        }
        &self.bytes[start..]
    }

    /// The bitmap written, as a CRoaring bitmap.
    pub fn bitmap(&mut self) -> Bitmap {
        let bytes = self.finish();
        if cfg!(debug_assertions) {
            return Bitmap::try_deserialize::<Portable>(bytes).expect("the writer wrote a valid portable bitmap");
        }
        // SAFETY: the writer derives every count, length and offset from what
        // it wrote, and keys ascend (asserted on push), so CRoaring reads only
        // inside `bytes`; array order and bitset counts are the callers'
        // contract, checked in debug builds (and so in the tests). Skipping
        // CRoaring's own check saves re-reading every container (W1's 200 tags
        // at 10 M users: 29 ms vs 18 ms).
        unsafe { <Portable as croaring::bitmap::Deserializer>::try_deserialize_unchecked(bytes) }
    }
}

/// Append integers (`u16` or `u64`, the callers) little endian: on a
/// little-endian target, one copy of their memory.
#[inline(always)]
fn push_le<T: Copy, const N: usize>(bytes: &mut Vec<u8>, values: &[T], to_le: impl Fn(T) -> [u8; N]) {
    if cfg!(target_endian = "little") {
        // SAFETY: T is a plain integer of N bytes: its slice is a valid byte slice of
        // N times the length, already in the portable order on this target.
        let raw = unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) };
        bytes.extend_from_slice(raw);
    } else {
        values.iter().for_each(|&v| bytes.extend_from_slice(&to_le(v)));
    }
}

/// Append the run `first..=last`: its start and its length - 1.
#[inline(always)]
fn push_run(bytes: &mut Vec<u8>, first: u16, last: u16) {
    bytes.extend_from_slice(&first.to_le_bytes());
    bytes.extend_from_slice(&(last - first).to_le_bytes());
}

/// Strict parser of the portable format into owned containers: every
/// invariant of the module docs is checked, so damaged bytes are an error,
/// never a wrong answer later.
pub fn parse(buf: &[u8]) -> Result<Chunks> {
    let mut r = Reader::new(buf, "bitmap");
    let cookie = r.u32()?;
    let (n, run_flags) = if cookie & 0xFFFF == COOKIE_RUN {
        let n = (cookie >> 16) as usize + 1;
        (n, Some(r.take(n.div_ceil(8))?))
    } else if cookie == COOKIE_NO_RUN {
        let n = r.u32()? as usize;
        if n > 1 << 16 {
            return Err(Error::format(format!("bitmap: {n} containers")));
        }
        (n, None)
    } else {
        return Err(Error::format("bitmap: bad cookie"));
    };
    let header = r.take(4 * n)?;
    let offsets = if run_flags.is_none() || n >= NO_OFFSET_THRESHOLD { Some(r.take(4 * n)?) } else { None };
    let mut out = Chunks::default();
    for i in 0..n {
        let key = u16::from_le_bytes([header[4 * i], header[4 * i + 1]]);
        let card = u16::from_le_bytes([header[4 * i + 2], header[4 * i + 3]]) as usize + 1;
        if out.keys.last().is_some_and(|&k| k >= key) {
            return Err(Error::format("bitmap: keys not increasing"));
        }
        if let Some(off) = offsets {
            let o = u32::from_le_bytes([off[4 * i], off[4 * i + 1], off[4 * i + 2], off[4 * i + 3]]);
            if o as usize != r.position() {
                return Err(Error::format("bitmap: bad container offset"));
            }
        }
        let is_run = run_flags.is_some_and(|f| f[i / 8] >> (i % 8) & 1 == 1);
        let c = if is_run {
            let nruns = r.u16()? as usize;
            let raw = r.take(4 * nruns)?;
            let mut runs = Vec::with_capacity(nruns);
            let mut total = 0usize;
            for p in raw.chunks_exact(4) {
                let s = u16::from_le_bytes([p[0], p[1]]);
                let len = u16::from_le_bytes([p[2], p[3]]);
                let e = s.checked_add(len).ok_or_else(|| Error::format("bitmap: run past chunk end"))?;
                if runs.last().is_some_and(|&(_, pe): &(u16, u16)| s <= pe) {
                    return Err(Error::format("bitmap: runs overlap or unsorted"));
                }
                total += len as usize + 1;
                runs.push((s, e));
            }
            if runs.is_empty() || total != card {
                return Err(Error::format("bitmap: run cardinality mismatch"));
            }
            Container::Run(runs)
        } else if card <= ARRAY_MAX {
            let raw = r.take(2 * card)?;
            let a: Vec<u16> = raw.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
            if a.windows(2).any(|p| p[0] >= p[1]) {
                return Err(Error::format("bitmap: array not strictly increasing"));
            }
            Container::Array(a)
        } else {
            let mut w = Box::new([0u64; WORDS]);
            for x in w.iter_mut() {
                *x = r.u64()?;
            }
            if popcount(&w) as usize != card {
                return Err(Error::format("bitmap: bitset cardinality mismatch"));
            }
            Container::Bitset(w)
        };
        out.push(key, c);
    }
    if r.position() != buf.len() {
        return Err(Error::format("bitmap: trailing bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(ids: &[u32], optimise: bool) -> Vec<u8> {
        let mut writer = Writer::new();
        writer.begin(2, 0); // fewer than needed for some cases: the writer makes room
        let mut words = Box::new([0u64; WORDS]);
        for block in ids.chunk_by(|a, b| a >> 16 == b >> 16) {
            let key = (block[0] >> 16) as u16;
            for &id in block {
                words[(id & 0xFFFF) as usize / 64] |= 1 << (id % 64);
            }
            if optimise {
                writer.smallest_and_clear(key, &mut words[..], block.len() as u32);
            } else {
                writer.words(key, &words);
                words.fill(0);
            }
        }
        writer.finish().to_vec()
    }

    fn cases() -> Vec<Vec<u32>> {
        let mut out = vec![vec![], vec![7], (0..10).collect(), (0..5000).map(|i| i * 3).collect()];
        out.push((0..70_000).chain(200_000..200_010).chain((300_000..320_000).step_by(2)).collect());
        out.push((0..9).map(|k| k << 16 | 5).collect()); // many containers: offsets and flags
        out.push((0..20).flat_map(|k| (k << 16)..(k << 16) + 100).collect()); // runs, many containers
        out
    }

    #[test]
    fn optimised_bytes_are_croarings_bytes() {
        for ids in cases() {
            let mut bm = Bitmap::of(&ids);
            bm.run_optimize();
            assert_eq!(written(&ids, true), bm.serialize::<Portable>(), "{} ids", ids.len());
            let parsed = parse(&written(&ids, true)).expect("we read what we write");
            assert_eq!(parsed.to_bitmap().to_vec(), ids);
        }
    }

    #[test]
    fn plain_bytes_are_croarings_bytes_without_runs() {
        for ids in cases() {
            let bm = Bitmap::of(&ids); // never run-optimised: arrays and bitsets only
            assert_eq!(written(&ids, false), bm.serialize::<Portable>(), "{} ids", ids.len());
        }
    }

    #[test]
    fn damaged_bytes_are_refused() {
        let ids: Vec<u32> = (0..10).chain(70_000..70_020).collect();
        let good = written(&ids, false);
        assert!(parse(&good).is_ok());
        assert!(parse(&good[..good.len() - 1]).is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(parse(&trailing).is_err());
        let mut unsorted = good.clone();
        unsorted[24..26].copy_from_slice(&9u16.to_le_bytes()); // first array value after 0
        assert!(parse(&unsorted).is_err());
        assert!(parse(b"\x00\x00\x00\x00").is_err());
    }
}
