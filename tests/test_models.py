"""Model zoo: reference parameter names/shapes/counts, and logits checked against an
independent functional re-implementation of each reference forward pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dfkd_bench.errors import BadInput
from dfkd_bench.models import (
    MODELS,
    count_parameters,
    create_generator,
    create_model,
    list_models,
)

CIFAR_MODELS = ["resnet18", "resnet34", "vgg11", "wrn16_1", "wrn16_2", "wrn40_1", "wrn40_2"]
# Dense-prediction models are tested in test_segmentation_models.py; the classifier contract below excludes them.
SEGMENTATION_MODELS = ["deeplabv3_mobilenetv2", "deeplabv3_resnet50"]
TINY_SEGMENTERS = ["seg_tiny_bn", "seg_tiny_half_bn"]  # the CPU smoke pair
CLASSIFIERS = [name for name in list_models() if MODELS.meta(name)["family"] != "segmentation"]

# (params at 10 classes, params at 100 classes), from the reference implementations.
PARAM_COUNTS = {
    "resnet34": (21_282_122, 21_328_292),
    "resnet18": (11_173_962, 11_220_132),
    "vgg11": (9_231_114, 9_277_284),
    "wrn40_2": (2_243_546, 2_255_156),
    "wrn40_1": (563_930, 569_780),
    "wrn16_2": (691_674, 703_284),
    "wrn16_1": (175_066, 180_916),
}

# state_dict key counts, derived by hand (BatchNorm = weight, bias, running_mean, running_var,
# num_batches_tracked = 5 keys; conv without bias = 1; Linear = 2):
#   resnet: stem conv+bn 6, block 12 (+6 with projection shortcut), linear 2.
#     resnet18: 8 blocks, 3 projections -> 6 + 96 + 18 + 2 = 122
#     resnet34: 16 blocks, 3 projections -> 6 + 192 + 18 + 2 = 218
#   vgg11: 8 x (conv w+b, bn 5) + classifier 2 = 58
#   wrn: conv1 1, block 12 (+1 convShortcut), final bn 5, fc 2; n = (depth-4)/6 per group.
#     width 1: block1 has no projection -> 2 shortcuts; width 2: 3 shortcuts.
#     wrn16_1: 1 + 6*12 + 2 + 7 = 82; wrn16_2: 83; wrn40_1: 1 + 18*12 + 2 + 7 = 226; wrn40_2: 227
#   lenet5: 3 convs + 2 linears, w+b each = 10; *_bn adds 3 BN x 5 = 25
#   generator: l1 2, 3 BN 15, two bias-free convs 2, last conv 2 = 21
STATE_DICT_KEYS = {
    "resnet18": 122,
    "resnet34": 218,
    "vgg11": 58,
    "wrn16_1": 82,
    "wrn16_2": 83,
    "wrn40_1": 226,
    "wrn40_2": 227,
    "lenet5": 10,
    "lenet5_half": 10,
    "lenet5_bn": 25,
    "lenet5_half_bn": 25,
}

# A handful of reference keys and shapes per model (10 classes, native channels).
REFERENCE_KEYS = {
    "resnet34": {
        "conv1.weight": (64, 3, 3, 3),
        "bn1.running_mean": (64,),
        "layer1.2.conv2.weight": (64, 64, 3, 3),
        "layer2.0.shortcut.0.weight": (128, 64, 1, 1),
        "layer2.0.shortcut.1.running_var": (128,),
        "layer3.5.bn2.weight": (256,),
        "layer4.0.conv1.weight": (512, 256, 3, 3),
        "layer4.2.conv2.weight": (512, 512, 3, 3),
        "linear.weight": (10, 512),
        "linear.bias": (10,),
    },
    "resnet18": {
        "layer1.1.bn1.num_batches_tracked": (),
        "layer3.0.shortcut.0.weight": (256, 128, 1, 1),
        "layer4.1.conv2.weight": (512, 512, 3, 3),
        "linear.weight": (10, 512),
    },
    "vgg11": {
        "block0.0.weight": (64, 3, 3, 3),
        "block0.0.bias": (64,),
        "block0.1.running_mean": (64,),
        "block1.0.weight": (128, 64, 3, 3),
        "block2.3.weight": (256, 256, 3, 3),
        "block2.4.running_var": (256,),
        "block3.0.weight": (512, 256, 3, 3),
        "block4.3.weight": (512, 512, 3, 3),
        "block4.4.bias": (512,),
        "classifier.weight": (10, 512),
        "classifier.bias": (10,),
    },
    "wrn40_2": {
        "conv1.weight": (16, 3, 3, 3),
        "block1.layer.0.bn1.running_var": (16,),
        "block1.layer.0.conv1.weight": (32, 16, 3, 3),
        "block1.layer.0.convShortcut.weight": (32, 16, 1, 1),
        "block1.layer.5.conv2.weight": (32, 32, 3, 3),
        "block2.layer.0.convShortcut.weight": (64, 32, 1, 1),
        "block3.layer.0.bn1.weight": (64,),
        "block3.layer.5.bn2.running_mean": (128,),
        "bn1.weight": (128,),
        "fc.weight": (10, 128),
        "fc.bias": (10,),
    },
    "wrn40_1": {
        "block1.layer.0.conv1.weight": (16, 16, 3, 3),
        "block2.layer.0.convShortcut.weight": (32, 16, 1, 1),
        "fc.weight": (10, 64),
    },
    "wrn16_2": {
        "block1.layer.1.conv1.weight": (32, 32, 3, 3),
        "block3.layer.0.convShortcut.weight": (128, 64, 1, 1),
        "fc.weight": (10, 128),
    },
    "wrn16_1": {
        "block3.layer.1.conv2.weight": (64, 64, 3, 3),
        "fc.weight": (10, 64),
    },
    "lenet5": {
        "features.0.weight": (6, 1, 5, 5),
        "features.3.weight": (16, 6, 5, 5),
        "features.6.weight": (120, 16, 5, 5),
        "fc.0.weight": (84, 120),
        "fc.2.weight": (10, 84),
    },
    "lenet5_half": {
        "features.0.weight": (3, 1, 5, 5),
        "features.6.weight": (60, 8, 5, 5),
        "fc.0.weight": (42, 60),
        "fc.2.weight": (10, 42),
    },
}

ABSENT_KEYS = {
    # identity shortcuts must have no parameters, or reference checkpoints will not load
    "resnet34": ["layer1.0.shortcut.0.weight", "layer2.1.shortcut.0.weight"],
    "wrn40_1": ["block1.layer.0.convShortcut.weight"],
    "wrn40_2": ["block1.layer.1.convShortcut.weight"],
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _randomise(model: nn.Module) -> nn.Module:
    """Random weights and BN affine/running stats, scaled to keep activations O(1)."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                t.normal_(0.0, 0.2)
            elif t.dim() > 1:
                fan_in = t[0].numel()
                t.normal_(0.0, (2.0 / fan_in) ** 0.5)
            elif name.endswith("weight"):  # BN gamma
                t.uniform_(0.5, 1.5)
            else:  # biases, BN beta
                t.normal_(0.0, 0.2)
    return model.eval()


