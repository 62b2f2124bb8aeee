"""The engine's KD budget: fixed steps per synthesis round (every baseline, unchanged) or steps that follow the
replay buffer (SSD-KD: kd_passes passes over |B| per epoch), with the synthesis rounds left as they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dfkd_bench.config import config_hash, get_card, resolve
from dfkd_bench.engine.run import run_one
from dfkd_bench.engine.spec import RunOptions, RunSpec
from dfkd_bench.errors import BadInput
from dfkd_bench.overview import kd_budget, show_method
from dfkd_bench.train_config import TrainConfig

PAIR = "lenet5_bn-lenet5_half_bn"
PROXY = {"epochs": 22, "warmup": 2, "ep_steps": 470, "kd_steps": 47, "batch_size": 256}


@pytest.mark.parametrize("scale", [1, 600, 3000, 6000, 12000, 50000, 60000])
def test_buffer_budget_follows_the_rule_and_keeps_the_rounds(scale: int):
    config = TrainConfig(**PROXY, kd_passes=2.0, data_scale=scale)
    assert config.kd_steps_per_epoch == max(1, round(2.0 * scale / 256))
    assert config.rounds_per_epoch == TrainConfig(**PROXY).rounds_per_epoch == 10
    steps = [config.kd_steps_in_round(r) for r in range(config.rounds_per_epoch)]
    assert sum(steps) == config.kd_steps_per_epoch and max(steps) - min(steps) <= 1


def test_paper_cifar_numbers_come_out_of_the_rule():
    """About 4 / 40 / 80 / 400 steps of 256 at 500 / 5,000 / 10,000 / 50,000 (the card's derivation)."""
    cifar = {"epochs": 220, "warmup": 20, "ep_steps": 400, "kd_steps": 400, "batch_size": 256, "kd_passes": 2.0}
    steps = [TrainConfig(**cifar, data_scale=n).kd_steps_per_epoch for n in (500, 5000, 10000, 50000)]
    assert steps == [4, 39, 78, 391]


def test_fixed_budget_is_kd_steps_per_round():
    config = TrainConfig(epochs=200, ep_steps=400, kd_steps=5, data_scale=5000)
    assert config.rounds_per_epoch == 80 and config.kd_steps_per_epoch == 400
    assert {config.kd_steps_in_round(r) for r in range(80)} == {5}


def test_buffer_budget_needs_a_buffer_and_positive_passes():
    with pytest.raises(ValueError, match="data_scale"):
        TrainConfig(kd_passes=2.0)
    with pytest.raises(ValueError, match="positive"):
        TrainConfig(kd_passes=0.0, data_scale=100)
    with pytest.raises(BadInput, match="data_scale"):
        resolve(get_card("ssdkd"), "mnist", PAIR, {"train.data_scale": None})


# Hashes of the resolved configs before the KD budget existed (computed on the previous commit's code): a card
# this change does not otherwise touch keeps its hash, so its recorded runs stay valid.
HASHES_BEFORE = {
    ("fast2", "cifar10", "wrn40_2-wrn16_1", None): "45e44215cd7865b5",
    ("fast2", "cifar100", "resnet34-resnet18", None): "5e4f3acda1482b92",
    ("fast2", "mnist", PAIR, "quick"): "63c372f1fb8f750a",
    ("fast10", "cifar10", "wrn40_2-wrn16_1", None): "142d5f0876325cac",
    ("cmi", "mnist", PAIR, "quick"): "229246838bd9823d",
    ("dafl", "cifar100", "resnet34-resnet18", None): "badd1e456de622c6",
    ("kd", "mnist", PAIR, "quick"): "10bfa4a1219273a6",
    ("teacher", "cifar10", "wrn40_2-wrn16_1", None): "0424d89a87a746e4",
}


@pytest.mark.parametrize("key", sorted(HASHES_BEFORE, key=str))
def test_fixed_budget_cards_keep_their_config_hash(key: tuple):
    card, dataset, pair, budget = key
    config = resolve(get_card(card), dataset, pair, None, budget)
    assert config["train"]["kd_passes"] is None
    assert config_hash(config) == HASHES_BEFORE[key]


def test_ssdkd_cards_use_the_buffer_budget_and_ssdkd_fixed_does_not():
    for name in ("ssdkd", "ssdkd_baseline", "ssdkd_ps", "ssdkd_difficulty", "ssdkd_diversity"):
        assert resolve(get_card(name), "cifar10", "wrn40_2-wrn16_1")["train"]["kd_passes"] == 2
    fixed = resolve(get_card("ssdkd_fixed"), "cifar10", "wrn40_2-wrn16_1")["train"]
    fast2 = resolve(get_card("fast2"), "cifar10", "wrn40_2-wrn16_1")["train"]
    assert fixed["kd_passes"] is None
    assert TrainConfig(**fixed).kd_steps_per_epoch == TrainConfig(**fast2).kd_steps_per_epoch == 400


def test_show_method_prints_the_cells_kd_steps_per_epoch():
    text = show_method("ssdkd", "mnist", PAIR, budget="proxy", scale="10%")
    assert "kd_steps_per_epoch: 47" in text and "data_scale: 6000" in text
    assert "kd_steps_per_epoch: 470" in show_method("fast2", "mnist", PAIR, budget="proxy")
    overridden = show_method("ssdkd", "mnist", PAIR, {"train.kd_passes": 1}, "proxy", "20%")
    assert "kd_steps_per_epoch: 47" in overridden  # 1 pass over 12,000 images of 256
    assert kd_budget({**PROXY, "kd_passes": None})["kd_steps_total"] == 20 * 470


@pytest.mark.parametrize("scale", [24, 96])
def test_engine_runs_the_derived_steps_and_the_same_synthesis_rounds(tmp_path: Path, teacher_root: Path, scale: int):
    """A tiny SSD-KD cell: per-epoch KD steps equal the rule at each |B|, synthesis rounds stay ep_steps // kd_steps."""
    overrides = {
        "train.epochs": 2,
        "train.warmup": 0,
        "train.ep_steps": 6,
        "train.kd_steps": 2,
        "train.batch_size": 8,
        "train.synthesis_batch_size": 8,
        "train.kd_passes": 1.0,
        "train.data_scale": scale,
        "method.ngf": 4,
    }
    spec = RunSpec("mnist", PAIR, "ssdkd", 0, tuple(sorted(overrides.items())))
    result = run_one(spec, RunOptions(out=tmp_path, teachers=teacher_root, device="cpu"))
    assert result["status"] == "done"
    lines = (next(tmp_path.rglob("metrics.jsonl"))).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["kd_steps"] for r in records] == [max(1, round(scale / 8))] * 2
    state = torch.load(next(tmp_path.rglob("last.pt")), weights_only=True)
    assert state["method"]["round"] == 2 * 3  # 3 synthesis rounds per epoch at every |B|
    assert all(r["is_weight_max"] > 0 for r in records)
