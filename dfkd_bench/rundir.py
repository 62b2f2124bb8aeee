"""The run-directory contract: where a cell's folder is, which files it holds, and how each is written and
verified (result.json carries a checksum of itself, the checkpoint a sha256 beside it)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from dfkd_bench.files import atomic_write_bytes, atomic_write_json, atomic_write_text, file_sha256, sha256_hex

RESULT = "result.json"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
ENV = "env.json"
LOG = "log.txt"
CHECKPOINT = Path("ckpt") / "last.pt"
CHECKPOINT_DIGEST = Path("ckpt") / "last.pt.sha256"
BEST_STUDENT = Path("ckpt") / "best_student.pt"
BEST_STUDENT_DIGEST = Path("ckpt") / "best_student.pt.sha256"


class CorruptRecord(Exception):
    """A result or checkpoint file that exists but cannot be trusted (truncated, edited, bit-rotted)."""


def run_dir(out: Path, dataset: str, pair: str, method: str, data_scale: int | None, seed: int) -> Path:
    """`<out>/<dataset>/<pair>/<method>/scale-<n>/seed-<k>`; scale 'auto' when the method decides it."""
    scale = "auto" if data_scale is None else str(data_scale)
    return Path(out) / dataset / pair / method / f"scale-{scale}" / f"seed-{seed}"


def _save_verified(run: Path, name: Path, digest: Path, state: Any) -> None:
    """A torch file, then its sha256 next to it: a file whose digest does not match is never loaded."""
    import torch  # here, not at the top: `status` reads run folders without paying for torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    atomic_write_bytes(run / name, data)
    atomic_write_text(run / digest, sha256_hex(data) + "\n")


def _load_verified(run: Path, name: Path, digest: Path, map_location: Any) -> dict[str, Any] | None:
    """A torch file checked against its digest before it is unpickled (weights only); None when there is none."""
    import torch

    path = run / name
    if not path.exists():
        return None
    data = path.read_bytes()
    expected = (run / digest).read_text().strip() if (run / digest).exists() else None
    if expected != sha256_hex(data):
        raise CorruptRecord(f"{path}: sha256 does not match {digest.name}")
    try:
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as err:
        raise CorruptRecord(f"{path}: {err}") from err


def save_checkpoint(run: Path, state: Any) -> None:
    """The checkpoint, then its sha256 next to it: a checkpoint whose digest does not match is never loaded."""
    _save_verified(run, CHECKPOINT, CHECKPOINT_DIGEST, state)


def load_checkpoint(run: Path, map_location: Any = None) -> dict[str, Any] | None:
    """The verified checkpoint of a run, None when there is none; CorruptRecord when it cannot be trusted."""
    return _load_verified(run, CHECKPOINT, CHECKPOINT_DIGEST, map_location)


def save_best_student(run: Path, config_hash: str, epoch: int, student: dict[str, torch.Tensor]) -> None:
    """The best epoch's student weights alone (no optimiser, method state or RNG: the result users come for),
    tagged with their epoch and config hash so a reader can check them against result.json. The engine writes it
    before that epoch's checkpoint: a kill in between leaves the checkpoint one epoch behind, and the resume
    recomputes that epoch bit-identically and writes the same file again."""
    _save_verified(
        run, BEST_STUDENT, BEST_STUDENT_DIGEST, {"config_hash": config_hash, "epoch": epoch, "student": student}
    )


def load_best_student(run: Path, map_location: Any = None) -> dict[str, Any] | None:
    """The verified best-epoch file of a run ({config_hash, epoch, student}), None when there is none."""
    return _load_verified(run, BEST_STUDENT, BEST_STUDENT_DIGEST, map_location)


def _digest_damage(run: Path, name: Path, digest: Path, required: bool) -> list[str]:
    """A file against the sha256 beside it (hashed, not unpickled); an optional pair may be absent as a whole."""
    if not (run / name).is_file():
        return [f"{name} missing"] if required or (run / digest).exists() else []
    if not (run / digest).is_file():
        return [f"{digest} missing"]
    if (run / digest).read_bytes().strip() != file_sha256(run / name).encode():
        return [f"{name} does not match {digest.name}"]
    return []


def records_best_student(result: dict[str, Any]) -> bool:
    """Whether a run's result says its best epoch's weights were saved: runs recorded before best-epoch saving
    (no `best_student_epoch`), or resumed from such a run with the best epoch before the resume, have none."""
    return result.get("best_student_epoch") is not None


def run_damage(run: Path) -> list[str]:
    """What is missing or wrong in a finished run besides its result.json (which read_result verifies): its
    checkpoint and best-epoch student against the digests next to them (hashed, not unpickled) and its per-epoch
    metrics. The best-epoch file is required only where the result records one, so older runs still read as done."""
    try:
        result = read_result(run) or {}
    except CorruptRecord:
        result = {}
    problems = _digest_damage(run, CHECKPOINT, CHECKPOINT_DIGEST, required=True)
    problems += _digest_damage(run, BEST_STUDENT, BEST_STUDENT_DIGEST, required=records_best_student(result))
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
