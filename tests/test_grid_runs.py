"""A tiny real grid (MNIST, deepinv and kd, 2 seeds) through the real command line: SIGKILLed runners resume to
the uninterrupted results, concurrent runners split the cells, corrupt records are detected and redone, and the
slurm launcher runs through submitit's debug and local executors."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tiny import TINY

from dfkd_bench.engine.run import run_cell
from dfkd_bench.engine.spec import RunOptions
from dfkd_bench.grid import GridRequest
from dfkd_bench.gridfile import load_grid
from dfkd_bench.launch import LaunchSettings
from dfkd_bench.runner import run_request

COMPARED = ("best_top1", "last_top1", "per_class_top1", "data_scale", "epochs_done", "config_hash")


def _command(out: Path, teachers: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "dfkd_bench", "run", "--methods", "deepinv,kd", "--seeds", "0,1"]
    cmd += ["--budget", "quick", "--device", "cpu", "--out", str(out), "--teachers", str(teachers), *extra]
    for key, value in TINY.items():
        cmd += ["--set", f"{key}={value}"]
    return cmd


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "DFKD_BENCH_HEARTBEAT_S": "0.5", "DFKD_BENCH_STALE_AFTER_S": "5"}


def _results(out: Path) -> dict[str, dict]:
    found = {}
    for path in sorted(out.glob("**/seed-*/result.json")):
        key = str(path.parent.relative_to(out))
        assert key not in found
        found[key] = json.loads(path.read_text())
    return found


def _students(out: Path) -> dict[str, dict]:
    return {
        str(p.parent.parent.relative_to(out)): torch.load(p, weights_only=True)["student"]
        for p in sorted(out.glob("**/seed-*/ckpt/last.pt"))
    }


def _best_students(out: Path) -> dict[str, dict]:
    return {
        str(p.parent.parent.relative_to(out)): torch.load(p, weights_only=True)
        for p in sorted(out.glob("**/seed-*/ckpt/best_student.pt"))
    }


def _assert_same_as(reference: Path, out: Path) -> None:
    a, b = _results(reference), _results(out)
    assert sorted(a) == sorted(b) and len(b) == 4, "exactly one result per cell"
    for key in a:
        assert b[key]["status"] == "done", key
        for field in COMPARED:
            assert a[key][field] == b[key][field], (key, field)
    sa, sb = _students(reference), _students(out)
    for key in sa:
        assert all(torch.equal(sa[key][k], sb[key][k]) for k in sa[key]), key
    best_a, best_b = _best_students(reference), _best_students(out)
    assert sorted(best_a) == sorted(best_b) == sorted(a), "every cell keeps its best epoch's student"
    for key in best_a:
        assert best_a[key]["epoch"] == best_b[key]["epoch"] == b[key]["best_epoch"] == b[key]["best_student_epoch"]
        assert all(torch.equal(best_a[key]["student"][k], best_b[key]["student"][k]) for k in best_a[key]["student"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, teacher_root: Path) -> Path:
    """The uninterrupted grid every other test compares against."""
    out = tmp_path_factory.mktemp("reference")
    done = subprocess.run(_command(out, teacher_root), env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + done.stdout
    return out


def test_sigkill_at_random_moments_then_rerun_completes_the_same_grid(
    tmp_path: Path, teacher_root: Path, reference: Path
):
    rng = random.Random(20261125)
    for trial in range(3):
        out = tmp_path / f"trial-{trial}"
        for _ in range(2):
            runner = subprocess.Popen(_command(out, teacher_root), env=_env(), stdout=subprocess.DEVNULL)
            time.sleep(rng.uniform(2.0, 9.0))
            runner.send_signal(signal.SIGKILL)
            runner.wait()
        rerun = subprocess.run(_command(out, teacher_root), env=_env(), capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr + rerun.stdout
        _assert_same_as(reference, out)
        assert not list(out.glob("**/corrupt-*")), "a kill never leaves a corrupt record"


def test_two_concurrent_runners_run_no_cell_twice(tmp_path: Path, teacher_root: Path, reference: Path):
    out = tmp_path / "shared"
    runners = [subprocess.Popen(_command(out, teacher_root), env=_env(), stdout=subprocess.DEVNULL) for _ in range(2)]
    assert [r.wait(timeout=300) for r in runners] == [0, 0]
    _assert_same_as(reference, out)
    for log in out.glob("**/seed-*/log.txt"):
        text = log.read_text()
        assert text.count(" started ") == 1 and "resumed" not in text, log


def test_local_launcher_with_two_cpu_workers(tmp_path: Path, teacher_root: Path, reference: Path):
    out = tmp_path / "local"
    done = subprocess.run(
        _command(out, teacher_root, "--launcher", "local", "--workers", "2"), env=_env(), capture_output=True
    )
    assert done.returncode == 0, done.stderr
    _assert_same_as(reference, out)
    assert len(list((out / ".workers").glob("worker-*.log"))) == 2


@pytest.fixture
def one_thread(monkeypatch: pytest.MonkeyPatch):
    """In-process runs (and the processes they spawn) use one thread like the reference runs, so float reductions,
    and therefore results, are bit-identical."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield
    torch.set_num_threads(threads)


