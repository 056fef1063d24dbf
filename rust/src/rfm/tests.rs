//! Tests of RFM aggregation and scoring: first-appearance order, sparse keys
//! and split batches, integer, cent and float sums, tick scales, tables
//! merged from parts, narrow and wide totals, reversed recency.

use super::*;

fn log<'a>(keys: Keys<'a>, ts: &'a [i64], amounts: Amounts<'a>, as_of: i64) -> Log<'a> {
    let batch = Batch::new(keys, ts, amounts).unwrap();
    Log { batches: vec![batch], scale: TickScale::Mul(1), as_of }
}

#[test]
fn aggregates_in_first_appearance_order() {
    let keys = [7u32, 3, 7, 9, 3, 3];
    let day = MICROS_PER_DAY;
    let ts = [0, day, 5 * day, 11 * day, 2 * day, 3 * day];
    let amounts = [1.25, 2.0, 0.5, 100.0, 0.1, 0.2];
    let agg = aggregate(&log(Keys::U32(&keys), &ts, Amounts::Float(&amounts), 10 * day)).unwrap();
    assert_eq!(agg.users, Users::U32(vec![7, 3]));
    assert_eq!(agg.first_row, vec![0, 1]);
    assert_eq!(agg.recency_days, vec![5, 7]);
    assert_eq!(agg.frequency, vec![2, 3]);
    match agg.monetary {
        Monetary::Cents(sums) => assert_eq!(sums, vec![175.0, 230.0]),
        _ => panic!("whole cents are summed exactly"),
    }
}

#[test]
fn sparse_keys_and_split_batches_agree_with_dense_ones() {
    let day = MICROS_PER_DAY;
    let keys = [u64::MAX - 1, 5, u64::MAX - 1, 5, 1 << 40];
    let ts = [day, 2 * day, 3 * day, 20 * day, 4 * day];
    let amounts = [1i64, 2, 3, 4, 5];
    let batches = vec![
        Batch::new(Keys::U64(&keys[..2]), &ts[..2], Amounts::Int(&amounts[..2])).unwrap(),
        Batch::new(Keys::U64(&keys[2..]), &ts[2..], Amounts::Int(&amounts[2..])).unwrap(),
    ];
    let agg = aggregate(&Log { batches, scale: TickScale::Mul(1), as_of: 10 * day }).unwrap();
    assert_eq!(agg.users, Users::U64(vec![u64::MAX - 1, 5, 1 << 40]));
    assert_eq!(agg.first_row, vec![0, 1, 4]);
    assert_eq!(agg.recency_days, vec![7, 8, 6]);
    assert_eq!(agg.frequency, vec![2, 1, 1]);
    match agg.monetary {
        Monetary::Int(sums) => assert_eq!(sums, vec![4, 2, 5]),
        _ => panic!("integers are summed exactly"),
    }
}

#[test]
fn columns_cut_into_different_pieces_line_up() {
    let keys = [1u32, 2, 1, 3, 2];
    let ts = [0i64, 1, 2, 3, 4];
    let amounts = [1i64, 10, 100, 1000, 10000];
    let log = Log::from_columns(
        &[Keys::U32(&keys[..3]), Keys::U32(&keys[3..])],
        &[&ts[..1], &ts[1..4], &ts[4..]],
        &[Amounts::Int(&amounts[..2]), Amounts::Int(&amounts[2..])],
        TickScale::Mul(1),
        10,
    )
    .unwrap();
    assert_eq!(log.batches.len(), 5);
    let agg = aggregate(&log).unwrap();
    assert_eq!(agg.first_row, vec![0, 1, 3]);
    match agg.monetary {
        Monetary::Int(sums) => assert_eq!(sums, vec![101, 10010, 1000]),
        _ => panic!("integers are summed exactly"),
    }
    let short = Log::from_columns(&[Keys::U32(&keys[..4])], &[&ts], &[Amounts::Int(&amounts)], TickScale::Mul(1), 0);
    assert!(short.is_err());
}

