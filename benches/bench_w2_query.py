"""W2 query: Q1 and Q2 as a count and as sorted ids, uoseg against the baselines.

Q1: ``(t0 AND t5) OR (t17 AND NOT t42)`` (about 10 % of users).
Q2: ``(t0 OR t1) AND t2 AND city IN ("c0","c1","c2") AND age BETWEEN 25 AND 35
AND last_active_days <= 30 AND NOT t3`` (about 0.5 % of users).
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from pyroaring import BitMap
from uoseg_bench import (
    Q1_TEXT,
    Q2_ACTIVE_MAX,
    Q2_AGE,
    Q2_CITIES,
    Q2_TEXT,
    assert_ids_equal,
    audience_ids,
    bitmap_from_sorted,
    q1_uoseg,
    require,
    run,
    sql_ids,
    sql_scalar,
)

Q1_SQL = "(t0 AND t5) OR (t17 AND NOT t42)"
Q2_SQL = (
    f"(t0 OR t1) AND t2 AND city IN {Q2_CITIES!r} AND age BETWEEN {Q2_AGE[0]} AND {Q2_AGE[1]} "
    f"AND last_active_days <= {Q2_ACTIVE_MAX} AND NOT t3"
)
Q1_POLARS = (pl.col("t0") & pl.col("t5")) | (pl.col("t17") & ~pl.col("t42"))
Q2_POLARS = (
    (pl.col("t0") | pl.col("t1"))
    & pl.col("t2")
    & pl.col("city").is_in(Q2_CITIES)
    & pl.col("age").is_between(*Q2_AGE)
    & (pl.col("last_active_days") <= Q2_ACTIVE_MAX)
    & ~pl.col("t3")
)


@pytest.fixture(scope="module")
def q2_ids(tag_ids: dict[str, np.ndarray], pop: Any) -> np.ndarray:
    """Q2 by sorted-set operations and NumPy attribute masks (independent of the frames)."""
    attrs = pop.attributes
    city = attrs["city"].to_numpy(zero_copy_only=False)
    age = attrs["age"].to_numpy()
    active = attrs["last_active_days"].to_numpy()
    attr_ok = np.flatnonzero(
        np.isin(city, Q2_CITIES)
        & (age >= Q2_AGE[0])
        & (age <= Q2_AGE[1])
        & (active <= Q2_ACTIVE_MAX)
    )
    ids = np.union1d(tag_ids["t0"], tag_ids["t1"])
    ids = np.intersect1d(ids, tag_ids["t2"], assume_unique=True)
    ids = np.intersect1d(ids, attr_ok, assume_unique=True)
    return np.setdiff1d(ids, tag_ids["t3"], assume_unique=True).astype(np.uint32)


@pytest.fixture(scope="module")
def attr_bitmaps(pop: Any) -> dict[str, BitMap]:
    """Q2's attribute conditions precomputed as bitmaps (pyroaring has no attribute index)."""
    attrs = pop.attributes.to_pandas()
    out = {c: bitmap_from_sorted(np.flatnonzero(attrs["city"] == c)) for c in Q2_CITIES}
    out["age"] = bitmap_from_sorted(np.flatnonzero(attrs["age"].between(*Q2_AGE)))
    out["active"] = bitmap_from_sorted(np.flatnonzero(attrs["last_active_days"] <= Q2_ACTIVE_MAX))
    return out


# --- implementations -------------------------------------------------------- #


def q1_mask_pandas(x: pd.DataFrame) -> pd.Series:
    return (x["t0"] & x["t5"]) | (x["t17"] & ~x["t42"])


def q2_mask_pandas(x: pd.DataFrame, a: pd.DataFrame) -> pd.Series:
    return (
        (x["t0"] | x["t1"])
        & x["t2"]
        & a["city"].isin(Q2_CITIES)
        & a["age"].between(*Q2_AGE)
        & (a["last_active_days"] <= Q2_ACTIVE_MAX)
        & ~x["t3"]
    )


def mask_ids(mask: pd.Series) -> np.ndarray:
    # Row i of the wide frame is user i.
    return np.flatnonzero(mask.to_numpy()).astype(np.uint32)


def q1_bitmap(b: dict[str, BitMap]) -> BitMap:
    return (b["t0"] & b["t5"]) | (b["t17"] - b["t42"])


def q2_bitmap(b: dict[str, BitMap], a: dict[str, BitMap]) -> BitMap:
    city = BitMap.union(*(a[c] for c in Q2_CITIES))
    return ((b["t0"] | b["t1"]) & b["t2"] & city & a["age"] & a["active"]) - b["t3"]


def bitmap_ids(bm: BitMap) -> np.ndarray:
    return np.frombuffer(bm.to_array(), dtype=np.uint32)


def q2_uoseg(s: Any) -> Any:
    tags = (s.tag("t0") | s.tag("t1")) & s.tag("t2")
    attrs = (
        s.attr_in("city", list(Q2_CITIES))
        & s.range("age", ge=Q2_AGE[0], le=Q2_AGE[1])
        & s.range("last_active_days", le=Q2_ACTIVE_MAX)
    )
    return (tags & attrs) - s.tag("t3")


