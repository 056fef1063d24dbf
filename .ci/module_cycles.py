#!/usr/bin/env python3
"""Fail when the core's modules import each other in a circle.

The core's layers point down only (bindings -> query -> store and indexes ->
roaring). A module is a file or folder directly under rust/src; an edge A -> B
is any `crate::B` path written in A (in `use` lines or inline). Test code
(every item under `#[cfg(test)]`, wherever it stands, and tests.rs files) is
left out: it may reach anywhere. `py` (the bindings) is the top floor and is
not checked as a target of edges.

Why a script and not `cargo modules`: it needs no extra tool on CI, runs in a
fraction of a second, and prints the cycle as a path a reader can follow. Comments are not read.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "rust" / "src"
CRATE_PATH = re.compile(r"\bcrate::(\w+)")
USE_GROUP = re.compile(r"\buse\s+crate::\{([^}]*)\}", re.S)


def module_of(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0].removesuffix(".rs")


COMMENT = re.compile(r"(^|\s)//.*$", re.M)


def code_without_tests(text: str) -> str:
    """The file's code without its `#[cfg(test)]` items (a `mod tests;` line or a
    braced item, matched brace by brace) and without comments (doc links such
    as [`crate::store::Store`] are not imports)."""
    code = COMMENT.sub("", text)
    while (start := code.find("#[cfg(test)]")) >= 0:
        semicolon, brace = code.find(";", start), code.find("{", start)
        if brace < 0 or 0 <= semicolon < brace:
            end = len(code) if semicolon < 0 else semicolon + 1
        else:
            depth, end = 0, len(code)
            for at in range(brace, len(code)):
                depth += {"{": 1, "}": -1}.get(code[at], 0)
                if depth == 0:
                    end = at + 1
                    break
        code = code[:start] + code[end:]
    return code


def edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.rs")):
        if path.name == "tests.rs" or path == SRC / "lib.rs":
            continue
        source = module_of(path)
        text = code_without_tests(path.read_text(encoding="utf-8"))
        targets = set(CRATE_PATH.findall(text))
        for group in USE_GROUP.findall(text):
            targets |= {item.strip().split("::")[0] for item in group.split(",") if item.strip()}
        targets = {t for t in targets if t != source and t not in ("self", "Error", "Result")}
        graph.setdefault(source, set()).update(targets)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if state.get(target) is None:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def main() -> int:
    graph = edges()
    cycle = find_cycle(graph)
    if cycle:
        print("module import cycle in rust/src: " + " -> ".join(cycle), file=sys.stderr)
        return 1
    print(f"no import cycle among {len(graph)} core modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
