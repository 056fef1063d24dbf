"""Playbooks: named, ordered, checked segmentations (lifecycle, health, value tiers).

A playbook is data: a name, rules ``(label, query)`` in order, an optional
``otherwise`` label and a mode. In ``mode="first"`` every user gets the label
of the first rule that matches; in ``mode="exclusive"`` the rules must not
overlap. Playbooks read from and write to a small TOML file, are saved with
the store (``store.save_playbook``), and are applied with
``store.apply(playbook, as_of=...)``, which writes a categorical attribute
named after the playbook and returns the label counts. The labelling itself
runs in the core on bitmaps (``rust/src/labels.rs``).

The file format::

    name = "lifecycle"
    mode = "first"                 # or "exclusive"
    otherwise = "成熟期"            # optional
    otherwise_alias = "mature"     # optional
    description = "..."            # optional

    [[rules]]
    label = "引入期"
    alias = "new"                  # optional English alias
    query = "FIRST signup WITHIN 7 DAYS"
"""

from __future__ import annotations

import json
import os
import tomllib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from . import _core
from ._tables import TableResult
from .errors import InvalidInputError, QuerySyntaxError, UnknownNameError

__all__ = [
    "Playbook",
    "PlaybookExplain",
    "PlaybookResult",
    "PlaybookWarning",
    "Rule",
]

MODES = ("first", "exclusive")
# The key under which a playbook is kept in the store's notes.
NOTE_PREFIX = "playbook:"


class PlaybookWarning(UserWarning):
    """A playbook rule that matches nobody, is shadowed by earlier rules, or
    users left without a label."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: users matching ``query`` get ``label`` (``alias``: an English name)."""

    label: str
    query: str
    alias: str | None = None


def _text(query: Any) -> str:
    if isinstance(query, str):
        return query
    from .query import Query

    if isinstance(query, Query):
        return str(query)
    raise InvalidInputError(
        f"a rule's query must be text or a uoseg.Query, got {type(query).__name__}"
    )


