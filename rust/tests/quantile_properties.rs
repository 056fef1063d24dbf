//! Property tests with a deterministic xorshift generator: the fast paths
//! (radix select, lookup-table codes, bucket-sorted ranks) against naive
//! full-sort / per-element implementations, and qcut/cut invariants.

use uoseg::quantile::{cut, linspace_probs, qcut, quantiles, Duplicates};
use uoseg::rank::{ntile, ntile_ints, rank, Ties};
use uoseg::Error;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut s = self.0;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        self.0 = s;
        s
    }
    fn unif(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (2.0f64).powi(-53)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Arrays of many shapes: heavy ties, wide ranges, negative values, zeros of
/// both signs, NaNs, one far outlier, near-constant blocks.
fn random_array(r: &mut Rng, n: usize) -> Vec<f64> {
    let kind = r.below(9);
    let distinct = 1 + r.below(20);
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            let u = r.unif();
            match kind {
                0 => (u * distinct as f64).floor(),
                1 => (u - 0.5) * 1e6,
                2 => u * u * u * u * 1e3,
                3 => ((u * 5.0).floor() - 2.0) * 0.0,         // -0.0 / +0.0 / 0.0
                4 => 1.0 + (u * 64.0).floor() * f64::EPSILON, // one narrow binade
                5 => (u * 600.0 - 300.0).exp2() * if r.unif() < 0.5 { -1.0 } else { 1.0 },
                6 => (u * 2.0).floor() * 1e-310, // subnormals and zero
                7 => {
                    if u < 0.9 {
                        0.0
                    } else {
                        u
                    }
                }
                _ => (u * distinct as f64).floor() * 0.1 - 0.3,
            }
        })
        .collect();
    if n > 0 && r.below(3) == 0 {
        let i = r.below(n);
        v[i] = 1e300; // outlier
    }
    if r.below(3) == 0 {
        for x in v.iter_mut() {
            if r.unif() < 0.15 {
                *x = f64::NAN;
            }
        }
    }
    v
}

/// Order-preserving key (same total order as the crate: -0.0 < +0.0).
fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// numpy 2.4.6 "linear" quantile on a fully sorted copy (independent
/// re-statement of `_quantile` / `_get_indexes` / `_lerp`).
fn naive_quantiles(values: &[f64], probs: &[f64]) -> Vec<f64> {
    let mut s: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    s.sort_by_key(|&x| key(x));
    let n = s.len();
    probs
        .iter()
        .map(|&p| {
            let v = (n - 1) as f64 * p;
            let (a, b, prev) = if v >= (n - 1) as f64 {
                (s[n - 1], s[n - 1], -1.0)
            } else {
                let f = v.floor();
                (s[f as usize], s[f as usize + 1], f)
            };
            let t = v - prev;
            let d = b - a;
            let r = a + d * t;
            if t >= 0.5 {
                b - d * (1.0 - t)
            } else {
                r
            }
        })
        .collect()
}

fn naive_code(x: f64, bins: &[f64], right: bool, include_lowest: bool) -> i64 {
    if x.is_nan() {
        return -1;
    }
    let mut ids = bins.iter().filter(|&&e| if right { e < x } else { e <= x }).count();
    if include_lowest && x == bins[0] {
        ids = 1;
    }
    if ids == 0 || ids == bins.len() {
        -1
    } else {
        ids as i64 - 1
    }
}

fn sizes(r: &mut Rng) -> usize {
    match r.below(4) {
        0 => r.below(12),
        1 => r.below(300),
        2 => 4000 + r.below(6000), // around the small/radix threshold
        _ => 10_000 + r.below(30_000),
    }
}

fn random_probs(r: &mut Rng) -> Vec<f64> {
    let mut p: Vec<f64> = (0..r.below(12)).map(|_| r.unif()).collect();
    if r.below(2) == 0 {
        p.extend([0.0, 1.0, 0.5, 1.0 - 1e-16]);
    }
    p
}

