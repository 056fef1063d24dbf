//! The chunk kernel: one 2^16-id chunk of a bitmap as a buffer of 1024 words,
//! and the operations that combine a Roaring container (array, bitset or run)
//! into such a buffer. The numeric index and the fused query executor both
//! evaluate whole expressions this way, one chunk at a time in L1, instead of
//! materialising an intermediate bitmap per operation.

pub use super::container::ContainerRef;

/// Words in one chunk's buffer (2^16 bits).
pub const WORDS: usize = 1024;
/// One chunk as a bitset.
pub type Words = [u64; WORDS];

/// How many bits are set.
pub fn popcount(w: &Words) -> u32 {
    #[inline(always)]
    fn count(w: &Words) -> u32 {
        w.iter().map(|x| x.count_ones()).sum()
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "popcnt")]
        unsafe fn count_popcnt(w: &Words) -> u32 {
            count(w)
        }
        // Baseline x86-64 counts bits with a dozen shifts and masks a word:
        // a bitset's cardinality took longer than decoding it.
        if crate::cpu::popcnt() {
            // SAFETY: the CPU has POPCNT (checked just above).
            return unsafe { count_popcnt(w) };
        }
    }
    count(w)
}

pub fn is_empty(w: &Words) -> bool {
    w.iter().all(|&x| x == 0)
}

/// Set (or clear) bits a..=b of a chunk buffer.
pub fn fill_range(w: &mut Words, a: u16, b: u16, set: bool) {
    let (wa, wb) = ((a >> 6) as usize, (b >> 6) as usize);
    let ma = !0u64 << (a & 63);
    let mb = !0u64 >> (63 - (b & 63));
    let apply = |x: &mut u64, m: u64| {
        if set {
            *x |= m
        } else {
            *x &= !m
        }
    };
    if wa == wb {
        apply(&mut w[wa], ma & mb);
    } else {
        apply(&mut w[wa], ma);
        for x in &mut w[wa + 1..wb] {
            *x = if set { !0 } else { 0 };
        }
        apply(&mut w[wb], mb);
    }
}

/// r = c. `None` is an empty container.
pub fn load(r: &mut Words, c: Option<ContainerRef<'_>>) {
    match c {
        None => r.fill(0),
        Some(ContainerRef::Bitset(w)) => r.copy_from_slice(&w[..]),
        Some(ContainerRef::Array(a)) => {
            r.fill(0);
            scatter(a, |i, m| r[i] |= m);
        }
        Some(runs) => {
            r.fill(0);
            runs.for_each_run(|s, e| fill_range(r, s, e, true));
        }
    }
}

/// Calls `apply(word, bit)` for every value of a sorted array of a chunk's
/// low bits: the index of its word in a [`Words`] and its bit in that word.
/// Neighbouring values of a sorted array mostly share a word, so one pass in order is a chain of read-modify-writes of the
/// same word, each waiting for the store before it. Four interleaved passes
/// over the array's quarters keep four such chains in flight instead of one.
#[inline(always)]
fn scatter(a: &[u16], mut apply: impl FnMut(usize, u64)) {
    let mut one = |x: u16| apply(usize::from(x >> 6), 1u64 << (x & 63));
    let quarter = a.len() / 4;
    let (q0, rest) = a.split_at(quarter);
    let (q1, rest) = rest.split_at(quarter);
    let (q2, q3) = rest.split_at(quarter);
    for (((&x0, &x1), &x2), &x3) in q0.iter().zip(q1).zip(q2).zip(q3) {
        one(x0);
        one(x1);
        one(x2);
        one(x3);
    }
    // The last quarter holds up to three values more.
    for &x in &q3[quarter..] {
        one(x);
    }
}

