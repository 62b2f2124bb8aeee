"""Every registered method card, through the common interface: one synthesis round and one KD step on CPU give
finite losses, and a state_dict round trip continues identically. New cards are covered automatically."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from dfkd_bench.config import all_cards, get_card, resolve
from dfkd_bench.data import get_spec, load_dataset
from dfkd_bench.engine.rng import rng_state, seed_everything, set_rng_state
from dfkd_bench.methods import METHODS, MethodContext
from dfkd_bench.methods.base import params_from_dict
from dfkd_bench.models import create_model
from dfkd_bench.teachers import TeacherStore
from dfkd_bench.train_config import TrainConfig

PAIR = "lenet5_bn-lenet5_half_bn"
SMALL = {"train.batch_size": 16, "train.synthesis_batch_size": 16}


def _build(name: str, teacher_root: Path):
    card = get_card(name)
    cfg = resolve(card, "mnist", PAIR, SMALL)
    if "g_steps" in cfg["method"]:
        cfg["method"]["g_steps"] = 3
    spec = get_spec("mnist")
    teacher, _ = TeacherStore(teacher_root).load("mnist", "lenet5_bn", 10, 1)
    teacher.requires_grad_(False)
    student = create_model("lenet5_half_bn", 10, 1)
    method_cls = METHODS.get(card.algorithm)
    ctx = MethodContext(
        teacher=teacher,
        student=student,
        spec=spec,
        device=torch.device("cpu"),
        train=TrainConfig(**cfg["train"]),
        real_train_set=lambda: load_dataset("mnist", "train"),
    )
    return method_cls(ctx, params_from_dict(method_cls, cfg["method"])), teacher, student


@pytest.mark.parametrize("name", sorted(all_cards()))
def test_one_round_and_one_kd_step_are_finite(name: str, teacher_root: Path):
    seed_everything(0)
    method, teacher, student = _build(name, teacher_root)
    stats = method.synthesize()
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values()), stats
    batch = method.sample()
    assert batch.x.shape[1:] == (1, 32, 32) and 0 < batch.x.shape[0] <= 16
    with torch.no_grad():
        t_logits = teacher(batch.x)
    s_logits = student(batch.x)
    parts = method.student_loss(s_logits, t_logits, batch)
    assert parts and all(v.ndim == 0 and torch.isfinite(v) for v in parts.values()), parts
    loss = sum(parts.values())
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    method.after_kd_step(batch, s_logits.detach(), t_logits)
    assert method.data_scale() > 0


@pytest.mark.parametrize("name", sorted(all_cards()))
def test_state_dict_round_trip_continues_identically(name: str, teacher_root: Path):
    seed_everything(1)
    method, _, _ = _build(name, teacher_root)
    method.synthesize()
    method.sample()
    state = copy.deepcopy(method.state_dict())
    rng = rng_state()
    expected = [method.sample().x for _ in range(3)]

    seed_everything(1)
    fresh, _, _ = _build(name, teacher_root)
    fresh.load_state_dict(state)
    set_rng_state(rng)
    for want in expected:
        assert torch.equal(fresh.sample().x, want)
    assert fresh.data_scale() == method.data_scale()


def _tiny_deepinv(keep: str, g_steps: int = 6):
    """A DeepInversion on untrained MNIST-shaped BN LeNets, 4 images per round (no stored teacher needed)."""
    from dfkd_bench.methods.deepinv import DeepInversion, DeepInvParams

    teacher = create_model("lenet5_bn", 10, 1).eval().requires_grad_(False)
    ctx = MethodContext(
        teacher=teacher,
        student=create_model("lenet5_half_bn", 10, 1),
        spec=get_spec("mnist"),
        device=torch.device("cpu"),
        train=TrainConfig(batch_size=4, synthesis_batch_size=4),
        real_train_set=lambda: None,
    )
    return DeepInversion(ctx, DeepInvParams(g_steps=g_steps, lr_g=0.1, keep=keep))


def _record_iterates(method, monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[float, torch.Tensor]], list]:
    """Spy on one synthesize(): every evaluated (loss, iterate) pair, and the pixel tensor itself after the loop."""
    evaluated: list[tuple[float, torch.Tensor]] = []
    pixels: list[torch.Tensor] = []
    real_grad, real_invert = torch.autograd.grad, method._invert

    def grad(loss, inputs, *args, **kwargs):
        evaluated.append((loss.item(), inputs[0].detach().clone()))
        return real_grad(loss, inputs, *args, **kwargs)

    def invert(x, *args):
        pixels.append(x)
        return real_invert(x, *args)

    monkeypatch.setattr(torch.autograd, "grad", grad)
    monkeypatch.setattr(method, "_invert", invert)
    return evaluated, pixels


def _spied_round(keep: str, monkeypatch: pytest.MonkeyPatch):
    """One seeded synthesis round of a tiny DeepInversion with `keep`, spied on by `_record_iterates`."""
    seed_everything(0)
    method = _tiny_deepinv(keep)
    evaluated, pixels = _record_iterates(method, monkeypatch)
    stats = method.synthesize()
    return method, method.ctx.spec, evaluated, pixels, stats


def test_deepinv_keep_final_pools_the_last_clamped_iterate(monkeypatch: pytest.MonkeyPatch):
    from dfkd_bench.data.augment import denormalize

    method, spec, evaluated, pixels, stats = _spied_round("final", monkeypatch)
    assert len(evaluated) == 6 and len(pixels) == 1
    final = denormalize(pixels[0].detach(), spec.mean, spec.std)
    # The final iterate was clamped to the valid pixel range inside the loop, so the pool holds it unchanged.
    assert final.min() >= -1e-6 and final.max() <= 1 + 1e-6
    assert torch.allclose(method.pool.images, final.clamp(0, 1), atol=1e-6)
    assert torch.allclose(method.pool.images, final, atol=1e-5)
    # It is the state after the last Adam step: never itself evaluated, so unlike the lowest-loss iterate.
    losses = [loss for loss, _ in evaluated]
    lowest = denormalize(evaluated[losses.index(min(losses))][1], spec.mean, spec.std).clamp(0, 1)
    assert (method.pool.images - lowest).abs().max() > 1e-3
    assert stats["synth_loss"] == pytest.approx(min(losses))


def test_deepinv_keep_lowest_loss_pools_the_lowest_loss_iterate(monkeypatch: pytest.MonkeyPatch):
    from dfkd_bench.data.augment import denormalize

    method, spec, evaluated, pixels, stats = _spied_round("lowest_loss", monkeypatch)
    losses = [loss for loss, _ in evaluated]
    best = losses.index(min(losses))
    assert torch.allclose(method.pool.images, denormalize(evaluated[best][1], spec.mean, spec.std).clamp(0, 1))
    final = denormalize(pixels[0].detach(), spec.mean, spec.std)
    assert (method.pool.images - final).abs().max() > 1e-3
    assert stats["synth_loss"] == pytest.approx(losses[best])


def test_deepinv_bad_keep_is_refused_naming_the_choices():
    from dfkd_bench.errors import BadInput
    from dfkd_bench.methods.deepinv import DeepInvParams

    with pytest.raises(BadInput, match="keep must be one of final, lowest_loss.*'best'"):
        DeepInvParams(keep="best")
    with pytest.raises(BadInput, match="final, lowest_loss"):
        resolve(get_card("deepinv"), "mnist", PAIR, {"method.keep": "lowest"})


def test_deepinv_student_bn_weight_is_the_references_effective_0_01():
    from dfkd_bench.methods.deepinv import DeepInvParams

    assert DeepInvParams().bn_student == 0.01 and DeepInvParams().keep == "final"
    for dataset, pair in (("cifar10", "wrn40_2-wrn16_1"), ("cifar100", "resnet34-resnet18"), ("mnist", PAIR)):
        method = resolve(get_card("deepinv"), dataset, pair)["method"]
        assert method["bn_student"] == 0.01 and method["keep"] == "final", dataset


def test_dfq_resnet34_resnet18_on_cifar100_uses_the_cmi_scripts_lr():
    cfg = resolve(get_card("dfq"), "cifar100", "resnet34-resnet18")
    assert cfg["train"]["lr"] == 0.05 and cfg["train"]["T"] == 1
    assert resolve(get_card("dfq"), "cifar10", "resnet34-resnet18")["train"]["lr"] == 0.1  # no reference line
    assert resolve(get_card("dfq"), "cifar100", "wrn40_2-wrn16_1")["train"]["lr"] == 0.1
