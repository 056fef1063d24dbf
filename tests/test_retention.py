"""Retention, active users and stickiness, against DuckDB SQL over the raw log.

DuckDB reads each event's local day itself (``timezone(zone, ts)``) and groups
days into periods with ``date_trunc`` (ISO weeks start on Monday), so the
periods, the first-event cohorts and the null cells of uoseg's tables are
checked against an independent reading of the same log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import uoseg
from event_logs import AS_OF, START, ZONES, oracle, random_log, store_of
from hypothesis import given, settings
from hypothesis import strategies as st

UNITS = ["day", "week", "month"]
INTERVAL = {"day": "DAY", "week": "WEEK", "month": "MONTH"}


def retention_log(seed: int, n_users: int = 300) -> pa.Table:
    """random_log plus one or two `signup` events per user (the later one must
    not move the user's cohort)."""
    rng = np.random.default_rng(seed + 1)
    log = random_log(seed, n_users=n_users)
    users = np.arange(n_users, dtype=np.uint32)
    seconds = rng.integers(-3 * 86_400, 40 * 86_400, n_users)
    again = rng.random(n_users) < 0.2
    users = np.concatenate([users, users[again]])
    seconds = np.concatenate([seconds, seconds[again] + rng.integers(1, 9 * 86_400, again.sum())])
    signup = pa.table(
        {
            "user_id": pa.array(users, pa.uint32()),
            "ts": pa.array(
                [START + dt.timedelta(seconds=int(s)) for s in seconds], pa.timestamp("s", tz="UTC")
            ),
            "event": pa.array(["signup"] * len(users)).dictionary_encode(),
            "amount": pa.nulls(len(users), pa.float64()),
        }
    )
    return pa.concat_tables([log, signup.cast(log.schema)])


def lit(day: dt.date) -> str:
    return f"DATE '{day}'"


def trunc(unit: str, sql: str) -> str:
    return f"CAST(date_trunc('{unit}', {sql}) AS DATE)"


def periods_sql(unit: str, first: dt.date, last: dt.date) -> str:
    """Every period of ``unit`` from the one holding ``first`` to the one holding ``last``."""
    low = f"CAST({trunc(unit, lit(first))} AS TIMESTAMP)"
    high = f"CAST({trunc(unit, lit(last))} AS TIMESTAMP)"
    return (
        f"SELECT CAST(p AS DATE) FROM generate_series({low}, {high}, "
        f"INTERVAL 1 {INTERVAL[unit]}) t(p) ORDER BY 1"
    )


def expected_retention(
    con: duckdb.DuckDBPyConnection,
    *,
    event: str,
    cohort: str,
    offsets: list[int],
    start: dt.date,
    end: dt.date,
    unit: str,
    kind: str,
    as_of: dt.date,
    among: list[int] | None = None,
) -> list[dict[str, Any]]:
    """The retention table, computed by DuckDB from the raw log."""
    first_day = trunc(unit, "min(day)")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cohorts AS
        SELECT user_id, {first_day} AS cohort FROM log
        WHERE event = '{cohort}' GROUP BY user_id
        HAVING min(day) <= DATE '{as_of}' AND {first_day}
            BETWEEN {trunc(unit, lit(start))} AND {trunc(unit, lit(end))}"""
    )
    if among is not None:
        con.execute(
            f"DELETE FROM cohorts WHERE user_id NOT IN ({','.join(map(str, among)) or 'NULL'})"
        )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE active AS
        SELECT DISTINCT user_id, {trunc(unit, "day")} AS period FROM log
        WHERE event = '{event}' AND day <= DATE '{as_of}'"""
    )
    last_period = one(con, f"SELECT {trunc(unit, lit(as_of))}")
    periods = [r[0] for r in con.execute(periods_sql(unit, start, min(end, as_of))).fetchall()]
    sizes = dict(con.execute("SELECT cohort, count(*) FROM cohorts GROUP BY cohort").fetchall())
    op = "=" if kind == "n-day" else ">="
    rows = []
    for period in periods:
        row: dict[str, Any] = {"cohort": period, "size": sizes.get(period, 0)}
        for k in offsets:
            target = one(
                con, f"SELECT CAST(DATE '{period}' + INTERVAL {k} {INTERVAL[unit]} AS DATE)"
            )
            row[str(k)] = (
                None
                if target > last_period
                else one(
                    con,
                    f"""SELECT count(DISTINCT c.user_id) FROM cohorts c
                JOIN active a USING (user_id) WHERE c.cohort = DATE '{period}'
                AND a.period {op} DATE '{target}'""",
                )
            )
        rows.append(row)
    return rows


