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


@pytest.mark.parametrize("guide", ["events.md", "playbooks.md", "experiments.md"])
def test_the_guides_run_as_written(
    guide: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guide's self-contained blocks run in order, in one namespace, as a
    reader would (playbooks.md also shows fragments on stores of the reader's
    own; only its complete first block runs)."""
    path = README.parent / "docs" / guide
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
    if guide == "playbooks.md":
        blocks = blocks[:1]
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile("\n".join(blocks), str(path), "exec"), namespace)
    if guide == "events.md":
        assert (
            namespace["store"].count(  # type: ignore[attr-defined]
                "DID login WITHIN 1 DAYS", as_of=__import__("datetime").date(2026, 7, 1)
            )
            == 2
        )


SHELL = re.search(
    r"## From the command line\n\n```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S
)


def test_the_readme_command_lines_run(tmp_path: Path) -> None:
    """Every command of "From the command line" runs and exits 0 (at a small size)."""
    import shlex
    import subprocess
    import sys

    assert SHELL is not None
    text = SHELL.group(1).replace("\\\n", " ")
    for line in text.splitlines():
        command = line.split("  #")[0].strip()
        if not command:
            continue
        args = shlex.split(command.replace("--users 100000", "--users 3000"))
        assert args[0] == "uoseg"
        done = subprocess.run(
            [sys.executable, "-m", "uoseg", *args[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, (command, done.stderr)


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
