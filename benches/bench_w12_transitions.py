"""W12 transitions: the RFM-segment transition matrix between two snapshots
30 days apart.

Both snapshots score the population's transactions with ``uoseg.rfm`` (as of
the population's reference instant, and 30 days earlier) and keep the
segment per user: uoseg as the ``rfm.segment`` attribute of two stores, the
peers as two ``(user_id, segment)`` tables. The matrix counts users per (old
segment, new segment), with users who have a segment in only one snapshot
under ``"(none)"``; the peers align the two tables by user (an outer join)
and count, pandas with ``crosstab``, polars with ``group_by``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from uoseg_bench import require, run

NONE = "(none)"


@pytest.fixture(scope="module")
def scored(uoseg: Any, pop: Any) -> tuple[Any, Any]:
    require(uoseg, "transitions")
    old = uoseg.rfm(pop.transactions, as_of=pop.as_of - timedelta(days=30))
    new = uoseg.rfm(pop.transactions, as_of=pop.as_of)
    return old, new


def segments(result: Any) -> pa.Table:
    table = result.table
    return pa.table(
        {"user_id": table.column("user_id"), "segment": table.column("segment").cast(pa.string())}
    )


@pytest.fixture(scope="module")
def snapshot_stores(uoseg: Any, scored: tuple[Any, Any]) -> tuple[Any, Any]:
    stores = []
    for result in scored:
        store = uoseg.TagStore()
        table = segments(result)
        store.add_attribute("rfm.segment", table.column("user_id"), table.column("segment"))
        stores.append(store)
    return stores[0], stores[1]


def matrix_uoseg(uoseg: Any, old: Any, new: Any) -> dict[tuple[str, str], int]:
    table = uoseg.transitions(old, new, "rfm.segment")
    return {
        (row["from"], column): row[column]
        for row in table.to_pylist()
        for column in table.labels_to
        if row[column]
    }


def matrix_pandas(old: pd.DataFrame, new: pd.DataFrame) -> dict[tuple[str, str], int]:
    merged = old.merge(new, on="user_id", how="outer", suffixes=("_old", "_new"))
    table = pd.crosstab(merged["segment_old"].fillna(NONE), merged["segment_new"].fillna(NONE))
    stacked = table.stack()
    return {(str(a), str(b)): int(n) for (a, b), n in stacked.items() if n}


def matrix_polars(old: pl.DataFrame, new: pl.DataFrame) -> dict[tuple[str, str], int]:
    counts = (
        old.join(new, on="user_id", how="full", coalesce=True, suffix="_new")
        .group_by(pl.col("segment").fill_null(NONE), pl.col("segment_new").fill_null(NONE))
        .len()
    )
    return {
        (a, b): n
        for a, b, n in zip(
            counts["segment"].to_list(),
            counts["segment_new"].to_list(),
            counts["len"].to_list(),
            strict=True,
        )
    }


@pytest.fixture(scope="module")
def frames(scored: tuple[Any, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    old, new = (segments(s).to_pandas() for s in scored)
    return old, new


@pytest.fixture(scope="module")
def w12_matrix(frames: tuple[pd.DataFrame, pd.DataFrame]) -> dict[tuple[str, str], int]:
    return matrix_pandas(*frames)


@pytest.mark.benchmark(group="W12 RFM transitions")
def test_w12_transitions_uoseg(
    benchmark: Any, uoseg: Any, snapshot_stores: tuple[Any, Any], w12_matrix: dict[Any, int]
) -> None:
    assert run(benchmark, "uoseg", matrix_uoseg, uoseg, *snapshot_stores) == w12_matrix


@pytest.mark.benchmark(group="W12 RFM transitions")
def test_w12_transitions_pandas(
    benchmark: Any, frames: tuple[pd.DataFrame, pd.DataFrame], w12_matrix: dict[Any, int]
) -> None:
    assert run(benchmark, "pandas", matrix_pandas, *frames, heavy=True) == w12_matrix


@pytest.mark.benchmark(group="W12 RFM transitions")
def test_w12_transitions_polars(
    benchmark: Any, scored: tuple[Any, Any], w12_matrix: dict[Any, int]
) -> None:
    old, new = (pl.from_arrow(segments(s)) for s in scored)
    got = run(benchmark, "polars", matrix_polars, old, new, heavy=True)
    assert got == w12_matrix