# --------------------------------------------------------------------------------------------
# Independent functional forwards, reading tensors by reference key names only.


def _bn(sd: dict[str, Tensor], prefix: str, x: Tensor) -> Tensor:
    return F.batch_norm(
        x,
        sd[f"{prefix}.running_mean"],
        sd[f"{prefix}.running_var"],
        sd[f"{prefix}.weight"],
        sd[f"{prefix}.bias"],
        training=False,
        eps=1e-5,
    )


def _f_resnet(sd: dict[str, Tensor], x: Tensor, blocks: list[int]) -> tuple[Tensor, Tensor]:
    out = F.relu(_bn(sd, "bn1", F.conv2d(x, sd["conv1.weight"], stride=1, padding=1)))
    in_planes = 64
    stages = zip([64, 128, 256, 512], [1, 2, 2, 2], blocks, strict=True)
    for li, (planes, stride, n) in enumerate(stages, start=1):
        for b in range(n):
            p = f"layer{li}.{b}"
            s = stride if b == 0 else 1
            o = F.relu(_bn(sd, f"{p}.bn1", F.conv2d(out, sd[f"{p}.conv1.weight"], stride=s, padding=1)))
            o = _bn(sd, f"{p}.bn2", F.conv2d(o, sd[f"{p}.conv2.weight"], stride=1, padding=1))
            if s != 1 or in_planes != planes:
                sc = _bn(sd, f"{p}.shortcut.1", F.conv2d(out, sd[f"{p}.shortcut.0.weight"], stride=s))
            else:
                sc = out
            out = F.relu(o + sc)
            in_planes = planes
    feats = out.mean(dim=(2, 3))
    return F.linear(feats, sd["linear.weight"], sd["linear.bias"]), feats


