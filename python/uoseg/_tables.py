"""Result tables: an Arrow table with a readable face.

Results that are tables (``describe()``, and the RFM, retention and transition
tables that follow the same pattern) wrap a ``pyarrow.Table``. They speak the
Arrow PyCapsule stream interface, so polars, pandas, DuckDB and pyarrow read them
directly, convert with ``to_pandas()`` / ``to_polars()``, and print as an aligned
text table (East Asian wide characters count two columns) or, in Jupyter, as HTML.
"""

from __future__ import annotations

import html
import unicodedata
from typing import Any

import pyarrow as pa

__all__ = ["TableResult", "display_width", "format_cell", "render_text_table"]

# Rows shown by repr before the table is cut with a "… N more rows" line.
MAX_SHOWN_ROWS = 40


def display_width(text: str) -> int:
    """Terminal columns taken by ``text``: East Asian wide and full-width
    characters take two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def format_cell(value: Any) -> str:
    """A value as a table shows it: grouped integers, four significant digits, — for null."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def render_text_table(
    columns: list[str], rows: list[list[Any]], right: set[str] | None = None
) -> str:
    """Rows under a header, columns aligned by display width; the columns in
    ``right`` (numbers, by default any column whose values are all numbers) are
    right-aligned."""
    cells = [[format_cell(v) for v in row] for row in rows]
    if right is None:
        right = {
            name
            for i, name in enumerate(columns)
            if any(isinstance(r[i], int | float) for r in rows)
            and all(isinstance(r[i], int | float) or r[i] is None for r in rows)
        }
    widths = [
        max([display_width(name)] + [display_width(r[i]) for r in cells])
        for i, name in enumerate(columns)
    ]

    def line(values: list[str]) -> str:
        parts = []
        for name, value, width in zip(columns, values, widths, strict=True):
            pad = " " * (width - display_width(value))
            parts.append(pad + value if name in right else value + pad)
        return "  ".join(parts).rstrip()

    out = [line(list(columns)), "  ".join("─" * w for w in widths)]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


class TableResult:
    """A result table: ``.table`` is the ``pyarrow.Table``; the object itself
    speaks ``__arrow_c_stream__`` and prints readably."""

    __slots__ = ("table",)

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    # ---- the Arrow face ----

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self.table.__arrow_c_stream__(requested_schema)

    def to_pandas(self) -> Any:
        return self.table.to_pandas()

    def to_polars(self) -> Any:
        import polars as pl

        return pl.from_arrow(self.table)

    def to_pylist(self) -> list[dict[str, Any]]:
        return list(self.table.to_pylist())

    def column(self, name: str) -> pa.ChunkedArray:
        return self.table.column(name)

    @property
    def column_names(self) -> list[str]:
        return list(self.table.column_names)

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    def __len__(self) -> int:
        return int(self.table.num_rows)

    # ---- the human face ----

    def _title(self) -> str:
        return f"{type(self).__name__}({self.num_rows:,} rows)"

    def __repr__(self) -> str:
        shown = self.table.slice(0, MAX_SHOWN_ROWS).to_pylist()
        rows = [[row[name] for name in self.table.column_names] for row in shown]
        text = render_text_table(list(self.table.column_names), rows)
        more = self.num_rows - len(shown)
        tail = f"\n… {more:,} more rows" if more > 0 else ""
        return f"{self._title()}\n{text}{tail}"

    def _repr_html_(self) -> str:
        shown = self.table.slice(0, MAX_SHOWN_ROWS).to_pylist()
        head = "".join(f"<th>{html.escape(n)}</th>" for n in self.table.column_names)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(format_cell(row[n]))}</td>" for n in self.table.column_names
            )
            + "</tr>"
            for row in shown
        )
        more = self.num_rows - len(shown)
        tail = f"<p>… {more:,} more rows</p>" if more > 0 else ""
        return (
            f"<p><b>{html.escape(self._title())}</b></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{tail}"
        )