/// r &= c; returns whether r is non-empty afterwards.
pub fn and(r: &mut Words, c: Option<ContainerRef<'_>>, tmp: &mut Words) -> bool {
    match c {
        None => {
            r.fill(0);
            false
        }
        Some(ContainerRef::Bitset(w)) => {
            let mut any = 0;
            for (x, y) in r.iter_mut().zip(w.iter()) {
                *x &= *y;
                any |= *x;
            }
            any != 0
        }
        Some(ContainerRef::Array(a)) => {
            tmp.fill(0);
            let mut any = 0;
            scatter(a, |i, m| {
                let kept = r[i] & m;
                tmp[i] |= kept;
                any |= kept;
            });
            r.copy_from_slice(&tmp[..]);
            any != 0
        }
        Some(runs) => {
            // Clear the gaps between runs.
            let mut next = 0u32; // first id not yet known to be inside a run
            runs.for_each_run(|s, e| {
                if (s as u32) > next {
                    fill_range(r, next as u16, s - 1, false);
                }
                next = e as u32 + 1;
            });
            if next <= 0xFFFF {
                fill_range(r, next as u16, 0xFFFF, false);
            }
            !is_empty(r)
        }
    }
}

/// r |= c.
pub fn or(r: &mut Words, c: Option<ContainerRef<'_>>) {
    match c {
        None => {}
        Some(ContainerRef::Bitset(w)) => {
            for (x, y) in r.iter_mut().zip(w.iter()) {
                *x |= *y;
            }
        }
        Some(ContainerRef::Array(a)) => scatter(a, |i, m| r[i] |= m),
        Some(runs) => runs.for_each_run(|s, e| fill_range(r, s, e, true)),
    }
}

/// r &= !c; returns whether r is non-empty afterwards.
pub fn andnot(r: &mut Words, c: Option<ContainerRef<'_>>) -> bool {
    match c {
        None => {}
        Some(ContainerRef::Bitset(w)) => {
            let mut any = 0;
            for (x, y) in r.iter_mut().zip(w.iter()) {
                *x &= !*y;
                any |= *x;
            }
            return any != 0;
        }
        Some(ContainerRef::Array(a)) => scatter(a, |i, m| r[i] &= !m),
        Some(runs) => runs.for_each_run(|s, e| fill_range(r, s, e, false)),
    }
    !is_empty(r)
}

/// r &= other; returns whether r is non-empty afterwards.
pub fn and_words(r: &mut Words, other: &Words) -> bool {
    let mut any = 0;
    for (x, y) in r.iter_mut().zip(other.iter()) {
        *x &= *y;
        any |= *x;
    }
    any != 0
}

pub fn or_words(r: &mut Words, other: &Words) {
    for (x, y) in r.iter_mut().zip(other.iter()) {
        *x |= *y;
    }
}

pub fn xor_words(r: &mut Words, other: &Words) {
    for (x, y) in r.iter_mut().zip(other.iter()) {
        *x ^= *y;
    }
}

/// r &= !other; returns whether r is non-empty afterwards.
pub fn andnot_words(r: &mut Words, other: &Words) -> bool {
    let mut any = 0;
    for (x, y) in r.iter_mut().zip(other.iter()) {
        *x &= !*y;
        any |= *x;
    }
    any != 0
}

