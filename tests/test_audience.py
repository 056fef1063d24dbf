"""Audience algebra against plain Python sets; the bitmap format against pyroaring."""

from __future__ import annotations

import array
import pickle
import threading

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import uoseg
from hypothesis import given
from hypothesis import strategies as st
from pyroaring import BitMap

id_sets = st.sets(st.integers(0, 2**32 - 1), max_size=300) | st.sets(
    st.integers(0, 200_000), max_size=3000
)


def store_of(sets: dict[str, set[int]], universe_extra: set[int] = frozenset()) -> uoseg.TagStore:
    store = uoseg.TagStore(ids="uint32")
    for name, users in sets.items():
        store.add_tag(name, np.array(sorted(users), dtype=np.uint32))
    if universe_extra:
        store.add_users(np.array(sorted(universe_extra), dtype=np.uint32))
    return store


@given(a=id_sets, b=id_sets, c=id_sets, extra=id_sets)
def test_algebra_matches_python_sets(
    a: set[int], b: set[int], c: set[int], extra: set[int]
) -> None:
    store = store_of({"a": a, "b": b, "c": c}, extra)
    universe = a | b | c | extra
    A, B, C = store.tag("a"), store.tag("b"), store.tag("c")
    cases = {
        "and": (A & B, a & b),
        "or": (A | B, a | b),
        "sub": (A - B, a - b),
        "xor": (A ^ B, a ^ b),
        "not": (~A, universe - a),
        "mixed": ((A & B) | (C - A), (a & b) | (c - a)),
        "union": (uoseg.union(A, B, C), a | b | c),
        "intersection": (uoseg.intersection(A, B, C), a & b & c),
    }
    for name, (audience, expected) in cases.items():
        assert audience.ids().tolist() == sorted(expected), name
        assert len(audience) == len(expected) == audience.count(), name
    assert A.intersection_count(B) == len(a & b)
    assert A.union_count(B) == len(a | b)
    assert A.difference_count(B) == len(a - b)
    expected_jaccard = len(a & b) / len(a | b) if a | b else 1.0
    assert A.jaccard(B) == pytest.approx(expected_jaccard)
    assert (A == store.tag("a")) and ((A == B) == (a == b))
    assert list(A) == sorted(a)
    for x in list(a)[:5]:
        assert x in A


OPERATORS = ["&", "|", "-", "^", "~"]