#[test]
fn amounts_that_are_not_cents_use_a_compensated_float_sum() {
    let keys = [0u32, 0, 1];
    let ts = [0, 0, 0];
    let amounts = [0.001, 1e16, -1e16];
    let agg = aggregate(&log(Keys::U32(&keys), &ts, Amounts::Float(&amounts), 0)).unwrap();
    match agg.monetary {
        Monetary::Float(sums) => assert_eq!(sums, vec![1e16 + 0.001, -1e16]),
        _ => panic!("0.001 is not whole cents"),
    }
}

#[test]
fn nanosecond_ticks_are_floored_to_microseconds() {
    let scale = TickScale::from_ticks_per_second(1_000_000_000);
    assert_eq!(scale, TickScale::Div(1000));
    let keys = [0u32, 1];
    let ts = [1999, 2000];
    let amounts = [1i64, 1];
    let log =
        Log { batches: vec![Batch::new(Keys::U32(&keys), &ts, Amounts::Int(&amounts)).unwrap()], scale, as_of: 1 };
    assert_eq!(aggregate(&log).unwrap().first_row, vec![0]);
}

/// What a test compares of an aggregation: first rows, days, counts and
/// sums as text; checks that every user is the key of its first row.
type Summary = (Vec<u32>, Vec<i64>, Vec<i64>, Vec<String>);

fn summary(agg: Aggregated, keys: &[u32]) -> Summary {
    let money = match agg.monetary {
        Monetary::Int(sums) => sums.iter().map(|s| s.to_string()).collect(),
        Monetary::Cents(sums) => sums.iter().map(|s| format!("{s}c")).collect(),
        Monetary::Float(sums) => sums.iter().map(|s| format!("{s:.6}")).collect(),
    };
    let Users::U32(users) = &agg.users else { panic!("u32 keys give u32 users") };
    assert_eq!(users.len(), agg.first_row.len());
    for (&user, &row) in users.iter().zip(&agg.first_row) {
        assert_eq!(user, keys[row as usize]);
    }
    (agg.first_row, agg.recency_days, agg.frequency, money)
}

fn in_parts<T: Tally>(log: &Log<'_>, width: usize, parts: usize, keys: &[u32]) -> Option<Summary> {
    aggregate_in_parts::<T>(log, width, parts).unwrap().map(|agg| summary(agg, keys))
}

/// Logs cut into several parts, each scanned into its own table and then
/// merged, give the single-part result, with narrow and wide slots alike.
#[test]
fn parts_merge_into_the_single_table_result() {
    let mut random = crate::test_random::Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut next = move |n: u64| random.below(n);
    let day = MICROS_PER_DAY;
    for round in 0..20 {
        let rows = 1 + next(3000) as usize;
        let customers = 1 + next(if round % 2 == 0 { 50 } else { 5000 });
        let keys: Vec<u32> = (0..rows).map(|_| next(customers) as u32).collect();
        let ts: Vec<i64> = (0..rows).map(|_| next(40) as i64 * day + next(day as u64) as i64).collect();
        let cents: Vec<f64> = (0..rows).map(|_| (next(20_000) as f64 - 5_000.0) / 100.0).collect();
        let floats: Vec<f64> = cents.iter().map(|c| c + 0.001).collect();
        let small: Vec<i64> = (0..rows).map(|_| next(2000) as i64 - 1000).collect();
        let huge: Vec<i64> = (0..rows).map(|_| next(1 << 40) as i64 - (1 << 39)).collect();
        let width = customers as usize;
        for amounts in [Amounts::Float(&cents), Amounts::Float(&floats), Amounts::Int(&small), Amounts::Int(&huge)] {
            // Two batches, so parts also straddle a batch boundary.
            let cut = rows / 3;
            let batches = vec![
                Batch::new(Keys::U32(&keys[..cut]), &ts[..cut], amounts.slice(0..cut)).unwrap(),
                Batch::new(Keys::U32(&keys[cut..]), &ts[cut..], amounts.slice(cut..rows)).unwrap(),
            ];
            let log = Log { batches, scale: TickScale::Mul(1), as_of: 30 * day };
            let one = |parts| -> [Option<Summary>; 2] {
                match amounts {
                    Amounts::Int(_) => [
                        in_parts::<Narrow<i64>>(&log, width, parts, &keys),
                        in_parts::<Wide<i64>>(&log, width, parts, &keys),
                    ],
                    Amounts::Float(_) => [
                        in_parts::<Narrow<Cents>>(&log, width, parts, &keys),
                        in_parts::<Wide<Cents>>(&log, width, parts, &keys)
                            .or_else(|| in_parts::<Wide<Compensated>>(&log, width, parts, &keys)),
                    ],
                }
            };
            let [narrow, wide] = one(1);
            let wide = wide.expect("wide slots hold any totals");
            // Narrow slots take exactly the whole-unit logs whose sums fit 32 bits.
            let fits = match amounts {
                Amounts::Int(a) => a == &small[..],
                Amounts::Float(a) => a == &cents[..],
            };
            assert_eq!(narrow.as_ref(), fits.then_some(&wide), "round {round}");
            for parts in [2, 3, 5] {
                assert_eq!(
                    one(parts),
                    [fits.then(|| wide.clone()), Some(wide.clone())],
                    "round {round}, {parts} parts"
                );
            }
        }
    }
}

