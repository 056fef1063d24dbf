"""``uoseg demo``: a guided tour on the built-in sample data, with timings.

It builds a store from the sample population (tags, attributes, RFM) and its
event log, then asks the questions an operations team asks: audiences, RFM
segments, lifecycle stages, a retention matrix and an A/B split.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import click

from .app import app, json_option, out, show_arrow, show_table

# The demo's queries name tags up to t49 of the sample population and score RFM in
# quintiles; below this size some of those tags are missing (tag i holds a user
# with probability about 0.5 / (i + 1) ** 0.8), so smaller sizes are refused.
DEMO_MIN_USERS = 1_000

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

BEHAVIOUR_QUERIES: list[tuple[str, str]] = [
    (
        "healthy and paying",
        "DID login ON >= 5 DAYS WITHIN 30 DAYS AND DID purchase >= 2 TIMES "
        "WITHIN 30 DAYS AND NOT DID share WITHIN 7 DAYS",
    ),
    ("new buyers this week", "FIRST purchase WITHIN 7 DAYS"),
    (
        "big spenders gone quiet",
        "DID purchase TOTAL amount > 500 EVER AND NOT DID login WITHIN 14 DAYS",
    ),
]


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, (time.perf_counter() - started) * 1000


def step(text: str) -> None:
    out.print(f"\n[bold]{text}[/bold]")


@app.command()
@click.option(
    "--users",
    type=int,
    default=1_000_000,
    show_default=True,
    help=f"Population size (at least {DEMO_MIN_USERS:,}).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
def demo(users: int, seed: int) -> None:
    """A guided tour on built-in sample data: a store, audiences, RFM,
    lifecycle stages, retention and a split, with timings.

    Example: uoseg demo --users 100000
    """
    if users < DEMO_MIN_USERS:
        raise click.UsageError(
            f"--users must be at least {DEMO_MIN_USERS:,}: the demo's queries need the "
            "sample population's tags t0 to t49 to hold users"
        )
    import uoseg
    from uoseg.datasets import synthetic_events, synthetic_population

    out.print(
        f"uoseg {uoseg.__version__} demo: {users:,} users, seed {seed}, "
        f"{uoseg.num_threads()} threads"
    )
    step("1. A store from the sample population")
    population, ms = timed(lambda: synthetic_population(users, seed=seed))
    rows, purchases = population.tags.num_rows, population.transactions.num_rows
    out.print(f"sample population in {ms:,.0f} ms: {rows:,} tag rows, {purchases:,} purchases")
    store, ms = timed(lambda: uoseg.TagStore.from_long(population.tags))
    out.print(f"built {len(store.tags())} tags over {len(store):,} users in {ms:,.0f} ms")
    _, ms = timed(lambda: store.add_wide(population.attributes))
    out.print(f"indexed {len(store.attributes())} attributes in {ms:,.0f} ms")
    scored, ms = timed(lambda: uoseg.rfm(population.transactions, as_of=population.as_of))
    store.add_rfm(scored)
    out.print(f"RFM-scored {len(scored):,} customers from {purchases:,} purchases in {ms:,.0f} ms")

    step("2. Audiences")
    found = []
    for name, text in DEMO_QUERIES:
        audience, ms = timed(partial(store.query, text, as_of=population.as_of))
        found.append((name, len(audience), round(ms, 2), text))
    show_table(["audience", "users", "ms", "query"], found)
    out.print("\nplan of Q2:")
    out.print(str(store.explain(DEMO_QUERIES[1][1])))
    names = [f"t{i}" for i in range(min(50, len(store.tags())))]
    _, ms = timed(lambda: store.overlap_matrix(names))
    out.print(f"overlap matrix of {len(names)} tags: {ms:.1f} ms")

    step("3. RFM segments")
    counts = store.attribute_values("rfm.segment")
    show_table(["segment", "customers"], sorted(counts.items(), key=lambda kv: -kv[1]))

    step("4. Behaviour: events, lifecycle, retention")
    events, ms = timed(lambda: synthetic_events(users, seed=seed))
    _, ingest = timed(lambda: store.add_events(events.log, value="amount"))
    out.print(
        f"{events.log.num_rows:,} events over {events.days} days generated in {ms:,.0f} ms, "
        f"stored in {ingest:,.0f} ms ({store.memory_breakdown()['events'] / 2**20:,.1f} MiB)"
    )
    found = []
    for name, text in BEHAVIOUR_QUERIES:
        n, ms = timed(partial(store.count, text, as_of=events.as_of))
        found.append((name, n, round(ms, 2), text))
    show_table(["audience", "users", "ms", "query"], found)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stages, ms = timed(lambda: store.apply(uoseg.playbooks.lifecycle(), as_of=events.as_of))
    show_arrow(stages, title=f"lifecycle playbook in {ms:,.1f} ms")
    table, ms = timed(
        lambda: store.retention(
            "login",
            "signup",
            [0, 1, 7, 30],
            start=events.as_of - timedelta(days=13),
            as_of=events.as_of,
        )
    )
    show_arrow(table.rates(), title=f"retention of the last 14 signup cohorts in {ms:,.1f} ms")

    step("5. An A/B split")
    q1 = store.query(DEMO_QUERIES[0][1])
    arms, ms = timed(lambda: uoseg.split(q1, [0.1, 0.45, 0.45], salt="demo"))
    show_table(
        ["arm", "users"],
        list(zip(["control", "a", "b"], [len(a) for a in arms], strict=True)),
        title=f"Q1 split by salt 'demo' in {ms:,.1f} ms",
    )

    step("6. Saving")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.uoseg"
        _, save_ms = timed(lambda: store.save(path))
        _, load_ms = timed(lambda: uoseg.TagStore.load(path))
        size = path.stat().st_size
    out.print(f"saved {size / 2**20:,.1f} MiB in {save_ms:,.0f} ms, loaded in {load_ms:,.0f} ms")
    out.print(f"bitmaps and indexes hold {store.memory_usage() / 2**20:,.1f} MiB")


@app.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--users", type=int, default=100_000, show_default=True, help="Population size.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@json_option
def sample(folder: Path, users: int, seed: int, force: bool, as_json: bool) -> None:
    """Write the built-in sample data as Parquet files to try the verbs on:
    tags.parquet (user_id, tag), users.parquet (one row per user),
    events.parquet (a 90-day event log in Asia/Shanghai days) and
    orders.parquet (transactions).

    Example: uoseg sample data --users 100000
    """
    from uoseg.datasets import synthetic_events, synthetic_population

    from .files import write_table

    if users < 1:
        raise click.UsageError("--users must be at least 1")
    folder.mkdir(parents=True, exist_ok=True)
    population = synthetic_population(users, seed=seed)
    events = synthetic_events(users, seed=seed)
    tables = {
        "tags.parquet": population.tags,
        "users.parquet": population.attributes,
        "events.parquet": events.log,
        "orders.parquet": population.transactions,
    }
    for name, table in tables.items():
        write_table(table, folder / name, force)
    show_table(["file", "rows"], [(str(folder / n), t.num_rows) for n, t in tables.items()])
    out.print(
        f"events run to {events.as_of} ({events.zone}); orders to {population.as_of:%Y-%m-%d}"
    )
