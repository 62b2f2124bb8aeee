"""CMI's parts on small fixed tensors (contrastive loss, feature bank, local view, feature hook, generator reset) and
its synthesis round with and without the contrastive branch, on a randomly initialised teacher (no fixture)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from dfkd_bench.data import get_spec
from dfkd_bench.engine.rng import rng_state, seed_everything, set_rng_state
from dfkd_bench.errors import BadInput
from dfkd_bench.methods import MethodContext
from dfkd_bench.methods.cmi import (
    CMI,
    CMIParams,
    FeatureBank,
    InstanceMeanHooks,
    instance_contrastive_loss,
    reinitialise,
)
from dfkd_bench.methods.cmi_views import random_resized_crop
from dfkd_bench.models import create_generator, create_model
from dfkd_bench.train_config import TrainConfig


def _expected_infonce(anchors: list[list[float]], keys: list[list[float]], temperature: float) -> list[float]:
    """Per-row −log softmax(a_i · k_j / T)[i], written out with plain floats."""
    out = []
    for i, a in enumerate(anchors):
        logits = [sum(x * y for x, y in zip(a, k, strict=True)) / temperature for k in keys]
        out.append(math.log(sum(math.exp(v) for v in logits)) - logits[i])
    return out


ANCHORS = [[1.0, 0.0], [0.6, 0.8], [0.0, -1.0]]
KEYS = [[0.8, 0.6], [0.0, 1.0], [-0.6, -0.8]]


def test_contrastive_loss_without_cached_rows_is_the_mean_ce():
    rows = _expected_infonce(ANCHORS, KEYS, 0.5)
    got = instance_contrastive_loss(torch.tensor(ANCHORS), torch.tensor(KEYS), 0.5, n_current=3)
    assert got.item() == pytest.approx(sum(rows) / 3, rel=1e-6)


def test_contrastive_loss_weights_current_and_cached_rows_equally():
    rows = _expected_infonce(ANCHORS, KEYS, 0.2)
    got = instance_contrastive_loss(torch.tensor(ANCHORS), torch.tensor(KEYS), 0.2, n_current=1)
    assert got.item() == pytest.approx(rows[0] + (rows[1] + rows[2]) / 2, rel=1e-6)


def _rows(start: int, n: int) -> torch.Tensor:
    ids = torch.arange(start, start + n, dtype=torch.float32)
    return torch.stack([ids, -ids], dim=1)


def test_feature_bank_overwrites_the_oldest_rows_first():
    bank = FeatureBank(capacity=5, dim=2, device=torch.device("cpu"))
    bank.add(_rows(0, 3))
    assert len(bank) == 3 and bank.ptr == 3
    bank.add(_rows(3, 3))
    assert len(bank) == 5 and bank.ptr == 1
    assert bank.data[:, 0].tolist() == [5, 1, 2, 3, 4]
    bank.add(_rows(6, 2))
    assert bank.data[:, 0].tolist() == [5, 6, 7, 3, 4] and bank.ptr == 3


def test_feature_bank_sampling_is_capped_by_its_content():
    bank = FeatureBank(capacity=8, dim=2, device=torch.device("cpu"))
    assert bank.sample(4).shape == (0, 2)
    bank.add(_rows(0, 3))
    drawn = bank.sample(10)
    assert drawn.shape == (3, 2) and sorted(drawn[:, 0].tolist()) == [0, 1, 2]
    assert len(set(bank.sample(2)[:, 0].tolist())) == 2
    with pytest.raises(ValueError, match="capacity"):
        bank.add(_rows(0, 9))


def test_feature_bank_state_round_trip():
    bank = FeatureBank(capacity=4, dim=2, device=torch.device("cpu"))
    bank.add(_rows(0, 3))
    bank.add(_rows(3, 2))
    fresh = FeatureBank(capacity=4, dim=2, device=torch.device("cpu"))
    fresh.load_state_dict(copy.deepcopy(bank.state_dict()))
    assert torch.equal(fresh.data, bank.data) and (fresh.ptr, len(fresh)) == (bank.ptr, len(bank))
    fresh.add(_rows(9, 1))
    assert fresh.data[:, 0].tolist() == [4, 9, 2, 3]


def test_random_resized_crop_full_box_is_the_identity():
    x = torch.rand(4, 3, 8, 8)
    out = random_resized_crop(x, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert torch.allclose(out, x, atol=1e-5)


def test_random_resized_crop_shape_randomness_and_gradient():
    x = torch.rand(6, 2, 12, 12, requires_grad=True)
    out = random_resized_crop(x, scale=(0.25, 0.5), ratio=(3 / 4, 4 / 3))
    assert out.shape == x.shape
    assert not torch.allclose(out, x)
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(
        random_resized_crop(x, (0.25, 1), (0.75, 1.33), g1), random_resized_crop(x, (0.25, 1), (0.75, 1.33), g2)
    )
    with pytest.raises(ValueError, match="scale"):
        random_resized_crop(x, scale=(0.0, 1.0), ratio=(1.0, 1.0))


def test_instance_mean_hook_records_input_means_only_while_active():
    first, second = nn.BatchNorm2d(2).eval(), nn.BatchNorm2d(1).eval()
    net = nn.Sequential(first, nn.Conv2d(2, 1, 1, bias=False), second)
    nn.init.ones_(net[1].weight)
    hooks = InstanceMeanHooks([first, second])
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 8.0]]]])  # 1 x 2 x 2 x 2
    net(x)
    with pytest.raises(RuntimeError):
        hooks.features()
    with hooks.active():
        net(x)
    # BN in eval with default stats is ~identity, so the conv sums the channels: [1, 2, 3, 12], mean 4.5.
    assert torch.allclose(hooks.features(), torch.tensor([[2.5, 2.0, 4.5]]), atol=1e-4)
    hooks.remove()


def test_reinitialise_draws_dcgan_statistics():
    torch.manual_seed(0)
    gen = create_generator(256, 32, 3, 64)
    for p in gen.parameters():
        nn.init.constant_(p, 5.0)
    reinitialise(gen)
    conv = gen.conv_blocks[2].weight
    assert abs(conv.mean().item()) < 1e-3 and conv.std().item() == pytest.approx(0.02, rel=0.02)
    linear = gen.l1[0]
    assert linear.weight.std().item() == pytest.approx(0.02, rel=0.02) and not linear.bias.any()
    bn = gen.conv_blocks[0]
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01)
    assert bn.weight.std().item() == pytest.approx(0.02, rel=0.25) and not bn.bias.any()


def _cmi(dataset: str, **params) -> CMI:
    spec = get_spec(dataset)
    teacher = create_model("lenet5_bn", spec.num_classes, spec.in_channels).eval().requires_grad_(False)
    student = create_model("lenet5_half_bn", spec.num_classes, spec.in_channels)
    train = TrainConfig(batch_size=8, synthesis_batch_size=8)
    ctx = MethodContext(teacher, student, spec, torch.device("cpu"), train, lambda: None)
    defaults = {"g_steps": 2, "ngf": 8, "nz": 16, "bank_size": 20, "n_neg": 6, "head_dim": 4}
    return CMI(ctx, CMIParams(**(defaults | params)))


def test_cr_zero_synthesises_without_touching_the_bank():
    seed_everything(0)
    method = _cmi("mnist", cr=0.0)
    head = copy.deepcopy(method.head.state_dict())
    stats = method.synthesize()
    assert "loss_cr" not in stats and math.isfinite(stats["synth_loss"])
    assert len(method.bank) == 0 and method.bank.data is None
    assert all(torch.equal(v, head[k]) for k, v in method.head.state_dict().items())
    assert method.data_scale() == 8


def test_contrastive_rounds_fill_the_bank_and_resume_exactly():
    seed_everything(1)
    method = _cmi("cifar10")
    stats = method.synthesize()
    assert math.isfinite(stats["loss_cr"]) and len(method.bank) == 8
    assert method.bank.dim == 2 * (6 + 16 + 120)
    state, rng = copy.deepcopy(method.state_dict()), rng_state()
    method.synthesize()

    seed_everything(1)
    fresh = _cmi("cifar10")
    fresh.load_state_dict(state)
    set_rng_state(rng)
    fresh.synthesize()
    assert len(fresh.bank) == 16 and fresh.round == method.round == 2
    assert torch.equal(fresh.bank.data, method.bank.data)
    assert torch.equal(fresh.pool.images, method.pool.images)
    for key, value in method.head.state_dict().items():
        assert torch.equal(fresh.head.state_dict()[key], value)


def test_bad_values_are_clear_errors():
    with pytest.raises(BadInput, match="cr_T"):
        CMIParams(cr_T=0)
    with pytest.raises(BadInput, match="local_scale"):
        CMIParams(local_scale=(0.5, 0.25))
    with pytest.raises(BadInput, match="nope"):
        _cmi("mnist", feature_layers=["nope"])
    with pytest.raises(BadInput, match="bank_size"):
        _cmi("mnist", bank_size=4)
