"""Shared data, baselines' inputs and helpers for the uoseg benchmarks.

The population size comes from ``UOSEG_BENCH_USERS`` (default 1_000_000 for
the test-time smoke run; the reported figures use 10_000_000), the number of
tags from ``UOSEG_BENCH_TAGS`` (default 200) and the rounds of the slow
workloads from ``UOSEG_BENCH_ROUNDS`` (at least; default 3, see :func:`run`).
Every input is built once per session and only when a benchmark asks for it.

uoseg is imported lazily: when it is not importable, or lacks a feature, the
uoseg benchmarks skip and the baselines still run (and check each other).
"""

from __future__ import annotations

import array
import importlib.util
import itertools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, time
from pathlib import Path
from time import perf_counter
from types import ModuleType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyroaring import BitMap

N_USERS = int(os.environ.get("UOSEG_BENCH_USERS", "1000000"))
N_TAGS = int(os.environ.get("UOSEG_BENCH_TAGS", "200"))
HEAVY_ROUNDS = int(os.environ.get("UOSEG_BENCH_ROUNDS", "3"))
# An untimed first call before the heavy rounds, for every tool: a process's
# first call of a workload pays for fresh memory (on the virtual machines
# these figures come from, the host backs it page by page: the second qcut
# of 10 M values in a process took 87-150 ms, later ones 31-40 ms). Services
# repeat their calls, so the steady state is what users see.
HEAVY_WARMUP = int(os.environ.get("UOSEG_BENCH_WARMUP", "1"))
# ... and untimed calls go on until this many seconds have passed: after a
# tool that freed gigabytes, the next one's calls were slow for seconds, not
# for one call (qcut's 10 M values took 84-118 ms a call for 15 rounds, then
# 20-25 ms), so whichever tool or CPU path came first was timed in that state.
HEAVY_WARMUP_S = float(os.environ.get("UOSEG_BENCH_WARMUP_SECONDS", "2"))
# Heavy workloads take as many rounds as fit in this many seconds, by the
# untimed call's time (at least UOSEG_BENCH_ROUNDS, at most HEAVY_MAX_ROUNDS),
# as pytest-benchmark's calibration does for the light ones: three rounds of
# a 40 ms call gave a median that one slow round could move by half.
HEAVY_BUDGET_S = float(os.environ.get("UOSEG_BENCH_HEAVY_SECONDS", "5"))
HEAVY_MAX_ROUNDS = 15
SEED = 42
OVERLAP_TAGS = 50
if N_TAGS < OVERLAP_TAGS:
    # Q1 names t42 and W5 needs t0..t49.
    raise pytest.UsageError(f"UOSEG_BENCH_TAGS must be >= {OVERLAP_TAGS}, got {N_TAGS}")

Q1_TEXT = "(t0 AND t5) OR (t17 AND NOT t42)"
Q2_CITIES = ("c0", "c1", "c2")
Q2_AGE = (25, 35)
Q2_ACTIVE_MAX = 30
Q2_TEXT = (
    '(t0 OR t1) AND t2 AND city IN ("c0","c1","c2") AND age BETWEEN 25 AND 35 '
    "AND last_active_days <= 30 AND NOT t3"
)
SPLIT_WEIGHTS = (0.33, 0.33, 0.34)
SPLIT_SALT = "exp1"

T = TypeVar("T")

# Bench files import these helpers as `uoseg_bench`: a bare `from conftest
# import ...` gets whichever conftest.py pytest loaded last (tests/ has one).
sys.modules.setdefault("uoseg_bench", sys.modules[__name__])


# --------------------------------------------------------------------------- #
# Running benchmarks
# --------------------------------------------------------------------------- #


