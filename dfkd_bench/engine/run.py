"""The life of one grid cell's run: resolve, skip or resume, train epoch by epoch through a TrainLoop, record the
outcome. `run_one` is idempotent and resumable, so any scheduler (a loop, a GPU pool, Slurm) can drive it."""

from __future__ import annotations

import os
import socket
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import torch

from dfkd_bench.config import config_hash, get_card, require_task_support, resolve
from dfkd_bench.data import task_of
from dfkd_bench.engine.spec import ResolvedCell, RunOptions, RunSpec
from dfkd_bench.engine.train_loop import TrainLoop
from dfkd_bench.envinfo import device_name, environment
from dfkd_bench.errors import BadInput
from dfkd_bench.files import atomic_write_json, atomic_write_yaml, utc_now
from dfkd_bench.methods import METHODS
from dfkd_bench.methods.base import params_from_dict
from dfkd_bench.pairs import split_pair
from dfkd_bench.rundir import (
    CHECKPOINT,
    CHECKPOINT_DIGEST,
    CONFIG,
    ENV,
    LOG,
    METRICS,
    CorruptRecord,
    load_checkpoint,
    read_result,
    run_dir,
    write_metrics,
    write_result,
)
from dfkd_bench.teachers import TeacherStore


class EpochObserver(Protocol):
    def epoch_done(self, spec: RunSpec, record: dict[str, Any], epochs: int) -> None: ...


class CellAbandoned(BaseException):
    """Raised by an observer when this process must stop a cell without writing to it (its claim was taken)."""


class CellBuildError(Exception):
    """A cell that could not be built after its directory was made; it is recorded as failed, so it is a cell's
    failure (exit 1), not bad input (exit 2), even when the cause was a BadInput such as a damaged teacher."""


def resolve_cell(spec: RunSpec, opts: RunOptions) -> ResolvedCell:
    """The cell's config resolved from its card, budget and overrides, its hash and its run directory; no side
    effects. Called once per cell, when a grid is registered (or for a cell run directly)."""
    card = get_card(spec.method)
    teacher, student = split_pair(spec.pair, spec.dataset)
    require_task_support(card, spec.dataset)
    resolved = resolve(card, spec.dataset, spec.pair, dict(spec.overrides), spec.budget)
    method_cls = card.method_class
    params = params_from_dict(method_cls, resolved["method"])
    record = TeacherStore(opts.teachers).record(spec.dataset, teacher) if method_cls.uses_teacher else None
    config = {
        "run": {
            **spec.identity(),
            "algorithm": card.algorithm,
            "teacher": teacher,
            "student": student,
            "trained": student if method_cls.trains_student(params) else teacher,
            "budget": spec.budget,
            "teacher_sha256": record["sha256"] if record else None,
        },
        **resolved,
    }
    out = run_dir(opts.out, spec.dataset, spec.pair, spec.method, resolved["train"]["data_scale"], spec.seed)
    return ResolvedCell(spec, config, config_hash(config), out)


