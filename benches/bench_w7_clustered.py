"""W7 on clustered ids: bits per value of uoseg's tags against CRoaring after
``run_optimize`` (through pyroaring), and the overhead of small tags.

Real id sets cluster: users numbered by signup order, tags from sorted
exports, so a tag holds runs of consecutive users. Three shapes, each built
with ``TagStore.from_long`` (the W1 path):

- clustered: 20 tags of runs of consecutive users (run lengths geometric,
  mean 40), 1 % to 20 % of the users each;
- random: 20 tags of the same sizes, users drawn uniformly;
- small: 1,000 tags of 1 to 20 users each (per-tag overhead).

Both sides are counted the same way, from CRoaring's own statistics: the
containers' payload bytes plus 16 bytes a container (its key, type and
pointer). Not a timing: the benchmark times a no-op, and the figures land in
``extra_info`` (``bytes``), where report.py reads them. Every shape is also
checked: uoseg holds at most 10 % more than CRoaring run-optimized.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from pyroaring import BitMap
from uoseg_bench import N_USERS, SEED, require, run

N_CLUSTER_TAGS = 20
N_SMALL_TAGS = 1000
MEAN_RUN = 40


def clustered_ids(rng: np.random.Generator, share: float) -> np.ndarray:
    """About ``share`` of the users, in runs of consecutive ids."""
    runs = max(1, int(N_USERS * share / MEAN_RUN))
    starts = np.sort(rng.choice(N_USERS, runs, replace=False))
    lengths = rng.geometric(1 / MEAN_RUN, runs)
    ids = np.repeat(starts, lengths) + (
        np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    return np.unique(ids[ids < N_USERS]).astype(np.uint32)


def shapes() -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(SEED)
    shares = np.linspace(0.01, 0.2, N_CLUSTER_TAGS)
    clustered = [clustered_ids(rng, s) for s in shares]
    random = [
        np.sort(rng.choice(N_USERS, len(t), replace=False)).astype(np.uint32) for t in clustered
    ]
    small = [
        np.sort(rng.choice(N_USERS, int(k), replace=False)).astype(np.uint32)
        for k in rng.integers(1, 21, N_SMALL_TAGS)
    ]
    return {"clustered": clustered, "random": random, "small": small}


def croaring_bytes(tags: list[np.ndarray]) -> int:
    total = 0
    for ids in tags:
        bitmap = BitMap(ids)
        bitmap.run_optimize()
        stats = bitmap.get_statistics()
        total += (
            stats["n_bytes_array_containers"]
            + stats["n_bytes_bitset_containers"]
            + stats["n_bytes_run_containers"]
            + 16 * stats["n_containers"]
        )
    return total


def uoseg_bytes(uoseg: Any, tags: list[np.ndarray]) -> int:
    users = np.concatenate(tags)
    names = np.repeat([f"t{i}" for i in range(len(tags))], [len(t) for t in tags])
    table = pa.table({"user_id": users, "tag": pa.array(names, pa.string())})
    store = uoseg.TagStore.from_long(table, user="user_id", tag="tag")
    return int(store.memory_breakdown()["tags"])


@pytest.fixture(scope="module")
def w7_shapes() -> dict[str, list[np.ndarray]]:
    return shapes()


def label(shape: str, tags: list[np.ndarray]) -> str:
    values = sum(len(t) for t in tags)
    return f"W7 tags of {shape} ids ({len(tags)} tags, {values:,} values)"


@pytest.mark.parametrize("shape", ["clustered", "random", "small"])
def test_w7_clustered_uoseg(
    benchmark: Any, uoseg: Any, w7_shapes: dict[str, list[np.ndarray]], shape: str
) -> None:
    require(uoseg.TagStore, "from_long", "memory_breakdown")
    tags = w7_shapes[shape]
    held = uoseg_bytes(uoseg, tags)
    theirs = croaring_bytes(tags)
    values = sum(len(t) for t in tags)
    benchmark.group = label(shape, tags)
    benchmark.extra_info.update(bytes=held, bits_per_value=8 * held / values)
    run(benchmark, "uoseg", lambda: None)
    assert held <= 1.10 * theirs, f"{shape}: uoseg {held} B against CRoaring {theirs} B"


@pytest.mark.parametrize("shape", ["clustered", "random", "small"])
def test_w7_clustered_pyroaring(
    benchmark: Any, w7_shapes: dict[str, list[np.ndarray]], shape: str
) -> None:
    tags = w7_shapes[shape]
    held = croaring_bytes(tags)
    values = sum(len(t) for t in tags)
    benchmark.group = label(shape, tags)
    benchmark.extra_info.update(bytes=held, bits_per_value=8 * held / values)
    run(benchmark, "pyroaring", lambda: None)
