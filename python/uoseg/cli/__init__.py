"""The ``uoseg`` command line.

``uoseg --help`` lists the verbs; each has ``--help`` with an example.
The group and the shared options are in :mod:`uoseg.cli.app`, file formats
in :mod:`uoseg.cli.files`, the verbs in :mod:`uoseg.cli.store_verbs`,
:mod:`uoseg.cli.practice_verbs`, :mod:`uoseg.cli.delivery_verbs` and
:mod:`uoseg.cli.demo`.

Exit codes: 0 ok, 1 a uoseg error (message on stderr, no traceback), 2 a
usage error, 130 interrupted (Ctrl-C; a store being written keeps its old
file, since saves are atomic).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ..errors import UosegError
from . import delivery_verbs, demo, practice_verbs, store_verbs  # noqa: F401  (they register the verbs)
from .app import app, err

__all__ = ["app", "main"]


def _examples() -> str:
    """One example per verb, taken from its help text, for ``uoseg --help``."""
    lines = []
    for name in sorted(app.commands):
        doc = app.commands[name].help or ""
        example = next((ln.strip() for ln in doc.splitlines() if "Example:" in ln), "")
        if example:
            lines.append("  " + example.removeprefix("Example:").strip())
    # "\b" keeps click from rewrapping the lines.
    return "\b\nExamples:\n" + "\n".join(lines)


app.epilog = _examples()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        app.main(
            args=list(argv) if argv is not None else None, prog_name="uoseg", standalone_mode=False
        )
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.ClickException as problem:
        problem.show()
        return problem.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        err.print("uoseg: interrupted")
        return 130
    except UosegError as problem:
        print(f"uoseg: {problem}", file=sys.stderr)
        return 1
    except OSError as problem:
        # A file the verb could not read or write (named in the message).
        print(f"uoseg: {problem}", file=sys.stderr)
        return 1
    return 0
