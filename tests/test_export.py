"""The distilled student as weights alone: a real MNIST run keeps its best epoch's student in ckpt/best_student.pt,
`dfkd-bench export` writes it and the last one as plain state_dicts that create_model loads strictly and that score
exactly what result.json recorded; the best file follows the best epoch (not the last) through an interruption,
including one between the best file and the checkpoint; a bad run directory is one error line and writes nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner

from dfkd_bench import rundir
from dfkd_bench.cli import cli
from dfkd_bench.data import load_dataset
from dfkd_bench.engine import train_loop
from dfkd_bench.engine.evaluate import evaluate_split
from dfkd_bench.engine.run import run_one
from dfkd_bench.engine.spec import RunOptions, RunSpec
from dfkd_bench.engine.train_loop import TrainLoop
from dfkd_bench.models import create_model

PAIR = "lenet5_bn-lenet5_half_bn"
BUDGET = {
    "train.epochs": 3,
    "train.ep_steps": 8,
    "train.kd_steps": 8,
    "train.batch_size": 32,
    "train.synthesis_batch_size": 32,
    "method.g_steps": 4,
}
SCRIPTED_TOP1 = [50.0, 70.0, 60.0]  # epoch 1 is the best, and the last epoch is not


def _spec() -> RunSpec:
    return RunSpec("mnist", PAIR, "deepinv", 0, tuple(sorted(BUDGET.items())))


def _run_dir(out: Path) -> Path:
    return rundir.run_dir(out, "mnist", PAIR, "deepinv", None, 0)


class EpochWeights:
    """Observer keeping each epoch's student from the checkpoint just written, to compare the kept files with."""

    def __init__(self, out: Path) -> None:
        self.run = _run_dir(out)
        self.students: dict[int, dict[str, torch.Tensor]] = {}

    def epoch_done(self, spec: RunSpec, record: dict, epochs: int) -> None:
        self.students[record["epoch"]] = rundir.load_checkpoint(self.run)["student"]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _export(*args: object):
    return CliRunner().invoke(cli, ["export", *[str(a) for a in args]])


@pytest.fixture(scope="module")
def distilled(tmp_path_factory: pytest.TempPathFactory, teacher_root: Path) -> tuple[Path, dict, EpochWeights]:
    """A finished deepinv run on real MNIST, its result, and the student of each of its epochs."""
    out = tmp_path_factory.mktemp("distilled")
    weights = EpochWeights(out)
    result = run_one(_spec(), RunOptions(out=out, teachers=teacher_root, device="cpu"), observer=weights)
    assert result["status"] == "done"
    return _run_dir(out), result, weights


@pytest.fixture
def run_copy(distilled: tuple[Path, dict, EpochWeights], tmp_path: Path) -> Path:
    """A private copy of the finished run, for tests that damage it."""
    return Path(shutil.copytree(distilled[0], tmp_path / "seed-0"))


def _snapshot(root: Path) -> list[tuple[str, str | None]]:
    return [
        (str(p.relative_to(root)), hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    ]


def test_exported_students_reload_strictly_and_score_the_recorded_accuracy(
    distilled: tuple[Path, dict, EpochWeights], tmp_path: Path
):
    run, result, epochs = distilled
    out = tmp_path / "exported"
    done = _export(run, "--out", out)
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in out.iterdir()) == [
        "student_best.json",
        "student_best.pt",
        "student_last.json",
        "student_last.pt",
    ]
    eval_batch_size = yaml.safe_load((run / rundir.CONFIG).read_text())["train"]["eval_batch_size"]
    test = load_dataset("mnist", "test")
    kept_epochs = {"best": result["best_epoch"], "last": result["epochs_done"] - 1}
    for which, epoch in kept_epochs.items():
        sidecar = json.loads((out / f"student_{which}.json").read_text())
        data = (out / f"student_{which}.pt").read_bytes()
        assert sidecar["sha256"] == hashlib.sha256(data).hexdigest()
        assert (sidecar["architecture"], sidecar["num_classes"], sidecar["in_channels"]) == ("lenet5_half_bn", 10, 1)
        assert (sidecar["dataset"], sidecar["metric"], sidecar["config_hash"]) == (
            "mnist",
            "top1",
            result["config_hash"],
        )
        assert sidecar["epoch"] == epoch and sidecar["top1"] == result[f"{which}_top1"]
        weights = torch.load(out / f"student_{which}.pt", weights_only=True)
        assert _same(weights, epochs.students[epoch]), which
        model = create_model(sidecar["architecture"], sidecar["num_classes"], sidecar["in_channels"])
        model.load_state_dict(weights, strict=True)
        assert evaluate_split(model, test, eval_batch_size).top1 == result[f"{which}_top1"], which
    assert result["best_student_epoch"] == result["best_epoch"]
    assert rundir.run_damage(run) == []


