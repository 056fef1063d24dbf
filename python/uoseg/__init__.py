"""uoseg: user segmentation on compressed bitmaps.

Tags, attributes and audiences are Roaring bitmaps of user ids held by a
Rust core; this package is the Python face of it.
"""

from __future__ import annotations

from ._core import Audience, intersection, num_threads, union
from ._core import __version__ as __version__
from ._store import Explain, TagStore
from .bucket import cut, ntile, qcut
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
from .query import ALL, Attr, Query, attr, segment, tag
from .rfm import RfmResult, RfmScheme, rfm
from .split import split

__all__ = [
    "ALL",
    "Attr",
    "Audience",
    "ColumnTypeError",
    "DuplicateEdgesError",
    "Explain",
    "InternalError",
    "InvalidInputError",
    "Query",
    "QuerySyntaxError",
    "RfmResult",
    "RfmScheme",
    "StoreFormatError",
    "TagStore",
    "UnknownNameError",
    "UosegError",
    "attr",
    "cut",
    "intersection",
    "ntile",
    "num_threads",
    "qcut",
    "rfm",
    "segment",
    "split",
    "tag",
    "union",
]
