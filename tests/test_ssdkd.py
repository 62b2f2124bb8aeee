"""SSD-KD from the paper: φ (Eq. 3), P and w (Eq. 5-6), the sampler, the constant-size buffer, the write-back of
priorities (Eq. 4, Algorithm 1) and the Table 4 ablation switches; expected values computed independently here."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from dfkd_bench.config import all_cards, get_card, resolve
from dfkd_bench.data import get_spec
from dfkd_bench.methods import METHODS, Batch, MethodContext
from dfkd_bench.methods.base import params_from_dict
from dfkd_bench.methods.replay import ReplayBuffer, importance_weights, modulating_function, sampling_probabilities
from dfkd_bench.models import create_model
from dfkd_bench.teachers import TeacherStore
from dfkd_bench.train_config import TrainConfig

PAIR = "lenet5_bn-lenet5_half_bn"
SWITCHES = ("priority_sampling", "difficulty", "diversity")


def test_modulating_function_hand_values():
    probs = torch.tensor([[0.9, 0.05, 0.05], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
    buffer = torch.tensor([0, 0, 0, 1, 2, 2, 0, 1, 0, 0])  # shares: class 0 6/10, class 1 2/10, class 2 2/10
    phi = modulating_function(probs, buffer, gamma=2.0, difficulty=True, diversity=True)
    expected = [(1 - 0.6) * (1 - 0.9) ** 2, (1 - 0.2) * (1 - 0.5) ** 2, (1 - 0.2) * (1 - 0.8) ** 2]
    assert phi.tolist() == pytest.approx(expected, abs=1e-6)
    only_difficulty = modulating_function(probs, buffer, 2.0, difficulty=True, diversity=False)
    assert only_difficulty.tolist() == pytest.approx([0.01, 0.25, 0.04], abs=1e-6)
    only_diversity = modulating_function(probs, buffer, 2.0, difficulty=False, diversity=True)
    assert only_diversity.tolist() == pytest.approx([0.4, 0.8, 0.8], abs=1e-6)
    assert modulating_function(probs, buffer, 2.0, False, False).tolist() == [1.0, 1.0, 1.0]
    empty = modulating_function(probs, torch.tensor([], dtype=torch.long), 1.0, False, True)
    assert empty.tolist() == [1.0, 1.0, 1.0]


def test_probabilities_and_importance_weights_hand_values():
    priorities = torch.tensor([0.0, 1.0, -3.0, 8.0])
    alpha, eps, beta = 0.5, 1e-6, 0.4
    raw = [(abs(d) + eps) ** alpha for d in (0.0, 1.0, -3.0, 8.0)]
    expected = [r / sum(raw) for r in raw]
    p = sampling_probabilities(priorities, alpha, eps)
    assert p.tolist() == pytest.approx(expected, rel=1e-6)
    w = importance_weights(p, 4, beta)
    assert w.tolist() == pytest.approx([(4 * q) ** -beta for q in expected], rel=1e-5)
    uniform = sampling_probabilities(torch.zeros(5), alpha, eps)
    assert importance_weights(uniform, 5, beta).tolist() == pytest.approx([1.0] * 5)


def test_sampler_frequencies_match_p():
    torch.manual_seed(0)
    buffer = ReplayBuffer(capacity=4)
    buffer.add_scored(torch.zeros(4, 1, 2, 2), torch.zeros(4, dtype=torch.long), torch.tensor([1.0, 2.0, 3.0, 10.0]))
    p = sampling_probabilities(buffer.priorities, 1.0, 1e-6)
    draws = 200_000
    counts = torch.zeros(4)
    for _ in range(draws // 1000):
        index, _, weights = buffer.sample_prioritised(1000, alpha=1.0, beta=0.4, eps=1e-6)
        counts += torch.bincount(index, minlength=4)
        assert torch.allclose(weights, (4 * p[index]) ** -0.4)
    # binomial std of a frequency is at most 0.5/sqrt(draws) = 0.0011; 0.005 is > 4 std
    assert (counts / draws).tolist() == pytest.approx(p.tolist(), abs=0.005)


def test_buffer_size_stays_constant_and_evicts_oldest():
    buffer = ReplayBuffer(capacity=5)
    for round_ in range(4):
        ids = torch.arange(3) + 3 * round_
        buffer.add_scored(ids.float().view(3, 1, 1, 1) / 255, ids, ids.float())
        assert len(buffer) == min(5, 3 * (round_ + 1))
        assert len(buffer.classes) == len(buffer.priorities) == len(buffer.weights) == len(buffer)
    assert buffer.classes.tolist() == [7, 8, 9, 10, 11]
    assert (buffer.images.flatten() * 255).round().long().tolist() == [7, 8, 9, 10, 11]
    assert buffer.weights.tolist() == [1.0] * 5
    buffer.update(torch.tensor([0, 3]), torch.tensor([0.5, 0.25]), torch.tensor([2.0, 3.0]))
    assert buffer.priorities.tolist() == [0.5, 8.0, 9.0, 0.25, 11.0]
    assert buffer.weights.tolist() == [2.0, 1.0, 1.0, 3.0, 1.0]


def test_each_ablation_card_changes_only_its_switches():
    full = resolve(get_card("ssdkd"), "cifar10", "wrn40_2-wrn16_1")
    rows = {
        "ssdkd_baseline": (False, False, False),
        "ssdkd_ps": (True, False, False),
        "ssdkd_difficulty": (False, True, False),
        "ssdkd_diversity": (False, False, True),
        "ssdkd_difficulty_diversity": (False, True, True),
        "ssdkd": (True, True, True),
    }
    for name, switches in rows.items():
        cfg = resolve(get_card(name), "cifar10", "wrn40_2-wrn16_1")
        assert tuple(cfg["method"][s] for s in SWITCHES) == switches, name
        assert cfg["train"] == full["train"]
        assert {k: v for k, v in cfg["method"].items() if k not in SWITCHES} == {
            k: v for k, v in full["method"].items() if k not in SWITCHES
        }
        assert not all_cards()[name].default_run or name == "ssdkd"


def _method(teacher_root: Path, **switches: bool):
    overrides = {"train.synthesis_batch_size": 8, "train.batch_size": 6, "train.data_scale": 12}
    overrides.update({f"method.{k}": v for k, v in switches.items()})
    cfg = resolve(get_card("ssdkd"), "mnist", PAIR, overrides)
    teacher, _ = TeacherStore(teacher_root).load("mnist", "lenet5_bn", 10, 1)
    teacher.requires_grad_(False)
    student = create_model("lenet5_half_bn", 10, 1)
    ctx = MethodContext(teacher, student, get_spec("mnist"), torch.device("cpu"), TrainConfig(**cfg["train"]), None)
    cls = METHODS.get("ssdkd")
    return cls(ctx, params_from_dict(cls, cfg["method"]))


def test_switches_remove_exactly_their_component(teacher_root: Path):
    torch.manual_seed(0)
    full = _method(teacher_root)
    for _ in range(2):
        full.synthesize()
    assert len(full.pool) == 12 and full.pool.priorities.min() >= 0
    logits = torch.randn(5, 10)
    probs = torch.softmax(logits, dim=1)
    classes = full.pool.classes
    assert torch.allclose(full.task_weights(logits), modulating_function(probs, classes, 2.0, True, True))
    no_diversity = _method(teacher_root, diversity=False)
    no_diversity.pool = full.pool
    assert torch.allclose(no_diversity.task_weights(logits), (1 - probs.max(1).values) ** 2)
    no_phi = _method(teacher_root, diversity=False, difficulty=False)
    assert no_phi.task_weights(logits) is None
    uniform = _method(teacher_root, priority_sampling=False)
    uniform.pool = full.pool
    batch = uniform.sample()
    assert batch.weight is None and batch.index is None and batch.x.shape[0] == 6
    prioritised = full.sample()
    assert prioritised.weight is not None and prioritised.index is not None


def test_after_kd_step_writes_back_w_times_kl(teacher_root: Path):
    torch.manual_seed(1)
    method = _method(teacher_root)
    method.synthesize()
    before = method.pool.priorities.clone()
    index = torch.tensor([0, 2])
    weights = torch.tensor([0.5, 2.0])
    s = torch.tensor([[0.0, 0.0] + [0.0] * 8, [1.0, 0.0] + [0.0] * 8])
    t = torch.tensor([[math.log(3.0), 0.0] + [-50.0] * 8, [1.0, 0.0] + [0.0] * 8])
    method.after_kd_step(Batch(x=torch.zeros(2, 1, 32, 32), weight=weights, index=index), s, t)
    # item 0: p_s uniform (0.1 each), p_t ≈ (3/4, 1/4, 0, ...): KL = 3/4 ln 7.5 + 1/4 ln 2.5 = 1.740250; δ = 0.5·KL
    assert method.pool.priorities[0].item() == pytest.approx(
        0.5 * (0.75 * math.log(7.5) + 0.25 * math.log(2.5)), rel=1e-5
    )
    assert method.pool.priorities[2].item() == pytest.approx(0.0, abs=1e-6)  # identical logits: KL 0
    assert method.pool.weights[index].tolist() == [0.5, 2.0]
    untouched = [i for i in range(len(before)) if i not in (0, 2)]
    assert torch.equal(method.pool.priorities[untouched], before[untouched])


def test_ssdkd_needs_a_buffer_size(teacher_root: Path):
    with pytest.raises(ValueError, match="data_scale"):
        cfg = resolve(get_card("ssdkd"), "mnist", PAIR, {"train.data_scale": None})
        teacher, _ = TeacherStore(teacher_root).load("mnist", "lenet5_bn", 10, 1)
        ctx = MethodContext(
            teacher,
            create_model("lenet5_half_bn", 10, 1),
            get_spec("mnist"),
            torch.device("cpu"),
            TrainConfig(**cfg["train"]),
            None,
        )
        cls = METHODS.get("ssdkd")
        cls(ctx, params_from_dict(cls, cfg["method"]))


def test_max_normalised_weights_stay_at_most_one_where_eq5_spikes():
    """A near-zero priority gives Eq. 5 a large weight (the gradient spike); dividing by the buffer's largest
    weight (PER) bounds every weight by 1 and keeps their ratios."""
    priorities = torch.tensor([1e-9] + [0.2] * 5999)
    p = sampling_probabilities(priorities, alpha=0.6, eps=1e-6)
    eq5 = importance_weights(p, len(p), beta=0.4)
    assert eq5.max().item() > 10  # (N · P_min)^-0.4 ≈ 14 with these priorities
    normalised = importance_weights(p, len(p), beta=0.4, smallest=p.min())
    assert normalised.max().item() == pytest.approx(1.0) and (normalised <= 1.0 + 1e-6).all()
    assert torch.allclose(normalised / normalised[1], eq5 / eq5[1])
    buffer = ReplayBuffer(capacity=6000)
    buffer.add_scored(torch.zeros(6000, 1, 2, 2), torch.zeros(6000, dtype=torch.long), priorities)
    _, _, weights = buffer.sample_prioritised(512, 0.6, 0.4, 1e-6, max_normalised=True)
    assert (weights <= 1.0 + 1e-6).all()


def test_beta_anneals_linearly_to_one_and_the_epoch_reports_the_weights(teacher_root: Path):
    torch.manual_seed(0)
    method = _method(teacher_root, beta_anneal=True)
    total = method.total_kd_steps
    assert method.beta == pytest.approx(0.4)
    method.kd_steps_done = total // 2
    assert method.beta == pytest.approx(0.4 + 0.6 * (total // 2) / total)
    method.kd_steps_done = 10 * total
    assert method.beta == 1.0
    method.synthesize()
    method.sample()
    stats = method.epoch_statistics()
    assert stats["beta"] == 1.0 and stats["is_weight_max"] >= stats["is_weight_mean"] > 0
    assert method.epoch_statistics() == {}  # reset after each epoch
    assert _method(teacher_root).beta == 0.4  # fixed by default


def test_unknown_is_weights_choice_is_refused():
    with pytest.raises(ValueError, match="eq5, max, batch_max"):
        resolve(get_card("ssdkd"), "mnist", PAIR, {"method.is_weights": "clip"})


def test_batch_max_weights_top_out_at_one_in_every_batch(teacher_root: Path):
    torch.manual_seed(0)
    method = _method(teacher_root, is_weights="batch_max")
    method.synthesize()
    method.pool.priorities[0] = 0.0  # a near-zero priority: the largest Eq. 5 weight when sampled
    for _ in range(5):
        weights = method.sample().weight
        assert weights.max().item() == pytest.approx(1.0) and (weights > 0).all()