def one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("unit", UNITS)
def test_retention_matches_duckdb(zone: str, unit: str) -> None:
    log = retention_log(3)
    store = store_of(log, zone, parts=3)
    con = oracle(log, zone)
    offsets = [0, 1, 2, 3, 7] if unit != "month" else [0, 1, 2]
    for kind in ("n-day", "unbounded"):
        for start, end, as_of in [
            (dt.date(2026, 2, 20), dt.date(2026, 3, 20), AS_OF),
            (dt.date(2026, 3, 1), dt.date(2026, 3, 12), dt.date(2026, 3, 10)),
        ]:
            table = store.retention(
                "login", "signup", offsets, start=start, end=end, kind=kind, unit=unit, as_of=as_of
            )
            expected = expected_retention(
                con,
                event="login",
                cohort="signup",
                offsets=offsets,
                start=start,
                end=end,
                unit=unit,
                kind=kind,
                as_of=as_of,
            )
            assert table.to_pylist() == expected, (zone, unit, kind, start, end, as_of)


def test_retention_among_an_audience_and_by_other_events() -> None:
    log = retention_log(5)
    store = store_of(log, "Asia/Shanghai", parts=2)
    payers = store.query("DID purchase >= 2 TIMES EVER", as_of=AS_OF)
    con = oracle(log, "Asia/Shanghai")
    for event, cohort in [("purchase", "login"), ("share", "signup")]:
        table = store.retention(
            event,
            cohort,
            [0, 1, 5],
            start="2026-02-25",
            end="2026-03-15",
            among=payers,
            as_of=AS_OF,
        )
        expected = expected_retention(
            con,
            event=event,
            cohort=cohort,
            offsets=[0, 1, 5],
            start=dt.date(2026, 2, 25),
            end=dt.date(2026, 3, 15),
            unit="day",
            kind="n-day",
            as_of=AS_OF,
            among=[int(u) for u in payers.ids()],
        )
        assert table.to_pylist() == expected
    # A query text works as `among` too, run at as_of.
    by_text = store.retention(
        "login", "signup", [1], among="DID purchase >= 2 TIMES EVER", as_of=AS_OF
    )
    by_audience = store.retention("login", "signup", [1], among=payers, as_of=AS_OF)
    assert by_text.to_pylist() == by_audience.to_pylist()


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
def test_cohorts_by_a_date_or_timestamp_attribute(zone: str) -> None:
    log = retention_log(7)
    store = store_of(log, zone)
    con = oracle(log, zone)
    firsts = con.execute(
        "SELECT user_id, min(day) FROM log WHERE event = 'signup' GROUP BY user_id ORDER BY 1"
    ).fetchall()
    users = pa.array([u for u, _ in firsts], pa.uint32())
    store.add_numeric("signup_date", users, pa.array([d for _, d in firsts], pa.date32()))
    by_event = store.retention(
        "login", "signup", [0, 1, 7], unit="week", as_of=AS_OF, start="2026-02-17"
    )
    by_date = store.retention(
        "login", "signup_date", [0, 1, 7], unit="week", as_of=AS_OF, start="2026-02-17"
    )
    assert by_date.to_pylist() == by_event.to_pylist()
    # A timestamp attribute: each user's first signup instant, read in the store's zone.
    instants = con.execute(
        "SELECT user_id, min(ts) FROM raw WHERE CAST(event AS VARCHAR) = 'signup' "
        "GROUP BY user_id ORDER BY 1"
    ).fetchall()
    store.add_numeric(
        "signup_at", users, pa.array([t for _, t in instants], pa.timestamp("ms", tz="UTC"))
    )
    by_instant = store.retention(
        "login", "signup_at", [0, 1, 7], unit="week", as_of=AS_OF, start="2026-02-17"
    )
    assert by_instant.to_pylist() == by_event.to_pylist()


