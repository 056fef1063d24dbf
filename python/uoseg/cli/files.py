"""Tables in and out of files, by extension (or ``--format``): Parquet, CSV,
JSON lines and Arrow IPC (Feather). Outputs are written to a temporary file
in the same folder and renamed over the target, so an interrupted write
never leaves a half-written file under the final name; an output that exists
is refused unless ``--force``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import ColumnTypeError, FileError, InvalidInputError
from .app import err

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}
FORMAT_NAMES = sorted(set(FORMATS.values()))


def file_error(message: str, path: Path, code: int = errno.EIO) -> FileError:
    """A uoseg file error that says ``message`` and names ``path``."""
    return FileError(code, message, str(path))


def format_of(path: Path, given: str | None) -> str:
    if given:
        return given
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InvalidInputError(
            f"{path}: cannot tell the format from the extension {path.suffix!r}; use one of "
            f"{', '.join(sorted(FORMATS))} or pass --format ({', '.join(FORMAT_NAMES)})"
        )
    return kind


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
    kind = format_of(path, given_format)
    import pyarrow.csv as pa_csv
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if kind == "parquet":
            pq.write_table(table, temporary)
        elif kind == "csv":
            pa_csv.write_csv(table, temporary)
        elif kind == "json":
            with open(temporary, "w", encoding="utf-8") as f:
                import json

                for row in table.to_pylist():
                    f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        else:
            feather.write_feather(table, temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
