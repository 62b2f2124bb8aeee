"""File-system, grid-file and usage problems: each is one `error: ...` line on stderr with exit code 2, and what
the command would have written is left byte-identical; written files follow the umask."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from registering import register_specs

from dfkd_bench import files, rundir
from dfkd_bench.cli import cli
from dfkd_bench.engine.run import resolve_cell
from dfkd_bench.engine.spec import RunOptions
from dfkd_bench.errors import BadInput
from dfkd_bench.grid import GridRequest, expand
from dfkd_bench.gridfile import GRID_FILE, load_grid
from dfkd_bench.summary import write_summary

PAIR = "lenet5_bn-lenet5_half_bn"


def _invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _one_error(result, *fragments: str) -> str:
    """The single stderr line of a refused command (exit 2, nothing on stdout), checked to contain `fragments`."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == "", result.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _snapshot(root: Path) -> list[tuple[str, str | None, int]] | None:
    """(path, sha256 or None for a folder, mode) of everything under `root`; None when it does not exist."""
    if not root.exists():
        return None
    if root.is_file():
        return [(root.name, hashlib.sha256(root.read_bytes()).hexdigest(), root.stat().st_mode)]
    entries = []
    for path in sorted(root.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        entries.append((str(path.relative_to(root)), digest, path.stat().st_mode))
    return entries


def _kd_cells(seeds: list[int]) -> list:
    return expand(GridRequest(methods=["kd"], seeds=seeds))[0]


@pytest.fixture(autouse=True)
def private_teacher_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands without --teachers look in a store of this test's own, never in the repository's."""
    monkeypatch.setenv("DFKD_BENCH_TEACHERS", str(tmp_path / "default-teachers"))


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask after a test that sets its own."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


# 1. files follow the umask


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o027, 0o640)])
@pytest.mark.parametrize("proc", [True, False], ids=["proc-status", "no-proc"])
def test_atomic_writes_get_the_mode_the_umask_allows(
    tmp_path: Path, umask: None, monkeypatch: pytest.MonkeyPatch, mask: int, mode: int, proc: bool
):
    if not proc:
        monkeypatch.setattr(files, "PROC_STATUS", tmp_path / "no-proc-status")
    os.umask(mask)
    assert files.current_umask() == mask
    files.atomic_write_text(tmp_path / "result.json", "{}\n")
    assert stat.S_IMODE((tmp_path / "result.json").stat().st_mode) == mode
    assert os.umask(mask) == mask, "reading the umask leaves it as it was"


def test_grid_file_and_teacher_files_follow_the_umask(tmp_path: Path, umask: None):
    from dfkd_bench.models import create_model
    from dfkd_bench.teachers import TeacherStore

    os.umask(0o022)
    register_specs(tmp_path / "out", _kd_cells([0]))
    TeacherStore(tmp_path / "teachers").save("mnist", "lenet5", create_model("lenet5", 10), {"source": "test"})
    written = [tmp_path / "out" / GRID_FILE, *sorted((tmp_path / "teachers" / "mnist").iterdir())]
    assert len(written) == 3
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in written} == {p.name: 0o644 for p in written}


# 2. grid file, --out and --teachers

BAD_GRIDS = {
    "truncated": (b'{"version": 1, "cells": [{"dataset": "mni', "is not valid JSON"),
    "not-utf8": (b"\xff\xfe\x00", "is not valid JSON"),
    "a-list": (b"[]", "has no list of 'cells'"),
    "no-cells": (b'{"version": 1}', "has no list of 'cells'"),
    "cells-not-a-list": (b'{"cells": {}}', "has no list of 'cells'"),
    "cell-not-an-object": (b'{"cells": [3]}', "has cell 0 that is not an object"),
}


def _cell(**changes: object) -> bytes:
    cell = {"dataset": "mnist", "pair": PAIR, "method": "kd", "seed": 0, "overrides": [], "budget": None}
    cell.update(changes)
    return json.dumps({"version": 1, "cells": [{k: v for k, v in cell.items() if v is not ...}]}).encode()


BAD_GRIDS |= {
    "no-overrides": (_cell(overrides=...), "has cell 0 without 'overrides'"),
    "seed-a-string": (_cell(seed="0"), "has cell 0 whose 'seed' is str"),
    "seed-a-bool": (_cell(seed=True), "has cell 0 whose 'seed' is bool"),
    "overrides-not-pairs": (_cell(overrides=[["train.epochs"]]), "'overrides' are not [key, scalar value] pairs"),
    "override-a-list": (_cell(overrides=[["train.epochs", [1]]]), "'overrides' are not [key, scalar value] pairs"),
}


@pytest.mark.parametrize("name", sorted(BAD_GRIDS))
def test_unreadable_grid_file_is_one_line_and_never_replaced(tmp_path: Path, name: str):
    content, why = BAD_GRIDS[name]
    out = tmp_path / "out"
    out.mkdir()
    (out / GRID_FILE).write_bytes(content)
    before = _snapshot(out)
    path = str(out / GRID_FILE)
    for args in (
        ["run-one", "--out", out, "--method", "kd", "--teachers", tmp_path / "teachers"],
        ["run-one", "--out", out, "--index", "0", "--teachers", tmp_path / "teachers"],
        ["status", out],
    ):
        _one_error(_invoke(*args), path, why, "move it aside")
    with pytest.raises(BadInput, match="it is left as it is"):
        register_specs(out, _kd_cells([1]))
    assert _snapshot(out) == before


def test_grid_file_that_cannot_be_read_is_one_line(tmp_path: Path):
    (tmp_path / GRID_FILE).mkdir()
    before = _snapshot(tmp_path)
    _one_error(_invoke("status", tmp_path), f"{tmp_path / GRID_FILE} cannot be read (Is a directory)")
    with pytest.raises(BadInput, match="cannot be read"):
        register_specs(tmp_path, _kd_cells([0]))
    assert _snapshot(tmp_path) == before


def test_any_other_file_system_error_is_one_line_naming_the_path(tmp_path: Path):
    record = tmp_path / "teachers" / "mnist" / "lenet5.json"
    record.mkdir(parents=True)  # a folder where a teacher record should be
    _one_error(_invoke("teacher", "list", "--teachers", tmp_path / "teachers"), f"{record}: Is a directory")


def test_valid_grid_cells_load_back_as_registered(tmp_path: Path):
    cells = expand(GridRequest(methods=["kd", "ssdkd"], scales=["600"], seeds=[0]))[0]
    register_specs(tmp_path, cells)
    loaded = load_grid(tmp_path)
    assert [c.spec for c in loaded] == cells and any(c.overrides for c in cells)
    assert [(c.config, c.hash, c.path) for c in loaded] == [
        (r.config, r.hash, r.path) for r in (resolve_cell(s, RunOptions(out=tmp_path)) for s in cells)
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--methods", "kd"],
        ["run", "--methods", "kd", "--dry-run"],
        ["run-one", "--method", "kd"],
        ["run-one", "--index", "0"],
    ],
    ids=["run", "dry-run", "run-one", "run-one-index"],
)
def test_out_that_is_a_file_is_one_line_and_untouched(tmp_path: Path, command: list[str]):
    out = tmp_path / "out.txt"
    out.write_text("not a folder\n")
    before = _snapshot(tmp_path)
    _one_error(_invoke(*command, "--out", out, "--teachers", tmp_path / "teachers"), str(out), "is not a folder")
    assert _snapshot(tmp_path) == before


def test_report_out_or_status_folder_that_is_a_file_is_one_line(tmp_path: Path):
    runs = tmp_path / "runs"
    rundir.write_result(rundir.run_dir(runs, "mnist", PAIR, "kd", None, 0), {"status": "done"})
    target = tmp_path / "report.md"
    target.write_text("mine\n")
    before = _snapshot(tmp_path)
    _one_error(_invoke("report", runs, "--out", target, "--format", "csv"), str(target), "is not a folder")
    _one_error(_invoke("status", target), f"no results folder {target}")
    assert _snapshot(tmp_path) == before


def _deny_writes_under(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """What a read-only folder or mount looks like to access(2) (root passes chmod bits, so they cannot be used)."""
    real = os.access

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and Path(path).resolve().is_relative_to(folder.resolve()):
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def _unwritable_commands(tmp_path: Path, out: Path) -> list[list]:
    # cifar10 with no data: were the --out check missing, the command would stop at its data, writing nothing
    missing = ["--datasets", "cifar10", "--methods", "fast2", "--data-root", tmp_path / "no-data"]
    runs = tmp_path / "runs"
    rundir.write_result(rundir.run_dir(runs, "mnist", PAIR, "kd", None, 0), {"status": "done"})
    return [
        ["run", *missing, "--out", out / "grid", "--teachers", tmp_path / "teachers"],
        ["run-one", "--method", "kd", "--out", out / "grid", "--teachers", tmp_path / "teachers"],
        ["report", runs, "--out", out / "report", "--format", "csv"],
    ]


def test_unwritable_out_is_one_line_before_anything_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "read-only"
    out.mkdir()
    commands = _unwritable_commands(tmp_path, out)
    _deny_writes_under(monkeypatch, out)
    before = _snapshot(tmp_path)
    for command in commands:
        _one_error(_invoke(*command), str(out), "is not writable")
    assert _snapshot(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a mode-0555 folder; the test above simulates it")
def test_read_only_folder_is_one_line_before_anything_is_written(tmp_path: Path):
    out = tmp_path / "read-only"
    out.mkdir()
    commands = _unwritable_commands(tmp_path, out)
    out.chmod(0o555)
    try:
        before = _snapshot(tmp_path)
        for command in commands:
            _one_error(_invoke(*command), str(out), "is not writable")
        assert _snapshot(tmp_path) == before
    finally:
        out.chmod(0o755)


@pytest.mark.parametrize(
    "failure",
    [OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), PermissionError(errno.EACCES, os.strerror(errno.EACCES))],
    ids=["disk-full", "permission"],
)
def test_grid_file_write_failure_is_one_line_and_keeps_the_old_grid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: OSError, teachers_copy: Path
):
    """The teacher is in the store, so the grid file is the first thing `run-one --method` writes (a cell is
    registered with its teacher's sha256, so a missing teacher would be trained first)."""
    out = tmp_path / "out"
    register_specs(out, _kd_cells([0]))
    before = _snapshot(out)

    def fail(*args, **kwargs):
        raise failure

    if failure.errno == errno.ENOSPC:
        monkeypatch.setattr(os, "fsync", fail)  # where a full disk shows up for a small file
    else:
        monkeypatch.setattr(tempfile, "mkstemp", fail)
    result = _invoke("run-one", "--method", "kd", "--seed", "1", "--out", out, "--teachers", teachers_copy)
    _one_error(result, f"cannot write the grid file {out / GRID_FILE}: {failure.strerror}")
    assert _snapshot(out) == before, "old grid kept, no temporary file left behind"


def test_grid_folder_under_a_file_is_a_bad_input_naming_the_grid_file(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadInput, match=f"cannot write the grid file {tmp_path / 'file' / 'sub' / GRID_FILE}"):
        register_specs(tmp_path / "file" / "sub", _kd_cells([0]))


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--methods", "kd", "--dry-run", "--out", "OUT"],
        ["run-one", "--method", "kd", "--out", "OUT"],
        ["train", "--model", "lenet5", "--dataset", "mnist"],
        ["teacher", "import", "ckpt.pth", "--model", "lenet5", "--dataset", "mnist"],
        ["teacher", "list"],
        ["list", "teachers"],
    ],
    ids=["run", "run-one", "train", "import", "teacher-list", "list-teachers"],
)
def test_teachers_that_is_a_file_is_one_line(tmp_path: Path, command: list[str]):
    teachers = tmp_path / "teachers"
    teachers.write_text("not a store\n")
    command = [tmp_path / "out" if a == "OUT" else a for a in command]
    before = _snapshot(tmp_path)
    _one_error(_invoke(*command, "--teachers", teachers), f"--teachers {teachers} is not a folder")
    assert _snapshot(tmp_path) == before