def _opts(out: Path, teachers: Path) -> RunOptions:
    return RunOptions(out=out, teachers=teachers, device="cpu")


def _request() -> GridRequest:
    return GridRequest(methods=["deepinv", "kd"], seeds=[0, 1], overrides=dict(TINY), budget="quick")


class _StopAfterFirstEpoch:
    def epoch_done(self, spec, record, epochs) -> None:
        raise KeyboardInterrupt


def test_corrupt_result_and_checkpoint_are_detected_and_redone(
    tmp_path: Path, teacher_root: Path, reference: Path, one_thread: None
):
    out = tmp_path / "corrupt"
    opts = _opts(out, teacher_root)
    assert run_request(_request(), opts).complete
    cells = {str(p.parent.relative_to(out)): p.parent for p in out.glob("**/seed-*/result.json")}
    truncated, edited, garbled, unverified = sorted(cells.values())
    text = (truncated / "result.json").read_text()
    (truncated / "result.json").write_text(text[: len(text) // 2])
    record = json.loads((edited / "result.json").read_text())
    record["best_top1"] = 99.9
    (edited / "result.json").write_text(json.dumps(record))
    for path in (garbled, unverified):
        for name in ("result.json", "ckpt/last.pt", "ckpt/last.pt.sha256", "metrics.jsonl"):
            (path / name).unlink()
    cell = next(c for c in load_grid(out) if c.path == garbled)
    with pytest.raises(KeyboardInterrupt):
        run_cell(cell, opts, _StopAfterFirstEpoch())
    blob = bytearray((garbled / "ckpt" / "last.pt").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (garbled / "ckpt" / "last.pt").write_bytes(bytes(blob))
    cell = next(c for c in load_grid(out) if c.path == unverified)
    with pytest.raises(KeyboardInterrupt):
        run_cell(cell, opts, _StopAfterFirstEpoch())
    (unverified / "ckpt" / "last.pt.sha256").unlink()

    assert run_request(_request(), opts).complete
    _assert_same_as(reference, out)
    for path in (truncated, edited):
        assert "resuming from the verified checkpoint" in (path / "log.txt").read_text()
    for path in (garbled, unverified):
        assert "the cell starts over" in (path / "log.txt").read_text()
        assert list((path / "ckpt").glob("last.pt.corrupt-*")), "the bad checkpoint is kept aside, not deleted"


@pytest.fixture
def submitit():
    """The optional slurm extra: only the tests that need it skip without it."""
    return pytest.importorskip("submitit")


@pytest.mark.parametrize("cluster", ["debug", "local"])
def test_slurm_launcher_through_submitit(
    tmp_path: Path, teacher_root: Path, reference: Path, cluster: str, one_thread: None, submitit
):
    out = tmp_path / cluster
    settings = LaunchSettings(slurm_cluster=cluster, timeout_min=10, cpus_per_task=1, wait=True)
    outcome = run_request(_request(), _opts(out, teacher_root), launcher="slurm", settings=settings)
    assert outcome.complete and len(outcome.results) == 4
    _assert_same_as(reference, out)
    workers = {log.read_text().split(" by ")[1].split()[0] for log in out.glob("**/seed-*/log.txt")}
    in_process = {f"{socket.gethostname()}:{os.getpid()}"}
    assert workers == in_process if cluster == "debug" else (len(workers) == 4 and not workers & in_process)
    if cluster == "local":
        assert len(list((out / ".slurm").glob("*/*_result.pkl"))) == 4


def test_slurm_requeue_hook_releases_the_claim_and_resubmits(tmp_path: Path, teacher_root: Path, submitit):
    from dfkd_bench.claims import Claim, current_claim
    from dfkd_bench.launch.slurm import CellTask

    task = CellTask(_opts(tmp_path, teacher_root))
    task._claim = Claim(tmp_path / "claims")
    assert task._claim.try_acquire()
    resubmission = task.checkpoint(3)
    assert isinstance(resubmission, submitit.helpers.DelayedSubmission) and resubmission.args == (3,)
    assert current_claim(tmp_path / "claims") is None


def _dry_run(out: Path, teachers: Path, *extra: str) -> str:
    from click.testing import CliRunner

    from dfkd_bench.cli import cli

    args = _command(out, teachers, "--dry-run", *extra)[3:]
    result = CliRunner().invoke(cli, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test_dry_run_states_and_estimates_from_measured_cells(tmp_path: Path, teacher_root: Path, reference: Path):
    import shutil

    out = tmp_path / "grown"
    shutil.copytree(reference, out)
    text = _dry_run(out, teacher_root, "--seeds", "0,1,2")
    assert "6 cells: 4 done, 2 pending" in text
    pending = [line for line in text.splitlines() if " pending " in line]
    assert len(pending) == 2 and all(" 2 " in line and " s " in line for line in pending), pending
    assert "estimated remaining" in text and "unknown" not in text
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir()), "dry run wrote"


def test_dry_run_calibrates_unmeasured_cells_on_this_device(tmp_path: Path, teacher_root: Path):
    text = _dry_run(tmp_path / "fresh", teacher_root, "--calibrate")
    assert "4 cells: 4 pending" in text and "unknown" not in text and "?" not in text
    assert not (tmp_path / "fresh").exists() or not list((tmp_path / "fresh").glob("**/result.json"))


def test_status_counts_states_and_points_at_failed_logs(tmp_path: Path, teacher_root: Path, reference: Path):
    import shutil

    from click.testing import CliRunner

    from dfkd_bench.cli import cli
    from dfkd_bench.rundir import read_result, write_result

    out = tmp_path / "status"
    shutil.copytree(reference, out)
    failed = next(out.glob("**/kd/scale-auto/seed-1"))
    write_result(failed, {**read_result(failed), "status": "failed", "error": "RuntimeError: boom"})
    stale = next(out.glob("**/deepinv/scale-auto/seed-0"))
    write_result(stale, {**read_result(stale), "status": "running"})
    result = CliRunner().invoke(cli, ["status", str(out)], terminal_width=250)
    assert result.exit_code == 0, result.output
    assert "done  " in result.output or "done " in result.output
    assert "stale" in result.output and "RuntimeError: boom" in result.output
    assert str(failed / "log.txt") in result.output


def test_status_at_80_columns_and_as_json(tmp_path: Path, reference: Path):
    import io

    from rich.console import Console

    from dfkd_bench.overview import grid_status, status_tables
    from dfkd_bench.summary import collect

    tables, _ = status_tables(reference)
    buffer = io.StringIO()
    console = Console(width=80, file=buffer, color_system=None)
    for table in tables:
        console.print(table)
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    for row in collect(reference).itertuples(index=False):
        line = next(x for x in text.splitlines() if f" {row.method} " in x and f" {row.seed} " in x)
        assert f"{row.best_top1:.2f}" in line and f"{row.total_s:.2f}" in line, line
    status = json.loads(json.dumps(grid_status(reference)))
    assert status["cells"] == 4 and status["states"]["done"] == 4 and len(status["runs"]) == 4


def test_dry_run_of_a_finished_grid_says_nothing_is_left(teacher_root: Path, reference: Path):
    text = _dry_run(reference, teacher_root)
    assert "4 cells: 4 done; estimated remaining nothing left" in " ".join(text.split())
    assert "prerequisites: all found" in text and "unknown" not in text
