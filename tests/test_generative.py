"""The generator baselines (dafl, zskt, dfq, dfad cards): each generator loss against a hand formula on fixed
tensors, the student-as-adversary fix, DFAD's L1 student loss, fresh counted samples, gradient isolation and a
checkpoint round trip. Tiny linear networks on 1x4x4 images keep it fast."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from torch import Tensor, nn

from dfkd_bench.config import get_card, resolve
from dfkd_bench.data import DatasetSpec
from dfkd_bench.methods import Batch, MethodContext
from dfkd_bench.methods.generative import Generative
from dfkd_bench.methods.losses import kd_kl
from dfkd_bench.train_config import TrainConfig

SPEC = DatasetSpec("toy", 3, 1, 4, (0.5,), (0.25,), False, ("a", "b", "c"))
CARDS = ("dafl", "zskt", "dfq", "dfad")
SMALL = {"train.batch_size": 4, "train.synthesis_batch_size": 4, "method.nz": 8, "method.ngf": 4}


class TinyNet(nn.Module):
    """Optional BatchNorm on the input, then one linear layer; the features are the flattened BN output."""

    def __init__(self, seed: int, batch_norm: bool = True) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.bn = nn.BatchNorm2d(1) if batch_norm else nn.Identity()
        if batch_norm:
            self.bn.running_mean.fill_(0.1)
            self.bn.running_var.fill_(2.0)
            with torch.no_grad():
                self.bn.weight.fill_(1.5)
                self.bn.bias.fill_(0.2)
        self.fc = nn.Linear(16, 3)
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(3, 16, generator=g))
            self.fc.bias.copy_(torch.randn(3, generator=g))

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        features = self.bn(x).flatten(1)
        logits = self.fc(features)
        return (logits, features) if return_features else logits


def build(name: str, student: nn.Module | None = None, teacher: nn.Module | None = None, **overrides) -> Generative:
    torch.manual_seed(0)
    cfg = resolve(get_card(name), "mnist", "lenet5_bn-lenet5_half_bn", {**SMALL, **overrides})
    teacher = (teacher or TinyNet(1)).eval().requires_grad_(False)
    ctx = MethodContext(
        teacher=teacher,
        student=student if student is not None else TinyNet(2),
        spec=SPEC,
        device=torch.device("cpu"),
        train=TrainConfig(**cfg["train"]),
        real_train_set=lambda: pytest.fail("a data-free method asked for real data"),
    )
    return Generative(ctx, Generative.Params(**cfg["method"]))


def images() -> Tensor:
    return torch.rand(4, 1, 4, 4, generator=torch.Generator().manual_seed(3))


def hand_terms(method: Generative, images01: Tensor) -> dict[str, float]:
    """Every term from its definition, with the teacher's eval-mode BN and linear layer written out."""
    teacher, student = method.teacher, method.student
    x = (images01 - 0.5) / 0.25
    bn = teacher.bn
    f = ((x - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias).flatten(1)
    t = f @ teacher.fc.weight.T + teacher.fc.bias
    s = student(x).detach()
    log_pt = t - t.logsumexp(dim=1, keepdim=True)
    log_ps = s - s.logsumexp(dim=1, keepdim=True)
    p_mean = log_pt.exp().mean(dim=0)
    batch_mean, batch_var = x.mean(), x.var(unbiased=False)
    return {
        "loss_bn": ((batch_var - 2.0).abs() + (batch_mean - 0.1).abs()).item(),
        "loss_oh": (t.logsumexp(dim=1) - t.max(dim=1).values).mean().item(),
        "loss_act": -f.abs().mean().item(),
        "loss_balance": (p_mean * p_mean.log()).sum().item(),
        "loss_adv_kl": -(log_pt.exp() * (log_pt - log_ps)).sum(dim=1).mean().item(),
        "loss_adv_l1": -(s - t).abs().mean().item(),
    }


@pytest.mark.parametrize("name", CARDS)
def test_generator_loss_is_the_weighted_sum_of_hand_computed_terms(name: str):
    method = build(name)
    method.student.eval()
    p = method.params
    hand = hand_terms(method, images())
    hand["loss_adv"] = hand[f"loss_adv_{p.adv_loss}"]
    weights = {"loss_bn": p.bn, "loss_oh": p.oh, "loss_act": p.act, "loss_balance": p.balance, "loss_adv": p.adv}
    total, parts = method.generator_loss(images())
    assert set(parts) == {k for k, w in weights.items() if w}
    for key in parts:
        assert parts[key] == pytest.approx(hand[key], rel=1e-5, abs=1e-6), key
    expected = sum(w * hand[k] for k, w in weights.items() if w)
    assert total.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_cards_carry_the_reference_weights_and_temperature():
    weights = {
        "dafl": (0, 0, 1, 0.001, 20, "kl", "kl"),
        "zskt": (1, 0, 0, 0, 0, "kl", "kl"),
        "dfq": (1, 1, 1, 0, 20, "kl", "kl"),
        "dfad": (1, 0, 0, 0, 0, "l1", "l1"),
    }
    for name, want in weights.items():
        cfg = resolve(get_card(name), "cifar10", "wrn40_2-wrn16_1")
        m = cfg["method"]
        assert (m["adv"], m["bn"], m["oh"], m["act"], m["balance"], m["adv_loss"], m["student_loss"]) == want
        assert cfg["train"]["T"] == 1 and m["lr_g"] == 1e-3
        assert cfg["train"]["kd_steps"] == (10 if name == "dfq" else 5)
        assert m["nz"] == (512 if name == "dafl" else 256)


@pytest.mark.parametrize("name", ["zskt", "dfad"])
def test_adversarial_term_uses_the_student(name: str):
    fixed = build(name)
    _, parts = fixed.generator_loss(images())
    assert abs(parts["loss_adv"]) > 1e-3
    teacher = TinyNet(1)
    buggy = build(name, student=copy.deepcopy(teacher).eval(), teacher=teacher)  # Fast-Datafree's issue #11
    _, parts = buggy.generator_loss(images())
    assert parts["loss_adv"] == pytest.approx(0.0, abs=1e-6)


def test_dfad_trains_the_student_with_l1_and_the_others_with_kl_at_t1():
    s = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, 3.0]])
    t = torch.tensor([[0.0, 1.0, 0.5], [2.0, -1.0, 1.0]])
    batch = Batch(x=torch.zeros(2, 1, 4, 4))
    # mean |s - t| = (1 + 3 + 0 + 2 + 1 + 2) / 6 = 1.5
    dfad, dafl = build("dfad").student_loss(s, t, batch), build("dafl").student_loss(s, t, batch)
    assert list(dfad) == ["l1"] and dfad["l1"].item() == pytest.approx(1.5)
    assert list(dafl) == ["kl"] and dafl["kl"].item() == pytest.approx(kd_kl(s, t, T=1.0).item())


