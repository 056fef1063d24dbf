//! Roaring containers the index can read (array, bitset, run), kept as chunks
//! with running cardinalities, and written in the Roaring portable format.

use super::*;

pub(super) const ARRAY_MAX: usize = 4096;
pub(super) const COOKIE_NO_RUN: u32 = 12346;
pub(super) const COOKIE_RUN: u32 = 12347;
pub(super) const NO_OFFSET_THRESHOLD: usize = 4;

/// One 2^16-id chunk of a bitmap. Invariants (checked on load): Array has 1..=4096 strictly
/// increasing values; Bitset has > 4096 bits set; Run has >= 1 sorted disjoint inclusive ranges.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Container {
    Array(Vec<u16>),
    Bitset(Box<Words>),
    Run(Vec<(u16, u16)>),
}

impl Container {
    /// Smallest portable container holding the sorted, distinct `lows` (None if empty).
    /// Choosing run only when it is strictly smaller is croaring's `run_optimize` rule.
    pub(super) fn from_sorted(lows: &[u16]) -> Option<Container> {
        let card = lows.len();
        if card == 0 {
            return None;
        }
        let mut runs = 1usize;
        for p in lows.windows(2) {
            if p[1] != p[0].wrapping_add(1) {
                runs += 1;
            }
        }
        let run_size = 2 + 4 * runs;
        let plain_size = if card <= ARRAY_MAX { 2 * card } else { 8192 };
        Some(if run_size < plain_size {
            let mut v = Vec::with_capacity(runs);
            let (mut s, mut e) = (lows[0], lows[0]);
            for &x in &lows[1..] {
                if x == e.wrapping_add(1) {
                    e = x;
                } else {
                    v.push((s, e));
                    s = x;
                    e = x;
                }
            }
            v.push((s, e));
            Container::Run(v)
        } else if card <= ARRAY_MAX {
            Container::Array(lows.to_vec())
        } else {
            let mut w = Box::new([0u64; WORDS]);
            for &x in lows {
                w[(x >> 6) as usize] |= 1u64 << (x & 63);
            }
            Container::Bitset(w)
        })
    }

    /// Smallest portable container for the bits of `w` (None if empty); `scratch` is reused.
    pub(super) fn from_words(w: &Words, scratch: &mut Vec<u16>) -> Option<Container> {
        let card = popcount(w) as usize;
        if card == 0 {
            return None;
        }
        if card > ARRAY_MAX {
            // A run start is a set bit whose predecessor is clear.
            let mut prev = 0u64;
            let mut runs = 0usize;
            for &x in w.iter() {
                runs += (x & !((x << 1) | (prev >> 63))).count_ones() as usize;
                prev = x;
            }
            if 2 + 4 * runs >= 8192 {
                return Some(Container::Bitset(Box::new(*w)));
            }
        }
        scratch.clear();
        push_lows(w, scratch);
        Container::from_sorted(scratch)
    }

    pub(super) fn card(&self) -> u32 {
        match self {
            Container::Array(a) => a.len() as u32,
            Container::Bitset(w) => popcount(w),
            Container::Run(r) => r.iter().map(|&(s, e)| (e - s) as u32 + 1).sum(),
        }
    }

    pub(super) fn payload_len(&self) -> usize {
        match self {
            Container::Array(a) => 2 * a.len(),
            Container::Bitset(_) => 8192,
            Container::Run(r) => 2 + 4 * r.len(),
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Container>()
            + match self {
                Container::Array(a) => a.capacity() * 2,
                Container::Bitset(_) => 8192,
                Container::Run(r) => r.capacity() * 4,
            }
    }

    pub(super) fn write_payload(&self, out: &mut Vec<u8>) {
        match self {
            Container::Array(a) => {
                for x in a {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            Container::Bitset(w) => write_words(out, w),
            Container::Run(r) => {
                out.extend_from_slice(&(r.len() as u16).to_le_bytes());
                for &(s, e) in r {
                    out.extend_from_slice(&s.to_le_bytes());
                    out.extend_from_slice(&(e - s).to_le_bytes());
                }
            }
        }
    }

    pub(super) fn contains(&self, x: u16) -> bool {
        match self {
            Container::Array(a) => a.binary_search(&x).is_ok(),
            Container::Bitset(w) => w[(x >> 6) as usize] >> (x & 63) & 1 == 1,
            Container::Run(r) => {
                let i = r.partition_point(|&(s, _)| s <= x);
                i > 0 && r[i - 1].1 >= x
            }
        }
    }
}

pub(super) fn write_words(out: &mut Vec<u8>, w: &Words) {
    let start = out.len();
    out.resize(start + 8192, 0);
    for (dst, x) in out[start..].chunks_exact_mut(8).zip(w.iter()) {
        dst.copy_from_slice(&x.to_le_bytes());
    }
}

// Word-buffer operations of the fused evaluator (see `words`). `None` is an empty container.

pub(super) fn view(c: Option<&Container>) -> Option<ContainerRef<'_>> {
    c.map(|c| match c {
        Container::Array(a) => ContainerRef::Array(a),
        Container::Bitset(w) => ContainerRef::Bitset(w),
        Container::Run(r) => ContainerRef::Runs(r),
    })
}

pub(super) fn load(r: &mut Words, c: Option<&Container>) {
    words::load(r, view(c))
}

pub(super) fn and(r: &mut Words, c: Option<&Container>, tmp: &mut Words) -> bool {
    words::and(r, view(c), tmp)
}

pub(super) fn or(r: &mut Words, c: Option<&Container>) {
    words::or(r, view(c))
}

pub(super) fn andnot(r: &mut Words, c: Option<&Container>) -> bool {
    words::andnot(r, view(c))
}

/// A bitmap as sorted chunk keys and containers, with running cardinalities for rank lookups.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Chunks {
    pub(super) keys: Vec<u16>,
    pub(super) conts: Vec<Container>,
    /// `cum[i]` = number of elements in containers before i; `cum.len() == keys.len() + 1`.
    pub(super) cum: Vec<u64>,
}

impl Chunks {
    pub(super) fn card(&self) -> u64 {
        self.cum.last().copied().unwrap_or(0)
    }