#[test]
fn fast_quantiles_equal_naive_full_sort() {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    for it in 0..400 {
        let n = sizes(&mut r);
        let v = random_array(&mut r, n);
        let probs = random_probs(&mut r);
        match quantiles(&v, &probs) {
            Ok(got) => {
                let want = naive_quantiles(&v, &probs);
                for (g, w) in got.iter().zip(&want) {
                    assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "iter {it}: {g} vs {w}");
                }
            }
            Err(Error::InvalidInput(_)) => {
                assert!(v.iter().all(|x| x.is_nan()), "iter {it}: unexpected error");
            }
            Err(e) => panic!("iter {it}: {e:?}"),
        }
    }
}

#[test]
fn large_parallel_paths_equal_naive() {
    let mut r = Rng(12345);
    for _ in 0..3 {
        let n = 150_000 + r.below(50_000);
        let v = random_array(&mut r, n);
        let probs = linspace_probs(1 + r.below(120));
        if let Ok(got) = quantiles(&v, &probs) {
            let want = naive_quantiles(&v, &probs);
            assert_eq!(
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
        check_qcut_consistency(&v, &probs);
        check_rank(&v);
        check_ntile(&v, probs.len().max(2) - 1);
    }
}

#[test]
fn adversarial_concentrations() {
    // Everything in one histogram bin but an outlier; mass on one value.
    let mut v: Vec<f64> = (0..100_000).map(|i| 1.0 + (i % 977) as f64 * f64::EPSILON).collect();
    v.push(1e300);
    v.push(-1e300);
    let probs = linspace_probs(100);
    assert_eq!(quantiles(&v, &probs).unwrap(), naive_quantiles(&v, &probs));
    check_qcut_consistency(&v, &probs);
    let mut w = vec![0.0; 200_000];
    w[7] = 3.0;
    w[9] = -0.0;
    let got = quantiles(&w, &probs).unwrap();
    let want = naive_quantiles(&w, &probs);
    assert_eq!(
        got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
}

/// code k <=> edges[k] < x <= edges[k+1] (x == edges[0] -> 0); NaN -> -1.
fn check_qcut_consistency(v: &[f64], probs: &[f64]) {
    for d in [Duplicates::Raise, Duplicates::Drop] {
        let Ok(b) = qcut(v, probs, d) else { continue };
        let e = &b.edges;
        // edges == naive quantiles (after pandas' duplicate handling)
        let mut want = naive_quantiles(v, probs);
        let mut uniq = want.clone();
        uniq.dedup();
        if uniq.len() < want.len() && want.len() != 2 {
            assert_eq!(d, Duplicates::Drop);
            want = uniq;
        }
        let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(e), bits(&want));
        assert_eq!(b.codes.len(), v.len());
        for (&x, &c) in v.iter().zip(&b.codes) {
            assert_eq!(c, naive_code(x, e, true, true), "x={x} edges={e:?}");
            if c >= 0 {
                let k = c as usize;
                assert!((e[k] < x || (k == 0 && x == e[0])) && x <= e[k + 1]);
            } else {
                let inside = x >= e[0] && x <= e[e.len() - 1];
                assert!(x.is_nan() || !inside || e.len() == 1 || e[0] == e[e.len() - 1]);
            }
        }
    }
}

#[test]
fn qcut_codes_consistent_with_edges() {
    let mut r = Rng(777);
    for _ in 0..200 {
        let n = sizes(&mut r);
        let v = random_array(&mut r, n);
        let probs = if r.below(2) == 0 {
            linspace_probs(1 + r.below(30))
        } else {
            let mut p = random_probs(&mut r);
            p.sort_by(|a, b| a.total_cmp(b));
            p
        };
        check_qcut_consistency(&v, &probs);
    }
}

#[test]
fn cut_table_path_equals_naive_search() {
    let mut r = Rng(4242);
    for it in 0..150 {
        let n = sizes(&mut r);
        let mut v = random_array(&mut r, n);
        if n > 3 {
            v[0] = f64::INFINITY;
            v[1] = f64::NEG_INFINITY;
        }
        // edges: data values (exact hits), random values, sometimes +-inf
        let m = 1 + r.below(40);
        let mut bins: Vec<f64> = (0..m)
            .map(|_| if n > 0 && r.below(2) == 0 { v[r.below(n)] } else { (r.unif() - 0.3) * 1e3 })
            .filter(|x| !x.is_nan())
            .collect();
        if r.below(4) == 0 {
            bins.push(f64::INFINITY);
            bins.push(-0.0);
        }
        bins.sort_by(|a, b| a.partial_cmp(b).unwrap());
        if bins.is_empty() {
            continue;
        }
        let right = r.below(2) == 0;
        let low = r.below(2) == 0;
        match cut(&v, &bins, right, low, Duplicates::Drop) {
            Ok(b) => {
                for (&x, &c) in v.iter().zip(&b.codes) {
                    assert_eq!(c, naive_code(x, &b.edges, right, low), "iter {it} x={x}");
                }
            }
            Err(e) => panic!("iter {it}: {e:?}"),
        }
    }
}

fn naive_rank(v: &[f64], ties: Ties) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).filter(|&i| !v[i].is_nan()).collect();
    idx.sort_by(|&a, &b| v[a].partial_cmp(&v[b]).unwrap()); // stable; -0 == +0
    let mut out = vec![f64::NAN; v.len()];
    let mut start = 0;
    for (pos, &i) in idx.iter().enumerate() {
        if pos > 0 && v[idx[pos - 1]] != v[i] {
            start = pos;
        }
        out[i] = match ties {
            Ties::First => pos + 1,
            Ties::Min => start + 1,
        } as f64;
    }
    out
}