@st.composite
def expression_steps(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """A program of audience operations: (operator, left slot, right slot)."""
    return draw(
        st.lists(
            st.tuples(st.sampled_from(OPERATORS), st.integers(0, 99), st.integers(0, 99)),
            min_size=1,
            max_size=60,
        )
    )


@given(a=id_sets, b=id_sets, c=id_sets, extra=id_sets, steps=expression_steps())
def test_chained_lazy_algebra_matches_python_sets(
    a: set[int], b: set[int], c: set[int], extra: set[int], steps: list[tuple[str, int, int]]
) -> None:
    # Combined audiences are evaluated lazily (fused, chunk by chunk) and long
    # chains are built part-way; counts come before and after building.
    store = store_of({"a": a, "b": b, "c": c}, extra)
    universe = a | b | c | extra
    slots: list[tuple[uoseg.Audience, set[int]]] = [
        (store.tag("a"), a),
        (store.tag("b"), b),
        (store.tag("c"), c),
    ]
    for op, i, j in steps:
        (x, xs), (y, ys) = slots[i % len(slots)], slots[j % len(slots)]
        if op == "&":
            slots.append((x & y, xs & ys))
        elif op == "|":
            slots.append((x | y, xs | ys))
        elif op == "-":
            slots.append((x - y, xs - ys))
        elif op == "^":
            slots.append((x ^ y, xs ^ ys))
        else:
            slots.append((~x, universe - xs))
    for audience, expected in slots[3:]:
        assert audience.count() == len(expected)
    for audience, expected in slots[3:]:
        assert audience.ids().tolist() == sorted(expected)
        assert len(audience) == len(expected)


@given(ids=id_sets)
def test_serialize_is_byte_identical_to_pyroaring(ids: set[int]) -> None:
    store = store_of({"x": ids})
    ours = store.tag("x").serialize()
    theirs = BitMap(array.array("I", sorted(ids)))
    theirs.run_optimize()
    assert ours == theirs.serialize()
    # And we read what pyroaring writes, with and without run containers.
    for bitmap in (theirs, BitMap(array.array("I", sorted(ids)))):
        back = uoseg.Audience.deserialize(bitmap.serialize())
        assert back.ids().tolist() == sorted(ids)


def test_deserialize_refuses_garbage() -> None:
    with pytest.raises(uoseg.StoreFormatError):
        uoseg.Audience.deserialize(b"not a bitmap at all")
    good = BitMap([1, 2, 3]).serialize()
    with pytest.raises(ValueError):
        uoseg.Audience.deserialize(good[:-1])


def test_standalone_audience_combines_with_uint32_store_only() -> None:
    store = store_of({"vip": {1, 2, 3}})
    imported = uoseg.Audience.deserialize(BitMap([2, 3, 4]).serialize())
    assert (store.tag("vip") & imported).ids().tolist() == [2, 3]
    with pytest.raises(uoseg.InvalidInputError, match="no universe"):
        _ = ~imported
    strings = uoseg.TagStore.from_long(pa.table({"user_id": ["a"], "tag": ["t"]}))
    with pytest.raises(uoseg.InvalidInputError, match="string user ids"):
        strings.tag("t") & imported


def test_ids_are_numpy_and_arrow() -> None:
    store = store_of({"vip": {5, 1, 3}})
    ids = store.tag("vip").ids()
    assert ids.dtype == np.uint32 and ids.tolist() == [1, 3, 5]
    assert ids.flags["OWNDATA"] or ids.base is not None
    arrow = store.tag("vip").to_arrow()
    assert arrow.type == pa.uint32() and arrow.to_pylist() == [1, 3, 5]
    assert pl.Series(store.tag("vip")).to_list() == [1, 3, 5]  # PyCapsule


def test_pickle_round_trip_keeps_universe_and_dictionary() -> None:
    store = uoseg.TagStore.from_long(pa.table({"user_id": ["a", "b", "c"], "tag": ["x", "x", "y"]}))
    audience = store.tag("x")
    back = pickle.loads(pickle.dumps(audience))
    assert back == audience
    assert sorted(back.ids().tolist()) == ["a", "b"]
    assert (~back).ids().tolist() == ["c"]
    assert repr(back) == "Audience(2 users of 3)"


def test_overlap_matrix_matches_pairwise_counts() -> None:
    rng = np.random.default_rng(3)
    sets = {f"t{i}": set(rng.integers(0, 5000, 800 // (i + 1)).tolist()) for i in range(8)}
    store = store_of(sets)
    names = list(sets)
    matrix = store.overlap_matrix(names)
    assert matrix.dtype == np.int64 and matrix.shape == (8, 8)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            assert matrix[i, j] == len(sets[a] & sets[b])
    with pytest.raises(uoseg.UnknownNameError):
        store.overlap_matrix(["t0", "nope"])


def test_many_threads_get_the_serial_answers() -> None:
    rng = np.random.default_rng(11)
    sets = {f"t{i}": set(rng.integers(0, 200_000, 50_000).tolist()) for i in range(6)}
    store = store_of(sets)
    queries = [
        lambda: (store.tag("t0") & store.tag("t1")) | (store.tag("t2") - store.tag("t3")),
        lambda: ~store.tag("t4") ^ store.tag("t5"),
        lambda: uoseg.union(*(store.tag(n) for n in sets)),
    ]
    serial = [q().ids() for q in queries]
    # One lazy audience that all threads build at once (the first build wins).
    shared = (store.tag("t0") & store.tag("t1")) | store.tag("t2")
    shared_expected = ((store.tag("t0") & store.tag("t1")) | store.tag("t2")).ids()
    failures: list[str] = []

    def worker() -> None:
        if shared.count() != len(shared_expected) or not np.array_equal(
            shared.ids(), shared_expected
        ):
            failures.append("shared mismatch")
        for _ in range(30):
            for q, expected in zip(queries, serial, strict=True):
                if not np.array_equal(q().ids(), expected):
                    failures.append("mismatch")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


@given(a=id_sets, b=id_sets, e1=id_sets, e2=id_sets)
def test_complements_keep_their_own_store_universe(
    a: set[int], b: set[int], e1: set[int], e2: set[int]
) -> None:
    # Two uint32 stores combine in the union of their universes; a complement
    # taken in one stays relative to that store's universe.
    first, second = store_of({"a": a}, e1), store_of({"b": b}, e2)
    u1, u2 = a | e1, b | e2
    got = ~first.tag("a") | second.tag("b")
    assert got.ids().tolist() == sorted((u1 - a) | b)
    got = (~first.tag("a") | second.tag("b")) - ~second.tag("b")
    assert got.count() == len(((u1 - a) | b) - (u2 - b))


def test_combining_with_non_audience_is_a_type_error() -> None:
    store = store_of({"a": {1}})
    with pytest.raises(TypeError):
        store.tag("a") & {1}  # type: ignore[operator]
    with pytest.raises(TypeError):
        uoseg.union(store.tag("a"), 3)  # type: ignore[arg-type]


# ---- audiences of dictionary stores: equality, order, bytes ----

kinds_and_ids = st.sampled_from(["int64", "uint64", "string"]).flatmap(
    lambda kind: st.tuples(
        st.just(kind),
        st.lists(
            st.text(min_size=1, max_size=6)
            if kind == "string"
            else st.integers(0, 2**63 - 1 if kind == "int64" else 2**64 - 1),
            min_size=0,
            max_size=40,
            unique=True,
        ),
    )
)


def dictionary_store(kind: str, ids: list[object]) -> uoseg.TagStore:
    store = uoseg.TagStore(ids=kind)
    types = {"int64": pa.int64(), "uint64": pa.uint64(), "string": pa.string()}
    store.add_tag("a", pa.array(ids, types[kind]))
    return store


@given(kinds_and_ids, st.randoms(use_true_random=False))
def test_ids_come_out_sorted_by_value_for_every_id_kind(
    kind_ids: tuple[str, list[object]], rnd: object
) -> None:
    kind, ids = kind_ids
    store = dictionary_store(kind, ids)
    expected = sorted(ids)  # type: ignore[type-var]
    audience = store.tag("a")
    assert audience.ids().tolist() == expected
    assert list(audience) == expected
    assert pa.array(audience).to_pylist() == expected
    assert audience.to_arrow().to_pylist() == expected


@given(kinds_and_ids, st.permutations(range(40)), st.integers(0, 40))
def test_equality_compares_the_users_own_ids_across_dictionaries(
    kind_ids: tuple[str, list[object]], order: list[int], drop: int
) -> None:
    kind, ids = kind_ids
    first = dictionary_store(kind, ids)
    # The same users registered in another order, after other users: other rows.
    shuffled = [ids[i] for i in order if i < len(ids)]
    second = uoseg.TagStore(ids=kind)
    second.add_users(pa.array(shuffled[::-1], first.tag("a").to_arrow().type))
    second.add_tag("a", pa.array(shuffled, first.tag("a").to_arrow().type))
    assert first.tag("a") == second.tag("a")
    assert (first.tag("a") != second.tag("a")) is False
    fewer = uoseg.TagStore(ids=kind)
    kept = shuffled[:drop] if drop < len(shuffled) else shuffled[:-1]
    fewer.add_users(pa.array(shuffled, first.tag("a").to_arrow().type))
    fewer.add_tag("a", pa.array(kept, first.tag("a").to_arrow().type))
    assert (first.tag("a") == fewer.tag("a")) == (len(kept) == len(ids))


def test_equality_of_string_audiences_is_by_user_not_by_row() -> None:
    alice, bob = uoseg.TagStore(ids="string"), uoseg.TagStore(ids="string")
    alice.add_tag("a", ["alice"])
    bob.add_tag("a", ["bob"])
    assert alice.tag("a") != bob.tag("a")
    later = uoseg.TagStore(ids="string")
    later.add_tag("x", ["zed"])
    later.add_tag("a", ["alice"])
    assert alice.tag("a") == later.tag("a")
    numbers = uoseg.TagStore(ids="int64")
    numbers.add_tag("a", pa.array([0], pa.int64()))
    assert alice.tag("a") != numbers.tag("a")


@given(a=id_sets, b=id_sets)
def test_serialize_is_canonical_however_the_audience_was_computed(a: set[int], b: set[int]) -> None:
    store = store_of({"a": a, "b": b})
    for audience in (
        store.tag("a"),
        store.tag("a") | store.tag("b"),
        store.tag("a") & store.tag("b"),
        store.tag("a") - store.tag("b"),
        store.tag("a") ^ store.tag("b"),
        ~store.tag("b"),
        store.query("a OR NOT b"),
    ):
        expected = BitMap(array.array("I", audience.ids().tolist()))
        expected.run_optimize()
        assert audience.serialize() == expected.serialize()


def test_runs_of_consecutive_ids_serialize_as_pyroaring_runs() -> None:
    store = store_of({"a": set(range(0, 200_000)), "b": set(range(50_000, 300_000, 3))})
    for audience in (store.tag("a") | store.tag("b"), store.tag("a") - store.tag("b")):
        expected = BitMap(audience.ids())
        expected.run_optimize()
        assert audience.serialize() == expected.serialize()


@pytest.mark.parametrize("kind", ["int64", "uint64", "string"])
def test_serialized_audience_comes_back_through_its_store(kind: str) -> None:
    ids: list[object] = ["carol", "alice", "bob"] if kind == "string" else [30, 10, 20]
    store = dictionary_store(kind, ids)
    data = (store.tag("a") - store.audience(ids[:1])).serialize()
    back = store.audience_from_bytes(data)
    assert back.ids().tolist() == sorted(ids[1:])  # type: ignore[type-var]
    assert back == store.tag("a") - store.audience(ids[:1])
    copy = uoseg.TagStore.from_bytes(store.to_bytes())
    assert copy.audience_from_bytes(data).ids().tolist() == sorted(ids[1:])  # type: ignore[type-var]
    # Without a store the bytes are the dictionary's rows, not the users.
    assert uoseg.Audience.deserialize(data).ids().tolist() == [1, 2]
    with pytest.raises(uoseg.InvalidInputError, match="not a user of this store"):
        store.audience_from_bytes(BitMap([7]).serialize())
