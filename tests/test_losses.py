"""Golden values for every loss term, computed by hand (comments) on small fixed tensors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dfkd_bench.methods.bn_hook import BNStatsRegularizer
from dfkd_bench.methods.losses import (
    class_balance,
    jensen_shannon_adversarial,
    kd_kl,
    l2_prior,
    one_hot_ce,
    total_variation_l1,
)

LN3 = math.log(3.0)


def test_kd_kl_at_t1_matches_hand_value():
    # p_t = (3/4, 1/4), p_s = (1/2, 1/2): KL = 3/4 ln(3/2) + 1/4 ln(1/2) = 0.130812
    s = torch.tensor([[0.0, 0.0]])
    t = torch.tensor([[LN3, 0.0]])
    assert kd_kl(s, t, T=1.0).item() == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5), abs=1e-6)
    assert kd_kl(s, t, T=1.0).item() == pytest.approx(0.130812, abs=1e-6)


def test_kd_kl_temperature_scales_by_t_squared():
    # At T = 2, p_t = (√3, 1)/(1+√3) = (0.633975, 0.366025); KL = 0.036341; times T² = 0.145363
    s = torch.tensor([[0.0, 0.0]])
    t = torch.tensor([[LN3, 0.0]])
    a = math.sqrt(3) / (1 + math.sqrt(3))
    expected = 4 * (a * math.log(a / 0.5) + (1 - a) * math.log((1 - a) / 0.5))
    assert kd_kl(s, t, T=2.0).item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(0.145363, abs=1e-6)


def test_kd_kl_per_sample_and_zero_for_equal_logits():
    s = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    t = torch.tensor([[LN3, 0.0], [1.0, 2.0]])
    per = kd_kl(s, t, T=1.0, reduction="none")
    assert per.shape == (2,)
    assert per[0].item() == pytest.approx(0.130812, abs=1e-6)
    assert per[1].item() == pytest.approx(0.0, abs=1e-7)
    assert kd_kl(s, t, T=1.0).item() == pytest.approx(0.130812 / 2, abs=1e-6)
    with pytest.raises(ValueError, match="batchmean, none"):
        kd_kl(s, t, T=1.0, reduction="sum")


def test_jensen_shannon_adversarial_hand_value():
    # At T = 3: p_s = (1/2, 1/2), p_t = (3/4, 1/4) (teacher logits 3 ln 3, 0); m = (5/8, 3/8)
    # KL(m‖p_s) = 0.031584, KL(m‖p_t) = 0.038098 -> −(0.5·0.031584 + 0.5·0.038098) = −0.034841
    s = torch.tensor([[0.0, 0.0]])
    t = torch.tensor([[3 * LN3, 0.0]])
    m = (0.625, 0.375)
    kl_ms = m[0] * math.log(m[0] / 0.5) + m[1] * math.log(m[1] / 0.5)
    kl_mt = m[0] * math.log(m[0] / 0.75) + m[1] * math.log(m[1] / 0.25)
    value = jensen_shannon_adversarial(s, t, T=3.0).item()
    assert value == pytest.approx(-(0.5 * kl_ms + 0.5 * kl_mt), abs=1e-6)
    assert value == pytest.approx(-0.034841, abs=1e-5)


def test_jensen_shannon_clamps_probabilities():
    # p_t = (1, 0) is clamped to (0.99, 0.01) before the divergence, so the value stays finite
    s = torch.tensor([[0.0, 0.0]])
    t = torch.tensor([[100.0, -100.0]])
    assert math.isfinite(jensen_shannon_adversarial(s, t).item())


def test_class_balance_is_minus_log_k_for_a_uniform_histogram():
    t = torch.tensor([[LN3, 0.0], [0.0, LN3]])  # softmaxes (3/4,1/4) and (1/4,3/4): mean (1/2, 1/2)
    assert class_balance(t).item() == pytest.approx(-math.log(2), abs=1e-6)
    skewed = torch.tensor([[LN3, 0.0], [LN3, 0.0]])  # mean (3/4, 1/4): 3/4 ln 3/4 + 1/4 ln 1/4 = −0.562335
    assert class_balance(skewed).item() == pytest.approx(-0.562335, abs=1e-6)


def test_one_hot_ce_hand_value():
    t = torch.tensor([[LN3, 0.0]])
    assert one_hot_ce(t, torch.tensor([0])).item() == pytest.approx(-math.log(0.75), abs=1e-6)
    assert one_hot_ce(t, torch.tensor([1])).item() == pytest.approx(-math.log(0.25), abs=1e-6)


def test_image_priors_hand_values():
    x = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    # right: |0-1|,|2-4| -> 1.5; down: |0-2|,|1-4| -> 2.5; diag (1,0)-(0,1): |2-1| = 1; diag (0,0)-(1,1): 4
    assert total_variation_l1(x).item() == pytest.approx(1.5 + 2.5 + 1 + 4, abs=1e-6)
    assert l2_prior(x).item() == pytest.approx(math.sqrt(0 + 1 + 4 + 16), abs=1e-6)


def _bn(channels: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels).eval()
    return bn


def test_bn_statistics_loss_hand_value():
    bn = _bn(1)  # running mean 0, running var 1
    reg = BNStatsRegularizer(nn.Sequential(bn))
    x = torch.tensor([1.0, 3.0, 5.0, 7.0]).view(2, 1, 1, 2)  # mean 4, biased var 5
    with reg.active():
        bn(x)
        assert reg.loss().item() == pytest.approx(abs(5 - 1) + abs(4 - 0), abs=1e-5)
    reg.remove()


def test_bn_statistics_loss_uses_l2_norms_over_channels_and_sums_layers():
    model = nn.Sequential(_bn(2), _bn(2))
    reg = BNStatsRegularizer(model)
    x = torch.zeros(2, 2, 1, 1)
    x[:, 0] = torch.tensor([1.0, 3.0]).view(2, 1, 1)  # channel 0: mean 2, var 1
    x[:, 1] = torch.tensor([0.0, 4.0]).view(2, 1, 1)  # channel 1: mean 2, var 4
    with reg.active():
        first = model[0](x)
        model[1](first)
        per_layer0 = math.hypot(1 - 1, 4 - 1) + math.hypot(2, 2)
        assert reg.hooks[0].loss.item() == pytest.approx(per_layer0, abs=1e-5)
        assert reg.loss().item() == pytest.approx(per_layer0 + reg.hooks[1].loss.item(), abs=1e-6)
    assert len(reg) == 2


def test_bn_statistics_hooks_are_idle_outside_active_block():
    bn = _bn(1)
    reg = BNStatsRegularizer(nn.Sequential(bn))
    bn(torch.randn(4, 1, 2, 2))
    with pytest.raises(RuntimeError, match="before a forward pass"):
        reg.loss()


def test_bn_momentum_blends_with_ema_of_previous_rounds():
    bn = _bn(1)
    reg = BNStatsRegularizer(nn.Sequential(bn), momentum=0.9)
    first = torch.tensor([1.0, 3.0, 5.0, 7.0]).view(2, 1, 1, 2)  # mean 4, var 5
    second = torch.tensor([0.0, 0.0, 2.0, 2.0]).view(2, 1, 1, 2)  # mean 1, var 1
    with reg.active():
        bn(first)
        assert reg.loss().item() == pytest.approx(4 + 4, abs=1e-5)  # no EMA yet: plain statistics
    reg.update_ema()
    with reg.active():
        bn(second)
        mean = 0.1 * 1 + 0.9 * 4  # 3.7
        var = 0.1 * 1 + 0.9 * 5  # 4.6
        assert reg.loss().item() == pytest.approx(abs(var - 1) + abs(mean), abs=1e-5)
    reg.update_ema()  # EMA <- 0.9 * (4, 5) + 0.1 * (1, 1) = (3.7, 4.6)
    state = reg.state_dict()
    assert state["mean"][0].item() == pytest.approx(3.7, abs=1e-6)
    assert state["var"][0].item() == pytest.approx(4.6, abs=1e-6)
    other = BNStatsRegularizer(nn.Sequential(_bn(1)), momentum=0.9)
    other.load_state_dict(state)
    assert other.hooks[0].ema[0].item() == pytest.approx(3.7, abs=1e-6)