def test_half_past_eleven_utc_signs_up_on_the_next_day_in_shanghai() -> None:
    """Peers that cut days in UTC put this user in the 30 June cohort with a
    day-1 login; in Shanghai both events are on 1 July."""
    log = pa.table(
        {
            "user_id": pa.array([1, 1], pa.uint32()),
            "ts": pa.array(
                [dt.datetime(2026, 6, 30, 23, 30), dt.datetime(2026, 7, 1, 10, 0)],
                pa.timestamp("s", tz="UTC"),
            ),
            "event": ["signup", "login"],
        }
    )
    rows = {}
    for zone in ("Asia/Shanghai", "UTC"):
        store = uoseg.TagStore(tz=zone)
        store.add_events(log)
        table = store.retention("login", "signup", [0, 1], as_of=dt.date(2026, 7, 3))
        rows[zone] = [r for r in table.to_pylist() if r["size"]]
    assert rows["Asia/Shanghai"] == [{"cohort": dt.date(2026, 7, 1), "size": 1, "0": 1, "1": 0}]
    assert rows["UTC"] == [{"cohort": dt.date(2026, 6, 30), "size": 1, "0": 0, "1": 1}]


def worked_example() -> uoseg.TagStore:
    """The example of docs/events.md (the numbers printed there are checked here)."""
    rows = [
        (1, "2026-06-01T09:00", "signup"),
        (1, "2026-06-01T09:05", "login"),
        (1, "2026-06-02T20:00", "login"),
        (1, "2026-06-08T08:00", "login"),
        (2, "2026-06-01T22:00", "signup"),
        (2, "2026-06-03T12:00", "login"),
        (3, "2026-06-02T10:00", "signup"),
        (3, "2026-06-03T10:00", "login"),
        (3, "2026-06-04T10:00", "login"),
    ]
    log = pa.table(
        {
            "user_id": pa.array([r[0] for r in rows], pa.uint32()),
            "ts": pa.array([dt.datetime.fromisoformat(r[1]) for r in rows], pa.timestamp("s")),
            "event": [r[2] for r in rows],
        }
    )
    store = uoseg.TagStore(tz="UTC")
    store.add_events(log)
    return store


def test_the_worked_example_of_the_docs() -> None:
    store = worked_example()
    nday = store.retention("login", "signup", [0, 1, 2, 7], end="2026-06-02", as_of="2026-06-08")
    assert nday.to_pylist() == [
        {"cohort": dt.date(2026, 6, 1), "size": 2, "0": 1, "1": 1, "2": 1, "7": 1},
        {"cohort": dt.date(2026, 6, 2), "size": 1, "0": 0, "1": 1, "2": 1, "7": None},
    ]
    unbounded = store.retention(
        "login", "signup", [0, 1, 2, 7], end="2026-06-02", kind="unbounded", as_of="2026-06-08"
    )
    assert unbounded.to_pylist() == [
        {"cohort": dt.date(2026, 6, 1), "size": 2, "0": 2, "1": 2, "2": 2, "7": 1},
        {"cohort": dt.date(2026, 6, 2), "size": 1, "0": 1, "1": 1, "2": 1, "7": None},
    ]
    rates = nday.rates().to_pylist()
    assert rates[0]["1"] == 0.5 and rates[1]["7"] is None
    assert nday.average() == {"0": 1 / 3, "1": 2 / 3, "2": 2 / 3, "7": 0.5}
    assert nday.rates().average() == nday.average()
    assert store.active_users("login").to_pylist() == [
        {"period": dt.date(2026, 6, d), "users": n}
        for d, n in [(1, 1), (2, 1), (3, 2), (4, 1), (5, 0), (6, 0), (7, 0), (8, 1)]
    ]
    assert store.active_users("login", unit="week").to_pylist() == [
        {"period": dt.date(2026, 6, 1), "users": 3},
        {"period": dt.date(2026, 6, 8), "users": 1},
    ]
    sticky = store.stickiness("login").to_pylist()
    assert sticky == [
        {"period": dt.date(2026, 6, 1), "days": 8, "mean_dau": 0.75, "mau": 3, "stickiness": 0.25},
    ]
    assert "RetentionTable(login after first signup" in repr(nday)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("unit", UNITS)
