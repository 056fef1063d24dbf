//! The numeric index against plain sorted-vector oracles.

use super::*;
use std::collections::BTreeMap;

use crate::test_random::Rng;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Val {
    I(i64),
    F(f64),
}

/// Independent oracle for `int OP float` (floor-based, in i128).
fn int_vs_float(a: i64, f: f64) -> Ordering {
    if f.is_infinite() {
        return if f > 0.0 { Ordering::Less } else { Ordering::Greater };
    }
    let fl = f.floor();
    if fl >= 9.3e18 {
        return Ordering::Less;
    }
    if fl < -9.3e18 {
        return Ordering::Greater;
    }
    let (a, fi) = (a as i128, fl as i128);
    if a < fi {
        Ordering::Less
    } else if a > fi {
        Ordering::Greater
    } else if f == fl {
        Ordering::Equal
    } else {
        Ordering::Less
    }
}

fn ocmp(v: Val, c: Scalar) -> Option<Ordering> {
    match (v, c) {
        (_, Scalar::Float(f)) if f.is_nan() => None,
        (Val::I(a), Scalar::Int(b)) => Some(a.cmp(&b)),
        (Val::F(a), Scalar::Float(b)) => a.partial_cmp(&b),
        (Val::I(a), Scalar::Float(b)) => Some(int_vs_float(a, b)),
        (Val::F(a), Scalar::Int(b)) => Some(int_vs_float(b, a).reverse()),
    }
}

/// Expected content: (user, value) sorted by user.
type Oracle = Vec<(u32, Val)>;

fn brute(o: &Oracle, pred: impl Fn(Val) -> bool) -> Vec<u32> {
    o.iter().filter(|&&(_, v)| pred(v)).map(|&(u, _)| u).collect()
}

fn brute_range(o: &Oracle, low: Option<(Scalar, bool)>, high: Option<(Scalar, bool)>) -> Vec<u32> {
    brute(o, |v| {
        let lo_ok = match low {
            None => true,
            Some((c, inc)) => match ocmp(v, c) {
                None => false,
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => inc,
                Some(Ordering::Less) => false,
            },
        };
        let hi_ok = match high {
            None => true,
            Some((c, inc)) => match ocmp(v, c) {
                None => false,
                Some(Ordering::Less) => true,
                Some(Ordering::Equal) => inc,
                Some(Ordering::Greater) => false,
            },
        };
        lo_ok && hi_ok
    })
}

/// Users spread over several 2^16 chunks with different densities (dense, sparse, runs).
fn gen_users(rng: &mut Rng, n_max: u32) -> Vec<u32> {
    let mut users = Vec::new();
    for u in 0..n_max {
        let keep = match u >> 16 {
            0 => rng.below(10) < 9,     // dense -> bitset / run slices
            1 => rng.below(100) < 2,    // sparse -> arrays
            2 => (u & 0xFFFF) < 30_000, // contiguous block -> runs in the EBM
            3 => rng.below(2) == 0,     // half
            _ => rng.below(1000) < 3,   // very sparse, far away
        };
        if keep {
            users.push(u);
        }
    }
    users.push(u32::MAX); // the largest possible id
    users.push(u32::MAX - 70_000);
    // shuffle to exercise the sort path
    for i in (1..users.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        users.swap(i, j);
    }
    users
}

const SPECIAL_INTS: [i64; 8] = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX, 9_007_199_254_740_993];
const SPECIAL_FLOATS: [f64; 10] = [
    f64::NEG_INFINITY,
    f64::INFINITY,
    -0.0,
    0.0,
    -2.5,
    1e300,
    -1e-300,
    9_007_199_254_740_992.0,
    9_007_199_254_740_994.0,
    f64::MIN_POSITIVE,
];