def run(benchmark: Any, tool: str, fn: Callable[..., T], *args: Any, heavy: bool = False) -> T:
    """Benchmark ``fn(*args)`` for ``tool`` and return its result.

    ``heavy`` workloads (up to seconds per call at 10 M users) skip
    pytest-benchmark's calibration, which would repeat a 50 s DuckDB pivot for
    minutes: after at least ``UOSEG_BENCH_WARMUP`` untimed calls, and as many
    more as start within ``UOSEG_BENCH_WARMUP_SECONDS``, they run as many
    rounds as fit in ``UOSEG_BENCH_HEAVY_SECONDS`` by the last untimed call's
    time, at least ``UOSEG_BENCH_ROUNDS``.
    """
    benchmark.extra_info.update(tool=tool, users=N_USERS, tags=N_TAGS)
    if not heavy:
        return benchmark(fn, *args)
    rounds = HEAVY_ROUNDS
    if not getattr(benchmark, "disabled", False) and HEAVY_WARMUP > 0:
        began = perf_counter()
        calls = 0
        while calls < HEAVY_WARMUP or perf_counter() - began < HEAVY_WARMUP_S:
            start = perf_counter()
            fn(*args)
            took = perf_counter() - start
            calls += 1
        fit = int(HEAVY_BUDGET_S / max(took, 1e-6))
        rounds = max(HEAVY_ROUNDS, min(HEAVY_MAX_ROUNDS, fit))
    return benchmark.pedantic(fn, args=args, rounds=rounds, iterations=1)


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    # report.py reads the population size from here.
    machine_info["uoseg_bench_users"] = N_USERS
    machine_info["uoseg_bench_tags"] = N_TAGS
    machine_info["uoseg_cpu"] = cpu_description()
    try:
        import uoseg

        level, used, _ = uoseg.cpu_paths()
        machine_info["uoseg_cpu"]["paths"] = {"level": level, "used": used}
        by_path = {}
        for path in cpu_paths_option(config):
            uoseg.set_cpu_paths(path)
            level, used, _ = uoseg.cpu_paths()
            by_path[path] = {"level": level, "used": used}
        uoseg.set_cpu_paths(None)
        if by_path:
            machine_info["uoseg_cpu"]["by_path"] = by_path
    except (ImportError, AttributeError):
        pass


# --------------------------------------------------------------------------- #
# uoseg's CPU paths in one process (benches/per_path.py)
# --------------------------------------------------------------------------- #

CPU_PATHS = ("native", "avx2", "scalar")


def pytest_addoption(parser: Any) -> None:
    parser.addoption(
        "--uoseg-paths",
        default="",
        help="comma-separated CPU paths (native, avx2, scalar): every uoseg benchmark "
        "runs once under each, right after the same workload's baselines",
    )


def cpu_paths_option(config: Any) -> list[str]:
    paths = [p.strip() for p in str(config.getoption("--uoseg-paths", "")).split(",") if p.strip()]
    unknown = sorted(set(paths) - set(CPU_PATHS))
    if unknown:
        raise pytest.UsageError(
            f"--uoseg-paths takes some of {', '.join(CPU_PATHS)}; got {unknown}"
        )
    return paths


def pytest_generate_tests(metafunc: Any) -> None:
    # uoseg's benchmarks are the tests named after it (test_w4_rfm_uoseg,
    # test_w2_q2_ids_uoseg_dsl); the baselines' tests are not parametrized.
    paths = cpu_paths_option(metafunc.config)
    name = metafunc.function.__name__
    if paths and (name.endswith("_uoseg") or name.endswith("_uoseg_dsl")):
        metafunc.parametrize("cpu_path", paths, indirect=True)


@pytest.fixture(autouse=True)
def cpu_path(request: Any) -> Iterator[str | None]:
    """The CPU path this test runs uoseg under (``--uoseg-paths``), set with
    ``uoseg.set_cpu_paths`` for the test and undone after; ``None`` (the
    process's own level) when the run does not compare paths."""
    path = getattr(request, "param", None)
    if path is None:
        yield None
        return
    import uoseg

    uoseg.set_cpu_paths(path)
    try:
        yield path
    finally:
        uoseg.set_cpu_paths(None)


# The instruction sets uoseg's kernels choose between (or would).
DISPATCH_FEATURES = (
    "avx512f",
    "avx512bw",
    "avx512dq",
    "avx512_vbmi2",
    "avx512vpopcntdq",
    "avx2",
    "bmi2",
    "popcnt",
    "neon",
)