def test_active_users_match_duckdb(zone: str, unit: str) -> None:
    log = retention_log(11)
    store = store_of(log, zone, parts=2)
    con = oracle(log, zone)
    start, end = dt.date(2026, 2, 24), dt.date(2026, 3, 17)
    table = store.active_users("login", start=start, end=end, unit=unit)
    expected = dict(
        con.execute(
            f"""SELECT CAST(date_trunc('{unit}', day) AS DATE), count(DISTINCT user_id) FROM log
            WHERE event = 'login' AND day BETWEEN DATE '{start}' AND DATE '{end}' GROUP BY 1"""
        ).fetchall()
    )
    periods = [r[0] for r in con.execute(periods_sql(unit, start, end)).fetchall()]
    assert table.to_pylist() == [{"period": p, "users": expected.get(p, 0)} for p in periods]
    sharers = store.query("DID share EVER", as_of=AS_OF)
    within = store.active_users("login", start=start, end=end, unit=unit, among=sharers)
    ids = ",".join(str(u) for u in sharers.ids())
    expected = dict(
        con.execute(
            f"""SELECT CAST(date_trunc('{unit}', day) AS DATE), count(DISTINCT user_id) FROM log
            WHERE event = 'login' AND day BETWEEN DATE '{start}' AND DATE '{end}'
            AND user_id IN ({ids}) GROUP BY 1"""
        ).fetchall()
    )
    assert within.to_pylist() == [{"period": p, "users": expected.get(p, 0)} for p in periods]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1_000), k=st.integers(0, 10))
def test_properties(seed: int, k: int) -> None:
    store = store_of(retention_log(seed, n_users=60), "Asia/Shanghai")
    nday = store.retention("login", "signup", [k, k + 1], as_of=AS_OF).to_pylist()
    unbounded = store.retention(
        "login", "signup", [k, k + 1], kind="unbounded", as_of=AS_OF
    ).to_pylist()
    for n, u in zip(nday, unbounded, strict=True):
        assert n["size"] == u["size"]
        for key in (str(k), str(k + 1)):
            # Unbounded counts at least n-day; neither exceeds the cohort.
            if n[key] is None:
                assert u[key] is None
            else:
                assert n[key] <= u[key] <= u["size"]
        # Unbounded retention never grows with the offset.
        if u[str(k + 1)] is not None:
            assert u[str(k + 1)] <= u[str(k)]
    # Cohorts partition the users whose first signup falls in the range.
    signed = store.count("FIRST signup BETWEEN 2026-02-17 AND 2026-03-20", as_of=AS_OF)
    assert (
        sum(
            r["size"]
            for r in store.retention(
                "login", "signup", [], start="2026-02-17", end="2026-03-20", as_of=AS_OF
            ).to_pylist()
        )
        == signed
    )


def test_bad_arguments_are_refused_with_what_is_wrong() -> None:
    store = store_of(retention_log(1, n_users=50), "UTC")
    with pytest.raises(uoseg.InvalidInputError, match="as_of"):
        store.retention("login", "signup")
    with pytest.raises(uoseg.UnknownNameError, match="logn") as unknown:
        store.retention("logn", "signup", as_of=AS_OF)
    assert "login" in str(unknown.value)
    with pytest.raises(uoseg.UnknownNameError, match="sigup"):
        store.retention("login", "sigup", as_of=AS_OF)
    store.add_numeric("age", pa.array([1, 2], pa.uint32()), pa.array([30, 40]))
    with pytest.raises(uoseg.ColumnTypeError, match="age"):
        store.retention("login", "age", as_of=AS_OF, start="2026-03-01")
    with pytest.raises(uoseg.InvalidInputError, match="after end"):
        store.retention("login", "signup", start="2026-03-10", end="2026-03-01", as_of=AS_OF)
    with pytest.raises(uoseg.InvalidInputError, match=r"days\[1\] = -1"):
        store.retention("login", "signup", [0, -1], as_of=AS_OF)
    with pytest.raises(uoseg.ColumnTypeError, match=r"days\[0\]"):
        store.retention("login", "signup", ["1"], as_of=AS_OF)  # type: ignore[list-item]
    with pytest.raises(uoseg.InvalidInputError, match="given twice"):
        store.retention("login", "signup", [1, 2, 1], as_of=AS_OF)
    with pytest.raises(uoseg.InvalidInputError, match="fortnight"):
        store.retention("login", "signup", unit="fortnight", as_of=AS_OF)
    with pytest.raises(uoseg.InvalidInputError, match="kind"):
        store.retention("login", "signup", kind="rolling", as_of=AS_OF)
    with pytest.raises(uoseg.InvalidInputError, match="not a date"):
        store.retention("login", "signup", start="March 1st", as_of=AS_OF)
    with pytest.raises(uoseg.InvalidInputError, match="after end"):
        store.active_users("login", start="2026-03-10", end="2026-03-01")
    with pytest.raises(uoseg.UnknownNameError, match="purchse"):
        store.active_users("purchse")
