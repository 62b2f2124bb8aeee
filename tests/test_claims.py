"""Cell claims: exactly one holder, heartbeats, takeover of stale or orphaned claims, and a lost claim noticed."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def _foreign(heartbeat: float) -> str:
    return json.dumps({"host": "elsewhere", "pid": 1, "token": "other", "heartbeat": heartbeat})


def test_heartbeat_rewrites_the_record_and_a_beating_claim_is_never_stale(tmp_path: Path):
    holder = Claim(tmp_path, heartbeat_s=0.01)
    assert holder.try_acquire()
    first = current_claim(tmp_path).heartbeat
    with holder:
        deadline = time.monotonic() + 60
        while current_claim(tmp_path).heartbeat == first and time.monotonic() < deadline:
            time.sleep(0.01)
        assert current_claim(tmp_path).heartbeat > first, "the heartbeat thread rewrites the claim"
        assert not Claim(tmp_path).try_acquire()
    assert current_claim(tmp_path) is None


def test_a_stale_claim_is_taken_over_by_exactly_one_rival(tmp_path: Path):
    (tmp_path / "claim.0").write_text(_foreign(time.time() - 1000))
    rivals = [Claim(tmp_path, stale_after_s=120) for _ in range(5)]
    assert sum(r.try_acquire() for r in rivals) == 1, "exactly one process takes a stale claim over"
    assert current_claim(tmp_path).number == 1
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "claim.0").write_text(_foreign(time.time()))
    assert not Claim(fresh, stale_after_s=120).try_acquire(), "a recent heartbeat from another host holds"


@pytest.mark.parametrize("content", ["", '{"host": "elsewhere", "pi', "\x00\x00", "[]"])
def test_an_empty_or_half_written_claim_is_not_stale_until_it_ages(tmp_path: Path, content: str):
    """Today's O_EXCL-then-write left a window where a rival read an empty claim as stale and won a second time."""
    path = tmp_path / "claim.0"
    path.write_text(content)
    assert not Claim(tmp_path, stale_after_s=120).try_acquire(), "a claim being written is held"
    old = time.time() - 1000
    os.utime(path, (old, old))
    taker = Claim(tmp_path, stale_after_s=120)
    assert taker.try_acquire() and taker.number == 1, "an unreadable claim ages from its last write"


def test_a_claim_is_never_visible_before_its_record_is_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """While the winner is still writing, the claim file does not exist yet; once it exists, it reads whole."""
    seen: list[object] = []
    real_link = os.link

    def link_and_look(src, dst, *args, **kwargs):
        seen.append(current_claim(tmp_path))
        real_link(src, dst, *args, **kwargs)
        seen.append(current_claim(tmp_path))

    monkeypatch.setattr(os, "link", link_and_look)
    claim = Claim(tmp_path)
    assert claim.try_acquire()
    assert seen[0] is None and seen[1].token == claim.token and seen[1].pid == os.getpid()
    assert [p.name for p in tmp_path.iterdir()] == ["claim.0"], "no temporary file is left behind"


def _race(folder: str, rounds: int, barrier, results) -> None:
    """One contender: at every round, try the round's claim once; the winner holds it until all have tried."""
    for index in range(rounds):
        barrier.wait()
        claim = Claim(Path(folder) / f"round-{index}", stale_after_s=3600)
        won = claim.try_acquire()
        barrier.wait()
        if won:
            claim.release()
        results.put((index, won))


def test_many_processes_racing_for_a_cell_have_exactly_one_winner_per_round(tmp_path: Path):
    context = multiprocessing.get_context("spawn")
    contenders, rounds = 4, 40
    barrier, results = context.Barrier(contenders), context.Queue()
    processes = [
        context.Process(target=_race, args=(str(tmp_path), rounds, barrier, results)) for _ in range(contenders)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=600) for _ in range(contenders * rounds)]
    for process in processes:
        process.join(timeout=600)
    winners = {index: 0 for index in range(rounds)}
    for index, won in outcomes:
        winners[index] += won
    assert winners == {index: 1 for index in range(rounds)}


def test_a_takeover_is_seen_on_disk_at_once(tmp_path: Path):
    holder = Claim(tmp_path)
    assert holder.try_acquire() and holder.still_held()
    (tmp_path / "claim.1").write_text(_foreign(time.time()))
    assert not holder.still_held()


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
        deadline = time.monotonic() + 60
        while not slow.lost.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert slow.lost.is_set()
    assert (tmp_path / "claim.1").exists(), "a worker that lost its claim deletes nothing"


def test_claim_folder_is_outside_the_run_directory(tmp_path: Path):
    run = tmp_path / "mnist" / "a-b" / "kd" / "scale-auto" / "seed-0"
    folder = claim_folder(tmp_path, run)
    assert folder == tmp_path / ".claims" / "mnist__a-b__kd__scale-auto__seed-0"
