"""Turn a pytest-benchmark JSON file into the Markdown ratio tables for the README.

Usage::

    UOSEG_BENCH_USERS=10000000 python -m pytest benches --benchmark-enable \\
        --benchmark-json results.json
    python benches/report.py results.json

Per benchmark group: the uoseg median, then each baseline's median with the
ratio baseline / uoseg (above 1 means uoseg is faster). W7 (memory) reports
the bytes the probes recorded in ``extra_info`` instead of times.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

# Column order; tools not in the file are left out.
TOOLS = ("uoseg", "uoseg_dsl", "pandas", "polars", "duckdb", "pyroaring", "numpy")
TITLES = {
    "uoseg": "uoseg",
    "uoseg_dsl": "uoseg (DSL)",
    "pandas": "pandas",
    "polars": "polars",
    "duckdb": "DuckDB",
    "pyroaring": "pyroaring",
    "numpy": "NumPy",
}
MISSING = "—"


def tool_of(bench: dict[str, Any]) -> str:
    """The tool a benchmark measured: ``extra_info["tool"]``, else from its name."""
    tool = bench.get("extra_info", {}).get("tool")
    if tool:
        return str(tool)
    name = re.sub(r"\[.*\]$", "", bench["name"])
    for candidate in sorted(TOOLS, key=len, reverse=True):
        if name.endswith("_" + candidate):
            return candidate
    return name.rsplit("_", 1)[-1]


def natural_key(text: str) -> list[Any]:
    """Sort "W3 qcut q=5" before "W3 qcut q=100"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_bytes(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def cell(
    value: float | None, reference: float | None, fmt: Callable[[float], str], is_reference: bool
) -> str:
    if value is None:
        return MISSING
    text = fmt(value)
    if is_reference or not reference:
        return text
    return f"{text} ({value / reference:.3g}×)"


def table(
    rows: dict[str, dict[str, float | None]],
    tools: Sequence[str],
    fmt: Callable[[float], str],
    label: str,
) -> list[str]:
    head = [label, *(TITLES.get(t, t) for t in tools)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(tools)]
    for group in sorted(rows, key=natural_key):
        values = rows[group]
        reference = values.get("uoseg")
        cells = [cell(values.get(t), reference, fmt, t == "uoseg") for t in tools]
        lines.append("| " + " | ".join([group, *cells]) + " |")
    return lines


def cpu_line(cpu: dict[str, Any]) -> str:
    """ "CPU: AMD EPYC (family 23, model 49), 2 cores; avx2 bmi2 popcnt, no AVX-512"."""
    features = cpu.get("features") or []
    avx512 = any(f.startswith("avx512") for f in features)
    where = f" (family {cpu['family']}, model {cpu['model_number']})" if cpu.get("family") else ""
    paths = cpu.get("paths")
    taken = (
        f"; uoseg paths: {paths['level']} ({' '.join(paths['used']) or 'baseline only'})"
        if paths
        else ""
    )
    return (
        f"CPU: {cpu.get('model', 'unknown')}{where}, {cpu.get('cores')} cores; "
        f"{' '.join(features) or 'no SIMD features found'}"
        f"{'' if avx512 else ', no AVX-512'}{taken}"
    )


def report(data: dict[str, Any], users: int | None = None) -> str:
    benches = data.get("benchmarks", [])
    if users is None:
        users = data.get("machine_info", {}).get("uoseg_bench_users")
    if users is None:
        users = next(
            (b["extra_info"]["users"] for b in benches if "users" in b["extra_info"]), None
        )

    times: dict[str, dict[str, float | None]] = {}
    held: dict[str, dict[str, float | None]] = {}
    reported: dict[str, dict[str, float | None]] = {}
    peak: dict[str, dict[str, float | None]] = {}
    seen: set[str] = set()
    for bench in benches:
        group, tool, extra = (
            bench.get("group") or bench["name"],
            tool_of(bench),
            bench["extra_info"],
        )
        seen.add(tool)
        if "bytes" in extra:
            held.setdefault(group, {})[tool] = extra["bytes"]
            reported.setdefault(group, {})[tool] = extra.get("self_reported_bytes")
            peak.setdefault(group, {})[tool] = extra.get("peak_bytes")
        elif bench.get("stats"):
            times.setdefault(group, {})[tool] = bench["stats"]["median"]
    tools = [t for t in TOOLS if t in seen] + sorted(seen - set(TOOLS))

    out = []
    cpu = data.get("machine_info", {}).get("uoseg_cpu")
    if cpu:
        out.append(cpu_line(cpu) + "\n")
    if users is not None:
        out.append(f"Population: {int(users):,} users. Medians; (×) is baseline / uoseg.\n")
    if times:
        out += table(times, tools, fmt_time, "workload")
    if held:
        out += [
            "",
            "Memory held (resident, measured in a fresh process; (×) is baseline / uoseg):",
            "",
        ]
        out += table(held, tools, fmt_bytes, "workload")
        out += ["", "Peak resident growth while building:", ""]
        out += table(peak, tools, fmt_bytes, "workload")
        out += ["", "Memory as each tool reports it:", ""]
        out += table(reported, tools, fmt_bytes, "workload")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="file written by pytest --benchmark-json")
    parser.add_argument("--users", type=int, help="population size, if not in the file")
    args = parser.parse_args(argv)
    with open(args.json, encoding="utf-8") as f:
        data = json.load(f)
    print(report(data, args.users))
    return 0


if __name__ == "__main__":
    sys.exit(main())