/// Append the set bits of `w` to `out`, as low 16 bits in increasing order.
pub fn push_lows(w: &Words, out: &mut Vec<u16>) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::avx512_vbmi2() {
        // SAFETY: the CPU has AVX-512 F, BW and VBMI2 (checked just above).
        return unsafe { push_lows_vbmi2(w, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::avx2() && crate::cpu::popcnt() {
        let total = popcount(w);
        if total >= TABLE_DECODE_MIN_BITS {
            // SAFETY: the CPU has AVX2 and POPCNT (checked just above).
            return unsafe { push_lows_avx2(w, out, total as usize) };
        }
    }
    decode(w, out, 0u16, |base, bit| base | bit as u16)
}

/// Below this many bits a chunk (two a word) [`push_ids`] and [`push_lows`]
/// keep the bit-at-a-time decode on AVX2: the table decode spends eight steps
/// on every word, whatever it holds, which sparse chunks do not repay.
#[cfg(target_arch = "x86_64")]
const TABLE_DECODE_MIN_BITS: u32 = 2 * WORDS as u32;

/// The positions (0..8) of the set bits of every byte value, lowest first,
/// padded with zeros: the table behind the AVX2 decoders.
#[cfg(target_arch = "x86_64")]
static BYTE_POSITIONS: [[u8; 8]; 256] = {
    let mut table = [[0u8; 8]; 256];
    let mut byte = 0;
    while byte < 256 {
        let (mut bit, mut k) = (0, 0);
        while bit < 8 {
            if byte >> bit & 1 == 1 {
                table[byte][k] = bit as u8;
                k += 1;
            }
            bit += 1;
        }
        byte += 1;
    }
    table
};

/// [`push_lows`] a byte at a time, for CPUs without AVX-512 VBMI2: each byte
/// looks up its bit positions in [`BYTE_POSITIONS`], widens them to eight
/// 16-bit lanes plus the byte's base and stores all eight, advancing by the
/// byte's popcount. No branch depends on the bits (the scalar decode spends a
/// TZCNT and a BLSR per bit and mispredicts around its unrolled count).
/// `total` must be `w`'s popcount: the stores rely on it for their room.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn push_lows_avx2(w: &Words, out: &mut Vec<u16>, total: usize) {
    use std::arch::x86_64::*;
    let start = out.len();
    // Room for the values (`total`, the popcount) plus one full 8-lane store past the last.
    out.reserve(total + 8);
    let dst = out.as_mut_ptr();
    let mut n = start;
    let step = _mm_set1_epi16(8);
    for (i, &word) in w.iter().enumerate() {
        if word == 0 {
            continue;
        }
        let mut at = _mm_set1_epi16((i << 6) as i16);
        let mut bits = word;
        for _ in 0..8 {
            let byte = (bits & 0xff) as usize;
            // SAFETY: n - start counts the bits so far, so the 8-lane store at
            // n ends within the room reserved; the table row is 8 bytes.
            unsafe {
                let positions = _mm_loadl_epi64(BYTE_POSITIONS[byte].as_ptr().cast());
                _mm_storeu_si128(dst.add(n).cast(), _mm_add_epi16(_mm_cvtepu8_epi16(positions), at));
            }
            n += byte.count_ones() as usize;
            at = _mm_add_epi16(at, step);
            bits >>= 8;
        }
    }
    // SAFETY: values start..n were stored above.
    unsafe { out.set_len(n) };
}

/// [`write_ids`] a byte at a time, as [`push_lows_avx2`], in 32-bit lanes;
/// returns how many ids it wrote.
///
/// # Safety
/// `dst` must be valid for writes of `w`'s popcount plus [`AVX2_SLACK`] values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn ids_avx2(w: &Words, base: u32, dst: *mut u32) -> usize {
    use std::arch::x86_64::*;
    let mut n = 0;
    let step = _mm256_set1_epi32(8);
    for (i, &word) in w.iter().enumerate() {
        if word == 0 {
            continue;
        }
        let mut at = _mm256_set1_epi32((base + ((i as u32) << 6)) as i32);
        let mut bits = word;
        for _ in 0..8 {
            let byte = (bits & 0xff) as usize;
            // SAFETY: n counts the bits so far, so the 8-lane store at n ends
            // within the popcount plus the slack the caller vouches for; the
            // table row is 8 bytes.
            unsafe {
                let positions = _mm_loadl_epi64(BYTE_POSITIONS[byte].as_ptr().cast());
                _mm256_storeu_si256(dst.add(n).cast(), _mm256_add_epi32(_mm256_cvtepu8_epi32(positions), at));
            }
            n += byte.count_ones() as usize;
            at = _mm256_add_epi32(at, step);
            bits >>= 8;
        }
    }
    n
}

/// Values past the last id that [`ids_avx2`] may overwrite (its last 8-lane store).
#[cfg(target_arch = "x86_64")]
const AVX2_SLACK: usize = 8;

