"""The command line: listings, resolved configs, and bad input as one line with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from dfkd_bench.cli import cli
from dfkd_bench.models import create_model


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_list_models_shows_parameter_counts():
    result = _invoke("list", "models", "wrn*")
    assert result.exit_code == 0
    assert "wrn40_2" in result.output and "2,243,546" in result.output and "2,255,156" in result.output
    assert "resnet34" not in result.output


def test_list_methods_and_show_method():
    listed = _invoke("list", "methods")
    assert listed.exit_code == 0 and "deepinv" in listed.output and "kd" in listed.output
    shown = _invoke("show", "method", "deepinv", "--dataset", "cifar10", "--pair", "wrn40_2-wrn16_1")
    assert shown.exit_code == 0
    assert "g_steps: 1000" in shown.output and "deviations:" in shown.output


def _cells(output: str) -> list[str]:
    """The cell rows of a dry-run table (the per-method summary below it has no state column)."""
    return [line for line in output.splitlines() if " pending " in line]


def test_dry_run_lists_cells(tmp_path: Path):
    result = _invoke("run", "--methods", "deepinv,kd", "--seeds", "0,1", "--dry-run", "--out", str(tmp_path))
    assert result.exit_code == 0
    assert "4 cells: 4 pending" in result.output
    assert len(_cells(result.output)) == 4 and "quick" not in result.output and "budget default" in result.output
    assert not any(tmp_path.iterdir()), "a dry run records nothing"


def test_no_argument_run_is_mnist_at_the_quick_budget(tmp_path: Path):
    result = _invoke("run", "--dry-run", "--out", str(tmp_path))
    assert result.exit_code == 0
    rows = _cells(result.output)
    title = " ".join(result.output.split())
    assert rows and "dataset mnist, pair lenet5_bn-lenet5_half_bn, budget quick" in title


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--methods", "nosuch", "--dry-run"], "unknown method 'nosuch'; valid choices: cmi, dafl, deepinv"),
        (["run", "--datasets", "imagenet", "--dry-run"], "unknown dataset 'imagenet'; valid choices: cifar10"),
        (["run", "--pairs", "resnet99-resnet18", "--dry-run"], "unknown pair 'resnet99-resnet18'"),
        (["run", "--set", "train.nope=1", "--dry-run"], "unknown config key 'train.nope'"),
        (["run", "--seeds", "a,b", "--dry-run"], "--seeds must be comma-separated integers"),
        (
            ["run", "--preset", "table9", "--dry-run"],
            "unknown preset 'table9' (did you mean table4 or table3 or table2?); valid choices: figure4, mnist, "
            "proxy-figure4, proxy-table1, proxy-table4, table1",
        ),
        (["run", "--methods", "ssdkd", "--scales", "60001", "--dry-run"], "larger than mnist's training set (60,000)"),
        (["run", "--methods", "ssdkd", "--scales", "101%", "--dry-run"], "larger than mnist's training set"),
        (["run", "--methods", "ssdkd", "--scales", "lots", "--dry-run"], "bad data scale 'lots'"),
        (["run", "--preset", "table1", "--methods", "kd", "--dry-run"], "--preset fixes methods"),
        (["run", "--launcher", "cloud", "--dry-run"], "unknown launcher 'cloud'; valid choices: inline, local, slurm"),
        (["run-one", "--index", "0", "--out", "/nonexistent-grid"], "no grid in /nonexistent-grid"),
        (
            ["train", "--model", "resnet99", "--dataset", "mnist"],
            "unknown model 'resnet99' (did you mean resnet34 or resnet18?); valid choices:",
        ),
        (["show", "method", "deepinv", "--dataset", "svhn"], "unknown dataset 'svhn'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args: list[str], message: str):
    result = _invoke(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]


def test_missing_data_root_is_exit_code_2(tmp_path: Path):
    result = _invoke("train", "--model", "wrn16_1", "--dataset", "cifar10", "--data-root", str(tmp_path / "none"))
    assert result.exit_code == 2
    assert "looked in" in result.output and str(tmp_path / "none") in result.output


def test_teacher_import_rejects_mismatched_keys(tmp_path: Path):
    wrong = tmp_path / "mnist_lenet5.pth"
    torch.save({"state_dict": create_model("lenet5_half", 10).state_dict()}, wrong)
    result = _invoke(
        "teacher",
        "import",
        str(wrong),
        "--model",
        "lenet5",
        "--dataset",
        "mnist",
        "--teachers",
        str(tmp_path / "store"),
    )
    assert result.exit_code == 2
    assert "does not match model 'lenet5'" in result.output and "wrong shape" in result.output
    assert not (tmp_path / "store").exists()


def test_teacher_import_measures_a_reference_format_checkpoint(tmp_path: Path, teacher_root: Path):
    from dfkd_bench.teachers import TeacherStore

    model, record = TeacherStore(teacher_root).load("mnist", "lenet5_bn", 10, 1)
    file = tmp_path / "mnist_lenet5_bn.pth"
    torch.save({"state_dict": model.state_dict()}, file)
    store = tmp_path / "store"
    result = _invoke(
        "teacher",
        "import",
        str(file),
        "--model",
        "lenet5_bn",
        "--dataset",
        "mnist",
        "--teachers",
        str(store),
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    imported = TeacherStore(store).record("mnist", "lenet5_bn")
    assert imported["test_top1"] == pytest.approx(record["test_top1"], abs=1e-6)
    assert imported["source"].startswith("imported from")
    listed = _invoke("teacher", "list", "--teachers", str(store))
    assert "lenet5_bn" in listed.output and imported["sha256"][:12] in listed.output


def test_tampered_teacher_checkpoint_is_refused(teachers_copy: Path):
    from dfkd_bench.errors import BadInput
    from dfkd_bench.teachers import TeacherStore

    path = teachers_copy / "mnist" / "lenet5_bn.pt"
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(BadInput, match="sha256"):
        TeacherStore(teachers_copy).load("mnist", "lenet5_bn", 10, 1)


def test_bn_matching_methods_skip_pairs_without_batchnorm(tmp_path: Path):
    result = _invoke("run", "--methods", "deepinv,kd", "--pairs", "all", "--dry-run", "--out", str(tmp_path))
    assert result.exit_code == 0
    assert "skipping mnist/lenet5-lenet5_half/deepinv" in result.output
    assert len(_cells(result.output)) == 3
    alone = _invoke("run", "--methods", "deepinv", "--pairs", "lenet5-lenet5_half", "--dry-run")
    assert alone.exit_code == 2 and "no runnable cell" in alone.output