def test_export_defaults_to_the_run_directory(run_copy: Path):
    done = _export(run_copy, "--keep", "last")
    assert done.exit_code == 0, done.output
    assert done.output.count("wrote ") == 2
    assert (run_copy / "student_last.pt").is_file() and (run_copy / "student_last.json").is_file()
    assert not (run_copy / "student_best.pt").exists()


@pytest.fixture
def scripted_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each epoch scores SCRIPTED_TOP1 instead of its measured top-1, so the best epoch is known and not the last."""
    measured = TrainLoop.run_epoch

    def run_epoch(self: TrainLoop) -> dict[str, Any]:
        record = measured(self)  # the same dict the history holds
        record["top1"] = SCRIPTED_TOP1[record["epoch"]]
        return record

    monkeypatch.setattr(TrainLoop, "run_epoch", run_epoch)


def test_best_file_follows_the_best_epoch_through_a_kill_before_the_checkpoint(
    tmp_path: Path, teacher_root: Path, monkeypatch: pytest.MonkeyPatch, scripted_scores: None
):
    opts = RunOptions(out=tmp_path / "a", teachers=teacher_root, device="cpu")
    straight = EpochWeights(opts.out)
    a = run_one(_spec(), opts, observer=straight)
    assert (a["best_epoch"], a["best_top1"], a["best_student_epoch"]) == (1, 70.0, 1)
    assert not _same(straight.students[1], straight.students[2]), "the last epoch must differ from the best"
    best_a = rundir.load_best_student(_run_dir(opts.out))
    assert best_a["epoch"] == 1 and _same(best_a["student"], straight.students[1])

    # killed after epoch 1's best file was written, before its checkpoint
    saved = train_loop.save_checkpoint

    def killed_at_epoch_1(run: Path, state: dict[str, Any]) -> None:
        if state["epoch"] == 2:
            raise KeyboardInterrupt
        saved(run, state)

    monkeypatch.setattr(train_loop, "save_checkpoint", killed_at_epoch_1)
    opts_b = RunOptions(out=tmp_path / "b", teachers=teacher_root, device="cpu")
    with pytest.raises(KeyboardInterrupt):
        run_one(_spec(), opts_b)
    run_b = _run_dir(opts_b.out)
    behind = rundir.load_checkpoint(run_b)
    assert (behind["epoch"], behind["best_student_epoch"], rundir.load_best_student(run_b)["epoch"]) == (1, 0, 1)

    monkeypatch.setattr(train_loop, "save_checkpoint", saved)
    b = run_one(_spec(), opts_b)
    assert b["resumes"] == 1 and (b["best_epoch"], b["best_student_epoch"]) == (1, 1)
    best_b = rundir.load_best_student(run_b)
    assert best_b["epoch"] == 1 and _same(best_b["student"], best_a["student"])
    done = _export(run_b, "--out", tmp_path / "exported")
    assert done.exit_code == 0, done.output
    assert _same(torch.load(tmp_path / "exported" / "student_best.pt", weights_only=True), straight.students[1])
    assert _same(torch.load(tmp_path / "exported" / "student_last.pt", weights_only=True), straight.students[2])


def _one_error(result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr
    assert result.stdout == ""


def _flip_a_byte(path: Path) -> None:
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _rewrite_result(run: Path, drop: str | None = None, **changes: object) -> None:
    """result.json with `changes` and without the key `drop`, its checksum recomputed (a record, not damage)."""
    record = {k: v for k, v in rundir.read_result(run).items() if k not in ("checksum", drop)}
    rundir.write_result(run, {**record, **changes})


DAMAGE = {
    "unfinished": (lambda run: _rewrite_result(run, status="running"), "is not finished (status running"),
    "checkpoint-edited": (lambda run: _flip_a_byte(run / rundir.CHECKPOINT), "sha256 does not match last.pt.sha256"),
    "best-edited": (
        lambda run: _flip_a_byte(run / rundir.BEST_STUDENT),
        "sha256 does not match best_student.pt.sha256",
    ),
    "best-missing": (lambda run: (run / rundir.BEST_STUDENT).unlink(), "ckpt/best_student.pt missing"),
    "result-edited": (
        lambda run: _replace(run / rundir.RESULT, '"done"', '"dome"'),
        "checksum does not match",
    ),
    "config-edited": (
        lambda run: _replace(run / rundir.CONFIG, "g_steps: 4", "g_steps: 5"),
        "config.yaml does not match the config hash",
    ),
    "no-result": (lambda run: (run / rundir.RESULT).unlink(), "is not a run directory (no result.json)"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_bad_run_directory_is_one_error_line_and_writes_nothing(run_copy: Path, tmp_path: Path, damage: str):
    change, fragment = DAMAGE[damage]
    change(run_copy)
    before = _snapshot(tmp_path)
    _one_error(_export(run_copy), fragment)
    _one_error(_export(run_copy, "--out", tmp_path / "exported"), fragment)
    assert _snapshot(tmp_path) == before


def test_bad_arguments_are_one_error_line(run_copy: Path, tmp_path: Path):
    before = _snapshot(tmp_path)
    _one_error(_export(tmp_path / "missing"), "is not a folder")
    _one_error(_export(run_copy, "--keep", "worst"), "'worst' is not one of 'best', 'last', 'both'")
    (tmp_path / "a-file").write_text("")
    _one_error(_export(run_copy, "--out", tmp_path / "a-file"), "--out")
    assert _snapshot(tmp_path) == sorted([*before, ("a-file", hashlib.sha256(b"").hexdigest())])


def test_a_run_from_before_best_epoch_saving_reads_as_done_and_exports_its_last_epoch(run_copy: Path):
    (run_copy / rundir.BEST_STUDENT).unlink()
    (run_copy / rundir.BEST_STUDENT_DIGEST).unlink()
    _rewrite_result(run_copy, drop="best_student_epoch")
    assert "best_student_epoch" not in rundir.read_result(run_copy)
    assert rundir.run_damage(run_copy) == []
    before = _snapshot(run_copy)
    for keep in ("best", "both"):
        _one_error(_export(run_copy, "--keep", keep), "predates best-epoch saving")
    assert _snapshot(run_copy) == before
    done = _export(run_copy, "--keep", "last")
    assert done.exit_code == 0, done.output
    sidecar = json.loads((run_copy / "student_last.json").read_text())
    model = create_model(sidecar["architecture"], sidecar["num_classes"], sidecar["in_channels"])
    model.load_state_dict(torch.load(run_copy / "student_last.pt", weights_only=True), strict=True)


def test_status_names_a_damaged_best_file_only_where_the_result_records_one(run_copy: Path):
    (run_copy / rundir.BEST_STUDENT_DIGEST).unlink()
    assert rundir.run_damage(run_copy) == ["ckpt/best_student.pt.sha256 missing"]
    (run_copy / rundir.BEST_STUDENT).unlink()
    assert rundir.run_damage(run_copy) == ["ckpt/best_student.pt missing"]
    _rewrite_result(run_copy, drop="best_student_epoch")
    assert rundir.run_damage(run_copy) == []
