"""Playbooks, snapshot diffs and transition matrices, against pandas.

Every built-in playbook is recomputed in pandas from the raw event log and
attributes (days read by pandas' own time-zone conversion), and every label
compared user by user; diffs and transition matrices are checked against
plain sets and ``pandas.crosstab`` on stores whose id dictionaries differ.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import uoseg
from uoseg.datasets import synthetic_events

N_USERS = 4_000


@pytest.fixture(scope="module")
def world() -> tuple[Any, pd.DataFrame, dt.date]:
    events = synthetic_events(N_USERS, seed=7, days=120)
    log = events.log.to_pandas()
    log["day"] = log["ts"].dt.tz_convert(events.zone).dt.tz_localize(None).dt.floor("D")
    log["event"] = log["event"].astype(str)
    return events, log, events.as_of


def event_store(events: Any) -> uoseg.TagStore:
    store = uoseg.TagStore(tz=events.zone)
    store.add_events(events.log, value="amount")
    return store


def labels_of(store: uoseg.TagStore, attribute: str, labels: list[str]) -> dict[int, str]:
    out = {}
    for label in labels:
        if label in store.attribute_values(attribute):
            for user in store.attr(attribute, label).ids():
                out[int(user)] = label
    return out


def window(log: pd.DataFrame, event: str, as_of: dt.date, days: int) -> pd.DataFrame:
    start = pd.Timestamp(as_of) - pd.Timedelta(days=days - 1)
    rows = log[(log["event"] == event) & (log["day"] >= start)]
    return rows[rows["day"] <= pd.Timestamp(as_of)]


def test_lifecycle_matches_pandas(world: Any) -> None:
    events, log, as_of = world
    store = event_store(events)
    result = store.apply(uoseg.playbooks.lifecycle(), as_of=as_of)
    users = store.universe.ids()
    first_signup = log[log["event"] == "signup"].groupby("user_id")["day"].min()
    active_90 = set(window(log, "login", as_of, 90)["user_id"])
    active_30 = set(window(log, "login", as_of, 30)["user_id"])
    today = pd.Timestamp(as_of)
    expected = {}
    for user in map(int, users):
        signed = first_signup.get(user)
        if signed is not None and signed >= today - pd.Timedelta(days=6):
            expected[user] = "引入期"
        elif user not in active_90:
            expected[user] = "流失期"
        elif user not in active_30:
            expected[user] = "休眠期"
        elif signed is not None and signed >= today - pd.Timedelta(days=89):
            expected[user] = "成长期"
        else:
            expected[user] = "成熟期"
    labels = ["引入期", "流失期", "休眠期", "成长期", "成熟期"]
    assert labels_of(store, "lifecycle", labels) == expected
    counts = pd.Series(expected).value_counts()
    assert result.counts() == {label: int(counts.get(label, 0)) for label in labels}
    assert all(n > 0 for n in result.counts().values())
    assert result.playbook.aliases()["成熟期"] == "mature"
    # The attribute is queryable, by label.
    assert store.count('lifecycle = "休眠期"') == counts["休眠期"]


def test_health_and_its_score_match_pandas(world: Any) -> None:
    events, log, as_of = world
    store = event_store(events)
    store.apply(uoseg.playbooks.health(), as_of=as_of)
    store.apply(uoseg.playbooks.health_score(), as_of=as_of)
    days = window(log, "login", as_of, 30).groupby("user_id")["day"].nunique()
    buys = window(log, "purchase", as_of, 30).groupby("user_id").size()
    shares = window(log, "share", as_of, 30).groupby("user_id").size()
    users = list(map(int, store.universe.ids()))
    score = {
        u: int(days.get(u, 0) >= 5) + int(buys.get(u, 0) >= 2) + int(shares.get(u, 0) >= 1)
        for u in users
    }
    name = {3: "健康", 2: "健康", 1: "风险", 0: "不健康"}
    assert labels_of(store, "health", ["健康", "风险", "不健康"]) == {
        u: name[s] for u, s in score.items()
    }
    assert labels_of(store, "health_score", ["3", "2", "1", "0"]) == {
        u: str(s) for u, s in score.items()
    }
    assert len({s for s in score.values()}) == 4


def test_churn_warning_matches_pandas(world: Any) -> None:
    events, log, as_of = world
    store = event_store(events)
    store.apply(uoseg.playbooks.churn_warning(spend=300), as_of=as_of)
    spend = log[log["event"] == "purchase"].groupby("user_id")["amount"].sum()
    last_login = log[log["event"] == "login"].groupby("user_id")["day"].max()
    today = pd.Timestamp(as_of)
    expected = {}
    for user in map(int, store.universe.ids()):
        valuable = spend.get(user, 0.0) > 300
        last = last_login.get(user)
        quiet = lambda d, last=last: last is None or last < today - pd.Timedelta(days=d - 1)  # noqa: E731
        if valuable and quiet(14):
            expected[user] = "高危"
        elif valuable and quiet(7):
            expected[user] = "预警"
        elif not quiet(30) and quiet(7):
            expected[user] = "关注"
        else:
            expected[user] = "正常"
    got = labels_of(store, "churn_warning", ["高危", "预警", "关注", "正常"])
    assert got == expected
    assert {"高危", "预警", "关注", "正常"} <= set(expected.values())


def scored_store(seed: int, n: int = 3_000) -> tuple[uoseg.TagStore, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user_id": np.arange(n, dtype=np.uint32),
            "frequency": rng.integers(1, 20, n),
            "monetary": np.round(rng.lognormal(5, 1, n), 2),
            "成长值": rng.integers(0, 80_000, n),
        }
    )
    store = uoseg.TagStore()
    for column in ("frequency", "monetary", "成长值"):
        store.add_numeric(column, frame["user_id"], frame[column])
    return store, frame


def test_value_quadrants_and_vip_tiers_match_pandas() -> None:
    store, frame = scored_store(3)
    result = store.apply(uoseg.playbooks.value_quadrant(store))
    f_hi = frame["frequency"] > frame["frequency"].median()
    m_hi = frame["monetary"] > frame["monetary"].median()
    quadrant = np.select(
        [f_hi & m_hi, ~f_hi & m_hi, f_hi & ~m_hi], ["明星", "金牛", "问题"], default="瘦狗"
    )
    expected = dict(zip(frame["user_id"].astype(int), quadrant, strict=True))
    assert labels_of(store, "value_quadrant", ["明星", "金牛", "问题", "瘦狗"]) == expected
    assert sum(result.counts().values()) == len(frame)
    store.apply(uoseg.playbooks.vip_tiers())
    tier = pd.cut(
        frame["成长值"],
        [0, 1_000, 5_000, 20_000, 50_000, np.inf],
        right=False,
        labels=["V1", "V2", "V3", "V4", "V5"],
    )
    expected = dict(zip(frame["user_id"].astype(int), tier.astype(str), strict=True))
    assert labels_of(store, "vip_tier", ["V1", "V2", "V3", "V4", "V5"]) == expected


def test_rfm_layers_follow_the_scores() -> None:
    population = uoseg.datasets.synthetic_population(3_000, seed=2)
    scored = uoseg.rfm(population.transactions, as_of=population.as_of)
    store = uoseg.TagStore()
    store.add_rfm(scored)
    store.apply(uoseg.playbooks.rfm_layers())
    table = scored.to_pandas()
    high = {s: table[s] >= 4 for s in "rfm"}
    names = {
        (True, True, True): "重要价值客户",
        (True, False, True): "重要发展客户",
        (False, True, True): "重要保持客户",
        (False, False, True): "重要挽留客户",
        (True, True, False): "一般价值客户",
        (True, False, False): "一般发展客户",
        (False, True, False): "一般保持客户",
        (False, False, False): "一般挽留客户",
    }
    expected = {
        int(u): names[(bool(r), bool(f), bool(m))]
        for u, r, f, m in zip(table["user_id"], high["r"], high["f"], high["m"], strict=True)
    }
    assert labels_of(store, "rfm_layer", list(names.values())) == expected


def test_playbooks_travel_as_toml_and_with_the_store(tmp_path: Path, world: Any) -> None:
    events, _, as_of = world
    book = uoseg.playbooks.lifecycle(new_days=3)
    text = book.to_toml()
    assert uoseg.Playbook.from_toml(text) == book
    path = tmp_path / "lifecycle.toml"
    book.save(path)
    assert uoseg.Playbook.load(path) == book
    store = event_store(events)
    store.save_playbook(book)
    store.save(tmp_path / "s.uoseg")
    loaded = uoseg.TagStore.load(tmp_path / "s.uoseg")
    assert loaded.playbooks() == {"lifecycle": book}
    assert (
        loaded.apply("lifecycle", as_of=as_of).counts() == store.apply(book, as_of=as_of).counts()
    )
    loaded.drop_playbook("lifecycle")
    assert loaded.playbooks() == {}
    with pytest.raises(uoseg.UnknownNameError, match="lifecycle"):
        loaded.drop_playbook("lifecycle")


def test_explain_shows_what_each_rule_loses_to_earlier_ones() -> None:
    store = uoseg.TagStore()
    store.add_numeric("spend", list(range(10)), [0, 5, 10, 50, 100, 200, 500, 900, 1000, 5000])
    book = uoseg.Playbook(
        "tiers",
        [
            ("top", "spend >= 500"),
            ("mid", "spend >= 100"),
            ("again", "spend >= 900"),
            ("none", "spend > 10000"),
        ],
        otherwise="low",
    )
    with pytest.warns(uoseg.PlaybookWarning) as caught:
        result = store.apply(book)
    messages = [str(w.message) for w in caught]
    assert any("rule 2 ('again') is shadowed" in m and "'top'" in m for m in messages)
    assert any("rule 3 ('none') matches nobody" in m for m in messages)
    assert result.counts() == {"top": 4, "mid": 2, "again": 0, "none": 0, "low": 4}
    explained = store.explain_playbook(book).to_pylist()
    assert [(r["label"], r["matched"], r["assigned"], r["lost"]) for r in explained] == [
        ("top", 4, 4, 0),
        ("mid", 6, 2, 4),
        ("again", 3, 0, 3),
        ("none", 0, 0, 0),
    ]
    assert explained[1]["lost_to"] == "top: 4"
    without = uoseg.Playbook("t2", [("top", "spend >= 500")])
    with pytest.warns(uoseg.PlaybookWarning, match="6 users match no rule"):
        store.apply(without)


def test_bad_playbooks_are_refused_naming_the_rule(tmp_path: Path) -> None:
    store = uoseg.TagStore()
    store.add_numeric("spend", [1, 2, 3], [5, 50, 500])
    store.add_tag("vip", [1])
    with pytest.raises(uoseg.InvalidInputError, match="used by rules 0 and 1"):
        uoseg.Playbook("p", [("a", "vip"), ("a", "spend > 1")])
    with pytest.raises(uoseg.InvalidInputError, match="mode"):
        uoseg.Playbook("p", [("a", "vip")], mode="any")
    with pytest.raises(uoseg.UnknownNameError, match=r"rule 1 \('b'\)") as unknown:
        store.apply(uoseg.Playbook("p", [("a", "vip"), ("b", "spnd > 1")]))
    assert "spend" in unknown.value.suggestions
    with pytest.raises(uoseg.QuerySyntaxError, match=r"rule 0 \('a'\)"):
        store.apply(uoseg.Playbook("p", [("a", "vip AND")]))
    overlapping = uoseg.Playbook("p", [("a", "spend > 10"), ("b", "spend > 100")], mode="exclusive")
    before = store.attributes()
    with pytest.raises(uoseg.InvalidInputError, match=r"rules 0 \('a'\) and 1 \('b'\) share 1"):
        store.apply(overlapping)
    assert store.attributes() == before  # nothing written
    # A playbook named like a tag cannot write its attribute; the store is unchanged.
    with pytest.raises(uoseg.InvalidInputError, match="vip"):
        store.apply(uoseg.Playbook("vip", [("a", "spend > 10")], otherwise="b"))
    assert store.attributes() == before
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "p"\n[[rules]]\nlabel = "a"\nquery = "vip\n', encoding="utf-8")
    with pytest.raises(uoseg.InvalidInputError, match="line 4"):
        uoseg.Playbook.load(bad)
    bad.write_text('name = "p"\n[[rules]]\nlabel = "a"\nqeury = "vip"\n', encoding="utf-8")
    with pytest.raises(uoseg.InvalidInputError, match="rule 0 needs a label and a query"):
        uoseg.Playbook.load(bad)


# ---- snapshots ----------------------------------------------------------- #


def string_store(ids: list[str], city: list[str], tags: dict[str, list[str]]) -> uoseg.TagStore:
    store = uoseg.TagStore(ids="string")
    store.add_attribute("city", pa.array(ids), pa.array(city))
    for name, members in tags.items():
        store.add_tag(name, pa.array(members))
    return store


@pytest.fixture(scope="module")
def snapshots() -> tuple[uoseg.TagStore, uoseg.TagStore, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)
    names = [f"u{i}" for i in range(3_000)]
    old_users = [n for n in names if rng.random() < 0.85]
    new_users = [n for n in names if rng.random() < 0.85]
    rng.shuffle(new_users)  # a different dictionary order
    cities = ["北京", "上海", "广州", "深圳"]
    old = pd.DataFrame({"user": old_users, "city": rng.choice(cities, len(old_users))})
    new = pd.DataFrame(
        {"user": new_users, "city": rng.choice([*cities[:3], "杭州"], len(new_users))}
    )
    old_vip = [u for u in old_users if rng.random() < 0.3]
    new_vip = [u for u in new_users if rng.random() < 0.3]
    return (
        string_store(old_users, list(old["city"]), {"vip": old_vip}),
        string_store(new_users, list(new["city"]), {"vip": new_vip}),
        old.assign(vip=old["user"].isin(old_vip)),
        new.assign(vip=new["user"].isin(new_vip)),
    )


def test_diff_matches_sets_across_dictionaries(snapshots: Any) -> None:
    old, new, old_frame, new_frame = snapshots
    query = 'vip AND city IN ("北京", "上海")'
    d = uoseg.diff(old, new, query)
    before = set(old_frame.query('vip and city in ["北京", "上海"]')["user"])
    after = set(new_frame.query('vip and city in ["北京", "上海"]')["user"])
    assert set(d.entered.ids()) == after - before
    assert set(d.left.ids()) == before - after
    assert set(d.stayed.ids()) == after & before
    assert d.counts == {
        "entered": len(after - before),
        "left": len(before - after),
        "stayed": len(after & before),
    }
    assert not d.definition_changed
    old.define("target", query)
    new.define("core", "vip")
    new.define("target", '@core AND city = "北京"')
    changed = uoseg.diff(old, new, "@target")
    assert changed.definition_changed and changed.changed_segments == ("core", "target")
    assert "definition changed" in repr(changed)


def test_transitions_match_pandas_crosstab(snapshots: Any) -> None:
    old, new, old_frame, new_frame = snapshots
    table = uoseg.transitions(old, new, "city")
    merged = (
        old_frame[["user", "city"]]
        .merge(new_frame[["user", "city"]], on="user", how="outer", suffixes=("_old", "_new"))
        .fillna(uoseg.snapshots.NO_VALUE)
    )
    expected = pd.crosstab(merged["city_old"], merged["city_new"])
    for row in table.to_pylist():
        for column in table.labels_to:
            want = (
                int(expected.loc[row["from"], column])
                if row["from"] in expected.index and column in expected.columns
                else 0
            )
            assert row[column] == want, (row["from"], column)
    # Cells as audiences, in both directions.
    moved = merged[(merged["city_old"] == "深圳") & (merged["city_new"] == "杭州")]["user"]
    assert set(table.audience("深圳", "杭州").ids()) == set(moved)
    gone = merged[(merged["city_old"] == "北京") & (merged["city_new"] == "(none)")]["user"]
    assert set(table.audience("北京", "(none)").ids()) == set(gone)
    came = merged[(merged["city_old"] == "(none)") & (merged["city_new"] == "上海")]["user"]
    assert set(table.audience("(none)", "上海").ids()) == set(came)
    shares = table.shares().to_pylist()
    assert all(abs(sum(r[c] or 0 for c in table.labels_to) - 1) < 1e-9 for r in shares[:-1])
    assert table.count("深圳", "杭州") == len(moved)
    with pytest.raises(uoseg.UnknownNameError, match="成都"):
        table.audience("成都", "上海")


def test_transitions_refuse_numbers_and_mixed_id_kinds(snapshots: Any) -> None:
    old, _new, _, _ = snapshots
    other = uoseg.TagStore()
    other.add_attribute("city", [1, 2], ["北京", "上海"])
    with pytest.raises(uoseg.InvalidInputError, match="different kinds of user ids"):
        uoseg.transitions(old, other, "city")
    numbers = uoseg.TagStore()
    numbers.add_numeric("spend", [1, 2], [3, 4])
    with pytest.raises(uoseg.ColumnTypeError, match="numeric"):
        uoseg.transitions(numbers, numbers, "spend")


def test_a_snapshot_of_one_store_compares_without_translation() -> None:
    store = uoseg.TagStore()
    store.add_attribute("stage", [1, 2, 3], ["a", "a", "b"])
    before = store.snapshot()
    store.add_attribute("stage", [2, 4], ["b", "a"])
    table = uoseg.transitions(before, store, "stage")
    assert table.to_pylist() == [
        {"from": "a", "a": 1, "b": 1, "(none)": 0},
        {"from": "b", "a": 0, "b": 1, "(none)": 0},
        {"from": "(none)", "a": 1, "b": 0, "(none)": 0},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(uoseg.diff(before, store, 'stage = "b"').entered) == 1
