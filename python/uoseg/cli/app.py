"""The ``uoseg`` command group, the options verbs share and how results are
printed: rich tables for people, ``--json`` for scripts.

Exit codes: 0 ok, 1 a uoseg error (its message on stderr, no traceback), 2 a
usage error (click's message), 130 interrupted.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from .._tables import format_cell

F = TypeVar("F", bound=Callable[..., Any])

# Results go to stdout; progress and messages to stderr.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="uoseg", message="uoseg %(version)s")
def app() -> None:
    """uoseg: user segmentation from the terminal. Build a store from Parquet,
    CSV, JSON lines or Arrow files, then count, list, score and compare
    audiences. Every verb has --help with an example."""


def as_of_option(func: F) -> F:
    return click.option(
        "--as-of",
        "as_of",
        metavar="DATE",
        help="Evaluation time for WITHIN, DID and FIRST: 2026-06-30 or 2026-06-30T08:00:00.",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(func)


def force_option(func: F) -> F:
    return click.option("--force", is_flag=True, help="Overwrite an output file that exists.")(func)


def plot_option(func: F) -> F:
    return click.option(
        "--plot",
        "plot_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also draw it: out.png, out.svg or out.html (needs uoseg[plot]).",
    )(func)


def store_argument(func: F) -> F:
    return click.argument("store", type=click.Path(exists=True, dir_okay=False, path_type=Path))(
        func
    )


def parse_as_of(text: str | None) -> Any:
    """``--as-of`` as a date (a day) or a datetime (an instant)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date or time: write 2026-06-30 or 2026-06-30T08:00:00",
            param_hint="--as-of",
        ) from None


def emit_json(value: Any) -> None:
    """One JSON document on stdout (dates as ISO text, Chinese as is)."""

    def default(o: Any) -> Any:
        if isinstance(o, dt.date | dt.datetime):
            return o.isoformat()
        if hasattr(o, "item"):  # NumPy scalars
            return o.item()
        if isinstance(o, set | tuple):
            return list(o)
        raise TypeError(f"{type(o).__name__} is not JSON")

    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=default) + "\n")


def show_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
) -> None:
    """An aligned table (rich measures East Asian wide characters as two columns)."""
    table = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float) or r[i] is None for r in rows)
        for i in range(len(columns))
    ]
    for name, right in zip(columns, numeric, strict=True):
        table.add_column(str(name), justify="right" if right else "left")
    for row in rows:
        table.add_row(*(format_cell(v) for v in row))
    out.print(table)


def show_arrow(table: Any, *, title: str | None = None, limit: int = 60) -> None:
    """An Arrow table (or a uoseg result table) as an aligned table."""
    arrow = getattr(table, "table", table)
    rows = arrow.slice(0, limit).to_pylist()
    names = list(arrow.column_names)
    show_table(names, [[r[n] for n in names] for r in rows], title=title)
    if arrow.num_rows > limit:
        out.print(f"… {arrow.num_rows - limit:,} more rows")


def parse_arms(text: str) -> dict[str, float]:
    arms: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if not name or not weight:
            raise click.BadParameter(f"{part!r} is not name=weight", param_hint="--arms")
        if name in arms:
            raise click.BadParameter(f"arm {name!r} is named twice", param_hint="--arms")
        try:
            arms[name] = float(weight)
        except ValueError:
            raise click.BadParameter(f"{weight!r} is not a number", param_hint="--arms") from None
        if arms[name] < 0:
            raise click.BadParameter(f"arm {name!r} has a negative weight", param_hint="--arms")
    if abs(sum(arms.values()) - 1) > 1e-6:
        raise click.BadParameter(
            f"the weights add up to {sum(arms.values()):g}, not 1", param_hint="--arms"
        )
    return arms
