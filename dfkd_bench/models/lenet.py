"""LeNet-5 (and its half-width student) from DAFL, plus BatchNorm variants for CPU runs.

The plain pair keeps DAFL's parameter names (``features.*``, ``fc.*``) so its MNIST checkpoints
load. The ``*_bn`` pair puts a BatchNorm after every conv so that methods which match BN
statistics (DeepInversion, CMI, Fast, SSD-KD) have something to match while still training in
seconds on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class LeNet5(nn.Module):
    """LeNet-5 for 32x32 inputs (MNIST padded by 2); conv widths ``c1, c2, c3``, hidden ``h``."""

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        widths: Sequence[int] = (6, 16, 120, 84),
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        c1, c2, c3, hidden = widths

        def conv(cin: int, cout: int) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel_size=5)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU())
            return layers

        self.features = nn.Sequential(
            *conv(in_channels, c1),
            nn.MaxPool2d(kernel_size=2, stride=2),
            *conv(c1, c2),
            nn.MaxPool2d(kernel_size=2, stride=2),
            *conv(c2, c3),
        )
        self.fc = nn.Sequential(nn.Linear(c3, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Logits, or ``(logits, flattened conv features)`` as DAFL's activation loss uses them.

        The features are the ``c3``-wide conv output that enters ``fc`` (120 for LeNet-5), not
        the 84-wide hidden layer, matching DAFL's ``out_feature=True``.
        """
        features = torch.flatten(self.features(x), 1)
        logits = self.fc(features)
        return (logits, features) if return_features else logits


def lenet5(num_classes: int = 10, in_channels: int = 1) -> LeNet5:
    """DAFL's LeNet-5 teacher (6-16-120 convs, 84 hidden)."""
    return LeNet5(num_classes, in_channels, (6, 16, 120, 84))


def lenet5_half(num_classes: int = 10, in_channels: int = 1) -> LeNet5:
    """DAFL's half-width LeNet-5 student (3-8-60 convs, 42 hidden)."""
    return LeNet5(num_classes, in_channels, (3, 8, 60, 42))


def lenet5_bn(num_classes: int = 10, in_channels: int = 1) -> LeNet5:
    """LeNet-5 with BatchNorm after each conv: a cheap teacher for BN-matching methods."""
    return LeNet5(num_classes, in_channels, (6, 16, 120, 84), batch_norm=True)


def lenet5_half_bn(num_classes: int = 10, in_channels: int = 1) -> LeNet5:
    """Half-width LeNet-5 with BatchNorm: the matching cheap student."""
    return LeNet5(num_classes, in_channels, (3, 8, 60, 42), batch_norm=True)
