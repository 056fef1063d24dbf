"""W5 overlap: pairwise intersection counts of tags t0..t49 (a 50 x 50 int64 matrix)."""

from __future__ import annotations

from itertools import combinations_with_replacement
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from pyroaring import BitMap
from uoseg_bench import OVERLAP_TAGS, require, run, sql_row, tag_names

NAMES = tag_names(OVERLAP_TAGS)
PAIRS = list(combinations_with_replacement(range(OVERLAP_TAGS), 2))


def symmetric(values: Any) -> np.ndarray:
    """The full matrix from the upper-triangle counts listed in ``PAIRS`` order."""
    out = np.zeros((OVERLAP_TAGS, OVERLAP_TAGS), dtype=np.int64)
    rows, cols = np.array(PAIRS).T
    out[rows, cols] = values
    out[cols, rows] = values
    return out


@pytest.fixture(scope="module")
def expected(tag_matrix: np.ndarray) -> np.ndarray:
    # float32 products are exact while a block has fewer than 2**24 users.
    out = np.zeros((OVERLAP_TAGS, OVERLAP_TAGS), dtype=np.int64)
    step = 1 << 20
    for start in range(0, tag_matrix.shape[1], step):
        block = tag_matrix[:OVERLAP_TAGS, start : start + step].astype(np.float32)
        out += (block @ block.T).astype(np.int64)
    return out


def check(got: Any, expected: np.ndarray) -> None:
    got = np.asarray(got)
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)


# --- implementations -------------------------------------------------------- #


def overlap_pandas(wide: pd.DataFrame) -> np.ndarray:
    # float64 takes the BLAS path (bool/int matmul has none) and is exact below 2**53.
    x = wide[NAMES].astype("float64")
    return (x.T @ x).to_numpy().astype(np.int64)


def overlap_polars(wide: pl.DataFrame) -> np.ndarray:
    exprs = [(pl.col(NAMES[i]) & pl.col(NAMES[j])).sum().alias(f"{i}_{j}") for i, j in PAIRS]
    return symmetric(wide.select(exprs).row(0))


def overlap_duckdb(con: duckdb.DuckDBPyConnection) -> np.ndarray:
    exprs = ", ".join(f'count_if("{NAMES[i]}" AND "{NAMES[j]}")' for i, j in PAIRS)
    return symmetric(sql_row(con, f"SELECT {exprs} FROM wide"))


def overlap_pyroaring(bitmaps: dict[str, BitMap]) -> np.ndarray:
    bms = [bitmaps[n] for n in NAMES]
    return symmetric([bms[i].intersection_cardinality(bms[j]) for i, j in PAIRS])


# --- benchmarks ------------------------------------------------------------- #


@pytest.mark.benchmark(group="W5 overlap")
def test_w5_overlap_pandas(benchmark: Any, pandas_wide: pd.DataFrame, expected: np.ndarray) -> None:
    check(run(benchmark, "pandas", overlap_pandas, pandas_wide, heavy=True), expected)


@pytest.mark.benchmark(group="W5 overlap")
def test_w5_overlap_polars(benchmark: Any, polars_wide: pl.DataFrame, expected: np.ndarray) -> None:
    check(run(benchmark, "polars", overlap_polars, polars_wide, heavy=True), expected)


@pytest.mark.benchmark(group="W5 overlap")
def test_w5_overlap_duckdb(
    benchmark: Any, duckdb_con: duckdb.DuckDBPyConnection, duckdb_wide: str, expected: np.ndarray
) -> None:
    check(run(benchmark, "duckdb", overlap_duckdb, duckdb_con, heavy=True), expected)


@pytest.mark.benchmark(group="W5 overlap")
def test_w5_overlap_pyroaring(
    benchmark: Any, bitmaps: dict[str, BitMap], expected: np.ndarray
) -> None:
    check(run(benchmark, "pyroaring", overlap_pyroaring, bitmaps, heavy=True), expected)


@pytest.mark.benchmark(group="W5 overlap")
def test_w5_overlap_uoseg(benchmark: Any, uoseg_store: Any, expected: np.ndarray) -> None:
    require(uoseg_store, "overlap_matrix")
    got = run(benchmark, "uoseg", uoseg_store.overlap_matrix, NAMES, heavy=True)
    assert isinstance(got, np.ndarray) and got.dtype == np.int64
    check(got, expected)