/// [`push_lows`] a word at a time: VPCOMPRESSB packs the positions (0..63)
/// of the word's set bits into bytes, which widen to 16 bits plus the word's
/// base, 32 at a time (a second step only for words of more than 32 bits).
/// The scalar decode spends a TZCNT and a BLSR on each bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,popcnt")]
unsafe fn push_lows_vbmi2(w: &Words, out: &mut Vec<u16>) {
    use std::arch::x86_64::*;
    let start = out.len();
    // Room for the values plus one full 32-lane store past the last.
    out.reserve(popcount(w) as usize + 64);
    let dst = out.as_mut_ptr();
    let positions = byte_positions();
    let mut n = start;
    for (i, &word) in w.iter().enumerate() {
        let packed = _mm512_maskz_compress_epi8(word, positions);
        let base = _mm512_set1_epi16((i << 6) as i16);
        let count = word.count_ones() as usize;
        // SAFETY (both stores): n - start counts the bits so far, so a 32-lane
        // store at n + 32 * k (k * 32 < count) ends within the room reserved.
        unsafe {
            let low = _mm512_add_epi16(_mm512_cvtepu8_epi16(_mm512_castsi512_si256(packed)), base);
            _mm512_storeu_si512(dst.add(n).cast(), low);
            if count > 32 {
                let high = _mm512_add_epi16(_mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64::<1>(packed)), base);
                _mm512_storeu_si512(dst.add(n + 32).cast(), high);
            }
        }
        n += count;
    }
    // SAFETY: values start..n were stored above.
    unsafe { out.set_len(n) };
}

/// Bytes 0, 1, ..., 63: the bit positions of a word.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn byte_positions() -> std::arch::x86_64::__m512i {
    let bytes: [u8; 64] = std::array::from_fn(|i| i as u8);
    // SAFETY: 64 bytes read from a 64-byte array.
    unsafe { std::arch::x86_64::_mm512_loadu_si512(bytes.as_ptr().cast()) }
}

/// Append the set bits of `w` to `out` as ids of the chunk starting at `base`.
pub fn push_ids(w: &Words, base: u32, out: &mut Vec<u32>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(decoder) = vector_ids_decoder(popcount(w)) {
        let total = popcount(w) as usize;
        out.reserve(total + WRITE_IDS_SLACK);
        let start = out.len();
        // SAFETY: the room reserved above; the decoder wrote `total` values.
        unsafe {
            let written = decoder(w, base, out.as_mut_ptr().add(start));
            out.set_len(start + written);
        }
        return;
    }
    // Wrapping: `decode` also computes the values past a word's last bit
    // (bit 64), which overflow in the top chunk's last word (and are cut).
    decode(w, out, base, |base, bit| base.wrapping_add(bit))
}

/// Values past the last id that [`write_ids`] may overwrite when its
/// destination has them: the vector decoders store whole lanes.
pub const WRITE_IDS_SLACK: usize = 16;

/// Write the set bits of `w`, as ids of the chunk starting at `base`, to the
/// front of `dst`; returns how many (`w`'s popcount, at most `dst.len()`).
///
/// When `dst` has [`WRITE_IDS_SLACK`] values beyond the ids, the vector
/// decoders write in place and may leave garbage there (a caller filling a
/// buffer front to back overwrites it with the next chunk's ids). Otherwise
/// the ids go through `scratch` and only `dst[..count]` is written. Decoding
/// in place saves a copy of every id: joining per-thread parts took a tenth
/// of W2 Q1's ids on AVX2.
///
/// # Panics
/// If `dst` is shorter than `w`'s popcount (the caller sized it from that).
pub fn write_ids(w: &Words, base: u32, dst: &mut [std::mem::MaybeUninit<u32>], scratch: &mut Vec<u32>) -> usize {
    let total = popcount(w) as usize;
    assert!(dst.len() >= total, "{} ids do not fit in {} values", total, dst.len());
    #[cfg(target_arch = "x86_64")]
    if dst.len() >= total + WRITE_IDS_SLACK {
        if let Some(decoder) = vector_ids_decoder(total as u32) {
            // SAFETY: dst has room for the ids plus the slack (checked above).
            let written = unsafe { decoder(w, base, dst.as_mut_ptr().cast()) };
            debug_assert_eq!(written, total);
            return total;
        }
    }
    scratch.clear();
    push_ids(w, base, scratch);
    for (d, &id) in dst.iter_mut().zip(scratch.iter()) {
        d.write(id);
    }
    total
}

