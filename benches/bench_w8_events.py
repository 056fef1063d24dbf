"""W8 event ingest: the raw event log into uoseg's event store.

The baseline is what every peer's answer starts from: one polars
``group_by(user, event, local day)`` over the log, with each event's local
day in the log's zone, its count and its amount's sum. Also measured: appending
the log's last local day to a store that holds the days before it (it must
cost in proportion to that day, not the history), and the memory the event
store holds against the raw log's Arrow bytes (self-reported by both: the
store's event bitmaps, counts and sums; the Arrow table's buffers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from uoseg_bench import event_store, local_midnight, require, run

# The store holds at most this share of the raw log's bytes (the bound).
MEMORY_SHARE = 0.25


def group_polars(frame: pl.DataFrame, zone: str) -> pl.DataFrame:
    day = pl.col("ts").dt.convert_time_zone(zone).dt.date().alias("day")
    return frame.group_by("user_id", "event", day).agg(pl.len(), pl.col("amount").sum())


@pytest.mark.benchmark(group="W8 ingest")
def test_w8_ingest_polars(benchmark: Any, polars_events: pl.DataFrame, events: Any) -> None:
    groups = run(benchmark, "polars", group_polars, polars_events, events.zone, heavy=True)
    assert groups["len"].sum() == events.log.num_rows


@pytest.mark.benchmark(group="W8 ingest")
def test_w8_ingest_uoseg(benchmark: Any, uoseg: Any, events: Any) -> None:
    require(uoseg.TagStore, "add_events")
    store = run(benchmark, "uoseg", event_store, uoseg, events, heavy=True)
    counts = pc.value_counts(events.log["event"].combine_chunks().dictionary_decode())
    assert store.events() == {str(row["values"]): int(row["counts"]) for row in counts.to_pylist()}


def split_last_day(events: Any) -> tuple[pa.Table, pa.Table]:
    """The log before its last local day, and that day."""
    start = local_midnight(events.as_of, events.zone)
    last = pc.greater_equal(events.log["ts"], pa.scalar(start, pa.timestamp("s", tz="UTC")))
    return events.log.filter(pc.invert(last)), events.log.filter(last)


@pytest.mark.benchmark(group="W8 append one day")
def test_w8_append_day_uoseg(benchmark: Any, uoseg: Any, uoseg_events: Any, events: Any) -> None:
    before, day = split_last_day(events)
    base = event_store(uoseg, events, before)

    def setup() -> tuple[tuple[Any], dict[str, Any]]:
        return (base.snapshot(),), {}

    def append(store: Any) -> Any:
        store.add_events(day, value="amount")
        return store

    benchmark.extra_info.update(tool="uoseg", rows=day.num_rows)
    store = benchmark.pedantic(append, setup=setup, rounds=5, iterations=1)
    assert store.events() == uoseg_events.events()
    query = "DID purchase >= 2 TIMES WITHIN 3 DAYS"
    assert store.count(query, as_of=events.as_of) == uoseg_events.count(query, as_of=events.as_of)


@pytest.mark.benchmark(group="W8 memory")
def test_w8_memory_uoseg(benchmark: Any, uoseg_events: Any, events: Any) -> None:
    held = uoseg_events.memory_breakdown()["events"]
    benchmark.extra_info.update(tool="uoseg", bytes=held, self_reported_bytes=held)
    run(benchmark, "uoseg", lambda: None, heavy=True)
    assert held <= MEMORY_SHARE * events.log.nbytes, (held, events.log.nbytes)


@pytest.mark.benchmark(group="W8 memory")
def test_w8_memory_arrow(benchmark: Any, events: Any) -> None:
    held = int(events.log.nbytes)
    benchmark.extra_info.update(tool="arrow", bytes=held, self_reported_bytes=held)
    run(benchmark, "arrow", lambda: None, heavy=True)
    assert held == sum(np.int64(c.nbytes) for c in events.log.columns)