fn gen_int_column(rng: &mut Rng, mode: u32) -> (Vec<u32>, Vec<i64>, Vec<bool>) {
    let users = gen_users(rng, 300_000);
    let values: Vec<i64> = users
        .iter()
        .map(|&u| match mode {
            0 => rng.below(11) as i64 - 5, // many ties
            1 => {
                if rng.below(50) == 0 {
                    *rng.pick(&SPECIAL_INTS)
                } else {
                    rng.below(100_000) as i64 - 50_000
                }
            }
            _ => (u / 997) as i64 - 100, // clustered by id -> run containers in slices
        })
        .collect();
    let valid: Vec<bool> = users.iter().map(|_| rng.below(10) != 0).collect();
    (users, values, valid)
}

fn gen_float_column(rng: &mut Rng, mode: u32) -> (Vec<u32>, Vec<f64>, Vec<bool>) {
    let users = gen_users(rng, 300_000);
    let values: Vec<f64> = users
        .iter()
        .map(|&u| match mode {
            0 => (rng.below(21) as f64 - 10.0) * 0.5, // ties, halves
            1 => match rng.below(40) {
                0 => *rng.pick(&SPECIAL_FLOATS),
                1 => f64::NAN,
                _ => (rng.unit() * 8.0).exp() - 20.0,
            },
            _ => (u as f64 / 1000.0).floor() * 0.25, // clustered
        })
        .collect();
    let valid: Vec<bool> = users.iter().map(|_| rng.below(12) != 0).collect();
    (users, values, valid)
}

fn oracle_of(users: &[u32], vals: &[Val], valid: &[bool]) -> Oracle {
    oracle_map(users, vals, valid).into_iter().collect()
}

fn oracle_map(users: &[u32], vals: &[Val], valid: &[bool]) -> BTreeMap<u32, Val> {
    let mut o = BTreeMap::new();
    for ((&u, &v), &ok) in users.iter().zip(vals).zip(valid) {
        let null = !ok || matches!(v, Val::F(f) if f.is_nan());
        if !null {
            o.insert(u, v);
        }
    }
    o
}

fn constants(rng: &mut Rng, o: &Oracle) -> Vec<Scalar> {
    let existing: Vec<Val> = o.iter().map(|p| p.1).collect();
    let mut out = vec![
        Scalar::Float(f64::NAN),
        Scalar::Float(f64::INFINITY),
        Scalar::Float(f64::NEG_INFINITY),
        Scalar::Float(-0.0),
        Scalar::Int(i64::MIN),
        Scalar::Int(i64::MAX),
        Scalar::Float(9.3e18),
        Scalar::Float(-9.3e18),
        Scalar::Float(9_223_372_036_854_775_808.0),
        Scalar::Float(-9_223_372_036_854_775_808.0),
        Scalar::Int(9_007_199_254_740_993),
        Scalar::Float(9_007_199_254_740_992.0),
        Scalar::Float(1e300),
    ];
    for _ in 0..60 {
        if existing.is_empty() {
            break;
        }
        let v = *rng.pick(&existing);
        let c = match (v, rng.below(6)) {
            (Val::I(x), 0) => Scalar::Int(x),
            (Val::I(x), 1) => Scalar::Float(x as f64),
            (Val::I(x), 2) => Scalar::Float(x as f64 + 0.5),
            (Val::I(x), 3) => Scalar::Float(x as f64 - 0.25),
            (Val::I(x), _) => Scalar::Int(x.saturating_add(rng.below(3) as i64 - 1)),
            (Val::F(x), 0) => Scalar::Float(x),
            (Val::F(x), 1) => Scalar::Int(x.clamp(-9e18, 9e18) as i64),
            (Val::F(x), 2) => Scalar::Float(x + 0.1),
            (Val::F(x), 3) => Scalar::Float(x.next_down_compat()),
            (Val::F(x), _) => Scalar::Float(-x),
        };
        out.push(c);
    }
    out
}

trait NextDown {
    fn next_down_compat(self) -> f64;
}
impl NextDown for f64 {
    fn next_down_compat(self) -> f64 {
        if !self.is_finite() || self == 0.0 {
            return self - 1.0;
        }
        let b = self.to_bits();
        f64::from_bits(if self > 0.0 { b - 1 } else { b + 1 })
    }
}

