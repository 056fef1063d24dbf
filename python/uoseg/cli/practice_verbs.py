"""Verbs of the weekly practices: rfm, qcut, split, retention, diff, transitions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click
import numpy as np
import pyarrow as pa

from ..export import FORMAT_NAMES
from .app import (
    app,
    as_of_option,
    emit_json,
    force_option,
    json_option,
    out,
    parse_arms,
    parse_as_of,
    plot_option,
    show_arrow,
    show_table,
    store_argument,
)
from .files import check_output, read_table, require_columns, write_table
from .store_verbs import load

INPUT = click.Path(exists=True, dir_okay=False, path_type=Path)
OUTPUT = click.Path(dir_okay=False, path_type=Path)


@app.command()
@click.argument("transactions", type=INPUT)
@click.option(
    "--as-of",
    "as_of",
    required=True,
    metavar="DATE",
    help="Recency is counted back from here (purchases after it are ignored).",
)
@click.option(
    "--scheme",
    default="en11",
    show_default=True,
    help="Segment scheme: en11 (11 named segments) or cn8 (重要价值客户 …).",
)
@click.option("--user", default="user_id", show_default=True)
@click.option("--ts", default="ts", show_default=True)
@click.option("--amount", default="amount", show_default=True)
@click.option("-o", "--output", type=OUTPUT, help="Write the scored table to this file.")
@click.option(
    "--store",
    "store_path",
    type=INPUT,
    help="Also write the scores into this store (rfm.r/f/m/segment, monetary, ...).",
)
@click.option("--format", "file_format", type=click.Choice(FORMAT_NAMES))
@force_option
@plot_option
@json_option
def rfm(
    transactions: Path,
    as_of: str,
    scheme: str,
    user: str,
    ts: str,
    amount: str,
    output: Path | None,
    store_path: Path | None,
    file_format: str | None,
    force: bool,
    plot_path: Path | None,
    as_json: bool,
) -> None:
    """RFM scores and segments from a transaction log.

    Example: uoseg rfm orders.parquet --as-of 2026-06-30 --scheme cn8 -o scored.parquet
    """
    from ..rfm import rfm as score

    if output is not None:
        check_output(output, force)
    table = read_table(transactions, file_format)
    require_columns(table, transactions, user, ts, amount)
    result = score(table, user=user, ts=ts, amount=amount, as_of=parse_as_of(as_of), scheme=scheme)
    if output is not None:
        write_table(result.table, output, force)
    if plot_path is not None:
        check_output(plot_path, force)
        result.plot(plot_path)
    if store_path is not None:
        opened = load(store_path)
        opened.add_rfm(result)
        opened.save(store_path)
    segments = Counter(result.table.column("segment").to_pylist())
    monetary = result.table.column("monetary").cast(pa.float64()).to_numpy(zero_copy_only=False)
    labels = np.asarray(result.table.column("segment").to_pylist(), dtype=object)
    rows = [
        (name, n, n / len(result), float(monetary[labels == name].mean()))
        for name, n in segments.most_common()
    ]
    if as_json:
        emit_json(
            {
                "customers": len(result),
                "segments": [
                    {"segment": s, "customers": n, "share": sh, "mean_monetary": m}
                    for s, n, sh, m in rows
                ],
            }
        )
    else:
        show_table(
            ["segment", "customers", "share", "mean monetary"],
            rows,
            title=f"RFM of {len(result):,} customers as of {as_of}",
        )


@app.command()
@click.argument("table_file", metavar="FILE", type=INPUT)
@click.argument("column")
@click.option("-q", "--quantiles", "q", default=5, show_default=True, help="Number of buckets.")
@click.option("-o", "--output", type=OUTPUT, help="Write FILE with a COLUMN_bucket column added.")
@click.option("--format", "file_format", type=click.Choice(FORMAT_NAMES))
@force_option
@json_option
def qcut(
    table_file: Path,
    column: str,
    q: int,
    output: Path | None,
    file_format: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Equal-frequency buckets of a numeric column, with pandas.qcut's exact edges.

    Example: uoseg qcut users.parquet monetary -q 10 -o bucketed.parquet
    """
    from ..bucket import qcut as bucket

    if output is not None:
        check_output(output, force)
    table = read_table(table_file, file_format)
    require_columns(table, table_file, column)
    codes, edges = bucket(table.column(column), q, retbins=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(edges) - 1)
    rows = [(k, float(edges[k]), float(edges[k + 1]), int(counts[k])) for k in range(len(counts))]
    if output is not None:
        missing = codes < 0
        write_table(
            table.append_column(f"{column}_bucket", pa.array(codes, mask=missing)), output, force
        )
    if as_json:
        emit_json(
            {
                "column": column,
                "edges": [float(e) for e in edges],
                "counts": [int(c) for c in counts],
                "missing": int((codes < 0).sum()),
            }
        )
    else:
        show_table(["bucket", "from", "to", "rows"], rows, title=f"{column} in {q} buckets")


