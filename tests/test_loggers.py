"""The optional loggers (extras `tensorboard`, `wandb`) on a tiny real MNIST run: TensorBoard's scalars and the
offline W&B run's history equal metrics.jsonl epoch by epoch, a resumed run shows each epoch once, a logger never
changes a cell's config hash or its results, local workers get the same loggers, and an unknown or uninstalled
logger is one `error:` line before anything is written. No network: W&B runs with WANDB_MODE=offline."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tiny import TINY
from wandb.proto import wandb_internal_pb2

from dfkd_bench.cli import cli, run_one_command
from dfkd_bench.engine.spec import RunOptions
from dfkd_bench.launch.local import worker_command

PAIR = "lenet5_bn-lenet5_half_bn"
RUN = Path("mnist") / PAIR / "deepinv" / "scale-auto" / "seed-0"
# Fields every deepinv epoch has a number for: accuracy, the KD loss and its part, synthesis loss, lr, time, scale.
EXPECTED_FIELDS = {"top1", "top5", "test_loss", "kd_loss", "kd_loss_kl", "synth_loss", "lr", "seconds", "data_scale"}


def _command(out: Path, teachers: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "dfkd_bench", "run", "--methods", "deepinv", "--budget", "quick", "--device", "cpu"]
    cmd += ["--out", str(out), "--teachers", str(teachers), *extra]
    for key, value in TINY.items():
        cmd += ["--set", f"{key}={value}"]
    return cmd


def _offline_env(tmp_path: Path) -> dict[str, str]:
    """W&B offline, with every folder it keeps outside the run in tmp_path; project and group at our defaults."""
    home = tmp_path / "wandb-home"
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_PROJECT", "WANDB_RUN_GROUP", "WANDB_API_KEY")}
    return {
        **env,
        "OMP_NUM_THREADS": "1",
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(home / "dir"),
        "WANDB_CONFIG_DIR": str(home / "config"),
        "WANDB_CACHE_DIR": str(home / "cache"),
        "WANDB_DATA_DIR": str(home / "data"),
    }


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _expected(records: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """Tag -> (epoch, value) for every numeric field of metrics.jsonl."""
    found: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        for key, value in record.items():
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                found.setdefault(key, []).append((record["epoch"], value))
    return found


def _assert_tensorboard_mirrors(run: Path) -> None:
    expected = _expected(_metrics(run))
    assert set(expected) >= EXPECTED_FIELDS
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == sorted(expected)
    for tag, points in expected.items():
        # TensorBoard keeps scalars as float32
        assert [(e.step, e.value) for e in events.Scalars(tag)] == [(s, float(np.float32(v))) for s, v in points], tag


def _wandb_records(path: Path) -> Iterator[wandb_internal_pb2.Record]:
    """The records of a `.wandb` file: W&B's header (':W&B', magic, version; 7 bytes), then LevelDB-log chunks of
    at most 32 KiB blocks, each with a 7-byte header (crc32c, length, type: 1 full, 2 first, 3 middle, 4 last)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    block, header = 32768, 7
    position, pending = header, b""
    while position + header <= len(data):
        if block - position % block < header:  # a block's tail too short for a header is padding
            position += block - position % block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + header])
        if kind == 0:
            break
        pending += data[position + header : position + header + length]
        position += header + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def _offline_run(folder: Path) -> tuple[wandb_internal_pb2.RunRecord, dict[int, dict[str, float]]]:
    """An offline W&B run folder's run record and its history, step -> logged keys (W&B's own `_` keys left out)."""
    (path,) = folder.glob("run-*.wandb")
    run, history = None, {}
    for record in _wandb_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
        elif kind == "history":
            items = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            history[record.history.step.num] = {k: v for k, v in items.items() if not k.startswith("_")}
    assert run is not None
    return run, history


def _history_as_logged(records: list[dict]) -> dict[int, dict[str, float]]:
    expected = _expected(records)
    return {r["epoch"]: {tag: dict(points)[r["epoch"]] for tag, points in expected.items()} for r in records}