fn check_queries(col: &NumericColumn, o: &Oracle, rng: &mut Rng, rounds: usize) {
    let consts = constants(rng, o);
    assert_eq!(col.non_null().to_vec(), o.iter().map(|p| p.0).collect::<Vec<_>>());
    for &c in &consts {
        let eq = col.equals(c).to_vec();
        assert_eq!(eq, brute(o, |v| ocmp(v, c) == Some(Ordering::Equal)), "equals {c:?}");
        let ne = col.not_equals(c).to_vec();
        let ne_expect = if scalar_is_nan(c) { vec![] } else { brute(o, |v| ocmp(v, c) != Some(Ordering::Equal)) };
        assert_eq!(ne, ne_expect, "not_equals {c:?}");
    }
    for _ in 0..rounds {
        let bound = |rng: &mut Rng| (rng.below(6) != 0).then(|| (*rng.pick(&consts), rng.below(2) == 0));
        let low = bound(rng);
        let high = bound(rng);
        let got = col.range(low, high).to_vec();
        assert_eq!(got, brute_range(o, low, high), "range {low:?} {high:?}");
    }
}

fn as_f64(v: Val) -> f64 {
    match v {
        Val::I(x) => x as f64,
        Val::F(x) => x,
    }
}

fn check_values_and_stats(col: &NumericColumn, o: &Oracle, rng: &mut Rng) {
    for &(u, v) in o.iter().step_by(o.len() / 3000 + 1) {
        let got = col.value_of(u);
        let ok = match (got, v) {
            (Some(Scalar::Int(a)), Val::I(b)) => a == b,
            (Some(Scalar::Float(a)), Val::F(b)) => a == b,
            _ => false,
        };
        assert!(ok, "value_of({u}) = {got:?}, expected {v:?}");
    }
    for u in [1u32, 70_000, 200_001, u32::MAX - 1, 5_000_000] {
        assert_eq!(col.value_of(u).is_some(), o.binary_search_by_key(&u, |p| p.0).is_ok());
    }
    let all_users: Vec<u32> = o.iter().map(|p| p.0).collect();
    let mut audiences: Vec<Option<Bitmap>> = vec![None, Some(Bitmap::new()), Some(Bitmap::of(&all_users))];
    for density in [2u64, 10, 1000] {
        let mut a: Vec<u32> = (0..400_000u32).filter(|_| rng.below(density) == 0).collect();
        a.push(u32::MAX);
        audiences.push(Some(Bitmap::of(&a)));
    }
    for aud in &audiences {
        let sel: Vec<(u32, Val)> =
            o.iter().filter(|(u, _)| aud.as_ref().is_none_or(|a| a.contains(*u))).copied().collect();
        let vals = col.values_f64(aud.as_ref());
        let expect: Vec<f64> = sel.iter().map(|&(_, v)| as_f64(v)).collect();
        assert_eq!(vals.len(), expect.len());
        assert!(vals.iter().zip(&expect).all(|(a, b)| a == b || (a.is_nan() && b.is_nan())));
        let st = col.stats(aud.as_ref());
        assert_eq!(st.count, sel.len() as u64);
        match col.domain() {
            Domain::Int => {
                let s: i128 = sel.iter().map(|&(_, v)| if let Val::I(x) = v { x as i128 } else { 0 }).sum();
                let expect_sum = i64::try_from(s).map_or(Scalar::Float(s as f64), Scalar::Int);
                assert_eq!(st.sum, expect_sum);
                let mn = sel.iter().filter_map(|&(_, v)| if let Val::I(x) = v { Some(x) } else { None }).min();
                let mx = sel.iter().filter_map(|&(_, v)| if let Val::I(x) = v { Some(x) } else { None }).max();
                assert_eq!(st.min, mn.map(Scalar::Int));
                assert_eq!(st.max, mx.map(Scalar::Int));
                if !sel.is_empty() {
                    let m = s as f64 / sel.len() as f64;
                    assert!((st.mean.unwrap() - m).abs() <= 1e-9 * m.abs().max(1.0));
                } else {
                    assert_eq!(st.mean, None);
                }
            }
            Domain::Float => {
                let xs: Vec<f64> = sel.iter().map(|&(_, v)| as_f64(v)).collect();
                let mn = xs.iter().copied().fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))));
                let mx = xs.iter().copied().fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
                assert_eq!(st.min, mn.map(Scalar::Float));
                assert_eq!(st.max, mx.map(Scalar::Float));
                let Scalar::Float(sum) = st.sum else { panic!("float sum expected") };
                let has_pinf = xs.contains(&f64::INFINITY);
                let has_ninf = xs.contains(&f64::NEG_INFINITY);
                if has_pinf && has_ninf {
                    assert!(sum.is_nan());
                } else if has_pinf {
                    assert_eq!(sum, f64::INFINITY);
                } else if has_ninf {
                    assert_eq!(sum, f64::NEG_INFINITY);
                } else {
                    // Reference: sum in sorted-magnitude order with f64 plus error bound.
                    let mut sorted = xs.clone();
                    sorted.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
                    let reference: f64 = sorted.iter().sum();
                    let mag: f64 = xs.iter().map(|x| x.abs()).sum();
                    assert!((sum - reference).abs() <= 1e-12 * mag + 1e-300, "{sum} vs {reference}");
                }
            }
        }
    }
}