/// A vector decoder into raw memory with room for the ids plus
/// [`WRITE_IDS_SLACK`]; `None` where the bit-at-a-time decode is as fast (no
/// AVX2, or a chunk too sparse for the table decode).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::type_complexity)]
fn vector_ids_decoder(total: u32) -> Option<unsafe fn(&Words, u32, *mut u32) -> usize> {
    if crate::cpu::avx512_vbmi2() {
        return Some(|w, base, dst| {
            // SAFETY: the CPU has AVX-512 F, BW and VBMI2 (checked above);
            // room as the caller vouches.
            unsafe { ids_vbmi2(w, base, dst) }
        });
    }
    if crate::cpu::avx2() && crate::cpu::popcnt() && total >= TABLE_DECODE_MIN_BITS {
        const _: () = assert!(AVX2_SLACK <= WRITE_IDS_SLACK);
        return Some(|w, base, dst| {
            // SAFETY: the CPU has AVX2 and POPCNT (checked above); room as
            // the caller vouches.
            unsafe { ids_avx2(w, base, dst) }
        });
    }
    None
}

/// [`write_ids`] a word at a time, as [`push_lows_vbmi2`]: the packed
/// positions widen to 32 bits plus the word's base, 16 at a time; returns how
/// many ids it wrote.
///
/// # Safety
/// `dst` must be valid for writes of `w`'s popcount plus [`VBMI2_SLACK`] values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,popcnt")]
unsafe fn ids_vbmi2(w: &Words, base: u32, dst: *mut u32) -> usize {
    use std::arch::x86_64::*;
    let positions = byte_positions();
    let mut n = 0;
    for (i, &word) in w.iter().enumerate() {
        let packed = _mm512_maskz_compress_epi8(word, positions);
        let word_base = _mm512_set1_epi32((base + ((i as u32) << 6)) as i32);
        let count = word.count_ones() as usize;
        // SAFETY (every store): n counts the bits so far, and a 16-lane store
        // at n + 16 * k (16 * k < count) ends before n + count + 16, within
        // the room the caller vouches for.
        unsafe {
            let first = _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm512_castsi512_si128(packed)), word_base);
            _mm512_storeu_si512(dst.add(n).cast(), first);
            if count > 16 {
                let second = _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32::<1>(packed)), word_base);
                _mm512_storeu_si512(dst.add(n + 16).cast(), second);
            }
            if count > 32 {
                let third = _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32::<2>(packed)), word_base);
                _mm512_storeu_si512(dst.add(n + 32).cast(), third);
            }
            if count > 48 {
                let fourth = _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32::<3>(packed)), word_base);
                _mm512_storeu_si512(dst.add(n + 48).cast(), fourth);
            }
        }
        n += count;
    }
    n
}

/// Values past the last id that [`ids_vbmi2`] may overwrite (its last 16-lane store).
#[cfg(target_arch = "x86_64")]
const VBMI2_SLACK: usize = 16;
#[cfg(target_arch = "x86_64")]
const _: () = assert!(VBMI2_SLACK <= WRITE_IDS_SLACK);

