"""Retention and active users: tables over a store's events.

The definitions (what a cohort is, what offset ``k`` counts, when a cell is
null) are in ``docs/events.md`` with a worked example; the core computes the
tables (``rust/src/retention.rs``) and this module turns arguments into local
day numbers and wraps the results. ``TagStore.retention``, ``active_users`` and
``stickiness`` are the entry points.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from . import _core
from ._core import Audience
from ._tables import TableResult
from .errors import ColumnTypeError, InvalidInputError

__all__ = ["ActiveUsersTable", "RetentionTable", "StickinessTable"]

_EPOCH_DATE = _dt.date(1970, 1, 1)


def local_day(core: _core.Store, value: Any, name: str) -> int:
    """A local day number (days since 1970-01-01) from a date, a datetime (its
    day in the store's time zone; naive means UTC) or an ISO 8601 string."""
    if isinstance(value, str):
        try:
            value = (
                _dt.date.fromisoformat(value)
                if len(value) == 10
                else _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            )
        except ValueError:
            raise InvalidInputError(
                f"{name}={value!r} is not a date: write 2026-06-30 or 2026-06-30T08:00:00"
            ) from None
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        delta = value - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return int(core.day_of(micros))
    if isinstance(value, _dt.date):
        return (value - _EPOCH_DATE).days
    raise ColumnTypeError(
        f"{name} must be a date, datetime or ISO 8601 string, got {type(value).__name__}"
    )


def _date(day: int) -> _dt.date:
    return _EPOCH_DATE + _dt.timedelta(days=day)


def offsets(days: Iterable[Any]) -> list[int]:
    """Day offsets as non-negative ints, the first bad one named by position."""
    out = []
    for position, k in enumerate(days):
        if isinstance(k, bool) or not isinstance(k, int):
            raise ColumnTypeError(
                f"days[{position}] = {k!r} is not an integer offset ({type(k).__name__})"
            )
        if k < 0 or k >= 2**31:
            raise InvalidInputError(
                f"days[{position}] = {k} is not an offset: offsets are 0 or more"
            )
        out.append(k)
    return out


class RetentionTable(TableResult):
    """Retention of cohorts: ``cohort`` (the period's first day), ``size``, then
    one column per offset (``"0"``, ``"1"``, …) of retained users, null where
    the period had not come by ``as_of``. ``rates()`` gives shares instead."""

    __slots__ = ("as_of", "cohort", "counts", "event", "kind", "unit")

    def __init__(
        self,
        table: pa.Table,
        *,
        event: str,
        cohort: str,
        unit: str,
        kind: str,
        as_of: _dt.date,
        counts: pa.Table | None = None,
    ) -> None:
        super().__init__(table)
        self.event, self.cohort, self.unit, self.kind, self.as_of = event, cohort, unit, kind, as_of
        # The user counts behind the table (itself, unless this is rates()).
        self.counts: pa.Table = table if counts is None else counts

    @property
    def offsets(self) -> list[str]:
        """The offset columns' names, in order."""
        return [name for name in self.table.column_names if name not in ("cohort", "size")]

    def rates(self) -> RetentionTable:
        """The same table with each cell divided by its cohort's size (float64;
        null where the cell is null or the cohort is empty)."""
        import pyarrow.compute as pc

        size = self.table.column("size").cast(pa.float64())
        size = pc.if_else(pc.equal(size, 0.0), pa.scalar(None, pa.float64()), size)
        table = self.table
        for name in self.offsets:
            at = table.column_names.index(name)
            rate = pc.divide(table.column(name).cast(pa.float64()), size)
            table = table.set_column(at, pa.field(name, pa.float64()), rate)
        return RetentionTable(
            table,
            event=self.event,
            cohort=self.cohort,
            unit=self.unit,
            kind=self.kind,
            as_of=self.as_of,
            counts=self.counts,
        )

    def average(self) -> dict[str, float | None]:
        """Per offset, the share of users retained over every cohort whose cell
        has come: retained users over those cohorts' sizes (null cells are left
        out, so young cohorts do not drag later offsets down)."""
        sizes = self.counts.column("size").to_pylist()
        out: dict[str, float | None] = {}
        for name in self.offsets:
            cells = self.counts.column(name).to_pylist()
            kept = [(c, s) for c, s in zip(cells, sizes, strict=True) if c is not None]
            total = sum(s for _, s in kept)
            out[name] = sum(c for c, _ in kept) / total if total else None
        return out

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """A cohort × offset heatmap of the rates (needs ``uoseg[plot]``);
        saved as PNG, SVG or HTML when ``path`` is given."""
        from .plot import retention_heatmap

        return retention_heatmap(self, path)

    def _title(self) -> str:
        return (
            f"RetentionTable({self.event} after first {self.cohort}, {self.kind}, by "
            f"{self.unit}, as of {self.as_of.isoformat()}: {self.num_rows:,} cohorts)"
        )


class ActiveUsersTable(TableResult):
    """Distinct active users per period: ``period`` (its first day) and ``users``."""

    __slots__ = ("event", "unit")

    def __init__(self, table: pa.Table, *, event: str, unit: str) -> None:
        super().__init__(table)
        self.event, self.unit = event, unit

    def _title(self) -> str:
        label = {"day": "DAU", "week": "WAU", "month": "MAU"}.get(self.unit, self.unit)
        return f"ActiveUsersTable({label} of {self.event}: {self.num_rows:,} periods)"


class StickinessTable(TableResult):
    """Per calendar month: ``period``, ``days``, ``mean_dau``, ``mau`` and
    ``stickiness`` (mean DAU / MAU, null when the month had no active user)."""

    __slots__ = ("event",)

    def __init__(self, table: pa.Table, *, event: str) -> None:
        super().__init__(table)
        self.event = event

    def _title(self) -> str:
        return f"StickinessTable({self.event}: {self.num_rows:,} months)"


def retention_table(
    core: _core.Store,
    *,
    event: str,
    cohort: str,
    days: Iterable[Any],
    start: Any,
    end: Any,
    kind: str,
    unit: str,
    among: Audience | None,
    as_of_day: int,
) -> RetentionTable:
    steps = offsets(days)
    if start is None:
        span = core.cohort_span(cohort)
        first = span[0] if span is not None else as_of_day
    else:
        first = local_day(core, start, "start")
    last = as_of_day if end is None else local_day(core, end, "end")
    if first > last:
        raise InvalidInputError(
            f"start ({_date(first)}) is after end ({_date(last)}): the cohort range is empty"
        )
    batch = core.retention(event, cohort, steps, first, last, unit, kind, as_of_day, among)
    return RetentionTable(
        pa.table(batch), event=event, cohort=cohort, unit=unit, kind=kind, as_of=_date(as_of_day)
    )


def _span(core: _core.Store, event: str, start: Any, end: Any) -> tuple[int, int]:
    """The local days ``start..=end``, defaulting to the event's first and last day."""
    known = core.event_days(event)
    first = local_day(core, start, "start") if start is not None else None
    last = local_day(core, end, "end") if end is not None else None
    if first is None:
        first = known[0] if known else (last if last is not None else 0)
    if last is None:
        last = known[1] if known else first
    if first > last:
        raise InvalidInputError(f"start ({_date(first)}) is after end ({_date(last)})")
    return first, last


def active_users_table(
    core: _core.Store, *, event: str, start: Any, end: Any, unit: str, among: Audience | None
) -> ActiveUsersTable:
    first, last = _span(core, event, start, end)
    batch = core.active_users(event, first, last, unit, among)
    return ActiveUsersTable(pa.table(batch), event=event, unit=unit)


def stickiness_table(
    core: _core.Store, *, event: str, start: Any, end: Any, among: Audience | None
) -> StickinessTable:
    first, last = _span(core, event, start, end)
    daily = pa.table(core.active_users(event, first, last, "day", among)).to_pylist()
    monthly = pa.table(core.active_users(event, first, last, "month", among)).to_pylist()
    per_month: dict[_dt.date, list[int]] = {}
    for row in daily:
        day: _dt.date = row["period"]
        per_month.setdefault(day.replace(day=1), []).append(row["users"])
    rows: dict[str, list[Any]] = {
        k: [] for k in ("period", "days", "mean_dau", "mau", "stickiness")
    }
    for row in monthly:
        counts = per_month.get(row["period"], [])
        mean = sum(counts) / len(counts) if counts else 0.0
        rows["period"].append(row["period"])
        rows["days"].append(len(counts))
        rows["mean_dau"].append(mean)
        rows["mau"].append(row["users"])
        rows["stickiness"].append(mean / row["users"] if row["users"] else None)
    table = pa.table(
        {
            "period": pa.array(rows["period"], pa.date32()),
            "days": pa.array(rows["days"], pa.int64()),
            "mean_dau": pa.array(rows["mean_dau"], pa.float64()),
            "mau": pa.array(rows["mau"], pa.int64()),
            "stickiness": pa.array(rows["stickiness"], pa.float64()),
        }
    )
    return StickinessTable(table, event=event)
