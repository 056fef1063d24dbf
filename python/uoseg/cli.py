"""The ``uoseg`` command line: ``uoseg demo`` builds a store from the built-in
sample population and prints a few audiences with their sizes and timings."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, (time.perf_counter() - started) * 1000


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


DEMO_QUERIES: list[tuple[str, str]] = [
    ("Q1 (benchmarks W2)", "(t0 AND t5) OR (t17 AND NOT t42)"),
    (
        "Q2 (benchmarks W2)",
        '(t0 OR t1) AND t2 AND city IN ("c0", "c1", "c2") AND age BETWEEN 25 AND 35 '
        "AND last_active_days <= 30 AND NOT t3",
    ),
    ("churn warning", "last_active_days BETWEEN 14 AND 30 AND t1 AND NOT t4"),
    ("new this month", "signup_ts WITHIN 30 DAYS"),
    ("young women in top cities", 'gender = "F" AND age < 25 AND city IN ("c0", "c1")'),
    ("RFM champions, big spenders", 'rfm.segment = "Champions" AND monetary > 500'),
    ("RFM at risk, reachable", 'rfm.segment IN ("At Risk", "Can\'t Lose Them") AND NOT t3'),
]


def demo(users: int, seed: int) -> None:
    import uoseg
    from uoseg.datasets import synthetic_population

    threads = uoseg.num_threads()
    print(f"uoseg {uoseg.__version__} demo: {users:,} users, seed {seed}, {threads} threads\n")
    population, ms = _timed(lambda: synthetic_population(users, seed=seed))
    rows, purchases = population.tags.num_rows, population.transactions.num_rows
    print(f"sample population in {ms:,.0f} ms: {rows:,} tag rows, {purchases:,} purchases")
    store, ms = _timed(lambda: uoseg.TagStore.from_long(population.tags))
    print(f"built {len(store.tags())} tags over {len(store):,} users in {ms:,.0f} ms")
    _, ms = _timed(lambda: store.add_wide(population.attributes))
    print(f"indexed {len(store.attributes())} attributes in {ms:,.0f} ms")
    scored, ms = _timed(lambda: uoseg.rfm(population.transactions, as_of=population.as_of))
    store.add_rfm(scored)
    print(f"RFM-scored {len(scored):,} customers from {purchases:,} purchases in {ms:,.0f} ms")
    rows = []
    for name, text in DEMO_QUERIES:
        started = time.perf_counter()
        audience = store.query(text, as_of=population.as_of)
        ms = (time.perf_counter() - started) * 1000
        rows.append((name, f"{len(audience):,}", f"{ms:.2f}", text))
    print()
    print(_table(rows, ("audience", "users", "ms", "query")))
    print("\nplan of Q2:")
    print(store.explain(DEMO_QUERIES[1][1]))
    names = [f"t{i}" for i in range(min(50, len(store.tags())))]
    _, ms = _timed(lambda: store.overlap_matrix(names))
    print(f"\noverlap matrix of {len(names)} tags: {ms:.1f} ms")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.uoseg"
        _, save_ms = _timed(lambda: store.save(path))
        _, load_ms = _timed(lambda: uoseg.TagStore.load(path))
        size = path.stat().st_size
    print(f"saved {size / 2**20:,.1f} MiB in {save_ms:,.0f} ms, loaded in {load_ms:,.0f} ms")
    print(f"bitmaps and indexes hold {store.memory_usage() / 2**20:,.1f} MiB")


# The demo's queries name tags up to t49 of the sample population and score RFM in
# quintiles; below this size some of those tags are missing (tag i holds a user
# with probability about 0.5 / (i + 1) ** 0.8), so smaller sizes are refused.
DEMO_MIN_USERS = 1_000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="uoseg", description="uoseg user segmentation engine")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="run the demo on the built-in sample population")
    demo_parser.add_argument(
        "--users",
        type=int,
        default=1_000_000,
        help=f"population size (default 1,000,000; at least {DEMO_MIN_USERS:,})",
    )
    demo_parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.users < DEMO_MIN_USERS:
            parser.error(
                f"--users must be at least {DEMO_MIN_USERS:,}: the demo's queries need the "
                "sample population's tags t0 to t49 to hold users"
            )
        from .errors import UosegError

        try:
            demo(args.users, args.seed)
        except UosegError as err:
            print(f"uoseg: {err}", file=sys.stderr)
            return 1
    return 0