def _run(cmd: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=_offline_env(tmp_path), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + done.stdout
    return done


def _assert_same_results(run: Path, reference: Path) -> None:
    """A logged run's records equal the unlogged reference's (its times aside)."""
    a, b = (json.loads((r / "result.json").read_text()) for r in (run, reference))
    for field in ("status", "best_top1", "last_top1", "per_class_top1", "data_scale", "epochs_done", "config_hash"):
        assert a[field] == b[field], field
    untimed = [[{k: v for k, v in r.items() if k != "seconds"} for r in _metrics(x)] for x in (run, reference)]
    assert untimed[0] == untimed[1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, teacher_root: Path) -> Path:
    """The tiny cell run without loggers: what every logged run must reproduce."""
    out = tmp_path_factory.mktemp("reference")
    _run(_command(out, teacher_root), out)
    return out / RUN


def test_tensorboard_and_wandb_mirror_metrics_jsonl_and_leave_the_hash_alone(
    tmp_path: Path, teacher_root: Path, reference: Path
):
    out = tmp_path / "grid"
    done = _run(_command(out, teacher_root, "--loggers", "tensorboard,wandb"), tmp_path)
    assert "warning:" not in done.stderr, done.stderr
    run = out / RUN
    _assert_same_results(run, reference)
    records = _metrics(run)
    assert [r["epoch"] for r in records] == [0, 1, 2]
    _assert_tensorboard_mirrors(run)

    result = json.loads((run / "result.json").read_text())
    (folder,) = (run / "wandb").glob("offline-run-*")
    wandb_run, history = _offline_run(folder)
    assert wandb_run.run_id.startswith(result["config_hash"] + "-")
    assert wandb_run.display_name == RUN.as_posix()
    assert (wandb_run.project, wandb_run.run_group) == ("dfkd-bench", "grid")
    config = {item.key: json.loads(item.value_json) for item in wandb_run.config.update}
    assert config["config_hash"] == result["config_hash"]
    assert config["train"]["epochs"] == 3 and config["run"]["method"] == "deepinv"
    assert history == _history_as_logged(records)

    # The same command without loggers finds the cell done (a changed hash would be refused) and leaves it as is.
    before = (run / "result.json").read_bytes()
    again = CliRunner().invoke(cli, _command(out, teacher_root)[3:])
    assert again.exit_code == 0, again.output
    assert (run / "result.json").read_bytes() == before
    assert (run / "log.txt").read_text().count(" started ") == 1
    grid = json.loads((out / "grid.json").read_text())
    assert [c["config_hash"] for c in grid["cells"]] == [result["config_hash"]]
    assert "tensorboard" not in (out / "grid.json").read_text()


RESUME_SCRIPT = """
import sys
from pathlib import Path
from dfkd_bench.engine.run import resolve_cell
from dfkd_bench.engine.spec import RunOptions, RunSpec
from dfkd_bench.launch.worker import execute

class StopAfterFirstEpoch:
    def epoch_done(self, spec, record, epochs):
        raise KeyboardInterrupt

opts = RunOptions(out=Path(sys.argv[1]), teachers=Path(sys.argv[2]), device="cpu", loggers=("tensorboard", "wandb"))
cell = resolve_cell(RunSpec("mnist", {pair!r}, "deepinv", 0, {overrides!r}, "quick"), opts)
try:
    execute(cell, opts, StopAfterFirstEpoch())
except KeyboardInterrupt:
    pass
print(execute(cell, opts)["status"])
"""


def test_a_resumed_run_shows_each_epoch_once(tmp_path: Path, teacher_root: Path, reference: Path):
    """Interrupted after epoch 0, then resumed: TensorBoard purges the first writer's events, and W&B continues the
    same run id (offline: a second folder holding the whole history)."""
    out = tmp_path / "grid"
    script = RESUME_SCRIPT.format(pair=PAIR, overrides=tuple(sorted(TINY.items())))
    done = _run([sys.executable, "-c", script, str(out), str(teacher_root)], tmp_path)
    assert done.stdout.split() == ["done"], done.stderr + done.stdout
    run = out / RUN
    assert "resumed at epoch 1" in (run / "log.txt").read_text()
    _assert_same_results(run, reference)
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 2
    _assert_tensorboard_mirrors(run)

    records = _metrics(run)
    folders = sorted((run / "wandb").glob("offline-run-*"), key=lambda p: p.stat().st_mtime_ns)
    assert len(folders) == 2
    (first_run, first), (second_run, second) = (_offline_run(f) for f in folders)
    assert first_run.run_id == second_run.run_id
    assert first == {0: _history_as_logged(records)[0]}
    assert second == _history_as_logged(records)


def test_a_failing_logger_leaves_the_results_and_the_other_logger_alone(
    tmp_path: Path, teacher_root: Path, reference: Path
):
    """A file where the TensorBoard folder would go makes that logger fail at the first epoch: one warning line,
    the run's records equal the unlogged run's, and W&B still gets every epoch."""
    out = tmp_path / "grid"
    run = out / RUN
    run.mkdir(parents=True)
    (run / "tensorboard").write_text("in the way\n")
    done = _run(_command(out, teacher_root, "--loggers", "tensorboard,wandb"), tmp_path)
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "the tensorboard logger stopped" in warnings[0], done.stderr
    _assert_same_results(run, reference)
    (folder,) = (run / "wandb").glob("offline-run-*")
    assert _offline_run(folder)[1] == _history_as_logged(_metrics(run))


def test_local_workers_get_the_same_loggers(tmp_path: Path):
    opts = RunOptions(out=tmp_path, loggers=("tensorboard", "wandb"))
    cmd = worker_command(tmp_path, 3, opts, "cpu")
    assert cmd[3] == "run-one"
    assert run_one_command.make_context("run-one", cmd[4:]).params["loggers"] == "tensorboard,wandb"


@pytest.mark.parametrize("command", [["run"], ["run-one", "--method", "kd"]], ids=["run", "run-one"])
def test_an_unknown_logger_is_one_error_line_before_anything_is_written(tmp_path: Path, command: list[str]):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [*command, "--out", str(out), "--loggers", "tensorboard,mlflow"])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == ["error: unknown logger 'mlflow'; valid choices: tensorboard, wandb"]
    assert not out.exists()


@pytest.mark.parametrize("logger", ["tensorboard", "wandb"])
def test_a_logger_without_its_package_names_the_extra(tmp_path: Path, monkeypatch, logger: str):
    monkeypatch.setitem(sys.modules, logger, None)  # what an environment without the package looks like to import
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "--out", str(out), "--loggers", logger])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: the {logger} logger needs the {logger} package: pip install 'dfkd-bench[{logger}]'"
    ]
    assert not out.exists()
