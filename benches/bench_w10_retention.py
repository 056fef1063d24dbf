"""W10 retention and DAU over the event log.

Retention: daily ``signup`` cohorts of the last 60 local days up to as_of,
and for day offsets 0-30 the cohort's users who logged in on exactly that
day (n-day). DAU: distinct users who logged in, per local day of the 90.
The peers work on the raw log; every tool's matrix and DAU series are checked
against polars'. Cells whose day comes after as_of are null in uoseg's table
and absent from the peers' (the log ends at as_of), and compared as such.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from uoseg_bench import W10_COHORT_DAYS, W10_OFFSETS, run

EPOCH = date(1970, 1, 1)


def first_cohort(events: Any) -> date:
    return events.as_of - timedelta(days=W10_COHORT_DAYS - 1)


def matrix(events: Any, cohorts: Any, offsets: Any, users: Any, sizes: Any) -> np.ndarray:
    """Rows = cohort days, column 0 = size, then one column per offset."""
    out = np.zeros((W10_COHORT_DAYS, W10_OFFSETS + 1), dtype=np.int64)
    start = (first_cohort(events) - EPOCH).days
    out[np.asarray(sizes[0]) - start, 0] = sizes[1]
    out[np.asarray(cohorts) - start, np.asarray(offsets) + 1] = users
    return out


def days_of(values: Any) -> np.ndarray:
    """Dates (datetime64 or date objects) as day numbers."""
    return np.asarray(values, dtype="datetime64[D]").astype(np.int64)


# --- retention ---------------------------------------------------------------- #


def retention_uoseg(store: Any, events: Any) -> np.ndarray:
    table = store.retention(
        "login",
        "signup",
        range(W10_OFFSETS),
        start=first_cohort(events),
        end=events.as_of,
        as_of=events.as_of,
    )
    columns = table.table.to_pydict()
    out = np.zeros((W10_COHORT_DAYS, W10_OFFSETS + 1), dtype=np.int64)
    out[:, 0] = columns["size"]
    for k in range(W10_OFFSETS):
        out[:, k + 1] = [-1 if v is None else v for v in columns[str(k)]]
    return out


def retention_polars(frame: pl.DataFrame, events: Any) -> np.ndarray:
    day = pl.col("ts").dt.convert_time_zone(events.zone).dt.date()
    cohorts = (
        frame.filter(pl.col("event") == "signup")
        .group_by("user_id")
        .agg(cohort=day.min())
        .filter(pl.col("cohort") >= first_cohort(events))
    )
    logins = frame.filter(pl.col("event") == "login").select("user_id", day.alias("day")).unique()
    cells = (
        cohorts.join(logins, on="user_id")
        .with_columns(offset=(pl.col("day") - pl.col("cohort")).dt.total_days())
        .filter(pl.col("offset").is_between(0, W10_OFFSETS - 1))
        .group_by("cohort", "offset")
        .len()
    )
    sizes = cohorts.group_by("cohort").len()
    return matrix(
        events,
        days_of(cells["cohort"].to_numpy()),
        cells["offset"].to_numpy(),
        cells["len"].to_numpy(),
        (days_of(sizes["cohort"].to_numpy()), sizes["len"].to_numpy()),
    )


def retention_duckdb(con: duckdb.DuckDBPyConnection, events: Any) -> np.ndarray:
    local = f"CAST(timezone('{events.zone}', ts) AS DATE)"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cohorts AS
        SELECT user_id, min({local}) AS cohort FROM events WHERE event = 'signup'
        GROUP BY user_id HAVING min({local}) >= $first""",
        {"first": first_cohort(events)},
    )
    cells = con.execute(
        f"""WITH logins AS (SELECT DISTINCT user_id, {local} AS day FROM events
                            WHERE event = 'login')
        SELECT cohort, day - cohort AS offset, count(*) AS users
        FROM cohorts JOIN logins USING (user_id)
        WHERE day - cohort BETWEEN 0 AND {W10_OFFSETS - 1}
        GROUP BY ALL"""
    ).fetchnumpy()
    sizes = con.execute("SELECT cohort, count(*) AS n FROM cohorts GROUP BY ALL").fetchnumpy()
    return matrix(
        events,
        days_of(cells["cohort"]),
        cells["offset"],
        cells["users"],
        (days_of(sizes["cohort"]), sizes["n"]),
    )


def retention_pandas(frame: pd.DataFrame, events: Any) -> np.ndarray:
    def local_day(ts: pd.Series) -> pd.Series:
        return ts.dt.tz_convert(events.zone).dt.tz_localize(None).dt.floor("D")

    signup = frame[frame["event"] == "signup"]
    cohort = local_day(signup["ts"]).groupby(signup["user_id"]).min().rename("cohort")
    cohort = cohort[cohort >= pd.Timestamp(first_cohort(events))]
    login = frame[frame["event"] == "login"]
    logins = pd.DataFrame({"user_id": login["user_id"], "day": local_day(login["ts"])})
    logins = logins.drop_duplicates()
    joined = logins.join(cohort, on="user_id", how="inner")
    offset = (joined["day"] - joined["cohort"]).dt.days
    joined = joined[(offset >= 0) & (offset < W10_OFFSETS)].assign(offset=offset)
    cells = joined.groupby(["cohort", "offset"]).size()
    sizes = cohort.value_counts()
    return matrix(
        events,
        days_of(cells.index.get_level_values(0)),
        cells.index.get_level_values(1),
        cells.to_numpy(),
        (days_of(sizes.index), sizes.to_numpy()),
    )