def select_ids(con: duckdb.DuckDBPyConnection, where: str) -> np.ndarray:
    return sql_ids(con, f"SELECT user_id FROM wide WHERE {where} ORDER BY user_id")


def select_count(con: duckdb.DuckDBPyConnection, where: str) -> int:
    return int(sql_scalar(con, f"SELECT count(*) FROM wide WHERE {where}"))


def polars_ids(df: pl.DataFrame, expr: pl.Expr) -> np.ndarray:
    return df.select(pl.arg_where(expr)).to_series().to_numpy().astype(np.uint32, copy=False)


def polars_count(df: pl.DataFrame, expr: pl.Expr) -> int:
    return int(df.select(expr.sum()).item())


# --- Q1 ids ----------------------------------------------------------------- #


@pytest.mark.benchmark(group="W2 Q1 ids")
def test_w2_q1_ids_pandas(benchmark: Any, pandas_wide: pd.DataFrame, q1_ids: np.ndarray) -> None:
    assert_ids_equal(
        run(benchmark, "pandas", lambda: mask_ids(q1_mask_pandas(pandas_wide))), q1_ids
    )


@pytest.mark.benchmark(group="W2 Q1 ids")
def test_w2_q1_ids_polars(benchmark: Any, polars_wide: pl.DataFrame, q1_ids: np.ndarray) -> None:
    assert_ids_equal(run(benchmark, "polars", polars_ids, polars_wide, Q1_POLARS), q1_ids)


@pytest.mark.benchmark(group="W2 Q1 ids")
def test_w2_q1_ids_duckdb(
    benchmark: Any, duckdb_con: duckdb.DuckDBPyConnection, duckdb_wide: str, q1_ids: np.ndarray
) -> None:
    assert_ids_equal(run(benchmark, "duckdb", select_ids, duckdb_con, Q1_SQL), q1_ids)


@pytest.mark.benchmark(group="W2 Q1 ids")
def test_w2_q1_ids_pyroaring(
    benchmark: Any, bitmaps: dict[str, BitMap], q1_ids: np.ndarray
) -> None:
    got = run(benchmark, "pyroaring", lambda: bitmap_ids(q1_bitmap(bitmaps)))
    assert_ids_equal(got, q1_ids)


@pytest.mark.benchmark(group="W2 Q1 ids")
def test_w2_q1_ids_uoseg(benchmark: Any, uoseg_store: Any, q1_ids: np.ndarray) -> None:
    got = run(benchmark, "uoseg", lambda: audience_ids(q1_uoseg(uoseg_store)))
    assert_ids_equal(got, q1_ids)


@pytest.mark.benchmark(group="W2 Q1 ids")
def test_w2_q1_ids_uoseg_dsl(benchmark: Any, uoseg_store: Any, q1_ids: np.ndarray) -> None:
    require(uoseg_store, "query")
    got = run(benchmark, "uoseg_dsl", lambda: audience_ids(uoseg_store.query(Q1_TEXT)))
    assert_ids_equal(got, q1_ids)


# --- Q1 count --------------------------------------------------------------- #


@pytest.mark.benchmark(group="W2 Q1 count")
def test_w2_q1_count_pandas(benchmark: Any, pandas_wide: pd.DataFrame, q1_ids: np.ndarray) -> None:
    got = run(benchmark, "pandas", lambda: int(q1_mask_pandas(pandas_wide).sum()))
    assert got == len(q1_ids)


@pytest.mark.benchmark(group="W2 Q1 count")
def test_w2_q1_count_polars(benchmark: Any, polars_wide: pl.DataFrame, q1_ids: np.ndarray) -> None:
    assert run(benchmark, "polars", polars_count, polars_wide, Q1_POLARS) == len(q1_ids)


@pytest.mark.benchmark(group="W2 Q1 count")
def test_w2_q1_count_duckdb(
    benchmark: Any, duckdb_con: duckdb.DuckDBPyConnection, duckdb_wide: str, q1_ids: np.ndarray
) -> None:
    assert run(benchmark, "duckdb", select_count, duckdb_con, Q1_SQL) == len(q1_ids)


@pytest.mark.benchmark(group="W2 Q1 count")
def test_w2_q1_count_pyroaring(
    benchmark: Any, bitmaps: dict[str, BitMap], q1_ids: np.ndarray
) -> None:
    assert run(benchmark, "pyroaring", lambda: len(q1_bitmap(bitmaps))) == len(q1_ids)


@pytest.mark.benchmark(group="W2 Q1 count")
def test_w2_q1_count_uoseg(benchmark: Any, uoseg_store: Any, q1_ids: np.ndarray) -> None:
    got = run(benchmark, "uoseg", lambda: q1_uoseg(uoseg_store).count())
    assert got == len(q1_ids)


@pytest.mark.benchmark(group="W2 Q1 count")
def test_w2_q1_count_uoseg_dsl(benchmark: Any, uoseg_store: Any, q1_ids: np.ndarray) -> None:
    require(uoseg_store, "count")
    assert run(benchmark, "uoseg_dsl", uoseg_store.count, Q1_TEXT) == len(q1_ids)


