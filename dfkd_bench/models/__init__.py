"""Classifier and generator registries.

Every classifier is built as ``factory(num_classes=..., in_channels=...)`` and its
``forward(x, return_features=False)`` returns logits, or ``(logits, features)`` with the pooled
penultimate features. Registry meta records the ``family`` and the native ``in_channels``.
Architectures mirror Fast-Datafree's parameter names so its published teachers load strictly.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from dfkd_bench.errors import BadInput
from dfkd_bench.models.generator import Generator, generator
from dfkd_bench.models.lenet import LeNet5, lenet5, lenet5_bn, lenet5_half, lenet5_half_bn
from dfkd_bench.models.resnet import ResNet, resnet18, resnet34
from dfkd_bench.models.segmentation import (
    DeepLabV3,
    deeplabv3_mobilenetv2,
    deeplabv3_resnet50,
    seg_tiny_bn,
    seg_tiny_half_bn,
)
from dfkd_bench.models.vgg import VGG, vgg11
from dfkd_bench.models.wrn import WideResNet, wrn16_1, wrn16_2, wrn40_1, wrn40_2
from dfkd_bench.registry import Registry

__all__ = [
    "MODELS",
    "VGG",
    "DeepLabV3",
    "Generator",
    "LeNet5",
    "ResNet",
    "WideResNet",
    "count_parameters",
    "create_generator",
    "create_model",
    "list_models",
]

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")

_CLASSIFIERS: list[tuple[str, Callable[..., nn.Module], str, int]] = [
    ("resnet18", resnet18, "cifar", 3),
    ("resnet34", resnet34, "cifar", 3),
    ("vgg11", vgg11, "cifar", 3),
    ("wrn16_1", wrn16_1, "cifar", 3),
    ("wrn16_2", wrn16_2, "cifar", 3),
    ("wrn40_1", wrn40_1, "cifar", 3),
    ("wrn40_2", wrn40_2, "cifar", 3),
    ("lenet5", lenet5, "lenet", 1),
    ("lenet5_half", lenet5_half, "lenet", 1),
    ("lenet5_bn", lenet5_bn, "small-bn", 1),
    ("lenet5_half_bn", lenet5_half_bn, "small-bn", 1),
]
for _name, _factory, _family, _channels in _CLASSIFIERS:
    MODELS.register(_name, family=_family, in_channels=_channels, batchnorm=_family != "lenet")(_factory)

# Segmenters return N x C x H x W logits at the input size (see models/segmentation.py).
MODELS.register("deeplabv3_resnet50", family="segmentation", in_channels=3, batchnorm=True)(deeplabv3_resnet50)
MODELS.register("deeplabv3_mobilenetv2", family="segmentation", in_channels=3, batchnorm=True)(deeplabv3_mobilenetv2)
MODELS.register("seg_tiny_bn", family="segmentation", in_channels=3, batchnorm=True)(seg_tiny_bn)
MODELS.register("seg_tiny_half_bn", family="segmentation", in_channels=3, batchnorm=True)(seg_tiny_half_bn)


def _positive_int(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadInput(f"{what} must be a positive integer, got {value!r}")
    return value


def create_model(name: str, num_classes: int, in_channels: int | None = None) -> nn.Module:
    """Build a registered classifier; ``in_channels=None`` means the model's native channels."""
    factory = MODELS.get(name)
    if in_channels is None:
        in_channels = MODELS.meta(name)["in_channels"]
    return factory(
        num_classes=_positive_int("num_classes", num_classes),
        in_channels=_positive_int("in_channels", in_channels),
    )


def list_models(pattern: str = "*") -> list[str]:
    """Registered classifier names matching a shell-style wildcard, sorted."""
    return MODELS.names(pattern)


def count_parameters(model: nn.Module) -> int:
    """Number of parameter elements (buffers such as BN running stats excluded)."""
    return sum(p.numel() for p in model.parameters())


def create_generator(nz: int, img_size: int, nc: int, ngf: int = 64) -> nn.Module:
    """The DCGAN-style generator every generator method uses, mapping ``(B, nz)`` noise to
    ``(B, nc, img_size, img_size)``; its width ``ngf`` is a card value."""
    return generator(
        nz=_positive_int("nz", nz),
        img_size=_positive_int("img_size", img_size),
        nc=_positive_int("nc", nc),
        ngf=_positive_int("ngf", ngf),
    )
