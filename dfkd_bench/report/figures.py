"""The paper's Figures 1, 2 and 4 rebuilt from our runs, plus accuracy against wall-clock time.

`draw_*` return a matplotlib Figure (so tests can inspect its panels), 7 in wide (both columns of a paper), drawn
under `style.rc`. A method has the colour and marker `style.method_styles` gives it in every figure, and every artist
that stands for a method (bar, point, line, legend handle) carries the method's name as its gid. Points and bars are
means over seeds; an error bar is the standard deviation over seeds (ddof=1), drawn only where n > 1, and each
figure's title says how many seeds its points have (an open marker: a single seed). Bars and times start at 0; an
accuracy axis that does not says so in its label; legends sit beside or above the data, never on it.
`write_figures` saves each figure as a 300 dpi PNG and a PDF. A panel with nothing to show says "no runs".
"""

from __future__ import annotations

import functools
import json
import math
import textwrap
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

from dfkd_bench.data import DATASETS
from dfkd_bench.durations import time_unit
from dfkd_bench.files import read_json
from dfkd_bench.report.paper_tables import (
    DATASET_NAMES,
    PAPER_DATASETS,
    Accuracy,
    Time,
    method_label,
    pair_label,
)
from dfkd_bench.report.style import DPI, FORMATS, WIDTH_IN, Style, method_styles, rc
from dfkd_bench.report.tables import done_runs
from dfkd_bench.rundir import METRICS, RESULT

LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))  # Figure 4: one per pair
MIN_ACCURACY_SPAN = 10.0  # percentage points: an accuracy axis never zooms in further than this

P = ParamSpec("P")
R = TypeVar("R")


def _styled(draw: Callable[P, R]) -> Callable[P, R]:
    """Draw under the figures' rc settings (sizes, fonts)."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with rc():
            return draw(*args, **kwargs)

    return wrapper


def _styles(frame: pd.DataFrame) -> dict[str, Style]:
    """Styles for every method of the whole frame, so that a method looks the same in each figure drawn from it."""
    return method_styles(frame["method"].dropna().astype(str) if "method" in frame else ())


def _train_size(dataset: str) -> int | None:
    return DATASETS.meta(dataset).get("train_size") if dataset in DATASETS else None


def _dataset_name(dataset: str) -> str:
    return DATASET_NAMES.get(dataset, dataset)


def _datasets(runs: pd.DataFrame) -> list[str]:
    present = set(runs["dataset"])
    return [d for d in PAPER_DATASETS if d in present] + sorted(present - set(PAPER_DATASETS))


def _no_runs(ax: Axes, title: str, why: str = "") -> None:
    """An empty panel that says "no runs" and, under it, what it would need."""
    ax.set_title(title)
    ax.text(0.5, 0.5, "no runs", ha="center", va="center", transform=ax.transAxes, fontsize=11, color="0.4")
    if why:
        text = ax.text(0.5, 0.4, textwrap.fill(why, 45), ha="center", va="top", transform=ax.transAxes, color="0.4")
        text.set_in_layout(False)  # inside the panel: the layout need not make room for it
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("0.8")


def _figure(rows: int, cols: int, row_height: float = 2.3, extra: float = 0.5) -> tuple[Figure, np.ndarray]:
    """A 7 in wide figure: `row_height` inches per row of panels plus `extra` for the title and legends."""
    fig = Figure(figsize=(WIDTH_IN, row_height * rows + extra), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False)


def _suptitle(fig: Figure, *lines: str) -> None:
    """The figure's title, a line each, wrapped to its width (about 95 characters of 9 pt text on 7 in)."""
    width = round(95 * fig.get_figwidth() / WIDTH_IN)
    fig.suptitle("\n".join(textwrap.fill(line, width=width, break_long_words=False) for line in lines if line))


def _seeds_note(counts: Iterable[int], open_markers: bool = True) -> str:
    """What a figure's points and error bars are, from the seed counts of its points."""
    ns = sorted({int(n) for n in counts})
    if not ns:
        return ""
    if ns == [1]:
        return "n = 1 seed per point, no error bars"
    span = f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}-{ns[-1]}"
    if ns[0] > 1:
        return f"mean of {span} seeds per point, error bars: std over seeds"
    single = ", open markers: n = 1" if open_markers else ""
    return f"mean of {span} seeds per point, error bars: std over seeds where n > 1{single}"


