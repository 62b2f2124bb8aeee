"""Wide-ResNets from ZSKT as used by Fast-Datafree (pre-activation blocks, dropout 0).

Module names (``block1.layer.0.convShortcut``, ``fc`` ...) match the reference so its
checkpoints load with ``strict=True``. Note the reference quirk kept here: when a block changes
width, its shortcut convolution is applied to the *activated* input ``relu(bn1(x))``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dfkd_bench.models.init import reference_init


class BasicBlock(nn.Module):
    """Pre-activation residual block: BN-ReLU-conv-BN-ReLU-conv plus (projected) shortcut."""

    def __init__(self, in_planes: int, out_planes: int, stride: int, dropout_rate: float = 0.0) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.dropout = nn.Dropout(dropout_rate)
        self.equalInOut = in_planes == out_planes
        self.convShortcut = (
            None
            if self.equalInOut
            else nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, padding=0, bias=False)
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.equalInOut:
            o = self.relu1(self.bn1(x))
        else:
            x = self.relu1(self.bn1(x))
            o = x
        out = self.relu2(self.bn2(self.conv1(o)))
        out = self.conv2(self.dropout(out))
        shortcut = x if self.convShortcut is None else self.convShortcut(x)
        return shortcut + out


class NetworkBlock(nn.Module):
    """A group of ``nb_layers`` blocks; only the first changes width/stride."""

    def __init__(self, nb_layers: int, in_planes: int, out_planes: int, stride: int, dropout_rate: float = 0.0) -> None:
        super().__init__()
        blocks = [BasicBlock(in_planes, out_planes, stride, dropout_rate)]
        blocks += [BasicBlock(out_planes, out_planes, 1, dropout_rate) for _ in range(nb_layers - 1)]
        self.layer = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.layer(x)


class WideResNet(nn.Module):
    """WRN-depth-width for 32x32 inputs; ``depth`` must be 6n+4."""

    def __init__(
        self,
        depth: int,
        widen_factor: int,
        num_classes: int = 10,
        in_channels: int = 3,
        dropout_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ValueError(f"WideResNet depth must be 6n+4, got {depth}")
        n = (depth - 4) // 6
        ch = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(in_channels, ch[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.block1 = NetworkBlock(n, ch[0], ch[1], 1, dropout_rate)
        self.block2 = NetworkBlock(n, ch[1], ch[2], 2, dropout_rate)
        self.block3 = NetworkBlock(n, ch[2], ch[3], 2, dropout_rate)
        self.bn1 = nn.BatchNorm2d(ch[3])
        self.relu = nn.ReLU()
        self.fc = nn.Linear(ch[3], num_classes)
        reference_init(self)

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Logits, or ``(logits, pooled 64*width features)`` when ``return_features``."""
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = self.relu(self.bn1(out))
        features = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)
        logits = self.fc(features)
        return (logits, features) if return_features else logits


def wrn16_1(num_classes: int = 10, in_channels: int = 3) -> WideResNet:
    """WRN-16-1."""
    return WideResNet(16, 1, num_classes, in_channels)


def wrn16_2(num_classes: int = 10, in_channels: int = 3) -> WideResNet:
    """WRN-16-2, the usual student for a WRN-40-2 teacher."""
    return WideResNet(16, 2, num_classes, in_channels)


def wrn40_1(num_classes: int = 10, in_channels: int = 3) -> WideResNet:
    """WRN-40-1."""
    return WideResNet(40, 1, num_classes, in_channels)


def wrn40_2(num_classes: int = 10, in_channels: int = 3) -> WideResNet:
    """WRN-40-2, the usual WRN teacher."""
    return WideResNet(40, 2, num_classes, in_channels)
