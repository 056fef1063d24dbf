"""Quantile bucketing with pandas' exact edges, computed in Rust.

Codes come back as NumPy ``int64`` with ``-1`` for missing values (NaN or null
input, or values outside explicit ``cut`` edges), like pandas' categorical codes;
``as_arrow=True`` gives a nullable Arrow ``int64`` array instead. Matches
pandas 3.1 (``pandas.qcut``/``pandas.cut`` with ``labels=False``), bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from . import _core
from ._arrow import as_array

__all__ = ["cut", "ntile", "qcut"]

Codes = np.ndarray[Any, np.dtype[np.int64]]


def _values(x: Any) -> pa.ChunkedArray:
    return as_array(x, "x")


def _probabilities(q: int | Sequence[float]) -> list[float]:
    if isinstance(q, int | np.integer):
        if q < 1:
            raise ValueError(f"q must be at least 1, got {q}")
        # pandas' own probabilities: np.linspace then a one-ulp nudge (see docs).
        return _linspace(int(q))
    return [float(p) for p in q]


def _linspace(q: int) -> list[float]:
    # pandas.qcut: linspace, then round up the probabilities that are not
    # representable (so edges can differ from plain numpy.quantile's).
    quantiles = np.linspace(0, 1, q + 1)
    np.putmask(quantiles, q * quantiles != np.arange(q + 1), np.nextafter(quantiles, 1))
    return [float(p) for p in quantiles]


def _result(
    codes: Codes, edges: np.ndarray[Any, Any], labels: Any, retbins: bool, as_arrow: bool
) -> Any:
    out: Any = codes
    if labels is not None and labels is not False:
        names = np.asarray(list(labels), dtype=object)
        if len(names) != len(edges) - 1:
            raise ValueError(f"{len(names)} labels for {len(edges) - 1} bins")
        out = pa.DictionaryArray.from_arrays(
            pa.array(codes, mask=codes < 0).cast(pa.int32()), pa.array(names)
        )
    elif as_arrow:
        out = pa.array(codes, mask=codes < 0)
    return (out, edges) if retbins else out


def qcut(
    x: Any,
    q: int | Sequence[float],
    labels: Any = False,
    retbins: bool = False,
    duplicates: str = "raise",
    *,
    as_arrow: bool = False,
) -> Any:
    """Equal-frequency buckets, identical to ``pandas.qcut(x, q, labels=False)``.

    ``q`` is a number of buckets or a list of probabilities. Edges that repeat
    raise :class:`uoseg.DuplicateEdgesError` (``duplicates="raise"``) or are
    dropped (``"drop"``). ±inf, all-missing input and integers beyond 2**53 are
    refused, where pandas would return garbage.

    Examples
    --------
    >>> import uoseg
    >>> uoseg.qcut([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3).tolist()
    [0, 0, 1, 1, 2, 2]
    """
    codes, edges = _core.qcut(_values(x), _probabilities(q), duplicates)
    return _result(codes, edges, labels, retbins, as_arrow)


def cut(
    x: Any,
    bins: Sequence[float],
    right: bool = True,
    labels: Any = False,
    retbins: bool = False,
    include_lowest: bool = False,
    duplicates: str = "raise",
    *,
    as_arrow: bool = False,
) -> Any:
    """Buckets between explicit edges, like ``pandas.cut(x, bins, labels=False)``.

    Examples
    --------
    >>> import uoseg
    >>> uoseg.cut([1, 5, 10, 50], [0, 5, 10, 100]).tolist()
    [0, 0, 1, 2]
    """
    codes, edges = _core.cut(
        _values(x), [float(b) for b in bins], right, include_lowest, duplicates
    )
    return _result(codes, edges, labels, retbins, as_arrow)


def ntile(x: Any, q: int, ties: str = "first", *, as_arrow: bool = False) -> Any:
    """Rank-based equal-frequency buckets ``0..q-1``.

    ``ties="first"`` equals ``pd.qcut(pd.Series(x).rank(method="first"), q,
    labels=False)``: tied values are ordered by position. ``ties="min"`` keeps
    equal values in one bucket (the bucket of the first of them). SQL's
    ``NTILE(q)`` differs: it gives the ``n mod q`` extra rows to the first buckets.

    Examples
    --------
    >>> import uoseg
    >>> uoseg.ntile([5, 5, 5, 1], 2).tolist()
    [0, 1, 1, 0]
    """
    codes = _core.ntile(_values(x), int(q), ties)
    return pa.array(codes, mask=codes < 0) if as_arrow else codes
