"""A run killed with SIGKILL after an epoch resumes from its checkpoint and ends exactly like an uninterrupted
run with the same seed (CPU), through the real command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

PAIR = "lenet5_bn-lenet5_half_bn"
BUDGET = {
    "train.epochs": 4,
    "train.ep_steps": 40,
    "train.kd_steps": 40,
    "train.batch_size": 64,
    "train.synthesis_batch_size": 128,
    "method.g_steps": 25,
}


def _command(out: Path, teachers: Path) -> list[str]:
    cmd = [sys.executable, "-m", "dfkd_bench", "run-one", "--method", "deepinv", "--dataset", "mnist"]
    cmd += ["--pair", PAIR, "--out", str(out), "--teachers", str(teachers), "--device", "cpu"]
    for key, value in BUDGET.items():
        cmd += ["--set", f"{key}={value}"]
    return cmd


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "2"}


def _cell(out: Path) -> Path:
    return out / "mnist" / PAIR / "deepinv" / "scale-auto" / "seed-0"


def test_sigkill_after_an_epoch_then_rerun_matches_uninterrupted(tmp_path: Path, teacher_root: Path):
    straight = subprocess.run(_command(tmp_path / "a", teacher_root), env=_env(), capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr

    victim = subprocess.Popen(_command(tmp_path / "b", teacher_root), env=_env(), stdout=subprocess.DEVNULL)
    metrics = _cell(tmp_path / "b") / "metrics.jsonl"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and victim.poll() is None:
        if metrics.exists() and metrics.read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    partial = json.loads((_cell(tmp_path / "b") / "result.json").read_text())
    assert partial["status"] == "running", "the run finished before it could be killed"
    assert 1 <= partial["epochs_done"] < BUDGET["train.epochs"]

    resumed = subprocess.run(_command(tmp_path / "b", teacher_root), env=_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((_cell(tmp_path / "a") / "result.json").read_text())
    b = json.loads((_cell(tmp_path / "b") / "result.json").read_text())
    assert b["status"] == "done" and b["resumes"] == 1 and a["resumes"] == 0
    for key in ("best_top1", "last_top1", "per_class_top1", "data_scale", "epochs_done"):
        assert a[key] == b[key], key
    sa = torch.load(_cell(tmp_path / "a") / "ckpt" / "last.pt", weights_only=True)["student"]
    sb = torch.load(_cell(tmp_path / "b") / "ckpt" / "last.pt", weights_only=True)["student"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    best_a, best_b = (torch.load(_cell(tmp_path / x) / "ckpt" / "best_student.pt", weights_only=True) for x in "ab")
    assert best_a["epoch"] == best_b["epoch"] == a["best_epoch"] == b["best_student_epoch"]
    assert all(torch.equal(best_a["student"][k], best_b["student"][k]) for k in best_a["student"])
    assert "resumed at epoch" in (_cell(tmp_path / "b") / "log.txt").read_text()
