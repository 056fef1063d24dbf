"""The per-path run: W1 with the attributes indexed, W2 Q1 and Q2 ids, W3, W4,
W5, W6 and range audiences under each of uoseg's CPU paths, on the same
data, in one run.

Usage::

    UOSEG_BENCH_USERS=10000000 python benches/per_path.py [--paths native,avx2,scalar]
        [--json per_path.json]

uoseg reads ``UOSEG_CPU`` once per process, so each path runs in a pytest
process of its own, on the same seeded population. The baselines (pandas,
NumPy, polars, DuckDB, pyroaring) do not depend on the path: they run once,
first, in a process of their own, so that no path's timings depend on what
the peers leave behind in a process (their heaps, their idle thread pools).
The table has one row per workload and path, with each baseline's ratio to
uoseg on that path (above 1 means uoseg is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import report

HERE = Path(__file__).resolve().parent
FILES = (
    "bench_w1_build.py",
    "bench_w2_query.py",
    "bench_w3_qcut.py",
    "bench_w4_rfm.py",
    "bench_w5_overlap.py",
    "bench_w6_split.py",
    "bench_dsl.py",
)
# pytest -k: the workloads whose targets depend on the CPU's vector
# instructions. W1 with the attributes indexed, W2's Q1 ids, every W3 and W4
# benchmark, W2's Q2 ids also through the DSL (its target is the DSL's), the
# W5 overlap (popcounts), the W6 split (hashing) with its readout, and
# range audiences' ids (bit-sliced ranges, then ids). W7's memory is the same
# bytes on every path.
# (-k also matches module names: bench_dsl.py's range test stands outside
# the `not dsl` that drops the other workloads' DSL variants.)
SELECTION = (
    "((w1_indexed or w2_q1_ids or w3_qcut or w4_rfm or w5_overlap or w6_split or w6_readout)"
    " and not dsl) or w2_q2_ids or range_ids"
)
# uoseg's tools in the benchmark JSON, and what their rows add to the workload.
UOSEG_TOOLS = {"uoseg": "", "uoseg_dsl": " (DSL)"}
PATHS = ("native", "avx2", "scalar")


def run_pytest(selection: str, cpu: str | None, out: Path) -> dict[str, Any]:
    """One pytest process over the workloads' files; its benchmark JSON.
    ``cpu`` sets ``UOSEG_CPU`` (``None``: as the caller's environment has it)."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        *(str(HERE / f) for f in FILES),
        "-k",
        selection,
        "--benchmark-enable",
        f"--benchmark-json={out}",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    env = dict(os.environ) if cpu is None else {**os.environ, "UOSEG_CPU": cpu}
    done = subprocess.run(command, env=env, cwd=HERE.parent, check=False)
    if done.returncode != 0:
        what = "baselines'" if cpu is None else f"{cpu} path's"
        raise SystemExit(f"the {what} run failed (pytest exit status {done.returncode})")
    with open(out, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def run_baselines(out: Path) -> dict[str, Any]:
    """Every baseline of the workloads, in one process without uoseg's benchmarks."""
    return run_pytest(f"({SELECTION}) and not uoseg", None, out)


def run_path(path: str, out: Path) -> dict[str, Any]:
    """uoseg's benchmarks alone, in one process with ``UOSEG_CPU=path``."""
    return run_pytest(f"({SELECTION}) and uoseg", path, out)


def medians(data: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Group -> tool -> median seconds."""
    out: dict[str, dict[str, float]] = {}
    for bench in data.get("benchmarks", []):
        if bench.get("stats"):
            group = bench.get("group") or bench["name"]
            out.setdefault(group, {})[report.tool_of(bench)] = bench["stats"]["median"]
    return out


def per_path_report(baseline_run: dict[str, Any], runs: dict[str, dict[str, Any]]) -> str:
    """The table of every path's uoseg medians against the baselines."""
    first = next(iter(runs.values()), baseline_run)
    baselines = {
        group: {tool: t for tool, t in tools.items() if tool != "uoseg"}
        for group, tools in medians(baseline_run).items()
    }
    rows: dict[str, dict[str, float | None]] = {}
    for path, data in runs.items():
        for group, tools in medians(data).items():
            for tool, suffix in UOSEG_TOOLS.items():
                if tool in tools:
                    rows[f"{group}{suffix} [{path}]"] = {
                        "uoseg": tools[tool],
                        **baselines.get(group, {}),
                    }
    seen = {tool for row in rows.values() for tool in row}
    tools = [t for t in report.TOOLS if t in seen]
    lines = []
    cpu = first.get("machine_info", {}).get("uoseg_cpu")
    if cpu:
        lines.append(report.cpu_line({k: v for k, v in cpu.items() if k != "paths"}))
    for path, data in runs.items():
        paths = data.get("machine_info", {}).get("uoseg_cpu", {}).get("paths")
        if paths:
            used = " ".join(paths["used"]) or "baseline only"
            lines.append(f"- `UOSEG_CPU={path}`: {paths['level']} ({used})")
    users = first.get("machine_info", {}).get("uoseg_bench_users")
    if users is not None:
        lines.append(f"\nPopulation: {int(users):,} users. Medians; (×) is baseline / uoseg.\n")
    lines += report.table(rows, tools, report.fmt_time, "workload [path]")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated UOSEG_CPU values")
    parser.add_argument("--json", help="also write every path's results to this file")
    args = parser.parse_args(argv)
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = sorted(set(paths) - set(PATHS))
    if not paths or unknown:
        parser.error(f"--paths takes some of {', '.join(PATHS)}; got {args.paths!r}")
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        baseline_run = run_baselines(Path(tmp) / "baselines.json")
        for path in paths:
            runs[path] = run_path(path, Path(tmp) / f"{path}.json")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"baselines": baseline_run, "paths": runs}, f)
    print(per_path_report(baseline_run, runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
