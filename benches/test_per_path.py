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
    runs = json.loads(out.read_text(encoding="utf-8"))
    assert list(runs) == ["native", "scalar"]
    assert runs["scalar"]["machine_info"]["uoseg_cpu"]["paths"]["level"] == "scalar"
    tools = {p: {per_path.report.tool_of(b) for b in runs[p]["benchmarks"]} for p in runs}
    assert {"uoseg", "pandas"} <= tools["native"]
    assert tools["scalar"] == {"uoseg"}, "baselines run once, with the first path"
    table = capsys.readouterr().out
    for path in ("native", "scalar"):
        for workload in (
            "W1 build, city, age and last_active_days indexed",
            "W2 Q1 ids",
            "W2 Q2 ids",
            "W3 qcut q=5",
            "W4 RFM",
        ):
            assert f"{workload} [{path}]" in table


def test_per_path_refuses_an_unknown_path() -> None:
    with pytest.raises(SystemExit):
        per_path.main(["--paths", "avx9000"])
