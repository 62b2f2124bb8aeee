"""The run-directory contract: atomic writes, the path of every cell, and collecting results into pandas."""

from __future__ import annotations

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


def atomic_torch_save(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


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
    "best_top1",
    "last_top1",
    "data_scale",
    "teacher_top1",
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
        result = read_json(path)
        if result is None:
            continue
        row = {k: result.get(k) for k in SUMMARY_COLUMNS}
        row.update({f"{k}_s": v for k, v in (result.get("times") or {}).items()})
        row["run_dir"] = str(path.parent)
        rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def write_summary(root: Path) -> pd.DataFrame:
    frame = collect(root)
    atomic_write_text(Path(root) / "summary.csv", frame.to_csv(index=False))
    return frame
