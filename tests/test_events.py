"""The event store and behaviour conditions, against DuckDB SQL over the raw log.

DuckDB converts each timestamp to its calendar day in the store's time zone
(``timezone(zone, ts)``), independently of uoseg's own conversion; the logs
cross midnight in every zone and a daylight-saving change in New York.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import uoseg
from event_logs import AS_OF, EVENTS, ZONES, oracle, random_log, store_of
from hypothesis import given, settings
from hypothesis import strategies as st


def sql_users(con: duckdb.DuckDBPyConnection, query: str) -> list[int]:
    return sorted(int(row[0]) for row in con.execute(query).fetchall())


def window_sql(window: tuple[str, Any]) -> str:
    low, high = window_bounds(window)
    return f"day BETWEEN DATE '{low}' AND DATE '{high}'"


def window_dsl(window: tuple[str, Any]) -> str:
    kind, arg = window
    if kind == "within":
        return f"WITHIN {arg} DAYS"
    if kind == "between":
        return f"BETWEEN {arg[0]} AND {arg[1]}"
    return "EVER"


WINDOWS = [
    ("within", 1),
    ("within", 7),
    ("within", 30),
    ("between", (dt.date(2026, 3, 7), dt.date(2026, 3, 9))),
    ("ever", None),
]
MEASURES = [
    ("", "TRUE"),
    (">= 2 TIMES", "count(*) >= 2"),
    ("= 1 TIMES", "count(*) = 1"),
    ("> 3 TIMES", "count(*) > 3"),
    ("ON >= 2 DAYS", "count(DISTINCT day) >= 2"),
    ("ON = 1 DAYS", "count(DISTINCT day) = 1"),
    ("ON > 4 DAYS", "count(DISTINCT day) > 4"),
]


def condition_cases() -> list[tuple[str, str]]:
    """(DSL, SQL) pairs for every event, measure and window."""
    cases = []
    for event in EVENTS:
        for window in WINDOWS:
            where = f"event = '{event}' AND {window_sql(window)}"
            for dsl_measure, having in MEASURES:
                dsl = f"DID {event} {dsl_measure} {window_dsl(window)}".replace("  ", " ")
                sql = f"SELECT user_id FROM log WHERE {where} GROUP BY user_id HAVING {having}"
                cases.append((dsl, sql))
            low, high = window_bounds(window)
            first_sql = (
                f"SELECT user_id FROM log WHERE event = '{event}' GROUP BY user_id "
                f"HAVING min(day) BETWEEN DATE '{low}' AND DATE '{high}'"
            )
            cases.append((f"FIRST {event} {window_dsl(window)}", first_sql))
    for window in WINDOWS:
        for op, value in [(">", 30), ("<=", 12.5), (">=", 0.25)]:
            dsl = f"DID purchase TOTAL amount {op} {value} {window_dsl(window)}"
            sql = (
                f"SELECT user_id FROM log WHERE event = 'purchase' AND {window_sql(window)} "
                f"GROUP BY user_id HAVING coalesce(sum(amount), 0) {op} {value}"
            )
            cases.append((dsl, sql))
    return cases


def window_bounds(window: tuple[str, Any]) -> tuple[dt.date, dt.date]:
    kind, arg = window
    if kind == "within":
        return AS_OF - dt.timedelta(days=arg - 1), AS_OF
    if kind == "between":
        return arg[0], arg[1]
    return dt.date(1900, 1, 1), AS_OF


@pytest.mark.parametrize("zone", ZONES)
def test_every_condition_matches_duckdb(zone: str) -> None:
    log = random_log(seed=len(zone))
    con = oracle(log, zone)
    store = store_of(log, zone)
    for dsl, sql in condition_cases():
        assert store.query(dsl, as_of=AS_OF).ids().tolist() == sql_users(con, sql), dsl


@pytest.mark.parametrize("zone", ZONES)
def test_appends_in_any_order_give_the_same_store(zone: str, tmp_path: Path) -> None:
    log = random_log(seed=7)
    whole = store_of(log, zone)
    pieces = store_of(log, zone, parts=5, seed=3)  # late days arrive after later ones
    path = tmp_path / "events.uoseg"
    pieces.save(path)
    loaded = uoseg.TagStore.load(path)
    assert loaded.tz == zone and loaded.events() == whole.events()
    for dsl, _ in condition_cases()[::3]:
        expected = whole.query(dsl, as_of=AS_OF).ids().tolist()
        assert pieces.query(dsl, as_of=AS_OF).ids().tolist() == expected, dsl
        assert loaded.query(dsl, as_of=AS_OF).ids().tolist() == expected, dsl


def test_conditions_combine_with_tags_not_and_segments() -> None:
    log = random_log(seed=11)
    con = oracle(log, "Asia/Shanghai")
    store = store_of(log, "Asia/Shanghai")
    store.add_tag("vip", list(range(0, 300, 3)))
    store.define("active", "DID login ON >= 3 DAYS WITHIN 30 DAYS")
    query = "@active AND vip AND NOT DID share WITHIN 7 DAYS"
    active = set(
        sql_users(
            con,
            "SELECT user_id FROM log WHERE event = 'login' AND "
            + window_sql(("within", 30))
            + " GROUP BY user_id HAVING count(DISTINCT day) >= 3",
        )
    )
    shared = set(
        sql_users(
            con, f"SELECT user_id FROM log WHERE event = 'share' AND {window_sql(('within', 7))}"
        )
    )
    expected = sorted(u for u in active - shared if u % 3 == 0)
    assert store.query(query, as_of=AS_OF).ids().tolist() == expected
    assert store.count(query, as_of=AS_OF) == len(expected)
    text = str(store.explain(query, as_of=AS_OF))
    assert "DID share WITHIN 7 DAYS" in text and "DID login ON >= 3 DAYS WITHIN 30 DAYS" in text


def test_half_past_eleven_utc_is_the_next_day_in_shanghai() -> None:
    """Peers have shifted days for zones east of UTC; this pins the example in the docs."""
    log = pa.table(
        {
            "user_id": pa.array([1], pa.uint32()),
            "ts": pa.array([dt.datetime(2026, 6, 30, 23, 30)], pa.timestamp("s", tz="UTC")),
            "event": ["login"],
        }
    )
    for zone, day in [("UTC", dt.date(2026, 6, 30)), ("Asia/Shanghai", dt.date(2026, 7, 1))]:
        store = uoseg.TagStore(tz=zone)
        store.add_events(log)
        assert store.count(f"DID login BETWEEN {day} AND {day}") == 1
        assert store.count("DID login WITHIN 1 DAYS", as_of=day) == 1
        other = day - dt.timedelta(days=1) if zone == "Asia/Shanghai" else day + dt.timedelta(1)
        assert store.count("DID login WITHIN 1 DAYS", as_of=other) == 0
    # Naive timestamps are UTC.
    naive = log.set_column(
        1, "ts", pa.array([dt.datetime(2026, 6, 30, 23, 30)], pa.timestamp("us"))
    )
    store = uoseg.TagStore(tz="Asia/Shanghai")
    store.add_events(naive)
    assert store.count("DID login BETWEEN 2026-07-01 AND 2026-07-01") == 1


def test_dates_as_times_and_as_of_given_as_an_instant() -> None:
    log = pa.table(
        {
            "user_id": pa.array([1, 2], pa.uint32()),
            "ts": pa.array([dt.date(2026, 3, 1), dt.date(2026, 3, 2)], pa.date32()),
            "event": ["login", "login"],
        }
    )
    store = uoseg.TagStore(tz="America/New_York")
    store.add_events(log)
    assert store.query("DID login WITHIN 1 DAYS", as_of=dt.date(2026, 3, 2)).ids().tolist() == [2]
    # 2026-03-02 03:00 UTC is still March 1 in New York.
    late = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)
    assert store.query("DID login WITHIN 1 DAYS", as_of=late).ids().tolist() == [1]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40), k=st.integers(1, 6))
def test_properties(seed: int, n: int, k: int) -> None:
    store = store_of(random_log(seed, n_users=60, n_rows=600), "Asia/Shanghai")

    def ids(query: str) -> set[int]:
        return set(store.query(query, as_of=AS_OF).ids().tolist())

    assert ids(f"DID login ON >= 1 DAYS WITHIN {n} DAYS") == ids(f"DID login WITHIN {n} DAYS")
    assert ids(f"DID login >= 1 TIMES WITHIN {n} DAYS") == ids(f"DID login WITHIN {n} DAYS")
    assert ids(f"DID login WITHIN {n} DAYS") <= ids(f"DID login WITHIN {n + 1} DAYS")
    assert ids(f"DID login ON >= {k + 1} DAYS EVER") <= ids(f"DID login ON >= {k} DAYS EVER")
    assert ids(f"DID login ON >= {k} DAYS EVER") <= ids(f"DID login >= {k} TIMES EVER")
    assert ids(f"FIRST login WITHIN {n} DAYS") <= ids(f"DID login WITHIN {n} DAYS")


def test_queries_print_back_as_they_parse() -> None:
    store = store_of(random_log(seed=1), "UTC")
    for dsl, _ in condition_cases():
        text = str(store.explain(dsl, as_of=AS_OF)).splitlines()[0]
        assert dsl.split(" ", 2)[1] in text
    texts = [
        "DID login ON >= 5 DAYS WITHIN 30 DAYS",
        "DID purchase >= 2 TIMES WITHIN 30 DAYS",
        "DID purchase TOTAL amount > 500 WITHIN 90 DAYS",
        "DID login BETWEEN 2026-06-01 AND 2026-06-30",
        "DID purchase EVER",
        "FIRST purchase WITHIN 7 DAYS",
        'DID "观看 直播" WITHIN 3 DAYS',
    ]
    for text in texts:
        assert str(uoseg.Query(text)) == text
    built = [
        uoseg.did("login").on_days(">=", 5).within(30),
        uoseg.did("purchase").times(">=", 2).within(30),
        uoseg.did("purchase").total("amount", ">", 500).within(90),
        uoseg.did("login").between(dt.date(2026, 6, 1), dt.date(2026, 6, 30)),
        uoseg.did("purchase").ever(),
        uoseg.first("purchase").within(7),
        uoseg.did("观看 直播").within(3),
    ]
    assert [str(q) for q in built] == texts
    assert uoseg.did("login").within(7) & ~uoseg.tag("vip") == uoseg.Query(
        "DID login WITHIN 7 DAYS AND NOT vip"
    )


def test_first_and_did_are_still_tag_names() -> None:
    store = uoseg.TagStore()
    store.add_tag("first", [1, 2])
    store.add_tag("did", [2])
    assert store.query("first AND did").ids().tolist() == [2]


def bad_log(**columns: Any) -> pa.Table:
    base: dict[str, Any] = {
        "user_id": pa.array([1, 2, 3], pa.uint32()),
        "ts": pa.array([dt.datetime(2026, 3, 1)] * 3, pa.timestamp("s")),
        "event": ["login", "login", "purchase"],
        "amount": [None, None, 5.0],
    }
    base.update(columns)
    return pa.table(base)


def test_bad_input_is_refused_naming_the_column_and_row() -> None:
    store = uoseg.TagStore()
    store.add_events(bad_log(), value="amount")
    before = store.events()
    cases = [
        (bad_log(ts=pa.array([1, 2, 3], pa.int64())), TypeError, "'ts' has type Int64"),
        (bad_log(ts=pa.array([dt.datetime(2026, 3, 1), None, None])), ValueError, "row 1"),
        (bad_log(user_id=pa.array([1, None, 3], pa.uint32())), ValueError, "row 1"),
        (bad_log(event=["login", None, "x"]), ValueError, "'event' is null at row 1"),
        (bad_log(amount=[None, float("nan"), 1.0]), ValueError, "NaN at row 1"),
        (bad_log(amount=["a", "b", "c"]), TypeError, "'amount'"),
    ]
    for table, kind, message in cases:
        with pytest.raises(kind, match=message) as info:
            store.add_events(table, value="amount")
        assert isinstance(info.value, uoseg.UosegError)
    assert store.events() == before  # every failed add left the store as it was
    with pytest.raises(ValueError, match='pass value="amount"'):
        store.add_events(bad_log(price=[1.0, 2.0, 3.0]), value="price")
    with pytest.raises(uoseg.UnknownNameError, match="did you mean 'login'"):
        store.count("DID logins WITHIN 3 DAYS", as_of=AS_OF)
    with pytest.raises(uoseg.UnknownNameError, match="amount"):
        store.count("DID purchase TOTAL price > 3 EVER", as_of=AS_OF)
    for query, message in [
        ("DID login WITHIN 0 DAYS", "at least 1 day"),
        ("DID login WITHIN -3 DAYS", "positive whole number"),
        ("DID login BETWEEN 2026-03-05 AND 2026-03-01", "empty range"),
        ("DID login < 3 TIMES WITHIN 7 DAYS", "NOT DID"),
        ("DID login = 0 TIMES WITHIN 7 DAYS", "NOT DID"),
        ("DID login ON <= 2 DAYS WITHIN 7 DAYS", "NOT DID"),
    ]:
        with pytest.raises(uoseg.QuerySyntaxError, match=message):
            store.count(query, as_of=AS_OF)
    with pytest.raises(uoseg.InvalidInputError, match="as_of"):
        store.count("DID login WITHIN 3 DAYS")
    with pytest.raises(uoseg.InvalidInputError, match="Mars/Olympus"):
        uoseg.TagStore(tz="Mars/Olympus")
