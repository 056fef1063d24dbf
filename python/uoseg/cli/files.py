"""Tables in and out of files, by extension (or ``--format``): Parquet, CSV,
JSON lines and Arrow IPC (Feather). Outputs are written to a temporary file
in the same folder and renamed over the target, so an interrupted write
never leaves a half-written file under the final name; an output that exists
is refused unless ``--force``.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import ColumnTypeError, FileError
from ..export import format_of, write_batches
from .app import err


def file_error(message: str, path: Path, code: int = errno.EIO) -> FileError:
    """A uoseg file error that says ``message`` and names ``path``."""
    return FileError(code, message, str(path))


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Any]:
    """A progress bar with rows per second, on a terminal only."""
    if not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TextColumn("{task.fields[speed]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        yield progress, progress.add_task(label, total=total, speed="")


def read_table(path: Path, given_format: str | None = None) -> pa.Table:
    """The whole table in ``path``; a file that is not a table of that format
    is a uoseg error naming it."""
    kind = format_of(path, given_format)
    # The readers are imported when used: a count from the terminal needs none.
    import pyarrow.csv as pa_csv
    import pyarrow.feather as feather
    import pyarrow.json as pa_json

    try:
        if kind == "parquet":
            return _read_parquet(path)
        if kind == "csv":
            return pa_csv.read_csv(path)
        if kind == "json":
            return pa_json.read_json(path)
        return feather.read_table(path)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise file_error(f"{path}: not a readable {kind} table: {exc}", path) from None


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    total = source.metadata.num_rows
    batches = []
    with _progress(f"reading {path.name}", total) as bar:
        for batch in source.iter_batches(batch_size=1 << 20):
            batches.append(batch)
            if bar is not None:
                progress, task = bar
                progress.advance(task, batch.num_rows)
                elapsed = progress.tasks[task].elapsed or 0
                done = progress.tasks[task].completed
                speed = f"{done / elapsed:,.0f} rows/s" if elapsed > 0 else ""
                progress.update(task, speed=speed)
    if not batches:
        return source.schema_arrow.empty_table()
    return pa.Table.from_batches(batches, schema=source.schema_arrow)


def require_columns(table: pa.Table, path: Path, *names: str | None) -> None:
    for name in names:
        if name is not None and name not in table.column_names:
            raise ColumnTypeError(
                f"{path}: no column {name!r} (it has {', '.join(table.column_names)})"
            )


def check_output(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise file_error(f"{path} exists: pass --force to overwrite it", path, errno.EEXIST)
    if not path.parent.exists():
        raise file_error(f"{path}: the folder {path.parent} does not exist", path, errno.ENOENT)


def write_table(table: pa.Table, path: Path, force: bool, given_format: str | None = None) -> None:
    """Write ``table`` to ``path`` atomically (see the module docs)."""
    check_output(path, force)
    write_batches(table.to_batches(), table.schema, path, format_of(path, given_format))
