//! Seeded random numbers for tests: one small generator for every test
//! instead of one per test, the same sequence on every run, and no crate
//! for it.
//!
//! xorshift64* (Vigna): a xorshift step, then a multiply that mixes the
//! low bits as well as the high ones.

pub struct Rng(u64);

impl Rng {
    /// A generator from any seed (xorshift never leaves zero, so zero is
    /// taken as one).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The next 32 random bits (the high half).
    pub fn next_u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }

    /// A number below `n` (0 for `n` of 0 or 1); slightly biased for huge
    /// `n`, which tests do not mind.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A float in [0, 1), from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One of `items` (which is not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}
