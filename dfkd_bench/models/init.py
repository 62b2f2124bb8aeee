"""The reference repositories' weight initialisation, written once for the architectures that use it."""

from __future__ import annotations

import math

from torch import nn


def reference_init(model: nn.Module, linear_std: float | None = None) -> None:
    """Conv weights N(0, sqrt(2 / (k·k·out_channels))) with zero bias, BatchNorm (1, 0), Linear bias 0; Linear
    weights N(0, linear_std) where the reference draws them (VGG), else PyTorch's default (WRN). Freshly built
    students then start from the same law as the reference's."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear_std is not None:
                nn.init.normal_(m.weight, 0.0, linear_std)
            nn.init.zeros_(m.bias)
