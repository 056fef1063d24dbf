"""Files of users (人群包): an audience's own ids with chosen columns written to
Parquet, CSV, JSON lines or Arrow IPC, batch by batch as the core makes them.

Invariants: at most one batch (one span of 2^20 users, see the core's
``export`` module) is in memory at a time, so memory stays flat at any
audience size. The rows go to a temporary file in the target's folder, which
is renamed over the target only once every batch is written: an interrupted
or failed export leaves no file, half-written or otherwise, under the final
name, and an earlier file there stays as it was.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, MissingFileError

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "check_folder",
    "format_of",
    "write_atomically",
    "write_batches",
]

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


def format_of(path: Path, given: str | None) -> str:
    """The file format of ``path``: ``given``, else its extension's."""
    if given is not None:
        if given not in FORMAT_NAMES:
            raise InvalidInputError(
                f"unknown file format {given!r}; use one of {', '.join(FORMAT_NAMES)}"
            )
        return given
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InvalidInputError(
            f"{path}: cannot tell the format from the extension {path.suffix!r}; use one of "
            f"{', '.join(sorted(FORMATS))} or name the format ({', '.join(FORMAT_NAMES)})"
        )
    return kind


def check_folder(path: Path) -> None:
    """Refuse ``path`` before any work when its folder does not exist."""
    folder = path.parent
    if not folder.is_dir():
        raise MissingFileError(
            errno.ENOENT, f"{path}: the folder {folder} does not exist", str(folder)
        )


def write_atomically(path: Path, write: Callable[[Path], int]) -> int:
    """Run ``write`` on a temporary file next to ``path`` and rename it over
    ``path`` once ``write`` returns (its result is returned); on any error or
    interrupt the temporary file is removed and ``path`` is left as it was."""
    check_folder(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        result = write(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return result


def write_batches(batches: Iterable[Any], schema: Any, path: Path, kind: str) -> int:
    """Write every record batch of ``batches`` (each of ``schema``) to ``path``
    as ``kind`` with pyarrow's writers, atomically; returns the rows written."""

    def write(temporary: Path) -> int:
        rows = 0
        if kind == "json":
            with open(temporary, "w", encoding="utf-8") as f:
                for batch in batches:
                    for row in batch.to_pylist():
                        f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                    rows += batch.num_rows
            return rows
        with _writer(kind, temporary, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
                rows += batch.num_rows
        return rows

    return write_atomically(path, write)


def _writer(kind: str, path: Path, schema: Any) -> Any:
    """pyarrow's streaming writer of ``kind`` (each is a context manager)."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(path, schema)
    if kind == "csv":
        import pyarrow.csv as pa_csv

        return pa_csv.CSVWriter(path, schema)
    import pyarrow as pa

    return pa.ipc.new_file(path, schema)
