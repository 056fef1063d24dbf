//! Per-customer running totals of the RFM scan: what one table slot holds,
//! how a purchase adds to it, and the kinds of monetary sums.
//!
//! The log visits customers in random order, so every row reads and writes a
//! slot of a table far larger than the caches. The scan is bound by those
//! random accesses, and a smaller slot means a smaller table: 8-byte
//! [`Narrow`] slots cut the scan by about a fifth against 16-byte [`Wide`]
//! ones. A log whose totals do not fit narrow slots is scanned again with
//! wide ones (see [`super::aggregate`]).

use std::marker::PhantomData;

use super::{Amounts, Batch, Monetary};
use crate::quantile::MAX_EXACT_INTEGER;

/// One customer's running totals, as kept in a table slot.
///
/// # Safety
/// All-zero bytes must be a valid value, meaning "no purchase yet": tables
/// are allocated zeroed.
pub(super) unsafe trait Tally: Copy + Send + Sync {
    type Amount: Copy + Send + Sync;
    /// The finished monetary sum.
    type Total: Copy + Send + Sync;
    fn amounts<'a>(batch: &Batch<'a>) -> Option<&'a [Self::Amount]>;
    fn is_empty(&self) -> bool;
    /// Adds a purchase made `days` whole days before as_of; false when this
    /// kind of slot cannot hold the totals exactly.
    fn add(&mut self, days: u32, amount: Self::Amount) -> bool;
    /// Folds in the same customer's totals from a later part of the log;
    /// false as for `add`. Absorbing an empty slot changes nothing, and
    /// absorbing into an empty slot copies the other.
    fn absorb(&mut self, later: &Self) -> bool;
    fn count(&self) -> u32;
    fn recency_days(&self) -> i64;
    fn total(&self) -> Self::Total;
    fn monetary(totals: Vec<Self::Total>) -> Monetary;
}

/// Totals in 16 bytes (24 with a compensated float sum): they always fit.
#[derive(Clone, Copy)]
#[repr(C)]
pub(super) struct Wide<S> {
    count: u32,
    /// Days since the latest purchase, bit-inverted so that the largest
    /// value is the most recent and zero means none. Days always fit: any
    /// two i64 microsecond instants lie under 2^28 days apart.
    recency: u32,
    sum: S,
}

// SAFETY: all-zero counts and days are valid, and so is an all-zero sum
// (the `Sum` contract).
unsafe impl<S: Sum> Tally for Wide<S> {
    type Amount = S::Amount;
    type Total = S::Total;
    fn amounts<'a>(batch: &Batch<'a>) -> Option<&'a [S::Amount]> {
        S::amounts(batch)
    }
    #[inline(always)]
    fn is_empty(&self) -> bool {
        self.count == 0
    }
    #[inline(always)]
    fn add(&mut self, days: u32, amount: S::Amount) -> bool {
        // The log has under 2^32 rows, so counts do not overflow.
        self.count += 1;
        self.recency = self.recency.max(!days);
        self.sum.add(amount)
    }
    fn absorb(&mut self, later: &Self) -> bool {
        self.count += later.count;
        self.recency = self.recency.max(later.recency);
        self.sum.absorb(later.sum)
    }
    fn count(&self) -> u32 {
        self.count
    }
    fn recency_days(&self) -> i64 {
        i64::from(!self.recency)
    }
    fn total(&self) -> S::Total {
        self.sum.total()
    }
    fn monetary(totals: Vec<S::Total>) -> Monetary {
        S::monetary(totals)
    }
}

/// Totals in 8 bytes, for whole-unit sums: up to 65,535 purchases, the
/// latest under 65,535 days (179 years) before as_of, and a sum within
/// 32 bits (21 million in cents); anything beyond makes `add` fail.
#[derive(Clone, Copy)]
#[repr(C)]
pub(super) struct Narrow<S> {
    count: u16,
    /// Bit-inverted days, as in [`Wide`].
    recency: u16,
    sum: i32,
    kind: PhantomData<S>,
}

// SAFETY: all-zero integers are valid; `PhantomData` has no bytes.
unsafe impl<S: Whole> Tally for Narrow<S> {
    type Amount = S::Amount;
    type Total = S::Total;
    fn amounts<'a>(batch: &Batch<'a>) -> Option<&'a [S::Amount]> {
        S::amounts(batch)
    }
    #[inline(always)]
    fn is_empty(&self) -> bool {
        self.count == 0
    }
    #[inline(always)]
    fn add(&mut self, days: u32, amount: S::Amount) -> bool {
        let (units, whole) = S::units(amount);
        let (count, count_overflow) = self.count.overflowing_add(1);
        let (sum, sum_overflow) = self.sum.overflowing_add(units as i32);
        self.count = count;
        self.sum = sum;
        self.recency = self.recency.max(!(days as u16));
        // Checked together at the end: no branch per row.
        whole & !count_overflow & !sum_overflow & (i64::from(units as i32) == units) & (days < u32::from(u16::MAX))
    }
    fn absorb(&mut self, later: &Self) -> bool {
        let (count, count_overflow) = self.count.overflowing_add(later.count);
        let (sum, sum_overflow) = self.sum.overflowing_add(later.sum);
        self.count = count;
        self.sum = sum;
        self.recency = self.recency.max(later.recency);
        !count_overflow & !sum_overflow
    }
    fn count(&self) -> u32 {
        u32::from(self.count)
    }
    fn recency_days(&self) -> i64 {
        i64::from(!self.recency)
    }
    fn total(&self) -> S::Total {
        S::of_units(i64::from(self.sum))
    }
    fn monetary(totals: Vec<S::Total>) -> Monetary {
        S::monetary(totals)
    }
}

