"""README's Python examples and the docstrings' examples run as written (so the
documentation stays true)."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(block, str(README), "exec"), {})


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize(
    "module",
    ["uoseg.bucket", "uoseg._store", "uoseg.query", "uoseg.split", "uoseg.rfm", "uoseg.datasets"],
)
def test_docstring_examples_run(module: str) -> None:
    results = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert results.attempted > 0 and results.failed == 0, (
        f"{results.failed} of {results.attempted} failed"
    )
