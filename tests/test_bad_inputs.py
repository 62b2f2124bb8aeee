"""Bad input is refused before anything is written: one `error:` line, exit code 2, and the out folder and the
teacher store byte-identical afterwards (a grid with a recorded cell is there to be damaged, and is not)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from registering import register_specs

from dfkd_bench.cli import cli
from dfkd_bench.engine.spec import RunSpec

PAIR = "lenet5_bn-lenet5_half_bn"

# (arguments after the command, a part of the expected error line). Each `run` case is tried with and without
# --dry-run: a bad value must be caught when the cell is resolved, before grid.json or a run directory is touched.
RUN_CASES = [
    (["--methods", "kd", "--set", "train.lr=-1"], "train.lr = -1 is not positive"),
    (["--methods", "kd", "--set", "train.batch_size=0"], "train.batch_size = 0 is not positive"),
    (["--methods", "kd", "--set", "train.epochs=1.5"], "train.epochs = 1.5 is not an integer"),
    (["--methods", "kd", "--set", "train.epochs=abc"], "train.epochs = 'abc' is not an integer"),
    (["--methods", "ssdkd", "--set", "train.data_scale=/abs/path"], "train.data_scale = '/abs/path' is not an"),
    (["--methods", "ssdkd", "--set", "train.data_scale=../up"], "train.data_scale = '../up' is not an integer"),
    (["--methods", "kd", "--seeds", "-1"], "bad seed(s) -1"),
    (["--methods", "kd", "--seeds", "4294967296"], "bad seed(s) 4294967296"),
    (["--methods", "fast2", "--set", "train.warmup=500"], "warm-up must be smaller than epochs"),
    (["--methods", "kd", "--set", "train.momentum=1.5"], "train.momentum = 1.5 is not between 0 and 1"),
    (["--methods", "fast2", "--set", "method.lr_g=abc"], "method.lr_g = 'abc' is not a finite number"),
    (["--methods", "fast2", "--set", "method.g_steps=0"], "method.g_steps = 0 is not positive"),
    (["--methods", "kd", "--set", "train.T=0"], "train.T = 0 is not positive"),
    (["--methods", "kd", "--set", "train.weight_decay=-1e-4"], "train.weight_decay = -0.0001 is not non-negative"),
    (["--methods", "fast2", "--set", "method.reset_l0=maybe"], "method.reset_l0 = 'maybe' is not true or false"),
    (["--methods", "kd", "--set", "train.eval_batch_size=-5"], "train.eval_batch_size = -5 is not positive"),
    (["--methods", "ssdkd", "--set", "train.kd_passes=0"], "train.kd_passes = 0 is not positive"),
    (["--methods", "kd", "--set", "train.lr=nan"], "is not a finite number"),
    (["--methods", "kd", "--set", "train.lr=.inf"], "is not a finite number"),
    (["--methods", "fast2", "--set", "method.nz=-3"], "method.nz = -3 is not positive"),
    (["--methods", "kd", "--set", "train.image_size=0"], "train.image_size = 0 is not positive"),
    (["--methods", "ssdkd", "--set", "method.is_weights=bogus"], "is_weights"),
    (["--methods", "kd", "--pairs", "resnet34-resnet18"], "does not fit mnist: resnet34, resnet18 take 3-channel"),
    (["--methods", "kd", "--datasets", "cifar10", "--pairs", PAIR], "does not fit cifar10"),
    (["--methods", "kd", "--device", "nosuch"], "unknown device 'nosuch'"),
    (["--methods", "nosuch"], "unknown method 'nosuch'"),
    (["--datasets", "imagenet"], "unknown dataset 'imagenet'"),
    (["--preset", "tabel2"], "unknown preset 'tabel2'"),
    (["--methods", "ssdkd", "--scales", "0"], "must be at least 1"),
    (["--methods", "ssdkd", "--scales", "60001"], "larger than mnist's training set"),
    (["--methods", "ssdkd", "--scales", "lots"], "bad data scale 'lots'"),
    (["--set", "nosuch=1"], "unknown config key 'nosuch'"),
    (["--set", "train.lr"], "--set expects key=value"),
    (["--methods", "kd", "--budget", "nosuch"], "unknown budget for card kd on mnist 'nosuch'"),
    (["--launcher", "cloud"], "unknown launcher 'cloud'"),
    (["--seeds", "a,b"], "--seeds must be comma-separated integers"),
    (["--methods", "deepinv", "--pairs", "lenet5-lenet5_half"], "no runnable cell: skipping"),
    (["--preset", "proxy-table1", "--methods", "kd"], "--preset fixes methods"),
]


def _listing(*roots: Path) -> list[tuple[str, str, int]]:
    """Every file and folder under the roots with its content digest and mode."""
    entries = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            entries.append((str(path.relative_to(root.parent)), digest, path.stat().st_mode))
    return entries


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    """An out folder holding a registered grid and a teacher store holding a file: both must stay untouched."""
    out, teachers = tmp_path / "out", tmp_path / "teachers"
    register_specs(out, [RunSpec("mnist", PAIR, "kd", 0)])
    (out / "notes.txt").write_text("mine\n")
    teachers.mkdir()
    (teachers / "keep.txt").write_text("a teacher store\n")
    return out, teachers


def _assert_refused(args: list[str], message: str, out: Path, teachers: Path) -> None:
    before = _listing(out, teachers)
    result = CliRunner().invoke(cli, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert message in lines[0], lines[0]
    assert _listing(out, teachers) == before, "bad input changed the out folder or the teacher store"


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize(("args", "message"), RUN_CASES, ids=[" ".join(a) for a, _ in RUN_CASES])
def test_bad_run_input_is_refused_before_anything_is_written(
    places: tuple[Path, Path], args: list[str], message: str, dry_run: bool
):
    out, teachers = places
    extra = ["--dry-run"] if dry_run else []
    _assert_refused(["run", *args, *extra, "--out", str(out), "--teachers", str(teachers)], message, out, teachers)


OTHER_CASES = [
    (["run-one", "--index", "5"], "cell index 5 out of range"),
    (["run-one"], "run-one needs --index I"),
    (["run-one", "--index", "0", "--set", "train.lr=1"], "--index runs the recorded cell as it is"),
    (["run-one", "--method", "kd", "--set", "train.lr=-1"], "train.lr = -1 is not positive"),
    (["run-one", "--method", "kd", "--seed", "-1"], "bad seed(s) -1"),
    (["run-one", "--method", "kd", "--pair", "resnet34-resnet18"], "does not fit mnist"),
]


@pytest.mark.parametrize(("args", "message"), OTHER_CASES, ids=[" ".join(a) for a, _ in OTHER_CASES])
def test_bad_run_one_input_is_refused_before_anything_is_written(
    places: tuple[Path, Path], args: list[str], message: str
):
    out, teachers = places
    _assert_refused([*args, "--out", str(out), "--teachers", str(teachers)], message, out, teachers)


SHOW_CASES = [
    (["show", "method", "deepinv", "--dataset", "svhn"], "unknown dataset 'svhn'"),
    (["show", "method", "nosuch"], "unknown method 'nosuch'"),
    (["train", "--model", "resnet99", "--dataset", "mnist"], "unknown model 'resnet99'"),
]


@pytest.mark.parametrize(("args", "message"), SHOW_CASES, ids=[" ".join(a) for a, _ in SHOW_CASES])
def test_bad_show_and_train_input_is_refused(places: tuple[Path, Path], args: list[str], message: str):
    out, teachers = places
    if args[0] == "train":
        args = [*args, "--teachers", str(teachers)]
    _assert_refused(args, message, out, teachers)


def test_a_pair_not_defined_for_the_dataset_names_the_defaults_it_falls_back_to(tmp_path: Path):
    result = CliRunner().invoke(
        cli, ["run", "--methods", "fast2", "--datasets", "cifar10", "--pairs", "wrn16_2-wrn16_1", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "note: wrn16_2-wrn16_1 is not a defined pair for cifar10" in result.output
    assert "method.adv=1.1, method.oh=0.4" in result.output


def test_numbers_in_exponent_notation_are_numbers(tmp_path: Path):
    from dfkd_bench.config import get_card, parse_assignments, resolve

    overrides = parse_assignments(["method.lr_g=5e-3", "train.weight_decay=1e-4", "train.epochs=3.0"])
    cfg = resolve(get_card("fast2"), "mnist", PAIR, overrides)
    assert cfg["method"]["lr_g"] == 0.005 and cfg["train"]["weight_decay"] == 0.0001
    assert cfg["train"]["epochs"] == 3 and isinstance(cfg["train"]["epochs"], int)


def test_a_failure_while_a_cell_is_built_leaves_a_full_trace(tmp_path: Path, teachers_copy: Path):
    """A teacher damaged after it was stored: the cell fails (exit 1) and says why everywhere a user looks."""
    stored = teachers_copy / "mnist" / "lenet5_bn.pt"
    stored.write_bytes(stored.read_bytes() + b"poison")
    out = tmp_path / "out"
    args = ["run", "--methods", "kd", "--budget", "quick", "--out", str(out), "--teachers", str(teachers_copy)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    printed = " ".join(result.output.split())  # the table wraps its caption at the terminal's width
    assert "does not match the sha256 in its record" in printed, "the error is under the end-of-run table"
    (run,) = [p.parent for p in out.rglob("result.json")]
    record = json.loads((run / "result.json").read_text())
    assert record["status"] == "failed" and "sha256" in record["error"] and record["config_hash"]
    assert "Traceback" in (run / "log.txt").read_text()
    summary = (out / "summary.csv").read_text().splitlines()
    assert len(summary) == 2 and ",kd," in summary[1] and ",failed," in summary[1]
