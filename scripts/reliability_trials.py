"""Reliability trials of the grid runner, run by hand (not in CI): concurrent runners and random SIGKILLs on a
tiny real MNIST grid, compared cell by cell with one uninterrupted run of the same grid.

    .venv/bin/python scripts/reliability_trials.py --rounds 50 --kills 30

- A race round starts `--runners` `dfkd-bench run` processes together on a fresh `--out`; every cell must be
  started exactly once (one "started" line in its log, no "resumed"), hold one result and equal the reference.
- A kill trial starts one runner, SIGKILLs it after a random delay (uniform over the reference's duration), then
  reruns the grid to completion; every cell must equal the reference and no record may be corrupt.

"Equal" means the same status, best/last/per-class top-1, data scale, epochs and config hash, and bit-identical
student weights. The script prints the counts and exits 1 when any cell was duplicated, lost or changed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

COMPARED = ("status", "best_top1", "last_top1", "per_class_top1", "data_scale", "epochs_done", "config_hash")
TINY = ("train.epochs=3", "train.ep_steps=6", "train.kd_steps=6", "train.batch_size=32")


def command(out: Path, teachers: Path) -> list[str]:
    cmd = [sys.executable, "-m", "dfkd_bench", "run", "--methods", "kd,fast2", "--seeds", "0,1", "--budget", "quick"]
    cmd += ["--device", "cpu", "--out", str(out), "--teachers", str(teachers)]
    return cmd + [arg for item in TINY for arg in ("--set", item)]


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "DFKD_BENCH_HEARTBEAT_S": "1", "DFKD_BENCH_STALE_AFTER_S": "20"}


def results(out: Path) -> dict[str, list[dict]]:
    """Every result.json per cell folder (a list, so a second record of one cell would show)."""
    found: dict[str, list[dict]] = {}
    for path in sorted(out.glob("**/seed-*/result.json")):
        found.setdefault(str(path.parent.relative_to(out)), []).append(json.loads(path.read_text()))
    return found


def students(out: Path) -> dict[str, dict]:
    return {
        str(p.parent.parent.relative_to(out)): torch.load(p, weights_only=True)["student"]
        for p in sorted(out.glob("**/seed-*/ckpt/last.pt"))
    }


def compare(reference: Path, out: Path) -> tuple[int, int]:
    """(cells lost, cells changed) against the reference grid."""
    ref, got = results(reference), results(out)
    ref_students, got_students = students(reference), students(out)
    lost = sum(1 for cell in ref if cell not in got)
    changed = 0
    for cell, records in got.items():
        same = len(records) == 1 and cell in ref and all(records[0][k] == ref[cell][0][k] for k in COMPARED)
        weights = got_students.get(cell, {})
        same = same and all(torch.equal(ref_students[cell][k], weights[k]) for k in ref_students[cell])
        changed += not same
    return lost, changed


def duplicated(out: Path) -> int:
    """Cells started more than once (or resumed) during a race round."""
    count = 0
    for log in out.glob("**/seed-*/log.txt"):
        text = log.read_text()
        count += text.count(" started ") != 1 or " resumed " in text
    return count


def run_to_completion(out: Path, teachers: Path) -> None:
    done = subprocess.run(command(out, teachers), env=environment(), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"runner failed ({done.returncode}):\n{done.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50, help="concurrent-runner rounds")
    parser.add_argument("--runners", type=int, default=3, help="runners started together in a round")
    parser.add_argument("--kills", type=int, default=30, help="SIGKILL trials")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--teachers", type=Path, default=Path("results/teachers"))
    parser.add_argument("--work", type=Path, default=None, help="folder for the trial grids (default: a temp dir)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="dfkd-trials-"))
    reference = work / "reference"
    started = time.monotonic()
    run_to_completion(reference, args.teachers)
    duration = time.monotonic() - started
    print(f"reference grid: {len(results(reference))} cells in {duration:.1f} s ({work})", flush=True)

    totals = {"race rounds": 0, "duplicated": 0, "lost": 0, "changed": 0, "kills": 0, "corrupt": 0}
    for index in range(args.rounds):
        out = work / f"race-{index}"
        runners = [
            subprocess.Popen(command(out, args.teachers), env=environment(), stdout=subprocess.DEVNULL)
            for _ in range(args.runners)
        ]
        codes = [runner.wait() for runner in runners]
        lost, changed = compare(reference, out)
        totals["race rounds"] += 1
        totals["duplicated"] += duplicated(out)
        totals["lost"] += lost
        totals["changed"] += changed
        print(f"race {index}: exit codes {codes}, duplicated {duplicated(out)}, lost {lost}, changed {changed}")
    for index in range(args.kills):
        out = work / f"kill-{index}"
        runner = subprocess.Popen(command(out, args.teachers), env=environment(), stdout=subprocess.DEVNULL)
        delay = rng.uniform(0.5, duration)
        time.sleep(delay)
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        states = sorted(r["status"] for records in results(out).values() for r in records)
        run_to_completion(out, args.teachers)
        lost, changed = compare(reference, out)
        corrupt = len(list(out.glob("**/corrupt-*"))) + len(list(out.glob("**/*.corrupt-*")))
        totals["kills"] += 1
        totals["lost"] += lost
        totals["changed"] += changed
        totals["corrupt"] += corrupt
        print(f"kill {index} at {delay:.1f} s (records then: {states}): lost {lost}, changed {changed}, ", end="")
        print(f"corrupt {corrupt}")
    print("totals: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    return 1 if totals["duplicated"] or totals["lost"] or totals["changed"] or totals["corrupt"] else 0


if __name__ == "__main__":
    sys.exit(main())