@app.command()
@store_argument
@click.argument("query")
@click.option("--arms", required=True, help="name=weight pairs: control=0.1,a=0.45,b=0.45.")
@click.option("--salt", required=True, help="The experiment's salt: the same salt, the same arms.")
@as_of_option
@click.option(
    "-o", "--output", type=OUTPUT, help="Write (user_id, arm) rows to this file (see uoseg export)."
)
@force_option
@json_option
def split(
    store: Path,
    query: str,
    arms: str,
    salt: str,
    as_of: str | None,
    output: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Split an audience into A/B arms by a salted hash of each user's id.

    Example: uoseg split users.uoseg '@promo' --arms control=0.1,a=0.45,b=0.45 --salt exp-2026-12
    """
    from ..split import split as divide

    weights = parse_arms(arms)
    if not salt:
        raise click.BadParameter("the salt is empty", param_hint="--salt")
    if output is not None:
        check_output(output, force)
    opened = load(store)
    audience = opened.query(query, as_of=parse_as_of(as_of))
    groups = divide(audience, list(weights.values()), salt)
    if output is not None:
        opened.export(audience, output, arms=dict(zip(weights, groups, strict=True)))
    rows = [
        (name, len(g), len(g) / max(len(audience), 1))
        for name, g in zip(weights, groups, strict=True)
    ]
    if as_json:
        emit_json(
            {
                "query": query,
                "salt": salt,
                "users": len(audience),
                "arms": {name: n for name, n, _ in rows},
            }
        )
    else:
        show_table(["arm", "users", "share"], rows, title=f"{len(audience):,} users, salt {salt!r}")


def parse_days(text: str) -> list[int]:
    """ "0-30" or "0,1,7,30"."""
    try:
        if "-" in text and "," not in text:
            low, high = (int(x) for x in text.split("-"))
            return list(range(low, high + 1))
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: write offsets as 0-30 or 0,1,7,30", param_hint="--days"
        ) from None


@app.command()
@store_argument
@click.option("--event", default="login", show_default=True, help="The returning event.")
@click.option(
    "--cohort",
    default="signup",
    show_default=True,
    help="The event (first occurrence) or date attribute that makes cohorts.",
)
@click.option(
    "--days", "days_text", default="0,1,7,30", show_default=True, help="Offsets: 0-30 or 0,1,7,30."
)
@click.option("--start", help="First cohort day (default: the first cohort event).")
@click.option("--end", help="Last cohort day (default: as of).")
@click.option(
    "--unit", type=click.Choice(["day", "week", "month"]), default="day", show_default=True
)
@click.option(
    "--kind", type=click.Choice(["n-day", "unbounded"]), default="n-day", show_default=True
)
@click.option("--among", help="Only users of this query (a segment, an arm).")
@click.option(
    "--as-of", "as_of", required=True, metavar="DATE", help="Nothing after this day is looked at."
)
@click.option("--rates", is_flag=True, help="Show shares of the cohort instead of users.")
@plot_option
@force_option
@json_option
def retention(
    store: Path,
    event: str,
    cohort: str,
    days_text: str,
    start: str | None,
    end: str | None,
    unit: str,
    kind: str,
    among: str | None,
    as_of: str,
    rates: bool,
    plot_path: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Cohort retention (次日/7日/30日留存): per cohort, the users who did the
    event that many days (weeks, months) later; null where that day has not come.

    Example: uoseg retention users.uoseg --cohort signup --days 0-30 --as-of 2026-06-30
    """
    table = load(store).retention(
        event,
        cohort,
        parse_days(days_text),
        start=start,
        end=end,
        kind=kind,
        unit=unit,
        among=among,
        as_of=parse_as_of(as_of),
    )
    shown = table.rates() if rates else table
    if plot_path is not None:
        check_output(plot_path, force)
        table.plot(plot_path)
    if as_json:
        emit_json(
            {
                "event": event,
                "cohort": cohort,
                "unit": unit,
                "kind": kind,
                "rows": shown.to_pylist(),
                "average": table.average(),
            }
        )
    else:
        show_arrow(shown, title=f"{event} after first {cohort}, {kind}, by {unit}", limit=400)


@app.command()
@click.argument("old", type=INPUT)
@click.argument("new", type=INPUT)
@click.argument("query")
@as_of_option
@json_option
def diff(old: Path, new: Path, query: str, as_of: str | None, as_json: bool) -> None:
    """Who entered, left and stayed in an audience between two store files.

    Example: uoseg diff last-week.uoseg today.uoseg '@high_value'
    """
    from ..snapshots import diff as compare

    result = compare(load(old), load(new), query, parse_as_of(as_of))
    if as_json:
        emit_json(
            {
                "query": query,
                **result.counts,
                "definition_changed": result.definition_changed,
                "changed_segments": list(result.changed_segments),
            }
        )
        return
    show_table(["", "users"], list(result.counts.items()), title=query)
    if result.definition_changed:
        out.print(
            "note: the definition of "
            + ", ".join("@" + s for s in result.changed_segments)
            + " changed between the two files"
        )


@app.command()
@click.argument("old", type=INPUT)
@click.argument("new", type=INPUT)
@click.argument("attribute")
@click.option("--shares", is_flag=True, help="Show row shares instead of users.")
@plot_option
@force_option
@json_option
def transitions(
    old: Path,
    new: Path,
    attribute: str,
    shares: bool,
    plot_path: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """How users moved between the values of a categorical attribute (an RFM
    segment, a lifecycle stage) from one store file to another.

    Example: uoseg transitions last-month.uoseg today.uoseg rfm.segment --shares
    """
    from ..snapshots import transitions as matrix

    table = matrix(load(old), load(new), attribute)
    if plot_path is not None:
        check_output(plot_path, force)
        table.plot(plot_path)
    shown = table.shares() if shares else table
    if as_json:
        emit_json({"attribute": attribute, "rows": shown.to_pylist()})
    else:
        show_arrow(shown, title=f"{attribute}: old (rows) → new (columns)", limit=400)


@app.command()
@store_argument
@click.argument("names", nargs=-1, required=True)
@click.option("--jaccard", is_flag=True, help="Jaccard indexes instead of users in both.")
@plot_option
@force_option
@json_option
def overlap(
    store: Path,
    names: tuple[str, ...],
    jaccard: bool,
    plot_path: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Pairwise overlaps of tags: users in both, or the Jaccard index.

    Example: uoseg overlap users.uoseg vip 高价值用户 churned --jaccard --plot overlap.png
    """
    matrix = load(store).overlap_matrix(list(names))
    values = matrix.jaccard() if jaccard else np.asarray(matrix)
    if plot_path is not None:
        check_output(plot_path, force)
        matrix.plot(plot_path, jaccard=jaccard)
    if as_json:
        emit_json({"names": list(names), "jaccard": jaccard, "matrix": values.tolist()})
        return
    rows = [
        [name, *(float(v) if jaccard else int(v) for v in row)]
        for name, row in zip(names, values, strict=True)
    ]
    show_table(["", *names], rows)
