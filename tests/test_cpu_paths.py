"""Every instruction-set path gives the same answers (``UOSEG_CPU``, and
``uoseg.set_cpu_paths`` at run time).

Each path runs in its own interpreter, as ``UOSEG_CPU`` sets it; the answers
are compared with each other and with plain Python.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import uoseg
from test_split import reference_group

# Builds (tags from a long table), splits, overlaps, the query executor and the
# bitset decoders, on a population whose chunks are arrays, bitsets and runs;
# the blockwise binning of qcut and ntile, on values with NaNs (and, for
# ntile, infinities) scattered through the blocks; and the bit slices of a
# numeric attribute that every user has (whole chunks) or some users have.
PROGRAM = r"""
import json, sys
import numpy as np, pyarrow as pa, uoseg
rng = np.random.default_rng(7)
n = 300_000
users = np.concatenate([rng.choice(n, 40_000, replace=False), np.arange(100_000, 180_000)])
tags = np.array(["a"] * 40_000 + ["b"] * 80_000)
more = rng.choice(n, 120_000, replace=False)
table = pa.table({"user": np.concatenate([users, more]).astype(np.uint32),
                  "tag": np.concatenate([tags, np.array(["c"] * 120_000)])})
store = uoseg.TagStore.from_long(table, user="user", tag="tag")
q = store.query("(a OR b) AND NOT c")
groups = [g.ids().tolist() for g in uoseg.split(q, [0.2, 0.3, 0.5], salt="exp")]
many = [len(g) for g in uoseg.split(store.tag("c"), [1.0] * 11, salt="many")]
layer = q.in_buckets("layer", 1000, 10, 400).ids().tolist()
overlap = store.overlap_matrix(["a", "b", "c"]).tolist()
ids = q.ids().tolist()  # decoded as the lazy query is evaluated
values = rng.lognormal(3, 1, 200_003)
values[rng.choice(len(values), 2_000, replace=False)] = np.nan
qcut5, edges5 = uoseg.qcut(values, 5, retbins=True)
values[rng.choice(len(values), 50, replace=False)] = np.inf
values[rng.choice(len(values), 50, replace=False)] = -np.inf
finite_or_nan = values[np.isfinite(values) | np.isnan(values)]
ages = np.random.default_rng(8).integers(18, 80, n)
store.add_wide(pa.table({"user": np.arange(n, dtype=np.uint32), "age": ages,
                         "score": np.where(ages % 3 == 0, None, ages * 7)}), user="user")
numeric = {"age": store.query("age BETWEEN 25 AND 35").ids().tolist(),
           "score": store.query("score >= 300").ids().tolist()}
binned = {"qcut": qcut5.tolist(), "edges": edges5.tolist(),
          "qcut100": uoseg.qcut(finite_or_nan, 100).tolist(),
          "ntile": uoseg.ntile(values, 10).tolist()}
json.dump({"cpu": uoseg.cpu_paths()[0], "q": ids, "q_built": [int(u) for u in q],
           "groups": groups, "many": many, "layer": layer,
           "tags": {t: store.tag(t).ids().tolist() for t in "abc"},
           "overlap": overlap, "binned": binned, "numeric": numeric}, sys.stdout)