def _spread(std: object, n: int) -> float:
    """The error bar of a mean over `n` seeds: its std, NaN (no bar) for a single seed."""
    return float(std) if n > 1 and not pd.isna(std) else float("nan")


def _accuracy_axis(ax: Axes, low: float, high: float, label: str) -> None:
    """A top-1 (%) axis for values (whiskers included) from `low` to `high`: from 0 when they come near it, else
    zoomed to no less than MIN_ACCURACY_SPAN points, the label then saying where it starts."""
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = 0.0, 100.0
    pad = max(1.0, 0.08 * (high - low))
    top = high + pad if high > 100 else min(100.0, 5 * math.ceil((high + pad) / 5))
    bottom = 5 * math.floor(min(low - pad, top - MIN_ACCURACY_SPAN) / 5)
    if bottom <= 0.3 * top:  # most of the axis would show anyway: show all of it
        bottom = 0
    ticks = MaxNLocator(nbins=6, steps=[1, 2, 5, 10]).tick_values(bottom, top)
    ax.set_yticks([t for t in ticks if bottom <= t <= top])
    ax.set_ylim(bottom, top + 0.03 * (top - bottom))  # a margin for the markers at the top, outside the axis
    ax.spines["left"].set_bounds(bottom, top)
    ax.set_ylabel(label if bottom == 0 else f"{label}\n(axis from {bottom:g} %, not 0)")


def _legend_above_data(ax: Axes, entries: int, ncols: int, top: float | None = None) -> None:
    """A legend in a band above the data, never on it: the y axis, its ticks and grid stop at `top` (default: the
    first tick above the data), the band above them holds the legend's rows."""
    ticks = MaxNLocator(nbins=5).tick_values(0, top if top is not None else ax.dataLim.y1)
    top = top if top is not None else float(ticks[-1])
    rows = math.ceil(entries / ncols)
    ax.set_ylim(0, top * (1.04 + 0.11 * rows))
    ax.spines["left"].set_bounds(0, top)
    ax.set_yticks([t for t in ticks if 0 <= t <= top])
    ax.legend(loc="upper center", ncols=ncols, frameon=False, borderaxespad=0.2, columnspacing=1.2)


def _whiskers(means: Iterable[float], stds: Iterable[float]) -> tuple[float, float]:
    """The lowest and highest end of the points with their error bars (NaN bars: the point)."""
    pairs = [(m, 0.0 if pd.isna(s) else s) for m, s in zip(means, stds, strict=True) if not pd.isna(m)]
    if not pairs:
        return float("nan"), float("nan")
    return min(m - s for m, s in pairs), max(m + s for m, s in pairs)


def _error_point(
    ax: Axes, method: str, x: float, y: float, yerr: float, style: Style, n: int, xerr: float | None = None
) -> None:
    """One mean: the method's marker, filled for n > 1 seeds (with its error bar), open for a single seed. The point
    carries the method's name as its gid, as every artist that stands for a method does (tests read it)."""
    container = ax.errorbar(
        x,
        y,
        yerr=None if math.isnan(yerr) else yerr,
        xerr=xerr if n > 1 and xerr else None,
        marker=style.marker,
        color=style.colour,
        markerfacecolor=style.colour if n > 1 else "white",
        markeredgecolor=style.colour,
        markeredgewidth=1.1,
        elinewidth=0.8,
        linestyle="none",
        zorder=3,
    )
    container.lines[0].set_gid(method)


def _class_names(dataset: str, count: int) -> list[str]:
    try:
        from dfkd_bench.data.datasets import DATASETS

        names = list(DATASETS.get(dataset).spec.class_names)
    except Exception:  # an unregistered dataset still gets a figure, with class indices
        names = []
    return names if len(names) == count else [str(i) for i in range(count)]