fn check_roundtrip(col: &NumericColumn, o: &Oracle, rng: &mut Rng) {
    let bytes = col.to_bytes();
    let back = NumericColumn::from_bytes(&bytes).expect("round trip");
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(back.domain(), col.domain());
    check_queries(&back, o, rng, 30);
    // Truncations are rejected. (Single-byte corruptions are caught by the CRC32 of the
    // store-file section that holds the column: see `persist`'s tests.)
    for _ in 0..25 {
        let cut = rng.below(bytes.len() as u64) as usize;
        assert!(NumericColumn::from_bytes(&bytes[..cut]).is_err());
    }
    // Structural validation: never panic; if accepted, queries run.
    for round in 0..80 {
        let mut bad = bytes.clone();
        // Mostly hit the headers and the start of each section, sometimes anywhere.
        let span = if round % 3 == 0 { bad.len() } else { bad.len().min(4096) };
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(span as u64) as usize;
            bad[i] = rng.next() as u8;
        }
        if rng.below(4) == 0 {
            let cut = rng.below(bad.len() as u64) as usize;
            bad.truncate(cut);
        }
        if let Ok(c) = NumericColumn::from_bytes(&bad) {
            let _ = c.range(Some((Scalar::Int(0), true)), Some((Scalar::Float(10.5), false)));
            let _ = c.equals(Scalar::Int(1));
            let _ = c.not_equals(Scalar::Int(1));
            let _ = c.stats(None);
            let _ = c.stats(Some(&Bitmap::of(&[1, 2, 3, 70_000])));
            let _ = c.value_of(1);
            let _ = c.values_f64(None);
        }
    }
}

#[test]
fn int_columns_match_brute_force() {
    let mut rng = Rng::new(0x1234_5678_9ABC_DEF1);
    for mode in 0..3 {
        let (users, values, valid) = gen_int_column(&mut rng, mode);
        let col = NumericColumn::from_ints(&users, &values, Some(&valid)).unwrap();
        assert_eq!(col.domain(), Domain::Int);
        // Every container kind takes part in query evaluation somewhere.
        let kinds = |f: fn(&Container) -> bool| col.inner.slices.iter().flat_map(|s| &s.conts).any(f);
        assert!(kinds(|c| matches!(c, Container::Array(_))));
        assert!(kinds(|c| matches!(c, Container::Bitset(_))) || mode == 2);
        assert!(kinds(|c| matches!(c, Container::Run(_))) || mode != 2);
        let vals: Vec<Val> = values.iter().map(|&v| Val::I(v)).collect();
        let o = oracle_of(&users, &vals, &valid);
        check_queries(&col, &o, &mut rng, 200);
        check_values_and_stats(&col, &o, &mut rng);
        check_roundtrip(&col, &o, &mut rng);
    }
}

