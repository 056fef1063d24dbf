"""W9 behaviour query over the event log, count and ids:

    DID login ON >= 5 DAYS WITHIN 30 DAYS
    AND DID purchase >= 2 TIMES WITHIN 30 DAYS
    AND NOT DID share WITHIN 7 DAYS

as of the log's last local day. The peers run on the raw log, each in its
fastest idiomatic form: the windows become instant bounds on ``ts`` (local
midnights in the log's zone), so only the login days need a zone conversion.
Every tool's users are checked against polars'.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from uoseg_bench import W9_TEXT, assert_ids_equal, local_midnight, run


def bounds(events: Any) -> tuple[Any, Any, Any]:
    """Instants starting the 30- and 7-day windows, and the end of as_of's day."""
    day = events.as_of
    return (
        local_midnight(day - timedelta(days=29), events.zone),
        local_midnight(day - timedelta(days=6), events.zone),
        local_midnight(day + timedelta(days=1), events.zone),
    )


def w9_polars(frame: pl.DataFrame, events: Any) -> np.ndarray:
    start30, start7, end = bounds(events)
    ts = pl.col("ts")
    window = frame.filter(ts.is_between(start30, end, closed="left"))
    logins = (
        window.filter(pl.col("event") == "login")
        .group_by("user_id")
        .agg(days=ts.dt.convert_time_zone(events.zone).dt.date().n_unique())
        .filter(pl.col("days") >= 5)
    )
    buyers = (
        window.filter(pl.col("event") == "purchase")
        .group_by("user_id")
        .len()
        .filter(pl.col("len") >= 2)
    )
    sharers = window.filter((pl.col("event") == "share") & (ts >= start7)).select("user_id")
    users = logins.join(buyers, on="user_id", how="semi").join(sharers, on="user_id", how="anti")
    return np.sort(users["user_id"].to_numpy())


def w9_duckdb(con: duckdb.DuckDBPyConnection, events: Any) -> np.ndarray:
    start30, start7, end = bounds(events)
    sql = f"""
        SELECT user_id FROM events WHERE ts >= $start30 AND ts < $end_ts
        GROUP BY user_id
        HAVING count(DISTINCT CAST(timezone('{events.zone}', ts) AS DATE))
                   FILTER (WHERE event = 'login') >= 5
           AND count(*) FILTER (WHERE event = 'purchase') >= 2
           AND count(*) FILTER (WHERE event = 'share' AND ts >= $start7) = 0
        ORDER BY user_id"""
    params = {"start30": start30, "start7": start7, "end_ts": end}
    return con.execute(sql, params).fetchnumpy()["user_id"].astype(np.uint32)


def w9_pandas(frame: pd.DataFrame, events: Any) -> np.ndarray:
    start30, start7, end = bounds(events)
    window = frame[(frame["ts"] >= start30) & (frame["ts"] < end)]
    event = window["event"]
    login = window[event == "login"]
    days = login["ts"].dt.tz_convert(events.zone).dt.normalize()
    active = days.groupby(login["user_id"]).nunique()
    buys = window.loc[event == "purchase", "user_id"].value_counts()
    shared = window.loc[(event == "share") & (window["ts"] >= start7), "user_id"].unique()
    users = active.index[active >= 5].intersection(buys.index[buys >= 2])
    users = users.difference(pd.Index(shared))
    return np.sort(users.to_numpy(dtype=np.uint32))


@pytest.fixture(scope="module")
def w9_ids(polars_events: pl.DataFrame, events: Any) -> np.ndarray:
    return w9_polars(polars_events, events)


@pytest.mark.benchmark(group="W9 behaviour count")
def test_w9_count_uoseg(benchmark: Any, uoseg_events: Any, events: Any, w9_ids: np.ndarray) -> None:
    count = run(benchmark, "uoseg", uoseg_events.count, W9_TEXT, events.as_of)
    assert count == len(w9_ids)


@pytest.mark.benchmark(group="W9 behaviour ids")
def test_w9_ids_uoseg(benchmark: Any, uoseg_events: Any, events: Any, w9_ids: np.ndarray) -> None:
    def ids() -> np.ndarray:
        return uoseg_events.query(W9_TEXT, as_of=events.as_of).ids()

    assert_ids_equal(run(benchmark, "uoseg", ids), w9_ids)


@pytest.mark.parametrize("group", ["W9 behaviour count", "W9 behaviour ids"])
def test_w9_polars(
    benchmark: Any, polars_events: pl.DataFrame, events: Any, w9_ids: np.ndarray, group: str
) -> None:
    benchmark.group = group
    assert_ids_equal(run(benchmark, "polars", w9_polars, polars_events, events, heavy=True), w9_ids)


@pytest.mark.parametrize("group", ["W9 behaviour count", "W9 behaviour ids"])
def test_w9_duckdb(
    benchmark: Any,
    duckdb_con: duckdb.DuckDBPyConnection,
    duckdb_events: str,
    events: Any,
    w9_ids: np.ndarray,
    group: str,
) -> None:
    benchmark.group = group
    assert_ids_equal(run(benchmark, "duckdb", w9_duckdb, duckdb_con, events, heavy=True), w9_ids)


@pytest.mark.parametrize("group", ["W9 behaviour count", "W9 behaviour ids"])
def test_w9_pandas(
    benchmark: Any, pandas_events: pd.DataFrame, events: Any, w9_ids: np.ndarray, group: str
) -> None:
    benchmark.group = group
    assert_ids_equal(run(benchmark, "pandas", w9_pandas, pandas_events, events, heavy=True), w9_ids)
