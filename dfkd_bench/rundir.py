"""The run-directory contract: where a cell's folder is, which files it holds, and how each is written and
verified (result.json carries a checksum of itself, the checkpoint a sha256 beside it)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from dfkd_bench.files import atomic_write_bytes, atomic_write_json, atomic_write_text, file_sha256, sha256_hex

RESULT = "result.json"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
ENV = "env.json"
LOG = "log.txt"
CHECKPOINT = Path("ckpt") / "last.pt"
CHECKPOINT_DIGEST = Path("ckpt") / "last.pt.sha256"


class CorruptRecord(Exception):
    """A result or checkpoint file that exists but cannot be trusted (truncated, edited, bit-rotted)."""


def run_dir(out: Path, dataset: str, pair: str, method: str, data_scale: int | None, seed: int) -> Path:
    """`<out>/<dataset>/<pair>/<method>/scale-<n>/seed-<k>`; scale 'auto' when the method decides it."""
    scale = "auto" if data_scale is None else str(data_scale)
    return Path(out) / dataset / pair / method / f"scale-{scale}" / f"seed-{seed}"


def save_checkpoint(run: Path, state: Any) -> None:
    """The checkpoint, then its sha256 next to it: a checkpoint whose digest does not match is never loaded."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    atomic_write_bytes(run / CHECKPOINT, data)
    atomic_write_text(run / CHECKPOINT_DIGEST, sha256_hex(data) + "\n")


def load_checkpoint(run: Path, map_location: Any = None) -> dict[str, Any] | None:
    """The verified checkpoint of a run, None when there is none; CorruptRecord when it cannot be trusted."""
    path = run / CHECKPOINT
    if not path.exists():
        return None
    data = path.read_bytes()
    digest = run / CHECKPOINT_DIGEST
    expected = digest.read_text().strip() if digest.exists() else None
    if expected != sha256_hex(data):
        raise CorruptRecord(f"{path}: sha256 does not match {digest.name}")
    try:
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as err:
        raise CorruptRecord(f"{path}: {err}") from err


def run_damage(run: Path) -> list[str]:
    """What is missing or wrong in a finished run besides its result.json (which read_result verifies): its
    checkpoint against the digest next to it (hashed, not unpickled) and its per-epoch metrics."""
    problems = []
    checkpoint, digest = run / CHECKPOINT, run / CHECKPOINT_DIGEST
    if not checkpoint.is_file():
        problems.append(f"{CHECKPOINT} missing")
    elif not digest.is_file():
        problems.append(f"{CHECKPOINT_DIGEST} missing")
    elif digest.read_bytes().strip() != file_sha256(checkpoint).encode():
        problems.append(f"{CHECKPOINT} does not match {CHECKPOINT_DIGEST.name}")
    if not (run / METRICS).is_file():
        problems.append(f"{METRICS} missing")
    return problems


def write_metrics(run: Path, history: list[dict[str, Any]]) -> None:
    """metrics.jsonl: one JSON line per finished epoch, rewritten whole from the run's history (the checkpoint
    holds the same history, so a lost file can be written again)."""
    atomic_write_text(run / METRICS, "".join(json.dumps(r, sort_keys=True) + "\n" for r in history))


def _canonical(record: dict[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != "checksum"}
    return json.dumps(body, sort_keys=True, default=str).encode()


def write_result(run: Path, result: dict[str, Any]) -> dict[str, Any]:
    """result.json with a sha256 of its own content, so a truncated or edited record is detected."""
    record = json.loads(_canonical(result))
    record["checksum"] = sha256_hex(_canonical(record))
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
    if not isinstance(record, dict) or record.get("checksum") != sha256_hex(_canonical(record)):
        raise CorruptRecord(f"{path}: checksum does not match its content")
    return record