#[test]
fn float_columns_match_brute_force() {
    let mut rng = Rng::new(0xDEAD_BEEF_1234_5679);
    for mode in 0..3 {
        let (users, values, valid) = gen_float_column(&mut rng, mode);
        let col = NumericColumn::from_floats(&users, &values, Some(&valid)).unwrap();
        assert_eq!(col.domain(), Domain::Float);
        let vals: Vec<Val> = values.iter().map(|&v| Val::F(v)).collect();
        let o = oracle_of(&users, &vals, &valid);
        check_queries(&col, &o, &mut rng, 200);
        check_values_and_stats(&col, &o, &mut rng);
        check_roundtrip(&col, &o, &mut rng);
    }
}

#[test]
fn high_cardinality_uses_direct_stats() {
    // > HISTOGRAM_MAX distinct values exercises the non-histogram stats path.
    let mut rng = Rng::new(77);
    let users: Vec<u32> = (0..150_000u32).map(|u| u * 3).collect();
    let ints: Vec<i64> = users.iter().map(|_| rng.next() as i64 >> rng.below(50)).collect();
    let col = NumericColumn::from_ints(&users, &ints, None).unwrap();
    let o = oracle_of(&users, &ints.iter().map(|&v| Val::I(v)).collect::<Vec<_>>(), &vec![true; users.len()]);
    check_queries(&col, &o, &mut rng, 100);
    check_values_and_stats(&col, &o, &mut rng);
    let floats: Vec<f64> = users.iter().map(|_| (rng.unit() * 30.0).exp() - 1e6).collect();
    let col = NumericColumn::from_floats(&users, &floats, None).unwrap();
    let o = oracle_of(&users, &floats.iter().map(|&v| Val::F(v)).collect::<Vec<_>>(), &vec![true; users.len()]);
    check_queries(&col, &o, &mut rng, 100);
    check_values_and_stats(&col, &o, &mut rng);
}

