"""`dfkd-bench bench` (issue 15): FLOPs against hand counts, the JSON every cell gets, the markdown report rendered
from it (again from a saved result), the peak table, the dry-run calibration, and bad input refused in one line
before anything is measured or written. Nothing here asserts on speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from dfkd_bench.bench.calibration import bench_measure, epoch_seconds
from dfkd_bench.bench.flops import count_flops, kd_pass_flops
from dfkd_bench.bench.measure import BLOCKS
from dfkd_bench.bench.peaks import measured_matmul_peak, table_peak
from dfkd_bench.bench.render import OVERHEAD_LIMIT, markdown
from dfkd_bench.cli import cli
from dfkd_bench.durations import format_duration
from dfkd_bench.engine.spec import RunSpec
from dfkd_bench.gridstate import CellState
from dfkd_bench.methods.losses import kd_kl

PAIR = "lenet5_bn-lenet5_half_bn"
TINY = ["--budget", "proxy", "--kd-steps", "4", "--warmup-steps", "1", "--synthesis-rounds", "1"]
TINY += ["--set", "train.batch_size=64", "--set", "train.synthesis_batch_size=64", "--device", "cpu"]


def _invoke(*args: object):
    return CliRunner().invoke(cli, ["bench", *(str(a) for a in args)])


@pytest.fixture(scope="module")
def measured(teacher_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """One real, tiny bench of a pool method (fast2) and a real-data one (kd), its JSON and its markdown."""
    report = tmp_path_factory.mktemp("bench") / "bench.md"
    args = ["--methods", "fast2,kd", "--teachers", teacher_root, "--peak-tflops", "1", "--markdown", report, "--json"]
    result = _invoke(*args, *TINY)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), report


def test_linear_flops_match_the_hand_count():
    torch.manual_seed(0)
    batch, features, classes = 16, 8, 4
    teacher, student = nn.Linear(features, classes), nn.Linear(features, classes)
    flops = kd_pass_flops(teacher, student, torch.randn(batch, features), lambda s, t: kd_kl(s, t, 4.0))
    forward = 2 * batch * features * classes
    # backward: the weight gradient only (2·in·out·batch); the input batch needs none, the bias gradient is a sum
    assert flops == {"teacher_forward": forward, "student_forward": forward, "student_backward": forward}
    assert student.weight.grad is not None


def test_convolution_flops_match_the_hand_count():
    conv, x = nn.Conv2d(3, 4, kernel_size=3), torch.randn(2, 3, 8, 8)
    assert count_flops(lambda: conv(x)) == 2 * 2 * 4 * 6 * 6 * 3 * 3 * 3  # 2·N·C_out·H_out·W_out·C_in·k·k


def test_the_json_holds_every_measure_of_every_cell(measured: tuple[dict, Path]):
    result, _ = measured
    assert result["device"].startswith("cpu") and result["settings"]["kd_steps"] == 4
    assert result["settings"]["blocks"] == BLOCKS and all(c["kd"]["steps"] == BLOCKS for c in result["cells"])
    assert result["peaks"] == {"fp32": {"tflops": 1.0, "source": "given (--peak-tflops)"}}
    cells = {cell["method"]: cell for cell in result["cells"]}
    assert sorted(cells) == ["fast2", "kd"]
    assert cells["fast2"]["pool"] and not cells["kd"]["pool"]
    assert cells["fast2"]["synthesis"]["images_per_s"] > 0 and cells["kd"]["synthesis"] is None
    for cell in cells.values():
        assert cell["fast_path"]["precision"] == "fp32" and cell["budget"] == "proxy"
        kd, flops = cell["kd"], cell["flops"]
        assert kd["images_per_s"] == pytest.approx(cell["batch_size"] / kd["seconds_per_step"])
        assert min(flops["teacher_forward"], flops["student_forward"], flops["student_backward"]) > 0
        assert flops["kd_step"] == sum(v for k, v in flops.items() if k != "kd_step")
        assert cell["achieved_tflops"] == pytest.approx(flops["kd_step"] / kd["seconds_per_step"] / 1e12)
        assert cell["utilisation"] == pytest.approx(cell["achieved_tflops"] / cell["peak_tflops"])
        assert cell["harness_overhead"] == pytest.approx(1 - cell["bare_seconds_per_step"] / kd["seconds_per_step"])
        assert cell["epoch_seconds"]["kd"] > cell["epoch_seconds"]["warmup"] > 0
    assert cells["fast2"]["flops"]["teacher_forward"] == cells["kd"]["flops"]["teacher_forward"]  # same teacher


def test_the_markdown_report_comes_from_the_json_alone(measured: tuple[dict, Path], tmp_path: Path):
    result, report = measured
    text = report.read_text()
    assert "| fast2 | lenet5_bn-lenet5_half_bn | fp32 |" in text and "| kd |" in text
    assert "pool method" in text
    saved = tmp_path / "bench.json"
    saved.write_text(json.dumps(result))
    again = _invoke("--from-json", saved, "--markdown", tmp_path / "again.md")
    assert again.exit_code == 0, again.output
    assert (tmp_path / "again.md").read_text() == text
    assert "fast2" in again.stdout  # the terminal table


def test_an_overhead_above_the_limit_is_explained_with_its_measured_shares(measured: tuple[dict, Path]):
    result, _ = measured
    cell = next(c for c in result["cells"] if c["method"] == "fast2")
    over = {**cell, "harness_overhead": 0.2, "overhead_parts": {"sample": 0.12, "step": 0.07}}
    text = markdown({**result, "cells": [over]})
    assert "sample() 12.0 % of the step (replay augmentation (crop, flip, normalise)); loss parts" in text
    assert f"above {OVERHEAD_LIMIT:.0%} for the pool method(s) fast2" in text
    within = {**cell, "harness_overhead": OVERHEAD_LIMIT / 2}
    assert f"at most {OVERHEAD_LIMIT:.0%} for every pool method (fast2)" in markdown({**result, "cells": [within]})


def test_a_bench_result_calibrates_the_dry_run(measured: tuple[dict, Path], tmp_path: Path):
    result, _ = measured
    saved = tmp_path / "bench.json"
    saved.write_text(json.dumps(result))
    measure = bench_measure(saved)
    record = next(c for c in result["cells"] if c["method"] == "fast2")
    cell = CellState(0, RunSpec("mnist", PAIR, "fast2", 0, (), "proxy"), tmp_path, "pending", epochs=22, warmup=2)
    expected = (2 * record["epoch_seconds"]["warmup"] + 20 * record["epoch_seconds"]["kd"]) / 22
    assert measure(cell) == pytest.approx(expected) == pytest.approx(epoch_seconds(record, 22, 2))
    other = CellState(1, RunSpec("mnist", PAIR, "deepinv", 0), tmp_path, "pending", epochs=20, warmup=0)
    assert measure(other) is None


def test_gpu_peaks_come_from_the_most_specific_table_row():
    assert table_peak("NVIDIA H100 80GB HBM3", "bf16", tf32=True).tflops == 989.0
    assert table_peak("NVIDIA H100 PCIe", "bf16", tf32=True).tflops == 756.0
    assert table_peak("NVIDIA A100-SXM4-80GB", "bf16", tf32=True).source == "data sheet: A100, dense bf16"
    assert table_peak("NVIDIA A100-SXM4-80GB", "fp32", tf32=True).tflops == 156.0
    assert table_peak("NVIDIA A100-SXM4-80GB", "fp32", tf32=False).tflops == 19.5
    assert table_peak("NVIDIA L40S", "bf16", tf32=True).tflops == 362.0
    assert table_peak("Tesla V100-SXM2-16GB", "bf16", tf32=True) is None  # no native bf16: measured instead
    assert table_peak("Some Future GPU", "bf16", tf32=True) is None


def test_a_measured_peak_is_positive_and_says_how_it_was_measured():
    peak = measured_matmul_peak(torch.device("cpu"), "fp32", seconds=0.01)
    assert peak.tflops > 0 and peak.source.startswith("measured: best 1024x1024 fp32 matmul")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--methods", "nope"], ["unknown method 'nope'", "valid choices", "fast2"]),
        (["--methods", "fast2", "--precision", "fp16"], ["'fp16' is not one of", "'fp32'", "'bf16'"]),
        (["--methods", "fast2", "--kd-steps", "0"], ["--kd-steps", "0"]),
        (["--methods", "fast2", "--set", "train.precision=fp8"], ["train.precision must be one of fp32, bf16"]),
        (["--methods", "fast2", "--device", "tpu"], ["unknown device 'tpu'", "valid choices"]),
        (["--methods", "fast2", "--budget", "nope"], ["unknown budget", "proxy"]),
    ],
)
def test_bad_input_is_one_error_line_and_nothing_is_written(args: list[str], fragments: list[str], tmp_path: Path):
    report = tmp_path / "report.md"
    result = _invoke(*args, "--teachers", tmp_path / "teachers", "--markdown", report)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert not report.exists()


def test_a_missing_teacher_is_named_with_the_command_that_makes_one(tmp_path: Path):
    result = _invoke("--methods", "fast2", "--teachers", tmp_path / "teachers", "--device", "cpu")
    assert result.exit_code == 2
    assert "no lenet5_bn teacher for mnist" in result.stderr and "dfkd-bench train" in result.stderr


def test_a_saved_result_must_be_a_bench_result_and_stand_alone(tmp_path: Path):
    junk = tmp_path / "junk.json"
    junk.write_text('{"cells": []}')
    refused = _invoke("--from-json", junk)
    assert refused.exit_code == 2 and "is not a bench result" in refused.stderr
    mixed = _invoke("--from-json", junk, "--methods", "fast2")
    assert mixed.exit_code == 2 and "drop the cell options" in mixed.stderr


def test_run_dry_run_takes_its_estimate_from_a_saved_bench(
    measured: tuple[dict, Path], teacher_root: Path, tmp_path: Path
):
    result, _ = measured
    saved = tmp_path / "bench.json"
    saved.write_text(json.dumps(result))
    out = tmp_path / "grid"
    args = ["run", "--methods", "fast2,deepinv", "--budget", "proxy", "--dry-run", "--out", out]
    args += ["--teachers", teacher_root, "--calibrate-from", saved]
    done = CliRunner().invoke(cli, [str(a) for a in args], terminal_width=200)
    assert done.exit_code == 0, done.output
    record = next(c for c in result["cells"] if c["method"] == "fast2")
    fast2 = next(line for line in done.output.splitlines() if "│ fast2 " in line and " pending " in line)
    assert " 0/22 " in fast2 and format_duration(22 * epoch_seconds(record, 22, 2)) in fast2, fast2
    deepinv = next(line for line in done.output.splitlines() if "│ deepinv " in line and " pending " in line)
    assert deepinv.rstrip(" │").endswith("?"), deepinv  # not in the bench: no estimate, and nothing invented
    assert not out.exists()
    refused = CliRunner().invoke(cli, [str(a) for a in ["run", "--out", out, "--calibrate-from", saved]])
    assert refused.exit_code == 2 and "--calibrate-from goes with --dry-run" in refused.output