def _f_vgg11(sd: dict[str, Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    h = x.shape[2]
    cfg = [[64], [128], [256, 256], [512, 512], [512, 512]]
    for bi, widths in enumerate(cfg):
        for j in range(len(widths)):
            p = f"block{bi}.{3 * j}"
            x = F.conv2d(x, sd[f"{p}.weight"], sd[f"{p}.bias"], padding=1)
            x = F.relu(_bn(sd, f"block{bi}.{3 * j + 1}", x))
        if bi < 3 or (bi == 3 and h == 64):
            x = F.max_pool2d(x, kernel_size=2, stride=2)
    feats = x.mean(dim=(2, 3))
    return F.linear(feats, sd["classifier.weight"], sd["classifier.bias"]), feats


def _f_wrn(sd: dict[str, Tensor], x: Tensor, depth: int, width: int) -> tuple[Tensor, Tensor]:
    n = (depth - 4) // 6
    ch = [16, 16 * width, 32 * width, 64 * width]
    x = F.conv2d(x, sd["conv1.weight"], padding=1)
    for g, stride in zip([1, 2, 3], [1, 2, 2], strict=True):
        for b in range(n):
            p = f"block{g}.layer.{b}"
            cin = ch[g - 1] if b == 0 else ch[g]
            s = stride if b == 0 else 1
            act = F.relu(_bn(sd, f"{p}.bn1", x))
            o = F.relu(_bn(sd, f"{p}.bn2", F.conv2d(act, sd[f"{p}.conv1.weight"], stride=s, padding=1)))
            o = F.conv2d(o, sd[f"{p}.conv2.weight"], padding=1)
            # reference quirk: the projection acts on the activated input
            sc = x if cin == ch[g] else F.conv2d(act, sd[f"{p}.convShortcut.weight"], stride=s)
            x = sc + o
    x = F.relu(_bn(sd, "bn1", x))
    feats = x.mean(dim=(2, 3))
    return F.linear(feats, sd["fc.weight"], sd["fc.bias"]), feats


def _f_lenet(sd: dict[str, Tensor], x: Tensor, bn: bool) -> tuple[Tensor, Tensor]:
    convs = [0, 4, 8] if bn else [0, 3, 6]
    for i, idx in enumerate(convs):
        x = F.conv2d(x, sd[f"features.{idx}.weight"], sd[f"features.{idx}.bias"])
        if bn:
            x = _bn(sd, f"features.{idx + 1}", x)
        x = F.relu(x)
        if i < 2:
            x = F.max_pool2d(x, 2, 2)
    feats = x.reshape(x.shape[0], -1)
    h = F.relu(F.linear(feats, sd["fc.0.weight"], sd["fc.0.bias"]))
    return F.linear(h, sd["fc.2.weight"], sd["fc.2.bias"]), feats


def _f_generator(sd: dict[str, Tensor], z: Tensor, img_size: int) -> Tensor:
    init = img_size // 4
    x = F.linear(z, sd["l1.0.weight"], sd["l1.0.bias"]).view(z.shape[0], -1, init, init)
    x = _bn(sd, "conv_blocks.0", x)
    x = F.interpolate(x, scale_factor=2, mode="nearest")
    x = F.leaky_relu(_bn(sd, "conv_blocks.3", F.conv2d(x, sd["conv_blocks.2.weight"], padding=1)), 0.2)
    x = F.interpolate(x, scale_factor=2, mode="nearest")
    x = F.leaky_relu(_bn(sd, "conv_blocks.7", F.conv2d(x, sd["conv_blocks.6.weight"], padding=1)), 0.2)
    return torch.sigmoid(F.conv2d(x, sd["conv_blocks.9.weight"], sd["conv_blocks.9.bias"], padding=1))


FUNCTIONAL = {
    "resnet18": (lambda sd, x: _f_resnet(sd, x, [2, 2, 2, 2]), 32),
    "vgg11": (_f_vgg11, 32),
    "vgg11@64": (_f_vgg11, 64),
    "wrn16_2": (lambda sd, x: _f_wrn(sd, x, 16, 2), 32),
    "wrn16_1": (lambda sd, x: _f_wrn(sd, x, 16, 1), 32),
    "lenet5": (lambda sd, x: _f_lenet(sd, x, bn=False), 32),
    "lenet5_bn": (lambda sd, x: _f_lenet(sd, x, bn=True), 32),
}


# --------------------------------------------------------------------------------------------


def test_registry_contents_and_meta() -> None:
    assert set(list_models()) == set(STATE_DICT_KEYS) | set(SEGMENTATION_MODELS) | set(TINY_SEGMENTERS)
    assert list_models("seg_tiny*") == TINY_SEGMENTERS
    assert list_models("deeplab*") == SEGMENTATION_MODELS
    assert list_models("wrn*") == ["wrn16_1", "wrn16_2", "wrn40_1", "wrn40_2"]
    assert list_models("lenet5*bn") == ["lenet5_bn", "lenet5_half_bn"]
    for name in CIFAR_MODELS:
        assert MODELS.meta(name) == {"family": "cifar", "in_channels": 3, "batchnorm": True}
    assert MODELS.meta("lenet5") == {"family": "lenet", "in_channels": 1, "batchnorm": False}
    assert MODELS.meta("lenet5_half") == {"family": "lenet", "in_channels": 1, "batchnorm": False}
    assert MODELS.meta("lenet5_bn") == {"family": "small-bn", "in_channels": 1, "batchnorm": True}
    assert MODELS.meta("lenet5_half_bn") == {"family": "small-bn", "in_channels": 1, "batchnorm": True}
    for name in list_models():  # the meta the runner relies on must match the architecture
        has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in create_model(name, 10).modules())
        assert MODELS.meta(name)["batchnorm"] == has_bn, name


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_cifar_parameter_counts(name: str) -> None:
    ten, hundred = PARAM_COUNTS[name]
    assert count_parameters(create_model(name, 10)) == ten
    assert count_parameters(create_model(name, 100)) == hundred


def test_lenet_parameter_counts() -> None:
    assert count_parameters(create_model("lenet5", 10)) == 61_706
    assert count_parameters(create_model("lenet5_half", 10)) == 15_738
    # BN variants add gamma+beta per conv channel: 2*(6+16+120) and 2*(3+8+60)
    assert count_parameters(create_model("lenet5_bn", 10)) == 61_706 + 284
    assert count_parameters(create_model("lenet5_half_bn", 10)) == 15_738 + 142


def test_generator_parameter_counts() -> None:
    assert count_parameters(create_generator(nz=256, img_size=32, nc=3)) == 2_328_899
    assert count_parameters(create_generator(nz=512, img_size=32, nc=3)) == 4_426_051
    assert len(create_generator(nz=256, img_size=32, nc=3).state_dict()) == 21


@pytest.mark.parametrize("name", sorted(STATE_DICT_KEYS))
def test_state_dict_keys(name: str) -> None:
    sd = create_model(name, 10).state_dict()
    assert len(sd) == STATE_DICT_KEYS[name]
    for key, shape in REFERENCE_KEYS.get(name, {}).items():
        assert key in sd, f"{name}: missing reference key {key}"
        assert tuple(sd[key].shape) == shape, key
    for key in ABSENT_KEYS.get(name, []):
        assert key not in sd


def test_lenet_bn_layout() -> None:
    sd = create_model("lenet5_bn", 10).state_dict()
    for conv, bn, width in [(0, 1, 6), (4, 5, 16), (8, 9, 120)]:
        assert sd[f"features.{conv}.weight"].shape[0] == width
        assert sd[f"features.{bn}.running_mean"].shape == (width,)


@pytest.mark.parametrize("case", sorted(FUNCTIONAL))
def test_logits_match_functional_reference(case: str) -> None:
    name = case.split("@")[0]
    fn, size = FUNCTIONAL[case]
    model = _randomise(create_model(name, 10))
    x = torch.randn(2, MODELS.meta(name)["in_channels"], size, size)
    with torch.no_grad():
        logits, feats = model(x, return_features=True)
        ref_logits, ref_feats = fn(model.state_dict(), x)
        plain = model(x)
    assert logits.abs().max() > 1e-2  # not a degenerate all-zero comparison
    assert torch.allclose(logits, ref_logits, atol=1e-5, rtol=1e-4)
    assert torch.allclose(feats, ref_feats, atol=1e-5, rtol=1e-4)
    assert torch.equal(plain, logits)


def test_generator_matches_functional_reference() -> None:
    gen = _randomise(create_generator(nz=64, img_size=32, nc=3, ngf=16))
    z = torch.randn(3, 64)
    with torch.no_grad():
        assert torch.allclose(gen(z), _f_generator(gen.state_dict(), z, 32), atol=1e-6)


@pytest.mark.parametrize("name", ["resnet18", "wrn16_2", "vgg11", "lenet5_bn"])
def test_checkpoint_round_trip_strict(name: str, tmp_path) -> None:
    model = _randomise(create_model(name, 10))
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    loaded = torch.load(path, weights_only=True, map_location="cpu")
    fresh = create_model(name, 10)
    fresh.load_state_dict(loaded["state_dict"], strict=True)
    fresh.eval()
    x = torch.randn(2, MODELS.meta(name)["in_channels"], 32, 32)
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))


