"""DeepLabV3 segmenters for NYUv2: the ResNet-50 teacher and the MobileNetV2 student, both at output stride 8.

Built from torchvision parts (never with downloaded weights) and laid out so that ``state_dict`` keys match the
reference code: ``backbone.*`` as torchvision's IntermediateLayerGetter names it, the MobileNetV2 backbone split
into ``low_level_features`` (features[0:4]) and ``high_level_features`` (features[4:-1], keeping the indices 4..17)
as VainF's DeepLabV3Plus-Pytorch does, and ``classifier.*`` for torchvision's DeepLabHead (ASPP rates 12/24/36,
dropout 0.5). Not yet checked against a published checkpoint; note DFAD's own head uses rates 12/24/32.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import mobilenet_v2, resnet50
from torchvision.models.segmentation.deeplabv3 import DeepLabHead

from dfkd_bench.errors import BadInput

OUTPUT_STRIDE = 8
ASPP_RATES = (12, 24, 36)  # the reference's rates for output stride 8


class DeepLabV3(nn.Module):
    """Backbone -> DeepLab head -> logits upsampled to the input size.

    Returns a plain N x C x H x W tensor (not torchvision's dict), so segmenters and classifiers share one call
    convention; ``return_features=True`` adds the globally pooled backbone features (N x D), like the classifiers.
    """

    def __init__(self, backbone: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        logits = self.classifier(features)
        logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        if return_features:
            return logits, features.mean(dim=(2, 3))
        return logits


def _rgb_only(in_channels: int) -> None:
    if in_channels != 3:
        raise BadInput(f"segmentation models take RGB input (in_channels=3), got in_channels={in_channels}")


def _load_backbone(model: nn.Module, path: str | Path | None, what: str) -> None:
    """Initialise a torchvision ImageNet classifier from a local state_dict file; keys must match exactly."""
    if path is None:
        return
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInput(f"backbone weights for {what} not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError) as err:
        raise BadInput(f"{path}: not a loadable state_dict ({str(err).splitlines()[0]})") from err
    if not isinstance(state, dict):
        raise BadInput(f"{path}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
    expected, given = set(model.state_dict()), set(state)
    if expected != given:
        missing, unexpected = sorted(expected - given), sorted(given - expected)
        raise BadInput(
            f"{path} is not a torchvision {what} ImageNet state_dict: {len(missing)} missing keys "
            f"(first: {missing[:3]}), {len(unexpected)} unexpected (first: {unexpected[:3]})"
        )
    wrong = [k for k, v in model.state_dict().items() if tuple(getattr(state[k], "shape", ())) != tuple(v.shape)]
    if wrong:
        raise BadInput(f"{path}: {len(wrong)} tensors have the wrong shape for {what} (first: {wrong[0]})")
    model.load_state_dict(state, strict=True)


def _dilate_mobilenet(features: nn.Sequential, output_stride: int) -> None:
    """Turn the stride-2 depthwise convs past ``output_stride`` into dilated stride-1 ones, in place.

    Follows VainF's ``mobilenet_v2(output_stride=...)``: the block that would downsample keeps the current dilation
    with stride 1, and every later block's dilation doubles; padding = dilation keeps 3x3 maps the same size.
    """
    stride, dilation = 2, 1  # after the stem conv (features[0])
    for block in features[1:-1]:  # the inverted residual blocks; the last layer is a 1x1 conv
        conv = next(m for m in block.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
        block_dilation = dilation
        if conv.stride == (2, 2):
            if stride == output_stride:
                conv.stride = (1, 1)
                dilation *= 2
            else:
                stride *= 2
        conv.dilation = (block_dilation, block_dilation)
        conv.padding = (block_dilation, block_dilation)


def deeplabv3_resnet50(
    num_classes: int = 13, in_channels: int = 3, backbone_weights: str | Path | None = None
) -> DeepLabV3:
    """The NYUv2 teacher: ResNet-50 with layer3/layer4 dilated (output stride 8) + DeepLabHead(2048).

    ``backbone_weights`` is a local torchvision ``resnet50`` ImageNet state_dict (DFAD trains its teacher from one);
    nothing is ever downloaded.
    """
    _rgb_only(in_channels)
    net = resnet50(weights=None, replace_stride_with_dilation=[False, True, True])
    _load_backbone(net, backbone_weights, "resnet50")
    body = OrderedDict((name, module) for name, module in net.named_children() if name not in ("avgpool", "fc"))
    return DeepLabV3(nn.Sequential(body), DeepLabHead(2048, num_classes, ASPP_RATES))


def deeplabv3_mobilenetv2(
    num_classes: int = 13, in_channels: int = 3, backbone_weights: str | Path | None = None
) -> DeepLabV3:
    """The NYUv2 student: MobileNetV2 features[:-1] (320 channels, output stride 8) + DeepLabHead(320).

    The final 1x1 conv to 1280 channels is dropped, as in the reference. ``backbone_weights`` is a local
    torchvision ``mobilenet_v2`` ImageNet state_dict; the DFAD student starts from random weights (the default).
    """
    _rgb_only(in_channels)
    net = mobilenet_v2(weights=None)
    _load_backbone(net, backbone_weights, "mobilenet_v2")
    features = net.features
    _dilate_mobilenet(features, OUTPUT_STRIDE)
    body = OrderedDict(low_level_features=features[0:4], high_level_features=features[4:-1])
    return DeepLabV3(nn.Sequential(body), DeepLabHead(320, num_classes, ASPP_RATES))


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def _tiny_segmenter(num_classes: int, in_channels: int, width: int) -> DeepLabV3:
    """Three conv-BN-ReLU layers (the second at stride 2) and a 1x1 classifier, upsampled to the input size: the
    DeepLabV3 forward contract at a CPU cost, for tests and smoke runs (not a model from any paper)."""
    _rgb_only(in_channels)
    body = nn.Sequential(
        *_conv_bn_relu(in_channels, width), *_conv_bn_relu(width, 2 * width, 2), *_conv_bn_relu(2 * width, 2 * width)
    )
    return DeepLabV3(body, nn.Conv2d(2 * width, num_classes, 1))


def seg_tiny_bn(num_classes: int = 13, in_channels: int = 3) -> DeepLabV3:
    """CPU teacher of the smoke pair (width 16)."""
    return _tiny_segmenter(num_classes, in_channels, 16)


def seg_tiny_half_bn(num_classes: int = 13, in_channels: int = 3) -> DeepLabV3:
    """CPU student of the smoke pair (width 8)."""
    return _tiny_segmenter(num_classes, in_channels, 8)
