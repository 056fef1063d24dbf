"""Verbs on a store file: build, add, count, query, explain, lint, describe,
segments, apply."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pyarrow as pa

from ..errors import InvalidInputError
from ..export import FORMAT_NAMES
from .app import (
    app,
    as_of_option,
    emit_json,
    err,
    force_option,
    json_option,
    out,
    parse_as_of,
    plot_option,
    show_arrow,
    show_table,
    store_argument,
)
from .files import check_output, read_table, require_columns


def load(path: Path) -> Any:
    from .._store import TagStore

    return TagStore.load(path)


def load_for(path: Path, query: str, columns: list[str] | None = None) -> Any:
    """Only what the query (and ``columns``) read: a large file costs what it touches."""
    from .._store import TagStore

    return TagStore.load(path, for_query=query, columns=columns or [])


def file_options(func: Any) -> Any:
    """The inputs of build and add, and their column names."""
    options = [
        click.option(
            "--tags",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Long (user, tag) rows: one bitmap per distinct tag.",
        ),
        click.option(
            "--wide",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="One row per user: booleans → tags, strings → attributes, numbers → "
            "numeric attributes.",
        ),
        click.option(
            "--events",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="An event log: (user, ts, event[, value]) rows.",
        ),
        click.option("--user", default="user_id", show_default=True, help="User id column."),
        click.option(
            "--tag-column", default="tag", show_default=True, help="Tag name column of --tags."
        ),
        click.option("--ts", default="ts", show_default=True, help="Time column of --events."),
        click.option(
            "--event-column",
            default="event",
            show_default=True,
            help="Event name column of --events.",
        ),
        click.option("--value", default=None, help="Numeric value column of --events (TOTAL)."),
        click.option(
            "--format",
            "file_format",
            type=click.Choice(FORMAT_NAMES),
            help="Input format, when the extension does not say.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@contextmanager
def working(what: str) -> Iterator[None]:
    """A spinner with the step's name while it runs, on a terminal only."""
    if not err.is_terminal:
        yield
        return
    with err.status(what):
        yield


def add_files(store: Any, inputs: dict[str, Any]) -> list[tuple[str, int, float]]:
    """Add each given file to ``store``; (what, rows, seconds) per file."""
    done = []
    fmt = inputs["file_format"]
    if inputs["tags"]:
        path = inputs["tags"]
        table = read_table(path, fmt)
        require_columns(table, path, inputs["user"], inputs["tag_column"])
        started = time.perf_counter()
        with working(f"building {table.num_rows:,} tag rows"):
            add_long_tags(store, table.column(inputs["user"]), table.column(inputs["tag_column"]))
        done.append((f"tags from {path.name}", table.num_rows, time.perf_counter() - started))
    if inputs["wide"]:
        path = inputs["wide"]
        table = read_table(path, fmt)
        require_columns(table, path, inputs["user"])
        started = time.perf_counter()
        with working(f"indexing {table.num_rows:,} users"):
            store.add_wide(table, user=inputs["user"])
        done.append((f"users from {path.name}", table.num_rows, time.perf_counter() - started))
    if inputs["events"]:
        path = inputs["events"]
        table = read_table(path, fmt)
        require_columns(
            table, path, inputs["user"], inputs["ts"], inputs["event_column"], inputs["value"]
        )
        started = time.perf_counter()
        with working(f"storing {table.num_rows:,} events"):
            store.add_events(
                table,
                user=inputs["user"],
                ts=inputs["ts"],
                event=inputs["event_column"],
                value=inputs["value"],
            )
        done.append((f"events from {path.name}", table.num_rows, time.perf_counter() - started))
    if not done:
        raise click.UsageError("give at least one of --tags, --wide and --events")
    return done


def add_long_tags(store: Any, users: Any, names: Any) -> None:
    """(user, tag) rows into ``store``: built in one pass into an empty store,
    else tag by tag."""
    from .._store import TagStore

    if len(store) == 0 and not store.tags():
        built = TagStore.from_long(pa.table({"user_id": users, "tag": names}))
        zone = store.tz
        store._update(lambda _: built._core if zone == "UTC" else built._core.with_zone(zone))
        return
    for name in pa.compute.unique(names).to_pylist():
        if name is None:
            raise InvalidInputError("the tag column holds a null")
        mask = pa.compute.equal(names, name)
        store.update_tag(str(name), add=pa.compute.filter(users, mask))


def summary(store: Any, done: list[tuple[str, int, float]], path: Path, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "store": str(path),
                "users": len(store),
                "tags": len(store.tags()),
                "attributes": len(store.attributes()),
                "events": store.events(),
                "added": [{"what": w, "rows": n, "seconds": round(s, 4)} for w, n, s in done],
            }
        )
        return
    show_table(
        ["added", "rows", "seconds", "rows/s"],
        [(w, n, round(s, 3), int(n / s) if s > 0 else None) for w, n, s in done],
    )
    out.print(
        f"{path}: {len(store):,} users, {len(store.tags()):,} tags, "
        f"{len(store.attributes()):,} attributes, {len(store.events()):,} events"
    )