#[test]
fn exact_mixed_comparisons() {
    let two53 = 9_007_199_254_740_992i64;
    // Float column, integer constant beyond 2^53.
    let col = NumericColumn::from_floats(&[1, 2, 3], &[two53 as f64, (two53 + 2) as f64, 2.5], None).unwrap();
    let q = |lo: Option<(Scalar, bool)>, hi: Option<(Scalar, bool)>| col.range(lo, hi).to_vec();
    assert_eq!(q(Some((Scalar::Int(two53 + 1), false)), None), vec![2]);
    assert_eq!(q(Some((Scalar::Int(two53 + 1), true)), None), vec![2]);
    assert_eq!(q(None, Some((Scalar::Int(two53 + 1), true))), vec![1, 3]);
    assert!(col.equals(Scalar::Int(two53 + 1)).is_empty());
    assert_eq!(col.equals(Scalar::Int(two53)).to_vec(), vec![1]);
    assert_eq!(q(Some((Scalar::Int(2), false)), Some((Scalar::Int(3), false))), vec![3]);
    // Int column, fractional constants: x > 2.5 means x >= 3.
    let col = NumericColumn::from_ints(&[10, 11, 12, 13], &[2, 3, i64::MAX, i64::MIN], None).unwrap();
    let q = |lo: Option<(Scalar, bool)>, hi: Option<(Scalar, bool)>| col.range(lo, hi).to_vec();
    assert_eq!(q(Some((Scalar::Float(2.5), false)), None), vec![11, 12]);
    assert_eq!(q(Some((Scalar::Float(2.5), true)), None), vec![11, 12]);
    assert_eq!(q(None, Some((Scalar::Float(2.5), true))), vec![10, 13]);
    assert_eq!(q(Some((Scalar::Float(9.3e18), true)), None), Vec::<u32>::new());
    assert_eq!(q(Some((Scalar::Float(9_223_372_036_854_775_807.0), true)), None), Vec::<u32>::new());
    assert_eq!(q(Some((Scalar::Float(-9_223_372_036_854_775_808.0), true)), None), vec![10, 11, 12, 13]);
    assert_eq!(q(Some((Scalar::Float(-9_223_372_036_854_775_808.0), false)), None), vec![10, 11, 12]);
    assert_eq!(col.equals(Scalar::Float(3.0)).to_vec(), vec![11]);
    assert!(col.equals(Scalar::Float(3.0000000000000004)).is_empty());
    assert_eq!(
        q(Some((Scalar::Float(f64::NEG_INFINITY), false)), Some((Scalar::Float(f64::INFINITY), false))).len(),
        4
    );
    assert!(q(Some((Scalar::Float(f64::NAN), true)), None).is_empty());
    assert!(q(Some((Scalar::Int(5), true)), Some((Scalar::Int(1), true))).is_empty());
    assert!(col.not_equals(Scalar::Float(f64::NAN)).is_empty());
    assert_eq!(col.not_equals(Scalar::Float(2.5)).cardinality(), 4);
    // Zeros and infinities in a float column.
    let col =
        NumericColumn::from_floats(&[1, 2, 3, 4, 5], &[-0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN], None)
            .unwrap();
    assert_eq!(col.equals(Scalar::Float(0.0)).to_vec(), vec![1, 2]);
    assert_eq!(col.equals(Scalar::Float(-0.0)).to_vec(), vec![1, 2]);
    assert_eq!(col.equals(Scalar::Int(0)).to_vec(), vec![1, 2]);
    assert_eq!(col.equals(Scalar::Float(f64::INFINITY)).to_vec(), vec![3]);
    assert_eq!(col.range(Some((Scalar::Float(-0.0), false)), None).to_vec(), vec![3]);
    assert_eq!(col.range(None, Some((Scalar::Int(i64::MIN), true))).to_vec(), vec![4]);
    assert_eq!(col.non_null().to_vec(), vec![1, 2, 3, 4]);
    assert_eq!(col.nulls_within(&Bitmap::of(&[1, 5, 9])).to_vec(), vec![5, 9]);
    assert_eq!(col.value_of(5), None);
    assert_eq!(col.value_of(1), Some(Scalar::Float(0.0)));
    let st = col.stats(Some(&Bitmap::of(&[1, 2, 3])));
    assert_eq!(
        (st.count, st.sum, st.min, st.max),
        (3, Scalar::Float(f64::INFINITY), Some(Scalar::Float(0.0)), Some(Scalar::Float(f64::INFINITY)))
    );
    assert!(matches!(col.stats(None).sum, Scalar::Float(x) if x.is_nan()));
}

#[test]
fn empty_all_null_and_single_value_columns() {
    for col in [
        NumericColumn::from_ints(&[], &[], None).unwrap(),
        NumericColumn::from_ints(&[1, 2], &[5, 6], Some(&[false, false])).unwrap(),
        NumericColumn::from_floats(&[1, 2], &[f64::NAN, f64::NAN], None).unwrap(),
    ] {
        assert!(col.non_null().is_empty());
        assert!(col.range(None, None).is_empty());
        assert!(col.range(Some((Scalar::Int(0), true)), None).is_empty());
        assert!(col.equals(Scalar::Int(5)).is_empty());
        assert!(col.not_equals(Scalar::Int(5)).is_empty());
        let st = col.stats(None);
        assert_eq!((st.count, st.mean, st.min, st.max), (0, None, None, None));
        assert!(col.values_f64(None).is_empty());
        assert_eq!(col.value_of(1), None);
        let back = NumericColumn::from_bytes(&col.to_bytes()).unwrap();
        assert!(back.non_null().is_empty());
        assert!(col.memory_usage() > 0);
    }
    let col = NumericColumn::from_ints(&[3, 1, 2], &[7, 7, 7], None).unwrap();
    assert_eq!(col.range(None, None).to_vec(), vec![1, 2, 3]);
    assert_eq!(col.equals(Scalar::Int(7)).to_vec(), vec![1, 2, 3]);
    assert!(col.not_equals(Scalar::Int(7)).is_empty());
    assert_eq!(col.not_equals(Scalar::Int(8)).to_vec(), vec![1, 2, 3]);
    assert!(col.range(Some((Scalar::Int(7), false)), None).is_empty());
    assert_eq!(col.stats(None).sum, Scalar::Int(21));
    let col = NumericColumn::from_ints(&[1, 2], &[i64::MAX, i64::MAX], None).unwrap();
    let st = col.stats(None);
    assert_eq!(st.sum, Scalar::Float(2.0 * i64::MAX as f64));
    assert_eq!(st.max, Some(Scalar::Int(i64::MAX)));
}

