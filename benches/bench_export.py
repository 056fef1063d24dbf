"""Delivery (人群包): the Q1 audience (about 1 M users at N = 10 M) with three
attributes (city, age, last_active_days) written to Parquet.

uoseg selects the rows from the store and writes them (``TagStore.export``);
polars does the same from a frame of the attributes (``is_in`` the audience's
ids, then ``write_parquet``), as a user of polars would. The "rows given"
columns hand pandas and polars the rows already selected, so they only write
(pandas through pyarrow): the cost of the writers alone. All write Snappy, the
codec pyarrow uses by default (polars's default is zstd). Each result is read
back and checked: the same users and values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from uoseg_bench import require, run

COLUMNS = ["city", "age", "last_active_days"]


@pytest.fixture(scope="module")
def export_rows(pop: Any, q1_ids: np.ndarray) -> pa.Table:
    """The attributes of the Q1 users, as every tool must write them."""
    table = pop.attributes.select(["user_id", *COLUMNS])
    return table.take(pa.array(q1_ids.astype(np.int64)))  # user ids are row numbers


@pytest.fixture(scope="module")
def export_store(uoseg: Any, pop: Any) -> Any:
    require(uoseg.TagStore, "export")
    return uoseg.TagStore.from_wide(pop.attributes.select(["user_id", *COLUMNS]), user="user_id")


def check(path: Path, expected: pa.Table) -> None:
    got = pq.read_table(path)
    assert got.num_rows == expected.num_rows
    assert np.array_equal(got["user_id"].to_numpy(), expected["user_id"].to_numpy())
    for name in COLUMNS:
        a = got[name].cast(pa.string()) if name == "city" else got[name].cast(pa.int64())
        b = expected[name].cast(pa.string()) if name == "city" else expected[name].cast(pa.int64())
        assert a.equals(b), name


@pytest.mark.benchmark(group="Export 1M users x 3 attributes to Parquet")
def test_export_pandas(benchmark: Any, export_rows: pa.Table, tmp_path: Path) -> None:
    frame: pd.DataFrame = export_rows.to_pandas()
    path = tmp_path / "pandas.parquet"
    run(
        benchmark,
        "pandas (rows given)",
        lambda: frame.to_parquet(path, index=False, compression="snappy"),
    )
    check(path, export_rows)


@pytest.mark.benchmark(group="Export 1M users x 3 attributes to Parquet")
def test_export_polars(
    benchmark: Any, pop: Any, q1_ids: np.ndarray, export_rows: pa.Table, tmp_path: Path
) -> None:
    frame = pl.from_arrow(pop.attributes.select(["user_id", *COLUMNS]))
    assert isinstance(frame, pl.DataFrame)
    audience = pl.Series("user_id", q1_ids).implode()
    path = tmp_path / "polars.parquet"

    def export() -> None:
        selected = frame.filter(pl.col("user_id").is_in(audience))
        selected.write_parquet(path, compression="snappy")

    run(benchmark, "polars", export)
    check(path, export_rows)


@pytest.mark.benchmark(group="Export 1M users x 3 attributes to Parquet")
def test_export_polars_write_only(benchmark: Any, export_rows: pa.Table, tmp_path: Path) -> None:
    frame = pl.from_arrow(export_rows)
    assert isinstance(frame, pl.DataFrame)
    path = tmp_path / "polars.parquet"
    run(
        benchmark,
        "polars (rows given)",
        lambda: frame.write_parquet(path, compression="snappy"),
    )
    check(path, export_rows)


@pytest.mark.benchmark(group="Export 1M users x 3 attributes to Parquet")
def test_export_uoseg(
    benchmark: Any, export_store: Any, q1_ids: np.ndarray, export_rows: pa.Table, tmp_path: Path
) -> None:
    audience = export_store.audience(q1_ids)
    path = tmp_path / "uoseg.parquet"
    rows = run(benchmark, "uoseg", lambda: export_store.export(audience, path, COLUMNS))
    assert rows == len(q1_ids)
    check(path, export_rows)
