"""W7 memory: resident memory of holding all tags, per tool.

Not a timing. Each tool builds its tag index in a fresh subprocess (so one
tool's heap cannot flatter or burden another's) from the long table
memory-mapped from an Arrow IPC file (file-backed pages, not anonymous
memory), after a warm-up build on 1,000 users (imports, kernels and thread
pools are start-up costs). Freed memory is handed back before each reading
(glibc ``malloc_trim``; jemalloc with zero decay) so that RSS counts live
data. The probe records, in ``benchmark.extra_info``:

- ``bytes``: anonymous resident memory held after the build, inputs and
  temporaries released (``(resident - shared)`` pages of /proc/self/statm);
- ``peak_bytes``: peak resident growth during the build (VmHWM, reset before
  the build; includes the input pages read, the same for every tool);
- ``self_reported_bytes``: what the tool says it holds.

The benchmark itself times a no-op, so the figures land in the JSON.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pytest
from uoseg_bench import (
    N_TAGS,
    N_USERS,
    build_bitmaps,
    build_pandas_wide,
    build_polars_wide,
    run,
    sql_scalar,
    tag_names,
)

PAGE = os.sysconf("SC_PAGE_SIZE")
WARMUP_USERS = 1000


def anon_rss() -> int:
    """Anonymous resident bytes: (resident - shared) pages of /proc/self/statm."""
    with open("/proc/self/statm") as f:
        _, resident, shared = (int(v) for v in f.read().split()[:3])
    return (resident - shared) * PAGE


def status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def release_free_heap() -> None:
    """Hand glibc's cached free heap pages back, so RSS counts live data only."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the figure then includes the allocator's cache


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


# --- per tool: build, self-reported size, total memberships ----------------- #


def _pandas(tags: pa.Table, n_users: int) -> tuple[Any, int, int]:
    frame = build_pandas_wide(tags.to_pandas(), n_users)
    return frame, int(frame.memory_usage(deep=True).sum()), int(frame.to_numpy().sum())


def _polars(tags: pa.Table, n_users: int) -> tuple[Any, int, int]:
    long = pl.from_arrow(tags)
    assert isinstance(long, pl.DataFrame)
    frame = build_polars_wide(long, n_users)
    return frame, int(frame.estimated_size()), int(frame.sum().sum_horizontal().item())


def _duckdb(tags: pa.Table, n_users: int) -> tuple[Any, int, int]:
    con = duckdb.connect()
    con.execute("SET allocator_flush_threshold = '1MB'")  # free transients promptly
    con.register("src", build_pandas_wide(tags.to_pandas(), n_users))
    con.execute("CREATE TABLE wide AS SELECT * FROM src")
    con.unregister("src")
    gc.collect()
    held = sql_scalar(con, "SELECT sum(memory_usage_bytes) FROM duckdb_memory()")
    total = " + ".join(f'count_if("{n}")' for n in tag_names())
    return con, int(held), int(sql_scalar(con, f"SELECT {total} FROM wide"))


def _pyroaring(tags: pa.Table, n_users: int) -> tuple[Any, int, int]:
    bitmaps = build_bitmaps(tags)
    keys = ("n_bytes_array_containers", "n_bytes_run_containers", "n_bytes_bitset_containers")
    stats = [b.get_statistics() for b in bitmaps.values()]
    held = sum(s[k] for s in stats for k in keys)  # container payloads only
    return bitmaps, held, sum(len(b) for b in bitmaps.values())


def _uoseg(tags: pa.Table, n_users: int) -> tuple[Any, int, int]:
    import uoseg

    store = uoseg.TagStore.from_long(tags, user="user_id", tag="tag")
    return store, int(store.memory_usage()), sum(len(store.tag(n)) for n in tag_names())


BUILDERS: dict[str, Callable[[pa.Table, int], tuple[Any, int, int]]] = {
    "pandas": _pandas,
    "polars": _polars,
    "duckdb": _duckdb,
    "pyroaring": _pyroaring,
    "uoseg": _uoseg,
}