@app.command()
@click.argument("store", type=click.Path(dir_okay=False, path_type=Path))
@file_options
@click.option(
    "--tz",
    default="UTC",
    show_default=True,
    help="Time zone whose calendar days events fall on (an IANA name).",
)
@force_option
@json_option
def build(store: Path, tz: str, force: bool, as_json: bool, **inputs: Any) -> None:
    """Build a new store file from tag, user and event files.

    Example: uoseg build users.uoseg --tags tags.parquet --events events.parquet --tz Asia/Shanghai
    """
    from .._store import TagStore

    check_output(store, force)
    built = TagStore(tz=tz)
    done = add_files(built, inputs)
    built.save(store)
    summary(built, done, store, as_json)


@app.command()
@store_argument
@file_options
@json_option
def add(store: Path, as_json: bool, **inputs: Any) -> None:
    """Add tags, users or events (a new day, say) to an existing store file.

    Example: uoseg add users.uoseg --events day-2026-07-01.parquet
    """
    opened = load(store)
    done = add_files(opened, inputs)
    opened.save(store)  # atomic: an interrupted add leaves the old file
    summary(opened, done, store, as_json)


@app.command()
@store_argument
@click.argument("query")
@as_of_option
@json_option
def count(store: Path, query: str, as_of: str | None, as_json: bool) -> None:
    """How many users a query holds.

    Example: uoseg count users.uoseg 'vip AND city IN ("SH", "BJ")'
    """
    n = load_for(store, query).count(query, as_of=parse_as_of(as_of))
    if as_json:
        emit_json({"query": query, "count": n})
    else:
        out.print(f"{n:,}")


@app.command()
@store_argument
@click.argument("query")
@as_of_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the users (and --columns) to a Parquet, CSV, JSON lines or Arrow file.",
)
@click.option("--columns", default="", help="Comma-separated tags and attributes to write.")
@click.option("--limit", default=20, show_default=True, help="Ids to print without -o.")
@force_option
@json_option
def query(
    store: Path,
    query: str,
    as_of: str | None,
    output: Path | None,
    columns: str,
    limit: int,
    force: bool,
    as_json: bool,
) -> None:
    """The users a query holds: their number and first ids, or all of them in a file.

    Example: uoseg query users.uoseg '@churn_risk AND NOT contacted' -o list.parquet --columns city
    """
    names = [c.strip() for c in columns.split(",") if c.strip()]
    opened = load_for(store, query, names)
    audience = opened.query(query, as_of=parse_as_of(as_of))
    if output is not None:
        check_output(output, force)
        opened.export(audience, output, names)
        if as_json:
            emit_json({"query": query, "count": len(audience), "output": str(output)})
        else:
            out.print(f"{len(audience):,} users written to {output}")
        return
    ids = audience.ids()[:limit].tolist()
    if as_json:
        emit_json({"query": query, "count": len(audience), "ids": ids})
    else:
        out.print(f"{len(audience):,} users")
        if ids:
            more = " …" if len(audience) > limit else ""
            out.print(", ".join(map(str, ids)) + more)


@app.command()
@store_argument
@click.argument("query")
@as_of_option
@json_option
def explain(store: Path, query: str, as_of: str | None, as_json: bool) -> None:
    """Run a query and show its plan, each step's size and time, and its lint findings.

    Example: uoseg explain users.uoseg 'vip AND age BETWEEN 25 AND 35'
    """
    result = load_for(store, query).explain(query, as_of=parse_as_of(as_of))
    if as_json:
        findings = [
            {"kind": f.kind, "message": f.message, "position": f.position}
            for f in (result.lint or [])
        ]
        emit_json({"query": query, "plan": result.plan, "lint": findings})
    else:
        out.print(str(result))


@app.command()
@click.argument("args", nargs=-1, required=True, metavar="[STORE] QUERY")
@json_option
def lint(args: tuple[str, ...], as_json: bool) -> None:
    """Static findings about a query without running it: contradictions,
    tautologies, redundant terms and (given a store) empty or unknown names.

    Example: uoseg lint users.uoseg 'age < 20 AND age > 30'
    """
    from ..lint import lint as lint_text

    if len(args) == 1:
        found = lint_text(args[0])
    elif len(args) == 2:
        path = Path(args[0])
        if not path.is_file():
            raise click.BadParameter(f"{path} is not a store file", param_hint="STORE")
        found = load(path).lint(args[1])
    else:
        raise click.UsageError("give a query, or a store file and a query")
    if as_json:
        emit_json(
            {
                "query": found.text,
                "verdict": found.verdict,
                "findings": [
                    {"kind": f.kind, "message": f.message, "position": f.position, "end": f.end}
                    for f in found
                ],
            }
        )
    elif not found:
        out.print("no findings")
    else:
        out.print(str(found))
        if found.verdict != "unknown":
            out.print(
                f"the whole query matches {'nobody' if found.verdict == 'empty' else 'everyone'}"
            )


