"""A Python builder for segment queries.

Builder objects render to DSL text, so a query built in Python and the same
query written as text are one and the same thing::

    >>> import uoseg
    >>> q = uoseg.tag("vip") & uoseg.attr("age").between(25, 35) & ~uoseg.tag("churned")
    >>> str(q)
    'vip AND age BETWEEN 25 AND 35 AND NOT churned'

``str(query)`` is the canonical text (it parses back to an equal query), and
queries compare equal when their canonical texts do.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable
from typing import Any

from . import _core

__all__ = ["ALL", "Attr", "Behaviour", "Query", "attr", "did", "first", "literal", "segment", "tag"]

_UNITS = {
    "day": "DAYS",
    "days": "DAYS",
    "hour": "HOURS",
    "hours": "HOURS",
    "minute": "MINUTES",
    "minutes": "MINUTES",
}


def _quote(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
    )
    return f'"{escaped}"'


def literal(value: Any) -> str:
    """DSL text of a Python value: str, bool, int, float, date, datetime."""
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(
                f"{value!r} cannot be used in a query (NaN and infinities never match)"
            )
        text = repr(value)
        return text if any(c in text for c in ".eE") else text + ".0"
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC).replace(tzinfo=None)
        return str(value.isoformat(timespec="microseconds")) + "Z"
    if isinstance(value, _dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # NumPy scalars
        return literal(value.item())
    raise TypeError(f"cannot use {type(value).__name__} {value!r} as a query value")


def _name(name: str) -> str:
    # Quoted names are always valid; the canonical form drops needless quotes.
    return _quote(name)


class Query:
    """A segment query. Combine with ``&`` (AND), ``|`` (OR), ``^`` (XOR), ``~`` (NOT)."""

    __slots__ = ("_operands", "_operator", "_text")

    def __init__(self, text: str, *, _operator: str = "", _operands: tuple[str, ...] = ()) -> None:
        self._text = _core.canonical(text)
        # A chain `a & b & c` stays one n-ary AND, as the parser reads `a AND b AND c`.
        self._operator = _operator
        self._operands = _operands

    def _chain(self, operator: str, other: Query | str) -> Query:
        def parts(query: Query | str) -> tuple[str, ...]:
            if isinstance(query, Query) and query._operator == operator:
                return query._operands
            return (_text_of(query),)

        operands = parts(self) + parts(other)
        text = f" {operator} ".join(f"({part})" for part in operands)
        return Query(text, _operator=operator, _operands=operands)

    def __and__(self, other: Query) -> Query:
        return self._chain("AND", other)

    def __or__(self, other: Query) -> Query:
        return self._chain("OR", other)

    def __xor__(self, other: Query) -> Query:
        return self._chain("XOR", other)

    def __invert__(self) -> Query:
        return Query(f"NOT ({self._text})")

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Query({self._text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)


def _text_of(query: Query | str) -> str:
    if isinstance(query, Query):
        return str(query)
    if isinstance(query, str):
        return _core.canonical(query)
    raise TypeError(f"expected a Query or query text, got {type(query).__name__}")


class Attr:
    """Predicates on one attribute: ``attr("age").between(25, 35)``, ``attr("city") == "SH"``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def _cmp(self, op: str, value: Any) -> Query:
        return Query(f"{_name(self.name)} {op} {literal(value)}")

    def __eq__(self, value: Any) -> Query:  # type: ignore[override]
        return self._cmp("=", value)

    def __ne__(self, value: Any) -> Query:  # type: ignore[override]
        return self._cmp("!=", value)

    def __lt__(self, value: Any) -> Query:
        return self._cmp("<", value)

    def __le__(self, value: Any) -> Query:
        return self._cmp("<=", value)

    def __gt__(self, value: Any) -> Query:
        return self._cmp(">", value)

    def __ge__(self, value: Any) -> Query:
        return self._cmp(">=", value)

    __hash__ = None  # type: ignore[assignment]

    def isin(self, values: Iterable[Any]) -> Query:
        items = ", ".join(literal(v) for v in values)
        if not items:
            return ~ALL
        return Query(f"{_name(self.name)} IN ({items})")

    def notin(self, values: Iterable[Any]) -> Query:
        items = ", ".join(literal(v) for v in values)
        if not items:
            return Query(f"{_name(self.name)} IS NOT NULL")
        return Query(f"{_name(self.name)} NOT IN ({items})")

    def between(self, low: Any, high: Any) -> Query:
        return Query(f"{_name(self.name)} BETWEEN {literal(low)} AND {literal(high)}")

    def is_null(self) -> Query:
        return Query(f"{_name(self.name)} IS NULL")

    def is_not_null(self) -> Query:
        return Query(f"{_name(self.name)} IS NOT NULL")

    def within(self, amount: float, unit: str = "days") -> Query:
        """``attr WITHIN amount unit`` (days, hours or minutes before ``as_of``)."""
        if unit.lower() not in _UNITS:
            raise ValueError(f"unit must be one of {sorted(set(_UNITS))}, got {unit!r}")
        if amount < 0 or not math.isfinite(amount):
            raise ValueError(f"WITHIN needs a non-negative amount, got {amount!r}")
        number = literal(amount) if isinstance(amount, float) else str(int(amount))
        return Query(f"{_name(self.name)} WITHIN {number} {_UNITS[unit.lower()]}")


