"""The report's figures: one style per method in every figure, error bars only where n > 1, honest axes, legends off
the data, and a 300 dpi PNG plus a PDF for each figure. Synthetic run folders, as in test_paper_report.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from PIL import Image

from dfkd_bench.config import all_cards
from dfkd_bench.report import style as style_module
from dfkd_bench.report.figures import (
    FIGURES,
    draw_accuracy_vs_time,
    draw_data_scale,
    draw_kd_distributions,
    draw_per_class,
    save_figure,
    write_figures,
)
from dfkd_bench.report.paper_tables import method_label
from dfkd_bench.report.style import DPI, FIXED, WIDTH_IN, Style, method_styles
from dfkd_bench.summary import SUMMARY_COLUMNS

PAIR = "lenet5_bn-lenet5_half_bn"


def _run(root: Path, method: str, scale: int | None, seed: int, best: float, seconds: float, data_scale: int) -> dict:
    """One MNIST summary row; its folder holds result.json (per-class top-1) and metrics.jsonl (KD histograms)."""
    run = root / "mnist" / PAIR / method / f"scale-{scale or 'auto'}" / f"seed-{seed}"
    run.mkdir(parents=True)
    per_class = [min(100.0, best - 4 + i + seed) for i in range(10)]
    (run / "result.json").write_text(json.dumps({"status": "done", "per_class_top1": per_class}))
    epoch = {"epoch": 0, "kd_class_hist": [10 + c % 3 for c in range(10)], "kd_confidence_hist": [0, 1, 2, 3, 9]}
    (run / "metrics.jsonl").write_text(json.dumps(epoch) + "\n")
    return {
        "dataset": "mnist", "pair": PAIR, "method": method, "data_scale_setting": scale, "seed": seed,
        "status": "done", "metric": "top1", "best_top1": best, "last_top1": best - 0.2, "data_scale": data_scale,
        "teacher_top1": 98.8, "synthesis_s": seconds * 0.6, "sample_s": seconds * 0.05, "kd_s": seconds * 0.3,
        "eval_s": seconds * 0.05, "total_s": seconds, "epochs_done": 1, "device": "cpu", "config_hash": "x",
        "run_dir": str(run),
    }  # fmt: skip


@pytest.fixture
def frame(tmp_path: Path) -> pd.DataFrame:
    """SSD-KD at three data scales with three seeds; KD (6,000 images) with three; DeepInv, Fast10, DFAD with one."""
    root = tmp_path / "runs"
    rows = [
        _run(root, "ssdkd", scale, seed, 85 + scale / 200 + seed, 15 + scale / 300 + 0.5 * seed, scale)
        for scale in (150, 600, 1200)
        for seed in range(3)
    ]
    rows += [_run(root, "kd", 6000, seed, 97 + 0.3 * seed, 8 + seed, 6000) for seed in range(3)]
    rows += [
        _run(root, "deepinv", None, 0, 86.0, 16.0, 1024),
        _run(root, "fast10", None, 0, 96.0, 30.0, 56320),
        _run(root, "dfad", None, 0, 50.0, 15.0, 56320),
    ]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _figures(frame: pd.DataFrame) -> dict[str, Figure]:
    return {name: draw(frame, "best", "total") for name, draw in FIGURES.items()}


def _looks(fig: Figure) -> dict[str, set[tuple[str, str | None]]]:
    """Method (the artist's gid) -> the (colour, marker) of every artist standing for it; marker None for bars and
    lines without markers. Inset axes and legend handles included."""
    found: dict[str, set[tuple[str, str | None]]] = {}
    for artist in fig.findobj(lambda a: a.get_gid() is not None):
        if isinstance(artist, Rectangle):
            look = (to_hex(artist.get_facecolor()), None)
        elif isinstance(artist, Line2D):
            marker = artist.get_marker()
            look = (to_hex(artist.get_color()), None if marker in ("None", "", None) else str(marker))
        else:
            continue
        found.setdefault(artist.get_gid(), set()).add(look)
    return found


def test_a_method_has_one_colour_and_one_marker_in_every_figure(frame: pd.DataFrame):
    styles = method_styles(frame["method"])
    seen: dict[str, set[tuple[str, str | None]]] = {}
    for fig in _figures(frame).values():
        for method, looks in _looks(fig).items():
            seen.setdefault(method, set()).update(looks)
    assert {"ssdkd", "kd", "deepinv", "fast10", "dfad"} <= set(seen)
    for method, looks in seen.items():
        expected = styles[method]
        assert {colour for colour, _ in looks} == {to_hex(expected.colour)}, method
        assert {marker for _, marker in looks} - {None} == {expected.marker}, method
    assert seen["ssdkd"] >= {(to_hex("#d62728"), "o"), (to_hex("#d62728"), None)}  # points and bars alike
    # the scatter's legend names every method with that same style
    legend = draw_accuracy_vs_time(frame).legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert "SSD-KD" in labels and "KD (real data)" in labels and len(labels) == 5
    named = {method_label(m): m for m in styles}
    for text, handle in zip(labels, legend.legend_handles, strict=True):
        expected = styles[named[text]]
        assert (to_hex(handle.get_color()), handle.get_marker()) == (to_hex(expected.colour), expected.marker)


def test_no_two_methods_share_a_style_and_a_new_card_gets_its_own(monkeypatch: pytest.MonkeyPatch):
    cards = set(all_cards())
    assert cards <= set(FIXED), "a shipped card without a fixed style: give it one in style.FIXED"
    styles = method_styles(["zz_unknown", "aa_unknown"])
    assert len(set(styles.values())) == len(styles)
    assert len({s.colour for s in FIXED.values()}) == len(FIXED)  # the shipped cards differ in colour alone
    assert styles["ssdkd"] == Style("#d62728", "o")
    assert method_styles(["aa_unknown", "zz_unknown"]) == styles  # deterministic, order of the names irrelevant
    # a card added later (no edit of style.py): a style no other method has, the shipped ones unchanged
    monkeypatch.setattr(style_module, "_card_names", lambda: cards | {"noise_kd"})
    grown = method_styles()
    assert grown["noise_kd"] not in {s for name, s in grown.items() if name != "noise_kd"}
    assert grown["noise_kd"].colour not in {s.colour for s in FIXED.values()}
    assert all(grown[name] == FIXED[name] for name in FIXED)
    many = method_styles([f"extra_{i:03d}" for i in range(100)])
    assert len(set(many.values())) == len(many)


def _errorbars(fig: Figure) -> dict[str, list[bool]]:
    """Method -> for each of its points or bar groups, whether it has a vertical error bar."""
    found: dict[str, list[bool]] = {}
    for ax in fig.axes + [child for panel in fig.axes for child in panel.child_axes]:
        for container in ax.containers:
            if isinstance(container, ErrorbarContainer) and container.lines[0] is not None:  # not a bar's bars
                found.setdefault(container.lines[0].get_gid(), []).append(container.has_yerr)
            elif isinstance(container, BarContainer):
                found.setdefault(container.patches[0].get_gid(), []).append(container.errorbar is not None)
    return found


def test_error_bars_where_n_is_above_one_and_none_where_it_is_one(frame: pd.DataFrame):
    per_class = draw_per_class(frame)
    bars = _errorbars(per_class)
    assert bars["ssdkd"] == [True] and bars["kd"] == [True] and bars["deepinv"] == [False]
    assert "n=3" in per_class.axes[0].get_legend().get_texts()[0].get_text()
    scatter = draw_accuracy_vs_time(frame)
    points = _errorbars(scatter)
    assert set(points["ssdkd"]) == {True} and set(points["kd"]) == {True}
    assert points["deepinv"] == [False] and points["dfad"] == [False] and points["fast10"] == [False]
    assert "error bars: std over seeds where n > 1" in scatter.get_suptitle()
    assert "open markers: n = 1" in scatter.get_suptitle()
    single = next(c for c in scatter.axes[0].containers if c.lines[0].get_gid() == "dfad")
    assert single.lines[0].get_markerfacecolor() == "white"

    three = draw_data_scale(frame)
    assert all(_errorbars(three)["ssdkd"]) and "n = 3 seeds per point, error bars: std" in three.get_suptitle()
    one_seed = frame[frame["seed"] == 0]
    for fig in (draw_data_scale(one_seed), draw_accuracy_vs_time(one_seed), draw_per_class(one_seed)):
        assert not any(flag for flags in _errorbars(fig).values() for flag in flags)
        assert "no error bars" in fig.get_suptitle() and "std" not in fig.get_suptitle()


def test_axes_are_honest(frame: pd.DataFrame):
    per_class = draw_per_class(frame).axes[0]
    assert per_class.get_ylim()[0] == 0 and max(per_class.get_yticks()) == 100
    fig4 = draw_data_scale(frame)
    accuracy, time = fig4.axes[:2]
    assert time.get_ylim()[0] == 0
    low, high = accuracy.get_ylim()
    assert high - low >= 10 and (low == 0 or f"axis from {low:g} %, not 0" in accuracy.get_ylabel())
    # one data scale, one seed: no degenerate axis around the single point
    lone = frame[(frame["method"] == "ssdkd") & (frame["data_scale_setting"] == 600) & (frame["seed"] == 0)]
    lone = draw_data_scale(lone)
    accuracy, time = lone.axes[:2]
    assert accuracy.get_xlim()[0] == 0 and accuracy.get_xlim()[1] >= 2 * 1.0  # 600 of 60,000 images = 1 %
    assert np.diff(accuracy.get_ylim())[0] >= 10 and time.get_ylim()[0] == 0
    scatter = draw_accuracy_vs_time(frame[frame["method"] == "fast10"]).axes[0]
    left, right = scatter.get_xlim()
    assert right / left > 2.99  # a single time still gets a readable log axis


def test_figure1_names_each_data_scale(frame: pd.DataFrame):
    title = draw_per_class(frame).get_suptitle()
    assert "similar" not in title
    # SSD-KD at the setting whose data scale is closest to KD's 6,000 images
    assert "Different data scales: KD (real data) 6,000, DeepInv 1,024, SSD-KD 1,200 images" in title


def _rendered(fig: Figure) -> RendererAgg:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def test_labels_sit_off_the_data(frame: pd.DataFrame):
    scatter = draw_accuracy_vs_time(frame)
    renderer = _rendered(scatter)
    panels = [ax for ax in scatter.axes if ax.get_visible()]
    assert all(not ax.texts for ax in panels)  # no annotation among the points
    legend_box = scatter.legends[0].get_window_extent(renderer)
    assert not any(legend_box.overlaps(ax.get_window_extent(renderer)) for ax in panels)
    per_class = draw_per_class(frame)
    renderer = _rendered(per_class)
    ax = per_class.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    tallest = max(p.get_window_extent().y1 for p in ax.patches)
    assert legend.y0 >= tallest - 1  # the legend band is above the 100 % line the bars stop at


def test_each_figure_is_a_300_dpi_png_and_a_pdf(frame: pd.DataFrame, tmp_path: Path):
    pngs = write_figures(frame, tmp_path / "figs")
    assert [p.name for p in pngs] == list(FIGURES)
    sizes = {name: draw(frame, "best", "total").get_size_inches() for name, draw in FIGURES.items()}
    for png in pngs:
        width, height = sizes[png.name]
        assert width == WIDTH_IN
        with Image.open(png) as image:
            assert image.size == (round(width * DPI), round(height * DPI))
            assert round(image.info["dpi"][0]) == DPI
        pdf = png.with_suffix(".pdf")
        assert pdf.read_bytes()[:5] == b"%PDF-"
        assert b"/CreationDate" not in pdf.read_bytes()  # the same runs give the same bytes
    assert save_figure(draw_kd_distributions(frame), tmp_path / "one" / "fig.png") == [
        tmp_path / "one" / "fig.png",
        tmp_path / "one" / "fig.pdf",
    ]