def _final_linear(model: nn.Module) -> nn.Linear:
    """The Linear that consumes ``features``: the head, or DAFL LeNet's first fc layer."""
    for attr in ("linear", "classifier", "fc"):
        head = getattr(model, attr, None)
        if isinstance(head, nn.Linear):
            return head
    assert isinstance(model.fc, nn.Sequential)
    return model.fc[0]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_model_forward(name: str) -> None:
    model = create_model(name, 10).eval()
    x = torch.randn(2, MODELS.meta(name)["in_channels"], 32, 32)
    with torch.no_grad():
        logits = model(x)
        out = model(x, return_features=True)
    assert logits.shape == (2, 10)
    assert isinstance(out, tuple) and len(out) == 2
    assert torch.equal(out[0], logits)
    assert out[1].shape == (2, _final_linear(model).in_features)

    wide = create_model(name, 100)
    assert _final_linear(wide).in_features == _final_linear(model).in_features
    with torch.no_grad():
        assert wide.eval()(x).shape == (2, 100)

    with pytest.raises(BadInput) as err:
        create_model(name + "_nope", 10)
    assert name in str(err.value)


def test_unknown_model_lists_all_names() -> None:
    with pytest.raises(BadInput) as err:
        create_model("resnet1000", 10)
    msg = str(err.value)
    assert "resnet1000" in msg
    for name in list_models():
        assert name in msg
    with pytest.raises(BadInput, match="ngf must be a positive integer"):
        create_generator(nz=8, img_size=32, nc=3, ngf=0)


