"""Files that are never seen half-written: atomic replaces and creates with the user's umask, folder checks
before anything is written, digests and timestamps. Every record dfkd-bench keeps goes through here."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from dfkd_bench.errors import BadInput

PROC_STATUS = Path("/proc/self/status")


def utc_now() -> str:
    """The timestamp every record and log line carries: UTC, to the second, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """The sha256 of a file read in blocks, so a large checkpoint is hashed without holding it twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON file's content, None when the file does not exist."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
