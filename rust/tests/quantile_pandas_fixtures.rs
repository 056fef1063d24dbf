//! Compares against fixtures written by `rust/tests/gen_fixtures.py` from pandas
//! 3.1.1 / numpy 2.4.6. Floats are compared by their bits.

use std::collections::HashMap;
use uoseg::quantile::{cut, linspace_probs, qcut, quantiles, Duplicates};
use uoseg::rank::{ntile, rank, Ties};
use uoseg::Error;

type Case = HashMap<String, String>;

fn load(name: &str) -> Vec<(String, Case)> {
    let path = format!("{}/rust/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut data: HashMap<String, String> = HashMap::new();
    let mut cases = Vec::new();
    let mut cur: Option<(String, Case)> = None;
    for line in text.lines() {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        match k {
            "data" => {
                let (id, body) = v.split_once(' ').unwrap_or((v, ""));
                data.insert(id.to_string(), body.to_string());
            }
            "case" => cur = Some((v.to_string(), Case::new())),
            "end" => cases.extend(cur.take()),
            _ => {
                let v = data.get(v).cloned().unwrap_or_else(|| v.to_string());
                if let Some((_, c)) = cur.as_mut() {
                    c.insert(k.to_string(), v);
                }
            }
        }
    }
    assert!(!cases.is_empty(), "{name} has no cases");
    cases
}

fn floats(s: Option<&String>) -> Vec<f64> {
    s.map(|s| s.split_whitespace().map(|h| f64::from_bits(u64::from_str_radix(h, 16).expect("hex"))).collect())
        .unwrap_or_default()
}

fn ints(s: Option<&String>) -> Vec<i64> {
    s.map(|s| s.split_whitespace().map(|t| t.parse().expect("int")).collect()).unwrap_or_default()
}

fn dup(c: &Case) -> Duplicates {
    match c.get("dup").map(String::as_str) {
        Some("drop") => Duplicates::Drop,
        _ => Duplicates::Raise,
    }
}

/// Bitwise equality; with `loose_zero` -0.0 and +0.0 count as equal (numpy's
/// introselect decides which zero lands on a tied position).
fn assert_same(name: &str, got: &[f64], want: &[f64], loose_zero: bool) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let same = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()) || (loose_zero && *g == 0.0 && *w == 0.0);
        assert!(same, "{name}: [{i}] got {g:e} ({:016x}) want {w:e} ({:016x})", g.to_bits(), w.to_bits());
    }
}

fn check_result(name: &str, c: &Case, res: Result<(Vec<i64>, Vec<f64>), Error>) {
    let loose = c.contains_key("loose_zero");
    match (c["expect"].as_str(), res) {
        ("ok", Ok((codes, edges))) => {
            assert_eq!(codes, ints(c.get("codes")), "{name}: codes");
            assert_same(name, &edges, &floats(c.get("edges")), loose);
        }
        ("dup", Err(Error::DuplicateEdges { edges, .. })) => {
            assert_same(name, &edges, &floats(c.get("edges")), loose);
        }
        ("invalid", Err(Error::InvalidInput(_))) => {}
        (want, got) => panic!("{name}: expected {want}, got {got:?}"),
    }
}

#[test]
fn probs_match_pandas() {
    for (name, c) in load("probs.txt") {
        let q: usize = c["q"].parse().unwrap();
        assert_same(&name, &linspace_probs(q), &floats(c.get("result")), false);
    }
}

#[test]
fn qcut_matches_pandas() {
    for (name, c) in load("qcut.txt") {
        let values = floats(c.get("values"));
        let probs = match c.get("q") {
            Some(q) => linspace_probs(q.parse().unwrap()),
            None => floats(c.get("probs")),
        };
        let res = qcut(&values, &probs, dup(&c)).map(|b| (b.codes, b.edges));
        check_result(&name, &c, res);
    }
}

#[test]
fn cut_matches_pandas() {
    for (name, c) in load("cut.txt") {
        let values = floats(c.get("values"));
        let bins = floats(c.get("bins"));
        let res = cut(&values, &bins, c["right"] == "1", c["lowest"] == "1", dup(&c)).map(|b| (b.codes, b.edges));
        check_result(&name, &c, res);
    }
}