#[test]
fn input_errors() {
    let e = NumericColumn::from_ints(&[1, 2, 1], &[1, 2, 3], None).unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)) && e.to_string().contains("user 1"), "{e}");
    let e = NumericColumn::from_ints(&[4, 2, 4], &[1, 2, 3], Some(&[true, true, false])).unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)) && e.to_string().contains("user 4"), "{e}");
    let e = NumericColumn::from_floats(&[9, 9], &[f64::NAN, f64::NAN], None).unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)) && e.to_string().contains("user 9"), "{e}");
    assert!(NumericColumn::from_ints(&[1, 2], &[1], None).is_err());
    assert!(NumericColumn::from_ints(&[1, 2], &[1, 2], Some(&[true])).is_err());
    let ints = NumericColumn::from_ints(&[1], &[1], None).unwrap();
    assert!(ints.updated_floats(&[2], &[2.5], None).is_err());
    assert_eq!(ints.updated_floats(&[2], &[2.0], None).unwrap().value_of(2), Some(Scalar::Int(2)));
    let floats = NumericColumn::from_floats(&[1], &[1.0], None).unwrap();
    assert!(floats.updated_ints(&[2], &[i64::MAX], None).is_err());
    assert_eq!(floats.updated_ints(&[2], &[3], None).unwrap().value_of(2), Some(Scalar::Float(3.0)));
    assert!(NumericColumn::from_bytes(&[]).is_err());
    assert!(NumericColumn::from_bytes(b"UOSNUM\x00\x01garbage-garbage").is_err());
}

#[test]
fn updates_set_add_and_clear() {
    let mut rng = Rng::new(99);
    let (users, values, valid) = gen_int_column(&mut rng, 1);
    let mut col = NumericColumn::from_ints(&users, &values, Some(&valid)).unwrap();
    let vals: Vec<Val> = values.iter().map(|&v| Val::I(v)).collect();
    let mut o = oracle_map(&users, &vals, &valid);
    for round in 0..4 {
        let n = 2000 + round * 500;
        let mut us: Vec<u32> = (0..n).map(|_| rng.below(400_000) as u32).collect();
        us.sort_unstable();
        us.dedup();
        let vs: Vec<i64> = us.iter().map(|_| rng.below(1000) as i64 - 500).collect();
        let ok: Vec<bool> = us.iter().map(|_| rng.below(5) != 0).collect();
        col = col.updated_ints(&us, &vs, Some(&ok)).unwrap();
        for ((&u, &v), &k) in us.iter().zip(&vs).zip(&ok) {
            if k {
                o.insert(u, Val::I(v));
            } else {
                o.remove(&u);
            }
        }
        check_queries(&col, &o.clone().into_iter().collect(), &mut rng, 50);
    }
    check_values_and_stats(&col, &o.into_iter().collect(), &mut rng);
    // Float updates, including NaN (clears) and a duplicate (error).
    let fcol = NumericColumn::from_floats(&[1, 2, 3], &[1.0, 2.0, 3.0], None).unwrap();
    let fcol2 = fcol.updated_floats(&[2, 4], &[f64::NAN, -1.0], None).unwrap();
    assert_eq!(fcol2.values_f64(None), vec![1.0, 3.0, -1.0]);
    assert_eq!(fcol.values_f64(None), vec![1.0, 2.0, 3.0]); // original unchanged
    assert!(fcol.updated_floats(&[5, 5], &[1.0, 2.0], None).is_err());
}

