"""The delivery verb: ``export`` hands an audience (人群包) to a channel as a
file of users, or to a warehouse as a bitmap of their ids."""

from __future__ import annotations

from pathlib import Path

import click

from .._core import Audience
from ..export import FORMAT_NAMES, write_atomically
from .app import (
    app,
    as_of_option,
    emit_json,
    force_option,
    json_option,
    out,
    parse_arms,
    parse_as_of,
)
from .files import check_output
from .store_verbs import load_for

# Bitmap outputs: what each writes (see Audience.to_doris and friends).
BITMAPS = {
    "doris": "Doris/StarRocks BITMAP bytes",
    "doris-base64": "Doris/StarRocks bitmap_from_base64 text",
    "clickhouse": "ClickHouse groupBitmap(UInt32) state",
    "roaring": "Roaring portable bytes of the store's dense ids",
}


@app.command()
@click.argument("store", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("query")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file: Parquet, CSV, JSON lines or Arrow by extension, or a bitmap (--format).",
)
@click.option("--columns", default="", help="Comma-separated tags and attributes to write.")
@click.option("--arms", help="Also an arm column: name=weight pairs, control=0.1,coupon=0.9.")
@click.option("--salt", help="The experiment's salt for --arms.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice([*FORMAT_NAMES, *BITMAPS]),
    help="The output's format when its extension does not say it; "
    "doris, doris-base64, clickhouse or roaring write the audience as one bitmap.",
)
@as_of_option
@force_option
@json_option
def export(
    store: Path,
    query: str,
    output: Path,
    columns: str,
    arms: str | None,
    salt: str | None,
    file_format: str | None,
    as_of: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Hand an audience over: its users' ids (with --columns and an A/B arm) to a
    file for a channel, or its bitmap for a warehouse, written atomically.

    Example: uoseg export users.uoseg @promo -o promo.csv --columns city --arms a=.5,b=.5 --salt x
    """
    names = [c.strip() for c in columns.split(",") if c.strip()]
    weights = parse_arms(arms) if arms else None
    if weights is not None and not salt:
        raise click.BadParameter("--arms needs the experiment's --salt", param_hint="--salt")
    if file_format in BITMAPS and (names or weights):
        raise click.BadParameter(
            "a bitmap holds users only: drop --columns and --arms", param_hint="--format"
        )
    check_output(output, force)
    opened = load_for(store, query, names)
    audience = opened.query(query, as_of=parse_as_of(as_of))
    if file_format in BITMAPS:
        write_bitmap(audience, output, file_format)
        what = BITMAPS[file_format]
    else:
        split = audience.split(weights, salt=salt) if weights and salt else None
        opened.export(audience, output, names, arms=split, format=file_format)
        what = "rows"
    if as_json:
        emit_json({"query": query, "count": len(audience), "output": str(output)})
    else:
        out.print(f"{len(audience):,} users written to {output} ({what})")


def write_bitmap(audience: Audience, path: Path, kind: str) -> None:
    """The audience's bitmap in ``kind`` to ``path``, atomically."""
    data: bytes
    if kind == "doris":
        data = audience.to_doris()
    elif kind == "doris-base64":
        data = audience.to_doris_base64().encode("ascii")
    elif kind == "clickhouse":
        data = audience.to_clickhouse()
    else:
        data = audience.serialize()
    write_atomically(path, lambda temporary: temporary.write_bytes(data))