@dataclass(frozen=True, slots=True)
class Playbook:
    """A named, ordered segmentation (see the module docs).

    ``rules`` are :class:`Rule` objects or ``(label, query)`` /
    ``(label, query, alias)`` tuples; queries are DSL text or builders.
    """

    name: str
    rules: tuple[Rule, ...]
    otherwise: str | None = None
    mode: str = "first"
    description: str = ""
    otherwise_alias: str | None = None
    _labels: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def __init__(
        self,
        name: str,
        rules: Iterable[Rule | Sequence[Any]],
        otherwise: str | None = None,
        mode: str = "first",
        *,
        description: str = "",
        otherwise_alias: str | None = None,
    ) -> None:
        built = []
        for position, rule in enumerate(rules):
            if isinstance(rule, Rule):
                built.append(rule)
            elif isinstance(rule, Sequence) and not isinstance(rule, str) and len(rule) in (2, 3):
                alias = rule[2] if len(rule) == 3 else None
                built.append(Rule(str(rule[0]), _text(rule[1]), alias))
            else:
                raise InvalidInputError(
                    f"playbook {name!r}: rule {position} must be (label, query) or "
                    f"(label, query, alias), got {rule!r}"
                )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "rules", tuple(built))
        object.__setattr__(self, "otherwise", otherwise)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "otherwise_alias", otherwise_alias)
        object.__setattr__(self, "_labels", tuple(r.label for r in built))
        self._check_shape()

    def _check_shape(self) -> None:
        """What can be checked without a store: name, mode, labels."""
        if not self.name:
            raise InvalidInputError("a playbook needs a name")
        if self.mode not in MODES:
            raise InvalidInputError(
                f"playbook {self.name!r}: mode={self.mode!r} is not a mode: use 'first' or "
                "'exclusive'"
            )
        if not self.rules:
            raise InvalidInputError(f"playbook {self.name!r} has no rules")
        seen: dict[str, int] = {}
        for position, rule in enumerate(self.rules):
            if not rule.label:
                raise InvalidInputError(f"playbook {self.name!r}: rule {position} has no label")
            if rule.label in seen:
                raise InvalidInputError(
                    f"playbook {self.name!r}: label {rule.label!r} is used by rules "
                    f"{seen[rule.label]} and {position}"
                )
            seen[rule.label] = position
        if self.otherwise is not None and self.otherwise in seen:
            raise InvalidInputError(
                f"playbook {self.name!r}: otherwise label {self.otherwise!r} is also the label "
                f"of rule {seen[self.otherwise]}"
            )

    @property
    def labels(self) -> list[str]:
        """Every label, in order, the otherwise label last."""
        return list(self._labels) + ([self.otherwise] if self.otherwise is not None else [])

    def aliases(self) -> dict[str, str]:
        """Label → English alias, for the labels that have one."""
        out = {r.label: r.alias for r in self.rules if r.alias}
        if self.otherwise is not None and self.otherwise_alias:
            out[self.otherwise] = self.otherwise_alias
        return out

    def label_of(self, name: str) -> str:
        """The label a label or alias names."""
        if name in self.labels:
            return name
        for label, alias in self.aliases().items():
            if alias == name:
                return label
        raise UnknownNameError(
            f"playbook {self.name!r} has no label or alias {name!r}",
            kind="label",
            name=name,
            suggestions=self.labels,
        )

    # ---- files ----

    def to_toml(self) -> str:
        """The playbook as TOML text (see the module docs for the format)."""

        def q(text: str) -> str:
            # A JSON string is a valid TOML basic string.
            return json.dumps(text, ensure_ascii=False)

        lines = [f"name = {q(self.name)}", f"mode = {q(self.mode)}"]
        if self.otherwise is not None:
            lines.append(f"otherwise = {q(self.otherwise)}")
        if self.otherwise_alias:
            lines.append(f"otherwise_alias = {q(self.otherwise_alias)}")
        if self.description:
            lines.append(f"description = {q(self.description)}")
        for rule in self.rules:
            lines += ["", "[[rules]]", f"label = {q(rule.label)}"]
            if rule.alias:
                lines.append(f"alias = {q(rule.alias)}")
            lines.append(f"query = {q(rule.query)}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml(cls, text: str, source: str = "<playbook>") -> Playbook:
        """A playbook from TOML text; a malformed file names the line at fault."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInputError(f"{source}: not a playbook file: {exc}") from None
        known = {"name", "mode", "otherwise", "otherwise_alias", "description", "rules"}
        extra = sorted(set(data) - known)
        if extra:
            raise InvalidInputError(
                f"{source}: unknown key {extra[0]!r} (a playbook has {', '.join(sorted(known))})"
            )
        if not isinstance(data.get("name"), str):
            raise InvalidInputError(f"{source}: 'name' must be a string")
        rules = data.get("rules")
        if not isinstance(rules, list) or not rules:
            raise InvalidInputError(f"{source}: a playbook needs [[rules]] entries")
        built = []
        for position, rule in enumerate(rules):
            if not isinstance(rule, dict) or not {"label", "query"} <= set(rule):
                raise InvalidInputError(
                    f"{source}: rule {position} needs a label and a query, got {rule!r}"
                )
            unknown = sorted(set(rule) - {"label", "query", "alias"})
            if unknown:
                raise InvalidInputError(
                    f"{source}: rule {position} ({rule['label']!r}) has an unknown key "
                    f"{unknown[0]!r}"
                )
            built.append(Rule(str(rule["label"]), str(rule["query"]), rule.get("alias")))
        return cls(
            data["name"],
            built,
            otherwise=data.get("otherwise"),
            mode=data.get("mode", "first"),
            description=data.get("description", ""),
            otherwise_alias=data.get("otherwise_alias"),
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the playbook as TOML (atomically: a temporary file renamed over ``path``)."""
        target = os.fspath(path)
        temporary = f"{target}.tmp-{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(self.to_toml())
        os.replace(temporary, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Playbook:
        """Read a playbook TOML file."""
        with open(path, encoding="utf-8") as f:
            return cls.from_toml(f.read(), source=os.fspath(path))

    # ---- running ----

    def check(self, core: _core.Store) -> list[str]:
        """Check every rule against a store before anything runs: syntax and
        unknown names raise, naming the rule's label and position. Returns the
        rules' canonical query texts."""
        texts = []
        for position, rule in enumerate(self.rules):
            where = f"playbook {self.name!r}, rule {position} ({rule.label!r})"
            try:
                texts.append(core.prepare(rule.query))
            except UnknownNameError as exc:
                raise UnknownNameError(
                    f"{where}: {exc.message}",
                    kind=exc.kind,
                    name=exc.name,
                    suggestions=exc.suggestions,
                ) from None
            except QuerySyntaxError as exc:
                raise QuerySyntaxError(
                    f"{where}: {exc}",
                    position=exc.position,
                    line=exc.line,
                    column=exc.column,
                    expected=exc.expected,
                    found=exc.found,
                    text=exc.text,
                ) from None
        return texts


@dataclass(frozen=True, slots=True)
class _RuleOutcome:
    matched: int
    assigned: int
    lost_to: list[int]


def run(
    playbook: Playbook,
    core: _core.Store,
    audiences: list[Any],
    *,
    attribute: str,
    write: bool,
) -> tuple[_core.Store | None, list[_RuleOutcome], int, int]:
    """Label users (in the core); refuse overlapping exclusive rules."""
    store, outcomes, otherwise, unlabelled, overlaps = core.apply_labels(
        attribute,
        [r.label for r in playbook.rules],
        audiences,
        playbook.otherwise,
        playbook.mode,
        write,
    )
    if overlaps:
        pairs = "; ".join(
            f"rules {i} ({playbook.rules[i].label!r}) and {j} ({playbook.rules[j].label!r}) "
            f"share {n:,} users"
            for i, j, n in overlaps
        )
        raise InvalidInputError(
            f"playbook {playbook.name!r} is exclusive but its rules overlap: {pairs}"
        )
    return store, [_RuleOutcome(*o) for o in outcomes], otherwise, unlabelled


def findings(playbook: Playbook, outcomes: list[_RuleOutcome], unlabelled: int) -> list[str]:
    """Rules that match nobody or lose every user to earlier ones, and users
    left without a label, each naming the rule's label and position."""
    out = []
    for position, (rule, outcome) in enumerate(zip(playbook.rules, outcomes, strict=True)):
        where = f"rule {position} ({rule.label!r})"
        if outcome.matched == 0:
            out.append(f"{where} matches nobody")
        elif outcome.assigned == 0:
            takers = [
                f"{playbook.rules[j].label!r}" for j, n in enumerate(outcome.lost_to) if n > 0
            ]
            out.append(
                f"{where} is shadowed: earlier rules ({', '.join(takers)}) take all its users"
            )
    if unlabelled:
        out.append(f"{unlabelled:,} users match no rule and there is no otherwise label")
    return out


def warn(playbook: Playbook, notes: list[str]) -> None:
    for note in notes:
        warnings.warn(f"playbook {playbook.name!r}: {note}", PlaybookWarning, stacklevel=3)


class PlaybookResult(TableResult):
    """Label counts of an applied playbook: ``label``, ``alias``, ``users``,
    ``share`` (of all users), in the playbook's order."""

    __slots__ = ("attribute", "findings", "playbook")

    def __init__(
        self, table: pa.Table, *, playbook: Playbook, attribute: str, notes: list[str]
    ) -> None:
        super().__init__(table)
        self.playbook, self.attribute, self.findings = playbook, attribute, notes

    def counts(self) -> dict[str, int]:
        """Label → users."""
        return dict(
            zip(
                self.table.column("label").to_pylist(),
                self.table.column("users").to_pylist(),
                strict=True,
            )
        )

    def _title(self) -> str:
        return f"PlaybookResult({self.playbook.name} → attribute {self.attribute!r})"


class PlaybookExplain(TableResult):
    """Per rule: ``position``, ``label``, ``query``, ``matched`` (users its query
    holds), ``assigned`` (users it labels), ``lost`` (users earlier rules took)
    and ``lost_to`` (which rules took them); ``findings`` lists the problems."""

    __slots__ = ("findings", "playbook")

    def __init__(self, table: pa.Table, *, playbook: Playbook, notes: list[str]) -> None:
        super().__init__(table)
        self.playbook, self.findings = playbook, notes

    def _title(self) -> str:
        head = f"PlaybookExplain({self.playbook.name}, mode {self.playbook.mode})"
        return head + "".join(f"\n  ! {note}" for note in self.findings)


def result_table(
    playbook: Playbook, outcomes: list[_RuleOutcome], otherwise: int, universe: int
) -> pa.Table:
    aliases = playbook.aliases()
    labels = [r.label for r in playbook.rules]
    users = [o.assigned for o in outcomes]
    if playbook.otherwise is not None:
        labels.append(playbook.otherwise)
        users.append(otherwise)
    return pa.table(
        {
            "label": pa.array(labels, pa.string()),
            "alias": pa.array([aliases.get(label) for label in labels], pa.string()),
            "users": pa.array(users, pa.int64()),
            "share": pa.array([u / universe if universe else 0.0 for u in users], pa.float64()),
        }
    )


def explain_table(playbook: Playbook, texts: list[str], outcomes: list[_RuleOutcome]) -> pa.Table:
    def taken(outcome: _RuleOutcome) -> str:
        return ", ".join(
            f"{playbook.rules[j].label}: {n:,}" for j, n in enumerate(outcome.lost_to) if n > 0
        )

    return pa.table(
        {
            "position": pa.array(range(len(outcomes)), pa.int64()),
            "label": pa.array([r.label for r in playbook.rules], pa.string()),
            "query": pa.array(texts, pa.string()),
            "matched": pa.array([o.matched for o in outcomes], pa.int64()),
            "assigned": pa.array([o.assigned for o in outcomes], pa.int64()),
            "lost": pa.array([o.matched - o.assigned for o in outcomes], pa.int64()),
            "lost_to": pa.array([taken(o) for o in outcomes], pa.string()),
        }
    )


def stored(notes: Mapping[str, str]) -> dict[str, Playbook]:
    """The playbooks kept in a store's notes, by name."""
    return {
        key[len(NOTE_PREFIX) :]: Playbook.from_toml(text, source=f"store playbook {key!r}")
        for key, text in notes.items()
        if key.startswith(NOTE_PREFIX)
    }