#[test]
fn portable_format_interoperates_with_croaring() {
    let mut rng = Rng::new(5);
    for case in 0..40 {
        let mut ids: Vec<u32> = Vec::new();
        for chunk in 0..1 + rng.below(5) as u32 {
            let base = (chunk * 3 + rng.below(3) as u32) << 16;
            match (case + chunk) % 4 {
                0 => ids.extend((0..rng.below(4000) as u32 + 1).map(|i| base + i * 13)),
                1 => ids.extend((0..65_536u32).filter(|_| rng.below(3) == 0).map(|i| base + i)),
                2 => ids.extend((100..100 + rng.below(60_000) as u32).map(|i| base + i)),
                _ => ids.extend([base, base + 65_535]),
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let ours = Chunks::from_sorted(&ids);
        assert_eq!(ours.card(), ids.len() as u64);
        let theirs = Bitmap::try_deserialize::<Portable>(&ours.portable_bytes()).expect("croaring reads ours");
        assert_eq!(theirs.to_vec(), ids);
        let mut bm = Bitmap::of(&ids);
        bm.run_optimize();
        let parsed = crate::roaring::parse(&bm.serialize::<Portable>()).expect("we read croaring's");
        assert_eq!(parsed.to_bitmap().to_vec(), ids);
        assert_eq!(parsed.portable_bytes(), bm.serialize::<Portable>());
    }
}

#[test]
fn column_is_send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone>() {}
    assert_traits::<NumericColumn>();
}

#[test]
fn ascending_users_with_every_value_match_brute_force() {
    // The parallel path of collect_input: users ascend and no row is null
    // (valid absent or all true). NaNs in the float mode send it back to the
    // one-thread path; either way the column must match the oracle.
    let mut rng = Rng::new(0x0DDB_A11C_0FFE_E123);
    for mode in 0..3 {
        let (users, values, _) = gen_int_column(&mut rng, mode);
        let mut rows: Vec<(u32, i64)> = users.into_iter().zip(values).collect();
        rows.sort_unstable();
        let (users, values): (Vec<u32>, Vec<i64>) = rows.into_iter().unzip();
        let all = vec![true; users.len()];
        for valid in [None, Some(&all[..])] {
            let col = NumericColumn::from_ints(&users, &values, valid).unwrap();
            let vals: Vec<Val> = values.iter().map(|&v| Val::I(v)).collect();
            let o = oracle_of(&users, &vals, &all);
            check_queries(&col, &o, &mut rng, 50);
            check_values_and_stats(&col, &o, &mut rng);
        }
        let (users, values, _) = gen_float_column(&mut rng, mode);
        let mut rows: Vec<(u32, f64)> = users.into_iter().zip(values).collect();
        rows.sort_unstable_by_key(|r| r.0);
        let (users, values): (Vec<u32>, Vec<f64>) = rows.into_iter().unzip();
        let col = NumericColumn::from_floats(&users, &values, None).unwrap();
        let vals: Vec<Val> = values.iter().map(|&v| Val::F(v)).collect();
        let o = oracle_of(&users, &vals, &vec![true; users.len()]);
        check_queries(&col, &o, &mut rng, 50);
        check_values_and_stats(&col, &o, &mut rng);
    }
}

#[test]
fn the_first_refused_row_of_a_long_input_is_named() {
    // Past the parallel path's minimum: the error still names the first bad
    // value in row order, and a repeated user is still found.
    let users: Vec<u32> = (0..200_000).collect();
    let mut values: Vec<f64> = (0..200_000).map(f64::from).collect();
    values[150_000] = 0.25;
    values[120_000] = 7.5;
    let ints = NumericColumn::from_ints(&[1], &[1], None).unwrap();
    let e = ints.updated_floats(&users, &values, None).unwrap_err();
    assert!(e.to_string().contains("float 7.5"), "{e}");
    let mut repeated = users.clone();
    repeated[100_001] = 100_000;
    let e = NumericColumn::from_floats(&repeated, &vec![1.0; repeated.len()], None).unwrap_err();
    assert!(e.to_string().contains("user 100000"), "{e}");
}
