"""``TagStore``: the user-facing handle on a store.

The compiled core keeps each store state as an immutable snapshot. A TagStore
holds the current snapshot and replaces it on every update, so an Audience or
a ``snapshot()`` handed out earlier never changes under its reader.
"""

from __future__ import annotations

import base64
import datetime as _dt
import os
import threading
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from . import _core, catalog
from . import export as export_file
from ._arrow import as_array, as_table, column, user_array
from ._core import Audience
from ._tables import TableResult
from .catalog import CatalogTable
from .errors import ColumnTypeError, InvalidInputError, UnknownNameError
from .lint import Lint
from .lint import from_rows as lint_from_rows
from .playbook import NOTE_PREFIX as PLAYBOOK_NOTE
from .playbook import Playbook, PlaybookExplain, PlaybookResult
from .playbook import explain_table as playbook_explain_table
from .playbook import findings as playbook_findings
from .playbook import result_table as playbook_result_table
from .playbook import run as run_playbook
from .playbook import stored as stored_playbooks
from .playbook import warn as warn_playbook
from .query import Query, literal
from .retention import (
    ActiveUsersTable,
    RetentionTable,
    StickinessTable,
    active_users_table,
    retention_table,
    stickiness_table,
)

__all__ = ["StoreDescription", "TagStore"]

PathLike = str | os.PathLike[str]
QueryLike = Query | str
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def _micros(as_of: Any) -> int | None:
    """An evaluation instant as microseconds since the epoch (UTC).

    Naive datetimes are taken as UTC; dates mean their midnight."""
    if as_of is None:
        return None
    if isinstance(as_of, str):
        as_of = _dt.datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    if hasattr(as_of, "to_pydatetime"):  # pandas Timestamp
        as_of = as_of.to_pydatetime()
    if hasattr(as_of, "astype") and hasattr(as_of, "dtype"):  # numpy datetime64
        return int(as_of.astype("datetime64[us]").astype("int64"))
    if isinstance(as_of, _dt.datetime):
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=_dt.UTC)
        delta: _dt.timedelta = as_of - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(as_of, _dt.date):
        return (as_of - _dt.date(1970, 1, 1)).days * 86_400_000_000
    raise TypeError(
        f"as_of must be a datetime, date or ISO 8601 string, got {type(as_of).__name__}"
    )


def _query_text(query: Any) -> str:
    """The DSL text of a query given as text or as a :class:`uoseg.Query` builder."""
    if isinstance(query, str | Query):
        return str(query)
    raise ColumnTypeError(
        f"a query is DSL text (str) or a uoseg.Query builder, not {type(query).__name__}"
        + (" (decode bytes first)" if isinstance(query, bytes | bytearray) else "")
    )


class Explain:
    """An executed query plan: ``str(explain)`` prints the tree, ``.plan`` holds it
    as nested dicts (operation, label, cardinality, micros, children), and
    ``.lint`` the query's lint findings (printed under the tree)."""

    __slots__ = ("lint", "plan", "text")

    def __init__(self, text: str, plan: dict[str, Any], lint: Lint | None = None) -> None:
        self.text = text.rstrip()
        self.plan = plan
        self.lint = lint

    def __str__(self) -> str:
        if self.lint:
            return f"{self.text}\nlint:\n{self.lint}"
        return self.text

    def __repr__(self) -> str:
        return f"Explain(\n{self.text})"


