"""Pictures of results: a retention heatmap, RFM segment sizes with their mean
monetary, tag sizes by kind, overlap and transition heatmaps.

Plotting is the optional extra ``uoseg[plot]`` (matplotlib, and mplfonts for
a CJK font); without it these functions raise :class:`uoseg.MissingExtraError`
saying what to install. Labels in Chinese render with a CJK-capable font:
one the system already has (Noto Sans CJK, Source Han Sans, WenQuanYi,
SimHei, Microsoft YaHei, PingFang) or else Noto Sans CJK SC as shipped by
mplfonts (SIL Open Font License). Each function returns the matplotlib
figure and, given a path, saves it as PNG, SVG or HTML (an SVG in a page)
by the path's extension, atomically.
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InvalidInputError, MissingExtraError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "cjk_font",
    "describe_sizes",
    "overlap_heatmap",
    "retention_heatmap",
    "rfm_segments",
    "save",
    "transitions_heatmap",
]

# Families with CJK glyphs, best first, that a system may already have.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "SimHei",
)
SHIPPED_FONT = "NotoSansCJKsc-Regular.otf"


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError(
            "plotting needs matplotlib: install the plot extra, pip install 'uoseg[plot]'"
        ) from None
    matplotlib.use("Agg", force=False)
    return matplotlib


def cjk_font() -> tuple[str, str | None]:
    """The CJK-capable font family plots use, and its file (``None`` when no
    CJK font is found: Chinese labels would then show as boxes)."""
    _matplotlib()
    from matplotlib import font_manager

    by_family = {font.name: font.fname for font in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in by_family:
            return family, by_family[family]
    try:
        from importlib.resources import files

        shipped = Path(str(files("mplfonts") / "fonts" / SHIPPED_FONT))
    except (ImportError, ModuleNotFoundError):
        return "DejaVu Sans", None
    if not shipped.is_file():
        return "DejaVu Sans", None
    font_manager.fontManager.addfont(str(shipped))
    family = font_manager.FontProperties(fname=str(shipped)).get_name()
    return family, str(shipped)


def _figure(width: float, height: float) -> tuple[Figure, Any]:
    _matplotlib()
    from matplotlib.figure import Figure

    family, _ = cjk_font()
    _use_font(family)
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained", facecolor="white")
    return figure, figure.add_subplot()


def _use_font(family: str) -> None:
    """A Latin font first and the CJK one for the glyphs it lacks: matplotlib
    falls back glyph by glyph along an explicit ``font.family`` list. (This
    sets matplotlib's defaults for the process, as plotting Chinese needs.)"""
    import matplotlib

    matplotlib.rcParams["font.family"] = ["DejaVu Sans", family]
    matplotlib.rcParams["axes.unicode_minus"] = False


def save(figure: Figure, path: str | os.PathLike[str]) -> None:
    """Save as PNG, SVG or HTML by extension, atomically (a temporary file
    renamed over ``path``)."""
    target = Path(path)
    kind = target.suffix.lower()
    if kind not in (".png", ".svg", ".html", ".htm"):
        raise InvalidInputError(f"{target}: a plot is saved as .png, .svg or .html")
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        if kind == ".png":
            figure.savefig(temporary, format="png", dpi=120)
        elif kind == ".svg":
            figure.savefig(temporary, format="svg")
        else:
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg")
            title = html.escape(figure.get_suptitle() or "uoseg")
            temporary.write_text(
                f"<!doctype html><meta charset='utf-8'><title>{title}</title>\n{buffer.getvalue()}",
                encoding="utf-8",
            )
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()


def _heatmap(
    axes: Any,
    values: np.ndarray,
    rows: Sequence[str],
    columns: Sequence[str],
    *,
    fmt: str,
    colorbar_label: str,
) -> None:
    masked = np.ma.masked_invalid(values.astype(float))
    image = axes.imshow(masked, aspect="auto", cmap="YlGnBu")
    axes.set_xticks(range(len(columns)), labels=list(columns), rotation=45, ha="right")
    axes.set_yticks(range(len(rows)), labels=list(rows))
    if values.size <= 400:
        top = np.nanmax(values) if np.isfinite(values).any() else 0
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                if np.isfinite(values[i, j]):
                    dark = top and values[i, j] > 0.6 * top
                    axes.text(
                        j,
                        i,
                        format(values[i, j], fmt),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if dark else "black",
                    )
    axes.figure.colorbar(image, ax=axes, label=colorbar_label)


def retention_heatmap(table: Any, path: str | os.PathLike[str] | None = None) -> Figure:
    """A cohort × offset heatmap of retention rates (null cells left blank)."""
    rates = table.rates() if hasattr(table, "rates") else table
    data = rates.table
    offsets = [c for c in data.column_names if c not in ("cohort", "size")]
    values = np.array(
        [[np.nan if v is None else v for v in data.column(c).to_pylist()] for c in offsets],
        dtype=float,
    ).T.reshape(data.num_rows, len(offsets))
    cohorts = [
        f"{c} ({n:,})"
        for c, n in zip(
            data.column("cohort").to_pylist(), data.column("size").to_pylist(), strict=True
        )
    ]
    figure, axes = _figure(max(6, 0.45 * len(offsets) + 3), max(3, 0.28 * len(cohorts) + 1.5))
    _heatmap(axes, values, cohorts, offsets, fmt=".0%", colorbar_label="retained")
    axes.set_xlabel(f"{getattr(table, 'unit', 'day')}s after the cohort's")
    axes.set_title(
        f"{getattr(table, 'event', '')} retention by {getattr(table, 'cohort', '')} cohort"
    )
    if path is not None:
        save(figure, path)
    return figure


def rfm_segments(result: Any, path: str | os.PathLike[str] | None = None) -> Figure:
    """Customers per RFM segment (bars) and their mean monetary (dots)."""
    import pyarrow.compute as pc

    data = result.table
    grouped = data.group_by("segment").aggregate([("monetary", "count"), ("monetary", "mean")])
    order = np.argsort(-np.asarray(grouped.column("monetary_count")))
    names = [str(grouped.column("segment")[int(i)]) for i in order]
    counts = np.asarray(grouped.column("monetary_count"))[order]
    means = np.asarray(pc.cast(grouped.column("monetary_mean"), "float64"))[order]
    figure, axes = _figure(max(6, 0.7 * len(names) + 2), 4.5)
    axes.bar(range(len(names)), counts, color="#4C78A8")
    axes.set_xticks(range(len(names)), labels=names, rotation=30, ha="right")
    axes.set_ylabel("customers")
    right = axes.twinx()
    right.plot(range(len(names)), means, "o", color="#F58518")
    right.set_ylabel("mean monetary")
    axes.set_title(f"RFM segments of {data.num_rows:,} customers")
    if path is not None:
        save(figure, path)
    return figure


def describe_sizes(
    description: Any, path: str | os.PathLike[str] | None = None, top: int = 40
) -> Figure:
    """Users per tag and attribute, largest first, coloured by catalog kind."""
    rows = [r for r in description.table.to_pylist() if r["users"] is not None]
    rows.sort(key=lambda r: -r["users"])
    rows = rows[:top]
    colours = {
        "basic": "#4C78A8",
        "behaviour": "#F58518",
        "result": "#54A24B",
        "predicted": "#B279A2",
    }
    figure, axes = _figure(7, max(3, 0.25 * len(rows) + 1))
    axes.barh(
        range(len(rows)),
        [r["users"] for r in rows],
        color=[colours.get(r.get("catalog") or "", "#9D9D9D") for r in rows],
    )
    axes.set_yticks(range(len(rows)), labels=[r["name"] for r in rows])
    axes.invert_yaxis()
    axes.set_xlabel("users")
    axes.set_title("tags and attributes by size (colour: catalog kind)")
    if path is not None:
        save(figure, path)
    return figure


def overlap_heatmap(
    matrix: Any,
    names: Sequence[str],
    path: str | os.PathLike[str] | None = None,
    *,
    jaccard: bool = False,
) -> Figure:
    """A heatmap of pairwise overlaps (or Jaccard indexes) of tags."""
    counts = np.asarray(matrix, dtype=float)
    if jaccard:
        sizes = np.diag(counts)
        union = sizes[:, None] + sizes[None, :] - counts
        counts = np.divide(counts, union, out=np.zeros_like(counts), where=union > 0)
    figure, axes = _figure(max(5, 0.35 * len(names) + 2), max(4, 0.35 * len(names) + 1))
    _heatmap(
        axes,
        counts,
        list(names),
        list(names),
        fmt=".2f" if jaccard else ",.0f",
        colorbar_label="Jaccard index" if jaccard else "users in both",
    )
    axes.set_title("tag overlap" + (" (Jaccard)" if jaccard else ""))
    if path is not None:
        save(figure, path)
    return figure


def transitions_heatmap(table: Any, path: str | os.PathLike[str] | None = None) -> Figure:
    """A transition matrix as a heatmap of row shares, counts written in the cells."""
    shares = table.shares().table
    counts = table.table
    columns = [c for c in counts.column_names if c != "from"]
    values = np.array(
        [[v if v is not None else np.nan for v in shares.column(c).to_pylist()] for c in columns],
        dtype=float,
    ).T.reshape(counts.num_rows, len(columns))
    rows = [str(r) for r in counts.column("from").to_pylist()]
    figure, axes = _figure(max(6, 0.8 * len(columns) + 3), max(4, 0.5 * len(rows) + 1.5))
    _heatmap(axes, values, rows, columns, fmt=".0%", colorbar_label="share of the row")
    axes.set_xlabel("new")
    axes.set_ylabel("old")
    axes.set_title(f"{getattr(table, 'attribute', '')}: old → new")
    if path is not None:
        save(figure, path)
    return figure