def probe(tool: str, ipc_path: str) -> dict[str, Any]:
    """Build ``tool``'s index in this process and measure it (run in a subprocess)."""
    with pa.memory_map(ipc_path) as source:
        tags = ipc.open_file(source).read_all()
        # Warm up on a slice first: lazy imports, kernels and thread pools are
        # start-up costs, not memory held for the tags.
        small = tags.filter(pc.less(tags["user_id"], WARMUP_USERS))
        BUILDERS[tool](small, WARMUP_USERS)
        del small
        gc.collect()
        release_free_heap()
        before, rss_before = anon_rss(), status_bytes("VmRSS")
        peak_ok = reset_peak()
        held, self_reported, members = BUILDERS[tool](tags, N_USERS)
        n_rows = tags.num_rows
        del tags
    gc.collect()
    release_free_heap()
    peak = status_bytes("VmHWM") - rss_before if peak_ok else None
    after = anon_rss()
    del held
    return {
        "bytes": after - before,
        "peak_bytes": peak,
        "self_reported_bytes": self_reported,
        "members": members,
        "rows": n_rows,
    }


def run_probe(tool: str, ipc_path: Path) -> dict[str, Any]:
    here = str(Path(__file__).resolve().parent)
    # Importing conftest first registers the `uoseg_bench` helpers module.
    code = (
        f"import json, sys; sys.path.insert(0, {here!r}); import conftest; "
        f"import bench_w7_memory as w; print(json.dumps(w.probe({tool!r}, {str(ipc_path)!r})))"
    )
    # polars' jemalloc keeps freed pages for seconds; have it return them at once.
    env = {**os.environ, "_RJEM_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- benchmarks ------------------------------------------------------------- #


@pytest.fixture(scope="module")
def tags_ipc(pop: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("w7") / "tags.arrow"
    with ipc.new_file(str(path), pop.tags.schema) as writer:
        writer.write_table(pop.tags)
    return path


def measure(benchmark: Any, tool: str, tags_ipc: Path, pop: Any) -> None:
    result = run_probe(tool, tags_ipc)
    assert result["rows"] == pop.tags.num_rows
    assert result["members"] == pop.tags.num_rows  # every (user, tag) pair held
    assert result["bytes"] > 0 and result["self_reported_bytes"] > 0
    benchmark.extra_info.update(
        {k: result[k] for k in ("bytes", "peak_bytes", "self_reported_bytes")}
    )
    benchmark.extra_info["n_tags"] = N_TAGS
    run(benchmark, tool, lambda: None, heavy=True)


@pytest.mark.benchmark(group="W7 memory")
def test_w7_memory_pandas(benchmark: Any, tags_ipc: Path, pop: Any) -> None:
    measure(benchmark, "pandas", tags_ipc, pop)


@pytest.mark.benchmark(group="W7 memory")
def test_w7_memory_polars(benchmark: Any, tags_ipc: Path, pop: Any) -> None:
    measure(benchmark, "polars", tags_ipc, pop)


@pytest.mark.benchmark(group="W7 memory")
def test_w7_memory_duckdb(benchmark: Any, tags_ipc: Path, pop: Any) -> None:
    measure(benchmark, "duckdb", tags_ipc, pop)


@pytest.mark.benchmark(group="W7 memory")
def test_w7_memory_pyroaring(benchmark: Any, tags_ipc: Path, pop: Any) -> None:
    measure(benchmark, "pyroaring", tags_ipc, pop)


@pytest.mark.benchmark(group="W7 memory")
def test_w7_memory_uoseg(benchmark: Any, uoseg: Any, tags_ipc: Path, pop: Any) -> None:
    if not hasattr(uoseg.TagStore, "memory_usage"):
        pytest.skip("TagStore.memory_usage not built yet")
    measure(benchmark, "uoseg", tags_ipc, pop)
