"""The tag catalog: what each tag and attribute is, where it came from, and
when it last changed.

User operations sorts its tags into four kinds: ``basic`` (facts about the
user: city, age, signup date), ``behaviour`` (what the user did: paid in the
last 30 days), ``result`` (the output of an analysis or rule: an RFM
segment, a lifecycle stage) and ``predicted`` (a model's score or class: a
churn probability). Every tag and attribute can carry its kind, a
description and its source; ``updated`` is set whenever the store changes
the name through ``TagStore`` (an instant in UTC). The entries are kept with
the store (its notes, saved in the store file) as small JSON texts.
"""

from __future__ import annotations

import datetime as _dt
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from . import _core
from ._tables import TableResult
from .errors import InvalidInputError

__all__ = ["KINDS", "CatalogEntry", "CatalogTable"]

KINDS = ("basic", "behaviour", "result", "predicted")
NOTE_PREFIX = "catalog:"


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """The catalog's record of one tag or attribute."""

    name: str
    kind: str | None = None
    description: str | None = None
    source: str | None = None
    updated: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CatalogEntry:
        data = json.loads(text)
        return cls(**{k: data.get(k) for k in ("name", "kind", "description", "source", "updated")})


def check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise InvalidInputError(
            f"catalog kind {kind!r} is not one of {', '.join(KINDS)} (basic facts, "
            "behaviour, analysis results, model predictions)"
        )


def entries(notes: Mapping[str, str]) -> dict[str, CatalogEntry]:
    """The catalog kept in a store's notes, by name."""
    return {
        key[len(NOTE_PREFIX) :]: CatalogEntry.from_json(text)
        for key, text in notes.items()
        if key.startswith(NOTE_PREFIX)
    }


def now() -> str:
    """The time of an update, as ISO 8601 in UTC (metadata, never an evaluation time)."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def touched(
    current: CatalogEntry | None,
    name: str,
    *,
    kind: str | None = None,
    description: str | None = None,
    source: str | None = None,
    changed: bool = True,
) -> CatalogEntry:
    """``current`` with the given fields replaced (``None`` keeps a field) and,
    when the data ``changed``, ``updated`` set to now."""
    check_kind(kind)
    base = current or CatalogEntry(name)
    return CatalogEntry(
        name=name,
        kind=kind if kind is not None else base.kind,
        description=description if description is not None else base.description,
        source=source if source is not None else base.source,
        updated=now() if changed else base.updated,
    )


def recorded(
    core: _core.Store,
    name: str,
    *,
    kind: str | None = None,
    description: str | None = None,
    source: str | None = None,
    changed: bool = True,
) -> _core.Store:
    """``core`` with the catalog entry of ``name`` updated as :func:`touched` says."""
    key = unicodedata.normalize("NFC", name)
    note = core.notes().get(NOTE_PREFIX + key)
    current = CatalogEntry.from_json(note) if note else None
    entry = touched(
        current, key, kind=kind, description=description, source=source, changed=changed
    )
    return core.with_note(NOTE_PREFIX + key, entry.to_json())


def order(kind: str | None) -> int:
    """Sort key: the four kinds in order, uncatalogued last."""
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


class CatalogTable(TableResult):
    """What :meth:`TagStore.catalog` returns: one row per tag and attribute."""

    __slots__ = ()

    def _title(self) -> str:
        return f"CatalogTable({self.num_rows:,} tags and attributes)"