@app.command()
@store_argument
@as_of_option
@plot_option
@force_option
@json_option
def describe(
    store: Path, as_of: str | None, plot_path: Path | None, force: bool, as_json: bool
) -> None:
    """What a store holds: tags, attributes and segments by kind with their
    users, events, and the memory each part takes.

    Example: uoseg describe users.uoseg
    """
    opened = load(store)
    table = opened.describe(as_of=parse_as_of(as_of))
    memory = opened.memory_breakdown()
    if plot_path is not None:
        check_output(plot_path, force)
        table.plot(plot_path)
    if as_json:
        emit_json(
            {
                "users": len(opened),
                "time_zone": opened.tz,
                "names": table.to_pylist(),
                "events": opened.events(),
                "memory_bytes": memory,
            }
        )
        return
    out.print(f"{store}: {len(opened):,} users, time zone {opened.tz}")
    show_arrow(table, limit=200)
    if opened.events():
        show_table(["event", "events"], sorted(opened.events().items()), title="events")
    show_table(
        ["part", "MiB"], [(k, round(v / 2**20, 2)) for k, v in memory.items()], title="memory"
    )


@app.command()
@store_argument
@click.argument("action", required=False, type=click.Choice(["define", "drop"]))
@click.argument("name", required=False)
@click.argument("query", required=False)
@json_option
def segments(
    store: Path, action: str | None, name: str | None, query: str | None, as_json: bool
) -> None:
    """List saved segments, or define or drop one.

    Example: uoseg segments users.uoseg define high_value 'vip AND monetary > 500'
    """
    opened = load(store)
    if action == "define":
        if name is None or query is None:
            raise click.UsageError("define needs a NAME and a QUERY")
        opened.define(name, query)
        opened.save(store)
    elif action == "drop":
        if name is None or query is not None:
            raise click.UsageError("drop needs a NAME (and nothing after it)")
        opened.drop_segment(name)
        opened.save(store)
    rows = list(opened.segments().items())
    if as_json:
        emit_json({"segments": dict(rows)})
    elif rows:
        show_table(["segment", "query"], rows)
    else:
        out.print("no saved segments")


BUILTIN_PLAYBOOKS = (
    "lifecycle",
    "health",
    "health_score",
    "churn_warning",
    "rfm_layers",
    "vip_tiers",
    "value_quadrant",
)


@app.command()
@store_argument
@click.argument("playbook")
@as_of_option
@click.option("--dry-run", is_flag=True, help="Show each rule's size without writing labels.")
@json_option
def apply(store: Path, playbook: str, as_of: str | None, dry_run: bool, as_json: bool) -> None:
    """Label every user by a playbook: a TOML file, a playbook kept with the
    store, or a built-in (lifecycle, health, churn_warning, rfm_layers, ...).

    Example: uoseg apply users.uoseg lifecycle --as-of 2026-06-30
    """
    from .. import playbooks
    from ..playbook import Playbook

    opened = load(store)
    if Path(playbook).suffix.lower() == ".toml":
        book = Playbook.load(playbook)
    elif playbook in opened.playbooks():
        book = opened.playbooks()[playbook]
    elif playbook in BUILTIN_PLAYBOOKS:
        maker = getattr(playbooks, playbook)
        book = maker(opened) if playbook == "value_quadrant" else maker()
    else:
        raise click.BadParameter(
            f"{playbook!r} is not a .toml file, a playbook kept with the store "
            f"({', '.join(opened.playbooks()) or 'none'}) or a built-in "
            f"({', '.join(BUILTIN_PLAYBOOKS)})",
            param_hint="PLAYBOOK",
        )
    when = parse_as_of(as_of)
    if dry_run:
        explained = opened.explain_playbook(book, as_of=when)
        if as_json:
            emit_json(
                {
                    "playbook": book.name,
                    "rules": explained.to_pylist(),
                    "findings": explained.findings,
                }
            )
        else:
            show_arrow(explained, title=f"playbook {book.name} (dry run)")
            for note in explained.findings:
                err.print(f"! {note}")
        return
    import warnings

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = opened.apply(book, as_of=when)
    opened.save(store)
    if as_json:
        emit_json(
            {
                "playbook": book.name,
                "attribute": result.attribute,
                "labels": result.to_pylist(),
                "findings": result.findings,
            }
        )
    else:
        show_arrow(result, title=f"{book.name} → attribute {result.attribute!r}")
        for note in result.findings:
            err.print(f"! {note}")