"""


def run_path(level: str) -> dict[str, object]:
    env = dict(os.environ, UOSEG_CPU=level)
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.fixture(scope="module")
def answers() -> dict[str, dict[str, object]]:
    return {level: run_path(level) for level in ("native", "avx2", "scalar")}


def test_each_path_is_the_one_asked_for(answers: dict[str, dict[str, object]]) -> None:
    assert {level: a["cpu"] for level, a in answers.items()} == {
        "native": "native",
        "avx2": "avx2",
        "scalar": "scalar",
    }


def test_paths_agree_with_each_other_and_with_python(
    answers: dict[str, dict[str, object]],
) -> None:
    native = answers["native"]
    for level in ("avx2", "scalar"):
        keys = ("q", "q_built", "groups", "many", "layer", "tags", "overlap", "binned", "numeric")
        for key in keys:
            assert answers[level][key] == native[key], (level, key)
    # The query and the split, by plain Python on the same population.
    q, tags = native["q"], native["tags"]
    assert isinstance(q, list) and isinstance(tags, dict)
    a, b, c = (set(tags[t]) for t in "abc")
    assert q == sorted((a | b) - c) == native["q_built"]
    groups = native["groups"]
    assert isinstance(groups, list)
    assert sorted(u for g in groups for u in g) == q
    weights = [0.2, 0.3, 0.5]
    for k, group in enumerate(groups):
        assert group == [u for u in q if reference_group(u, weights, "exp") == k]
        assert abs(len(group) / len(q) - weights[k]) < 0.02
    layer = native["layer"]
    assert layer == [u for u in q if 10 <= uoseg.bucket_of(u, "layer", 1000) < 400]
    ages = np.random.default_rng(8).integers(18, 80, 300_000)
    assert native["numeric"] == {
        "age": np.flatnonzero((ages >= 25) & (ages <= 35)).tolist(),
        "score": np.flatnonzero((ages % 3 != 0) & (ages * 7 >= 300)).tolist(),
    }


def test_binning_on_every_path_matches_pandas(answers: dict[str, dict[str, object]]) -> None:
    # The same values as the program's, rebuilt here for pandas.
    rng = np.random.default_rng(7)
    n = 300_000
    rng.choice(n, 40_000, replace=False)
    rng.choice(n, 120_000, replace=False)
    values = rng.lognormal(3, 1, 200_003)
    values[rng.choice(len(values), 2_000, replace=False)] = np.nan
    codes, edges = pd.qcut(values, 5, labels=False, retbins=True)
    values[rng.choice(len(values), 50, replace=False)] = np.inf
    values[rng.choice(len(values), 50, replace=False)] = -np.inf
    finite_or_nan = values[np.isfinite(values) | np.isnan(values)]
    expected = {
        "qcut": np.nan_to_num(codes, nan=-1).astype(int).tolist(),
        "edges": edges.tolist(),
        "qcut100": np.nan_to_num(pd.qcut(finite_or_nan, 100, labels=False), nan=-1)
        .astype(int)
        .tolist(),
        "ntile": pd.qcut(pd.Series(values).rank(method="first"), 10, labels=False)
        .fillna(-1)
        .astype(int)
        .tolist(),
    }
    for level, answer in answers.items():
        assert answer["binned"] == expected, level


def test_an_unknown_path_warns_and_runs_natively() -> None:
    env = dict(os.environ, UOSEG_CPU="sse9")
    out = subprocess.run(
        [sys.executable, "-W", "always", "-c", "import uoseg; print(uoseg.cpu_paths()[0])"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "native"
    assert "UOSEG_CPU" in out.stderr and "sse9" in out.stderr


def test_a_path_set_at_run_time_gives_that_path_s_answers(
    answers: dict[str, dict[str, object]],
) -> None:
    # The process starts native and switches before its work, as benches do.
    program = 'import uoseg; uoseg.set_cpu_paths("scalar")\n' + PROGRAM
    out = subprocess.run(
        [sys.executable, "-c", program],
        env=dict(os.environ, UOSEG_CPU="native"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == answers["scalar"]


def test_set_cpu_paths_switches_and_restores_the_level() -> None:
    start = uoseg.cpu_paths()
    try:
        assert uoseg.set_cpu_paths("Scalar") == start[0]
        assert uoseg.cpu_paths()[:2] == ("scalar", [])
        assert uoseg.set_cpu_paths("avx2") == "scalar"
        level, used, _ = uoseg.cpu_paths()
        assert level == "avx2" and not any(f.startswith("avx512") for f in used)
        with pytest.raises(uoseg.InvalidInputError, match="sse9") as caught:
            uoseg.set_cpu_paths("sse9")
        assert isinstance(caught.value, ValueError)
        assert uoseg.cpu_paths()[0] == "avx2"  # a refused name changes nothing
    finally:
        uoseg.set_cpu_paths(None)
    assert uoseg.cpu_paths() == start