# 3. status


def test_status_without_a_grid_is_one_line(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_error(_invoke("status", empty), f"no grid in {empty}", GRID_FILE)
    _one_error(_invoke("status", tmp_path / "missing"), f"no results folder {tmp_path / 'missing'}")
    assert _snapshot(tmp_path) == [("empty", None, empty.stat().st_mode)]


def _done_cell(out: Path) -> Path:
    """A grid of one kd cell recorded as done, with its checkpoint, digest and metrics, as a finished run leaves it."""
    spec = _kd_cells([0])[0]
    register_specs(out, [spec])
    cell = resolve_cell(spec, RunOptions(out=out))
    digest, path = cell.hash, cell.path
    rundir.save_checkpoint(path, {"epoch": 1})
    files.atomic_write_text(path / rundir.METRICS, '{"epoch": 0}\n')
    rundir.write_result(path, {"status": "done", "config_hash": digest, "epochs_done": 1, **spec.__dict__})
    return path


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda run: (run / rundir.CHECKPOINT).write_bytes(b"edited"), "ckpt/last.pt does not match last.pt.sha256"),
        (lambda run: (run / rundir.CHECKPOINT).unlink(), "ckpt/last.pt missing"),
        (lambda run: (run / rundir.CHECKPOINT_DIGEST).unlink(), "ckpt/last.pt.sha256 missing"),
        (lambda run: (run / rundir.METRICS).unlink(), "metrics.jsonl missing"),
    ],
    ids=["checkpoint-edited", "checkpoint-missing", "digest-missing", "metrics-missing"],
)
def test_status_lists_done_cells_whose_checkpoint_or_metrics_are_damaged(tmp_path: Path, damage, problem: str):
    out = tmp_path / "out"
    run = _done_cell(out)
    healthy = CliRunner().invoke(cli, ["status", str(out)], terminal_width=250)
    assert healthy.exit_code == 0 and "damaged" not in healthy.output, healthy.output
    damage(run)
    result = CliRunner().invoke(cli, ["status", str(out)], terminal_width=250)
    assert result.exit_code == 0, result.output
    damaged = [line for line in result.output.splitlines() if line.startswith("damaged")]
    assert damaged == [f"damaged #0 mnist/{PAIR}/kd/seed-0 (done): {problem} in {run}"]