# --- Q2 ids ----------------------------------------------------------------- #


@pytest.mark.benchmark(group="W2 Q2 ids")
def test_w2_q2_ids_pandas(
    benchmark: Any, pandas_wide: pd.DataFrame, pandas_attrs: pd.DataFrame, q2_ids: np.ndarray
) -> None:
    got = run(benchmark, "pandas", lambda: mask_ids(q2_mask_pandas(pandas_wide, pandas_attrs)))
    assert_ids_equal(got, q2_ids)


@pytest.mark.benchmark(group="W2 Q2 ids")
def test_w2_q2_ids_polars(benchmark: Any, polars_wide: pl.DataFrame, q2_ids: np.ndarray) -> None:
    assert_ids_equal(run(benchmark, "polars", polars_ids, polars_wide, Q2_POLARS), q2_ids)


@pytest.mark.benchmark(group="W2 Q2 ids")
def test_w2_q2_ids_duckdb(
    benchmark: Any, duckdb_con: duckdb.DuckDBPyConnection, duckdb_wide: str, q2_ids: np.ndarray
) -> None:
    assert_ids_equal(run(benchmark, "duckdb", select_ids, duckdb_con, Q2_SQL), q2_ids)


@pytest.mark.benchmark(group="W2 Q2 ids")
def test_w2_q2_ids_pyroaring(
    benchmark: Any,
    bitmaps: dict[str, BitMap],
    attr_bitmaps: dict[str, BitMap],
    q2_ids: np.ndarray,
) -> None:
    got = run(benchmark, "pyroaring", lambda: bitmap_ids(q2_bitmap(bitmaps, attr_bitmaps)))
    assert_ids_equal(got, q2_ids)


@pytest.mark.benchmark(group="W2 Q2 ids")
def test_w2_q2_ids_uoseg(benchmark: Any, uoseg_full_store: Any, q2_ids: np.ndarray) -> None:
    require(uoseg_full_store, "attr_in", "range")
    got = run(benchmark, "uoseg", lambda: audience_ids(q2_uoseg(uoseg_full_store)))
    assert_ids_equal(got, q2_ids)


@pytest.mark.benchmark(group="W2 Q2 ids")
def test_w2_q2_ids_uoseg_dsl(benchmark: Any, uoseg_full_store: Any, q2_ids: np.ndarray) -> None:
    require(uoseg_full_store, "query", "range")
    got = run(benchmark, "uoseg_dsl", lambda: audience_ids(uoseg_full_store.query(Q2_TEXT)))
    assert_ids_equal(got, q2_ids)


# --- Q2 count --------------------------------------------------------------- #


@pytest.mark.benchmark(group="W2 Q2 count")
def test_w2_q2_count_pandas(
    benchmark: Any, pandas_wide: pd.DataFrame, pandas_attrs: pd.DataFrame, q2_ids: np.ndarray
) -> None:
    got = run(benchmark, "pandas", lambda: int(q2_mask_pandas(pandas_wide, pandas_attrs).sum()))
    assert got == len(q2_ids)


@pytest.mark.benchmark(group="W2 Q2 count")
def test_w2_q2_count_polars(benchmark: Any, polars_wide: pl.DataFrame, q2_ids: np.ndarray) -> None:
    assert run(benchmark, "polars", polars_count, polars_wide, Q2_POLARS) == len(q2_ids)


@pytest.mark.benchmark(group="W2 Q2 count")
def test_w2_q2_count_duckdb(
    benchmark: Any, duckdb_con: duckdb.DuckDBPyConnection, duckdb_wide: str, q2_ids: np.ndarray
) -> None:
    assert run(benchmark, "duckdb", select_count, duckdb_con, Q2_SQL) == len(q2_ids)


@pytest.mark.benchmark(group="W2 Q2 count")
def test_w2_q2_count_pyroaring(
    benchmark: Any,
    bitmaps: dict[str, BitMap],
    attr_bitmaps: dict[str, BitMap],
    q2_ids: np.ndarray,
) -> None:
    got = run(benchmark, "pyroaring", lambda: len(q2_bitmap(bitmaps, attr_bitmaps)))
    assert got == len(q2_ids)


@pytest.mark.benchmark(group="W2 Q2 count")
def test_w2_q2_count_uoseg(benchmark: Any, uoseg_full_store: Any, q2_ids: np.ndarray) -> None:
    require(uoseg_full_store, "attr_in", "range")
    got = run(benchmark, "uoseg", lambda: q2_uoseg(uoseg_full_store).count())
    assert got == len(q2_ids)


@pytest.mark.benchmark(group="W2 Q2 count")
def test_w2_q2_count_uoseg_dsl(benchmark: Any, uoseg_full_store: Any, q2_ids: np.ndarray) -> None:
    require(uoseg_full_store, "count", "range")
    assert run(benchmark, "uoseg_dsl", uoseg_full_store.count, Q2_TEXT) == len(q2_ids)