def _pick_settings(runs: pd.DataFrame, methods: Sequence[str], dataset: str) -> dict[str, str]:
    """One data-scale setting per method, the same for all where possible (the paper compares at equal scale).

    The setting most methods share wins (ties: 10 % of the training set, then the largest, 'auto' last); a method
    without it takes its setting whose recorded data scale is closest.
    """
    have = {m: runs[runs["method"] == m] for m in methods if (runs["method"] == m).any()}
    if not have:
        return {}
    size = _train_size(dataset)
    ten = str(size // 10) if size else None
    counts: dict[str, int] = {}
    for group in have.values():
        for scale in set(group["scale"]):
            counts[scale] = counts.get(scale, 0) + 1
    common = max(counts, key=lambda s: (counts[s], s == ten, s != "auto", int(s) if s != "auto" else 0))
    target = pd.concat(have.values()).loc[lambda f: f["scale"] == common, "data_scale"].mean()
    chosen = {}
    for method, group in have.items():
        if common in set(group["scale"]):
            chosen[method] = common
        elif pd.isna(target):
            chosen[method] = group["scale"].iloc[0]
        else:
            recorded = group.groupby("scale")["data_scale"].mean()
            chosen[method] = str((recorded - target).abs().idxmin())
    return chosen


def _class_ticks(ax: Axes, names: list[str]) -> None:
    """Every class labelled up to 20 classes, every n-th beyond (slanted when the names are words); the axis ends
    half a class beyond the first and last."""
    step = max(1, math.ceil(len(names) / 20))
    slanted = any(len(n) > 3 for n in names[::step])
    ticks = np.arange(len(names))[::step]
    ax.set_xticks(ticks, names[::step], rotation=40 if slanted else 0, ha="right" if slanted else "center")
    if slanted:
        for label in ax.get_xticklabels():  # the end of a slanted name under its tick, not left of it
            label.set_rotation_mode("anchor")
    ax.set_xlim(-0.6, len(names) - 0.4)


def _recorded_result(run: Path) -> dict | None:
    """A run's result.json as written (the rows plotted come from the summary, which `report` has checked); a
    missing or unreadable one contributes nothing to a figure."""
    try:
        return read_json(run / RESULT)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _read_metrics(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


# ---------------------------------------------------------------- Figure 4


def _log_scales(xs: Sequence[float]) -> bool:
    """Whether data scales spread over a decade or more (1, 5, 10, 20, 100 %): a log axis reads them better."""
    xs = sorted(set(xs))
    return len(xs) >= 3 and xs[-1] / xs[0] >= 8


def _scale_axis(ax: Axes, xs: Sequence[float], log: bool) -> None:
    """The data-scale axis: on a log axis, a tick at each setting run; on a linear one, from 0 (a single setting in
    the middle, not on a degenerate axis around it)."""
    xs = sorted(set(xs))
    if log:
        ax.set_xscale("log")
        ax.set_xlim(xs[0] / 1.6, xs[-1] * 1.6)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
    else:
        ax.set_xlim(0, xs[-1] * (2 if len(xs) == 1 else 1.05))


@_styled
def draw_data_scale(
    frame: pd.DataFrame, accuracy: Accuracy = "best", time: Time = "total", method: str = "ssdkd"
) -> Figure:
    """Figure 4: accuracy and training time against data scale (% of the training set), a line per pair.

    Every line is the method's colour and marker; the pairs differ by line style (the legend under the panels)."""
    style = _styles(frame)[method]
    runs = done_runs(frame)
    runs = runs[(runs["method"] == method) & (runs["scale"] != "auto")]
    datasets = _datasets(runs)
    pairs = list(dict.fromkeys(runs["pair"]))
    fig, axes = _figure(max(len(datasets), 1), 2, extra=0.5 + 0.18 * math.ceil(len(pairs) / 3))
    if not datasets:
        why = f"(finished {method_label(method)} runs with a data-scale setting)"
        _no_runs(axes[0, 0], f"{method_label(method)}: accuracy vs data scale", why)
        _no_runs(axes[0, 1], f"{method_label(method)}: training time vs data scale", why)
        return fig
    acc_col, time_col = f"{accuracy}_top1", f"{time}_s"
    dashes = {pair: LINESTYLES[i % len(LINESTYLES)] for i, pair in enumerate(pairs)}
    counts: list[int] = []
    for row, dataset in enumerate(datasets):
        block = runs[runs["dataset"] == dataset].assign(setting=lambda f: f["scale"].astype(int))
        size = _train_size(dataset)
        block["x"] = block["setting"] / size * 100 if size else block["setting"]
        divisor, unit = time_unit(block[time_col].max())
        ax_acc, ax_time = axes[row]
        acc_range, time_top = [], 0.0
        for pair, group in block.groupby("pair", sort=False):
            stats = group.groupby("x").agg(
                acc=(acc_col, "mean"), acc_std=(acc_col, "std"), t=(time_col, "mean"), t_std=(time_col, "std"),
                n=(acc_col, "size"),
            )  # fmt: skip
            counts += list(stats["n"])
            acc_err = [_spread(s, n) for s, n in zip(stats["acc_std"], stats["n"], strict=True)]
            t_err = [_spread(s, n) / divisor for s, n in zip(stats["t_std"], stats["n"], strict=True)]
            acc_range += _whiskers(stats["acc"], acc_err)
            time_top = max(time_top, _whiskers(stats["t"] / divisor, t_err)[1])
            for ax, y, err in ((ax_acc, stats["acc"], acc_err), (ax_time, stats["t"] / divisor, t_err)):
                line = ax.errorbar(
                    stats.index, y, yerr=None if all(map(math.isnan, err)) else err,
                    color=style.colour, marker=style.marker, linestyle=dashes[pair], elinewidth=0.8,
                    label=pair_label(pair),
                )  # fmt: skip
                line.lines[0].set_gid(method)
                single = stats["n"] == 1
                if single.any():  # a single seed: an open marker, no bar
                    ax.plot(
                        stats.index[single], y[single], linestyle="none", marker=style.marker, color=style.colour,
                        markerfacecolor="white", markeredgewidth=1.1, gid=method,
                    )  # fmt: skip
        xlabel = f"Data scale (% of the {size:,}-image training set)" if size else "Data scale (images)"
        name = _dataset_name(dataset)
        ax_acc.set(title=f"{name}: accuracy", xlabel=xlabel)
        _accuracy_axis(ax_acc, min(acc_range), max(acc_range), f"Top-1 accuracy (%), {accuracy} epoch")
        ax_time.set(title=f"{name}: training time", xlabel=xlabel, ylabel=f"Training time ({unit}), {time}")
        ax_time.set_ylim(0, time_top * 1.1 if time_top > 0 else 1)
        log = _log_scales(list(block["x"]))  # accuracy: log when the settings span a decade; time: linear, as
        _scale_axis(ax_acc, list(block["x"]), log)  # the paper's claim is that time grows linearly with scale
        _scale_axis(ax_time, list(block["x"]), False)
        if log:
            ax_acc.set_xlabel(f"{xlabel}, log scale")
        for ax in (ax_acc, ax_time):
            ax.grid(alpha=0.3)
    handles = [
        Line2D([], [], color=style.colour, marker=style.marker, linestyle=dashes[pair], gid=method) for pair in pairs
    ]
    labels = [pair_label(p) for p in pairs]
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(pairs), 3), handlelength=3.5)
    _suptitle(fig, f"{method_label(method)} under different data scales ({_seeds_note(counts)})")
    return fig