@pytest.fixture(scope="module")
def w10_matrix(polars_events: pl.DataFrame, events: Any) -> np.ndarray:
    return retention_polars(polars_events, events)


def assert_same_retention(got: np.ndarray, expected: np.ndarray) -> None:
    """Equal, where uoseg's null cells (-1) are the peers' absent (0) ones."""
    future = got < 0
    # A cell is null exactly when its day comes after as_of.
    rows, columns = np.indices(got.shape)
    assert np.array_equal(future, (columns > 0) & (rows + columns - 1 >= W10_COHORT_DAYS))
    assert np.array_equal(np.where(future, 0, got), expected)


@pytest.mark.benchmark(group="W10 retention")
def test_w10_retention_uoseg(
    benchmark: Any, uoseg_events: Any, events: Any, w10_matrix: np.ndarray
) -> None:
    got = run(benchmark, "uoseg", retention_uoseg, uoseg_events, events)
    assert_same_retention(got, w10_matrix)


@pytest.mark.benchmark(group="W10 retention")
def test_w10_retention_polars(
    benchmark: Any, polars_events: pl.DataFrame, events: Any, w10_matrix: np.ndarray
) -> None:
    got = run(benchmark, "polars", retention_polars, polars_events, events, heavy=True)
    assert np.array_equal(got, w10_matrix)


@pytest.mark.benchmark(group="W10 retention")
def test_w10_retention_duckdb(
    benchmark: Any,
    duckdb_con: duckdb.DuckDBPyConnection,
    duckdb_events: str,
    events: Any,
    w10_matrix: np.ndarray,
) -> None:
    got = run(benchmark, "duckdb", retention_duckdb, duckdb_con, events, heavy=True)
    assert np.array_equal(got, w10_matrix)


@pytest.mark.benchmark(group="W10 retention")
def test_w10_retention_pandas(
    benchmark: Any, pandas_events: pd.DataFrame, events: Any, w10_matrix: np.ndarray
) -> None:
    got = run(benchmark, "pandas", retention_pandas, pandas_events, events, heavy=True)
    assert np.array_equal(got, w10_matrix)


# --- DAU -------------------------------------------------------------------- #


def first_day(events: Any) -> date:
    return events.as_of - timedelta(days=events.days - 1)


def dau_uoseg(store: Any, events: Any) -> np.ndarray:
    table = store.active_users("login", start=first_day(events), end=events.as_of)
    return np.asarray(table.column("users").to_numpy(), dtype=np.int64)


def series(events: Any, days: np.ndarray, users: np.ndarray) -> np.ndarray:
    out = np.zeros(events.days, dtype=np.int64)
    out[days - (first_day(events) - EPOCH).days] = users
    return out


def dau_polars(frame: pl.DataFrame, events: Any) -> np.ndarray:
    day = pl.col("ts").dt.convert_time_zone(events.zone).dt.date().alias("day")
    dau = frame.filter(pl.col("event") == "login").group_by(day).agg(pl.col("user_id").n_unique())
    return series(events, days_of(dau["day"].to_numpy()), dau["user_id"].to_numpy())


def dau_duckdb(con: duckdb.DuckDBPyConnection, events: Any) -> np.ndarray:
    dau = con.execute(
        f"""SELECT CAST(timezone('{events.zone}', ts) AS DATE) AS day,
        count(DISTINCT user_id) AS users FROM events WHERE event = 'login' GROUP BY ALL"""
    ).fetchnumpy()
    return series(events, days_of(dau["day"]), dau["users"])


def dau_pandas(frame: pd.DataFrame, events: Any) -> np.ndarray:
    login = frame[frame["event"] == "login"]
    day = login["ts"].dt.tz_convert(events.zone).dt.tz_localize(None).dt.floor("D")
    dau = login["user_id"].groupby(day).nunique()
    return series(events, days_of(dau.index), dau.to_numpy())


@pytest.fixture(scope="module")
def w10_dau(polars_events: pl.DataFrame, events: Any) -> np.ndarray:
    return dau_polars(polars_events, events)


@pytest.mark.benchmark(group="W10 DAU")
def test_w10_dau_uoseg(benchmark: Any, uoseg_events: Any, events: Any, w10_dau: np.ndarray) -> None:
    assert np.array_equal(run(benchmark, "uoseg", dau_uoseg, uoseg_events, events), w10_dau)


@pytest.mark.benchmark(group="W10 DAU")
def test_w10_dau_polars(
    benchmark: Any, polars_events: pl.DataFrame, events: Any, w10_dau: np.ndarray
) -> None:
    got = run(benchmark, "polars", dau_polars, polars_events, events, heavy=True)
    assert np.array_equal(got, w10_dau)


@pytest.mark.benchmark(group="W10 DAU")
def test_w10_dau_duckdb(
    benchmark: Any,
    duckdb_con: duckdb.DuckDBPyConnection,
    duckdb_events: str,
    events: Any,
    w10_dau: np.ndarray,
) -> None:
    got = run(benchmark, "duckdb", dau_duckdb, duckdb_con, events, heavy=True)
    assert np.array_equal(got, w10_dau)


@pytest.mark.benchmark(group="W10 DAU")
def test_w10_dau_pandas(
    benchmark: Any, pandas_events: pd.DataFrame, events: Any, w10_dau: np.ndarray
) -> None:
    got = run(benchmark, "pandas", dau_pandas, pandas_events, events, heavy=True)
    assert np.array_equal(got, w10_dau)
