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

from dfkd_bench.errors import BadInput

RESULT = "result.json"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
ENV = "env.json"
LOG = "log.txt"
CHECKPOINT = Path("ckpt") / "last.pt"
CHECKPOINT_DIGEST = Path("ckpt") / "last.pt.sha256"
PROC_STATUS = Path("/proc/self/status")


class CorruptRecord(Exception):
    """A result or checkpoint file that exists but cannot be trusted (truncated, edited, bit-rotted)."""


def current_umask() -> int:
    """The process umask. Linux reports it in /proc/self/status; elsewhere os.umask() must set it to read it,
    which a thread creating a file at that moment (the claim heartbeat) would see, so that is only the fallback."""
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_temporary(path: Path, data: bytes) -> Path:
    """`data` in a fsynced temporary file beside `path`, with the mode open() would give (0666 less the umask):
    mkstemp creates it 0600, and results, grids, claims and teachers must stay readable by whoever they are shared
    with."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: readers never see half a file."""
    tmp = _write_temporary(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_complete(path: Path, data: bytes) -> bool:
    """Create `path` holding `data`, or return False when it exists. The temporary file is hard-linked into place,
    and a link never replaces a file: exactly one of many concurrent creators wins, and no reader ever sees the
    file empty or half-written (O_EXCL followed by a write would show it empty for a moment)."""
    tmp = _write_temporary(path, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def require_folder(path: Path, option: str, writable: bool) -> None:
    """BadInput unless `path` is a folder (or can be made one) and, with `writable`, this process may write there.

    Commands check their folders before they write anything, so that a file given as a folder or a read-only
    place is a one-line error instead of a traceback after a teacher was trained or half a grid recorded."""
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == path else f" ({existing} is a file)"
        raise BadInput(f"{option} {path} is not a folder{where}; give a folder path")
    if writable and not os.access(existing, os.W_OK | os.X_OK):
        raise BadInput(f"{option} {path} is not writable ({existing} refuses new files); give a folder you can write")


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


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_damage(run: Path) -> list[str]:
    """What is missing or wrong in a finished run besides its result.json (which read_result verifies): its
    checkpoint against the digest next to it (hashed, not unpickled) and its per-epoch metrics."""
    problems = []
    checkpoint, digest = run / CHECKPOINT, run / CHECKPOINT_DIGEST
    if not checkpoint.is_file():
        problems.append(f"{CHECKPOINT} missing")
    elif not digest.is_file():
        problems.append(f"{CHECKPOINT_DIGEST} missing")
    elif digest.read_bytes().strip() != _file_digest(checkpoint).encode():
        problems.append(f"{CHECKPOINT} does not match {CHECKPOINT_DIGEST.name}")
    if not (run / METRICS).is_file():
        problems.append(f"{METRICS} missing")
    return problems


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
