"""W1 build: long ``(user_id, tag)`` pairs to a per-tag index.

Each tool starts from the long table in its own native form (converted
outside the timing) and ends with something it can query per tag: a wide
boolean frame (pandas, polars), a wide table (DuckDB), one bitmap per tag
(pyroaring), a ``TagStore`` (uoseg).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from uoseg_bench import (
    N_USERS,
    assert_ids_equal,
    audience_ids,
    build_bitmaps,
    build_pandas_wide,
    build_polars_wide,
    run,
    sql_row,
    tag_names,
)

NAMES = tag_names()


def check_members(ids_of: Callable[[str], np.ndarray], tag_ids: dict[str, np.ndarray]) -> None:
    for name, expected in tag_ids.items():
        assert_ids_equal(ids_of(name), expected)


# --- implementations -------------------------------------------------------- #


def build_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    # PIVOT leaves out users without tags and fills absent pairs with NULL:
    # join the id range and coalesce so the table matches the others.
    in_list = ", ".join(f"'{n}'" for n in NAMES)
    cols = ", ".join(f'coalesce(p."{n}", false) AS "{n}"' for n in NAMES)
    con.execute(
        f"CREATE OR REPLACE TABLE w1_wide AS "
        f"SELECT u.range::UINTEGER AS user_id, {cols} FROM range({N_USERS}) u "
        f"LEFT JOIN (PIVOT w1_long ON tag IN ({in_list}) USING bool_or(true) "
        f"GROUP BY user_id) p ON p.user_id = u.range"
    )


# --- benchmarks ------------------------------------------------------------- #


@pytest.fixture(scope="module")
def duckdb_long(
    duckdb_con: duckdb.DuckDBPyConnection, pop: Any
) -> Iterator[duckdb.DuckDBPyConnection]:
    duckdb_con.register("w1_src", pop.tags)
    duckdb_con.execute("CREATE OR REPLACE TABLE w1_long AS SELECT * FROM w1_src")
    duckdb_con.unregister("w1_src")
    yield duckdb_con
    duckdb_con.execute("DROP TABLE IF EXISTS w1_long; DROP TABLE IF EXISTS w1_wide")


@pytest.mark.benchmark(group="W1 build")
def test_w1_build_pandas(benchmark: Any, pandas_long: pd.DataFrame, tag_matrix: np.ndarray) -> None:
    frame = run(benchmark, "pandas", build_pandas_wide, pandas_long, heavy=True)
    assert list(frame.columns) == NAMES
    assert np.array_equal(frame.to_numpy(), tag_matrix.T)


@pytest.mark.benchmark(group="W1 build")
def test_w1_build_polars(
    benchmark: Any, polars_long: pl.DataFrame, tag_ids: dict[str, np.ndarray]
) -> None:
    frame = run(benchmark, "polars", build_polars_wide, polars_long, heavy=True)
    assert frame.height == N_USERS
    check_members(lambda n: np.flatnonzero(frame[n].to_numpy()), tag_ids)


@pytest.mark.benchmark(group="W1 build")
def test_w1_build_duckdb(
    benchmark: Any, duckdb_long: duckdb.DuckDBPyConnection, tag_ids: dict[str, np.ndarray]
) -> None:
    run(benchmark, "duckdb", build_duckdb, duckdb_long, heavy=True)
    # Per tag: member count and the sum of member ids, all in one scan.
    exprs = ", ".join(f'count_if("{n}"), coalesce(sum(user_id) FILTER ("{n}"), 0)' for n in NAMES)
    row = sql_row(duckdb_long, f"SELECT count(*), {exprs} FROM w1_wide")
    assert row[0] == N_USERS
    expected = [v for ids in tag_ids.values() for v in (len(ids), int(ids.sum(dtype=np.int64)))]
    assert list(row[1:]) == expected


@pytest.mark.benchmark(group="W1 build")
def test_w1_build_pyroaring(benchmark: Any, pop: Any, tag_ids: dict[str, np.ndarray]) -> None:
    bitmaps = run(benchmark, "pyroaring", build_bitmaps, pop.tags, heavy=True)
    check_members(lambda n: np.frombuffer(bitmaps[n].to_array(), dtype=np.uint32), tag_ids)


@pytest.mark.benchmark(group="W1 build")
def test_w1_build_uoseg(
    benchmark: Any, uoseg: Any, pop: Any, tag_ids: dict[str, np.ndarray]
) -> None:
    build = uoseg.TagStore.from_long
    store = run(benchmark, "uoseg", lambda: build(pop.tags, user="user_id", tag="tag"), heavy=True)
    check_members(lambda n: audience_ids(store.tag(n)), tag_ids)


# --- W1 with the attributes indexed ------------------------------------------ #
# The peers' builds end with the attributes as ordinary columns beside the
# tags; uoseg's ends with them indexed (a bitmap per city, range indexes for
# the numbers), so the comparison that matters to a user includes that work.

INDEXED = ["user_id", "city", "age", "last_active_days"]


@pytest.mark.benchmark(group="W1 build, city, age and last_active_days indexed")
def test_w1_indexed_pandas(benchmark: Any, pandas_long: pd.DataFrame, pop: Any) -> None:
    attributes = pop.attributes.select(INDEXED).to_pandas()

    def build() -> pd.DataFrame:
        wide = build_pandas_wide(pandas_long)
        return pd.concat([wide, attributes.drop(columns="user_id")], axis=1)

    frame = run(benchmark, "pandas", build, heavy=True)
    assert frame.shape == (N_USERS, len(NAMES) + len(INDEXED) - 1)


@pytest.mark.benchmark(group="W1 build, city, age and last_active_days indexed")
def test_w1_indexed_uoseg(
    benchmark: Any, uoseg: Any, pop: Any, tag_ids: dict[str, np.ndarray]
) -> None:
    attributes = pop.attributes.select(INDEXED)

    def build() -> Any:
        store = uoseg.TagStore.from_long(pop.tags, user="user_id", tag="tag")
        store.add_wide(attributes)
        return store

    store = run(benchmark, "uoseg", build, heavy=True)
    check_members(lambda n: audience_ids(store.tag(n)), tag_ids)
    age = attributes.column("age").to_numpy()
    expected = np.flatnonzero((age >= 25) & (age <= 35)).astype(np.uint32)
    assert_ids_equal(audience_ids(store.range("age", ge=25, le=35)), expected)
    city = attributes.column("city").to_numpy(zero_copy_only=False)
    assert store.count('city = "c0"') == int((city == "c0").sum())
