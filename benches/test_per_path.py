"""The per-path run works end to end (tiny population, two paths)."""

from __future__ import annotations

import json
from pathlib import Path

import per_path
import pytest


def test_per_path_times_each_path_after_the_baselines_in_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UOSEG_BENCH_USERS", "20000")
    monkeypatch.setenv("UOSEG_BENCH_ROUNDS", "1")
    out = tmp_path / "run.json"
    assert per_path.main(["--paths", "native,scalar", "--json", str(out)]) == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    by_path = written["machine_info"]["uoseg_cpu"]["by_path"]
    assert {p: by_path[p]["level"] for p in by_path} == {"native": "native", "scalar": "scalar"}
    assert by_path["scalar"]["used"] == []
    benches = written["benchmarks"]
    tools: dict[str | None, set[str]] = {}
    for bench in benches:
        tools.setdefault(per_path.path_of(bench), set()).add(per_path.report.tool_of(bench))
    assert set(tools) == {None, "native", "scalar"}
    assert tools["native"] == tools["scalar"] == {"uoseg", "uoseg_dsl"}, "uoseg once a path"
    assert "pandas" in tools[None] and "uoseg" not in tools[None], "the baselines run once"
    # uoseg runs once a path for each workload, beside its baselines.
    order = [(b["group"], per_path.path_of(b)) for b in benches]
    w4 = [path for group, path in order if group == "W4 RFM"]
    assert w4[-2:] == ["native", "scalar"] and set(w4[:-2]) == {None}
    table = capsys.readouterr().out
    for path in ("native", "scalar"):
        for workload in (
            "W1 build, city, age and last_active_days indexed",
            "W2 Q1 ids",
            "W2 Q2 ids",
            "W2 Q2 ids (DSL)",
            "W3 qcut q=5",
            "W4 RFM",
            "W5 overlap",
            "W6 split",
            "W6 readout of the three arms",
            "range audience ids: age BETWEEN 25 AND 35",
        ):
            assert f"{workload} [{path}]" in table


def test_per_path_refuses_an_unknown_path() -> None:
    with pytest.raises(SystemExit):
        per_path.main(["--paths", "avx9000"])