def cpu_description() -> dict[str, Any]:
    """Model, family and the dispatch-relevant features of this machine's CPU
    (from /proc/cpuinfo; empty fields elsewhere)."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = set((info.get("flags") or info.get("Features") or "").split())
    return {
        "model": info.get("model name", "unknown"),
        "family": info.get("cpu family", ""),
        "model_number": info.get("model", ""),
        "features": [f for f in DISPATCH_FEATURES if f in flags],
        "cores": os.cpu_count(),
    }


# --------------------------------------------------------------------------- #
# uoseg, imported lazily
# --------------------------------------------------------------------------- #


def _load_datasets() -> ModuleType:
    """``uoseg.datasets``, or the source file when the package is not built yet."""
    try:
        import uoseg.datasets as datasets
    except Exception:  # not built, or mid-rebuild: the generator is plain Python
        path = Path(__file__).resolve().parents[1] / "python" / "uoseg" / "datasets.py"
        spec = importlib.util.spec_from_file_location("_uoseg_datasets", path)
        assert spec is not None and spec.loader is not None
        datasets = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = datasets  # dataclasses look the module up
        spec.loader.exec_module(datasets)
    return datasets


def require(obj: Any, *names: str) -> None:
    """Skip the current test unless ``obj`` has every attribute in ``names``."""
    label = getattr(obj, "__name__", type(obj).__name__)
    for name in names:
        if not hasattr(obj, name):
            pytest.skip(f"{label}.{name} not built yet")


@pytest.fixture(scope="session")
def uoseg() -> ModuleType:
    try:
        import uoseg as module
    except Exception as exc:  # not built, or its Python side ahead of the binary
        pytest.skip(f"uoseg not importable: {type(exc).__name__}: {exc}")
    require(module, "TagStore")
    return module


@pytest.fixture(scope="session")
def uoseg_store(uoseg: ModuleType, pop: Any) -> Any:
    """The W1 product: a store of all tags built from the long table."""
    require(uoseg.TagStore, "from_long")
    return uoseg.TagStore.from_long(pop.tags, user="user_id", tag="tag")


@pytest.fixture(scope="session")
def uoseg_full_store(uoseg: ModuleType, pop: Any, tag_matrix: np.ndarray) -> Any:
    """One store holding the tags and the attributes (W2 Q2).

    Built with ``from_wide`` from the attributes plus one bool column per tag
    (bool columns become tags, strings categorical and numbers numeric attributes).
    """
    require(uoseg.TagStore, "from_wide", "range")  # Q2 needs numeric attributes
    table = pop.attributes
    for name, row in zip(tag_names(), tag_matrix, strict=True):
        table = table.append_column(name, pa.array(row))
    try:
        store = uoseg.TagStore.from_wide(table, user="user_id")
        store.tag("t0")
    except (TypeError, ValueError, KeyError, NotImplementedError) as exc:
        pytest.skip(f"TagStore.from_wide does not take bool tag columns yet: {exc}")
    return store


def q1_uoseg(store: Any) -> Any:
    """Q1 with uoseg's Audience algebra."""
    return (store.tag("t0") & store.tag("t5")) | (store.tag("t17") - store.tag("t42"))


def audience_ids(audience: Any) -> np.ndarray:
    """Ids of a uoseg Audience, checked to be a sorted uint32 NumPy array."""
    ids = audience.ids()
    assert isinstance(ids, np.ndarray) and ids.dtype == np.uint32
    return ids


# --------------------------------------------------------------------------- #
# The population and the tags in every baseline's shape
# --------------------------------------------------------------------------- #


def tag_names(n_tags: int = N_TAGS) -> list[str]:
    return [f"t{i}" for i in range(n_tags)]


@pytest.fixture(scope="session")
def pop() -> Any:
    datasets = _load_datasets()
    return datasets.synthetic_population(N_USERS, seed=SEED, n_tags=N_TAGS)


def tag_codes(tags: pa.Table, names: Sequence[str]) -> np.ndarray:
    """Tag column of the long Arrow table as codes into ``names``."""
    codes = pc.index_in(tags["tag"], value_set=pa.array(names, pa.string()))
    return codes.to_numpy(zero_copy_only=False).astype(np.int32)


def one_hot(user: np.ndarray, codes: np.ndarray, n_tags: int, n_users: int) -> np.ndarray:
    """The ``(n_tags, n_users)`` bool membership matrix: each tag a contiguous row."""
    matrix = np.zeros((n_tags, n_users), dtype=bool)
    matrix[codes, user] = True
    return matrix


def pandas_wide_from_matrix(matrix: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    # matrix.T is F-ordered, so each column stays contiguous; pandas 3 would
    # copy the 2-D array without copy=False.
    return pd.DataFrame(matrix.T, columns=list(names), copy=False)


def polars_wide_from_matrix(matrix: np.ndarray, names: Sequence[str]) -> pl.DataFrame:
    return pl.DataFrame({name: row for name, row in zip(names, matrix, strict=True)})


def bitmap_from_sorted(ids: np.ndarray) -> BitMap:
    """pyroaring's fast path: sorted ids handed over as ``array.array("I")``."""
    buf = array.array("I")
    buf.frombytes(np.ascontiguousarray(ids, dtype=np.uint32).tobytes())
    return BitMap(buf)


def ids_by_tag(user: np.ndarray, codes: np.ndarray, n_tags: int) -> list[np.ndarray]:
    """Sorted member ids of every tag, from the long (user, code) pairs."""
    # A stable sort on 16-bit keys is a radix sort in NumPy: O(rows).
    order = np.argsort(codes.astype(np.uint16), kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_tags + 1), side="left")
    grouped = user[order]
    return [np.sort(grouped[a:b]) for a, b in itertools.pairwise(bounds)]