class OverlapMatrix(np.ndarray[Any, np.dtype[np.int64]]):
    """Pairwise overlap counts of tags: a NumPy int64 matrix with ``names``."""

    names: list[str]

    def __new__(cls, counts: np.ndarray[Any, Any], names: Sequence[str]) -> OverlapMatrix:
        matrix = np.asarray(counts).view(cls)
        matrix.names = list(names)
        return matrix

    def __array_finalize__(self, source: Any) -> None:
        self.names = list(getattr(source, "names", []))

    def jaccard(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """|A ∩ B| / |A ∪ B| for every pair (0 where both are empty)."""
        counts = np.asarray(self, dtype=float)
        sizes = np.diag(counts)
        union = sizes[:, None] + sizes[None, :] - counts
        shares: np.ndarray[Any, np.dtype[np.float64]] = np.divide(
            counts, union, out=np.zeros_like(counts), where=union > 0
        )
        return shares

    def plot(self, path: str | os.PathLike[str] | None = None, *, jaccard: bool = False) -> Any:
        """A heatmap of the counts or Jaccard indexes (needs ``uoseg[plot]``)."""
        from .plot import overlap_heatmap

        return overlap_heatmap(np.asarray(self), self.names, path, jaccard=jaccard)


class StoreDescription(TableResult):
    """What :meth:`TagStore.describe` returns: one row per tag, attribute and
    saved segment (``name``, ``kind``, ``users``, ``values``)."""

    __slots__ = ("users",)

    def __init__(self, table: pa.Table, users: int) -> None:
        super().__init__(table)
        self.users = users

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """Users per tag and attribute, coloured by catalog kind (needs ``uoseg[plot]``)."""
        from .plot import describe_sizes

        return describe_sizes(self, path)

    def _title(self) -> str:
        kinds = self.table.column("kind").to_pylist()
        tags, segments = kinds.count("tag"), kinds.count("segment")
        attributes = len(kinds) - tags - segments
        return (
            f"StoreDescription({self.users:,} users; {tags} tags, {attributes} attributes, "
            f"{segments} segments)"
        )


class TagStore:
    """Tags, categorical attributes and the universe of users, as compressed bitmaps.

    Parameters
    ----------
    ids : {"auto", "uint32", "int64", "uint64", "string"}
        How users are identified. uint32 ids are used directly; int64, uint64 and
        string ids go through an id dictionary that the store keeps and saves.
        ``"auto"`` lets the first user id column decide.

    Examples
    --------
    >>> import uoseg
    >>> store = uoseg.TagStore()
    >>> store.add_tag("vip", [1, 2, 3])
    >>> store.add_tag("churned", [3, 4])
    >>> (store.tag("vip") - store.tag("churned")).ids().tolist()
    [1, 2]
    >>> len(store)
    4
    """

    __slots__ = ("_core", "_lock", "_partial")

    def __init__(self, *, ids: str = "auto", tz: str = "UTC") -> None:
        self._core: _core.Store = _core.Store.empty(ids)
        if tz != "UTC":
            self._core = self._core.with_zone(tz)
        self._lock = threading.Lock()
        # A store loaded for one query holds only part of its file.
        self._partial: str | None = None

    @classmethod
    def _wrap(cls, core: _core.Store, partial: str | None = None) -> TagStore:
        store = cls.__new__(cls)
        store._core = core
        store._lock = threading.Lock()
        store._partial = partial
        return store

    def _whole(self, doing: str) -> None:
        if self._partial is not None:
            raise InvalidInputError(
                f"cannot {doing}: this store was loaded from {self._partial} for one query only "
                "(TagStore.load(..., for_query=...)); load it whole to do that"
            )

    def _update(self, change: Callable[[_core.Store], _core.Store]) -> None:
        with self._lock:
            self._core = change(self._core)

    def _users(self, ids: Any, name: str = "user_id") -> pa.ChunkedArray:
        return user_array(ids, self._core.id_kind, name)

    def _change(
        self,
        name: str,
        change: Callable[[_core.Store], _core.Store],
        meta: Mapping[str, str | None],
    ) -> None:
        """Apply ``change`` and record it in the catalog (``meta`` sets the
        entry's kind, description or source), in one step."""
        catalog.check_kind(meta.get("kind"))
        self._update(
            lambda core: catalog.recorded(
                change(core),
                name,
                kind=meta.get("kind"),
                description=meta.get("description"),
                source=meta.get("source"),
            )
        )

    # ---- bulk builds ----

    @classmethod
    def from_long(
        cls, table: Any, user: str = "user_id", tag: str = "tag", *, ids: str = "auto"
    ) -> TagStore:
        """Build from long ``(user, tag)`` rows, one bitmap per distinct tag.

        ``table`` is anything Arrow-like (pyarrow, polars, pandas, DuckDB). Tag
        names may be string, large string, string view or dictionary columns.

        Examples
        --------
        >>> import pyarrow as pa, uoseg
        >>> rows = pa.table({"user_id": pa.array([1, 2, 2], pa.uint32()),
        ...                  "tag": ["vip", "vip", "高价值用户"]})
        >>> store = uoseg.TagStore.from_long(rows)
        >>> store.tags()
        ['vip', '高价值用户']
        """
        data = as_table(table)
        return cls._wrap(
            _core.Store.from_long(column(data, user), column(data, tag), user, tag, ids)
        )

    @classmethod
    def from_wide(
        cls,
        table: Any,
        user: str = "user_id",
        *,
        columns: Sequence[str] | None = None,
        ids: str = "auto",
    ) -> TagStore:
        """Build from one row per user: boolean columns become tags, string and
        dictionary columns become categorical attributes. Every row's user joins
        the universe, whatever its values."""
        data = as_table(table)
        names = [c for c in data.column_names if c != user] if columns is None else list(columns)
        picked = [(name, column(data, name)) for name in names]
        return cls._wrap(_core.Store.from_wide(column(data, user), user, picked, ids))

    # ---- incremental updates ----

    def add_wide(
        self, table: Any, user: str = "user_id", *, columns: Sequence[str] | None = None
    ) -> None:
        """Add the columns of a one-row-per-user table to this store, as
        :meth:`from_wide` would build them (booleans → tags, strings →
        categorical, numbers, dates and timestamps → numeric attributes; other
        users keep their values). Every row's user joins the universe. The
        columns are built at the same time, and if one is refused nothing is
        added."""
        data = as_table(table)
        users = self._users(column(data, user), user)
        names = [c for c in data.column_names if c != user] if columns is None else list(columns)
        picked = [(name, column(data, name)) for name in names]

        def change(core: _core.Store) -> _core.Store:
            core = core.with_wide(users, user, picked)
            for name in names:
                core = catalog.recorded(core, name)
            return core

        self._update(change)

    def add_tag(
        self,
        name: str,
        ids: Any,
        *,
        kind: str | None = None,
        description: str | None = None,
        source: str | None = None,
    ) -> None:
        """Set tag ``name`` to exactly these users (replacing it if it exists).
        ``kind`` (basic, behaviour, result, predicted), ``description`` and
        ``source`` go into the tag catalog (see :meth:`catalog`)."""
        users = self._users(ids)
        meta = {"kind": kind, "description": description, "source": source}
        self._change(name, lambda core: core.with_tag(name, users, "ids"), meta)

    def update_tag(self, name: str, add: Any = (), remove: Any = ()) -> None:
        """Add users to and remove users from an existing tag."""
        added, removed = self._users(add, "add"), self._users(remove, "remove")
        self._change(name, lambda core: core.with_tag_updated(name, added, removed, "ids"), {})

    def drop_tag(self, name: str, *, force: bool = False) -> list[str]:
        """Remove a tag (its users stay in the universe).

        A tag that saved segments use (directly or through other segments) is
        not dropped: the error names those segments. With ``force=True`` they
        are dropped with it. Returns the segments dropped with the tag.
        """
        return self._drop(name, lambda core: core.without_tag(name, force))

    def add_attribute(
        self,
        name: str,
        user_ids: Any,
        values: Any,
        *,
        kind: str | None = None,
        description: str | None = None,
        source: str | None = None,
    ) -> None:
        """Set categorical attribute ``name`` for these users (one value each);
        other users keep the value they had. ``kind``, ``description`` and
        ``source`` go into the tag catalog."""
        users, vals = self._users(user_ids), as_array(values, name)
        if pa.types.is_null(vals.type):
            # An empty (or all-None) Python list has no type of its own.
            vals = vals.cast(pa.string())
        meta = {"kind": kind, "description": description, "source": source}
        self._change(name, lambda core: core.with_attribute(name, users, vals, "user_ids"), meta)

    def drop_attribute(self, name: str, *, force: bool = False) -> list[str]:
        """Remove a categorical or numeric attribute; saved segments that use it
        are handled as :meth:`drop_tag` handles them. Returns the segments
        dropped with it."""
        return self._drop(name, lambda core: core.without_attribute(name, force))

    def _drop(
        self, name: str, change: Callable[[_core.Store], tuple[_core.Store, list[str]]]
    ) -> list[str]:
        key = catalog.NOTE_PREFIX + unicodedata.normalize("NFC", name)
        with self._lock:
            core, dropped = change(self._core)
            self._core = core.with_note(key, None)
        return dropped

    def add_numeric(
        self,
        name: str,
        user_ids: Any,
        values: Any,
        *,
        kind: str | None = None,
        description: str | None = None,
        source: str | None = None,
    ) -> None:
        """Set a numeric, date or timestamp attribute for these users (others keep
        theirs). Nulls and NaN mean "no value"; the attribute is range-indexed.
        ``kind`` (``"predicted"`` for a model's score), ``description`` and
        ``source`` go into the tag catalog."""
        users, vals = self._users(user_ids), as_array(values, name)
        meta = {"kind": kind, "description": description, "source": source}
        self._change(name, lambda core: core.with_numeric(name, users, vals, "user_ids"), meta)

    # ---- the tag catalog ----

    def annotate(
        self,
        name: str,
        *,
        kind: str | None = None,
        description: str | None = None,
        source: str | None = None,
    ) -> None:
        """Set the catalog entry of a tag or attribute: its ``kind`` (basic,
        behaviour, result, predicted), ``description`` and ``source``; fields
        left ``None`` keep their value."""
        if name not in self.tags() and name not in self.attributes():
            raise UnknownNameError(
                f"no tag or attribute {name!r} to annotate",
                kind="name",
                name=name,
                suggestions=self.tags() + self.attributes(),
            )
        catalog.check_kind(kind)
        self._update(
            lambda core: catalog.recorded(
                core, name, kind=kind, description=description, source=source, changed=False
            )
        )

    def catalog(self, kind: str | None = None) -> CatalogTable:
        """The tag catalog: one row per tag and attribute (``name``, ``type``:
        tag, categorical or numeric, ``kind``, ``description``, ``source``,
        ``updated``), grouped by kind (basic, behaviour, result, predicted,
        then uncatalogued); ``kind=`` keeps one kind."""
        catalog.check_kind(kind)
        known = catalog.entries(self._core.notes())
        numeric = {n for n, _ in self._core.numerics()}
        names = [(n, "tag") for n in self.tags()] + [
            (n, "numeric" if n in numeric else "categorical") for n in self.attributes()
        ]
        rows = []
        for name, kind_of_data in names:
            entry = known.get(name, catalog.CatalogEntry(name))
            if kind is None or entry.kind == kind:
                rows.append((entry, kind_of_data))
        rows.sort(key=lambda r: catalog.order(r[0].kind))
        table = pa.table(
            {
                "name": pa.array([e.name for e, _ in rows], pa.string()),
                "type": pa.array([t for _, t in rows], pa.string()),
                "kind": pa.array([e.kind for e, _ in rows], pa.string()),
                "description": pa.array([e.description for e, _ in rows], pa.string()),
                "source": pa.array([e.source for e, _ in rows], pa.string()),
                "updated": pa.array([e.updated for e, _ in rows], pa.string()),
            }
        )
        return CatalogTable(table)

    # ---- events ----

    def add_events(
        self,
        table: Any,
        user: str = "user_id",
        ts: str = "ts",
        event: str = "event",
        value: str | None = None,
    ) -> None:
        """Add an event log: one row per event, ``(user, ts, event[, value])``.

        ``table`` is anything Arrow-like (pyarrow, polars, pandas, DuckDB;
        Parquet through ``pyarrow.parquet.read_table``). ``ts`` is a timestamp
        (any unit) or date column: timezone-aware timestamps are instants,
        naive ones are read as UTC, and each event lands on its calendar day in
        the store's time zone (``TagStore(tz=...)``): with ``tz="Asia/Shanghai"``
        an event at 2026-06-30 23:30 UTC is on 2026-07-01. ``event`` holds names
        (string or dictionary); ``value``, optional, a numeric column summed by
        ``DID e TOTAL value > x``. Users join the universe.

        Appending costs in proportion to the new rows; late rows of an earlier
        day merge into it. A null user, time or event name, a NaN value or a
        column of the wrong type raises an error naming the column and row, and
        leaves the store as it was.

        Examples
        --------
        >>> import datetime as dt, pyarrow as pa, uoseg
        >>> store = uoseg.TagStore(tz="Asia/Shanghai")
        >>> log = pa.table({"user_id": pa.array([1, 2], pa.uint32()),
        ...                 "ts": pa.array([dt.datetime(2026, 6, 30, 23, 30)] * 2,
        ...                                pa.timestamp("s", tz="UTC")),
        ...                 "event": ["login", "purchase"]})
        >>> store.add_events(log)
        >>> store.count("DID login WITHIN 1 DAYS", as_of=dt.date(2026, 7, 1))
        1
        """
        data = as_table(table, "events")
        users = self._users(column(data, user), user)
        times, names = column(data, ts), column(data, event)
        values = column(data, value) if value is not None else None
        columns = (user, ts, event, value)
        self._update(lambda core: core.with_events(users, times, names, values, columns))

    @property
    def tz(self) -> str:
        """The store's time zone (an IANA name), fixed when it was made."""
        return self._core.zone

    def events(self) -> dict[str, int]:
        """Events recorded, per event name."""
        return dict(self._core.event_counts()[0])

    def _as_of(self, as_of: Any) -> int | None:
        """An evaluation time in µs since the epoch; a date means the start of
        that calendar day in the store's time zone."""
        if isinstance(as_of, _dt.date) and not isinstance(as_of, _dt.datetime):
            return self._core.day_start((as_of - _dt.date(1970, 1, 1)).days)
        return _micros(as_of)

    def _among(self, among: Any, as_of: Any) -> Audience | None:
        """An audience to restrict to: an Audience, or a query run at ``as_of``."""
        if among is None or isinstance(among, Audience):
            return among
        return self.query(among, as_of)

    def retention(
        self,
        event: str = "login",
        cohort: str = "signup",
        days: Iterable[int] = range(0, 31),
        *,
        start: Any = None,
        end: Any = None,
        kind: str = "n-day",
        unit: str = "day",
        among: Audience | QueryLike | None = None,
        as_of: Any = None,
    ) -> RetentionTable:
        """Cohort retention: one row per cohort period (users whose first
        ``cohort`` event, or whose ``cohort`` date attribute, falls in it) from
        ``start`` to ``end``, its size, and per offset in ``days`` the users who
        did ``event`` in the period that many units later (``kind="n-day"``), or
        then or later (``"unbounded"``). ``unit`` is ``"day"``, ``"week"``
        (Monday first) or ``"month"``. Nothing after ``as_of`` (required) is
        looked at; a cell whose period has not come is null. ``among`` (an
        audience or a query) restricts the cohorts. ``start`` defaults to the
        first cohort day, ``end`` to as_of's day. See ``docs/events.md``.

        Examples
        --------
        >>> import datetime as dt, pyarrow as pa, uoseg
        >>> store = uoseg.TagStore()
        >>> log = pa.table({"user_id": pa.array([1, 1, 2, 2], pa.uint32()),
        ...                 "ts": pa.array([dt.datetime(2026, 6, d) for d in (1, 2, 1, 8)],
        ...                                pa.timestamp("s")),
        ...                 "event": ["signup", "login", "signup", "login"]})
        >>> store.add_events(log)
        >>> table = store.retention("login", "signup", days=[1, 7], end="2026-06-01",
        ...                         as_of="2026-06-08")
        >>> table.to_pylist()
        [{'cohort': datetime.date(2026, 6, 1), 'size': 2, '1': 1, '7': 1}]
        >>> table.average()   # 次日留存 and 7日留存, over the cohorts that have those days
        {'1': 0.5, '7': 0.5}
        """
        micros = self._as_of(as_of)
        if micros is None:
            raise InvalidInputError(
                "retention needs as_of= (uoseg never reads the clock by itself)"
            )
        return retention_table(
            self._core,
            event=event,
            cohort=cohort,
            days=days,
            start=start,
            end=end,
            kind=kind,
            unit=unit,
            among=self._among(among, as_of),
            as_of_day=self._core.day_of(micros),
        )

    def active_users(
        self,
        event: str = "login",
        *,
        start: Any = None,
        end: Any = None,
        unit: str = "day",
        among: Audience | QueryLike | None = None,
        as_of: Any = None,
    ) -> ActiveUsersTable:
        """DAU (``unit="day"``), WAU (``"week"``, Monday first) or MAU
        (``"month"``): distinct users with ``event`` per period, counting the
        days from ``start`` to ``end`` (default: the event's first and last
        day; a period cut by either end counts only its days inside).
        ``among`` restricts the users (a query in it is run at ``as_of``)."""
        return active_users_table(
            self._core,
            event=event,
            start=start,
            end=end,
            unit=unit,
            among=self._among(among, as_of),
        )

    def stickiness(
        self,
        event: str = "login",
        *,
        start: Any = None,
        end: Any = None,
        among: Audience | QueryLike | None = None,
        as_of: Any = None,
    ) -> StickinessTable:
        """Per calendar month, mean DAU over MAU of ``event`` (both over the
        month's days from ``start`` to ``end``), with the two figures."""
        return stickiness_table(
            self._core, event=event, start=start, end=end, among=self._among(among, as_of)
        )

    # ---- playbooks ----

    def _playbook_audiences(self, playbook: Playbook, as_of: Any) -> list[Audience]:
        playbook.check(self._core)
        micros = self._as_of(as_of)
        return [self._core.query(rule.query, micros) for rule in playbook.rules]

    def apply(
        self, playbook: Playbook | str, as_of: Any = None, *, attribute: str | None = None
    ) -> PlaybookResult:
        """Label every user by ``playbook`` (or the name of one saved with the
        store) and write the labels as the categorical attribute ``attribute``
        (default: the playbook's name), replacing its previous values. Returns
        the label counts. Every rule is checked first (syntax, unknown names,
        with the rule's label and position); exclusive rules that overlap are
        refused; a rule that matches nobody or is shadowed, and users left
        unlabelled, are warned about (:class:`uoseg.PlaybookWarning`). A failed
        apply leaves the store as it was.

        Examples
        --------
        >>> import uoseg
        >>> store = uoseg.TagStore()
        >>> store.add_numeric("spend", [1, 2, 3], [900, 120, 5])
        >>> tiers = uoseg.Playbook("tier", [("高", "spend >= 500"), ("中", "spend >= 100")],
        ...                        otherwise="低")
        >>> store.apply(tiers).counts()
        {'高': 1, '中': 1, '低': 1}
        >>> store.count('tier = "中"')
        1
        """
        book = self.playbooks()[playbook] if isinstance(playbook, str) else playbook
        name = attribute or book.name
        with self._lock:
            audiences = self._playbook_audiences(book, as_of)
            core, outcomes, otherwise, unlabelled = run_playbook(
                book, self._core, audiences, attribute=name, write=True
            )
            assert core is not None
            self._core = catalog.recorded(core, name, kind="result", source=f"playbook {book.name}")
        notes = playbook_findings(book, outcomes, unlabelled)
        warn_playbook(book, notes)
        table = playbook_result_table(book, outcomes, otherwise, len(self))
        return PlaybookResult(table, playbook=book, attribute=name, notes=notes)

    def explain_playbook(self, playbook: Playbook | str, as_of: Any = None) -> PlaybookExplain:
        """Each rule's size, the users it labels and the users it loses to
        earlier rules (by rule), with the findings ``apply`` would warn about;
        nothing is written."""
        book = self.playbooks()[playbook] if isinstance(playbook, str) else playbook
        texts = book.check(self._core)
        audiences = self._playbook_audiences(book, as_of)
        _, outcomes, _, unlabelled = run_playbook(
            book, self._core, audiences, attribute=book.name, write=False
        )
        notes = playbook_findings(book, outcomes, unlabelled)
        return PlaybookExplain(
            playbook_explain_table(book, texts, outcomes), playbook=book, notes=notes
        )

    def save_playbook(self, playbook: Playbook) -> None:
        """Keep ``playbook`` with the store (saved in its file), after checking
        its rules against the store."""
        playbook.check(self._core)
        key = PLAYBOOK_NOTE + playbook.name
        self._update(lambda core: core.with_note(key, playbook.to_toml()))

    def drop_playbook(self, name: str) -> None:
        """Forget a playbook kept with the store."""
        if name not in self.playbooks():
            raise UnknownNameError(
                f"no playbook {name!r} is kept with this store",
                kind="playbook",
                name=name,
                suggestions=list(self.playbooks()),
            )
        self._update(lambda core: core.with_note(PLAYBOOK_NOTE + name, None))

    def playbooks(self) -> dict[str, Playbook]:
        """The playbooks kept with the store, by name."""
        return stored_playbooks(self._core.notes())

    def add_rfm(self, result: Any) -> None:
        """Write an :func:`uoseg.rfm` result into the store: ``rfm.r``, ``rfm.f``,
        ``rfm.m`` and ``rfm.segment`` as categorical attributes, ``recency_days``,
        ``frequency`` and ``monetary`` as numeric ones, so queries can use them
        (``rfm.segment = "Champions" AND monetary > 500``)."""
        table: pa.Table = result.table
        users = table.column(result.user)
        meta: dict[str, Any] = {"kind": "result", "source": "uoseg.rfm"}
        for score in ("r", "f", "m"):
            self.add_attribute(f"rfm.{score}", users, table.column(score).cast(pa.string()), **meta)
        self.add_attribute("rfm.segment", users, table.column("segment"), **meta)
        for name in ("recency_days", "frequency", "monetary"):
            values = table.column(name)
            if pa.types.is_decimal(values.type):
                values = values.cast(pa.float64())
            self.add_numeric(name, users, values, **meta)

    def add_users(self, ids: Any) -> None:
        """Add users to the universe without tagging them."""
        users = self._users(ids)
        self._update(lambda core: core.with_users(users, "ids"))

    def snapshot(self) -> TagStore:
        """A store that shares this one's current state and never sees later updates."""
        return TagStore._wrap(self._core, self._partial)

    # ---- audiences ----

    def tag(self, name: str) -> Audience:
        """The users holding tag ``name``."""
        return self._core.tag(name)

    def attr(self, name: str, value: str) -> Audience:
        """The users whose attribute ``name`` equals ``value`` (empty if nobody has it)."""
        return self._core.attr(name, value)

    def attr_in(self, name: str, values: Iterable[str]) -> Audience:
        """The users whose attribute ``name`` is one of ``values``."""
        return self._core.attr_in(name, [str(v) for v in values])

    def attr_not_null(self, name: str) -> Audience:
        """The users that have any value of attribute ``name``."""
        return self._core.attr_not_null(name)

    @property
    def universe(self) -> Audience:
        """Every user the store knows; ``~audience`` is taken against it."""
        return self._core.universe

    def audience(self, ids: Any) -> Audience:
        """The audience of these users (all must be known to the store)."""
        return self._core.audience_of(self._users(ids), "ids")

    def audience_from_bytes(self, data: bytes) -> Audience:
        """The audience that :meth:`Audience.serialize` wrote, as an audience of
        this store again (with its universe and its users' own ids).

        The bytes hold the store's dense ids (for int64, uint64 and string stores,
        rows of its id dictionary), so they belong to this store, a snapshot of
        it or a copy loaded from its file; ids outside its universe are refused.

        Examples
        --------
        >>> import uoseg
        >>> store = uoseg.TagStore(ids="string")
        >>> store.add_tag("vip", ["alice", "bob"])
        >>> data = store.tag("vip").serialize()
        >>> store.audience_from_bytes(data).ids().tolist()
        ['alice', 'bob']
        """
        return self._core.audience_from_bytes(bytes(data))

    def audience_from_doris(self, data: bytes | str) -> Audience:
        """The audience of the users a Doris / StarRocks ``BITMAP`` value holds:
        its bytes, or the base64 text ``bitmap_to_base64`` gives. The values are
        the users' own ids (integer stores only); an id the store does not know
        is refused (``UnknownNameError`` naming it).

        Examples
        --------
        >>> import uoseg
        >>> store = uoseg.TagStore()
        >>> store.add_tag("vip", [3, 5, 8])
        >>> text = store.tag("vip").to_doris_base64()
        >>> store.audience_from_doris(text).ids().tolist()
        [3, 5, 8]
        """
        if isinstance(data, str):
            try:
                data = base64.b64decode(data, validate=True)
            except ValueError as exc:
                raise InvalidInputError(f"not base64 text of a Doris bitmap: {exc}") from None
        return self._core.audience_from_warehouse(bytes(data), "doris")

    def audience_from_clickhouse(self, data: bytes) -> Audience:
        """The audience of the users a ClickHouse ``AggregateFunction(groupBitmap,
        UInt32)`` state holds (``Audience.to_clickhouse`` writes one); an id the
        store does not know is refused (``UnknownNameError`` naming it)."""
        return self._core.audience_from_warehouse(bytes(data), "clickhouse")

    def export(
        self,
        audience: Audience,
        path: PathLike,
        columns: Sequence[str] | str = (),
        *,
        arms: Mapping[str, Audience] | None = None,
        format: str | None = None,
        id_column: str = "user_id",
        arm_column: str = "arm",
    ) -> int:
        """Write the audience's users (人群包) to ``path``: their own ids, then
        ``columns`` (tags as booleans, categorical attributes as strings, numeric
        attributes in their own type, null where a user has none), then, with
        ``arms`` (e.g. from :meth:`Audience.split`), each user's arm. Parquet,
        CSV, JSON lines or Arrow IPC by the extension (or ``format``). Rows come
        in the store's user order and are streamed batch by batch (memory stays
        flat); the file appears under ``path`` only once complete. Returns the
        rows written. The first export of a categorical attribute keeps it as a
        column of codes as well (2 bytes per user, counted by ``memory_usage``),
        so later exports read each row's value with one load.

        Examples
        --------
        >>> import tempfile, pathlib, pyarrow.parquet as pq, uoseg
        >>> store = uoseg.TagStore()
        >>> store.add_tag("vip", [1, 2, 3])
        >>> store.add_attribute("city", [1, 2, 3], ["SH", "BJ", "SH"])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "vip.parquet"
        >>> store.export(store.tag("vip"), path, ["city"])
        3
        >>> pq.read_table(path).to_pydict()
        {'user_id': [1, 2, 3], 'city': ['SH', 'BJ', 'SH']}
        """
        target = Path(os.fspath(path))
        kind = export_file.format_of(target, format)
        export_file.check_folder(target)
        names = [columns] if isinstance(columns, str) else list(columns)
        arm_items = list(arms.items()) if arms is not None else []
        batches = self._core.export_batches(
            audience, id_column, names, arm_column if arms is not None else None, arm_items
        )
        if kind == "parquet":
            # The core writes Parquet itself, encoding columns in parallel.
            return export_file.write_atomically(target, batches.write_parquet)
        return export_file.write_batches(batches, batches.schema, target, kind)

    # ---- numeric attributes ----

    def range(
        self,
        name: str,
        *,
        ge: Any = None,
        gt: Any = None,
        le: Any = None,
        lt: Any = None,
    ) -> Audience:
        """Users whose numeric attribute lies in a range (nulls never do).

        Examples
        --------
        >>> import uoseg
        >>> store = uoseg.TagStore()
        >>> store.add_numeric("age", [1, 2, 3], [20, 30, 40])
        >>> store.range("age", ge=25, le=35).ids().tolist()
        [2]
        """
        if (ge is not None and gt is not None) or (le is not None and lt is not None):
            raise ValueError("give at most one lower bound (ge/gt) and one upper bound (le/lt)")
        quoted = literal(name)
        # Two comparisons rather than BETWEEN: an empty range (ge above le) is
        # an empty audience here, while the DSL refuses `BETWEEN 35 AND 25`.
        parts = [
            f"{quoted} {op} {literal(value)}"
            for op, value in ((">=", ge), (">", gt), ("<=", le), ("<", lt))
            if value is not None
        ]
        return self.query(" AND ".join(parts) if parts else f"{quoted} IS NOT NULL")

    def equals(self, name: str, value: Any) -> Audience:
        """Users whose attribute equals ``value`` (numeric or categorical)."""
        return self.query(f"{literal(name)} = {literal(value)}")

    def is_null(self, name: str) -> Audience:
        """Users of the universe without a value for attribute ``name``."""
        return self.query(f"{literal(name)} IS NULL")

    def stats(self, name: str, audience: Audience | None = None) -> dict[str, Any]:
        """count, sum, mean, min and max of a numeric attribute over ``audience``
        (default: every user with a value). Integer sums are exact."""
        return self._core.stats(name, audience)

    def quantiles(
        self, name: str, probs: Sequence[float], audience: Audience | None = None
    ) -> list[float]:
        """Quantiles of a numeric attribute over ``audience`` (default: everyone
        with a value), with pandas' linear interpolation, exact to the bit.

        Examples
        --------
        >>> import uoseg
        >>> store = uoseg.TagStore()
        >>> store.add_numeric("spend", [1, 2, 3, 4], [10.0, 20.0, 30.0, 40.0])
        >>> store.quantiles("spend", [0.5, 0.9])
        [25.0, 37.0]
        """
        return self._core.numeric_quantiles(name, [float(p) for p in probs], audience)

    def add_buckets(
        self, name: str, user_ids: Any, codes: Any, labels: Sequence[str] | None = None
    ) -> None:
        """Write bucket codes (from :func:`uoseg.qcut`, :func:`uoseg.cut` or
        :func:`uoseg.ntile`) into the store as categorical attribute ``name``: one
        bitmap per bucket, named by ``labels`` (default ``"0"``, ``"1"``, ...).
        Code -1 (missing) gives the user no value.

        Examples
        --------
        >>> import uoseg
        >>> store = uoseg.TagStore()
        >>> spend = [5.0, 50.0, 500.0, 80.0]
        >>> store.add_buckets("tier", [1, 2, 3, 4], uoseg.qcut(spend, 2), ["low", "high"])
        >>> store.query('tier = "high"').ids().tolist()
        [3, 4]
        """
        code_array = np.asarray(codes, dtype=np.int64)
        if labels is None:
            labels = [str(i) for i in range(int(code_array.max(initial=-1)) + 1)]
        if code_array.size and int(code_array.max()) >= len(labels):
            raise ValueError(f"code {int(code_array.max())} has no label ({len(labels)} labels)")
        names = pa.array(list(labels), pa.string())
        values = pa.DictionaryArray.from_arrays(
            pa.array(code_array, mask=code_array < 0).cast(pa.int32()), names
        )
        self.add_attribute(name, user_ids, values)

    def values(self, name: str, audience: Audience | None = None) -> np.ndarray[Any, Any]:
        """The attribute's values for the users of ``audience`` (float64, in id order)."""
        return self._core.numeric_values(name, audience)

    # ---- queries ----

    def query(self, query: QueryLike, as_of: Any = None) -> Audience:
        """Evaluate a segment query (DSL text or a :class:`uoseg.Query`).

        ``as_of`` (datetime, date or ISO string) anchors ``WITHIN``; uoseg never
        reads the clock by itself.

        Examples
        --------
        >>> import uoseg
        >>> store = uoseg.TagStore()
        >>> store.add_tag("vip", [1, 2, 3])
        >>> store.add_attribute("city", [1, 2, 3], ["SH", "BJ", "GZ"])
        >>> store.query('vip AND city IN ("SH", "BJ")').ids().tolist()
        [1, 2]
        """
        return self._core.query(_query_text(query), self._as_of(as_of))

    def count(self, query: QueryLike, as_of: Any = None) -> int:
        """The size of a query's audience, computed without building it where possible."""
        return self._core.count(_query_text(query), self._as_of(as_of))

    def explain(self, query: QueryLike, as_of: Any = None) -> Explain:
        """Run a query and return its plan with each node's cardinality and time."""
        query_text = _query_text(query)
        text, plan = self._core.explain(query_text, self._as_of(as_of))
        return Explain(text, plan, self.lint(query_text))

    def lint(self, query: QueryLike) -> Lint:
        """Static findings about a query without running it: contradictions,
        tautologies, redundant terms, and names whose audience in this store is
        empty or that it does not hold, each with its position (see
        :mod:`uoseg.lint`).

        Examples
        --------
        >>> import uoseg
        >>> store = uoseg.TagStore()
        >>> store.add_numeric("age", [1, 2], [18, 40])
        >>> found = store.lint("age < 20 AND age > 30")
        >>> found.verdict
        'empty'
        >>> print(found)
        contradiction: `age < 20` AND `age > 30` matches nobody: no value satisfies both
          age < 20 AND age > 30
          ^^^^^^^^^^^^^^^^
        """
        text = _query_text(query)
        return lint_from_rows(text, self._core.lint(text))

    def define(self, name: str, query: QueryLike) -> None:
        """Save a segment, usable as ``@name`` in queries and saved with the store.

        A definition that would make a cycle is refused; redefining a segment that
        others use warns with their names."""
        with self._lock:
            core, users = self._core.define_segment(name, _query_text(query))
            self._core = core
        if users:
            warnings.warn(
                f"segment @{name} changed; it is used by {', '.join('@' + u for u in users)}",
                stacklevel=2,
            )

    def drop_segment(self, name: str) -> None:
        """Remove a saved segment (refused while other segments use it)."""
        self._update(lambda core: core.drop_segment(name))

    def segments(self) -> dict[str, str]:
        """Saved segments: name → canonical query text."""
        return dict(self._core.segments())

    def overlap_matrix(self, names: Sequence[str]) -> OverlapMatrix:
        """Pairwise intersection counts of tags (an int64 NumPy matrix, diagonal
        = sizes) that knows its ``names``, gives ``jaccard()`` and ``plot()``s."""
        names = list(names)
        return OverlapMatrix(self._core.overlap_matrix(names), names)

    # ---- introspection ----

    def tags(self, kind: str | None = None) -> list[str]:
        """Tag names, sorted. With ``kind`` (basic, behaviour, result,
        predicted): the tags and attributes of that kind in the catalog."""
        if kind is None:
            return self._core.tags()
        return list(self.catalog(kind).column("name").to_pylist())

    def attributes(self) -> list[str]:
        """Attribute names (categorical and numeric), sorted."""
        return sorted(self._core.attributes() + [n for n, _ in self._core.numerics()])

    def attribute_values(self, name: str) -> dict[str, int]:
        """Users per value of a categorical attribute, most users first."""
        return dict(self._core.attribute_values(name))

    def describe(self, as_of: Any = None) -> StoreDescription:
        """A table of every tag, attribute and saved segment: name, kind, users
        (holding the tag, with a value, or in the segment), distinct values, and
        the catalog's kind and description, grouped by catalog kind.

        It prints as an aligned table (``_repr_html_`` in Jupyter) and speaks the
        Arrow PyCapsule interface (``.table`` is the ``pyarrow.Table``). A segment
        that uses ``WITHIN`` is counted at ``as_of``; without one its users are null.

        Examples
        --------
        >>> import uoseg
        >>> store = uoseg.TagStore()
        >>> store.add_tag("vip", [1, 2, 3])
        >>> store.define("big", "vip")
        >>> store.describe()
        StoreDescription(3 users; 1 tags, 0 attributes, 1 segments)
        name  kind     users  values  catalog  description
        ────  ───────  ─────  ──────  ───────  ───────────
        vip   tag          3       1  —        —
        big   segment      3       0  —        —
        """
        known = catalog.entries(self._core.notes())
        rows = sorted(
            self._core.describe(self._as_of(as_of)),
            key=lambda r: catalog.order(known[r[0]].kind if r[0] in known else None),
        )
        entries = [known.get(r[0]) for r in rows]
        table = pa.table(
            {
                "name": pa.array([r[0] for r in rows], pa.string()),
                "kind": pa.array([r[1] for r in rows], pa.string()),
                "users": pa.array([r[2] for r in rows], pa.uint64()),
                "values": pa.array([r[3] for r in rows], pa.uint64()),
                "catalog": pa.array([e.kind if e else None for e in entries], pa.string()),
                "description": pa.array(
                    [e.description if e else None for e in entries], pa.string()
                ),
            }
        )
        return StoreDescription(table, len(self))

    @property
    def id_kind(self) -> str:
        """``"uint32"``, ``"int64"``, ``"uint64"``, ``"string"`` or ``"auto"`` (not yet decided)."""
        return self._core.id_kind

    def memory_usage(self) -> int:
        """Bytes held by the bitmaps (and, estimated, the id dictionary)."""
        return self._core.memory_usage()

    def memory_breakdown(self) -> dict[str, int]:
        """:meth:`memory_usage` by part: ``tags``, ``attributes`` (categorical),
        ``numerics`` (range indexes), ``events`` and ``users`` (the universe and
        the id dictionary)."""
        return dict(self._core.memory_breakdown())

    def __len__(self) -> int:
        return len(self._core)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        name = unicodedata.normalize("NFC", name)
        return name in self._core.tags() or name in self.attributes()

    def __repr__(self) -> str:
        return repr(self._core).replace("Store(", "TagStore(", 1)

    def _repr_html_(self) -> str:
        """Jupyter's summary: users, what the store holds, its zone and memory."""
        import html as _html

        events = self.events()
        parts = [
            f"{len(self):,} users",
            f"{len(self.tags()):,} tags",
            f"{len(self.attributes()):,} attributes",
            f"{len(self.segments()):,} saved segments",
        ]
        if events:
            parts.append(f"{len(events):,} events ({sum(events.values()):,} recorded)")
        memory = self.memory_usage() / 2**20
        return (
            f"<p><b>TagStore</b>: {_html.escape(', '.join(parts))}<br>"
            f"time zone {_html.escape(self.tz)}, {memory:,.1f} MiB held</p>"
        )

    # ---- persistence ----

    def save(self, path: PathLike) -> None:
        """Write the store to one file, atomically: an interrupted save leaves the
        previous file as it was."""
        self._whole("save it")
        self._core.save(os.fspath(path))

    @classmethod
    def load(
        cls, path: PathLike, *, for_query: QueryLike | None = None, columns: Sequence[str] = ()
    ) -> TagStore:
        """Read a store file; a damaged or newer-format file raises StoreFormatError,
        a missing one :class:`uoseg.MissingFileError` (a ``FileNotFoundError``).

        With ``for_query``, only what that query reads (its tags, attributes and
        events, also through saved segments) and the names in ``columns`` are
        read from the file, the rest skipped unread: a one-off count or list
        from a large store costs what it touches. Such a store answers that
        query but refuses to be saved (it would lose the rest)."""
        if for_query is None:
            return cls._wrap(_core.Store.load(os.fspath(path)))
        core = _core.Store.load_for(os.fspath(path), _query_text(for_query), list(columns))
        return cls._wrap(core, partial=os.fspath(path))

    def to_bytes(self) -> bytes:
        """The bytes of the store file :meth:`save` would write."""
        self._whole("turn it into bytes")
        return self._core.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> TagStore:
        """A store from :meth:`to_bytes` (or a store file's contents), checked as
        :meth:`load` checks a file."""
        return cls._wrap(_core.Store.from_bytes(bytes(data)))

    def __reduce__(self) -> tuple[Callable[[bytes], TagStore], tuple[bytes]]:
        # Pickled through the store file's bytes, so a store travels to worker
        # processes with its checksums, and unpickling checks them.
        return (TagStore.from_bytes, (self.to_bytes(),))
