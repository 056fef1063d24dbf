"""Query lint: static findings about a query, without running it.

``uoseg.lint(query)`` (text alone) and ``store.lint(query)`` (also checking
names against the store) report contradictions (``t3 AND NOT t3``,
``age < 20 AND age > 30``, disjoint ``IN`` sets, ``DID x WITHIN 7 DAYS AND NOT
DID x WITHIN 30 DAYS``), tautologies (``vip OR NOT vip``), redundant terms
(``vip AND vip``, ``age > 30 AND age > 20``) and, with a store, names whose
audience is empty or that the store does not hold, each with its position.
When lint calls a query empty, it is empty on every store (the analysis in
``rust/src/query/lint.rs`` is sound for that, and says nothing where unsure).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _core
from ._tables import display_width

__all__ = ["Lint", "LintFinding", "lint"]


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One finding: ``kind`` is "contradiction", "tautology", "redundant",
    "empty name" or "unknown name"; ``position`` and ``end`` are character
    offsets into ``text``."""

    kind: str
    message: str
    position: int
    end: int
    text: str

    def __str__(self) -> str:
        line_start = self.text.rfind("\n", 0, self.position) + 1
        line_end = self.text.find("\n", self.position)
        line = self.text[line_start : None if line_end < 0 else line_end]
        pad = " " * display_width(self.text[line_start : self.position])
        width = max(1, display_width(self.text[self.position : max(self.end, self.position + 1)]))
        return f"{self.kind}: {self.message}\n  {line}\n  {pad}{'^' * width}"


@dataclass(frozen=True, slots=True)
class Lint:
    """The findings about a query and what is known of it as a whole:
    ``verdict`` is "empty" (matches nobody on any store), "all" (every user)
    or "unknown"."""

    text: str
    findings: tuple[LintFinding, ...]
    verdict: str

    def __bool__(self) -> bool:
        """True when there is something to say."""
        return bool(self.findings)

    def __iter__(self) -> Any:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __str__(self) -> str:
        if not self.findings:
            return "no findings"
        return "\n".join(str(f) for f in self.findings)

    def __repr__(self) -> str:
        return f"Lint({len(self.findings)} findings, verdict {self.verdict!r})\n{self}"


def from_rows(text: str, rows: tuple[list[tuple[str, str, int, int]], str]) -> Lint:
    import unicodedata

    normalised = unicodedata.normalize("NFC", text)
    findings, verdict = rows
    return Lint(
        text=normalised,
        findings=tuple(LintFinding(k, m, s, e, normalised) for k, m, s, e in findings),
        verdict=verdict,
    )


def lint(query: Any) -> Lint:
    """Static findings about ``query`` (DSL text or a builder) on its own;
    ``TagStore.lint`` also checks its names against a store."""
    from ._store import _query_text

    text = _query_text(query)
    return from_rows(text, _core.lint(text))