def test_rerun_restores_the_metrics_of_a_done_cell_from_its_verified_checkpoint(tmp_path: Path):
    from dfkd_bench.engine.run import run_one

    out = tmp_path / "out"
    run = _done_cell(out)
    history = [{"epoch": 0, "top1": 50.0}, {"epoch": 1, "top1": 60.0}]
    rundir.save_checkpoint(run, {"epoch": 2, "history": history})
    (run / rundir.METRICS).unlink()
    result = run_one(_kd_cells([0])[0], RunOptions(out=out))
    assert result["status"] == "done" and result["epochs_done"] == 1, "the recorded result stands, nothing reruns"
    lines = (run / rundir.METRICS).read_text().splitlines()
    assert [json.loads(line) for line in lines] == history
    assert "metrics.jsonl restored from the verified checkpoint" in (run / rundir.LOG).read_text()
    assert rundir.run_damage(run) == []


def test_rerun_leaves_a_done_cell_alone_when_its_checkpoint_cannot_be_trusted(tmp_path: Path):
    from dfkd_bench.engine.run import run_one

    out = tmp_path / "out"
    run = _done_cell(out)
    (run / rundir.METRICS).unlink()
    (run / rundir.CHECKPOINT).write_bytes(b"edited")
    before = (run / rundir.RESULT).read_bytes()
    assert run_one(_kd_cells([0])[0], RunOptions(out=out))["status"] == "done"
    assert (run / rundir.RESULT).read_bytes() == before and not (run / rundir.METRICS).exists()
    assert rundir.run_damage(run) == [
        "ckpt/last.pt does not match last.pt.sha256",
        "metrics.jsonl missing",
    ]