def build_pandas_wide(long: pd.DataFrame, n_users: int = N_USERS) -> pd.DataFrame:
    """W1 for pandas: the long frame to a one-hot wide bool frame."""
    names = tag_names()
    codes = pd.Categorical(long["tag"], categories=names).codes
    matrix = one_hot(long["user_id"].to_numpy(), codes, N_TAGS, n_users)
    return pandas_wide_from_matrix(matrix, names)


def build_polars_wide(long: pl.DataFrame, n_users: int = N_USERS) -> pl.DataFrame:
    """W1 for polars: one scatter per tag into an all-false column (O(rows))."""
    parts = long.partition_by("tag", as_dict=True, include_key=False)
    none = pl.Series("user_id", [], dtype=pl.UInt32)
    columns = {}
    for name in tag_names():
        ids = parts[(name,)]["user_id"] if (name,) in parts else none
        columns[name] = pl.zeros(n_users, pl.Boolean, eager=True).scatter(ids, True)
    return pl.DataFrame(columns)


def build_bitmaps(tags: pa.Table) -> dict[str, BitMap]:
    """W1 for pyroaring: one BitMap per tag from the long Arrow table."""
    names = tag_names()
    groups = ids_by_tag(tags["user_id"].to_numpy(), tag_codes(tags, names), N_TAGS)
    return {name: bitmap_from_sorted(ids) for name, ids in zip(names, groups, strict=True)}


@pytest.fixture(scope="session")
def tag_matrix(pop: Any) -> np.ndarray:
    """The ``(T, N)`` bool membership matrix; the wide frames and tables wrap it."""
    user = pop.tags["user_id"].to_numpy()
    return one_hot(user, tag_codes(pop.tags, tag_names()), N_TAGS, N_USERS)


@pytest.fixture(scope="session")
def tag_ids(tag_matrix: np.ndarray) -> dict[str, np.ndarray]:
    return {
        name: np.flatnonzero(row).astype(np.uint32)
        for name, row in zip(tag_names(), tag_matrix, strict=True)
    }


@pytest.fixture(scope="session")
def pandas_long(pop: Any) -> pd.DataFrame:
    return pop.tags.to_pandas()


@pytest.fixture(scope="session")
def pandas_wide(tag_matrix: np.ndarray) -> pd.DataFrame:
    """One bool column per tag, row i = user i (shares the matrix's memory)."""
    return pandas_wide_from_matrix(tag_matrix, tag_names())


@pytest.fixture(scope="session")
def pandas_attrs(pop: Any) -> pd.DataFrame:
    return pop.attributes.to_pandas()


@pytest.fixture(scope="session")
def polars_long(pop: Any) -> pl.DataFrame:
    return pl.from_arrow(pop.tags)  # type: ignore[return-value]


@pytest.fixture(scope="session")
def polars_wide(pop: Any, tag_matrix: np.ndarray) -> pl.DataFrame:
    """Attributes plus one Boolean column per tag, row i = user i."""
    attrs = pl.from_arrow(pop.attributes)
    assert isinstance(attrs, pl.DataFrame)
    return attrs.hstack(polars_wide_from_matrix(tag_matrix, tag_names()))


@pytest.fixture(scope="session")
def bitmaps(tag_ids: dict[str, np.ndarray]) -> dict[str, BitMap]:
    return {name: bitmap_from_sorted(ids) for name, ids in tag_ids.items()}


@pytest.fixture(scope="session")
def duckdb_con() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    yield con
    con.close()


@pytest.fixture(scope="session")
def duckdb_wide(duckdb_con: duckdb.DuckDBPyConnection, pop: Any, tag_matrix: np.ndarray) -> str:
    """A native DuckDB table ``wide``: attributes plus one BOOLEAN per tag."""
    table = pop.attributes
    for name, row in zip(tag_names(), tag_matrix, strict=True):
        table = table.append_column(name, pa.array(row))
    duckdb_con.register("wide_src", table)
    duckdb_con.execute("CREATE TABLE wide AS SELECT * FROM wide_src")
    duckdb_con.unregister("wide_src")
    return "wide"


