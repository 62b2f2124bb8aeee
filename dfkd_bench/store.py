"""The run-directory contract: atomic writes, the path of every cell, and collecting results into pandas."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import yaml

RESULT = "result.json"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
ENV = "env.json"
LOG = "log.txt"
CHECKPOINT = Path("ckpt") / "last.pt"
CHECKPOINT_DIGEST = Path("ckpt") / "last.pt.sha256"


class CorruptRecord(Exception):
    """A result or checkpoint file that exists but cannot be trusted (truncated, edited, bit-rotted)."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_yaml(path: Path, obj: Any) -> None:
    atomic_write_text(path, yaml.safe_dump(obj, sort_keys=False))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_checkpoint(run: Path, state: Any) -> None:
    """The checkpoint, then its sha256 next to it: a checkpoint whose digest does not match is never loaded."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    atomic_write_bytes(run / CHECKPOINT, data)
    atomic_write_text(run / CHECKPOINT_DIGEST, _digest(data) + "\n")


def load_checkpoint(run: Path, map_location: Any = None) -> dict[str, Any] | None:
    """The verified checkpoint of a run, None when there is none; CorruptRecord when it cannot be trusted."""
    path = run / CHECKPOINT
    if not path.exists():
        return None
    data = path.read_bytes()
    digest = run / CHECKPOINT_DIGEST
    expected = digest.read_text().strip() if digest.exists() else None
    if expected != _digest(data):
        raise CorruptRecord(f"{path}: sha256 does not match {digest.name}")
    try:
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as err:
        raise CorruptRecord(f"{path}: {err}") from err


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def _canonical(record: dict[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != "checksum"}
    return json.dumps(body, sort_keys=True, default=str).encode()


def write_result(run: Path, result: dict[str, Any]) -> dict[str, Any]:
    """result.json with a sha256 of its own content, so a truncated or edited record is detected."""
    record = json.loads(_canonical(result))
    record["checksum"] = _digest(_canonical(record))
    atomic_write_json(run / RESULT, record)
    return record


def read_result(run: Path) -> dict[str, Any] | None:
    """The verified result.json of a run, None when there is none; CorruptRecord when it cannot be trusted."""
    path = run / RESULT
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptRecord(f"{path}: not valid JSON ({err})") from err
    if not isinstance(record, dict) or record.get("checksum") != _digest(_canonical(record)):
        raise CorruptRecord(f"{path}: checksum does not match its content")
    return record


def run_dir(out: Path, dataset: str, pair: str, method: str, data_scale: int | None, seed: int) -> Path:
    """`<out>/<dataset>/<pair>/<method>/scale-<n>/seed-<k>`; scale 'auto' when the method decides it."""
    scale = "auto" if data_scale is None else str(data_scale)
    return Path(out) / dataset / pair / method / f"scale-{scale}" / f"seed-{seed}"


SUMMARY_COLUMNS = [
    "dataset",
    "pair",
    "method",
    "data_scale_setting",
    "seed",
    "status",
    "metric",
    "best_top1",
    "last_top1",
    "best_miou",
    "last_miou",
    "data_scale",
    "teacher_top1",
    "teacher_miou",
    "synthesis_s",
    "sample_s",
    "kd_s",
    "eval_s",
    "total_s",
    "epochs_done",
    "device",
    "config_hash",
    "run_dir",
]


def collect(root: Path) -> pd.DataFrame:
    """One tidy row per run directory found under `root`."""
    rows = []
    for path in sorted(Path(root).glob(f"**/seed-*/{RESULT}")):
        try:
            result = read_result(path.parent)
        except CorruptRecord as err:
            result = {**_identity(path.parent), "status": "corrupt", "error": str(err)}
        if result is None:
            continue
        row = {k: result.get(k) for k in SUMMARY_COLUMNS}
        row.update({f"{k}_s": v for k, v in (result.get("times") or {}).items()})
        row["run_dir"] = str(path.parent)
        rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _identity(run: Path) -> dict[str, Any]:
    """dataset, pair, method and seed read back from a run directory's path."""
    dataset, pair, method, _scale, seed = run.parts[-5:]
    return {"dataset": dataset, "pair": pair, "method": method, "seed": int(seed.removeprefix("seed-"))}


def write_summary(root: Path) -> pd.DataFrame:
    frame = collect(root)
    atomic_write_text(Path(root) / "summary.csv", frame.to_csv(index=False))
    return frame
