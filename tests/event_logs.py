"""Random event logs that cross midnights and a DST change, the stores built
from them, and DuckDB's own reading of their local days (the oracle side of
the event and retention tests)."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pyarrow as pa
import uoseg

ZONES = ["UTC", "Asia/Shanghai", "America/New_York"]
EVENTS = ["login", "purchase", "share"]
# 2026-03-08 is New York's spring-forward day; the log spans it.
START = dt.datetime(2026, 2, 20, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 3, 20)


def random_log(seed: int, n_users: int = 300, n_rows: int = 4_000) -> pa.Table:
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, 40 * 86_400, n_rows)
    # A third of the events within ten minutes of a UTC midnight.
    near = rng.random(n_rows) < 0.33
    seconds[near] = (seconds[near] // 86_400) * 86_400 + rng.integers(-600, 600, near.sum())
    ts = pa.array(
        [START + dt.timedelta(seconds=int(s)) for s in seconds], pa.timestamp("s", tz="UTC")
    )
    event = rng.choice(EVENTS, n_rows, p=[0.6, 0.25, 0.15])
    amount = np.where(event == "purchase", rng.integers(1, 400, n_rows) * 0.25, np.nan)
    return pa.table(
        {
            "user_id": pa.array(rng.integers(0, n_users, n_rows), pa.uint32()),
            "ts": ts,
            "event": pa.array(event).dictionary_encode(),
            "amount": pa.array(amount, from_pandas=True),
        }
    )


def oracle(log: pa.Table, zone: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("raw", log)
    con.execute(
        f"""CREATE TABLE log AS SELECT user_id, CAST(event AS VARCHAR) AS event, amount,
        CAST(timezone('{zone}', ts) AS DATE) AS day FROM raw"""
    )
    return con


def store_of(log: pa.Table, zone: str, parts: int = 1, seed: int = 0) -> uoseg.TagStore:
    store = uoseg.TagStore(tz=zone)
    order = np.random.default_rng(seed).permutation(log.num_rows)
    for chunk in np.array_split(order, parts):
        store.add_events(log.take(pa.array(chunk)), value="amount")
    return store
