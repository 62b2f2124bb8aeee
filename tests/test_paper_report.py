"""The paper's tables and figures from a small fixture grid: snapshot, seed statistics, Δ, figures, partial grids."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dfkd_bench.report.build import write_report
from dfkd_bench.report.figures import (
    draw_accuracy_vs_time,
    draw_data_scale,
    draw_kd_distributions,
    draw_per_class,
    write_figures,
)
from dfkd_bench.report.paper_tables import table_cells
from dfkd_bench.report.render import render_latex, render_markdown
from dfkd_bench.summary import SUMMARY_COLUMNS

SNAPSHOT = Path(__file__).parent / "snapshots" / "table1_fixture.md"
R34, W161 = "resnet34-resnet18", "wrn40_2-wrn16_1"
HOUR = 3600.0


def _run(
    root: Path,
    dataset: str,
    pair: str,
    method: str,
    scale: int | None,
    seed: int,
    best: float,
    hours: float,
    status: str = "done",
    data_scale: int | None = None,
) -> dict:
    """One summary row; its run directory holds result.json (per-class accuracy) and metrics.jsonl (histograms)."""
    run = root / dataset / pair / method / f"scale-{scale or 'auto'}" / f"seed-{seed}"
    run.mkdir(parents=True)
    classes = 10
    per_class = [best - 5 + i for i in range(classes)]
    (run / "result.json").write_text(json.dumps({"status": status, "per_class_top1": per_class}))
    skew = 3 if method == "ssdkd" else 9  # ssdkd's samples are spread more evenly over classes and difficulty
    epochs = [
        {
            "epoch": e,
            "kd_class_hist": [10 + skew * (c % 3) for c in range(classes)],
            "kd_confidence_hist": [0, 0, 1, 2, 4, 6, 8, 10, 10 + skew, 10 + 4 * skew],
        }
        for e in range(2)
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in epochs))
    total = hours * HOUR
    return {
        "dataset": dataset, "pair": pair, "method": method, "data_scale_setting": scale, "seed": seed,
        "status": status, "best_top1": best, "last_top1": best - 0.5,
        "data_scale": data_scale or scale or 56320, "teacher_top1": 95.70, "synthesis_s": total * 0.6,
        "sample_s": total * 0.05, "kd_s": total * 0.3, "eval_s": total * 0.05, "total_s": total, "epochs_done": 2,
        "device": "test", "config_hash": "x", "run_dir": str(run),
    }  # fmt: skip


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    """A partial CIFAR-10 grid (plus a tiny MNIST one) written as <runs>/summary.csv."""
    runs = tmp_path / "runs"
    rows = [
        _run(runs, "cifar10", R34, "ssdkd", 5000, seed, best, hours)
        for seed, (best, hours) in enumerate([(92.5, 1.0), (93.0, 1.1), (93.5, 1.2)])
    ]
    rows += [
        _run(runs, "cifar10", R34, "fast2", None, 0, 92.0, 4.4),
        _run(runs, "cifar10", R34, "fast2", None, 1, 0.0, 0.1, status="failed"),
        _run(runs, "cifar10", R34, "teacher", None, 0, 95.5, 2.0, data_scale=50000),
        _run(runs, "cifar10", W161, "ssdkd", 5000, 0, 87.0, 0.7),
        _run(runs, "cifar10", R34, "kd", 5000, 0, 80.0, 0.5),
        _run(runs, "cifar10", R34, "deepinv", None, 0, 90.0, 20.0, data_scale=51200),
        _run(runs, "cifar10", R34, "fast10", None, 0, 93.9, 4.8),
        _run(runs, "mnist", "lenet5-lenet5_half", "ssdkd", 600, 0, 91.0, 0.005),
        _run(runs, "mnist", "lenet5-lenet5_half", "fast2", 600, 0, 90.0, 0.004),
    ]
    rows += [
        _run(runs, "cifar10", pair, "ssdkd", scale, seed, 80.0 + scale / 500 + seed, scale / 5000 + 0.1 * seed)
        for pair in (R34, W161)
        for scale in (500, 2500)
        for seed in (0, 1)
    ]
    pd.DataFrame(rows, columns=SUMMARY_COLUMNS).to_csv(runs / "summary.csv", index=False)
    return runs


def _frame(runs: Path) -> pd.DataFrame:
    return pd.read_csv(runs / "summary.csv")


def test_table1_matches_snapshot(grid: Path):
    text = render_markdown(table_cells(_frame(grid), "table1"), "table1")
    assert text == SNAPSHOT.read_text()


def test_three_seed_cell_uses_ddof1_and_delta_is_ours_minus_paper(grid: Path):
    cells = table_cells(_frame(grid), "table1").set_index(["dataset", "method", "pair"])
    cell = cells.loc[("cifar10", "ssdkd", R34)]
    assert cell["n"] == 3 and cell["scale"] == "5000"
    assert cell["acc_mean"] == pytest.approx(93.0)
    assert cell["acc_std"] == pytest.approx(0.5)  # ddof=0 would give 0.408
    assert cell["hours"] == pytest.approx(1.1)
    assert cell["paper_acc"] == 92.92 and cell["paper_hours"] == 1.11
    assert cell["delta"] == pytest.approx(93.0 - 92.92)
    fast2 = cells.loc[("cifar10", "fast2", R34)]
    assert fast2["n"] == 1  # the failed seed does not count
    assert fast2["delta"] == pytest.approx(92.0 - 92.62)
    assert fast2["speedup"] == pytest.approx(4.4 / 1.1)
    assert fast2["paper_speedup"] == pytest.approx(3.92 / 1.11)
    text = render_markdown(cells.reset_index(), "table1")
    assert "93.00 ± 0.50 (1.10 h) n=3<br>paper 92.92 (1.11 h) · Δ +0.08" in text


def test_partial_grid_marks_missing_cells(grid: Path):
    cells = table_cells(_frame(grid), "table2")
    cifar = cells[cells["dataset"] == "cifar10"]
    assert len(cifar) == 14 * 5  # every method (NAYER's four rows included) × every paper pair, run or not
    missing = cifar[(cifar["method"] == "cmi") & (cifar["pair"] == "vgg11-resnet18")].iloc[0]
    assert missing["n"] == 0 and pd.isna(missing["acc_mean"]) and missing["paper_acc"] == 91.13
    text = render_markdown(cells, "table2")
    assert "| CMI | —¹<br>paper 94.84 (15.49 h) |" in text  # ¹: not run in this grid
    assert "### MNIST" in text and "lenet5 → lenet5_half" in text
    mnist = cells[cells["dataset"] == "mnist"]
    assert set(mnist["pair"]) == {"lenet5-lenet5_half"} and mnist["paper_acc"].isna().all()
    assert "\\toprule" in render_latex(cells, "table2")
    # a table none of whose methods ran renders a note, not an error
    # Table 4 needs an ablation row (SSD-KD alone is not an ablation); without one it says so, no error
    assert "no finished runs" in render_markdown(table_cells(_frame(grid), "table4"), "table4")
    ablation = _frame(grid).assign(method=lambda f: f["method"].replace({"fast2": "ssdkd_ps"}))
    text = render_markdown(table_cells(ablation, "table4"), "table4")
    assert "| [✓](#dev-ssdkd_ps) | ✓ |  |  | 92.00 (4.40 h) n=1<br>paper 90.28 (1.01 h) · Δ +1.72 |" in text


def test_last_epoch_and_synthesis_time_compare_with_the_readme(grid: Path):
    cells = table_cells(_frame(grid), "table1", accuracy="last", time="synthesis").set_index(["method", "pair"])
    fast2 = cells.loc[("fast2", R34)]
    assert fast2["acc_mean"] == pytest.approx(91.5)
    assert fast2["hours"] == pytest.approx(4.4 * 0.6)
    assert fast2["paper_hours"] == 0.06  # the README's synthesis hours, not the paper's total
    assert pd.isna(cells.loc[("ssdkd", R34), "paper_hours"])  # SSD-KD published no synthesis time
    none = table_cells(_frame(grid), "table1", compare="none")
    assert none["paper_acc"].isna().all()


def test_figures_have_the_expected_panels(grid: Path):
    frame = _frame(grid)
    fig4 = draw_data_scale(frame)
    titles = [ax.get_title() for ax in fig4.axes]
    assert titles == ["CIFAR-10: accuracy", "CIFAR-10: training time", "MNIST: accuracy", "MNIST: training time"]
    cifar_acc = fig4.axes[0]
    assert len(fig4.legends[0].get_texts()) == 3  # one line style per pair (CIFAR-10's two, MNIST's one)
    assert "% of the 50,000-image" in cifar_acc.get_xlabel()

    fig1 = draw_per_class(frame)
    assert [ax.get_title() for ax in fig1.axes] == ["CIFAR-10 (ResNet-34 → ResNet-18)"]
    legend = [t.get_text() for t in fig1.axes[0].get_legend().get_texts()]
    assert legend[0].startswith("KD (real data) (5,000 images") and legend[2].startswith("SSD-KD (5,000 images, n=3")
    assert len(fig1.axes[0].patches) == 3 * 10  # three methods × ten classes

    fig2 = draw_kd_distributions(frame)
    titles = [ax.get_title() for ax in fig2.axes]
    assert titles[:2] == ["CIFAR-10 (ResNet-34 → ResNet-18): difficulty", "CIFAR-10 (ResNet-34 → ResNet-18): diversity"]
    assert len(fig2.axes[0].get_legend().get_texts()) == 3  # deepinv, fast10, ssdkd

    scatter = draw_accuracy_vs_time(frame)
    visible = [ax.get_title() for ax in scatter.axes if ax.get_visible()]
    assert visible == ["CIFAR-10: ResNet-34 → ResNet-18", "CIFAR-10: WRN40-2 → WRN16-1", "MNIST: lenet5 → lenet5_half"]
    assert scatter.axes[0].get_xscale() == "log"


def test_missing_data_says_no_runs(grid: Path):
    empty = _frame(grid).iloc[0:0]
    for fig in (draw_data_scale(empty), draw_per_class(empty), draw_kd_distributions(empty)):
        assert all("no runs" in [t.get_text() for t in ax.texts] for ax in fig.axes)
    without_metrics = _frame(grid)
    for run in without_metrics["run_dir"]:
        (Path(run) / "metrics.jsonl").unlink()
    fig2 = draw_kd_distributions(without_metrics)
    assert "no runs" in [t.get_text() for t in fig2.axes[0].texts]


FIGURES = ("figure1_per_class", "figure2_kd_distributions", "figure4_data_scale", "accuracy_vs_time")


def test_write_report_writes_every_format(grid: Path, tmp_path: Path):
    out = tmp_path / "report"
    paths = write_report(grid, out, formats=("md", "tex", "csv"))
    names = sorted(p.name for p in paths)
    assert names == sorted(
        [
            "report.md",
            "tables.tex",
            "tables.csv",
            "claims.csv",
            *(f"{name}.{ext}" for name in FIGURES for ext in ("png", "pdf")),
        ]
    )
    assert all(p.stat().st_size > 0 for p in paths)
    report = (out / "report.md").read_text()
    for heading in ("## Table 1:", "## Table 2:", "## Table 4:", "## Figures", "What this harness does differently"):
        assert heading in report
    assert "## Table 3:" not in report  # no segmentation runs
    assert "![figure4_data_scale](figure4_data_scale.png)" in report
    tidy = pd.read_csv(out / "tables.csv")
    assert {"table", "dataset", "pair", "method", "n", "acc_mean", "acc_std", "paper_acc", "delta"} <= set(tidy)
    assert set(tidy["table"]) == {"table1", "table2"}  # Table 4 has no ablation runs here
    assert write_figures(_frame(grid), tmp_path / "figs")[0].exists()
    with pytest.raises(ValueError, match="report format"):
        write_report(grid, out, formats=("pdf",))


def test_table3_renders_miou_with_the_teacher_score_recorded_by_the_runs(grid: Path):
    pair = "deeplabv3_resnet50-deeplabv3_mobilenetv2"
    rows = [
        {**_run(grid, "nyuv2", pair, "ssdkd", 16000, seed, 0.0, 9.0), "metric": "miou", "best_top1": None}
        | {"best_miou": miou, "last_miou": miou - 0.01, "teacher_top1": None, "teacher_miou": 0.52}
        for seed, miou in enumerate([0.38, 0.40])
    ]
    frame = pd.concat([_frame(grid), pd.DataFrame(rows)], ignore_index=True)
    cells = table_cells(frame, "table3").set_index(["pair", "method"])
    ssdkd = cells.loc[(pair, "ssdkd")]
    assert ssdkd["n"] == 2 and ssdkd["acc_mean"] == pytest.approx(0.39)
    assert ssdkd["delta"] == pytest.approx(0.39 - 0.384)
    teacher = cells.loc[(pair, "teacher")]
    assert teacher["n"] == 0 and teacher["acc_mean"] == pytest.approx(0.52) and "teacher_miou" in teacher["note"]
    text = render_markdown(table_cells(frame, "table3"), "table3")
    assert "0.390 ± 0.014" in text and "paper 0.384" in text
