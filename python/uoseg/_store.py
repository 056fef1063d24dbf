"""``TagStore``: the user-facing handle on a store.

The compiled core keeps each store state as an immutable snapshot. A TagStore
holds the current snapshot and replaces it on every update, so an Audience or
a ``snapshot()`` handed out earlier never changes under its reader.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from . import _core
from ._arrow import as_array, as_table, column, user_array
from ._core import Audience

__all__ = ["TagStore"]

PathLike = str | os.PathLike[str]


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

    __slots__ = ("_core", "_lock")

    def __init__(self, *, ids: str = "auto") -> None:
        self._core: _core.Store = _core.Store.empty(ids)
        self._lock = threading.Lock()

    @classmethod
    def _wrap(cls, core: _core.Store) -> TagStore:
        store = cls.__new__(cls)
        store._core = core
        store._lock = threading.Lock()
        return store

    def _update(self, change: Callable[[_core.Store], _core.Store]) -> None:
        with self._lock:
            self._core = change(self._core)

    def _users(self, ids: Any, name: str = "user_id") -> pa.ChunkedArray:
        return user_array(ids, self._core.id_kind, name)

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

    def add_tag(self, name: str, ids: Any) -> None:
        """Set tag ``name`` to exactly these users (replacing it if it exists)."""
        users = self._users(ids)
        self._update(lambda core: core.with_tag(name, users, "ids"))

    def update_tag(self, name: str, add: Any = (), remove: Any = ()) -> None:
        """Add users to and remove users from an existing tag."""
        added, removed = self._users(add, "add"), self._users(remove, "remove")
        self._update(lambda core: core.with_tag_updated(name, added, removed, "ids"))

    def drop_tag(self, name: str) -> None:
        """Remove a tag (its users stay in the universe)."""
        self._update(lambda core: core.without_tag(name))

    def add_attribute(self, name: str, user_ids: Any, values: Any) -> None:
        """Set categorical attribute ``name`` for these users (one value each);
        other users keep the value they had."""
        users, vals = self._users(user_ids), as_array(values, name)
        self._update(lambda core: core.with_attribute(name, users, vals, "user_ids"))

    def drop_attribute(self, name: str) -> None:
        """Remove a categorical attribute."""
        self._update(lambda core: core.without_attribute(name))

    def add_users(self, ids: Any) -> None:
        """Add users to the universe without tagging them."""
        users = self._users(ids)
        self._update(lambda core: core.with_users(users, "ids"))

    def snapshot(self) -> TagStore:
        """A store that shares this one's current state and never sees later updates."""
        return TagStore._wrap(self._core)

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

    def overlap_matrix(self, names: Sequence[str]) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Pairwise intersection counts of tags (int64 matrix; diagonal = sizes)."""
        return self._core.overlap_matrix(list(names))

    # ---- introspection ----

    def tags(self) -> list[str]:
        """Tag names, sorted."""
        return self._core.tags()

    def attributes(self) -> list[str]:
        """Attribute names, sorted."""
        return self._core.attributes()

    def attribute_values(self, name: str) -> dict[str, int]:
        """Users per value of a categorical attribute, most users first."""
        return dict(self._core.attribute_values(name))

    def describe(self) -> pa.Table:
        """A table of every tag and attribute: name, kind, users, distinct values."""
        rows = self._core.describe()
        return pa.table(
            {
                "name": pa.array([r[0] for r in rows], pa.string()),
                "kind": pa.array([r[1] for r in rows], pa.string()),
                "users": pa.array([r[2] for r in rows], pa.uint64()),
                "values": pa.array([r[3] for r in rows], pa.uint64()),
            }
        )

    @property
    def id_kind(self) -> str:
        """``"uint32"``, ``"int64"``, ``"uint64"``, ``"string"`` or ``"auto"`` (not yet decided)."""
        return self._core.id_kind

    def memory_usage(self) -> int:
        """Bytes held by the bitmaps (and, estimated, the id dictionary)."""
        return self._core.memory_usage()

    def __len__(self) -> int:
        return len(self._core)

    def __contains__(self, name: object) -> bool:
        return name in self._core.tags() or name in self._core.attributes()

    def __repr__(self) -> str:
        return repr(self._core).replace("Store(", "TagStore(", 1)

    # ---- persistence ----

    def save(self, path: PathLike) -> None:
        """Write the store to one file, atomically: an interrupted save leaves the
        previous file as it was."""
        self._core.save(os.fspath(path))

    @classmethod
    def load(cls, path: PathLike) -> TagStore:
        """Read a store file; a damaged or newer-format file raises StoreFormatError."""
        return cls._wrap(_core.Store.load(os.fspath(path)))
