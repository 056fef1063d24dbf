//! Values, keys and exact comparisons: each value becomes an order-preserving
//! u64 key, and query constants compare exactly across the int and float domains.

use super::*;

#[derive(Clone, Debug)]
pub(super) enum Distinct {
    Int(Vec<i64>),
    Float(Vec<f64>),
}

pub(super) const SIGN: u64 = 1 << 63;

/// Order-preserving u64 key of an integer.
pub(super) fn int_key(v: i64) -> u64 {
    (v as u64) ^ SIGN
}

pub(super) fn key_int(k: u64) -> i64 {
    (k ^ SIGN) as i64
}

/// Order-preserving u64 key of a non-NaN float whose -0.0 was already normalized to 0.0.
pub(super) fn float_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b & SIGN != 0 {
        !b
    } else {
        b | SIGN
    }
}

pub(super) fn key_float(k: u64) -> f64 {
    if k & SIGN != 0 {
        f64::from_bits(k & !SIGN)
    } else {
        f64::from_bits(!k)
    }
}

/// -0.0 -> 0.0 so that the two zeros are one value.
pub(super) fn norm_zero(v: f64) -> f64 {
    if v == 0.0 {
        0.0
    } else {
        v
    }
}

/// Exact comparison of an i64 with a non-NaN f64.
pub(super) fn cmp_i64_f64(i: i64, f: f64) -> Ordering {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if f >= TWO63 {
        return Ordering::Less;
    }
    if f < -TWO63 {
        return Ordering::Greater;
    }
    // |trunc(f)| < 2^63 or == -2^63: the cast is exact; f - trunc(f) is exact too.
    let t = f.trunc();
    match i.cmp(&(t as i64)) {
        Ordering::Equal => {
            if f > t {
                Ordering::Less
            } else if f < t {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

pub(super) fn scalar_is_nan(c: Scalar) -> bool {
    matches!(c, Scalar::Float(f) if f.is_nan())
}

pub(super) fn norm_scalar(c: Scalar) -> Scalar {
    match c {
        Scalar::Float(f) => Scalar::Float(norm_zero(f)),
        other => other,
    }
}

pub(super) fn cmp_int_scalar(x: i64, c: Scalar) -> Ordering {
    match c {
        Scalar::Int(b) => x.cmp(&b),
        Scalar::Float(f) => cmp_i64_f64(x, f),
    }
}

pub(super) fn cmp_float_scalar(x: f64, c: Scalar) -> Ordering {
    match c {
        // Neither side is NaN or -0.0 here, so total order == numeric order.
        Scalar::Float(f) => x.total_cmp(&f),
        Scalar::Int(b) => cmp_i64_f64(b, x).reverse(),
    }
}

impl Distinct {
    pub(super) fn domain(&self) -> Domain {
        match self {
            Distinct::Int(_) => Domain::Int,
            Distinct::Float(_) => Domain::Float,
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Distinct::Int(v) => v.len(),
            Distinct::Float(v) => v.len(),
        }
    }

    pub(super) fn from_keys(domain: Domain, keys: &[u64]) -> Distinct {
        match domain {
            Domain::Int => Distinct::Int(keys.iter().map(|&k| key_int(k)).collect()),
            Domain::Float => Distinct::Float(keys.iter().map(|&k| key_float(k)).collect()),
        }
    }

    pub(super) fn key_at(&self, i: usize) -> u64 {
        match self {
            Distinct::Int(v) => v.get(i).map_or(0, |&x| int_key(x)),
            Distinct::Float(v) => v.get(i).map_or(0, |&x| float_key(x)),
        }
    }

    pub(super) fn scalar_at(&self, i: usize) -> Option<Scalar> {
        match self {
            Distinct::Int(v) => v.get(i).map(|&x| Scalar::Int(x)),
            Distinct::Float(v) => v.get(i).map(|&x| Scalar::Float(x)),
        }
    }

    /// Number of leading distinct values `x` with `pred(cmp(x, c))` (pred must be monotone).
    pub(super) fn count_where(&self, c: Scalar, pred: impl Fn(Ordering) -> bool) -> usize {
        match self {
            Distinct::Int(v) => v.partition_point(|&x| pred(cmp_int_scalar(x, c))),
            Distinct::Float(v) => v.partition_point(|&x| pred(cmp_float_scalar(x, c))),
        }
    }

    /// Code of the first value >= c (inclusive) or > c (exclusive).
    pub(super) fn lower_code(&self, c: Scalar, inclusive: bool) -> usize {
        if inclusive {
            self.count_where(c, |o| o == Ordering::Less)
        } else {
            self.count_where(c, |o| o != Ordering::Greater)
        }
    }

    /// One past the code of the last value <= c (inclusive) or < c (exclusive).
    pub(super) fn upper_code(&self, c: Scalar, inclusive: bool) -> usize {
        self.lower_code(c, !inclusive)
    }

    pub(super) fn code_of(&self, c: Scalar) -> Option<usize> {
        let i = self.lower_code(c, true);
        let equal = match self {
            Distinct::Int(v) => v.get(i).is_some_and(|&x| cmp_int_scalar(x, c).is_eq()),
            Distinct::Float(v) => v.get(i).is_some_and(|&x| cmp_float_scalar(x, c).is_eq()),
        };
        equal.then_some(i)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Distinct::Int(v) => v.capacity() * 8,
            Distinct::Float(v) => v.capacity() * 8,
        }
    }
}

pub(super) fn bits_for(distinct: usize) -> u32 {
    if distinct <= 1 {
        0
    } else {
        usize::BITS - (distinct - 1).leading_zeros()
    }
}
