"""The command line end to end: ``uoseg count STORE QUERY`` as a process
(interpreter start, import, store load, query) against DuckDB answering the
same count from a Parquet file of the same data, also as a process.

The store is W2's: every tag and the attributes; the Parquet file holds the
attributes and one boolean column per tag. The query is W2's Q2.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from uoseg_bench import N_TAGS, Q2_TEXT, tag_names

# Q2 in SQL over the wide table.
Q2_SQL = (
    "(t0 OR t1) AND t2 AND city IN ('c0','c1','c2') AND age BETWEEN 25 AND 35 "
    "AND last_active_days <= 30 AND NOT t3"
)


@pytest.fixture(scope="module")
def cli_files(
    tmp_path_factory: pytest.TempPathFactory, uoseg_full_store: Any, pop: Any, tag_matrix: Any
) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli-bench")
    store = folder / "users.uoseg"
    uoseg_full_store.save(store)
    table = pop.attributes
    for name, row in zip(tag_names(N_TAGS), tag_matrix, strict=True):
        table = table.append_column(name, pa.array(row))
    parquet = folder / "users.parquet"
    pq.write_table(table, parquet)
    return store, parquet


def count_uoseg(store: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "uoseg", "count", str(store), Q2_TEXT, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.split('"count":')[1].split("}")[0])


def count_duckdb(parquet: Path) -> int:
    script = (
        "import duckdb, sys; "
        f"print(duckdb.execute(\"SELECT count(*) FROM read_parquet('{parquet}') WHERE {Q2_SQL}\")"
        ".fetchall()[0][0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.mark.benchmark(group="CLI count Q2, end to end")
def test_cli_count_uoseg(
    benchmark: Any, cli_files: tuple[Path, Path], uoseg_full_store: Any
) -> None:
    benchmark.extra_info["tool"] = "uoseg"
    got = benchmark.pedantic(count_uoseg, args=(cli_files[0],), rounds=5, iterations=1)
    assert got == uoseg_full_store.count(Q2_TEXT)


@pytest.mark.benchmark(group="CLI count Q2, end to end")
def test_cli_count_duckdb(
    benchmark: Any, cli_files: tuple[Path, Path], uoseg_full_store: Any
) -> None:
    benchmark.extra_info["tool"] = "duckdb"
    got = benchmark.pedantic(count_duckdb, args=(cli_files[1],), rounds=5, iterations=1)
    assert got == uoseg_full_store.count(Q2_TEXT)
