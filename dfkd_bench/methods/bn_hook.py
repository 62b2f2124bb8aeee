"""Batch-norm statistics matching (DeepInversion's L_BN, SSD-KD Eq. 1), with Fast's optional momentum."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


class _BNStatsHook:
    """Records ‖σ² − running_var‖₂ + ‖μ − running_mean‖₂ for the input of one BatchNorm2d."""

    def __init__(self, module: nn.BatchNorm2d, momentum: float) -> None:
        self.module = module
        self.momentum = momentum
        self.ema: tuple[Tensor, Tensor] | None = None
        self.last: tuple[Tensor, Tensor] | None = None
        self.loss: Tensor | None = None
        self.enabled = False
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if not self.enabled:
            return
        x = inputs[0]
        mean = x.mean(dim=(0, 2, 3))
        var = x.permute(1, 0, 2, 3).flatten(1).var(dim=1, unbiased=False)
        self.last = (mean.detach(), var.detach())
        if self.momentum > 0 and self.ema is not None:
            mean = (1 - self.momentum) * mean + self.momentum * self.ema[0]
            var = (1 - self.momentum) * var + self.momentum * self.ema[1]
        self.loss = torch.norm(var - module.running_var, 2) + torch.norm(mean - module.running_mean, 2)

    def update_ema(self) -> None:
        if self.last is None:
            return
        if self.ema is None:
            self.ema = self.last
        else:
            m = self.momentum
            self.ema = (m * self.ema[0] + (1 - m) * self.last[0], m * self.ema[1] + (1 - m) * self.last[1])


class BNStatsRegularizer:
    """Hooks every BatchNorm2d of a model; `loss()` is the sum over layers after a forward pass.

    With momentum m > 0 (Fast), each batch statistic is blended with an EMA over past synthesis rounds, so the
    history of batches rather than every single batch must match the teacher's running statistics.
    """

    def __init__(self, model: nn.Module, momentum: float = 0.0) -> None:
        self.hooks = [_BNStatsHook(m, momentum) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]

    def __len__(self) -> int:
        return len(self.hooks)

    @contextmanager
    def active(self) -> Iterator[BNStatsRegularizer]:
        """Compute statistics only inside this block, so KD forwards pay nothing."""
        for h in self.hooks:
            h.enabled, h.loss = True, None
        try:
            yield self
        finally:
            for h in self.hooks:
                h.enabled = False

    def loss(self) -> Tensor:
        losses = [h.loss for h in self.hooks if h.loss is not None]
        if not losses:
            raise RuntimeError("BN statistics loss requested before a forward pass (or the model has no BN)")
        return torch.stack(losses).sum()

    def update_ema(self) -> None:
        """Fold the last forward's statistics into the EMA; call once per synthesis round."""
        for h in self.hooks:
            h.update_ema()

    def remove(self) -> None:
        for h in self.hooks:
            h.handle.remove()

    def state_dict(self) -> dict[str, list[Tensor]]:
        emas = [h.ema for h in self.hooks if h.ema is not None]
        return {"mean": [e[0] for e in emas], "var": [e[1] for e in emas]}

    def load_state_dict(self, state: dict[str, list[Tensor]]) -> None:
        for h, mean, var in zip(self.hooks, state["mean"], state["var"], strict=False):
            h.ema = (mean, var)
