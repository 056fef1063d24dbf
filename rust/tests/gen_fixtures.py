"""Oracle: writes tests/fixtures/*.txt from pandas (run: python rust/tests/gen_fixtures.py).

Matched versions: pandas 3.1.1, numpy 2.4.6 (Python 3.11). Every float is
written as the 16 hex digits of its IEEE-754 bits so the Rust tests compare
bit for bit.
"""
import os
import struct

import numpy as np
import pandas as pd

assert pd.__version__ == "3.1.1", pd.__version__
assert np.__version__ == "2.4.6", np.__version__

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")


def h(x):
    return struct.pack(">d", float(x)).hex()


def hs(xs):
    return " ".join(h(x) for x in xs)


def codes_of(res):
    a = np.asarray(res, dtype=np.float64)
    return " ".join("-1" if np.isnan(c) else str(int(c)) for c in a)


def pandas_int_probs(q):
    # verbatim from pandas/core/reshape/tile.py (qcut, pandas 3.1.1)
    quantiles = np.linspace(0, 1, q + 1)
    np.putmask(quantiles, q * quantiles != np.arange(q + 1), np.nextafter(quantiles, 1))
    return quantiles


class Writer:
    def __init__(self, name):
        self.f = open(os.path.join(OUT, name), "w")
        self.n = 0
        self.data = {}

    def case(self, name, **kv):
        self.n += 1
        lines = []
        for k, v in kv.items():
            v = str(v)
            if len(v) > 1000:
                # long arrays are stored once and referenced as @id
                ref = self.data.get(v)
                if ref is None:
                    ref = self.data[v] = f"@{len(self.data)}"
                    self.f.write(f"data {ref} {v}\n")
                v = ref
            lines.append(f"{k} {v}\n")
        self.f.write(f"case {name}\n")
        self.f.writelines(lines)
        self.f.write("end\n")

    def close(self):
        self.f.close()
        print(self.f.name, self.n, "cases")


def has_inf(x):
    x = np.asarray(x, dtype=np.float64)
    return bool(np.isinf(x).any())


def qcut_case(w, name, x, q, dup, loose=False):
    x = np.asarray(x, dtype=np.float64)
    kv = {"op": "qcut", "values": hs(x), "dup": dup}
    if isinstance(q, int):
        kv["q"] = str(q)
        probs = pandas_int_probs(q)
    else:
        kv["probs"] = hs(q)
        probs = np.asarray(q, dtype=np.float64)
    if loose:
        kv["loose_zero"] = "1"
    valid = x[~np.isnan(x)]
    try:
        codes, edges = pd.qcut(x, q, labels=False, retbins=True, duplicates=dup)
        if has_inf(x) or len(valid) == 0 or not np.isfinite(edges).all():
            kv["expect"] = "invalid"  # pandas returns NaN/garbage here
            kv["pandas_edges"] = hs(edges)
        else:
            kv["expect"] = "ok"
            kv["codes"] = codes_of(codes)
            kv["edges"] = hs(edges)
    except ValueError as e:
        if "must be unique" in str(e) and not has_inf(x) and len(valid) > 0:
            edges = pd.Series(valid).quantile(probs).to_numpy()
            if np.isfinite(edges).all():
                kv["expect"] = "dup"
                kv["edges"] = hs(edges)
            else:
                kv["expect"] = "invalid"
        else:
            kv["expect"] = "invalid"
    w.case(name, **kv)


def cut_case(w, name, x, bins, right, lowest, dup):
    x = np.asarray(x, dtype=np.float64)
    kv = {"op": "cut", "values": hs(x), "bins": hs(bins), "right": int(right),
          "lowest": int(lowest), "dup": dup}
    if len(bins) == 0:
        kv["expect"] = "invalid"  # pandas returns all-NaN codes; we reject
    else:
        try:
            codes, edges = pd.cut(x, np.asarray(bins, dtype=np.float64), right=right,
                                  labels=False, retbins=True, include_lowest=lowest,
                                  duplicates=dup)
            kv["expect"] = "ok"
            kv["codes"] = codes_of(codes)
            kv["edges"] = hs(edges)
        except ValueError as e:
            if "must be unique" in str(e):
                kv["expect"] = "dup"
                kv["edges"] = hs(bins)
            else:
                kv["expect"] = "invalid"
    w.case(name, **kv)


def quantile_case(w, name, x, probs, loose=False):
    x = np.asarray(x, dtype=np.float64)
    kv = {"op": "quantiles", "values": hs(x), "probs": hs(probs)}
    if loose:
        kv["loose_zero"] = "1"
    valid = x[~np.isnan(x)]
    if has_inf(x) or len(valid) == 0:
        kv["expect"] = "invalid"
    else:
        kv["expect"] = "ok"
        kv["result"] = hs(pd.Series(x).quantile(list(probs)).to_numpy())
    w.case(name, **kv)


