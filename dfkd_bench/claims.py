"""Cell claims: many runners (processes, GPUs, Slurm tasks) share one --out and never run the same cell twice.

A claim is a file `<out>/.claims/<cell>/claim.<n>`, born complete: its record is written to a private temporary
file that is then hard-linked to `claim.<n>`, and a link never replaces an existing file, so exactly one process
wins it and no reader ever sees it empty or half-written. Its owner rewrites it (atomically) every `heartbeat_s`.
A claim whose heartbeat is older than `stale_after_s` (or whose owner process is gone, on the same host) is taken
over by creating `claim.<n+1>` the same way, so a takeover also has exactly one winner. An owner that sees a
higher claim than its own has lost the cell and stops before writing to it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dfkd_bench.files import atomic_write_json, create_complete

CLAIMS = ".claims"
HEARTBEAT_S = float(os.environ.get("DFKD_BENCH_HEARTBEAT_S", "15"))
STALE_AFTER_S = float(os.environ.get("DFKD_BENCH_STALE_AFTER_S", "120"))


@dataclass(frozen=True)
class ClaimInfo:
    """What a claim file says about its holder."""

    number: int
    host: str
    pid: int
    token: str
    heartbeat: float

    @property
    def age(self) -> float:
        return time.time() - self.heartbeat

    def is_stale(self, stale_after_s: float) -> bool:
        if self.host == socket.gethostname() and not _alive(self.pid):
            return True
        return self.age > stale_after_s


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_folder(out: Path, run: Path) -> Path:
    """One folder per cell, outside the run directory so a run set aside with --force keeps no claim."""
    relative = Path(run).resolve().relative_to(Path(out).resolve())
    return Path(out) / CLAIMS / "__".join(relative.parts)


def _numbers(folder: Path) -> list[int]:
    numbers = []
    for path in folder.glob("claim.*"):
        suffix = path.name.removeprefix("claim.")
        if suffix.isdigit():
            numbers.append(int(suffix))
    return sorted(numbers)


def current_claim(folder: Path) -> ClaimInfo | None:
    """The highest claim of a cell, None when nobody holds it."""
    for _ in range(5):
        numbers = _numbers(folder)
        if not numbers:
            return None
        path = folder / f"claim.{numbers[-1]}"
        try:
            data = json.loads(path.read_text())
            return ClaimInfo(
                numbers[-1], str(data["host"]), int(data["pid"]), str(data["token"]), float(data["heartbeat"])
            )
        except FileNotFoundError:
            continue
        except (ValueError, KeyError, TypeError):  # JSON and Unicode decoding errors are ValueErrors
            return _unreadable(path, numbers[-1])
    return None


def _unreadable(path: Path, number: int) -> ClaimInfo:
    """A claim whose record cannot be read (damaged on disk) ages from its last modification, like a silent
    heartbeat: it is stale only after `stale_after_s`, never at once, so a reader can never take it over early."""
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        modified = 0.0
    return ClaimInfo(number, "", -1, "", modified)


class Claim:
    """A held claim with a heartbeat thread; use `try_acquire` and then as a context manager."""

    def __init__(self, folder: Path, heartbeat_s: float = HEARTBEAT_S, stale_after_s: float = STALE_AFTER_S):
        self.folder = Path(folder)
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.token = uuid.uuid4().hex
        self.number: int | None = None
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _record(self) -> dict[str, Any]:
        return {"host": socket.gethostname(), "pid": os.getpid(), "token": self.token, "heartbeat": time.time()}

    def try_acquire(self) -> bool:
        """True when this process now holds the cell (free, or its claim was stale and we won the takeover)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        holder = current_claim(self.folder)
        if holder is not None and not holder.is_stale(self.stale_after_s):
            return False
        number = 0 if holder is None else holder.number + 1
        if not create_complete(self.folder / f"claim.{number}", json.dumps(self._record()).encode()):
            return False
        self.number = number
        return True

    def still_held(self) -> bool:
        """False once another runner has taken this claim over (checked on disk, not at the next heartbeat)."""
        return self.number is not None and not (self.folder / f"claim.{self.number + 1}").exists()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            if (self.folder / f"claim.{self.number + 1}").exists():
                self.lost.set()
                return
            atomic_write_json(self.folder / f"claim.{self.number}", self._record())

    def __enter__(self) -> Claim:
        if self.number is None:
            raise RuntimeError("enter a Claim only after try_acquire() returned True")
        self._thread = threading.Thread(target=self._beat, name="dfkd-bench-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Stop the heartbeat and remove this claim and the stale ones below it (highest first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.number is None or self.lost.is_set():
            return
        for number in reversed([n for n in _numbers(self.folder) if n <= self.number]):
            (self.folder / f"claim.{number}").unlink(missing_ok=True)
        self.number = None
