"""Fast-N: the shared inversion objective (golden values) and the meta-generator round mechanics."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dfkd_bench.config import get_card, resolve
from dfkd_bench.data import get_spec
from dfkd_bench.methods import METHODS, MethodContext
from dfkd_bench.methods import fast as fast_module
from dfkd_bench.methods.base import params_from_dict
from dfkd_bench.methods.bn_hook import BNStatsRegularizer
from dfkd_bench.methods.inversion import InversionLoss
from dfkd_bench.models import create_generator, create_model
from dfkd_bench.teachers import TeacherStore
from dfkd_bench.train_config import TrainConfig

LN3 = math.log(3.0)


def test_inversion_loss_is_the_weighted_sum_of_hand_computed_terms():
    bn = nn.BatchNorm2d(1).eval()  # running mean 0, var 1
    reg = BNStatsRegularizer(nn.Sequential(bn))
    with reg.active():
        bn(torch.tensor([1.0, 3.0, 5.0, 7.0]).view(2, 1, 1, 2))  # L_BN = |5 - 1| + |4 - 0| = 8
        t = torch.tensor([[LN3, 0.0], [0.0, LN3]])  # softmax (3/4, 1/4) and (1/4, 3/4)
        s = torch.tensor([[0.0, 0.0], [1.0, 0.0]])  # agrees with t on neither... argmax 0 vs 0: sample 0 agrees
        targets = torch.tensor([0, 0])
        loss, parts = InversionLoss(bn=2.0, oh=0.5, adv=3.0)(reg, t, s, targets)
    ce = (-math.log(0.75) - math.log(0.25)) / 2
    kl0 = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)  # only sample 0 agrees (both argmax 0)
    adv = -(kl0 * 1 + 0) / 2
    assert parts["loss_bn"] == pytest.approx(8.0, abs=1e-5)
    assert parts["loss_oh"] == pytest.approx(ce, abs=1e-6)
    assert parts["loss_adv"] == pytest.approx(adv, abs=1e-6)
    assert loss.item() == pytest.approx(2.0 * 8.0 + 0.5 * ce + 3.0 * adv, abs=1e-5)


def test_inversion_loss_task_weights_and_adversarial_switch():
    bn = nn.BatchNorm2d(1).eval()
    reg = BNStatsRegularizer(nn.Sequential(bn))
    with reg.active():
        bn(torch.zeros(2, 1, 1, 1))  # mean 0, var 0: L_BN = 1
        t = torch.tensor([[LN3, 0.0], [0.0, LN3]])
        weights = torch.tensor([1.0, 0.0])
        loss, parts = InversionLoss(bn=1.0, oh=1.0, adv=1.0)(reg, t, t, torch.tensor([0, 0]), weights, False)
    assert "loss_adv" not in parts
    assert parts["loss_oh"] == pytest.approx(-math.log(0.75) / 2, abs=1e-6)  # weighted, mean over the batch
    assert loss.item() == pytest.approx(1.0 - math.log(0.75) / 2, abs=1e-5)


def test_reset_first_layers_touches_only_the_first_linear_and_bn():
    torch.manual_seed(0)
    g = create_generator(nz=64, img_size=32, nc=3, ngf=32)
    before = {k: v.clone() for k, v in g.state_dict().items()}
    fast_module.reset_first_layers(g)
    after = g.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"l1.0.weight", "l1.0.bias", "conv_blocks.0.weight"}  # the BN bias was already 0
    assert after["l1.0.weight"].std().item() == pytest.approx(0.02, rel=0.05)
    assert after["conv_blocks.0.weight"].abs().max().item() < 0.2  # BN gain restarts near 0, as the reference
    assert after["l1.0.bias"].abs().sum() == 0 and after["conv_blocks.0.bias"].abs().sum() == 0


def _fast(teacher_root: Path, **train: object):
    card = get_card("fast2")
    overrides = {"train.synthesis_batch_size": 8, "train.batch_size": 8, **{f"train.{k}": v for k, v in train.items()}}
    cfg = resolve(card, "mnist", "lenet5_bn-lenet5_half_bn", overrides)
    teacher, _ = TeacherStore(teacher_root).load("mnist", "lenet5_bn", 10, 1)
    teacher.requires_grad_(False)
    student = create_model("lenet5_half_bn", 10, 1)
    ctx = MethodContext(teacher, student, get_spec("mnist"), torch.device("cpu"), TrainConfig(**cfg["train"]), None)
    cls = METHODS.get("fast")
    return cls(ctx, params_from_dict(cls, cfg["method"])), student


def test_round_mechanics(teacher_root: Path, monkeypatch: pytest.MonkeyPatch):
    torch.manual_seed(0)
    resets: list[int] = []
    method, student = _fast(teacher_root, warmup=2, ep_steps=1, kd_steps=1)
    monkeypatch.setattr(fast_module, "reset_first_layers", lambda g: resets.append(method.round))
    method.params.reset_round = 1
    assert method.meta_optimizer.param_groups[0]["lr"] == pytest.approx(method.params.lr_g * 2)
    meta_before = [p.detach().clone() for p in method.generator.parameters()]
    stats = [method.synthesize() for _ in range(4)]
    assert ["loss_adv" in s for s in stats] == [False, True, True, True]  # adversarial from round == warmup (2)
    assert resets == [3]  # once, at round reset_round + warm-up rounds
    assert not all(torch.equal(a, b) for a, b in zip(meta_before, method.generator.parameters(), strict=True))
    assert method.data_scale() == 4 * 8
    assert method.pool.images.min() >= 0.0 and method.pool.images.max() <= 1.0
    assert student.training and all(p.grad is None for p in student.parameters())
    assert len(method.teacher_bn.state_dict()["mean"]) == len(method.teacher_bn)


def test_fomaml_meta_gradient_is_the_sum_of_inner_gradients(teacher_root: Path, monkeypatch: pytest.MonkeyPatch):
    """With the inner learning rates at 0 the clone never moves, so each inner step's gradient is taken at the
    meta-parameters; recording them independently, the meta-gradient must be their sum."""
    torch.manual_seed(0)
    method, _ = _fast(teacher_root)
    method.params.lr_g = method.params.lr_z = 0.0
    recorded: list[list[torch.Tensor]] = []
    real_grad = torch.autograd.grad

    def spy(outputs, inputs, *args, **kwargs):
        grads = real_grad(outputs, inputs, *args, **kwargs)
        recorded.append([g.detach().clone() for g in grads[:-1]])
        return grads

    monkeypatch.setattr(fast_module.torch.autograd, "grad", spy)
    seen: list[list[torch.Tensor]] = []
    monkeypatch.setattr(
        method.meta_optimizer, "step", lambda: seen.append([p.grad.clone() for p in method.generator.parameters()])
    )
    method.synthesize()
    assert len(recorded) == method.params.g_steps == 2
    for meta_grad, a, b in zip(seen[0], recorded[0], recorded[1], strict=True):
        assert torch.allclose(meta_grad, a + b)


def test_fast_cards_set_n_and_the_per_n_learning_rates():
    expected = {"fast2": (2, 5e-3, 0.015), "fast5": (5, 3e-3, 0.01), "fast10": (10, 2e-3, 0.01)}
    for name, (n, lr_g, lr_z) in expected.items():
        cfg = resolve(get_card(name), "cifar100", "resnet34-resnet18")
        assert (cfg["method"]["g_steps"], cfg["method"]["lr_g"], cfg["method"]["lr_z"]) == (n, lr_g, lr_z)
        assert (cfg["method"]["adv"], cfg["method"]["oh"]) == (1.33, 0.5)
        assert cfg["train"]["epochs"] == 220 and cfg["train"]["warmup"] == 20 and cfg["train"]["lr"] == 0.2
    vgg = resolve(get_card("fast5"), "cifar10", "vgg11-resnet18")["method"]
    wrn = resolve(get_card("fast5"), "cifar10", "wrn40_2-wrn40_1")["method"]
    assert (vgg["adv"], vgg["oh"], wrn["adv"], wrn["oh"]) == (1.0, 0.5, 1.1, 0.4)


def test_ce_reference_formula_matches_torch():
    t = torch.tensor([[LN3, 0.0]])
    assert F.cross_entropy(t, torch.tensor([0])).item() == pytest.approx(-math.log(0.75), abs=1e-6)