def rank_case(w, name, x):
    x = np.asarray(x, dtype=np.float64)
    s = pd.Series(x)
    w.case(name, op="rank", values=hs(x),
           first=hs(s.rank(method="first").to_numpy()),
           min=hs(s.rank(method="min").to_numpy()))


def ntile_case(w, name, x, q):
    x = np.asarray(x, dtype=np.float64)
    s = pd.Series(x)
    kv = {"op": "ntile", "values": hs(x), "q": str(q)}
    if s.notna().sum() == 0:
        kv["expect"] = "invalid"
        w.case(name, **kv)
        return
    rf = s.rank(method="first")
    try:
        first, edges = pd.qcut(rf, q, labels=False, retbins=True)
    except ValueError as e:
        assert "must be unique" in str(e)
        probs = pandas_int_probs(q)
        kv["expect"] = "dup"
        kv["edges"] = hs(rf.dropna().quantile(probs).to_numpy())
        w.case(name, **kv)
        return
    # documented definition of Ties::Min
    mn = pd.cut(s.rank(method="min"), bins=edges, labels=False, include_lowest=True)
    # sanity: equal values share a bucket
    df = pd.DataFrame({"x": x, "c": mn}).dropna()
    assert (df.groupby("x")["c"].nunique() == 1).all()
    kv["expect"] = "ok"
    kv["first"] = codes_of(first)
    kv["min"] = codes_of(mn)
    w.case(name, **kv)


# ---- deterministic generator shared with the Rust tests (xorshift64) ----
M64 = (1 << 64) - 1


class XorShift:
    def __init__(self, seed):
        self.s = seed & M64 or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & M64
        s ^= s >> 7
        s ^= (s << 17) & M64
        self.s = s
        return s

    def unif(self):
        return float(self.next() >> 11) * (2.0 ** -53)


def gen(kind, n, seed):
    r = XorShift(seed)
    out = []
    for _ in range(n):
        u = r.unif()
        if kind == 0:
            x = u * u * u * u * 1000.0
        elif kind == 1:
            x = float(np.floor(u * 50.0))
        elif kind == 2:
            x = u * u * u * u * 1000.0
            if r.unif() < 0.1:
                x = float("nan")
        elif kind == 3:
            x = (u - 0.5) * 1e300 * 1e8
        else:
            x = float(np.floor(u * 3.0)) - 1.0
        out.append(x)
    return np.array(out, dtype=np.float64)


