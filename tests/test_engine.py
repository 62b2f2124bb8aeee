"""End to end on real MNIST: a deepinv student beats chance by a wide margin, the run directory follows the
contract, and a run interrupted after an epoch resumes to exactly the result of an uninterrupted one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from dfkd_bench.engine.run import run_one
from dfkd_bench.engine.spec import RunOptions, RunSpec
from dfkd_bench.errors import BadInput

PAIR = "lenet5_bn-lenet5_half_bn"

TINY = {
    "train.epochs": 3,
    "train.ep_steps": 100,
    "train.kd_steps": 100,
    "train.batch_size": 128,
    "train.synthesis_batch_size": 128,
    "method.g_steps": 40,
}
# Measured on 2 CPU cores with this budget (about 12 s): 61-81 % over seeds 0-3 (chance is 10 %).
DEEPINV_FLOOR = 50.0


def _spec(method: str = "deepinv", seed: int = 0, **extra: object) -> RunSpec:
    overrides = (
        {**TINY, **extra} if method == "deepinv" else {k: v for k, v in {**TINY, **extra}.items() if "method" not in k}
    )
    return RunSpec("mnist", PAIR, method, seed, tuple(sorted(overrides.items())))


def _opts(out: Path, teachers: Path, **kw: object) -> RunOptions:
    return RunOptions(out=out, teachers=teachers, device="cpu", **kw)


class StopAfter:
    """Observer that simulates a crash right after a given epoch has been checkpointed."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def epoch_done(self, spec: RunSpec, record: dict, epochs: int) -> None:
        if record["epoch"] + 1 >= self.epochs:
            raise KeyboardInterrupt


