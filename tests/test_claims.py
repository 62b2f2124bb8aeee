"""Cell claims: exactly one holder, heartbeats, takeover of stale or orphaned claims, and a lost claim noticed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from dfkd_bench.claims import Claim, claim_folder, current_claim


def test_only_one_process_wins_a_free_cell(tmp_path: Path):
    first, second = Claim(tmp_path), Claim(tmp_path)
    assert first.try_acquire()
    assert not second.try_acquire()
    holder = current_claim(tmp_path)
    assert holder is not None and holder.token == first.token and holder.number == 0
    first.release()
    assert current_claim(tmp_path) is None
    assert second.try_acquire() and current_claim(tmp_path).token == second.token


def test_heartbeat_keeps_a_claim_fresh_and_a_stale_one_is_taken_over_once(tmp_path: Path):
    holder = Claim(tmp_path, heartbeat_s=0.05, stale_after_s=0.5)
    assert holder.try_acquire()
    with holder:
        time.sleep(0.8)
        assert not Claim(tmp_path, stale_after_s=0.5).try_acquire(), "a beating claim is never stale"
    frozen = Claim(tmp_path, stale_after_s=0.3)
    assert frozen.try_acquire()
    time.sleep(0.5)
    rivals = [Claim(tmp_path, stale_after_s=0.3) for _ in range(5)]
    assert sum(r.try_acquire() for r in rivals) == 1, "exactly one process takes a stale claim over"
    assert current_claim(tmp_path).number == 1


def test_claim_of_a_dead_process_on_this_host_is_stale_at_once(tmp_path: Path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    record = {"host": socket.gethostname(), "pid": pid, "token": "x", "heartbeat": time.time()}
    (tmp_path / "claim.0").write_text(json.dumps(record))
    assert Claim(tmp_path, stale_after_s=3600).try_acquire()
    alive = {**record, "pid": os.getpid()}
    other = tmp_path / "other"
    other.mkdir()
    (other / "claim.0").write_text(json.dumps(alive))
    assert not Claim(other, stale_after_s=3600).try_acquire()


def test_owner_notices_a_takeover_and_leaves_the_new_claim_alone(tmp_path: Path):
    slow = Claim(tmp_path, heartbeat_s=0.05, stale_after_s=0.2)
    assert slow.try_acquire()
    with slow:
        (tmp_path / "claim.1").write_text(json.dumps({"host": "elsewhere", "pid": 1, "token": "y", "heartbeat": 0}))
        deadline = time.monotonic() + 5
        while not slow.lost.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert slow.lost.is_set()
    assert (tmp_path / "claim.1").exists(), "a worker that lost its claim deletes nothing"


def test_claim_folder_is_outside_the_run_directory(tmp_path: Path):
    run = tmp_path / "mnist" / "a-b" / "kd" / "scale-auto" / "seed-0"
    folder = claim_folder(tmp_path, run)
    assert folder == tmp_path / ".claims" / "mnist__a-b__kd__scale-auto__seed-0"