    pub(super) fn push(&mut self, key: u16, c: Container) {
        if self.cum.is_empty() {
            self.cum.push(0);
        }
        let total = self.card() + c.card() as u64;
        self.keys.push(key);
        self.conts.push(c);
        self.cum.push(total);
    }

    #[cfg(test)]
    pub(super) fn from_sorted(ids: &[u32]) -> Chunks {
        let mut out = Chunks::default();
        let mut lows = Vec::new();
        for (key, a, b) in segments(ids, |&u| u) {
            lows.clear();
            lows.extend(ids[a..b].iter().map(|&u| u as u16));
            if let Some(c) = Container::from_sorted(&lows) {
                out.push(key, c);
            }
        }
        out
    }

    pub(super) fn find(&self, key: u16) -> Option<usize> {
        self.keys.binary_search(&key).ok()
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.keys.capacity() * 2 + self.cum.capacity() * 8 + self.conts.iter().map(Container::heap_bytes).sum::<usize>()
    }

    /// Roaring portable serialization (the format of `Bitmap::serialize::<Portable>`).
    pub(super) fn write_portable(&self, out: &mut Vec<u8>) {
        let n = self.keys.len();
        let has_run = self.conts.iter().any(|c| matches!(c, Container::Run(_)));
        let header_start = out.len();
        if has_run {
            out.extend_from_slice(&(COOKIE_RUN | (((n - 1) as u32) << 16)).to_le_bytes());
            let mut flags = vec![0u8; n.div_ceil(8)];
            for (i, c) in self.conts.iter().enumerate() {
                if matches!(c, Container::Run(_)) {
                    flags[i / 8] |= 1 << (i % 8);
                }
            }
            out.extend_from_slice(&flags);
        } else {
            out.extend_from_slice(&COOKIE_NO_RUN.to_le_bytes());
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        for (k, c) in self.keys.iter().zip(&self.conts) {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&((c.card() - 1) as u16).to_le_bytes());
        }
        if !has_run || n >= NO_OFFSET_THRESHOLD {
            // Offsets count from the start of this bitmap's serialization.
            let mut pos = out.len() - header_start + 4 * n;
            for c in &self.conts {
                out.extend_from_slice(&(pos as u32).to_le_bytes());
                pos += c.payload_len();
            }
        }
        for c in &self.conts {
            c.write_payload(out);
        }
    }

    pub(super) fn portable_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_portable(&mut out);
        out
    }