# ---------------------------------------------------------------- Figure 1


def _scales_text(scales: dict[str, float]) -> str:
    """'All at the same data scale: 5,000 images' or 'Different data scales: KD (real data) 6,000, ... images'."""
    values = {round(v) for v in scales.values()}
    if len(values) == 1:
        return f"All at the same data scale: {values.pop():,} images"
    listed = ", ".join(f"{method_label(m)} {v:,.0f}" for m, v in scales.items())
    return f"Different data scales: {listed} images"


@_styled
def draw_per_class(frame: pd.DataFrame, methods: Sequence[str] = ("kd", "deepinv", "ssdkd")) -> Figure:
    """Figure 1: per-class top-1 of KD on real data vs synthetic-data methods, each at the data scale it ran.

    One panel per dataset × pair where at least two of the methods ran. The axis runs from 0 to 100 %.
    """
    styles = _styles(frame)
    runs = done_runs(frame)
    runs = runs[runs["method"].isin(methods)]
    compared = runs.groupby(["dataset", "pair"])["method"].nunique()
    panels = list(compared[compared >= 2].index)  # a comparison needs two methods
    panels.sort(key=lambda k: (_datasets(runs).index(k[0]), k[1]))
    fig, axes = _figure(max(len(panels), 1), 1, row_height=2.2, extra=0.6)
    if not panels:
        _no_runs(
            axes[0, 0],
            "Per-class accuracy: " + ", ".join(method_label(m) for m in methods),
            "(needs two of these methods finished on the same dataset and pair)",
        )
        return fig
    scales_seen, counts = [], []
    for ax, (dataset, pair) in zip(axes[:, 0], panels, strict=True):
        block = runs[(runs["dataset"] == dataset) & (runs["pair"] == pair)]
        bars, scales = [], {}
        for method, scale in _pick_settings(block, methods, dataset).items():
            group = block[(block["method"] == method) & (block["scale"] == scale)]
            per_class = [(_recorded_result(Path(d)) or {}).get("per_class_top1") for d in group["run_dir"]]
            per_class = np.asarray([p for p in per_class if p], float)
            if len(per_class):
                n = len(per_class)
                scales[method] = float(group["data_scale"].mean())
                label = f"{method_label(method)} ({scales[method]:,.0f} images, n={n})"
                std = per_class.std(0, ddof=1) if n > 1 else None
                bars.append((method, label, per_class.mean(0), std))
                counts.append(n)
        title = f"{_dataset_name(dataset)} ({pair_label(pair)})"
        if not bars:
            _no_runs(ax, title, "(no per-class accuracy in the runs' result.json: run folders not found?)")
            continue
        scales_seen.append(scales)
        classes = len(bars[0][2])
        x = np.arange(classes)
        width = 0.8 / len(bars)
        for i, (method, label, values, std) in enumerate(bars):
            colour = styles[method].colour
            if classes <= 20:
                ax.bar(
                    x + (i - (len(bars) - 1) / 2) * width, values, width, yerr=std, label=label, color=colour,
                    error_kw={"elinewidth": 0.7, "capsize": 1.5, "ecolor": "0.15"}, gid=method,
                )  # fmt: skip
            else:  # too many classes for bars: a line per method over the classes, a band of ±1 std
                marker = styles[method].marker
                ax.plot(x, values, color=colour, marker=marker, markersize=2.5, lw=0.8, label=label, gid=method)
                if std is not None:
                    ax.fill_between(x, values - std, values + std, color=colour, alpha=0.2, linewidth=0)
        _class_ticks(ax, _class_names(dataset, classes))
        ax.set(title=title, xlabel="Class", ylabel="Top-1 accuracy (%), last epoch")
        ax.grid(axis="y", alpha=0.3)
        _legend_above_data(ax, len(bars), ncols=min(len(bars), 3), top=100.0)  # the axis itself from 0 to 100 %
    how = _scales_text(scales_seen[0]) if len(scales_seen) == 1 else "Each method at the data scale in its legend"
    note = _seeds_note(counts, open_markers=False).replace("per point", "per method")
    _suptitle(fig, "Per-class accuracy of KD on real data vs synthetic data", how, f"({note})")
    return fig