/// The set bits of `w`, as `value(base + 64 * word, bit)`, appended to `out`.
///
/// Each word writes `K` values unconditionally and advances by its popcount,
/// looping only for bits beyond `K`: a `while bits != 0` loop mispredicts
/// once a word, and so does the test for more than `K` bits when `K` is near
/// the mean count. `K` follows the chunk's mean bits a word. Measured on W6's
/// 10 % bitsets (6.4 bits a word): 1.5 ns a bit with K = 12, 1.9 with K = 8,
/// 2.9 with the loop; at 3 % K = 4 is best, at 25 % K = 20.
#[inline(always)]
fn decode<T: Copy + Default + std::ops::Add<Output = T> + From<u16>>(
    w: &Words,
    out: &mut Vec<T>,
    base: T,
    value: impl Fn(T, u32) -> T + Copy,
) {
    #[inline(always)]
    fn kernel<T: Copy + Default + std::ops::Add<Output = T> + From<u16>, const K: usize>(
        w: &Words,
        out: &mut Vec<T>,
        base: T,
        value: impl Fn(T, u32) -> T,
        total: usize,
    ) {
        let start = out.len();
        // Room for the values plus one word's slack for the unconditional writes.
        out.resize(start + total + 64, T::default());
        let buf = &mut out[start..];
        let mut n = 0;
        for (i, &word) in w.iter().enumerate() {
            let mut bits = word;
            let word_base = base + T::from((i as u16) << 6);
            let count = bits.count_ones() as usize;
            // n + count <= total, so the slice is in bounds.
            let slots = &mut buf[n..n + 64];
            for slot in &mut slots[..K] {
                // Past the last bit this writes bit 64, beyond `n`, later overwritten or cut.
                *slot = value(word_base, bits.trailing_zeros());
                bits &= bits.wrapping_sub(1);
            }
            if count > K {
                for slot in &mut slots[K..count] {
                    *slot = value(word_base, bits.trailing_zeros());
                    bits &= bits - 1;
                }
            }
            n += count;
        }
        out.truncate(start + total);
    }
    #[inline(always)]
    fn by_density<T: Copy + Default + std::ops::Add<Output = T> + From<u16>>(
        w: &Words,
        out: &mut Vec<T>,
        base: T,
        value: impl Fn(T, u32) -> T,
    ) {
        let total = popcount(w) as usize;
        // Thresholds in bits a chunk (1024 words): 3, 5.5, 10, 14, 19 a word.
        match total {
            0..3_072 => kernel::<T, 4>(w, out, base, value, total),
            3_072..5_632 => kernel::<T, 8>(w, out, base, value, total),
            5_632..10_240 => kernel::<T, 12>(w, out, base, value, total),
            10_240..14_336 => kernel::<T, 16>(w, out, base, value, total),
            14_336..19_456 => kernel::<T, 20>(w, out, base, value, total),
            _ => kernel::<T, 24>(w, out, base, value, total),
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "popcnt,bmi1")]
        unsafe fn kernel_x86<T: Copy + Default + std::ops::Add<Output = T> + From<u16>>(
            w: &Words,
            out: &mut Vec<T>,
            base: T,
            value: impl Fn(T, u32) -> T,
        ) {
            by_density(w, out, base, value)
        }
        if crate::cpu::popcnt() && crate::cpu::features().bmi1 {
            // SAFETY: the CPU has POPCNT and BMI1 (checked just above).
            return unsafe { kernel_x86(w, out, base, value) };
        }
    }
    by_density(w, out, base, value)
}

/// Room [`extract_lows`] needs: the values plus one word's worth of slack.
pub const EXTRACT_ROOM: usize = super::ARRAY_MAX + 64;