# 4. report


def _runs_with_summary(root: Path) -> Path:
    for seed in (0, 1):
        run = rundir.run_dir(root, "mnist", PAIR, "kd", None, seed)
        result = {"dataset": "mnist", "pair": PAIR, "method": "kd", "seed": seed, "status": "done"}
        rundir.write_result(run, {**result, "best_top1": 90.0 + seed, "last_top1": 89.0, "times": {"total": 3.0}})
    write_summary(root)
    return root / "summary.csv"


@pytest.mark.parametrize("cut", ["inside-a-path", "inside-a-row", "whole-rows", "everything"])
def test_report_rebuilds_a_summary_that_disagrees_with_the_runs(tmp_path: Path, cut: str):
    summary = _runs_with_summary(tmp_path / "runs")
    good = summary.read_bytes()
    end = {
        "inside-a-path": len(good) - 40,
        "inside-a-row": good.rindex(b",done,"),
        "whole-rows": good.index(b"\n") + 1,
        "everything": 0,
    }[cut]
    summary.write_bytes(good[:end])
    result = _invoke("report", tmp_path / "runs", "--out", tmp_path / "report", "--format", "csv")
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stdout.splitlines() if "did not match" in line]
    assert notes == [f"{summary} did not match the run directories under {tmp_path / 'runs'}; rebuilt it from their "
                     "result.json files"]  # fmt: skip
    assert summary.read_bytes() == good


