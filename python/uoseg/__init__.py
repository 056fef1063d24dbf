"""uoseg: user segmentation on compressed bitmaps.

Tags, attributes and audiences are Roaring bitmaps of user ids held by a
Rust core; this package is the Python face of it.
"""

from __future__ import annotations

from ._core import Audience, intersection, num_threads, union
from ._core import __version__ as __version__
from ._store import Explain, TagStore
from .bucket import cut, ntile, qcut
from .query import ALL, Attr, Query, attr, segment, tag
from .rfm import RfmResult, RfmScheme, rfm
from .split import split
from .errors import (
    ColumnTypeError,
    DuplicateEdgesError,
    InternalError,
    InvalidInputError,
    QuerySyntaxError,
    StoreFormatError,
    UnknownNameError,
    UosegError,
)

__all__ = [
    "ALL",
    "Attr",
    "Audience",
    "Explain",
    "Query",
    "QuerySyntaxError",
    "attr",
    "segment",
    "split",
    "tag",
    "ColumnTypeError",
    "DuplicateEdgesError",
    "RfmResult",
    "RfmScheme",
    "cut",
    "ntile",
    "qcut",
    "rfm",
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
