"""Pictures: every plot renders to a PNG of a sensible size that is not blank,
Chinese labels resolve to a font that has their glyphs, and the command line's
--plot writes the files."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uoseg
from uoseg.datasets import synthetic_events, synthetic_population

matplotlib = pytest.importorskip("matplotlib")
from matplotlib import image  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402


def check_png(path: Path) -> None:
    pixels = image.imread(path)
    height, width = pixels.shape[:2]
    assert width >= 300 and height >= 200, (width, height)
    rgb = pixels[..., :3]
    # Not blank: plenty of pixels differ from the white background.
    assert (rgb < 0.9).any(axis=-1).mean() > 0.02


@pytest.fixture(scope="module")
def store() -> Any:
    events = synthetic_events(3_000, seed=3, days=40)
    population = synthetic_population(3_000, seed=3, n_tags=20)
    store = uoseg.TagStore.from_long(population.tags)
    store.add_tag("高价值用户", list(range(0, 3_000, 5)), kind="result")
    store.add_events(events.log, value="amount")
    store.add_rfm(uoseg.rfm(population.transactions, as_of=population.as_of, scheme="cn8"))
    return store


def test_chinese_labels_resolve_to_a_font_with_their_glyphs() -> None:
    family, path = uoseg.plot.cjk_font()
    assert path is not None, "no CJK-capable font: Chinese labels would be boxes"
    font = FT2Font(path)
    for char in "引入期成长成熟休眠流失重要价值客户高用户":
        assert font.get_char_index(ord(char)) != 0, (family, char)


@pytest.fixture(autouse=True)
def missing_glyphs_fail() -> Any:
    """A CJK label drawn without its glyphs (boxes) makes matplotlib warn: fail on it."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font", category=UserWarning)
        yield


def test_every_plot_renders(store: Any, tmp_path: Path) -> None:
    as_of = dt.date(2025, 12, 31)
    retention = store.retention("login", "signup", [0, 1, 7], start="2025-12-10", as_of=as_of)
    retention.plot(tmp_path / "retention.png")
    population_scores = uoseg.rfm(
        uoseg.datasets.synthetic_population(2_000, seed=1).transactions,
        as_of=dt.datetime(2026, 1, 1),
        scheme="cn8",
    )
    population_scores.plot(tmp_path / "rfm.png")
    store.describe().plot(tmp_path / "describe.png")
    store.overlap_matrix(["t0", "t1", "t2", "高价值用户"]).plot(
        tmp_path / "overlap.png", jaccard=True
    )
    before = store.snapshot()
    store.apply(uoseg.playbooks.lifecycle(), as_of=as_of)
    before.apply(uoseg.playbooks.lifecycle(dormant_days=10), as_of=as_of)
    uoseg.transitions(before, store, "lifecycle").plot(tmp_path / "transitions.png")
    for name in ("retention", "rfm", "describe", "overlap", "transitions"):
        check_png(tmp_path / f"{name}.png")
    # SVG and HTML too, by extension.
    figure = retention.plot(tmp_path / "retention.svg")
    assert (tmp_path / "retention.svg").read_text().lstrip().startswith("<?xml")
    retention.plot(tmp_path / "retention.html")
    assert "<svg" in (tmp_path / "retention.html").read_text()
    assert figure.axes
    with pytest.raises(uoseg.InvalidInputError, match=r"png, \.svg or \.html"):
        retention.plot(tmp_path / "retention.pdf")


def test_jaccard_of_an_overlap_matrix(store: Any) -> None:
    names = ["t0", "t1", "高价值用户"]
    matrix = store.overlap_matrix(names)
    assert matrix.names == names and matrix.dtype == np.int64
    a, b = store.tag("t0"), store.tag("t1")
    assert matrix.jaccard()[0, 1] == pytest.approx(a.jaccard(b))


def test_the_command_line_draws(tmp_path: Path, store: Any) -> None:
    path = tmp_path / "s.uoseg"
    store.save(path)
    for args, name in [
        (["retention", str(path), "--days", "0,1,7", "--as-of", "2025-12-31"], "r.png"),
        (["describe", str(path)], "d.svg"),
        (["overlap", str(path), "t0", "t1", "高价值用户"], "o.html"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "uoseg", *args, "--plot", str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert (tmp_path / name).stat().st_size > 1_000
    check_png(tmp_path / "r.png")


def test_without_matplotlib_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(uoseg.MissingExtraError, match=r"uoseg\[plot\]"):
        uoseg.plot.cjk_font()
