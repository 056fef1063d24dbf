"""uoseg: user segmentation on compressed bitmaps.

Tags, attributes and audiences are Roaring bitmaps of user ids held by a
Rust core; this package is the Python face of it.
"""

from __future__ import annotations

from ._core import Audience, intersection, num_threads, union
from ._core import __version__ as __version__
from ._store import TagStore
from .errors import (
    ColumnTypeError,
    InternalError,
    InvalidInputError,
    StoreFormatError,
    UnknownNameError,
    UosegError,
)

__all__ = [
    "Audience",
    "ColumnTypeError",
    "InternalError",
    "InvalidInputError",
    "StoreFormatError",
    "TagStore",
    "UnknownNameError",
    "UosegError",
    "intersection",
    "num_threads",
    "union",
]
