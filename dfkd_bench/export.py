"""A finished run's student as weights alone: `student_best.pt` (the epoch whose evaluation gave best_top1 or
best_miou) and `student_last.pt` (the final epoch), plain state_dicts that `create_model(architecture, num_classes,
in_channels)` loads with `strict=True`, each with a JSON sidecar saying how to rebuild it and what it scored.

Everything is read, verified against its digest and result.json, and loaded into the architecture before the
first file is written, so a bad run directory is one error and leaves nothing behind."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
import yaml

from dfkd_bench.config import config_hash
from dfkd_bench.data import get_spec
from dfkd_bench.errors import BadInput, unknown
from dfkd_bench.files import atomic_write_bytes, atomic_write_json, require_folder, sha256_hex
from dfkd_bench.models import create_model
from dfkd_bench.rundir import (
    BEST_STUDENT,
    CHECKPOINT,
    CONFIG,
    CorruptRecord,
    load_best_student,
    load_checkpoint,
    read_result,
    records_best_student,
)

KEEPS = ("best", "last", "both")
RUN_DIR_HINT = "give a run directory <out>/<dataset>/<pair>/<method>/scale-<n>/seed-<k> of a `dfkd-bench run`"


def export_student(run: Path, keep: str = "both", out: Path | None = None) -> list[Path]:
    """Write the kept students (and their sidecars) into `out`, the run directory by default; the paths written."""
    if keep not in KEEPS:
        raise unknown("--keep", keep, KEEPS)
    run = Path(run)
    result = _finished_result(run)
    config = _verified_config(run, result)
    kept = ("best", "last") if keep == "both" else (keep,)
    students = {which: _student(run, result, which) for which in kept}
    architecture, spec = config["run"]["trained"], get_spec(result["dataset"])
    for which, (_, weights) in students.items():
        _check_loads(architecture, spec.num_classes, spec.in_channels, weights, which)
    target = Path(out) if out is not None else run
    require_folder(target, "--out", writable=True)
    written = []
    for which, (epoch, weights) in students.items():
        buffer = io.BytesIO()
        torch.save(weights, buffer)
        data = buffer.getvalue()
        weights_path, sidecar_path = target / f"student_{which}.pt", target / f"student_{which}.json"
        atomic_write_bytes(weights_path, data)
        atomic_write_json(sidecar_path, _sidecar(run, result, architecture, which, epoch, weights_path.name, data))
        written += [weights_path, sidecar_path]
    return written


def _sidecar(
    run: Path, result: dict[str, Any], architecture: str, which: str, epoch: int, name: str, data: bytes
) -> dict[str, Any]:
    """What a user needs to rebuild the student without the run directory: the architecture and its input, where
    the weights come from (run, config hash, epoch as metrics.jsonl counts it) and what they scored."""
    spec, metric = get_spec(result["dataset"]), result["metric"]
    return {
        "file": name,
        "sha256": sha256_hex(data),
        "architecture": architecture,
        "num_classes": spec.num_classes,
        "in_channels": spec.in_channels,
        "input": {"image_size": spec.image_size, "mean": list(spec.mean), "std": list(spec.std)},
        "dataset": result["dataset"],
        "pair": result["pair"],
        "method": result["method"],
        "seed": result["seed"],
        "config_hash": result["config_hash"],
        "kept": which,
        "epoch": epoch,
        "epochs": result["epochs_done"],
        "metric": metric,
        metric: result[f"{which}_{metric}"],
        "run_dir": str(run.resolve()),
        "load": f"dfkd_bench.models.create_model({architecture!r}, {spec.num_classes}, {spec.in_channels})"
        f".load_state_dict(torch.load({name!r}, weights_only=True))",
    }


def _finished_result(run: Path) -> dict[str, Any]:
    """The run's verified result.json, which must say done."""
    if not run.is_dir():
        raise BadInput(f"{run} is not a folder; {RUN_DIR_HINT}")
    try:
        result = read_result(run)
    except CorruptRecord as err:
        raise BadInput(f"cannot export {run}: {err}") from err
    if result is None:
        raise BadInput(f"{run} is not a run directory (no result.json); {RUN_DIR_HINT}")
    if result.get("status") != "done":
        raise BadInput(
            f"{run} is not finished (status {result.get('status')}, epoch {result.get('epochs_done')}/"
            f"{result.get('epochs')}); rerun its `dfkd-bench run` command to finish it, then export"
        )
    return result


def _verified_config(run: Path, result: dict[str, Any]) -> dict[str, Any]:
    """config.yaml, whose hash must be the one result.json records: it names the architecture to rebuild."""
    try:
        config = yaml.safe_load((run / CONFIG).read_text())
    except FileNotFoundError as err:
        raise BadInput(f"cannot export {run}: {CONFIG} missing") from err
    except yaml.YAMLError as err:
        raise BadInput(f"cannot export {run}: {CONFIG} is not valid YAML") from err
    body = {k: v for k, v in config.items() if k != "config_hash"} if isinstance(config, dict) else None
    if body is None or config_hash(body) != result["config_hash"]:
        raise BadInput(f"cannot export {run}: {CONFIG} does not match the config hash in result.json")
    return config


def _student(run: Path, result: dict[str, Any], which: str) -> tuple[int, dict[str, torch.Tensor]]:
    """The (epoch, weights) kept as `which`, from a verified file whose epoch and config are the recorded ones."""
    digest = result["config_hash"]
    try:
        if which == "last":
            name, state, epoch = CHECKPOINT, load_checkpoint(run, map_location="cpu"), result["epochs_done"]
        elif records_best_student(result):
            name, state, epoch = BEST_STUDENT, load_best_student(run, map_location="cpu"), result["best_epoch"]
        else:
            raise BadInput(
                f"{run} predates best-epoch saving: it has no {BEST_STUDENT} for its best epoch "
                f"{result.get('best_epoch')}; export the last epoch with --keep last"
            )
    except CorruptRecord as err:
        raise BadInput(f"cannot export {run}: {err}") from err
    if state is None:
        raise BadInput(f"cannot export {run}: {name} missing")
    if state.get("config_hash") != digest or state.get("epoch") != epoch:
        raise BadInput(
            f"cannot export {run}: {name} holds epoch {state.get('epoch')} of config {state.get('config_hash')}, "
            f"not the recorded {which} epoch {epoch} of config {digest}"
        )
    # the checkpoint's epoch counts finished epochs; the best file's, like metrics.jsonl, is the epoch's index
    return (epoch - 1 if which == "last" else epoch), state["student"]


def _check_loads(architecture: str, num_classes: int, in_channels: int, weights: dict, which: str) -> None:
    """The promise the export makes, checked before anything is written: the weights load strictly."""
    try:
        create_model(architecture, num_classes, in_channels).load_state_dict(weights, strict=True)
    except RuntimeError as err:
        raise BadInput(f"the {which} student does not load into {architecture}: {' '.join(str(err).split())}") from err
