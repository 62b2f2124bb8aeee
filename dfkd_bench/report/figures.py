"""The paper's Figures 1, 2 and 4 rebuilt from our runs, plus accuracy against wall-clock time.

`draw_*` return a matplotlib Figure (so tests can inspect its panels); `write_figures` saves them as PNGs about
800 px wide. A panel with nothing to show says "no runs" instead of failing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

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
from dfkd_bench.report.tables import done_runs
from dfkd_bench.rundir import METRICS, RESULT

WIDTH_IN, DPI = 10.0, 80  # 800 px wide
MARKERS = "osD^v<>PXh*p8dH"


def _train_size(dataset: str) -> int | None:
    return DATASETS.meta(dataset).get("train_size") if dataset in DATASETS else None


def _dataset_name(dataset: str) -> str:
    return DATASET_NAMES.get(dataset, dataset)


def _datasets(runs: pd.DataFrame) -> list[str]:
    present = set(runs["dataset"])
    return [d for d in PAPER_DATASETS if d in present] + sorted(present - set(PAPER_DATASETS))


def _no_runs(ax: Axes, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "no runs", ha="center", va="center", transform=ax.transAxes, fontsize=14, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _figure(rows: int, cols: int, row_height: float = 3.6) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(WIDTH_IN, row_height * rows), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False)


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
    """Every class labelled up to 20 classes (slanted when the names are words), every n-th beyond."""
    step = max(1, math.ceil(len(names) / 20))
    slanted = step == 1 and any(len(n) > 3 for n in names)
    ticks = np.arange(len(names))[::step]
    ax.set_xticks(ticks, names[::step], rotation=40 if slanted else 0, ha="right" if slanted else "center")


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


def draw_data_scale(
    frame: pd.DataFrame, accuracy: Accuracy = "best", time: Time = "total", method: str = "ssdkd"
) -> Figure:
    """Figure 4: accuracy and training time against data scale (% of the training set), a line per pair."""
    runs = done_runs(frame)
    runs = runs[(runs["method"] == method) & (runs["scale"] != "auto")]
    datasets = _datasets(runs)
    fig, axes = _figure(max(len(datasets), 1), 2)
    if not datasets:
        _no_runs(axes[0, 0], f"{method_label(method)}: accuracy vs data scale")
        _no_runs(axes[0, 1], f"{method_label(method)}: training time vs data scale")
        return fig
    acc_col, time_col = f"{accuracy}_top1", f"{time}_s"
    for row, dataset in enumerate(datasets):
        block = runs[runs["dataset"] == dataset].assign(setting=lambda f: f["scale"].astype(int))
        size = _train_size(dataset)
        block["x"] = block["setting"] / size * 100 if size else block["setting"]
        divisor, unit = time_unit(block[time_col].max())
        ax_acc, ax_time = axes[row]
        for pair, group in block.groupby("pair", sort=False):
            stats = group.groupby("x").agg(
                acc=(acc_col, "mean"), acc_std=(acc_col, "std"), t=(time_col, "mean"), t_std=(time_col, "std")
            )
            kwargs = {"marker": "o", "capsize": 3, "label": pair_label(pair)}
            ax_acc.errorbar(stats.index, stats["acc"], yerr=stats["acc_std"].fillna(0), **kwargs)
            ax_time.errorbar(stats.index, stats["t"] / divisor, yerr=stats["t_std"].fillna(0) / divisor, **kwargs)
        xlabel = f"Data scale (% of the {size:,}-image training set)" if size else "Data scale (images)"
        name = _dataset_name(dataset)
        ax_acc.set(title=f"{name}: accuracy", xlabel=xlabel, ylabel=f"Top-1 accuracy (%), {accuracy} epoch")
        ax_time.set(title=f"{name}: training time", xlabel=xlabel, ylabel=f"Training time ({unit}), {time}")
        for ax in (ax_acc, ax_time):
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
    fig.suptitle(f"{method_label(method)} under different data scales (error bars: std over seeds)")
    return fig


# ---------------------------------------------------------------- Figure 1


def draw_per_class(frame: pd.DataFrame, methods: Sequence[str] = ("kd", "deepinv", "ssdkd")) -> Figure:
    """Figure 1: per-class top-1 of KD on real data vs synthetic-data methods at the same data scale.

    One panel per dataset × pair where at least two of the methods ran.
    """
    runs = done_runs(frame)
    runs = runs[runs["method"].isin(methods)]
    compared = runs.groupby(["dataset", "pair"])["method"].nunique()
    panels = list(compared[compared >= 2].index)  # a comparison needs two methods
    panels.sort(key=lambda k: (_datasets(runs).index(k[0]), k[1]))
    fig, axes = _figure(max(len(panels), 1), 1)
    if not panels:
        _no_runs(axes[0, 0], "Per-class accuracy: " + ", ".join(method_label(m) for m in methods))
        return fig
    for ax, (dataset, pair) in zip(axes[:, 0], panels, strict=True):
        block = runs[(runs["dataset"] == dataset) & (runs["pair"] == pair)]
        bars = []
        for method, scale in _pick_settings(block, methods, dataset).items():
            group = block[(block["method"] == method) & (block["scale"] == scale)]
            per_class = [(_recorded_result(Path(d)) or {}).get("per_class_top1") for d in group["run_dir"]]
            per_class = [p for p in per_class if p]
            if per_class:
                scale_text = f"{group['data_scale'].mean():,.0f} images"
                bars.append((f"{method_label(method)} ({scale_text}, n={len(per_class)})", np.mean(per_class, 0)))
        title = f"{_dataset_name(dataset)} ({pair_label(pair)})"
        if not bars:
            _no_runs(ax, title)
            continue
        classes = len(bars[0][1])
        width = 0.8 / len(bars)
        x = np.arange(classes)
        for i, (label, values) in enumerate(bars):
            ax.bar(x + (i - (len(bars) - 1) / 2) * width, values, width, label=label)
        _class_ticks(ax, _class_names(dataset, classes))
        low = min(float(np.min(v)) for _, v in bars)
        ax.set_ylim(max(0.0, low - 5), 100)
        ax.set(title=title, xlabel="Class", ylabel="Top-1 accuracy (%), last epoch")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Per-class accuracy: KD on real data vs synthetic data at a similar data scale")
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


def draw_kd_distributions(frame: pd.DataFrame, methods: Sequence[str] = ("deepinv", "fast10", "ssdkd")) -> Figure:
    """Figure 2: teacher-confidence (difficulty) and teacher-class (diversity) distributions of the KD samples."""
    runs = done_runs(frame)
    runs = runs[runs["method"].isin(methods)]
    datasets = _datasets(runs)
    fig, axes = _figure(max(len(datasets), 1), 2)
    if not datasets:
        _no_runs(axes[0, 0], "Difficulty distribution")
        _no_runs(axes[0, 1], "Diversity distribution")
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
                series.append((method, f"{group['data_scale'].mean():,.0f}", *hist))
        name = f"{_dataset_name(dataset)} ({pair_label(pair)})"
        titles = (f"{name}: difficulty", f"{name}: diversity")
        if not series:
            _no_runs(ax_diff, titles[0])
            _no_runs(ax_div, titles[1])
            continue
        width = 0.8 / len(series)
        for i, (method, scale, classes, confidence) in enumerate(series):
            offset = (i - (len(series) - 1) / 2) * width
            bins = len(confidence)
            share = confidence / confidence.sum() * 100
            centres = (np.arange(bins) + 0.5) / bins
            mean_conf = float((share / 100 * centres).sum())
            label = f"{method_label(method)} ({scale} img, mean {mean_conf:.2f})"
            ax_diff.bar(np.arange(bins) + offset, share, width, label=label)
            p = classes / classes.sum()
            entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum() / math.log(len(p)))
            label = f"{method_label(method)} ({scale} img, balance H={entropy:.2f})"
            if len(classes) <= 20:
                ax_div.bar(np.arange(len(classes)) + offset, p * 100, width, label=label)
            else:
                ax_div.step(np.arange(len(classes)), p * 100, where="mid", label=label)
        bins = len(series[0][3])
        ax_diff.set_xticks(np.arange(bins), [f"{i / bins:.1f}" for i in range(bins)])
        ax_diff.set(title=titles[0], xlabel="Teacher max-probability (bin start; right = easier)")
        ax_diff.set_ylabel("Share of KD samples (%)")
        classes = len(series[0][2])
        _class_ticks(ax_div, _class_names(dataset, classes))
        ax_div.axhline(100 / classes, color="0.3", linestyle="--", linewidth=1, label="uniform")
        ax_div.set(title=titles[1], xlabel="Teacher-predicted class", ylabel="Share of KD samples (%)")
        for ax in (ax_diff, ax_div):
            ax.set_ylim(0, ax.get_ylim()[1] * 1.35)  # headroom: the legend sits above the bars
            ax.grid(axis="y", alpha=0.3)
            ax.legend(fontsize="x-small", loc="upper left")
    fig.suptitle("What the student was distilled on (KD samples summed over epochs and seeds)")
    return fig


# ---------------------------------------------------------------- beyond the paper


def draw_accuracy_vs_time(frame: pd.DataFrame, accuracy: Accuracy = "best", time: Time = "total") -> Figure:
    """Accuracy against wall-clock time for every method, pair and data scale (mean over seeds; log time)."""
    runs = done_runs(frame)
    acc_col, time_col = f"{accuracy}_top1", f"{time}_s"
    runs = runs[runs[acc_col].notna() & (runs[time_col] > 0)]
    panels = [(d, p) for d in _datasets(runs) for p in dict.fromkeys(runs.loc[runs["dataset"] == d, "pair"])]
    cols = 2 if len(panels) > 1 else 1
    rows = max(1, math.ceil(len(panels) / cols))
    fig, axes = _figure(rows, cols, row_height=3.8)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    if not panels:
        axes[0, 0].set_visible(True)
        _no_runs(axes[0, 0], "Accuracy vs time")
        return fig
    methods = sorted(set(runs["method"]))
    styles = {m: (MARKERS[i % len(MARKERS)], f"C{i % 10}") for i, m in enumerate(methods)}
    for ax, (dataset, pair) in zip(axes.flat, panels, strict=False):
        block = runs[(runs["dataset"] == dataset) & (runs["pair"] == pair)]
        divisor, unit = time_unit(block[time_col].max())  # per panel: MNIST seconds next to CIFAR hours
        stats = block.groupby(["method", "scale"]).agg(
            acc=(acc_col, "mean"), acc_std=(acc_col, "std"), t=(time_col, "mean")
        )
        for (method, _), cell in stats.iterrows():
            marker, colour = styles[method]
            ax.errorbar(
                cell["t"] / divisor,
                cell["acc"],
                yerr=0 if pd.isna(cell["acc_std"]) else cell["acc_std"],
                marker=marker,
                color=colour,
                markersize=7,
                capsize=2,
                linestyle="none",
            )
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        narrow = block[time_col].max() / block[time_col].min() < 10  # under a decade: label every minor tick
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _, n=narrow: f"{v:g}" if n or f"{v:g}"[0] in "25" else ""))
        ax.set(title=f"{_dataset_name(dataset)}: {pair_label(pair)}", xlabel=f"Time ({unit}, {time}, log scale)")
        ax.set_ylabel(f"Top-1 accuracy (%), {accuracy}")
        ax.grid(alpha=0.3, which="both")
    handles = [axes[0, 0].plot([], [], marker=styles[m][0], color=styles[m][1], linestyle="none")[0] for m in methods]
    fig.legend(handles, [method_label(m) for m in methods], loc="outside lower center", ncols=min(len(methods), 6))
    fig.suptitle("Accuracy vs wall-clock time (one point per method × data scale, error bars: std over seeds)")
    return fig


# ---------------------------------------------------------------- files

FIGURES = {
    "figure1_per_class.png": lambda f, a, t: draw_per_class(f),
    "figure2_kd_distributions.png": lambda f, a, t: draw_kd_distributions(f),
    "figure4_data_scale.png": lambda f, a, t: draw_data_scale(f, a, t),
    "accuracy_vs_time.png": lambda f, a, t: draw_accuracy_vs_time(f, a, t),
}


def save_figure(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def write_figures(frame: pd.DataFrame, out_dir: Path, accuracy: Accuracy = "best", time: Time = "total") -> list[Path]:
    """Every figure as a PNG under `out_dir`; the frame's `run_dir` must point at readable run directories."""
    return [save_figure(draw(frame, accuracy, time), Path(out_dir) / name) for name, draw in FIGURES.items()]