/// Totals beyond narrow slots (65,535 purchases, 65,535 days, sums
/// beyond 32 bits) are found and summed in wide ones.
#[test]
fn totals_beyond_narrow_slots_are_exact() {
    let day = MICROS_PER_DAY;
    let as_of = 70_000 * day;
    let cases: [(Vec<u32>, Vec<i64>, Vec<i64>); 3] = [
        // One customer buying 70,000 times.
        (vec![3; 70_000], vec![as_of; 70_000], vec![1; 70_000]),
        // A purchase 69,000 days before as_of.
        (vec![1, 2], vec![1000 * day, as_of], vec![5, 6]),
        // A sum past 2^31 (and a single amount past it).
        (vec![0, 0, 1], vec![as_of; 3], vec![2_000_000_000, 2_000_000_000, 1 << 40]),
    ];
    for (keys, ts, amounts) in &cases {
        let agg = aggregate(&log(Keys::U32(keys), ts, Amounts::Int(amounts), as_of)).unwrap();
        let mut expected: Vec<(u32, i64, i64, i64)> = Vec::new();
        for ((&k, &t), &a) in keys.iter().zip(ts).zip(amounts) {
            let days = (as_of - t) / day;
            match expected.iter_mut().find(|e| e.0 == k) {
                Some(e) => *e = (k, e.1.min(days), e.2 + 1, e.3 + a),
                None => expected.push((k, days, 1, a)),
            }
        }
        let Users::U32(users) = agg.users else { panic!("u32 keys give u32 users") };
        let Monetary::Int(sums) = agg.monetary else { panic!("integers are summed exactly") };
        let got: Vec<(u32, i64, i64, i64)> =
            (0..users.len()).map(|i| (users[i], agg.recency_days[i], agg.frequency[i], sums[i])).collect();
        assert_eq!(got, expected);
    }
}

#[test]
fn scores_reverse_recency() {
    let agg = Aggregated {
        users: Users::U32(vec![0, 1, 2, 3, 4]),
        first_row: vec![0, 1, 2, 3, 4],
        recency_days: vec![1, 2, 3, 4, 5],
        frequency: vec![5, 4, 3, 2, 1],
        monetary: Monetary::Int(vec![10, 20, 30, 40, 50]),
    };
    let scores = score(&agg, 5, Ties::First).unwrap();
    assert_eq!(scores.r, vec![5, 4, 3, 2, 1]);
    assert_eq!(scores.f, vec![5, 4, 3, 2, 1]);
    assert_eq!(scores.m, vec![1, 2, 3, 4, 5]);
}
