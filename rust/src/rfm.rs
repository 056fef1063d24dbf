//! RFM: per customer recency (days since the last purchase), frequency (number
//! of purchases) and monetary (sum of amounts) from a transaction log, scored
//! into `bins` levels by rank, as the common pandas recipe does:
//! `qcut(x.rank(method="first"), bins)` in order of first appearance, R reversed.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::quantile::MAX_EXACT_INTEGER;
use crate::rank::{ntile, Ties};

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Amounts of the log: integers (plain, or unscaled decimals) or floats.
pub enum Amounts<'a> {
    Int(&'a [i64]),
    Float(&'a [f64]),
}

/// Per customer, in order of first appearance in the (as_of-filtered) log.
pub struct Aggregated {
    /// Row (in the input) of each customer's first purchase.
    pub first_row: Vec<u32>,
    pub recency_days: Vec<i64>,
    pub frequency: Vec<i64>,
    pub monetary: Monetary,
}

pub enum Monetary {
    /// Exact integer sums (plain integers, unscaled decimals or cents).
    Int { sums: Vec<i128>, cents: bool },
    /// Float sums (compensated summation) for amounts that are not whole cents.
    Float(Vec<f64>),
}

impl Monetary {
    /// The sums as f64 for ranking; exact below 2^53 (cents up to 90 trillion).
    pub fn ranking_values(&self) -> Vec<f64> {
        match self {
            Monetary::Int { sums, .. } => sums.par_iter().map(|&s| s as f64).collect(),
            Monetary::Float(sums) => sums.clone(),
        }
    }
}

/// Customer codes 0.. in order of first appearance among the kept rows;
/// `u32::MAX` for rows that are not kept. `keys` identify customers.
pub fn first_appearance_codes(keys: &[u64], keep: &[bool]) -> (Vec<u32>, usize) {
    let max_key = keys.iter().zip(keep).filter(|(_, k)| **k).map(|(v, _)| *v).max().unwrap_or(0);
    let mut codes = vec![u32::MAX; keys.len()];
    let mut next = 0u32;
    // Dense keys (user ids up to a few times the row count) index an array;
    // sparse ones (64-bit ids, hashes) go through a hash map.
    if max_key < (keys.len() as u64).max(1 << 20) * 4 {
        let mut code_of = vec![u32::MAX; max_key as usize + 1];
        for (i, (&key, &kept)) in keys.iter().zip(keep).enumerate() {
            if kept {
                let slot = &mut code_of[key as usize];
                if *slot == u32::MAX {
                    *slot = next;
                    next += 1;
                }
                codes[i] = *slot;
            }
        }
    } else {
        let mut code_of: FxHashMap<u64, u32> = FxHashMap::default();
        for (i, (&key, &kept)) in keys.iter().zip(keep).enumerate() {
            if kept {
                codes[i] = *code_of.entry(key).or_insert_with(|| {
                    next += 1;
                    next - 1
                });
            }
        }
    }
    (codes, next as usize)
}

/// Whole cents: every amount is `round(x * 100) / 100` exactly. Such logs are
/// summed in integer cents, so the sums (and the ties between customers) are exact.
fn cents_of(amounts: &[f64]) -> Option<Vec<i64>> {
    amounts
        .par_iter()
        .map(|&x| {
            let cents = (x * 100.0).round();
            (cents.abs() < MAX_EXACT_INTEGER as f64 && cents / 100.0 == x).then_some(cents as i64)
        })
        .collect()
}

struct Partial {
    last: Vec<i64>,
    count: Vec<i64>,
    int_sum: Vec<i128>,
    float_sum: Vec<f64>,
    compensation: Vec<f64>,
    first: Vec<u32>,
}

impl Partial {
    fn new(n: usize, floats: bool) -> Self {
        Partial {
            last: vec![i64::MIN; n],
            count: vec![0; n],
            int_sum: if floats { Vec::new() } else { vec![0; n] },
            float_sum: if floats { vec![0.0; n] } else { Vec::new() },
            compensation: if floats { vec![0.0; n] } else { Vec::new() },
            first: vec![u32::MAX; n],
        }
    }

    /// Neumaier's compensated addition: the float sums do not depend on how
    /// the log was split between threads beyond the last bit.
    fn add_float(&mut self, c: usize, x: f64) {
        let sum = self.float_sum[c];
        let t = sum + x;
        self.compensation[c] += if sum.abs() >= x.abs() { (sum - t) + x } else { (x - t) + sum };
        self.float_sum[c] = t;
    }

    fn merge(mut self, other: Partial) -> Partial {
        for c in 0..self.count.len() {
            self.last[c] = self.last[c].max(other.last[c]);
            self.count[c] += other.count[c];
            self.first[c] = self.first[c].min(other.first[c]);
            if !self.int_sum.is_empty() {
                self.int_sum[c] += other.int_sum[c];
            } else {
                let (a, b) = (self.float_sum[c], other.float_sum[c]);
                self.compensation[c] += other.compensation[c];
                let t = a + b;
                self.compensation[c] += if a.abs() >= b.abs() { (a - t) + b } else { (b - t) + a };
                self.float_sum[c] = t;
            }
        }
        self
    }
}

/// Aggregate the kept rows (`codes[i] != u32::MAX`) per customer.
pub fn aggregate(codes: &[u32], n: usize, ts_micros: &[i64], amounts: Amounts<'_>, as_of: i64) -> Aggregated {
    let (ints, floats, cents): (Option<Vec<i64>>, Option<&[f64]>, bool) = match amounts {
        Amounts::Int(values) => (Some(values.to_vec()), None, false),
        Amounts::Float(values) => match cents_of(values) {
            Some(cents) => (Some(cents), None, true),
            None => (None, Some(values), false),
        },
    };
    let use_floats = floats.is_some();
    let ranges = crate::parallel::ranges(codes.len(), 1 << 20);
    let partial = ranges
        .into_par_iter()
        .map(|range| {
            let mut part = Partial::new(n, use_floats);
            for i in range {
                let c = codes[i] as usize;
                if c >= n {
                    continue;
                }
                part.last[c] = part.last[c].max(ts_micros[i]);
                part.count[c] += 1;
                part.first[c] = part.first[c].min(i as u32);
                match (&ints, floats) {
                    (Some(values), _) => part.int_sum[c] += i128::from(values[i]),
                    (None, Some(values)) => part.add_float(c, values[i]),
                    (None, None) => {}
                }
            }
            part
        })
        .reduce(|| Partial::new(n, use_floats), Partial::merge);
    let recency_days = partial.last.par_iter().map(|&last| (as_of - last).div_euclid(MICROS_PER_DAY)).collect();
    let monetary = if use_floats {
        Monetary::Float(partial.float_sum.iter().zip(&partial.compensation).map(|(s, c)| s + c).collect())
    } else {
        Monetary::Int { sums: partial.int_sum, cents }
    };
    Aggregated { first_row: partial.first, recency_days, frequency: partial.count, monetary }
}

/// Scores 1..=levels (levels = min(bins, customers)); R reversed.
pub struct Scores {
    pub r: Vec<u8>,
    pub f: Vec<u8>,
    pub m: Vec<u8>,
    pub levels: usize,
}

pub fn score(aggregated: &Aggregated, bins: usize, ties: Ties) -> Result<Scores> {
    let n = aggregated.frequency.len();
    if !(1..=100).contains(&bins) {
        return Err(Error::invalid(format!("bins must be between 1 and 100, got {bins}")));
    }
    if n == 0 {
        return Ok(Scores { r: vec![], f: vec![], m: vec![], levels: bins });
    }
    // With fewer customers than bins, pandas' qcut of ranks has duplicate
    // edges and fails; uoseg uses as many levels as there are customers.
    let levels = bins.min(n);
    let bucket = |values: Vec<f64>| -> Result<Vec<i64>> {
        ntile(&values, levels, ties).map_err(|e| Error::invalid(format!("RFM scoring: {e}")))
    };
    let recency: Vec<f64> = aggregated.recency_days.iter().map(|&d| d as f64).collect();
    let frequency: Vec<f64> = aggregated.frequency.iter().map(|&c| c as f64).collect();
    let (r, (f, m)) = rayon::join(
        || bucket(recency),
        || rayon::join(|| bucket(frequency), || bucket(aggregated.monetary.ranking_values())),
    );
    let top = levels as i64;
    Ok(Scores {
        r: r?.iter().map(|&c| (top - c) as u8).collect(),
        f: f?.iter().map(|&c| (c + 1) as u8).collect(),
        m: m?.iter().map(|&c| (c + 1) as u8).collect(),
        levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_in_first_appearance_order() {
        let keys = [7u64, 3, 7, 9, 3, 3];
        let keep = [true, true, true, false, true, true];
        let (codes, n) = first_appearance_codes(&keys, &keep);
        assert_eq!((codes.clone(), n), (vec![0, 1, 0, u32::MAX, 1, 1], 2));
        let day = MICROS_PER_DAY;
        let ts = [0, day, 5 * day, 9 * day, 2 * day, 3 * day];
        let amounts = [1.25, 2.0, 0.5, 100.0, 0.1, 0.2];
        let agg = aggregate(&codes, n, &ts, Amounts::Float(&amounts), 10 * day);
        assert_eq!(agg.recency_days, vec![5, 7]);
        assert_eq!(agg.frequency, vec![2, 3]);
        assert_eq!(agg.first_row, vec![0, 1]);
        match agg.monetary {
            Monetary::Int { sums, cents } => assert!(cents && sums == vec![175, 230]),
            Monetary::Float(_) => panic!("whole cents are summed exactly"),
        }
    }

    #[test]
    fn scores_reverse_recency() {
        let agg = Aggregated {
            first_row: vec![0, 1, 2, 3, 4],
            recency_days: vec![1, 2, 3, 4, 5],
            frequency: vec![5, 4, 3, 2, 1],
            monetary: Monetary::Int { sums: vec![10, 20, 30, 40, 50], cents: false },
        };
        let scores = score(&agg, 5, Ties::First).unwrap();
        assert_eq!(scores.r, vec![5, 4, 3, 2, 1]);
        assert_eq!(scores.f, vec![5, 4, 3, 2, 1]);
        assert_eq!(scores.m, vec![1, 2, 3, 4, 5]);
    }
}
