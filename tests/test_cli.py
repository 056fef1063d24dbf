"""The command line through its installed entry point, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uoseg", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_demo_runs_at_its_smallest_size() -> None:
    done = run("demo", "--users", "1000")
    assert done.returncode == 0, done.stderr
    assert "1,000 users" in done.stdout and "Q1 (benchmarks W2)" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("users", ["1", "5", "10", "999", "0", "-3"])
def test_demo_refuses_sizes_below_its_minimum_in_one_line(users: str) -> None:
    done = run("demo", "--users", users)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--users must be at least 1,000" in done.stderr.strip().splitlines()[-1]


CORES = os.cpu_count() or 1


@pytest.mark.parametrize(
    ("value", "threads", "warned"),
    [
        ("100000", 4 * CORES, "more than 4 threads per core"),
        ("0", CORES, "not a positive whole number"),
        ("-1", CORES, "not a positive whole number"),
        ("abc", CORES, "not a positive whole number"),
        ("1", 1, ""),
    ],
)
def test_uoseg_num_threads_is_checked_and_capped(value: str, threads: int, warned: str) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", "import uoseg; print(uoseg.num_threads())"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "UOSEG_NUM_THREADS": value},
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == threads
    if warned:
        assert "RuntimeWarning" in done.stderr and warned in done.stderr
        assert "<string>:1" in done.stderr  # it points at the user's import
    else:
        assert done.stderr == ""
