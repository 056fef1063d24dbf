"""Query lint: findings with positions, and the property that matters most:
every query lint calls empty is empty (and every one it calls "all" is
everyone) on random stores."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
import uoseg
from hypothesis import given, settings
from hypothesis import strategies as st

AS_OF = dt.date(2026, 3, 31)


def random_store(seed: int) -> uoseg.TagStore:
    rng = np.random.default_rng(seed)
    n = 200
    store = uoseg.TagStore()
    users = np.arange(n, dtype=np.uint32)
    store.add_users(users)
    for t in range(3):
        store.add_tag(f"t{t}", users[rng.random(n) < 0.4])
    has_age = users[rng.random(n) < 0.8]
    store.add_numeric("age", has_age, rng.integers(10, 60, len(has_age)))
    has_city = users[rng.random(n) < 0.8]
    store.add_attribute("city", has_city, rng.choice(["a", "b", "c"], len(has_city)))
    rows = 1_500
    days = rng.integers(0, 40, rows)
    store.add_events(
        pa.table(
            {
                "user_id": pa.array(rng.integers(0, n, rows), pa.uint32()),
                "ts": pa.array(
                    [dt.datetime(2026, 2, 20) + dt.timedelta(days=int(d)) for d in days],
                    pa.timestamp("s"),
                ),
                "event": rng.choice(["x", "y"], rows),
            }
        )
    )
    return store


def atoms() -> st.SearchStrategy[str]:
    number = st.integers(5, 65)
    ops = st.sampled_from(["<", "<=", ">", ">=", "=", "!="])
    cities = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)
    quoted = cities.map(lambda cs: ", ".join(f'"{c}"' for c in cs))
    return st.one_of(
        st.sampled_from(["t0", "t1", "t2", "ALL"]),
        st.builds(lambda o, v: f"age {o} {v}", ops, number),
        st.builds(lambda a, b: f"age BETWEEN {min(a, b)} AND {max(a, b)}", number, number),
        st.builds(lambda v: f'city = "{v}"', st.sampled_from(["a", "b", "c", "d"])),
        st.builds(lambda vs: f"city IN ({vs})", quoted),
        st.builds(lambda vs: f"city NOT IN ({vs})", quoted),
        st.sampled_from(["age IS NULL", "age IS NOT NULL", "city IS NULL"]),
        st.builds(
            lambda e, n, k: (
                f"DID {e} >= {k} TIMES WITHIN {n} DAYS" if k > 1 else f"DID {e} WITHIN {n} DAYS"
            ),
            st.sampled_from(["x", "y"]),
            st.integers(1, 40),
            st.integers(1, 3),
        ),
        st.builds(lambda e: f"DID {e} EVER", st.sampled_from(["x", "y"])),
        st.builds(
            lambda e, n: f"FIRST {e} WITHIN {n} DAYS",
            st.sampled_from(["x", "y"]),
            st.integers(1, 40),
        ),
    )


def queries() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            inner.map(lambda q: f"NOT ({q})"),
            st.lists(inner, min_size=2, max_size=4).map(
                lambda qs: " AND ".join(f"({q})" for q in qs)
            ),
            st.lists(inner, min_size=2, max_size=3).map(
                lambda qs: " OR ".join(f"({q})" for q in qs)
            ),
            # Contradictions and tautologies on purpose, so the verdicts come up.
            inner.map(lambda q: f"({q}) AND NOT ({q})"),
            inner.map(lambda q: f"({q}) OR NOT ({q})"),
        )

    return st.recursive(atoms(), extend, max_leaves=6)


STORES = [random_store(seed) for seed in range(3)]


@settings(max_examples=400, deadline=None)
@given(query=queries(), which=st.integers(0, len(STORES) - 1))
def test_what_lint_calls_empty_is_empty(query: str, which: int) -> None:
    store = STORES[which]
    found = store.lint(query)
    count = store.count(query, as_of=AS_OF)
    if found.verdict == "empty":
        assert count == 0, (query, str(found))
    elif found.verdict == "all":
        assert count == len(store), (query, str(found))
    # Lint without a store never claims more than with it.
    alone = uoseg.lint(query)
    if alone.verdict != "unknown":
        assert alone.verdict == found.verdict


@pytest.mark.parametrize(
    "query",
    [
        "t1 AND NOT t1",
        "age < 20 AND age > 30",
        'city IN ("a", "b") AND city IN ("c")',
        "DID x WITHIN 7 DAYS AND NOT DID x WITHIN 30 DAYS",
        "age IS NULL AND age >= 3",
    ],
)
def test_contradictions_are_called_empty(query: str) -> None:
    found = uoseg.lint(query)
    assert found.verdict == "empty"
    assert [f.kind for f in found] == ["contradiction"]
    assert STORES[0].count(query, as_of=AS_OF) == 0


def test_findings_point_at_the_terms() -> None:
    text = "t0 AND age > 30 AND t0 AND age > 20"
    found = uoseg.lint(text)
    assert [(f.kind, f.position, text[f.position : f.end]) for f in found] == [
        ("redundant", text.rindex("t0"), "t0"),
        ("redundant", text.rindex("age"), "age"),
    ]
    assert "implied by `age > 30`" in found.findings[1].message
    assert uoseg.lint("t0 OR NOT t0").verdict == "all"
    assert not uoseg.lint("t0 AND age > 30")
    # Positions count characters, and the caret lines up under wide ones.
    wide = "高价值用户 AND NOT 高价值用户"
    finding = uoseg.lint(wide).findings[0]
    assert finding.position == 0 and str(finding).splitlines()[2].startswith("  ^^^^")


def test_the_store_adds_name_checks_and_explain_shows_them() -> None:
    store = STORES[0]
    store_findings = store.lint('t0 AND city = "zz" AND nosuch')
    kinds = {(f.kind, f.message) for f in store_findings}
    assert ("empty name", 'no user has `city = "zz"`') in kinds
    assert ("unknown name", "the store has no tag 'nosuch'") in kinds
    assert store_findings.verdict == "empty"
    empty = uoseg.TagStore()
    empty.add_users([1, 2])
    empty.add_tag("nobody", pa.array([], pa.uint32()))
    assert empty.lint("nobody").verdict == "empty"
    explained = store.explain("t0 AND t0")
    assert explained.lint is not None and "repeats an earlier term" in str(explained)