/// Write the set bits of a chunk with at most [`super::ARRAY_MAX`] of them to
/// `values` as low 16 bits in increasing order; returns how many. `block` is
/// the chunk's words (`block.iter_mut().map(std::mem::take)` also clears it).
///
/// Sparse chunks average well under one bit per word, so a `while bits != 0`
/// loop mispredicts about once per word: instead every word writes four
/// positions unconditionally and advances by its popcount, looping only for a
/// fifth bit. W1's array blocks at 10 M users: 61 ms on one core, 150 ms with
/// the loop.
#[inline(always)]
pub fn extract_lows(block: impl IntoIterator<Item = u64>, values: &mut [u16; EXTRACT_ROOM]) -> usize {
    let mut n = 0;
    for (w, word) in block.into_iter().enumerate() {
        let mut bits = word;
        let base = (w as u16) << 6;
        let count = bits.count_ones() as usize;
        // n <= ARRAY_MAX here (the caller's bound), so n + 64 fits.
        let out = &mut values[n..n + 64];
        for slot in &mut out[..4] {
            // Past the last bit this writes 64 | base, beyond `n` where it is ignored.
            *slot = base | bits.trailing_zeros() as u16;
            bits &= bits.wrapping_sub(1);
        }
        if count > 4 {
            for slot in &mut out[4..count] {
                *slot = base | bits.trailing_zeros() as u16;
                bits &= bits - 1;
            }
        }
        n += count;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(w: &Words) -> Vec<u16> {
        (0..=u16::MAX).filter(|&x| w[(x >> 6) as usize] >> (x & 63) & 1 == 1).collect()
    }

    #[test]
    fn containers_of_every_kind_combine_alike() {
        let array = [3u16, 64, 65, 1000];
        let runs = [(60u16, 70u16), (999, 1001)];
        let lengths = [[60u16, 10u16], [999, 2]];
        let mut bits = Box::new([0u64; WORDS]);
        load(&mut bits, Some(ContainerRef::Runs(&runs)));
        let mut r = Box::new([0u64; WORDS]);
        let mut tmp = Box::new([0u64; WORDS]);
        for c in [ContainerRef::Runs(&runs), ContainerRef::RunLengths(&lengths), ContainerRef::Bitset(&bits)] {
            load(&mut r, Some(ContainerRef::Array(&array)));
            assert!(and(&mut r, Some(c), &mut tmp));
            assert_eq!(ids(&r), vec![64, 65, 1000]);
            load(&mut r, Some(ContainerRef::Array(&array)));
            assert!(andnot(&mut r, Some(c)));
            assert_eq!(ids(&r), vec![3]);
            load(&mut r, Some(ContainerRef::Array(&array)));
            or(&mut r, Some(c));
            assert_eq!(popcount(&r), 11 + 3 + 1);
        }
    }

    #[test]
    fn arrays_of_every_length_combine_as_sets() {
        let mut random = crate::test_random::Rng::new(7);
        let mut next = move || (random.next_u32() >> 16) as u16;
        let mut start = Box::new([0u64; WORDS]);
        for x in start.iter_mut() {
            *x = u64::from(next()) << 48 | u64::from(next()) << 16 | u64::from(next()) >> 3;
        }
        let before: std::collections::BTreeSet<u16> = ids(&start).into_iter().collect();
        let (mut r, mut tmp) = (Box::new([0u64; WORDS]), Box::new([0u64; WORDS]));
        // The interleaved scatter cuts arrays in quarters: every remainder, and
        // values clustered within a word as well as spread.
        for len in (0..=9).chain([63, 64, 1001, 4095]) {
            for spread in [1u16, 3, 700] {
                let array: Vec<u16> = (0..len)
                    .map(|i| (i as u16).wrapping_mul(spread).wrapping_add(next() % spread.max(2) / 2))
                    .collect::<std::collections::BTreeSet<u16>>()
                    .into_iter()
                    .collect();
                let set: std::collections::BTreeSet<u16> = array.iter().copied().collect();
                let c = Some(ContainerRef::Array(&array));
                load(&mut r, c);
                assert_eq!(ids(&r), array, "load, {len} values");
                r.copy_from_slice(&start[..]);
                or(&mut r, c);
                assert_eq!(ids(&r), before.union(&set).copied().collect::<Vec<_>>(), "or, {len} values");
                r.copy_from_slice(&start[..]);
                let expected: Vec<u16> = before.intersection(&set).copied().collect();
                assert_eq!(and(&mut r, c, &mut tmp), !expected.is_empty());
                assert_eq!(ids(&r), expected, "and, {len} values");
                r.copy_from_slice(&start[..]);
                let expected: Vec<u16> = before.difference(&set).copied().collect();
                assert_eq!(andnot(&mut r, c), !expected.is_empty());
                assert_eq!(ids(&r), expected, "andnot, {len} values");
            }
        }
    }

    #[test]
    fn decoding_gives_every_set_bit_in_order_at_any_density() {
        let mut random = crate::test_random::Rng::new(1);
        let mut next = move || random.next();
        for density in [0u32, 1, 3, 8, 12, 16, 32, 64] {
            let mut w = Box::new([0u64; WORDS]);
            for x in w.iter_mut() {
                // Each bit set with probability density / 64.
                *x = (0..64).filter(|_| ((next() >> 32) as u32 % 64) < density).fold(0, |a, b| a | 1 << b);
            }
            let expected = ids(&w);
            // Behind existing values, as callers append.
            let mut lows = vec![7u16];
            push_lows(&w, &mut lows);
            assert_eq!(lows[1..], expected[..], "density {density}");
            let mut scalar = vec![7u16];
            decode(&w, &mut scalar, 0u16, |base, bit| base | bit as u16);
            assert_eq!(scalar[1..], expected[..], "scalar, density {density}");
            let mut ids32 = vec![7u32];
            push_ids(&w, 1 << 16, &mut ids32);
            let expected32: Vec<u32> = expected.iter().map(|&l| (1 << 16) + u32::from(l)).collect();
            assert_eq!(ids32[1..], expected32[..], "density {density}");
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt") {
                let mut lows = vec![7u16];
                // SAFETY: the CPU has AVX2 and POPCNT (checked just above).
                unsafe { push_lows_avx2(&w, &mut lows, expected.len()) };
                assert_eq!(lows[1..], expected[..], "avx2, density {density}");
                let mut ids32 = vec![0u32; expected.len() + AVX2_SLACK];
                // SAFETY: as above; room for the ids plus the slack.
                let written = unsafe { ids_avx2(&w, 1 << 16, ids32.as_mut_ptr()) };
                assert_eq!(ids32[..written], expected32[..], "avx2, density {density}");
            }
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx512vbmi2") && std::is_x86_feature_detected!("avx512bw") {
                let mut ids32 = vec![0u32; expected.len() + VBMI2_SLACK];
                // SAFETY: the CPU has AVX-512 BW and VBMI2; room for the ids plus the slack.
                let written = unsafe { ids_vbmi2(&w, 1 << 16, ids32.as_mut_ptr()) };
                assert_eq!(ids32[..written], expected32[..], "vbmi2, density {density}");
            }
        }
    }

    /// Chunks written front to back into one buffer, in place where the
    /// buffer has slack beyond a chunk and through the scratch at its end,
    /// give every id once, in order, and nothing past the last is touched.
    #[test]
    fn ids_written_in_place_tile_a_buffer() {
        let mut random = crate::test_random::Rng::new(7);
        let mut next = move || random.next_u32();
        let chunks: Vec<Box<Words>> = [40u32, 1, 0, 64, 5, 30, 2]
            .iter()
            .map(|&density| {
                let mut w = Box::new([0u64; WORDS]);
                for x in w.iter_mut() {
                    *x = (0..64).filter(|_| next() % 64 < density).fold(0, |a, b| a | 1 << b);
                }
                w
            })
            .collect();
        let mut expected = Vec::new();
        for (key, w) in chunks.iter().enumerate() {
            expected.extend(ids(w).iter().map(|&l| ((key as u32) << 16) + u32::from(l)));
        }
        let sentinel = 0xdead_beef;
        let mut buffer = vec![std::mem::MaybeUninit::new(sentinel); expected.len() + 3];
        let (mut at, mut scratch) = (0, Vec::new());
        for (key, w) in chunks.iter().enumerate() {
            at += write_ids(w, (key as u32) << 16, &mut buffer[at..expected.len()], &mut scratch);
        }
        assert_eq!(at, expected.len());
        // SAFETY: every value of the buffer was initialised.
        let got: Vec<u32> = buffer.iter().map(|v| unsafe { v.assume_init() }).collect();
        assert_eq!(got[..at], expected[..]);
        assert_eq!(got[at..], [sentinel; 3]);
    }
}
