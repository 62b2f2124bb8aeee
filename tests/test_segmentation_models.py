"""DeepLabV3 teacher/student: registry entries, reference key layout, output stride 8, counts, local weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import mobilenet_v2

from dfkd_bench.errors import BadInput
from dfkd_bench.models import MODELS, count_parameters, create_model, list_models
from dfkd_bench.models.segmentation import deeplabv3_mobilenetv2

SEGMENTERS = ["deeplabv3_mobilenetv2", "deeplabv3_resnet50"]

# Parameter elements at 13 classes, computed once from the built models. The head's last 1x1 conv adds
# 256 weights + 1 bias per class, which the 21-class check below derives by hand.
PARAMS_13 = {"deeplabv3_resnet50": 39_636_813, "deeplabv3_mobilenetv2": 5_111_821}

# state_dict keys, by hand (conv without bias 1, BatchNorm 5):
#   head: ASPP = 1x1 branch 6 + three atrous branches 18 + pooling branch 6 + projection 6 = 36;
#         then conv 1 + BN 5 + final conv (weight, bias) 2 -> 44.
#   resnet50: stem 6; bottleneck 3 convs + 3 BN = 18, 16 blocks = 288; 4 downsamples x 6 = 24 -> 318 + 44 = 362.
#   mobilenetv2 features[:-1]: stem 6; block 1 (no expansion) dw 6 + pw 6 = 12; blocks 2..17: 18 each = 288
#     -> 306 + 44 = 350.
STATE_DICT_KEYS = {"deeplabv3_resnet50": 362, "deeplabv3_mobilenetv2": 350}

REFERENCE_KEYS = {
    "deeplabv3_resnet50": {
        "backbone.conv1.weight": (64, 3, 7, 7),
        "backbone.layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "backbone.layer4.2.conv3.weight": (2048, 512, 1, 1),
        "classifier.0.convs.1.0.weight": (256, 2048, 3, 3),
        "classifier.0.convs.4.1.weight": (256, 2048, 1, 1),
        "classifier.0.project.0.weight": (256, 1280, 1, 1),
        "classifier.4.weight": (13, 256, 1, 1),
    },
    "deeplabv3_mobilenetv2": {
        "backbone.low_level_features.0.0.weight": (32, 3, 3, 3),
        "backbone.low_level_features.3.conv.1.0.weight": (144, 1, 3, 3),
        "backbone.high_level_features.4.conv.1.0.weight": (144, 1, 3, 3),  # slices keep the indices
        "backbone.high_level_features.17.conv.2.weight": (320, 960, 1, 1),
        "classifier.0.convs.0.0.weight": (256, 320, 1, 1),
        "classifier.4.bias": (13,),
    },
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_registered_with_segmentation_meta() -> None:
    assert list_models("deeplab*") == SEGMENTERS
    for name in SEGMENTERS:
        assert MODELS.meta(name) == {"family": "segmentation", "in_channels": 3, "batchnorm": True}


@pytest.mark.parametrize("name", SEGMENTERS)
def test_counts_and_reference_keys(name: str) -> None:
    model = create_model(name, 13)
    assert count_parameters(model) == PARAMS_13[name]
    assert count_parameters(create_model(name, 21)) == PARAMS_13[name] + 8 * 257
    sd = model.state_dict()
    assert len(sd) == STATE_DICT_KEYS[name]
    for key, shape in REFERENCE_KEYS[name].items():
        assert tuple(sd[key].shape) == shape, key
    assert not any(k.startswith(("aux", "backbone.fc", "backbone.high_level_features.18")) for k in sd)


@pytest.mark.parametrize("name", SEGMENTERS)
def test_forward_contract_and_output_stride(name: str) -> None:
    model = create_model(name, 13).eval()
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        logits = model(x)
        same, pooled = model(x, return_features=True)
        feats = model.backbone(x)
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, 13, 64, 80)
    assert torch.equal(same, logits)
    assert feats.shape[-2:] == (8, 10)  # output stride 8
    assert pooled.shape == (2, feats.shape[1]) == (2, 2048 if "resnet" in name else 320)
    assert torch.allclose(pooled, feats.mean(dim=(2, 3)))


def test_aspp_rates_and_dilations() -> None:
    resnet = create_model("deeplabv3_resnet50", 13)
    aspp = resnet.classifier[0]
    assert [aspp.convs[i][0].dilation for i in (1, 2, 3)] == [(12, 12), (24, 24), (36, 36)]
    assert resnet.backbone.layer3[0].conv2.dilation == (1, 1) and resnet.backbone.layer3[1].conv2.dilation == (2, 2)
    assert resnet.backbone.layer4[0].conv2.dilation == (2, 2) and resnet.backbone.layer4[1].conv2.dilation == (4, 4)

    mobile = create_model("deeplabv3_mobilenetv2", 13)
    blocks = [*mobile.backbone.low_level_features, *mobile.backbone.high_level_features]
    depthwise = [next(m for m in b.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)) for b in blocks]
    # VainF's output_stride=8 schedule: only the stem and blocks 2, 4 downsample; the block that would have
    # downsampled keeps the old dilation, later ones double it.
    assert [i for i, c in enumerate(depthwise) if c.stride == (2, 2)] == [0, 2, 4]
    assert [c.dilation[0] for c in depthwise] == [1] * 8 + [2] * 7 + [4] * 3
    assert all(c.padding == c.dilation for c in depthwise)


def test_trains_with_void_pixels() -> None:
    model = create_model("deeplabv3_mobilenetv2", 13).train()
    x = torch.randn(2, 3, 64, 64)
    target = torch.randint(0, 13, (2, 64, 64))
    target[:, :8] = 255
    F.cross_entropy(model(x), target, ignore_index=255).backward()
    assert model.backbone.low_level_features[0][0].weight.grad is not None
    assert model.classifier[4].weight.grad.abs().sum() > 0


def test_rgb_only() -> None:
    with pytest.raises(BadInput, match="in_channels=3"):
        create_model("deeplabv3_resnet50", 13, in_channels=1)


def test_backbone_weights_from_local_file(tmp_path: Path) -> None:
    imagenet = mobilenet_v2(weights=None).state_dict()
    path = tmp_path / "mbv2.pth"
    torch.save(imagenet, path)
    model = deeplabv3_mobilenetv2(13, backbone_weights=str(path))
    sd = model.state_dict()
    assert torch.equal(sd["backbone.low_level_features.0.0.weight"], imagenet["features.0.0.weight"])
    assert torch.equal(sd["backbone.high_level_features.17.conv.2.weight"], imagenet["features.17.conv.2.weight"])
    assert torch.equal(
        sd["backbone.high_level_features.9.conv.1.1.running_var"], imagenet["features.9.conv.1.1.running_var"]
    )


def test_backbone_weights_errors(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not found"):
        deeplabv3_mobilenetv2(backbone_weights=tmp_path / "nope.pth")
    partial = mobilenet_v2(weights=None).state_dict()
    del partial["classifier.1.bias"]
    partial["extra.weight"] = torch.zeros(1)
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(BadInput, match=r"1 missing keys .*classifier\.1\.bias.*1 unexpected"):
        deeplabv3_mobilenetv2(backbone_weights=tmp_path / "partial.pth")
    wrong = mobilenet_v2(weights=None, num_classes=10).state_dict()
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(BadInput, match="wrong shape.*classifier.1.weight"):
        deeplabv3_mobilenetv2(backbone_weights=tmp_path / "wrong.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInput, match="not a loadable state_dict"):
        deeplabv3_mobilenetv2(backbone_weights=tmp_path / "junk.pth")


def test_tiny_smoke_pair_follows_the_segmenter_contract() -> None:
    for name in ("seg_tiny_bn", "seg_tiny_half_bn"):
        assert MODELS.meta(name) == {"family": "segmentation", "in_channels": 3, "batchnorm": True}
        model = create_model(name, 13).eval()
        logits, features = model(torch.randn(2, 3, 20, 28), return_features=True)
        assert logits.shape == (2, 13, 20, 28) and features.shape[0] == 2