/// A running sum of one customer's amounts.
///
/// # Safety
/// All-zero bytes must be a valid value of the implementing type, and mean 0.
pub(super) unsafe trait Sum: Copy + Send + Sync {
    type Amount: Copy + Send + Sync;
    /// The finished sum, as reported.
    type Total: Copy + Send + Sync;
    fn amounts<'a>(batch: &Batch<'a>) -> Option<&'a [Self::Amount]>;
    /// Adds one amount; false when this kind of sum cannot hold it exactly
    /// (a float that is not whole cents, a sum beyond 64 bits).
    fn add(&mut self, amount: Self::Amount) -> bool;
    /// Adds another running sum; false as for `add`.
    fn absorb(&mut self, other: Self) -> bool;
    fn total(self) -> Self::Total;
    fn monetary(totals: Vec<Self::Total>) -> Monetary;
}

/// Sums of amounts that are whole numbers of a unit (integers, cents).
pub(super) trait Whole: Sum {
    /// The amount in units, and whether it is exactly that many.
    fn units(amount: Self::Amount) -> (i64, bool);
    /// A sum of units as reported.
    fn of_units(units: i64) -> Self::Total;
}

// SAFETY: an all-zero i64 is 0.
unsafe impl Sum for i64 {
    type Amount = i64;
    type Total = i64;
    fn amounts<'a>(batch: &Batch<'a>) -> Option<&'a [i64]> {
        match batch.amounts {
            Amounts::Int(a) => Some(a),
            Amounts::Float(_) => None,
        }
    }
    #[inline]
    fn add(&mut self, amount: i64) -> bool {
        let (sum, overflow) = self.overflowing_add(amount);
        *self = sum;
        !overflow
    }
    fn absorb(&mut self, other: i64) -> bool {
        self.add(other)
    }
    fn total(self) -> i64 {
        self
    }
    fn monetary(sums: Vec<i64>) -> Monetary {
        Monetary::Int(sums)
    }
}

impl Whole for i64 {
    #[inline(always)]
    fn units(amount: i64) -> (i64, bool) {
        (amount, true)
    }
    fn of_units(units: i64) -> i64 {
        units
    }
}

/// Float amounts summed as integer cents, reported as f64 cents (see
/// [`Monetary::Cents`]).
#[derive(Clone, Copy)]
pub(super) struct Cents(i64);

// SAFETY: an all-zero i64 is 0.
unsafe impl Sum for Cents {
    type Amount = f64;
    type Total = f64;
    fn amounts<'a>(batch: &Batch<'a>) -> Option<&'a [f64]> {
        match batch.amounts {
            Amounts::Float(a) => Some(a),
            Amounts::Int(_) => None,
        }
    }
    #[inline]
    fn add(&mut self, x: f64) -> bool {
        let (cents, whole) = Self::units(x);
        whole & self.0.add(cents)
    }
    fn absorb(&mut self, other: Cents) -> bool {
        self.0.add(other.0)
    }
    fn total(self) -> f64 {
        Self::of_units(self.0)
    }
    fn monetary(sums: Vec<f64>) -> Monetary {
        Monetary::Cents(sums)
    }
}

impl Whole for Cents {
    #[inline(always)]
    fn units(x: f64) -> (i64, bool) {
        // x * 100 is within a few ulps of a whole number when x is whole
        // cents, so rounding half away from zero by hand finds it (cheaper
        // than `f64::round`, a libm call on baseline x86-64); the check then
        // accepts exactly the whole-cents amounts.
        let cents = (x * 100.0 + 0.5f64.copysign(x)) as i64;
        (cents, cents.unsigned_abs() < MAX_EXACT_INTEGER && cents as f64 / 100.0 == x)
    }
    fn of_units(cents: i64) -> f64 {
        cents as f64
    }
}

/// Neumaier's compensated float sum, for amounts that are not whole cents.
#[derive(Clone, Copy)]
pub(super) struct Compensated {
    sum: f64,
    compensation: f64,
}

// SAFETY: all-zero f64s are 0.0.
unsafe impl Sum for Compensated {
    type Amount = f64;
    type Total = f64;
    fn amounts<'a>(batch: &Batch<'a>) -> Option<&'a [f64]> {
        Cents::amounts(batch)
    }
    #[inline]
    fn add(&mut self, x: f64) -> bool {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() { (self.sum - t) + x } else { (x - t) + self.sum };
        self.sum = t;
        true
    }
    fn absorb(&mut self, other: Compensated) -> bool {
        self.add(other.sum);
        self.compensation += other.compensation;
        true
    }
    fn total(self) -> f64 {
        self.sum + self.compensation
    }
    fn monetary(sums: Vec<f64>) -> Monetary {
        Monetary::Float(sums)
    }
}