#[test]
fn quantiles_match_pandas() {
    for (name, c) in load("quantiles.txt") {
        let values = floats(c.get("values"));
        let probs = floats(c.get("probs"));
        match (c["expect"].as_str(), quantiles(&values, &probs)) {
            ("ok", Ok(got)) => assert_same(&name, &got, &floats(c.get("result")), c.contains_key("loose_zero")),
            ("invalid", Err(Error::InvalidInput(_))) => {}
            (want, got) => panic!("{name}: expected {want}, got {got:?}"),
        }
    }
}

#[test]
fn rank_and_ntile_match_pandas() {
    for (name, c) in load("rank.txt") {
        let values = floats(c.get("values"));
        match c["op"].as_str() {
            "rank" => {
                assert_same(&name, &rank(&values, Ties::First), &floats(c.get("first")), false);
                assert_same(&name, &rank(&values, Ties::Min), &floats(c.get("min")), false);
            }
            "ntile" => {
                let q: usize = c["q"].parse().unwrap();
                for (ties, field) in [(Ties::First, "first"), (Ties::Min, "min")] {
                    match (c["expect"].as_str(), ntile(&values, q, ties)) {
                        ("ok", Ok(codes)) => {
                            assert_eq!(codes, ints(c.get(field)), "{name} {field}")
                        }
                        ("dup", Err(Error::DuplicateEdges { edges, .. })) => {
                            assert_same(&name, &edges, &floats(c.get("edges")), false)
                        }
                        ("invalid", Err(Error::InvalidInput(_))) => {}
                        (want, got) => panic!("{name}: expected {want}, got {got:?}"),
                    }
                }
            }
            op => panic!("unknown op {op}"),
        }
    }
}

/// Same xorshift64 generator as the Python oracle.
struct XorShift(u64);
impl XorShift {
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
}

fn gen(kind: u32, n: usize, seed: u64) -> Vec<f64> {
    let mut r = XorShift(if seed == 0 { 1 } else { seed });
    (0..n)
        .map(|_| {
            let u = r.unif();
            match kind {
                0 => u * u * u * u * 1000.0,
                1 => (u * 50.0).floor(),
                2 => {
                    let x = u * u * u * u * 1000.0;
                    if r.unif() < 0.1 {
                        f64::NAN
                    } else {
                        x
                    }
                }
                3 => (u - 0.5) * 1e300 * 1e8,
                _ => (u * 3.0).floor() - 1.0,
            }
        })
        .collect()
}

fn checksum(codes: &[i64]) -> u64 {
    codes.iter().enumerate().fold(0u64, |acc, (i, &c)| {
        let c1 = (c + 1) as u64;
        acc.wrapping_add((i as u64).wrapping_mul(1000003).wrapping_add(c1).wrapping_mul(c1))
    })
}

#[test]
fn generated_large_inputs_match_pandas() {
    for (name, c) in load("gen.txt") {
        let values = gen(c["kind"].parse().unwrap(), c["n"].parse().unwrap(), c["seed"].parse().unwrap());
        let q: usize = c["q"].parse().unwrap();
        let b = qcut(&values, &linspace_probs(q), dup(&c)).unwrap();
        assert_same(&name, &b.edges, &floats(c.get("edges")), false);
        let mut counts = vec![0i64; b.edges.len() + 1];
        for &code in &b.codes {
            counts[(code + 1) as usize] += 1;
        }
        let want = ints(c.get("counts"));
        assert_eq!(&counts[..want.len()], &want[..], "{name}: counts");
        assert_eq!(checksum(&b.codes).to_string(), c["checksum"], "{name}: checksum");
        let qs = quantiles(&values, &[0.0, 0.1, 0.5, 0.999, 1.0]).unwrap();
        assert_same(&name, &qs, &floats(c.get("quant")), false);
        let nt = ntile(&values, q, Ties::First).unwrap();
        assert_eq!(checksum(&nt).to_string(), c["ntile_checksum"], "{name}: ntile");
    }
}