def gen_case(w, name, kind, n, seed, q, dup):
    x = gen(kind, n, seed)
    codes, edges = pd.qcut(x, q, labels=False, retbins=True, duplicates=dup)
    codes = np.asarray(codes, dtype=np.float64)
    c = np.where(np.isnan(codes), -1, codes).astype(np.int64)
    counts = np.bincount(c + 1)
    # checksum of (position, code) pairs, wrapping u64
    idx = np.arange(n, dtype=np.uint64)
    chk = int(np.sum((idx * np.uint64(1000003) + (c + 1).astype(np.uint64)) * (c + 1).astype(np.uint64),
                     dtype=np.uint64))
    q5 = pd.Series(x).quantile([0.0, 0.1, 0.5, 0.999, 1.0]).to_numpy()
    rf = pd.Series(x).rank(method="first")
    nt, nt_edges = pd.qcut(rf, q, labels=False, retbins=True)
    nt = np.asarray(nt, dtype=np.float64)
    nt = np.where(np.isnan(nt), -1, nt).astype(np.int64)
    ntchk = int(np.sum((idx * np.uint64(1000003) + (nt + 1).astype(np.uint64)) * (nt + 1).astype(np.uint64),
                       dtype=np.uint64))
    nm = pd.cut(pd.Series(x).rank(method="min"), bins=nt_edges, labels=False, include_lowest=True)
    nm = np.asarray(nm, dtype=np.float64)
    nm = np.where(np.isnan(nm), -1, nm).astype(np.int64)
    nmchk = int(np.sum((idx * np.uint64(1000003) + (nm + 1).astype(np.uint64)) * (nm + 1).astype(np.uint64),
                       dtype=np.uint64))
    w.case(name, op="gen", kind=kind, n=n, seed=seed, q=q, dup=dup, edges=hs(edges),
           counts=" ".join(map(str, counts)), checksum=chk, quant=hs(q5), ntile_checksum=ntchk,
           ntile_min_checksum=nmchk)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    logn = rng.lognormal(0.0, 1.0, 1000)
    ties = rng.integers(0, 10, 500).astype(np.float64)

    # ---- linspace probabilities ----
    w = Writer("probs.txt")
    for q in list(range(1, 301)) + [1000, 1023, 1024]:
        w.case(f"probs_{q}", op="probs", q=q, result=hs(pandas_int_probs(q)))
    w.close()

    # ---- qcut ----
    w = Writer("qcut.txt")
    for q in (1, 2, 3, 4, 5, 7, 10, 100):
        qcut_case(w, f"lognormal_q{q}", logn, q, "raise")
    for probs in ([0, .1, .25, .5, .9, 1], [0, 1 / 3, 2 / 3, 1], [.05, .5, .95],
                  [0, .5, .5, 1], [0.1], [0, 1], [0.3, 0.3]):
        for dup in ("raise", "drop"):
            qcut_case(w, f"lognormal_list_{probs}_{dup}", logn, list(map(float, probs)), dup)
    for q in (2, 3, 5, 10, 20):
        for dup in ("raise", "drop"):
            qcut_case(w, f"ties_q{q}_{dup}", ties, q, dup)
            qcut_case(w, f"ties_small_q{q}_{dup}", rng.integers(0, 3, 50).astype(float), q, dup)
    for c in (3.0, 0.0, -0.0, -2.5, 1e300):
        for k in (1, 2, 4):
            for q in (1, 2, 5):
                for dup in ("raise", "drop"):
                    qcut_case(w, f"const_{c}_{k}_q{q}_{dup}", [c] * k, q, dup)
    for n in range(1, 11):
        for q in range(1, 7):
            for dup in ("raise", "drop"):
                x = np.round(rng.normal(0, 2, n), 1)
                qcut_case(w, f"len{n}_q{q}_{dup}", x, q, dup)
                qcut_case(w, f"lenu{n}_q{q}_{dup}", rng.uniform(-5, 5, n), q, dup)
    nanx = logn[:200].copy()
    nanx[rng.random(200) < 0.2] = np.nan
    for q in (1, 4, 10):
        for dup in ("raise", "drop"):
            qcut_case(w, f"nan_q{q}_{dup}", nanx, q, dup)
    for q in (1, 3):
        qcut_case(w, f"allnan_q{q}", [np.nan] * 4, q, "drop")
        qcut_case(w, f"empty_q{q}", [], q, "drop")
    negz = [-0.0] * 5 + [1.0, 2.0, 3.0, -1.0]
    for q in (2, 3, 4, 7):
        for dup in ("raise", "drop"):
            qcut_case(w, f"negzero_q{q}_{dup}", negz, q, dup)
            qcut_case(w, f"mixzero_q{q}_{dup}", [0.0, -0.0, 0.0, -0.0, 0.0, 1.0, -1.0], q, dup,
                      loose=True)
    srt = np.sort(logn)
    qcut_case(w, "sorted_q10", srt, 10, "raise")
    qcut_case(w, "reversed_q10", srt[::-1], 10, "raise")
    qcut_case(w, "arange_q7", np.arange(1000.0), 7, "raise")
    for q in (2, 4, 5):
        for dup in ("raise", "drop"):
            qcut_case(w, f"huge_ok_q{q}_{dup}", [1e308, -1e308, 0.0, 5.0], q, dup)
            qcut_case(w, f"huge_overflow_q{q}_{dup}", [-1.7e308, 1.7e308, 0.0], q, dup)
            qcut_case(w, f"huge_dup_q{q}_{dup}", [1.7e308, 1.7e308, 1.6e308, 5.0], q, dup)
            qcut_case(w, f"max_q{q}_{dup}", [np.finfo(float).max, -np.finfo(float).max], q, dup)
    for q in (1, 3):
        qcut_case(w, f"inf_q{q}", [1.0, 2.0, np.nan, np.inf, 3.0], q, "drop")
        qcut_case(w, f"neginf_q{q}", [1.0, -np.inf, 2.0, 3.0], q, "drop")
    qcut_case(w, "subnormal_q3", [5e-324, 1e-320, 0.0, -5e-324, 2e-323], 3, "drop")
    qcut_case(w, "bad_prob", logn[:10], [0.0, 1.5], "drop")
    qcut_case(w, "nan_prob", logn[:10], [0.0, float("nan"), 1.0], "drop")
    w.close()

    # ---- quantiles ----
    w = Writer("quantiles.txt")
    probs_r = np.concatenate([[0.0, 1.0, 0.5, 0.25, 0.75, 1e-300, 1 - 1e-16, 0.999999],
                              rng.random(40)])
    quantile_case(w, "lognormal", logn, probs_r)
    quantile_case(w, "lognormal_nudged100", logn, pandas_int_probs(100))
    quantile_case(w, "ties", ties, probs_r)
    quantile_case(w, "nan", nanx, probs_r)
    for n in range(1, 11):
        quantile_case(w, f"len{n}", rng.normal(0, 1, n), probs_r)
    quantile_case(w, "negzero", negz, probs_r)
    quantile_case(w, "negzero_only", [-0.0] * 7, probs_r)
    quantile_case(w, "mixzero", [0.0, -0.0, 0.0, -0.0, 1.0], probs_r, loose=True)
    quantile_case(w, "huge", [1e308, -1e308, 0.0, 5.0, 1.7e308], probs_r)
    quantile_case(w, "allnan", [np.nan, np.nan], probs_r)
    quantile_case(w, "inf", [1.0, np.inf], probs_r)
    w.close()

    # ---- cut ----
    w = Writer("cut.txt")
    cx = np.concatenate([logn[:300], [0.0, 0.5, 1.0, 2.0, 5.0, 10.0, np.nan, 20.0, -1.0]])
    for bins in ([0, 0.5, 1, 2, 5, 10], [-np.inf, 1, np.inf], [1, 2, 2, 3], [2, 2], [2],
                 [0.5, 0.5, 0.5], [3, 1], [0, np.nan, 1], [], [0, 1, 1, 1, 10],
                 [-0.0, 0.0, 1.0], [0.0, 1.0]):
        for right in (True, False):
            for lowest in (False, True):
                for dup in ("raise", "drop"):
                    cut_case(w, f"cut_{bins}_{right}_{lowest}_{dup}", cx, [float(b) for b in bins],
                             right, lowest, dup)
    cut_case(w, "cut_inf_values", [np.inf, -np.inf, 1.0, np.nan], [-np.inf, 0.0, np.inf], True,
             False, "raise")
    cut_case(w, "cut_inf_values_left", [np.inf, -np.inf, 1.0, np.nan], [-np.inf, 0.0, np.inf],
             False, True, "raise")
    cut_case(w, "cut_zeros", [-0.0, 0.0, 1.0], [0.0, 1.0], True, False, "raise")
    cut_case(w, "cut_zeros_low", [-0.0, 0.0, 1.0], [-0.0, 1.0], True, True, "raise")
    cut_case(w, "cut_zeros_left", [-0.0, 0.0, 1.0], [-1.0, 0.0, 1.0], False, False, "raise")
    w.close()

    # ---- rank / ntile ----
    w = Writer("rank.txt")
    rank_case(w, "lognormal", logn)
    rank_case(w, "ties", ties)
    rank_case(w, "special", [np.inf, np.nan, 1.0, -np.inf, np.inf, 1.0, -0.0, 0.0, np.nan, -0.0])
    rank_case(w, "empty", [])
    rank_case(w, "allnan", [np.nan] * 3)
    for q in (1, 2, 3, 5, 10, 100):
        ntile_case(w, f"ntile_lognormal_q{q}", logn, q)
        ntile_case(w, f"ntile_ties_q{q}", ties, q)
        ntile_case(w, f"ntile_nan_q{q}", nanx, q)
    for n in range(1, 8):
        for q in (1, 2, 3, 4, 10):
            ntile_case(w, f"ntile_len{n}_q{q}", np.round(rng.normal(0, 1, n), 0), q)
    ntile_case(w, "ntile_special", [np.inf, np.nan, 1.0, -np.inf, np.inf, 1.0, -0.0, 0.0], 3)
    ntile_case(w, "ntile_allnan", [np.nan] * 3, 3)
    ntile_case(w, "ntile_const", [7.0] * 10, 4)
    w.close()

    # ---- larger generated inputs (parallel/radix paths); data regenerated in Rust ----
    w = Writer("gen.txt")
    gen_case(w, "gen_pow4_q100", 0, 200_000, 7, 100, "raise")
    gen_case(w, "gen_pow4_q5", 0, 70_000, 11, 5, "raise")
    gen_case(w, "gen_ties_q100_drop", 1, 150_000, 13, 100, "drop")
    gen_case(w, "gen_nan_q10", 2, 100_000, 17, 10, "raise")
    gen_case(w, "gen_huge_q20", 3, 80_000, 19, 20, "raise")
    gen_case(w, "gen_zero_q3", 4, 90_000, 23, 3, "drop")
    gen_case(w, "gen_small_q7", 0, 5_000, 29, 7, "raise")
    w.close()


if __name__ == "__main__":
    main()
