"""Collecting run directories into a table: mean ± std (ddof=1) over seeds, unfinished cells listed."""

from __future__ import annotations

from pathlib import Path

from dfkd_bench.report.build import write_report
from dfkd_bench.report.tables import aggregate
from dfkd_bench.rundir import run_dir, write_result
from dfkd_bench.summary import collect


def _result(root: Path, method: str, seed: int, best: float, status: str = "done") -> None:
    run = run_dir(root, "mnist", "lenet5-lenet5_half", method, None, seed)
    run.mkdir(parents=True)
    times = {"synthesis": 10.0 + seed, "sample": 1.0, "kd": 2.0, "eval": 1.0, "total": 14.0 + seed}
    result = {
        "dataset": "mnist",
        "pair": "lenet5-lenet5_half",
        "method": method,
        "seed": seed,
        "status": status,
        "best_top1": best,
        "last_top1": best - 1,
        "data_scale": 100,
        "teacher_top1": 99.0,
        "times": times,
        "device": "cpu",
        "config_hash": "x",
        "epochs_done": 2,
    }
    write_result(run, result)


def test_aggregate_over_seeds(tmp_path: Path):
    for seed, best in enumerate([90.0, 92.0, 94.0]):
        _result(tmp_path, "deepinv", seed, best)
    _result(tmp_path, "kd", 0, 97.0)
    _result(tmp_path, "kd", 1, 50.0, status="running")
    (tmp_path / "mnist" / "lenet5-lenet5_half" / "kd" / "scale-auto" / "replaced-seed-0-x").mkdir()
    frame = collect(tmp_path)
    assert len(frame) == 5 and frame["sample_s"].notna().all()
    table = aggregate(frame).set_index("method")
    assert table.loc["deepinv", "n"] == 3
    assert table.loc["deepinv", "best top-1"] == "92.00 ± 2.00"  # std with ddof=1 of 90, 92, 94
    assert table.loc["deepinv", "synthesis s"] == "11.0"
    assert table.loc["deepinv", "KD s"] == "3.0"  # KD steps plus batch sampling
    assert table.loc["kd", "n"] == 1 and table.loc["kd", "best top-1"] == "97.00"
    text = write_report(tmp_path, tmp_path / "report")[0].read_text()
    assert "kd on mnist/lenet5-lenet5_half seed" in text and "(running)" in text
    assert "What this harness does differently" in text
