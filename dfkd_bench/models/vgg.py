"""VGG-11 with BatchNorm in the RepDistiller layout used by Fast-Datafree (``vgg11`` there).

The network is split into five blocks whose final ReLU is stripped and re-applied in
``forward``; keeping that quirk gives the reference parameter names (``block2.3.weight`` ...)
so published checkpoints load with ``strict=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dfkd_bench.models.init import reference_init

VGG11_CFG: list[list[int]] = [[64], [128], [256, 256], [512, 512], [512, 512]]


def _make_block(widths: Sequence[int], in_channels: int) -> nn.Sequential:
    """Conv-BN-ReLU per width, dropping the trailing ReLU (the reference's ``layers[:-1]``)."""
    layers: list[nn.Module] = []
    for v in widths:
        layers += [nn.Conv2d(in_channels, v, kernel_size=3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
        in_channels = v
    return nn.Sequential(*layers[:-1])


class VGG(nn.Module):
    """VGG-BN for 32x32 (and 64x64) inputs; the fourth max-pool only runs for 64x64 inputs."""

    def __init__(self, cfg: Sequence[Sequence[int]] = VGG11_CFG, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.block0 = _make_block(cfg[0], in_channels)
        self.block1 = _make_block(cfg[1], cfg[0][-1])
        self.block2 = _make_block(cfg[2], cfg[1][-1])
        self.block3 = _make_block(cfg[3], cfg[2][-1])
        self.block4 = _make_block(cfg[4], cfg[3][-1])
        self.pool0 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.pool2 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.pool3 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.pool4 = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(cfg[4][-1], num_classes)
        reference_init(self, linear_std=0.01)

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Logits, or ``(logits, pooled 512-d features)`` when ``return_features``."""
        h = x.shape[2]
        x = self.pool0(F.relu(self.block0(x)))
        x = self.pool1(F.relu(self.block1(x)))
        x = self.pool2(F.relu(self.block2(x)))
        x = F.relu(self.block3(x))
        if h == 64:
            x = self.pool3(x)
        x = self.pool4(F.relu(self.block4(x)))
        features = torch.flatten(x, 1)
        logits = self.classifier(features)
        return (logits, features) if return_features else logits


def vgg11(num_classes: int = 10, in_channels: int = 3) -> VGG:
    """VGG-11 with BatchNorm (the reference's ``vgg11_bn`` registered as ``vgg11``)."""
    return VGG(VGG11_CFG, num_classes, in_channels)
