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

/// Customer codes 0.. in order of first appearance among the rows up to `as_of`
/// (`u32::MAX` for later rows, which are ignored), and each customer's first row.
pub fn first_appearance_codes(keys: &[u64], ts: &[i64], as_of: i64) -> (Vec<u32>, Vec<u32>) {
    let max_key = keys.par_iter().zip(ts).filter(|(_, &t)| t <= as_of).map(|(v, _)| *v).max().unwrap_or(0);
    let keep = ts.iter().map(|&t| t <= as_of);
    let mut codes = vec![u32::MAX; keys.len()];
    let mut first_row: Vec<u32> = Vec::new();
    // Dense keys (user ids up to a few times the row count) index an array;
    // sparse ones (64-bit ids, hashes) go through a hash map.
    if max_key < (keys.len() as u64).max(1 << 20) * 4 {
        let mut code_of = vec![u32::MAX; max_key as usize + 1];
        for (i, (&key, kept)) in keys.iter().zip(keep).enumerate() {
            if kept {
                let slot = &mut code_of[key as usize];
                if *slot == u32::MAX {
                    *slot = first_row.len() as u32;
                    first_row.push(i as u32);
                }
                codes[i] = *slot;
            }
        }
    } else {
        let mut code_of: FxHashMap<u64, u32> = FxHashMap::default();
        for (i, (&key, kept)) in keys.iter().zip(keep).enumerate() {
            if kept {
                codes[i] = *code_of.entry(key).or_insert_with(|| {
                    first_row.push(i as u32);
                    (first_row.len() - 1) as u32
                });
            }
        }
    }
    (codes, first_row)
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

/// One customer's running totals, kept together so a row touches one cache line
/// (the log visits customers in random order; separate arrays cost a miss each).
#[derive(Clone, Copy)]
struct Totals<S> {
    last: i64,
    count: i64,
    sum: S,
}

/// Exact integer sum, or a float sum with Neumaier's compensation term.
trait Sum: Copy + Send + Sync {
    type Amount: Copy + Send + Sync;
    const ZERO: Self;
    fn add(&mut self, amount: Self::Amount);
    fn merge(&mut self, other: Self);
}

impl Sum for i128 {
    type Amount = i64;
    const ZERO: Self = 0;
    fn add(&mut self, amount: i64) {
        *self += i128::from(amount);
    }
    fn merge(&mut self, other: Self) {
        *self += other;
    }
}

#[derive(Clone, Copy)]
struct Compensated {
    sum: f64,
    compensation: f64,
}

impl Sum for Compensated {
    type Amount = f64;
    const ZERO: Self = Compensated { sum: 0.0, compensation: 0.0 };
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() { (self.sum - t) + x } else { (x - t) + self.sum };
        self.sum = t;
    }
    fn merge(&mut self, other: Self) {
        self.add(other.sum);
        self.compensation += other.compensation;
    }
}

fn totals<S: Sum>(codes: &[u32], n: usize, ts: &[i64], amounts: &[S::Amount]) -> Vec<Totals<S>> {
    let empty = Totals { last: i64::MIN, count: 0, sum: S::ZERO };
    // One partition per thread: each holds a record per customer, so more
    // partitions would only add allocation and merging.
    let parts = crate::parallel::num_threads().max(1);
    let step = codes.len().div_ceil(parts).max(1 << 16);
    (0..codes.len())
        .into_par_iter()
        .step_by(step)
        .map(|start| {
            let mut part = vec![empty; n];
            for i in start..(start + step).min(codes.len()) {
                if let Some(t) = part.get_mut(codes[i] as usize) {
                    t.last = t.last.max(ts[i]);
                    t.count += 1;
                    t.sum.add(amounts[i]);
                }
            }
            part
        })
        .reduce_with(|mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                x.last = x.last.max(y.last);
                x.count += y.count;
                x.sum.merge(y.sum);
            }
            a
        })
        .unwrap_or_else(|| vec![empty; n])
}

/// Aggregate the kept rows (`codes[i] != u32::MAX`) per customer.
pub fn aggregate(
    codes: &[u32],
    first_row: Vec<u32>,
    ts_micros: &[i64],
    amounts: Amounts<'_>,
    as_of: i64,
) -> Aggregated {
    let n = first_row.len();
    let recency = |last: i64| (as_of - last).div_euclid(MICROS_PER_DAY);
    let exact = |values: &[i64], cents: bool| {
        let totals = totals::<i128>(codes, n, ts_micros, values);
        Aggregated {
            first_row: first_row.clone(),
            recency_days: totals.iter().map(|t| recency(t.last)).collect(),
            frequency: totals.iter().map(|t| t.count).collect(),
            monetary: Monetary::Int { sums: totals.iter().map(|t| t.sum).collect(), cents },
        }
    };
    match amounts {
        Amounts::Int(values) => exact(values, false),
        Amounts::Float(values) => match cents_of(values) {
            Some(cents) => exact(&cents, true),
            None => {
                let totals = totals::<Compensated>(codes, n, ts_micros, values);
                Aggregated {
                    first_row,
                    recency_days: totals.iter().map(|t| recency(t.last)).collect(),
                    frequency: totals.iter().map(|t| t.count).collect(),
                    monetary: Monetary::Float(totals.iter().map(|t| t.sum.sum + t.sum.compensation).collect()),
                }
            }
        },
    }
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
        let day = MICROS_PER_DAY;
        let ts = [0, day, 5 * day, 11 * day, 2 * day, 3 * day];
        let (codes, first_row) = first_appearance_codes(&keys, &ts, 10 * day);
        assert_eq!((codes.clone(), first_row.clone()), (vec![0, 1, 0, u32::MAX, 1, 1], vec![0, 1]));
        let amounts = [1.25, 2.0, 0.5, 100.0, 0.1, 0.2];
        let agg = aggregate(&codes, first_row, &ts, Amounts::Float(&amounts), 10 * day);
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