# ---------------------------------------------------------------- Figure 2


def _histograms(run_dirs: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Class and confidence counts of the KD samples, summed over every epoch of every run."""
    classes, confidence = None, None
    for run in run_dirs:
        for record in _read_metrics(Path(run) / METRICS):
            if record.get("kd_class_hist") is None or record.get("kd_confidence_hist") is None:
                continue
            c, h = np.asarray(record["kd_class_hist"], float), np.asarray(record["kd_confidence_hist"], float)
            classes = c if classes is None else classes + c
            confidence = h if confidence is None else confidence + h
    if classes is None or classes.sum() == 0:
        return None
    return classes, confidence


@_styled
def draw_kd_distributions(frame: pd.DataFrame, methods: Sequence[str] = ("deepinv", "fast10", "ssdkd")) -> Figure:
    """Figure 2: teacher-confidence (difficulty) and teacher-class (diversity) distributions of the KD samples."""
    styles = _styles(frame)
    runs = done_runs(frame)
    runs = runs[runs["method"].isin(methods)]
    datasets = _datasets(runs)
    fig, axes = _figure(max(len(datasets), 1), 2, row_height=2.5)
    if not datasets:
        why = "(needs finished runs of " + ", ".join(method_label(m) for m in methods) + ")"
        _no_runs(axes[0, 0], "Difficulty distribution", why)
        _no_runs(axes[0, 1], "Diversity distribution", why)
        return fig
    for (ax_diff, ax_div), dataset in zip(axes, datasets, strict=True):
        block = runs[runs["dataset"] == dataset]
        # one pair per dataset, as in the paper: the one most of the methods ran on
        pair = block.groupby("pair", sort=False)["method"].nunique().idxmax()
        block = block[block["pair"] == pair]
        series = []
        for method, scale in _pick_settings(block, methods, dataset).items():
            group = block[(block["method"] == method) & (block["scale"] == scale)]
            hist = _histograms(list(group["run_dir"]))
            if hist is not None:
                series.append((method, f"{group['data_scale'].mean():,.0f} img, n={len(group)}", *hist))
        name = f"{_dataset_name(dataset)} ({pair_label(pair)})"
        titles = (f"{name}: difficulty", f"{name}: diversity")
        if not series:
            why = "(no KD-sample histograms in the runs' metrics.jsonl: run folders not found?)"
            _no_runs(ax_diff, titles[0], why)
            _no_runs(ax_div, titles[1], why)
            continue
        width = 0.8 / len(series)
        for i, (method, scale, classes, confidence) in enumerate(series):
            offset = (i - (len(series) - 1) / 2) * width
            colour = styles[method].colour
            bins = len(confidence)
            share = confidence / confidence.sum() * 100
            centres = (np.arange(bins) + 0.5) / bins
            mean_conf = float((share / 100 * centres).sum())
            label = f"{method_label(method)} ({scale}; mean {mean_conf:.2f})"
            ax_diff.bar(np.arange(bins) + offset, share, width, label=label, color=colour, gid=method)
            p = classes / classes.sum()
            entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum() / math.log(len(p)))
            label = f"{method_label(method)} ({scale}; balance H={entropy:.2f})"
            if len(classes) <= 20:
                ax_div.bar(np.arange(len(classes)) + offset, p * 100, width, label=label, color=colour, gid=method)
            else:
                ax_div.step(np.arange(len(classes)), p * 100, where="mid", label=label, color=colour, gid=method)
        bins = len(series[0][3])
        ax_diff.set_xticks(np.arange(bins), [f"{i / bins:.1f}" for i in range(bins)])
        ax_diff.set(title=titles[0], xlabel="Teacher max-probability (bin start; right = easier)")
        ax_diff.set_ylabel("Share of KD samples (%)")
        classes = len(series[0][2])
        _class_ticks(ax_div, _class_names(dataset, classes))
        ax_div.axhline(100 / classes, color="0.3", linestyle="--", linewidth=0.8, label="uniform")
        ax_div.set(title=titles[1], xlabel="Teacher-predicted class", ylabel="Share of KD samples (%)")
        for ax, entries in ((ax_diff, len(series)), (ax_div, len(series) + 1)):  # diversity: + "uniform"
            ax.grid(axis="y", alpha=0.3)
            _legend_above_data(ax, entries, ncols=1)
    _suptitle(
        fig, "What the student was distilled on", "(KD samples summed over epochs and seeds; n = runs per method)"
    )
    return fig


# ---------------------------------------------------------------- beyond the paper


def _time_axis(ax: Axes, times: Sequence[float], unit: str, time: str) -> None:
    """A log time axis labelled in plain numbers, a margin each side of the points and at least a factor 3 wide (a
    single time is not a degenerate axis)."""
    low, high = min(times) / 1.35, max(times) * 1.35
    if high / low < 3:
        middle = math.sqrt(low * high)
        low, high = middle / math.sqrt(3), middle * math.sqrt(3)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ratio = high / low  # under a factor 5: every minor tick labelled; under 20: 2, 3, 5; else 2 and 5
    labelled = "123456789" if ratio < 5 else "235" if ratio < 20 else "25"
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}".lstrip("0.")[:1] in labelled else ""))
    ax.set_xlabel(f"Time ({unit}, {time}, log scale)")


CROWD, CROWD_BOX = 5, 0.08  # a zoomed inset when 5 points lie within 8 % of a panel's width and height of one
INSET_W, INSET_H = 0.34, 0.42  # the inset's size, in fractions of its panel
ZOOM_LABEL = "zoom"  # an inset's Axes label (insets are child axes of their panel, not in Figure.axes)


def _plot_cells(ax: Axes, stats: pd.DataFrame, styles: dict[str, Style]) -> None:
    """One point per method × data scale (indexed by method, scale; columns t, acc, acc_err, t_std, n, data_scale);
    a method's data scales joined by a thin line in scale order."""
    for method, cells in stats.groupby(level="method"):
        style = styles[method]
        if len(cells) > 1:
            ordered = cells.sort_values("data_scale")
            ax.plot(ordered["t"], ordered["acc"], color=style.colour, linewidth=0.6, alpha=0.6, zorder=1, gid=method)
        for _, cell in cells.iterrows():
            t_std = 0.0 if pd.isna(cell["t_std"]) else min(cell["t_std"], 0.95 * cell["t"])  # > 0 on a log axis
            _error_point(ax, method, cell["t"], cell["acc"], cell["acc_err"], style, int(cell["n"]), xerr=t_std)


def _free_corner(xy: np.ndarray, box: tuple[float, float, float, float]) -> tuple[float, float] | None:
    """Where an inset fits in its panel (axes fractions) without covering a point or the zoomed box: the lower
    right, lower left, upper right or upper left, with room for the inset's tick labels."""
    for x0, y0 in ((0.63, 0.1), (0.12, 0.1), (0.63, 0.5), (0.12, 0.5)):
        left, bottom, right, top = x0 - 0.08, y0 - 0.1, x0 + INSET_W + 0.02, y0 + INSET_H + 0.02
        inside = (xy[:, 0] > left) & (xy[:, 0] < right) & (xy[:, 1] > bottom) & (xy[:, 1] < top)
        apart = box[2] < left or box[0] > right or box[3] < bottom or box[1] > top
        if not inside.any() and apart:
            return x0, y0
    return None


def _zoom_crowd(ax: Axes, stats: pd.DataFrame, styles: dict[str, Style]) -> None:
    """An inset that magnifies the most crowded group of a panel's points (CROWD or more within CROWD_BOX of one of
    them), placed where it covers no point; none when no group is that crowded or no corner is free."""
    to_axes = ax.transScale + ax.transLimits
    xy = to_axes.transform(np.c_[stats["t"], stats["acc"]])
    near = (np.abs(xy[:, None, 0] - xy[None, :, 0]) < CROWD_BOX) & (np.abs(xy[:, None, 1] - xy[None, :, 1]) < CROWD_BOX)
    centre = int(near.sum(1).argmax())
    if near[centre].sum() < CROWD:
        return
    group = stats[near[centre]]
    t_low, t_high = group["t"].min() / 1.05, group["t"].max() * 1.05
    pad = max(0.5, 0.15 * (group["acc"].max() - group["acc"].min()))
    acc_low, acc_high = group["acc"].min() - pad, group["acc"].max() + pad
    (bx0, by0), (bx1, by1) = to_axes.transform([(t_low, acc_low), (t_high, acc_high)])
    corner = _free_corner(xy, (bx0, by0, bx1, by1))
    if corner is None:
        return
    inset = ax.inset_axes([*corner, INSET_W, INSET_H])
    inset.set_label(ZOOM_LABEL)
    _plot_cells(inset, stats, styles)
    inset.set_xscale("log")
    inset.set_xlim(t_low, t_high)
    inset.set_ylim(acc_low, acc_high)
    inset.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    inset.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    inset.tick_params(which="both", labelsize=6, pad=1.5)
    for spine in inset.spines.values():
        spine.set_visible(True)
    inset.grid(alpha=0.3, which="both")
    ax.indicate_inset_zoom(inset, edgecolor="0.45", alpha=0.8)


@_styled
def draw_accuracy_vs_time(frame: pd.DataFrame, accuracy: Accuracy = "best", time: Time = "total") -> Figure:
    """Accuracy against wall-clock time for every method, pair and data scale (mean over seeds; log time).

    A method's data scales are joined by a thin line in scale order; the methods are named in a legend below the
    panels, never on top of the points."""
    styles = _styles(frame)
    runs = done_runs(frame)
    acc_col, time_col = f"{accuracy}_top1", f"{time}_s"
    runs = runs[runs[acc_col].notna() & (runs[time_col] > 0)]
    panels = [(d, p) for d in _datasets(runs) for p in dict.fromkeys(runs.loc[runs["dataset"] == d, "pair"])]
    cols = 2 if len(panels) > 2 else 1  # up to two panels: each the full width, to spread the points
    rows = max(1, math.ceil(len(panels) / cols))
    methods = sorted(set(runs["method"]), key=lambda m: method_label(m).lower())
    legend_rows = math.ceil(len(methods) / 5)
    fig, axes = _figure(rows, cols, row_height=2.4 if cols == 1 else 2.6, extra=0.45 + 0.16 * legend_rows)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    if not panels:
        axes[0, 0].set_visible(True)
        _no_runs(axes[0, 0], "Accuracy vs time")
        return fig
    counts: list[int] = []
    for ax, (dataset, pair) in zip(axes.flat, panels, strict=False):
        block = runs[(runs["dataset"] == dataset) & (runs["pair"] == pair)]
        divisor, unit = time_unit(block[time_col].max())  # per panel: MNIST seconds next to CIFAR hours
        stats = block.groupby(["method", "scale"]).agg(
            acc=(acc_col, "mean"), acc_std=(acc_col, "std"), t=(time_col, "mean"), t_std=(time_col, "std"),
            n=(acc_col, "size"), data_scale=("data_scale", "mean"),
        )  # fmt: skip
        stats["t"] /= divisor
        stats["t_std"] /= divisor
        stats["acc_err"] = [_spread(s, n) for s, n in zip(stats["acc_std"], stats["n"], strict=True)]
        counts += list(stats["n"])
        _plot_cells(ax, stats, styles)
        ax.set_title(f"{_dataset_name(dataset)}: {pair_label(pair)}")
        _time_axis(ax, list(stats["t"]), unit, time)
        _accuracy_axis(ax, *_whiskers(stats["acc"], stats["acc_err"]), f"Top-1 accuracy (%), {accuracy}")
        ax.grid(alpha=0.3, which="major")
        ax.grid(alpha=0.12, which="minor", axis="x")
        _zoom_crowd(ax, stats, styles)
    handles = [
        Line2D([], [], marker=styles[m].marker, color=styles[m].colour, linestyle="none", markersize=5, gid=m)
        for m in methods
    ]
    fig.legend(handles, [method_label(m) for m in methods], loc="outside lower center", ncols=min(len(methods), 5))
    note = _seeds_note(counts)
    _suptitle(fig, "Accuracy vs wall-clock time, one point per method × data scale", f"({note})")
    return fig


# ---------------------------------------------------------------- files

FIGURES = {
    "figure1_per_class.png": lambda f, a, t: draw_per_class(f),
    "figure2_kd_distributions.png": lambda f, a, t: draw_kd_distributions(f),
    "figure4_data_scale.png": lambda f, a, t: draw_data_scale(f, a, t),
    "accuracy_vs_time.png": lambda f, a, t: draw_accuracy_vs_time(f, a, t),
}


def save_figure(fig: Figure, path: Path) -> list[Path]:
    """The figure as `path` with each suffix of FORMATS (a 300 dpi PNG, a vector PDF); returns [png, pdf].

    No creation date in the PDF, so the same runs give the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    with rc():
        for fmt in FORMATS:
            target = path.with_suffix(f".{fmt}")
            metadata = {"CreationDate": None} if fmt == "pdf" else None
            fig.savefig(target, format=fmt, dpi=DPI, metadata=metadata)
            written.append(target)
    return written


def write_figures(frame: pd.DataFrame, out_dir: Path, accuracy: Accuracy = "best", time: Time = "total") -> list[Path]:
    """Every figure under `out_dir` as a PNG and a PDF of the same name; returns the PNGs (what report.md links).
    The frame's `run_dir` must point at readable run directories."""
    return [save_figure(draw(frame, accuracy, time), Path(out_dir) / name)[0] for name, draw in FIGURES.items()]
