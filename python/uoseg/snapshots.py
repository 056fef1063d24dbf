"""Two snapshots of a store compared: who entered, left or stayed in an
audience (``uoseg.diff``), and how users moved between the values of a
categorical attribute (``uoseg.transitions``).

The snapshots may be two files built separately (last week's and today's):
users are matched by their own ids, so the id dictionaries need not agree.
The work is bitmap algebra in the core (``rust/src/snapshots.rs``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ._core import Audience
from ._tables import TableResult
from .errors import UnknownNameError

if TYPE_CHECKING:
    from ._store import TagStore

__all__ = ["NO_VALUE", "Diff", "TransitionTable", "diff", "transitions"]

#: The row and column of users without a value in one of the snapshots.
NO_VALUE = "(none)"


@dataclass(frozen=True, slots=True)
class Diff:
    """An audience in two snapshots. ``entered`` and ``stayed`` are audiences
    of the new store, ``left`` of the old one. ``definition_changed`` is True
    when a saved segment the query uses (directly or through other segments)
    is defined differently in the two snapshots: then users "moved" because
    the rule did, not because they changed."""

    entered: Audience
    left: Audience
    stayed: Audience
    definition_changed: bool
    changed_segments: tuple[str, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {"entered": len(self.entered), "left": len(self.left), "stayed": len(self.stayed)}

    def __repr__(self) -> str:
        c = self.counts
        note = (
            f", definition changed: {', '.join('@' + s for s in self.changed_segments)}"
            if self.definition_changed
            else ""
        )
        return f"Diff(entered={c['entered']:,}, left={c['left']:,}, stayed={c['stayed']:,}{note})"


_SEGMENT_REF = re.compile(r'@(?:"((?:[^"\\]|\\.)*)"|`((?:[^`]|``)*)`|([^\s()"`,]+))')


def _segments_used(definitions: dict[str, str], text: str) -> set[str]:
    """Saved segments ``text`` uses, directly or through other segments."""
    seen: set[str] = set()
    pending = [text]
    while pending:
        for match in _SEGMENT_REF.finditer(pending.pop()):
            name = next(g for g in match.groups() if g is not None)
            if name not in seen:
                seen.add(name)
                if name in definitions:
                    pending.append(definitions[name])
    return seen


def diff(old: TagStore, new: TagStore, query: Any, as_of: Any = None) -> Diff:
    """Who entered, left and stayed in ``query``'s audience between the
    snapshots ``old`` and ``new`` (two stores, or a ``snapshot()`` and its
    store), each evaluated at ``as_of``."""
    from ._store import _query_text

    text = _query_text(query)
    before, after = old.query(text, as_of), new.query(text, as_of)
    carried = new._core.carry(old._core, before)
    back = old._core.carry(new._core, after)
    old_defs, new_defs = old.segments(), new.segments()
    used = _segments_used(old_defs, text) | _segments_used(new_defs, text)
    changed = tuple(sorted(s for s in used if old_defs.get(s) != new_defs.get(s)))
    return Diff(
        entered=after - carried,
        left=before - back,
        stayed=after & carried,
        definition_changed=bool(changed),
        changed_segments=changed,
    )


class TransitionTable(TableResult):
    """A transition matrix: column ``from`` holds the old values, then one
    column per new value, with :data:`NO_VALUE` (``"(none)"``) for users
    without a value in that snapshot (not yet or no longer users, or
    unlabelled). ``shares()`` divides each row by its total;
    ``audience(from_label, to_label)`` gives the users of one cell."""

    __slots__ = ("attribute", "new", "old")

    def __init__(self, table: pa.Table, *, old: TagStore, new: TagStore, attribute: str) -> None:
        super().__init__(table)
        self.old, self.new, self.attribute = old, new, attribute

    @property
    def labels_from(self) -> list[str]:
        return [str(v) for v in self.table.column("from").to_pylist()]

    @property
    def labels_to(self) -> list[str]:
        return [name for name in self.table.column_names if name != "from"]

    def count(self, from_label: str, to_label: str) -> int:
        self._check(from_label, to_label)
        row = self.labels_from.index(from_label)
        return int(self.table.column(to_label)[row].as_py())

    def shares(self) -> TransitionTable:
        """Each row divided by its total (the share of the old value's users
        who ended in each new value)."""
        import pyarrow.compute as pc

        columns = self.labels_to
        totals = None
        for name in columns:
            column = self.table.column(name).cast(pa.float64())
            totals = column if totals is None else pc.add(totals, column)
        assert totals is not None
        totals = pc.if_else(pc.equal(totals, 0.0), pa.scalar(None, pa.float64()), totals)
        table = self.table
        for name in columns:
            at = table.column_names.index(name)
            share = pc.divide(table.column(name).cast(pa.float64()), totals)
            table = table.set_column(at, pa.field(name, pa.float64()), share)
        return TransitionTable(table, old=self.old, new=self.new, attribute=self.attribute)

    def _check(self, from_label: str, to_label: str) -> None:
        for label, known, side in (
            (from_label, self.labels_from, "old"),
            (to_label, self.labels_to, "new"),
        ):
            if label not in known:
                raise UnknownNameError(
                    f"{label!r} is not a value of {self.attribute!r} in the {side} snapshot",
                    kind="value",
                    name=label,
                    suggestions=known,
                )

    def audience(self, from_label: str, to_label: str) -> Audience:
        """The users who had ``from_label`` and now have ``to_label``: an
        audience of the new store, or of the old one when ``to_label`` is
        ``"(none)"`` (they may no longer be users)."""
        self._check(from_label, to_label)
        old, new, name = self.old, self.new, self.attribute
        if to_label == NO_VALUE:
            if from_label == NO_VALUE:
                return old.universe - old.universe
            now_valued = old._core.carry(new._core, new.attr_not_null(name))
            return old.attr(name, from_label) - now_valued
        target = new.attr(name, to_label)
        if from_label == NO_VALUE:
            return target - new._core.carry(old._core, old.attr_not_null(name))
        return target & new._core.carry(old._core, old.attr(name, from_label))

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """A heatmap of row shares with the counts written in (needs ``uoseg[plot]``)."""
        from .plot import transitions_heatmap

        return transitions_heatmap(self, path)

    def _title(self) -> str:
        before, after = len(self.labels_from) - 1, len(self.labels_to) - 1
        return f"TransitionTable({self.attribute}: {before} → {after} values)"


def transitions(old: TagStore, new: TagStore, attribute: str) -> TransitionTable:
    """The transition matrix of the categorical ``attribute`` from snapshot
    ``old`` to ``new`` (an RFM segment, a lifecycle stage): counts, with the
    users who appear or disappear as the ``"(none)"`` row and column."""
    rows, columns, counts = new._core.transitions(old._core, attribute)
    names = [NO_VALUE if c is None else c for c in columns]
    data: dict[str, Any] = {"from": pa.array([NO_VALUE if r is None else r for r in rows])}
    for j, name in enumerate(names):
        data[name] = pa.array([row[j] for row in counts], pa.int64())
    return TransitionTable(pa.table(data), old=old, new=new, attribute=attribute)
