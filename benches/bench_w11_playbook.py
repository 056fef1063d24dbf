"""W11 playbook: the lifecycle playbook applied to every user of the event store.

uoseg applies ``uoseg.playbooks.lifecycle()`` (five stages from the first
signup and the last login, as of the log's last day) and writes the stage as
a categorical attribute. polars runs the same rules over the raw log: each
user's first signup day and last login day (local days in the log's zone),
then the ordered rules as one ``when/then`` chain. Stage counts are compared.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
import pytest
from uoseg_bench import require, run

STAGES = ["引入期", "流失期", "休眠期", "成长期", "成熟期"]


def lifecycle_polars(frame: pl.DataFrame, events: Any) -> dict[str, int]:
    day = pl.col("ts").dt.convert_time_zone(events.zone).dt.date()
    today = events.as_of
    users = frame.select(pl.col("user_id").unique())
    first_signup = (
        frame.filter(pl.col("event") == "signup").group_by("user_id").agg(signup=day.min())
    )
    last_login = frame.filter(pl.col("event") == "login").group_by("user_id").agg(login=day.max())
    since = lambda days: today - timedelta(days=days - 1)  # noqa: E731
    stage = (
        pl.when(pl.col("signup") >= since(7))
        .then(pl.lit("引入期"))
        .when(pl.col("login").is_null() | (pl.col("login") < since(90)))
        .then(pl.lit("流失期"))
        .when(pl.col("login") < since(30))
        .then(pl.lit("休眠期"))
        .when(pl.col("signup") >= since(90))
        .then(pl.lit("成长期"))
        .otherwise(pl.lit("成熟期"))
    )
    stages = (
        users.join(first_signup, on="user_id", how="left")
        .join(last_login, on="user_id", how="left")
        .select(stage.alias("stage"))
        .group_by("stage")
        .len()
    )
    return dict(zip(stages["stage"].to_list(), stages["len"].to_list(), strict=True))


def lifecycle_uoseg(uoseg: Any, store: Any, events: Any) -> dict[str, int]:
    snapshot = store.snapshot()  # the shared fixture keeps its attributes
    counts: dict[str, int] = snapshot.apply(
        uoseg.playbooks.lifecycle(), as_of=events.as_of
    ).counts()
    return counts


@pytest.fixture(scope="module")
def w11_counts(polars_events: pl.DataFrame, events: Any) -> dict[str, int]:
    counts = lifecycle_polars(polars_events, events)
    assert set(counts) == set(STAGES)
    return counts


@pytest.mark.benchmark(group="W11 lifecycle playbook")
def test_w11_lifecycle_uoseg(
    benchmark: Any, uoseg: Any, uoseg_events: Any, events: Any, w11_counts: dict[str, int]
) -> None:
    require(uoseg, "playbooks")
    assert run(benchmark, "uoseg", lifecycle_uoseg, uoseg, uoseg_events, events) == w11_counts


@pytest.mark.benchmark(group="W11 lifecycle playbook")
def test_w11_lifecycle_polars(
    benchmark: Any, polars_events: pl.DataFrame, events: Any, w11_counts: dict[str, int]
) -> None:
    got = run(benchmark, "polars", lifecycle_polars, polars_events, events, heavy=True)
    assert got == w11_counts