def test_report_keeps_a_summary_that_agrees_with_the_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from dfkd_bench.report.build import load_summary

    summary = _runs_with_summary(tmp_path / "runs")
    before = _snapshot(tmp_path / "runs")
    notes: list[str] = []
    frame = load_summary(tmp_path / "runs", notes.append)
    assert notes == [] and list(frame["best_top1"]) == [90.0, 91.0]
    monkeypatch.chdir(tmp_path / "runs")  # the same runs named from elsewhere still agree
    assert len(load_summary(Path("."), notes.append)) == 2 and notes == []
    assert _snapshot(tmp_path / "runs") == before
    assert summary.exists()


# 5. train


def _fake_store(root: Path) -> Path:
    (root / "mnist").mkdir(parents=True)
    (root / "mnist" / "lenet5.pt").write_bytes(b"weights")
    (root / "mnist" / "lenet5.json").write_text('{"sha256": "x"}\n')
    return root


def test_train_refuses_to_replace_a_stored_teacher_without_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import dfkd_bench.train

    teachers = _fake_store(tmp_path / "teachers")
    before = _snapshot(teachers)
    args = ["train", "--model", "lenet5", "--dataset", "mnist", "--teachers", teachers]
    _one_error(_invoke(*args), str(teachers / "mnist" / "lenet5.pt"), "--force")
    assert _snapshot(teachers) == before
    calls = []

    def fake_train(model, dataset, store, *rest, **kwargs):
        calls.append((model, dataset, store.root))
        return {"metric": "top1", "test_top1": 99.0, "train_seconds": 1.0, "sha256": "ab" * 32}

    monkeypatch.setattr(dfkd_bench.train, "train_into_store", fake_train)
    forced = _invoke(*args, "--force")
    assert forced.exit_code == 0, forced.output
    assert calls == [("lenet5", "mnist", teachers)]


