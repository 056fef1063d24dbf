"""W3 qcut: N lognormal float64 into 5 and 100 equal-frequency buckets.

Labels are ``0 .. q-1`` with the edges ``pandas.qcut`` draws; pandas is the
reference every other tool must match exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from uoseg_bench import N_USERS, SEED, pandas_qcut_probabilities, require, run

QS = (5, 100)


@pytest.fixture(scope="module")
def values() -> np.ndarray:
    return np.random.default_rng(SEED).lognormal(0.0, 1.0, size=N_USERS)


@pytest.fixture(scope="module")
def expected(values: np.ndarray) -> dict[int, np.ndarray]:
    return {q: np.asarray(pd.qcut(values, q, labels=False), dtype=np.int64) for q in QS}


def check(got: Any, expected: np.ndarray) -> None:
    got = np.asarray(got)
    assert got.shape == expected.shape
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, f"{bad.size} codes differ from pandas, first at {bad[:5]}"


# --- implementations -------------------------------------------------------- #


def qcut_numpy(x: np.ndarray, q: int) -> np.ndarray:
    # pandas' edges (nudged probabilities), right-closed bins, lowest included:
    # the code is the number of inner edges strictly below the value.
    edges = np.quantile(x, pandas_qcut_probabilities(q))
    return np.searchsorted(edges[1:-1], x, side="left")


def qcut_polars(x: pl.Series, q: int) -> pl.Series:
    labels = [str(i) for i in range(q)]
    # Categorical codes are global string ids; an Enum's are the label positions.
    return x.qcut(q, labels=labels).cast(pl.Enum(labels)).to_physical()


# --- benchmarks ------------------------------------------------------------- #

pytestmark = [pytest.mark.parametrize("q", QS)]


def group(benchmark: Any, q: int) -> None:
    benchmark.group = f"W3 qcut q={q}"


def test_w3_qcut_pandas(
    benchmark: Any, q: int, values: np.ndarray, expected: dict[int, np.ndarray]
) -> None:
    group(benchmark, q)
    got = run(benchmark, "pandas", lambda: pd.qcut(values, q, labels=False), heavy=True)
    check(got, expected[q])


def test_w3_qcut_numpy(
    benchmark: Any, q: int, values: np.ndarray, expected: dict[int, np.ndarray]
) -> None:
    group(benchmark, q)
    check(run(benchmark, "numpy", qcut_numpy, values, q, heavy=True), expected[q])


# polars 2 deprecates qcut; its successor bin_quantiles takes the "lower" order
# statistic, not pandas' linear interpolation, so it cannot give pandas' edges.
@pytest.mark.filterwarnings("ignore:`qcut` is deprecated:DeprecationWarning")
def test_w3_qcut_polars(
    benchmark: Any, q: int, values: np.ndarray, expected: dict[int, np.ndarray]
) -> None:
    group(benchmark, q)
    series = pl.Series(values)
    got = run(benchmark, "polars", qcut_polars, series, q, heavy=True)
    check(got.to_numpy(), expected[q])


def test_w3_qcut_uoseg(
    benchmark: Any, uoseg: Any, q: int, values: np.ndarray, expected: dict[int, np.ndarray]
) -> None:
    require(uoseg, "qcut")
    group(benchmark, q)
    got = run(benchmark, "uoseg", lambda: uoseg.qcut(values, q, labels=False), heavy=True)
    assert isinstance(got, np.ndarray) and got.dtype == np.int64
    check(got, expected[q])
