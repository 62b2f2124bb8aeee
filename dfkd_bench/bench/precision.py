"""How much bf16 autocast would change the synthesis objective that matches BN statistics: the loss on one input
batch and its gradient with respect to the pixels, in fp32 and in bf16. This is why the fast path leaves synthesis
in fp32: the loss is a norm of differences between batch moments and the teacher's running statistics, a small
difference of nearby numbers, and the gradient through it is what steers every synthetic image."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dfkd_bench.engine.fast_path import FastPath
from dfkd_bench.methods.bn_hook import BNStatsRegularizer
from dfkd_bench.models.modes import eval_mode


def bn_matching_precision(teacher: nn.Module, x: Tensor) -> dict[str, float]:
    """The BN-statistics loss of `teacher` on batch `x` in fp32 and bf16, its relative error, and the cosine
    similarity and relative norm error of the bf16 gradient with respect to `x` against fp32's."""
    regulariser = BNStatsRegularizer(teacher)
    losses: dict[str, Tensor] = {}
    grads: dict[str, Tensor] = {}
    try:
        with eval_mode(teacher):
            for precision in ("fp32", "bf16"):
                pixels = x.detach().clone().requires_grad_(True)
                with regulariser.active(), FastPath(precision).autocast(x.device):
                    teacher(pixels)
                    loss = regulariser.loss().float()
                (grads[precision],) = torch.autograd.grad(loss, [pixels])
                losses[precision] = loss.detach()
    finally:
        regulariser.remove()
    exact, rounded = grads["fp32"].flatten().double(), grads["bf16"].flatten().double()
    return {
        "loss_fp32": losses["fp32"].item(),
        "loss_bf16": losses["bf16"].item(),
        "loss_relative_error": ((losses["bf16"] - losses["fp32"]).abs() / losses["fp32"].abs()).item(),
        "grad_cosine": torch.nn.functional.cosine_similarity(exact, rounded, dim=0).item(),
        "grad_norm_relative_error": ((rounded.norm() - exact.norm()).abs() / exact.norm()).item(),
    }