fn check_rank(v: &[f64]) {
    for ties in [Ties::First, Ties::Min] {
        let got = rank(v, ties);
        let want = naive_rank(v, ties);
        assert!(got.iter().zip(&want).all(|(a, b)| a == b || (a.is_nan() && b.is_nan())));
    }
}

/// ntile First == qcut(rank first); Min == cut(rank min, edges of First).
fn check_ntile(v: &[f64], q: usize) {
    let ranks = rank(v, Ties::First);
    let want = qcut(&ranks, &linspace_probs(q), Duplicates::Raise);
    match (want, ntile(v, q, Ties::First), ntile(v, q, Ties::Min)) {
        (Ok(b), Ok(f), Ok(m)) => {
            assert_eq!(b.codes, f);
            let c = cut(&rank(v, Ties::Min), &b.edges, true, true, Duplicates::Raise).unwrap();
            assert_eq!(c.codes, m);
        }
        (Err(e), Err(f), Err(m)) => {
            assert_eq!(e, f);
            assert_eq!(e, m);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rank_equals_naive_and_ntile_definitions_hold() {
    let mut r = Rng(99);
    for it in 0..120 {
        let n = sizes(&mut r);
        let v = random_array(&mut r, n);
        check_rank(&v);
        let q = 1 + r.below(12);
        let first = ntile(&v, q, Ties::First);
        let min = ntile(&v, q, Ties::Min);
        let ranks = rank(&v, Ties::First);
        // First == qcut(rank(first), q)
        match (qcut(&ranks, &linspace_probs(q), Duplicates::Raise), &first, &min) {
            (Ok(b), Ok(f), Ok(m)) => {
                assert_eq!(&b.codes, f, "iter {it}");
                // Min == cut(rank(min), edges of First, include_lowest)
                let c = cut(&rank(&v, Ties::Min), &b.edges, true, true, Duplicates::Raise).unwrap();
                assert_eq!(&c.codes, m, "iter {it}");
                for (i, &x) in v.iter().enumerate() {
                    assert_eq!(m[i] < 0, x.is_nan());
                    assert!(m[i] < q as i64);
                }
            }
            (Err(e), Err(f), Err(m)) => {
                assert_eq!(&e, f);
                assert_eq!(&e, m);
            }
            other => panic!("iter {it}: {other:?}"),
        }
    }
}

#[test]
fn never_panics_on_odd_input() {
    let mut r = Rng(31337);
    let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0, f64::MAX, f64::MIN, 5e-324];
    for _ in 0..300 {
        let n = r.below(20);
        let v: Vec<f64> =
            (0..n).map(|_| if r.below(2) == 0 { specials[r.below(specials.len())] } else { r.unif() }).collect();
        let probs: Vec<f64> = (0..r.below(5))
            .map(|_| if r.below(3) == 0 { specials[r.below(specials.len())] } else { r.unif() })
            .collect();
        let _ = quantiles(&v, &probs);
        let _ = qcut(&v, &probs, Duplicates::Drop);
        let _ = qcut(&v, &probs, Duplicates::Raise);
        let _ = cut(&v, &probs, r.below(2) == 0, r.below(2) == 0, Duplicates::Drop);
        let _ = rank(&v, Ties::Min);
        let _ = ntile(&v, r.below(5), Ties::Min);
        let _ = ntile(&v, r.below(5), Ties::First);
    }
    assert!(ntile(&[1.0], 0, Ties::First).is_err());
    assert!(ntile(&[1.0], usize::MAX, Ties::First).is_err());
    assert!(qcut(&[1.0], &linspace_probs(usize::MAX), Duplicates::Drop).is_err());
    assert!(qcut(&[], &[0.0, 1.0], Duplicates::Drop).is_err());
    assert!(matches!(qcut(&[1.0, 2.0], &linspace_probs(0), Duplicates::Drop), Err(Error::InvalidInput(_))));
    assert!(cut(&[1.0], &[], true, false, Duplicates::Drop).is_err());
    assert!(quantiles(&[], &[]).is_err());
}

#[test]
fn inf_error_names_position() {
    let mut v = vec![1.0; 30];
    v[17] = f64::INFINITY;
    v[20] = f64::NEG_INFINITY;
    match qcut(&v, &linspace_probs(4), Duplicates::Drop) {
        Err(Error::InvalidInput(m)) => assert_eq!(m, "value at position 17 is inf"),
        other => panic!("{other:?}"),
    }
    let mut big = vec![1.0; 100_000];
    big[70_001] = f64::NEG_INFINITY;
    match quantiles(&big, &[0.5]) {
        Err(Error::InvalidInput(m)) => assert_eq!(m, "value at position 70001 is -inf"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicate_edges_message_like_pandas() {
    let e = qcut(&[3.0; 4], &linspace_probs(2), Duplicates::Raise).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Bin edges must be unique: Index([3.0, 3.0, 3.0], dtype='float64').\n\
         You can drop duplicate edges by setting the 'duplicates' kwarg"
    );
}

/// The counting path for integers agrees with the general selection path,
/// on small and large arrays (the latter take the selection path there).
#[test]
fn ntile_of_integers_by_counting_matches_selection() {
    let mut r = Rng(0x5eed_1e55);
    for round in 0..60 {
        // Some arrays span several parallel chunks, so thresholds' occurrences
        // are found across chunk boundaries.
        let n = match round % 6 {
            0 => 200_000 + r.below(100_000),
            3 => 5_000 + r.below(20_000),
            _ => 1 + r.below(300),
        };
        let span = 1 + r.below(if round % 2 == 0 { 8 } else { 5_000 });
        let offset = r.below(1_000) as i64 - 500;
        let values: Vec<i64> = (0..n).map(|_| offset + r.below(span) as i64).collect();
        let floats: Vec<f64> = values.iter().map(|&v| v as f64).collect();
        for q in [1, 2, 3, 5, 10, 100] {
            for ties in [Ties::First, Ties::Min] {
                let counted = ntile_ints(&values, q, ties).expect("small span");
                let selected = ntile(&floats, q, ties);
                assert_eq!(counted.is_ok(), selected.is_ok(), "n={n} q={q}");
                if let (Ok(a), Ok(b)) = (counted, selected) {
                    let a: Vec<i64> = a.into_iter().map(i64::from).collect();
                    assert_eq!(a, b, "n={n} span={span} q={q} ties={ties:?}");
                }
            }
        }
    }
    assert!(ntile_ints(&[0, i64::MAX], 2, Ties::First).is_none());
}