def test_teacher_import_refuses_to_replace_a_stored_teacher_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import dfkd_bench.train

    teachers = _fake_store(tmp_path / "teachers")
    before = _snapshot(teachers)
    file = tmp_path / "mnist_lenet5.pth"
    file.write_bytes(b"not read before the refusal")
    args = ["teacher", "import", file, "--model", "lenet5", "--dataset", "mnist", "--teachers", teachers]
    _one_error(_invoke(*args), str(teachers / "mnist" / "lenet5.pt"), "--force")
    assert _snapshot(teachers) == before
    calls = []

    def fake_import(store, path, model, dataset, *rest):
        calls.append((Path(path), model, dataset))
        return {"metric": "top1", "test_top1": 99.0, "sha256": "ab" * 32}

    monkeypatch.setattr(dfkd_bench.train, "import_teacher", fake_import)
    forced = _invoke(*args, "--force")
    assert forced.exit_code == 0, forced.output
    assert calls == [(file, "lenet5", "mnist")]


@pytest.mark.parametrize("epochs", ["0", "-1", "two"])
def test_train_epochs_must_be_a_positive_integer(tmp_path: Path, epochs: str):
    _one_error(
        _invoke("train", "--model", "lenet5", "--dataset", "mnist", "--epochs", epochs, "--teachers", tmp_path),
        "--epochs",
    )
    assert list(tmp_path.iterdir()) == []


def test_recipe_refuses_non_positive_epochs():
    from dfkd_bench.recipes import recipe_for

    assert recipe_for("mnist", 1).epochs == 1 and recipe_for("mnist").epochs == 3
    with pytest.raises(BadInput, match="positive integer, got 0"):
        recipe_for("mnist", 0)


# 6. slurm without sbatch


def test_slurm_launcher_without_sbatch_is_one_line_unless_local_or_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from dfkd_bench.launch.slurm import check_cluster

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    out = tmp_path / "out"
    result = _invoke("run", "--methods", "kd", "--launcher", "slurm", "--out", out, "--teachers", tmp_path / "t")
    _one_error(result, "sbatch", "--slurm-cluster local", "--slurm-cluster debug")
    assert not out.exists() and not (tmp_path / "t").exists()
    for cluster in ("slurm", None):
        with pytest.raises(BadInput, match="sbatch"):
            check_cluster(cluster)
    check_cluster("local")
    check_cluster("debug")
    sbatch = bin_dir / "sbatch"
    sbatch.write_text("#!/bin/sh\n")
    sbatch.chmod(0o755)
    check_cluster(None)
    check_cluster("slurm")


# 7. click usage errors


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["run", "--methds", "kd"],
            ["No such option '--methds'", "Did you mean", "--methods", "dfkd-bench run --help"],
        ),
        (["runn"], ["No such command 'runn'", "'run'"]),
        (["--bogus"], ["No such option '--bogus'"]),
        (["list"], ["Missing argument", "models, methods, presets, datasets, pairs, teachers"]),
        (["list", "modles"], ["'modles' is not one of 'models'"]),
        (["show", "method"], ["Missing argument 'NAME'", "dfkd-bench show method --help"]),
        (["report", "/nonexistent-runs"], ["'/nonexistent-runs' does not exist"]),
    ],
)
def test_usage_errors_are_one_line(args: list[str], fragments: list[str]):
    result = CliRunner().invoke(cli, args, prog_name="dfkd-bench")
    _one_error(result, *fragments)


def test_help_is_still_click_help():
    result = CliRunner().invoke(cli, ["run", "--help"], prog_name="dfkd-bench")
    assert result.exit_code == 0
    assert result.output.startswith("Usage: dfkd-bench run [OPTIONS]") and "--methods" in result.output
    assert len(result.output.splitlines()) > 10
    bare = CliRunner().invoke(cli, [], prog_name="dfkd-bench")
    assert bare.output.startswith("Usage: dfkd-bench") and "Commands:" in bare.output