def sql_ids(con: duckdb.DuckDBPyConnection, sql: str) -> np.ndarray:
    """The single ``user_id`` column of a query as a uint32 NumPy array."""
    return con.sql(sql).fetchnumpy()["user_id"].astype(np.uint32, copy=False)


def sql_row(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()
) -> tuple[Any, ...]:
    """The one row of a query (fetchall: DuckDB 2 keeps a half-read result open)."""
    rows = con.execute(sql, list(params)).fetchall()
    assert len(rows) == 1, f"{len(rows)} rows"
    return tuple(rows[0])


def sql_scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return sql_row(con, sql)[0]


# --------------------------------------------------------------------------- #
# References shared by several workloads
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="session")
def q1_ids(tag_ids: dict[str, np.ndarray]) -> np.ndarray:
    """Q1 by sorted-set operations on the member lists (independent of the frames)."""
    left = np.intersect1d(tag_ids["t0"], tag_ids["t5"], assume_unique=True)
    right = np.setdiff1d(tag_ids["t17"], tag_ids["t42"], assume_unique=True)
    return np.union1d(left, right).astype(np.uint32)


def assert_ids_equal(got: np.ndarray, expected: np.ndarray) -> None:
    got = np.asarray(got)
    assert got.shape == expected.shape, f"{got.shape[0]} ids, expected {expected.shape[0]}"
    assert np.array_equal(got, expected)


def pandas_qcut_probabilities(q: int) -> np.ndarray:
    """The probabilities ``pandas.qcut(x, q)`` passes to its quantile.

    pandas 3 rounds ``k / q`` up to the next float when it is not exact in base
    2, so plain ``linspace`` edges can differ from pandas' in the last bit.
    """
    probs = np.linspace(0.0, 1.0, q + 1)
    np.putmask(probs, q * probs != np.arange(q + 1), np.nextafter(probs, 1.0))
    return probs


def rank_qcut_edges(n: int, q: int) -> np.ndarray:
    """Inner edges ``pandas.qcut`` draws over the ranks ``1..n`` (a function of n only).

    With them, ``code = #(edges < rank)`` equals ``pd.qcut(rank, q,
    labels=False)`` exactly, which lets SQL and polars score like pandas
    (SQL's NTILE hands the ``n mod q`` extra rows to the first tiles instead).
    """
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return np.quantile(ranks, pandas_qcut_probabilities(q))[1:-1]


# --------------------------------------------------------------------------- #
# The event log (W8-W10)
# --------------------------------------------------------------------------- #

W9_TEXT = (
    "DID login ON >= 5 DAYS WITHIN 30 DAYS AND DID purchase >= 2 TIMES WITHIN 30 DAYS "
    "AND NOT DID share WITHIN 7 DAYS"
)
W10_COHORT_DAYS = 60
W10_OFFSETS = 31


@pytest.fixture(scope="session")
def events() -> Any:
    """The seeded event log of benchmarks.md (about 8.6 rows per user)."""
    return _load_datasets().synthetic_events(N_USERS, seed=SEED)


def local_midnight(day: Any, zone: str) -> datetime:
    """The first instant of local ``day`` in ``zone``, as an aware UTC datetime
    (polars compares instants only within one zone)."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def event_store(uoseg: Any, events: Any, log: pa.Table | None = None) -> Any:
    """W8's product: a store of the log's events in the log's time zone."""
    store = uoseg.TagStore(tz=events.zone)
    store.add_events(events.log if log is None else log, value="amount")
    return store


@pytest.fixture(scope="session")
def uoseg_events(uoseg: Any, events: Any) -> Any:
    require(uoseg.TagStore, "add_events", "retention")
    return event_store(uoseg, events)


@pytest.fixture(scope="session")
def polars_events(events: Any) -> pl.DataFrame:
    frame = pl.from_arrow(events.log)
    assert isinstance(frame, pl.DataFrame)
    return frame


@pytest.fixture(scope="session")
def pandas_events(events: Any) -> pd.DataFrame:
    return events.log.to_pandas()


@pytest.fixture(scope="session")
def duckdb_events(duckdb_con: duckdb.DuckDBPyConnection, events: Any) -> str:
    """A native DuckDB table ``events`` (the event names become an ENUM)."""
    duckdb_con.register("events_src", events.log)
    duckdb_con.execute("CREATE TABLE events AS SELECT * FROM events_src")
    duckdb_con.unregister("events_src")
    return "events"
