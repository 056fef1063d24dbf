"""A/B splits: groups reproduced by an independent Python implementation of the
documented hash."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import uoseg

MASK = 2**64 - 1


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK
    return h


def mix64(z: int) -> int:
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & MASK
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def reference_group(user: int | str, weights: list[float], salt: str) -> int:
    key = fnv1a64(user.encode()) if isinstance(user, str) else user
    h = mix64(fnv1a64(salt.encode()) ^ key)
    total, cumulative = sum(weights), 0.0
    for k, w in enumerate(weights[:-1]):
        cumulative += w
        if h < min(int(cumulative / total * 2.0**64), MASK):
            return k
    return len(weights) - 1


@pytest.mark.parametrize("kind", ["uint32", "int64", "string"])
def test_groups_match_the_documented_hash(kind: str) -> None:
    users: list[int] | list[str]
    if kind == "string":
        users = [f"user-{i}" for i in range(2000)]
        ids = pa.array(users)
    else:
        users = list(range(0, 4000, 2)) if kind == "uint32" else [10**12 + i for i in range(2000)]
        ids = pa.array(users, pa.uint32() if kind == "uint32" else pa.int64())
    store = uoseg.TagStore()
    store.add_tag("exp", ids)
    weights = [0.33, 0.33, 0.34]
    groups = uoseg.split(store.tag("exp"), weights, salt="exp1")
    for k, group in enumerate(groups):
        expected = sorted(u for u in users if reference_group(u, weights, "exp1") == k)
        assert sorted(group.ids().tolist()) == expected


def test_split_is_a_partition_in_proportion() -> None:
    store = uoseg.TagStore()
    store.add_tag("all", np.arange(100_000, dtype=np.uint32))
    a, b, c = uoseg.split(store.tag("all"), [0.33, 0.33, 0.34], salt="s")
    assert len(a) + len(b) + len(c) == 100_000
    assert len(a & b) == len(b & c) == len(a & c) == 0
    for group, share in ((a, 0.33), (b, 0.33), (c, 0.34)):
        assert abs(len(group) / 100_000 - share) < 0.01
    again = uoseg.split(store.tag("all"), [0.33, 0.33, 0.34], salt="s")
    assert [g.ids().tolist() for g in again] == [g.ids().tolist() for g in (a, b, c)]


def test_bad_weights() -> None:
    store = uoseg.TagStore()
    store.add_tag("x", [1])
    for weights in ([], [0, 0], [-1, 2], [float("nan")]):
        with pytest.raises(ValueError):
            uoseg.split(store.tag("x"), weights, salt="s")
