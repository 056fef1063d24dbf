"""The per-path run: W1 with the attributes indexed, W2 Q1 and Q2 ids, W3, W4,
W5, W6 and range audiences under each of uoseg's CPU paths, on the same
data, in one run.

Usage::

    UOSEG_BENCH_USERS=10000000 python benches/per_path.py [--paths native,avx2,scalar]
        [--json per_path.json]

One pytest process generates the seeded population once and times, workload
by workload, the baselines (pandas, NumPy, polars, DuckDB, pyroaring) and
then uoseg under each path (``--uoseg-paths``: the conftest switches the
path with ``uoseg.set_cpu_paths`` around each of uoseg's benchmarks). Every
ratio thus compares timings taken minutes apart: on the virtual machines
these figures come from, the same W4 call drifted from about 0.5 to 0.9 s
within twenty minutes, and a run of one process per path spreads each
workload's timings over half an hour. The table has one row per workload and
path, with each baseline's ratio to uoseg on that path (above 1 means uoseg
is faster).
"""

from __future__ import annotations

import argparse
import json
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


def run_pytest(paths: Sequence[str], out: Path) -> dict[str, Any]:
    """The one pytest process over the workloads' files; its benchmark JSON."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        *(str(HERE / f) for f in FILES),
        "-k",
        SELECTION,
        f"--uoseg-paths={','.join(paths)}",
        "--benchmark-enable",
        # Light workloads too run untimed first, as many rounds as they
        # time: the first path after the baselines ran slow otherwise.
        "--benchmark-warmup=on",
        f"--benchmark-json={out}",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    done = subprocess.run(command, cwd=HERE.parent, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the per-path run failed (pytest exit status {done.returncode})")
    with open(out, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def path_of(bench: dict[str, Any]) -> str | None:
    """The CPU path a uoseg benchmark ran under; ``None`` for the baselines."""
    path = (bench.get("params") or {}).get("cpu_path")
    return None if path is None else str(path)


def medians(data: dict[str, Any]) -> dict[tuple[str, str | None], dict[str, float]]:
    """(group, path) -> tool -> median seconds; the baselines' path is ``None``."""
    out: dict[tuple[str, str | None], dict[str, float]] = {}
    for bench in data.get("benchmarks", []):
        if bench.get("stats"):
            group = bench.get("group") or bench["name"]
            key = (group, path_of(bench))
            out.setdefault(key, {})[report.tool_of(bench)] = bench["stats"]["median"]
    return out


def per_path_report(data: dict[str, Any], paths: Sequence[str]) -> str:
    """The table of every path's uoseg medians against the baselines."""
    timings = medians(data)
    rows: dict[str, dict[str, float | None]] = {}
    for path in paths:
        for (group, at), tools in timings.items():
            if at != path:
                continue
            for tool, suffix in UOSEG_TOOLS.items():
                if tool in tools:
                    rows[f"{group}{suffix} [{path}]"] = {
                        "uoseg": tools[tool],
                        **timings.get((group, None), {}),
                    }
    seen = {tool for row in rows.values() for tool in row}
    tools = [t for t in report.TOOLS if t in seen]
    lines = []
    cpu = data.get("machine_info", {}).get("uoseg_cpu")
    if cpu:
        lines.append(
            report.cpu_line({k: v for k, v in cpu.items() if k not in ("paths", "by_path")})
        )
        for path, used in (cpu.get("by_path") or {}).items():
            names = " ".join(used["used"]) or "baseline only"
            lines.append(f"- `{path}` path: {used['level']} ({names})")
    users = data.get("machine_info", {}).get("uoseg_bench_users")
    if users is not None:
        lines.append(f"\nPopulation: {int(users):,} users. Medians; (×) is baseline / uoseg.\n")
    lines += report.table(rows, tools, report.fmt_time, "workload [path]")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated CPU paths")
    parser.add_argument("--json", help="also write the run's benchmark JSON to this file")
    args = parser.parse_args(argv)
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = sorted(set(paths) - set(PATHS))
    if not paths or unknown:
        parser.error(f"--paths takes some of {', '.join(PATHS)}; got {args.paths!r}")
    with tempfile.TemporaryDirectory() as tmp:
        data = run_pytest(paths, Path(tmp) / "per_path.json")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(data, f)
    print(per_path_report(data, paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