def _set_aside(path: Path, why: str = "replaced") -> Path:
    """Keep a replaced or untrustworthy run next to the new one instead of deleting it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    target = path.with_name(f"{why}-{path.name}-{stamp}")
    path.rename(target)
    return target


def _log(path: Path, message: str) -> None:
    with open(path / LOG, "a") as f:
        f.write(f"{utc_now()} {message}\n")


def run_one(spec: RunSpec, opts: RunOptions, observer: EpochObserver | None = None) -> dict[str, Any]:
    """Resolve one cell and run it: the entry point for a cell outside a grid (tests, calibration, scripts)."""
    return run_cell(resolve_cell(spec, opts), opts, observer)


def _check_teacher(cell: ResolvedCell, opts: RunOptions) -> None:
    """Bad input, before anything is written: a teacher missing from the store, or replaced since the cell was
    resolved (the config records the sha256 it was resolved with)."""
    run = cell.config["run"]
    if not METHODS.get(run["algorithm"]).uses_teacher:
        return
    store = TeacherStore(opts.teachers)
    record = store.record(cell.spec.dataset, run["teacher"])
    if record is None or run["teacher_sha256"] is None:
        raise store.missing(cell.spec.dataset, run["teacher"])
    if record["sha256"] != run["teacher_sha256"]:
        raise BadInput(
            f"the {run['teacher']} teacher for {cell.spec.dataset} in {store.root} is not the one {cell.label} was "
            f"registered with (sha256 {record['sha256'][:12]}, registered {run['teacher_sha256'][:12]}); rerun the "
            "`dfkd-bench run` command to register the cell with this teacher"
        )


def run_cell(cell: ResolvedCell, opts: RunOptions, observer: EpochObserver | None = None) -> dict[str, Any]:
    """Run (or resume, or skip) one resolved cell and return its result.json content."""
    spec, config, digest, path = cell.spec, cell.config, cell.hash, cell.path
    try:
        previous = read_result(path)
    except CorruptRecord as err:
        previous = _recover_from_checkpoint(path, digest, err)
    if previous is not None:
        if previous.get("config_hash") != digest:
            if not opts.force:
                raise BadInput(
                    f"{path} holds a run with another config (hash {previous.get('config_hash')} != {digest}); "
                    "rerun with --force to start over (the old run is kept as replaced-...)"
                )
            _set_aside(path)
        elif previous.get("status") == "done" and not opts.force:
            _restore_done(path)
            return previous
        elif previous.get("status") == "done" or (previous.get("status") == "failed" and opts.force):
            _set_aside(path)
        elif previous.get("status") == "failed" and not opts.retry_failed:
            return previous
    _check_teacher(cell, opts)
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_yaml(path / CONFIG, {"config_hash": digest, **config})
    try:
        loop = TrainLoop(cell, opts)
    except Exception as err:  # a teacher that will not load, a value torch refuses: recorded, never silent
        write_result(path, _failed_before_start(config, digest, err))
        _log(path, "failed before the first epoch:\n" + traceback.format_exc())
        raise CellBuildError(f"{type(err).__name__}: {err}") from err
    if not (path / ENV).exists():
        atomic_write_json(path / ENV, environment(loop.device))
    state = _load_verified_checkpoint(path, loop.device)
    if state is not None:
        loop.load_state_dict(state)
        _log(path, f"resumed at epoch {loop.epoch} (resume #{loop.resumes}) by {_worker()}")
    else:
        _log(path, f"started {spec.label} config {digest} on {device_name(loop.device)} by {_worker()}")
    write_result(path, loop.summary("running"))
    try:
        while loop.epoch < loop.train.epochs:
            record = loop.run_epoch()
            _before_save(observer, spec)
            loop.save_progress("running")
            _log(path, _epoch_line(record))
            if observer is not None:
                observer.epoch_done(spec, record, loop.train.epochs)
    except CellAbandoned:
        _log(path, f"abandoned by {_worker()}: another worker took over this cell")
        raise
    except Exception as err:
        write_result(path, loop.summary("failed", f"{type(err).__name__}: {err}"))
        _log(path, "failed:\n" + traceback.format_exc())
        raise
    except BaseException:
        write_result(path, loop.summary("interrupted"))
        _log(path, "interrupted")
        raise
    result = loop.save_progress("done")
    best, last = result[f"best_{result['metric']}"], result[f"last_{result['metric']}"]
    _log(path, f"done: best {result['metric']} {best:.4g} last {last:.4g} total {result['times']}")
    return result


def _restore_done(path: Path) -> None:
    """A done cell's verified result stands; what its verified checkpoint can give back (metrics.jsonl, from the
    epoch history it holds) is written again. Damage it cannot repair stays for `status` to list."""
    if (path / METRICS).is_file():
        return
    try:
        state = load_checkpoint(path)
    except CorruptRecord:
        return
    if state is not None and "history" in state:
        write_metrics(path, state["history"])
        _log(path, f"{METRICS} restored from the verified checkpoint")


def _before_save(observer: EpochObserver | None, spec: RunSpec) -> None:
    """Give an observer that guards the cell (a claim) the chance to stop it before this epoch is written: a runner
    whose claim was taken over must not overwrite the new owner's checkpoint."""
    check = getattr(observer, "before_save", None)
    if check is not None:
        check(spec)


def _failed_before_start(config: dict[str, Any], digest: str, err: Exception) -> dict[str, Any]:
    """The record of a cell that failed while it was being built: who it is, its config hash and the error."""
    run = config["run"]
    return {
        "status": "failed",
        "error": f"{type(err).__name__}: {err}",
        "dataset": run["dataset"],
        "pair": run["pair"],
        "method": run["method"],
        "algorithm": run["algorithm"],
        "seed": run["seed"],
        "config_hash": digest,
        "epochs": config["train"]["epochs"],
        "epochs_done": 0,
        "metric": "miou" if task_of(run["dataset"]) == "segmentation" else "top1",
        "data_scale_setting": config["train"]["data_scale"],
        "times": {},
        "heartbeat": utc_now(),
    }


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _recover_from_checkpoint(path: Path, digest: str, err: CorruptRecord) -> dict[str, Any] | None:
    """An untrustworthy result.json is never used: the cell resumes from its verified checkpoint (which rewrites
    the record) or, without one, starts over with the old directory kept as corrupt-..."""
    try:
        state = load_checkpoint(path)
    except CorruptRecord:
        state = None
    if state is not None and state.get("config_hash") == digest:
        _log(path, f"{err}; resuming from the verified checkpoint")
        return {"status": "running", "config_hash": digest}
    kept = _set_aside(path, "corrupt")
    _log(kept, f"{err}; set aside, the cell starts over")
    return None


def _load_verified_checkpoint(path: Path, device: torch.device) -> dict[str, Any] | None:
    """The checkpoint to resume from; a corrupt one is kept aside as last.pt.corrupt-... and the cell starts over."""
    try:
        return load_checkpoint(path, map_location=device)
    except CorruptRecord as err:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        for name in (CHECKPOINT, CHECKPOINT_DIGEST):
            if (path / name).exists():
                (path / name).rename(path / f"{name}.corrupt-{stamp}")
        _log(path, f"{err}; the cell starts over")
        return None


def _epoch_line(record: dict[str, Any]) -> str:
    shown = {k: v for k, v in record.items() if not isinstance(v, list)}
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items())