def test_synthesis_updates_only_the_generator_with_the_student_in_eval_mode():
    method = build("dfq")
    student = method.student.train()
    before = {k: v.clone() for k, v in method.generator.state_dict().items()}
    student_before = {k: v.clone() for k, v in student.state_dict().items()}
    stats = method.synthesize()
    assert set(stats) == {"synth_loss", "loss_bn", "loss_oh", "loss_balance", "loss_adv"}
    assert student.training
    assert all(p.grad is None for p in student.parameters())
    assert all(p.grad is None for p in method.teacher.parameters())
    for key, value in student.state_dict().items():  # eval mode: BN running statistics untouched
        assert torch.equal(value, student_before[key]), key
    assert all(p.grad is not None for p in method.generator.parameters())
    changed = [k for k, v in method.generator.state_dict().items() if not torch.equal(v, before[k])]
    assert "l1.0.weight" in changed and "conv_blocks.9.weight" in changed


def test_sample_draws_fresh_batches_and_counts_them():
    method = build("zskt")
    running = method.generator.conv_blocks[0].running_mean.clone()
    a, b = method.sample(), method.sample()
    assert a.x.shape == (4, 1, 4, 4) and not torch.equal(a.x, b.x)
    assert method.data_scale() == 8
    assert not method.generator.training
    assert torch.equal(method.generator.conv_blocks[0].running_mean, running)  # eval mode: statistics untouched
    reference_mode = build("zskt", **{"method.sample_mode": "train"})
    reference_mode.sample()
    assert not torch.equal(reference_mode.generator.conv_blocks[0].running_mean, running)


def test_state_dict_round_trip_through_a_weights_only_checkpoint():
    method = build("dafl")
    method.synthesize()
    method.sample()
    buffer = io.BytesIO()
    torch.save(method.state_dict(), buffer)
    buffer.seek(0)
    fresh = build("dafl")
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert fresh.data_scale() == method.data_scale() == 4
    for m in (method, fresh):
        torch.manual_seed(5)
        m.synthesize()
    fresh_state = fresh.generator.state_dict()
    for key, want in method.generator.state_dict().items():
        assert torch.equal(fresh_state[key], want), key
    torch.manual_seed(6)
    want = method.sample().x
    torch.manual_seed(6)
    assert torch.equal(fresh.sample().x, want)


def test_invalid_settings_are_clear_errors():
    with pytest.raises(ValueError, match="no BatchNorm2d"):
        build("dfq", teacher=TinyNet(1, batch_norm=False))
    build("dafl", teacher=TinyNet(1, batch_norm=False))  # DAFL, ZSKT and DFAD need no BN
    with pytest.raises(ValueError, match="data_scale"):
        build("zskt", **{"train.data_scale": 100})
    with pytest.raises(ValueError, match="adv_loss must be one of kl, l1"):
        build("zskt", **{"method.adv_loss": "js"})
    with pytest.raises(ValueError, match="every generator loss weight"):
        build("zskt", **{"method.adv": 0})
