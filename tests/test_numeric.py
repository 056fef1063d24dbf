"""Numeric, date and timestamp attributes: range audiences against pandas masks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import uoseg
from hypothesis import given
from hypothesis import strategies as st

ints = st.lists(
    st.none() | st.integers(-(2**62), 2**62) | st.integers(-5, 5), min_size=1, max_size=60
)
floats = st.lists(
    st.none()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.0, -0.0, 1.5, 0.1]),
    min_size=1,
    max_size=60,
)
bounds = st.none() | st.integers(-6, 6) | st.floats(-6, 6) | st.integers(-(2**62), 2**62)


def check_range(
    values: list[object], pa_type: pa.DataType, lo: object, hi: object, lo_inc: bool, hi_inc: bool
) -> None:
    users = np.arange(len(values), dtype=np.uint32) * 3
    store = uoseg.TagStore()
    store.add_numeric("x", users, pa.array(values, pa_type))
    series = pd.Series(pa.array(values, pa_type).to_pandas(), dtype="object")
    numbers = pd.to_numeric(series, errors="coerce")
    mask = numbers.notna()
    if lo is not None:
        mask &= (numbers >= lo) if lo_inc else (numbers > lo)
    if hi is not None:
        mask &= (numbers <= hi) if hi_inc else (numbers < hi)
    kwargs = {}
    if lo is not None:
        kwargs["ge" if lo_inc else "gt"] = lo
    if hi is not None:
        kwargs["le" if hi_inc else "lt"] = hi
    got = store.range("x", **kwargs).ids()
    assert got.tolist() == users[mask.to_numpy(dtype=bool)].tolist(), (kwargs, values)


@given(values=ints, lo=bounds, hi=bounds, lo_inc=st.booleans(), hi_inc=st.booleans())
def test_integer_ranges_match_pandas(
    values: list[object], lo: object, hi: object, lo_inc: bool, hi_inc: bool
) -> None:
    check_range(values, pa.int64(), lo, hi, lo_inc, hi_inc)


@given(values=floats, lo=bounds, hi=bounds, lo_inc=st.booleans(), hi_inc=st.booleans())
def test_float_ranges_match_pandas(
    values: list[object], lo: object, hi: object, lo_inc: bool, hi_inc: bool
) -> None:
    check_range(values, pa.float64(), lo, hi, lo_inc, hi_inc)


def test_equals_is_null_and_stats() -> None:
    store = uoseg.TagStore()
    store.add_tag("vip", [1, 2])
    store.add_numeric("spend", [1, 2, 3], pa.array([10, None, 30], pa.int64()))
    assert store.equals("spend", 10).ids().tolist() == [1]
    assert store.is_null("spend").ids().tolist() == [2]
    stats = store.stats("spend")
    assert (stats["count"], stats["sum"], stats["min"], stats["max"], stats["mean"]) == (
        2,
        40,
        10,
        30,
        20.0,
    )
    assert store.stats("spend", store.tag("vip"))["sum"] == 10
    assert store.values("spend").tolist() == [10.0, 30.0]


def test_dates_and_timestamps() -> None:
    store = uoseg.TagStore()
    days = pa.array([dt.date(2025, 1, 1), dt.date(2026, 1, 1), None], pa.date32())
    stamps = pa.array(
        [dt.datetime(2025, 12, 31, 23, 59), None, dt.datetime(2026, 1, 2)], pa.timestamp("ms")
    )
    store.add_numeric("birthday", [1, 2, 3], days)
    store.add_numeric("seen", [1, 2, 3], stamps)
    assert store.range("birthday", ge=dt.date(2025, 6, 1)).ids().tolist() == [2]
    assert store.range("seen", lt=dt.datetime(2026, 1, 1)).ids().tolist() == [1]
    assert store.range(
        "seen", ge=dt.datetime(2026, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    ).ids().tolist() == [3]
    assert store.query("seen WITHIN 1 DAYS", as_of=dt.datetime(2026, 1, 1)).ids().tolist() == [1]
    assert store.query("birthday WITHIN 0 DAYS", as_of=dt.date(2026, 1, 1)).ids().tolist() == [2]


def test_updates_keep_other_users_values() -> None:
    store = uoseg.TagStore()
    store.add_numeric("age", [1, 2, 3], [20, 30, 40])
    old = store.range("age", ge=30)
    store.add_numeric("age", [3, 4], [25, 50])
    assert store.range("age", ge=30).ids().tolist() == [2, 4]
    assert old.ids().tolist() == [2, 3]
    with pytest.raises(TypeError, match="integer"):
        store.add_numeric("age", [1], [1.5])


def test_from_wide_indexes_numeric_columns_and_persists(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n = 50_000
    frame = pd.DataFrame(
        {
            "user_id": np.arange(n, dtype=np.uint32),
            "age": rng.integers(16, 71, n).astype(np.int8),
            "monetary": np.round(rng.lognormal(4, 1, n), 2),
            "signup_ts": pd.to_datetime(rng.integers(1.6e9, 1.7e9, n), unit="s"),
        }
    )
    store = uoseg.TagStore.from_wide(frame)
    cases = {
        "age BETWEEN 25 AND 35": (frame.age >= 25) & (frame.age <= 35),
        "monetary > 500": frame.monetary > 500,
        "monetary <= 54.6": frame.monetary <= 54.6,
        "signup_ts >= 2023-06-01": frame.signup_ts >= pd.Timestamp("2023-06-01"),
    }
    path = tmp_path / "w.uoseg"
    store.save(path)
    loaded = uoseg.TagStore.load(path)
    for text, mask in cases.items():
        expected = np.flatnonzero(mask.to_numpy()).astype(np.uint32)
        assert np.array_equal(store.query(text).ids(), expected), text
        assert np.array_equal(loaded.query(text).ids(), expected), text
    assert store.stats("monetary")["sum"] == pytest.approx(frame.monetary.sum())


def test_bad_numeric_input() -> None:
    store = uoseg.TagStore()
    with pytest.raises(uoseg.InvalidInputError, match="user"):
        store.add_numeric("x", [1, 1], [1, 2])
    with pytest.raises(TypeError, match="'x'"):
        store.add_numeric("x", [1], ["a"])
    with pytest.raises(ValueError, match="differ in length"):
        store.add_numeric("x", [1, 2], [1])
    store.add_attribute("city", [1], ["SH"])
    with pytest.raises(TypeError, match="categorical"):
        store.range("city", ge=1)