def tag(name: str) -> Query:
    """Users holding tag ``name``."""
    return Query(_name(name))


def attr(name: str) -> Attr:
    """An attribute to compare: ``attr("city").isin(["SH", "BJ"])``."""
    return Attr(name)


def segment(name: str) -> Query:
    """A saved segment, ``@name``."""
    return Query(f"@{_name(name)}")


_COMPARISONS = ("<", "<=", "=", "!=", ">=", ">")


def _comparison(op: str) -> str:
    op = "=" if op == "==" else op
    if op not in _COMPARISONS:
        raise ValueError(f"comparison must be one of {_COMPARISONS}, got {op!r}")
    return op


class Behaviour:
    """A behaviour condition being built: ``did("login").on_days(">=", 5).within(30)``.

    ``times``, ``on_days`` and ``total`` say what is counted; ``within``,
    ``between`` and ``ever`` say which days, and return the :class:`Query`.
    """

    __slots__ = ("_head", "_measure")

    def __init__(self, head: str, measure: str = "") -> None:
        self._head = head
        self._measure = measure

    def _with(self, measure: str) -> Behaviour:
        if self._head.startswith("FIRST"):
            raise ValueError("FIRST takes a window only (within, between or ever)")
        return Behaviour(self._head, f" {measure}")

    def times(self, op: str, count: int) -> Behaviour:
        """How many events: ``times(">=", 2)`` is ``>= 2 TIMES``."""
        return self._with(f"{_comparison(op)} {int(count)} TIMES")

    def on_days(self, op: str, count: int) -> Behaviour:
        """On how many distinct days: ``on_days(">=", 5)`` is ``ON >= 5 DAYS``."""
        return self._with(f"ON {_comparison(op)} {int(count)} DAYS")

    def total(self, column: str, op: str, value: float) -> Behaviour:
        """The sum of the value column: ``total("amount", ">", 500)``."""
        return self._with(f"TOTAL {_name(column)} {_comparison(op)} {literal(value)}")

    def within(self, days: int) -> Query:
        """The ``days`` calendar days ending on as_of's day."""
        return Query(f"{self._head}{self._measure} WITHIN {int(days)} DAYS")

    def between(self, start: _dt.date, end: _dt.date) -> Query:
        """Calendar days from ``start`` to ``end``, both included."""
        return Query(f"{self._head}{self._measure} BETWEEN {literal(start)} AND {literal(end)}")

    def ever(self) -> Query:
        """Every day up to as_of's day."""
        return Query(f"{self._head}{self._measure} EVER")


def did(event: str) -> Behaviour:
    """Users who did ``event`` (at least once, or as a measure says)."""
    return Behaviour(f"DID {_name(event)}")


def first(event: str) -> Behaviour:
    """Users whose first ``event`` falls in the window."""
    return Behaviour(f"FIRST {_name(event)}")


ALL = Query("ALL")
"""Every user of the store."""
