"""W6 split: deterministic A/B/C split (33/33/34 %) of the Q1 audience by a salted hash.

Each tool uses its own hash, so the groups differ between tools; every result
is checked for what a split must give: disjoint groups that cover the audience,
with shares within 1 % of the weights (4 sigma when the audience is small).
"""

from __future__ import annotations

import math
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from uoseg_bench import SPLIT_SALT, SPLIT_WEIGHTS, audience_ids, q1_uoseg, require, run

BUCKETS = 10_000
# Bucket thresholds: group k takes buckets [CUTS[k-1], CUTS[k]).
CUTS = np.round(np.cumsum(SPLIT_WEIGHTS) * BUCKETS).astype(np.uint64)[:-1]
# The salt as a 64-bit integer, mixed into the ids before hashing.
SALT_INT = int(pd.util.hash_array(np.array([SPLIT_SALT], dtype=object))[0])


def check(groups: list[np.ndarray], audience: np.ndarray) -> None:
    n = len(audience)
    sizes = [len(g) for g in groups]
    assert len(groups) == len(SPLIT_WEIGHTS) and sum(sizes) == n
    # Sizes add up and the sorted union is the audience: disjoint and covering.
    assert np.array_equal(np.sort(np.concatenate(groups)), audience)
    for size, w in zip(sizes, SPLIT_WEIGHTS, strict=True):
        tol = max(0.01, 4 * math.sqrt(w * (1 - w) / max(n, 1)))
        assert abs(size / n - w) <= tol, f"share {size / n:.4f} for weight {w}"


# --- implementations -------------------------------------------------------- #


def split_pandas(ids: np.ndarray) -> list[np.ndarray]:
    h = pd.util.hash_array(ids.astype(np.uint64) + np.uint64(SALT_INT))
    group = np.searchsorted(CUTS, h % np.uint64(BUCKETS), side="right")
    return [ids[group == k] for k in range(len(SPLIT_WEIGHTS))]


def split_polars(ids: pl.Series) -> list[np.ndarray]:
    bucket = pl.col("user_id").hash(seed=SALT_INT % 2**63) % BUCKETS
    frame = ids.to_frame().with_columns(b=bucket)
    group = pl.sum_horizontal([(pl.col("b") >= int(c)).cast(pl.Int32) for c in CUTS])
    return [frame.filter(group == k)["user_id"].to_numpy() for k in range(len(SPLIT_WEIGHTS))]


def split_duckdb(con: duckdb.DuckDBPyConnection) -> list[np.ndarray]:
    case = " ".join(f"WHEN b < {c} THEN {k}" for k, c in enumerate(CUTS))
    res = con.sql(
        f"SELECT user_id, CASE {case} ELSE {len(CUTS)} END AS g "
        f"FROM (SELECT user_id, hash(user_id, '{SPLIT_SALT}') % {BUCKETS} AS b FROM w6_audience)"
    ).fetchnumpy()
    ids, group = res["user_id"], res["g"]
    return [ids[group == k] for k in range(len(SPLIT_WEIGHTS))]


# --- benchmarks ------------------------------------------------------------- #


@pytest.mark.benchmark(group="W6 split")
def test_w6_split_pandas(benchmark: Any, q1_ids: np.ndarray) -> None:
    check(run(benchmark, "pandas", split_pandas, q1_ids), q1_ids)


@pytest.mark.benchmark(group="W6 split")
def test_w6_split_polars(benchmark: Any, q1_ids: np.ndarray) -> None:
    check(run(benchmark, "polars", split_polars, pl.Series("user_id", q1_ids)), q1_ids)


@pytest.mark.benchmark(group="W6 split")
def test_w6_split_duckdb(
    benchmark: Any, duckdb_con: duckdb.DuckDBPyConnection, q1_ids: np.ndarray
) -> None:
    duckdb_con.register("w6_src", pd.DataFrame({"user_id": q1_ids}))
    duckdb_con.execute("CREATE OR REPLACE TABLE w6_audience AS SELECT * FROM w6_src")
    duckdb_con.unregister("w6_src")
    check(run(benchmark, "duckdb", split_duckdb, duckdb_con), q1_ids)


@pytest.mark.benchmark(group="W6 split")
def test_w6_split_uoseg(benchmark: Any, uoseg: Any, uoseg_store: Any, q1_ids: np.ndarray) -> None:
    require(uoseg, "split")
    audience = q1_uoseg(uoseg_store)
    weights = list(SPLIT_WEIGHTS)

    def split() -> list[np.ndarray]:
        # ids out too, so uoseg delivers what the baselines deliver.
        parts = uoseg.split(audience, weights=weights, salt=SPLIT_SALT)
        return [audience_ids(p) for p in parts]

    check(run(benchmark, "uoseg", split), q1_ids)


@pytest.mark.benchmark(group="W6 readout of the three arms")
def test_w6_readout_uoseg(benchmark: Any, uoseg: Any, uoseg_store: Any) -> None:
    """Per arm: users, converted users (the outcome: tag t3), rate, lift, CI
    and p-value, with the sample-ratio check; compare with W6 split's time."""
    require(uoseg, "readout")
    audience = q1_uoseg(uoseg_store)
    names = ("control", "a", "b")
    arms = audience.split(dict(zip(names, SPLIT_WEIGHTS, strict=True)), salt=SPLIT_SALT)
    outcome = uoseg_store.tag("t3")
    result = run(benchmark, "uoseg", uoseg.readout, arms, outcome)
    rows = result.to_pylist()
    assert [r["users"] for r in rows] == [len(arms[n]) for n in names]
    assert [r["outcome"] for r in rows] == [len(arms[n] & outcome) for n in names]
    assert result.srm is not None
