"""The uoseg exception hierarchy.

Every error uoseg raises is a :class:`UosegError` and also the matching
built-in exception, so ``except KeyError`` or ``except ValueError`` keeps
working in code that does not know uoseg.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ColumnTypeError",
    "DuplicateEdgesError",
    "FileError",
    "InternalError",
    "InvalidInputError",
    "MissingExtraError",
    "MissingFileError",
    "QuerySyntaxError",
    "StoreFormatError",
    "UnknownNameError",
    "UosegError",
]


class UosegError(Exception):
    """Root of all uoseg errors."""


class UnknownNameError(UosegError, KeyError):
    """A tag, attribute, segment or user id the store does not hold.

    ``suggestions`` lists the closest known names.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "name",
        name: str = "",
        suggestions: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.name = name
        self.suggestions = list(suggestions)

    def __str__(self) -> str:
        # KeyError would print the repr of its argument; show the message as is.
        return self.message


class ColumnTypeError(UosegError, TypeError):
    """A column or argument of the wrong type; the message names it and its type."""


class InvalidInputError(UosegError, ValueError):
    """A value uoseg refuses: null or negative ids, ids out of range, name clashes."""


class StoreFormatError(UosegError, ValueError):
    """A store file or bitmap bytes that are truncated, corrupted or of a newer format."""


class FileError(UosegError, OSError):
    """A file that could not be read or written; ``filename`` is its path and the
    message says what was being done (``errno`` and ``strerror`` are set as
    ``OSError`` sets them)."""

    def __str__(self) -> str:
        return str(self.strerror)


class MissingFileError(FileError, FileNotFoundError):
    """A file (or its folder) that does not exist; ``filename`` is its path."""


class MissingExtraError(UosegError, ImportError):
    """A feature whose optional extra is not installed; the message names the
    ``pip install`` that brings it (``uoseg[plot]``)."""


class InternalError(UosegError, RuntimeError):
    """A bug in uoseg (a caught panic). Please report it with the message."""


class QuerySyntaxError(UosegError, ValueError):
    """A query that does not parse.

    The message shows the query with a caret under the fault. ``position``
    (0-based, in characters), ``line`` and ``column`` (1-based) locate it;
    ``expected`` lists what would have been accepted there.
    """

    def __init__(
        self,
        message: str,
        *,
        position: int = 0,
        line: int = 1,
        column: int = 1,
        expected: Sequence[str] = (),
        found: str = "",
        text: str = "",
    ) -> None:
        super().__init__(message)
        self.position = position
        self.line = line
        self.column = column
        self.expected = list(expected)
        self.found = found
        self.text = text


class DuplicateEdgesError(UosegError, ValueError):
    """Quantile edges that repeat, with ``duplicates="raise"`` (as pandas says:
    "Bin edges must be unique"; pass ``duplicates="drop"`` to merge them).
    ``edges`` holds the edges, repeats included."""

    def __init__(self, message: str, *, edges: Sequence[float] = ()) -> None:
        super().__init__(message)
        self.edges = list(edges)