    /// Strict parser of the portable format: every invariant the evaluator relies on is checked.
    pub(super) fn parse_portable(buf: &[u8]) -> Result<Chunks> {
        let mut r = Reader::new(buf, "numeric index bitmap");
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
                let raw = r.take(8192)?;
                let mut w = Box::new([0u64; WORDS]);
                for (x, p) in w.iter_mut().zip(raw.chunks_exact(8)) {
                    *x = le_u64(p);
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

    /// Every element of self is in `sup`.
    pub(super) fn is_subset_of(&self, sup: &Chunks) -> bool {
        let (mut a, mut b) = (Box::new([0u64; WORDS]), Box::new([0u64; WORDS]));
        self.keys.iter().zip(&self.conts).all(|(&k, c)| match sup.find(k) {
            None => false,
            Some(j) => {
                load(&mut a, Some(c));
                load(&mut b, sup.conts.get(j));
                a.iter().zip(b.iter()).all(|(x, y)| x & !y == 0)
            }
        })
    }

    pub(super) fn to_bitmap(&self) -> Bitmap {
        let bytes = self.portable_bytes();
        Bitmap::try_deserialize::<Portable>(&bytes).unwrap_or_else(|| self.to_bitmap_slow())
    }

    /// Element-wise fallback (only used if croaring rejected bytes we wrote; never expected).
    pub(super) fn to_bitmap_slow(&self) -> Bitmap {
        let mut bm = Bitmap::new();
        let mut w = Box::new([0u64; WORDS]);
        let mut ids = Vec::new();
        for (&k, c) in self.keys.iter().zip(&self.conts) {
            load(&mut w, Some(c));
            ids.clear();
            push_ids(&w, (k as u32) << 16, &mut ids);
            bm.add_many(&ids);
        }
        bm
    }
}

pub(super) fn push_lows(w: &Words, out: &mut Vec<u16>) {
    for (i, &x) in w.iter().enumerate() {
        let mut x = x;
        while x != 0 {
            out.push(((i as u16) << 6) | x.trailing_zeros() as u16);
            x &= x - 1;
        }
    }
}

pub(super) fn push_ids(w: &Words, base: u32, out: &mut Vec<u32>) {
    for (i, &x) in w.iter().enumerate() {
        let mut x = x;
        while x != 0 {
            out.push(base + ((i as u32) << 6) + x.trailing_zeros());
            x &= x - 1;
        }
    }
}

/// Runs of equal high 16 bits in a sorted id list: (key, start, end).
pub(super) fn segments<T>(items: &[T], id: impl Fn(&T) -> u32) -> Vec<(u16, usize, usize)> {
    let mut out = Vec::new();
    let mut a = 0;
    while a < items.len() {
        let key = id(&items[a]) >> 16;
        let len = items[a..].partition_point(|x| id(x) >> 16 == key);
        out.push((key as u16, a, a + len));
        a += len;
    }
    out
}

/// Writes query results chunk by chunk directly as portable bytes. Room for the largest
/// possible header is reserved in front of the payloads; the real header is written right
/// before them at the end, so the payload bytes are never copied again.
pub(crate) struct Output {
    pub(super) body: Vec<u8>,
    pub(super) reserved: usize,
    pub(super) dir: Vec<(u16, u32)>,
}

impl Output {
    /// `max_bytes` bounds the payload (2 bytes per candidate user covers arrays and bitsets).
    pub(crate) fn new(max_chunks: usize, max_bytes: usize) -> Output {
        let reserved = 8 + 8 * max_chunks;
        let mut body = Vec::with_capacity(reserved + max_bytes);
        body.resize(reserved, 0);
        Output { body, reserved, dir: Vec::new() }
    }

    pub(crate) fn push(&mut self, key: u16, w: &Words) {
        let card = popcount(w);
        if card == 0 {
            return;
        }
        if card as usize <= ARRAY_MAX {
            // Extract into a local array first: pushing 2 bytes at a time kept the Vec length in
            // memory and made sparse results ~2x slower.
            // The first 4 bits of each word are written unconditionally (slots past the word's
            // count are overwritten by the next word), which avoids most branch mispredictions.
            // Indexing cannot overflow: k <= card <= 4096 and at most k + 3 is written.
            let mut vals = [0u16; ARRAY_MAX + 4];
            let mut k = 0usize;
            for (i, &x) in w.iter().enumerate() {
                let base = (i as u16) << 6;
                let cnt = x.count_ones() as usize;
                let mut x = x;
                for j in 0..4 {
                    vals[k + j] = base | (x.trailing_zeros() as u16 & 63);
                    x &= x.wrapping_sub(1);
                }
                let mut kk = k + 4;
                while x != 0 {
                    vals[kk] = base | x.trailing_zeros() as u16;
                    x &= x - 1;
                    kk += 1;
                }
                k += cnt;
            }
            let start = self.body.len();
            self.body.resize(start + 2 * k.min(ARRAY_MAX), 0);
            for (dst, v) in self.body[start..].chunks_exact_mut(2).zip(&vals) {
                dst.copy_from_slice(&v.to_le_bytes());
            }
        } else {
            write_words(&mut self.body, w);
        }
        self.dir.push((key, card));
    }

    pub(crate) fn finish(mut self) -> Bitmap {
        let n = self.dir.len();
        let header = 8 + 8 * n;
        let mut head = Vec::with_capacity(header);
        head.extend_from_slice(&COOKIE_NO_RUN.to_le_bytes());
        head.extend_from_slice(&(n as u32).to_le_bytes());
        for &(k, card) in &self.dir {
            head.extend_from_slice(&k.to_le_bytes());
            head.extend_from_slice(&((card - 1) as u16).to_le_bytes());
        }
        let mut pos = header;
        for &(_, card) in &self.dir {
            head.extend_from_slice(&(pos as u32).to_le_bytes());
            pos += if card as usize <= ARRAY_MAX { 2 * card as usize } else { 8192 };
        }
        // n <= max_chunks, so the header fits in the reserved room.
        let start = self.reserved.saturating_sub(header);
        self.body[start..start + header].copy_from_slice(&head);
        let buf = &self.body[start..];
        Bitmap::try_deserialize::<Portable>(buf)
            .unwrap_or_else(|| Chunks::parse_portable(buf).map(|c| c.to_bitmap_slow()).unwrap_or_default())
    }
}
