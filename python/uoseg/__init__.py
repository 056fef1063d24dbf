"""uoseg: user segmentation on compressed bitmaps.

Tags, attributes and audiences are Roaring bitmaps of user ids held by a
Rust core; this package is the Python face of it.
"""

from __future__ import annotations

import warnings as _warnings

from . import playbooks, plot
from ._core import Audience, cpu_paths, intersection, num_threads, set_cpu_paths, union
from ._core import __version__ as __version__
from ._core import thread_setting_problem as _thread_setting_problem
from ._store import Explain, StoreDescription, TagStore
from .bucket import cut, ntile, qcut
from .errors import (
    ColumnTypeError,
    DuplicateEdgesError,
    FileError,
    InternalError,
    InvalidInputError,
    MissingExtraError,
    MissingFileError,
    QuerySyntaxError,
    StoreFormatError,
    UnknownNameError,
    UosegError,
)
from .experiments import (
    Arms,
    Experiment,
    Layer,
    Readout,
    SrmResult,
    bucket_of,
    readout,
    srm,
    stratified_sample,
)
from .lint import Lint, LintFinding, lint
from .playbook import Playbook, PlaybookExplain, PlaybookResult, PlaybookWarning, Rule
from .query import ALL, Attr, Behaviour, Query, attr, did, first, segment, tag
from .retention import ActiveUsersTable, RetentionTable, StickinessTable
from .rfm import RfmResult, RfmScheme, rfm
from .snapshots import Diff, TransitionTable, diff, transitions
from .split import split

__all__ = [
    "ALL",
    "ActiveUsersTable",
    "Arms",
    "Attr",
    "Audience",
    "Behaviour",
    "ColumnTypeError",
    "Diff",
    "DuplicateEdgesError",
    "Experiment",
    "Explain",
    "FileError",
    "InternalError",
    "InvalidInputError",
    "Layer",
    "Lint",
    "LintFinding",
    "MissingExtraError",
    "MissingFileError",
    "Playbook",
    "PlaybookExplain",
    "PlaybookResult",
    "PlaybookWarning",
    "Query",
    "QuerySyntaxError",
    "Readout",
    "RetentionTable",
    "RfmResult",
    "RfmScheme",
    "Rule",
    "SrmResult",
    "StickinessTable",
    "StoreDescription",
    "StoreFormatError",
    "TagStore",
    "TransitionTable",
    "UnknownNameError",
    "UosegError",
    "attr",
    "bucket_of",
    "cpu_paths",
    "cut",
    "did",
    "diff",
    "first",
    "intersection",
    "lint",
    "ntile",
    "num_threads",
    "playbooks",
    "plot",
    "qcut",
    "readout",
    "rfm",
    "segment",
    "set_cpu_paths",
    "split",
    "srm",
    "stratified_sample",
    "tag",
    "transitions",
    "union",
]

if (_problem := _thread_setting_problem()) is not None:
    # UOSEG_NUM_THREADS that is not a positive count, or is far above the cores:
    # the pool takes a sane size instead, and the importer is told why.
    _warnings.warn(_problem, RuntimeWarning, stacklevel=2)
if (_cpu_problem := cpu_paths()[2]) is not None:
    # UOSEG_CPU naming no known path: the native paths are used.
    _warnings.warn(_cpu_problem, RuntimeWarning, stacklevel=2)