def test_deepinv_end_to_end_beats_chance_and_writes_run_dir(tmp_path: Path, teacher_root: Path):
    result = run_one(_spec(), _opts(tmp_path, teacher_root))
    assert result["status"] == "done"
    assert result["best_top1"] >= DEEPINV_FLOOR, result
    assert result["last_top1"] >= DEEPINV_FLOOR - 10
    assert result["data_scale"] == 3 * 128
    assert len(result["per_class_top1"]) == 10
    assert set(result["times"]) >= {"synthesis", "kd", "eval", "sample", "total"}
    assert result["times"]["synthesis"] > 0 and result["times"]["kd"] > 0
    assert result["teacher_top1"] > 95
    run = tmp_path / "mnist" / PAIR / "deepinv" / "scale-auto" / "seed-0"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["config_hash"] == result["config_hash"]
    assert config["train"]["epochs"] == 3 and config["method"]["g_steps"] == 40
    env = json.loads((run / "env.json").read_text())
    assert {"torch", "device", "git_sha", "host"} <= set(env)
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [0, 1, 2]
    assert lines[-1]["top1"] == result["last_top1"]
    assert "done" in (run / "log.txt").read_text()
    ckpt = torch.load(run / "ckpt" / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 3 and ckpt["method"]["pool"]["images"].shape == (384, 1, 32, 32)
    assert not list(run.rglob("*.tmp"))


def test_rerun_skips_done_cell_and_refuses_changed_config(tmp_path: Path, teacher_root: Path):
    spec = _spec("kd", **{"train.epochs": 1})
    first = run_one(spec, _opts(tmp_path, teacher_root))
    assert run_one(spec, _opts(tmp_path, teacher_root)) == first
    changed = _spec("kd", **{"train.epochs": 1, "train.lr": 0.01})
    with pytest.raises(BadInput, match="another config.*--force"):
        run_one(changed, _opts(tmp_path, teacher_root))
    forced = run_one(changed, _opts(tmp_path, teacher_root, force=True))
    assert forced["status"] == "done" and forced["config_hash"] != first["config_hash"]
    kept = list((tmp_path / "mnist" / PAIR / "kd" / "scale-auto").glob("replaced-seed-0-*/result.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["config_hash"] == first["config_hash"]


def test_interrupted_run_resumes_to_the_same_result(tmp_path: Path, teacher_root: Path):
    # two short epochs: one before the interruption, one after the resume (the SIGKILL tests run longer budgets)
    spec = _spec(**{"train.epochs": 2, "train.ep_steps": 20, "train.kd_steps": 20, "method.g_steps": 10})
    straight = run_one(spec, _opts(tmp_path / "a", teacher_root))
    with pytest.raises(KeyboardInterrupt):
        run_one(spec, _opts(tmp_path / "b", teacher_root), observer=StopAfter(1))
    run_b = tmp_path / "b" / "mnist" / PAIR / "deepinv" / "scale-auto" / "seed-0"
    partial = json.loads((run_b / "result.json").read_text())
    assert partial["status"] == "interrupted" and partial["epochs_done"] == 1
    resumed = run_one(spec, _opts(tmp_path / "b", teacher_root))
    assert resumed["resumes"] == 1
    for key in ("best_top1", "last_top1", "per_class_top1", "data_scale", "config_hash"):
        assert resumed[key] == straight[key], key
    run_a = tmp_path / "a" / "mnist" / PAIR / "deepinv" / "scale-auto" / "seed-0"
    a = torch.load(run_a / "ckpt" / "last.pt", weights_only=True)
    b = torch.load(run_b / "ckpt" / "last.pt", weights_only=True)
    for name, tensor in a["student"].items():
        assert torch.equal(tensor, b["student"][name]), name
    assert torch.equal(a["method"]["pool"]["images"], b["method"]["pool"]["images"])
    assert (run_a / "metrics.jsonl").read_text().count("\n") == (run_b / "metrics.jsonl").read_text().count("\n")


def test_kd_on_real_data_uses_the_requested_scale(tmp_path: Path, teacher_root: Path):
    spec = _spec("kd", **{"train.epochs": 1, "train.data_scale": 500})
    result = run_one(spec, _opts(tmp_path, teacher_root))
    assert result["data_scale"] == 500 and result["data_scale_setting"] == 500
    assert result["best_top1"] > 50
    run = tmp_path / "mnist" / PAIR / "kd" / "scale-500" / "seed-0"
    assert (run / "result.json").exists()
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    # kd's loss parts (alpha·KL and beta·CE) are logged by name; their epoch means add up to kd_loss (float32
    # parts against their float32 sum: equal to about 1e-8)
    assert record["kd_loss_kl"] > 0 and record["kd_loss_ce"] > 0
    assert record["kd_loss_kl"] + record["kd_loss_ce"] == pytest.approx(record["kd_loss"], rel=1e-6)


def test_missing_teacher_is_a_clear_error(tmp_path: Path):
    with pytest.raises(BadInput, match="no lenet5_bn teacher for mnist.*dfkd-bench train"):
        run_one(_spec(), _opts(tmp_path, tmp_path / "empty-store"))


def test_warmup_epochs_synthesise_without_kd_and_hold_the_learning_rate(tmp_path: Path, teacher_root: Path):
    extra = {"train.epochs": 3, "train.warmup": 1, "train.ep_steps": 20, "train.kd_steps": 10, "method.g_steps": 5}
    result = run_one(_spec(**extra), _opts(tmp_path, teacher_root))
    run = tmp_path / "mnist" / PAIR / "deepinv" / "scale-auto" / "seed-0"
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["kd_steps"] for r in lines] == [0, 20, 20]  # two rounds of 10 KD steps per epoch after warm-up
    assert [r["data_scale"] for r in lines] == [256, 512, 768]  # two synthesis rounds of 128 every epoch
    assert lines[0]["lr"] == lines[1]["lr"] == 0.05  # the cosine schedule starts after the warm-up
    assert lines[2]["lr"] < 0.05
    assert result["status"] == "done"


def test_kd_sample_histograms_hand_values():
    from dfkd_bench.engine.diagnostics import KDSampleHistograms

    h = KDSampleHistograms(3)
    ln = torch.log
    logits = torch.stack(
        [ln(torch.tensor([0.7, 0.2, 0.1])), ln(torch.tensor([0.05, 0.9, 0.05])), ln(torch.tensor([0.34, 0.33, 0.33]))]
    )
    h.update(logits)
    h.update(logits[:1])
    record = h.as_record()
    assert record["kd_class_hist"] == [3, 1, 0]
    assert record["kd_confidence_hist"] == [0, 0, 0, 1, 0, 0, 0, 2, 0, 1]  # 0.34 -> bin 3, 0.7 -> 7 (twice), 0.9 -> 9
