"""RFM: recency, frequency and monetary value per customer, scored by rank into
levels and named by a segment scheme.

The computation (aggregation over the log, ranks, buckets) runs in Rust; this
module assembles the result table and applies schemes, which are data: a table
of score cells → segment names, validated when it is built.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from . import _core
from ._arrow import as_table, column
from ._tables import TableResult
from .errors import InvalidInputError

__all__ = ["SCHEMES", "RfmResult", "RfmScheme", "rfm"]

Cell = tuple[int, int, int]


def _grid(bins: int) -> list[Cell]:
    levels = range(1, bins + 1)
    return [(r, f, m) for r in levels for f in levels for m in levels]


@dataclass(frozen=True)
class Rule:
    """Cells whose scores fall in the given inclusive ranges; ``None`` = any.
    ``fm`` is ``(f + m + 1) // 2``, the rounded mean of F and M."""

    segment: str
    r: tuple[int, int] | None = None
    f: tuple[int, int] | None = None
    m: tuple[int, int] | None = None
    fm: tuple[int, int] | None = None

    def matches(self, r: int, f: int, m: int) -> bool:
        def inside(value: int, bounds: tuple[int, int] | None) -> bool:
            return bounds is None or bounds[0] <= value <= bounds[1]

        return (
            inside(r, self.r)
            and inside(f, self.f)
            and inside(m, self.m)
            and inside((f + m + 1) // 2, self.fm)
        )


@dataclass(frozen=True)
class RfmScheme:
    """A mapping from score cells ``(r, f, m)`` to segment names.

    Build one from rules (:meth:`from_rules`) or from an explicit mapping
    (:meth:`from_cells`). Every cell of the ``bins``³ grid must map to exactly
    one segment; otherwise the error names the uncovered and overlapping cells.
    ``"cn8"`` is not a cell table: see :data:`SCHEMES`.
    """

    name: str
    bins: int
    segments: tuple[str, ...]
    cells: np.ndarray[Any, np.dtype[np.int16]] = field(repr=False, compare=False)

    @classmethod
    def from_rules(
        cls, name: str, rules: Iterable[Rule | Mapping[str, Any]], bins: int = 5
    ) -> RfmScheme:
        parsed = [r if isinstance(r, Rule) else Rule(**r) for r in rules]
        owners = {
            cell: [rule.segment for rule in parsed if rule.matches(*cell)] for cell in _grid(bins)
        }
        return cls._validated(name, bins, owners)

    @classmethod
    def from_cells(cls, name: str, cells: Mapping[Cell, str], bins: int = 5) -> RfmScheme:
        grid = _grid(bins)
        owners = {cell: [cells[cell]] if cell in cells else [] for cell in grid}
        extra = sorted(set(cells) - set(grid))
        if extra:
            raise InvalidInputError(
                f"scheme {name!r}: cells outside the {bins}-level grid: {extra[:10]}"
            )
        return cls._validated(name, bins, owners)

    @classmethod
    def _validated(cls, name: str, bins: int, owners: dict[Cell, list[str]]) -> RfmScheme:
        uncovered = [c for c, o in owners.items() if not o]
        overlapping = {c: o for c, o in owners.items() if len(o) > 1}
        if uncovered or overlapping:
            parts = []
            if uncovered:
                parts.append(f"{len(uncovered)} uncovered cells (r, f, m), e.g. {uncovered[:8]}")
            if overlapping:
                shown = [f"{c}: {o}" for c, o in list(overlapping.items())[:8]]
                parts.append(
                    f"{len(overlapping)} cells in several segments, e.g. {'; '.join(shown)}"
                )
            raise InvalidInputError(f"scheme {name!r} is not a partition: " + "; ".join(parts))
        segments = tuple(dict.fromkeys(o[0] for o in owners.values()))
        index = {s: i for i, s in enumerate(segments)}
        cells = np.empty(bins**3, dtype=np.int16)
        for (r, f, m), owner in owners.items():
            cells[((r - 1) * bins + (f - 1)) * bins + (m - 1)] = index[owner[0]]
        return cls(name, bins, segments, cells)


# The common 11-segment scheme on R and FM = round((F + M) / 2) (5 levels).
# Rows R = 5..1, columns FM = 1..5.
_EN11_GRID = {
    5: ["New Customers", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"],
    4: ["Promising", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"],
    3: ["Promising", "About To Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"],
    2: ["Hibernating", "About To Sleep", "Need Attention", "At Risk", "At Risk"],
    1: ["Lost", "Hibernating", "At Risk", "Can't Lose Them", "Can't Lose Them"],
}
EN11 = RfmScheme.from_rules(
    "en11",
    [
        Rule(segment, r=(r, r), fm=(fm, fm))
        for r, row in _EN11_GRID.items()
        for fm, segment in enumerate(row, 1)
    ],
)

# The Chinese 8-segment scheme: each of R, F, M high (高) or low (低) against the mean.
CN8_NAMES = {
    (True, True, True): "重要价值客户",
    (True, False, True): "重要发展客户",
    (False, True, True): "重要保持客户",
    (False, False, True): "重要挽留客户",
    (True, True, False): "一般价值客户",
    (True, False, False): "一般发展客户",
    (False, True, False): "一般保持客户",
    (False, False, False): "一般挽留客户",
}

SCHEMES: dict[str, RfmScheme | str] = {"en11": EN11, "cn8": "cn8"}
"""Built-in schemes. ``"en11"``: the cell table above. ``"cn8"``: R is high when
recency is at most its mean (or the R score at least the mean R score), F and M
are high when at least their means; ``cn8_basis`` picks raw values or scores."""


def _numbers(values: pa.ChunkedArray) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A column as float64; decimal sums as their unscaled integers (exact, and
    comparisons with their mean are the same at any scale)."""
    if pa.types.is_decimal(values.type):
        chunks = [c for c in values.chunks if len(c)]
        # Sums fit in 64 bits (the core sums them so): the low word of each.
        low = [np.frombuffer(c.buffers()[1], np.int64)[2 * c.offset :: 2][: len(c)] for c in chunks]
        return np.concatenate(low).astype(np.float64) if low else np.empty(0)
    return np.asarray(values.to_numpy(), dtype=np.float64)


def _cn8(data: pa.Table, basis: str) -> pa.Array:
    if basis == "values":
        recency, freq, money = (
            _numbers(data.column(k)) for k in ("recency_days", "frequency", "monetary")
        )
        high = (recency <= recency.mean(), freq >= freq.mean(), money >= money.mean())
    elif basis == "scores":
        r, f, m = (_numbers(data.column(k)) for k in ("r", "f", "m"))
        high = (r >= r.mean(), f >= f.mean(), m >= m.mean())
    else:
        raise ValueError(f"cn8_basis must be 'values' or 'scores', got {basis!r}")
    names = list(CN8_NAMES.values())
    index = {key: i for i, key in enumerate(CN8_NAMES)}
    codes = np.empty(len(high[0]), dtype=np.int16)
    for key, i in index.items():
        codes[(high[0] == key[0]) & (high[1] == key[1]) & (high[2] == key[2])] = i
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(names))


class RfmResult(TableResult):
    """The RFM table: user id, recency_days, frequency, monetary, r, f, m,
    rfm_code and segment, one row per customer in order of first appearance.
    rfm_code (e.g. "545") and segment are dictionary-encoded strings
    (categoricals in pandas and polars).

    It speaks the Arrow PyCapsule interface; ``to_pandas()`` and ``to_polars()``
    convert it, and Jupyter shows its first rows as HTML."""

    __slots__ = ("user",)

    def __init__(self, table: pa.Table, user: str) -> None:
        super().__init__(table)
        self.user = user

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """Customers per segment and their mean monetary (needs ``uoseg[plot]``)."""
        from .plot import rfm_segments

        return rfm_segments(self, path)

    def _title(self) -> str:
        return f"RfmResult({len(self):,} customers)"

    def __repr__(self) -> str:
        counts = self.table.column("segment").value_counts().to_pylist() if len(self) else []
        top = ", ".join(f"{c['values']}: {c['counts']}" for c in counts[:4])
        return f"RfmResult({len(self):,} customers; {top})"


# "000".."999": with scores below 10, rfm_code is dictionary-encoded against
# these, not formatted per customer.
def _check_cells(scheme: RfmScheme) -> None:
    """Refuses a scheme whose cell table (perhaps built by hand rather than by
    ``from_rules``/``from_cells``) is not one segment index per score cell."""
    cells = scheme.cells
    if (
        cells.dtype != np.int16
        or cells.shape != (scheme.bins**3,)
        or (len(cells) and (cells.min() < 0 or cells.max() >= len(scheme.segments)))
    ):
        raise InvalidInputError(
            f"scheme {scheme.name!r}: cells must hold {scheme.bins**3} int16 indices into its "
            f"{len(scheme.segments)} segments; build schemes with RfmScheme.from_rules "
            "or from_cells"
        )


def _scheme(scheme: Any, bins: int) -> RfmScheme | str:
    """The scheme ``rfm`` was given: a built-in name, an :class:`RfmScheme`, or a
    mapping of score cells ``(r, f, m)`` to segment names (validated as
    :meth:`RfmScheme.from_cells` validates it)."""
    if isinstance(scheme, str):
        chosen = SCHEMES.get(scheme)
        if chosen is None:
            raise InvalidInputError(f"unknown RFM scheme {scheme!r}; built-in: {sorted(SCHEMES)}")
        return chosen
    if isinstance(scheme, RfmScheme):
        return scheme
    if isinstance(scheme, Mapping):
        for cell, name in scheme.items():
            if not (
                isinstance(cell, tuple)
                and len(cell) == 3
                and all(isinstance(v, int | np.integer) for v in cell)
            ):
                raise InvalidInputError(
                    f"scheme mapping: key {cell!r} is not a score cell (r, f, m) of three integers"
                )
            if not isinstance(name, str):
                raise InvalidInputError(
                    f"scheme mapping: cell {cell!r} maps to {name!r}, not a segment name (str)"
                )
        cells = {(int(r), int(f), int(m)): name for (r, f, m), name in scheme.items()}
        return RfmScheme.from_cells("custom", cells, bins=bins)
    raise TypeError(
        "scheme must be a built-in scheme name (" + ", ".join(sorted(SCHEMES)) + "), an "
        f"RfmScheme or a mapping of (r, f, m) cells to segment names, not {type(scheme).__name__}"
    )


def _levels_mismatch(scheme: RfmScheme, levels: int, customers: int, bins: int) -> str:
    if customers < bins:
        return (
            f"rfm: {customers} customers is fewer than bins={bins}, so scores have only "
            f"{levels} levels, but scheme {scheme.name!r} names cells of {scheme.bins} levels; "
            f"pass bins={levels} with a scheme for {levels} levels, or scheme='cn8' "
            "(which works on any number of levels)"
        )
    return f"scheme {scheme.name!r} is defined for {scheme.bins} levels, scores have {levels}"


def _micros(as_of: Any) -> int:
    from ._store import _micros as to_micros

    if as_of is None:
        raise InvalidInputError(
            "rfm needs as_of (the reference instant); uoseg never reads the clock by itself"
        )
    value = to_micros(as_of)
    assert value is not None
    return value


def rfm(
    transactions: Any,
    user: str = "user_id",
    ts: str = "ts",
    amount: str = "amount",
    *,
    as_of: _dt.datetime | _dt.date | str,
    bins: int = 5,
    ties: str = "first",
    scheme: str | RfmScheme | Mapping[Cell, str] = "en11",
    cn8_basis: str = "values",
) -> RfmResult:
    """Score customers by recency, frequency and monetary value.

    Parameters
    ----------
    transactions : Arrow-like table (pyarrow, polars, pandas, DuckDB)
        One row per purchase: a user id (any kind a store accepts), a timestamp
        or date, and an amount (integer, float or decimal).
    as_of : datetime, date or ISO string
        The reference instant. Purchases after it are ignored; recency is
        ``floor((as_of - last purchase) / 1 day)``. Required: never the clock.
    bins : int
        Score levels (5: quintiles). With fewer customers than bins, scores have
        as many levels as there are customers: ``"cn8"`` still names them, while a
        cell scheme for ``bins`` levels (``"en11"``, your own) is refused with an
        error that names the customer count and ``bins``.
    ties : {"first", "min"}
        ``"first"`` ranks tied customers by first appearance in the log, as
        ``rank(method="first")`` does in the common pandas recipe; ``"min"`` keeps
        tied customers in one level.
    scheme : "en11", "cn8", an :class:`RfmScheme`, or a mapping
        How score cells are named. A mapping ``{(r, f, m): name, ...}`` must name
        every cell of the ``bins``³ grid (it is checked as
        :meth:`RfmScheme.from_cells` checks it); anything else is a ``TypeError``.

    Notes
    -----
    monetary is the sum of amounts, refunds (negative amounts) included. It is
    exact for integer and decimal amounts, and for float amounts that are whole
    cents (summed as integer cents); other floats use compensated summation.
    Nulls in the user or ts column are refused with the row named.

    Examples
    --------
    >>> import pyarrow as pa, datetime as dt, uoseg
    >>> log = pa.table({"user_id": pa.array([1, 2, 1], pa.uint32()),
    ...                 "ts": pa.array([dt.datetime(2025, 12, 1), dt.datetime(2025, 12, 30),
    ...                                 dt.datetime(2025, 12, 20)], pa.timestamp("s")),
    ...                 "amount": [10.0, 5.5, 20.0]})
    >>> result = uoseg.rfm(log, as_of=dt.datetime(2026, 1, 1), bins=2, scheme="cn8")
    >>> result.table.column("recency_days").to_pylist()
    [12, 2]
    """
    chosen = _scheme(scheme, int(bins))
    if isinstance(chosen, RfmScheme):
        _check_cells(chosen)
    data_table = as_table(transactions, "transactions")
    users = column(data_table, user)
    scheme_given = isinstance(chosen, RfmScheme)
    batch, levels = _core.rfm_scores(
        users,
        column(data_table, ts),
        column(data_table, amount),
        _micros(as_of),
        int(bins),
        ties,
        (user, ts, amount),
        chosen.cells if isinstance(chosen, RfmScheme) else None,
        list(chosen.segments) if isinstance(chosen, RfmScheme) else None,
    )
    scored = pa.record_batch(batch)
    if isinstance(chosen, RfmScheme) and chosen.bins != levels:
        raise InvalidInputError(_levels_mismatch(chosen, levels, scored.num_rows, int(bins)))
    # The core reads integer ids as u32, i64 or u64 and string ids as codes: the
    # user's own column (type and all) is put back in front.
    if "user" in scored.schema.names:
        ids = scored.column("user").cast(users.type)
    else:
        ids = users.take(scored.column("first_row"))
    names = [n for n in scored.schema.names if n not in ("user", "first_row")]
    table = pa.table([ids, *(scored.column(n) for n in names)], names=[user, *names])
    if not scheme_given:
        table = table.append_column("segment", _cn8(table, cn8_basis))
    return RfmResult(table, user)