def test_in_channels_override() -> None:
    lenet_rgb = create_model("lenet5", 10, in_channels=3)
    assert lenet_rgb.state_dict()["features.0.weight"].shape == (6, 3, 5, 5)
    assert lenet_rgb(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    wrn_gray = create_model("wrn16_1", 10, in_channels=1)
    assert wrn_gray.state_dict()["conv1.weight"].shape == (16, 1, 3, 3)
    assert create_model("vgg11", 10, in_channels=1).state_dict()["block0.0.weight"].shape[1] == 1
    assert create_model("resnet18", 10, in_channels=1).state_dict()["conv1.weight"].shape[1] == 1


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_bad_sizes_rejected(bad) -> None:
    with pytest.raises(BadInput):
        create_model("lenet5", bad)
    with pytest.raises(BadInput):
        create_generator(nz=bad, img_size=32, nc=3)


def test_generator_img_size_must_be_multiple_of_four() -> None:
    with pytest.raises(BadInput, match="multiple of 4"):
        create_generator(nz=16, img_size=30, nc=3)


@pytest.mark.parametrize(("img_size", "nc"), [(32, 3), (28, 1), (32, 1)])
def test_generator_output(img_size: int, nc: int) -> None:
    gen = create_generator(nz=32, img_size=img_size, nc=nc, ngf=16)
    out = gen(torch.randn(4, 32))
    assert out.shape == (4, nc, img_size, img_size)
    assert out.min() >= 0.0 and out.max() <= 1.0
    out.mean().backward()  # trains end to end
    assert gen.l1[0].weight.grad is not None


def test_generator_clone_is_equal_but_independent() -> None:
    gen = create_generator(nz=16, img_size=32, nc=3, ngf=8)
    gen(torch.randn(4, 16)).mean().backward()  # populate grads and BN running stats
    twin = gen.clone()
    assert type(twin) is type(gen) and twin is not gen
    assert twin.training == gen.training
    sd, tsd = gen.state_dict(), twin.state_dict()
    assert sd.keys() == tsd.keys()
    for k in sd:
        assert torch.equal(sd[k], tsd[k]), k
        assert sd[k].data_ptr() != tsd[k].data_ptr(), k
    assert all(p.grad is None for p in twin.parameters())
    assert next(twin.parameters()).device == next(gen.parameters()).device
    z = torch.randn(2, 16)
    gen.eval(), twin.eval()
    with torch.no_grad():
        assert torch.equal(gen(z), twin(z))
        twin.l1[0].weight.add_(1.0)
        twin.conv_blocks[0].running_mean.add_(1.0)
    assert not torch.equal(gen.l1[0].weight, twin.l1[0].weight)
    assert not torch.equal(gen.conv_blocks[0].running_mean, twin.conv_blocks[0].running_mean)
    assert gen.eval().clone().training is False
