"""The per-path run works end to end (tiny population, two paths)."""

from __future__ import annotations

import json
from pathlib import Path

import per_path
import pytest


def test_per_path_times_each_path_and_the_baselines_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UOSEG_BENCH_USERS", "20000")
    monkeypatch.setenv("UOSEG_BENCH_ROUNDS", "1")
    out = tmp_path / "runs.json"
    assert per_path.main(["--paths", "native,scalar", "--json", str(out)]) == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    runs = written["paths"]
    assert list(runs) == ["native", "scalar"]
    assert runs["scalar"]["machine_info"]["uoseg_cpu"]["paths"]["level"] == "scalar"
    tools = {p: {per_path.report.tool_of(b) for b in runs[p]["benchmarks"]} for p in runs}
    assert set(tools) == {"native", "scalar"}
    assert all(t == {"uoseg", "uoseg_dsl"} for t in tools.values()), "each path times uoseg alone"
    baselines = {per_path.report.tool_of(b) for b in written["baselines"]["benchmarks"]}
    assert "pandas" in baselines and "uoseg" not in baselines, "the baselines run once, apart"
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
