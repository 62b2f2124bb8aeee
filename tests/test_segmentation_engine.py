"""Data-free and real-data KD on segmentation (NYUv2 layout, tiny CPU pair): every Table 3 method runs a synthesis
round and KD steps with finite losses, records mIoU in result.json and summary.csv, and resumes exactly; SSD-KD's
per-image φ and priority on dense logits match hand values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from test_engine import StopAfter
from test_segmentation_data import write_nyuv2

from dfkd_bench.config import all_cards, get_card, resolve
from dfkd_bench.data import clear_cache
from dfkd_bench.engine.run import run_one
from dfkd_bench.engine.spec import RunOptions, RunSpec
from dfkd_bench.errors import BadInput
from dfkd_bench.grid import GridRequest, expand
from dfkd_bench.methods.losses import as_pixels, class_balance, kd_kl
from dfkd_bench.methods.replay import modulating_function
from dfkd_bench.methods.ssdkd import image_statistics, priority
from dfkd_bench.pairs import split_pair
from dfkd_bench.summary import collect
from dfkd_bench.teachers import TeacherStore, describe_score
from dfkd_bench.train import train_into_store

PAIR = "seg_tiny_bn-seg_tiny_half_bn"
# Every card that claims NYUv2 (`segmentation: true`) runs here: the claim is what this test backs.
METHODS = tuple(sorted(name for name, card in all_cards().items() if card.supports_segmentation))


@pytest.fixture(scope="module")
def seg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nyuv2")
    write_nyuv2(root, {"train": 6, "test": 2})
    clear_cache()
    return root


@pytest.fixture(scope="module")
def seg_teachers(seg_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("seg-teachers")
    torch.set_num_threads(2)
    train_into_store("seg_tiny_bn", "nyuv2", TeacherStore(store), seg_root, "cpu", epochs=2)
    return store


def _opts(out: Path, teachers: Path, root: Path) -> RunOptions:
    return RunOptions(out=out, teachers=teachers, device="cpu", data_root=str(root))


def _spec(method: str, epochs: int = 1, seed: int = 0) -> RunSpec:
    return RunSpec("nyuv2", PAIR, method, seed, (("train.epochs", epochs),), "smoke")


def test_teacher_record_holds_miou(seg_teachers: Path) -> None:
    record = TeacherStore(seg_teachers).record("nyuv2", "seg_tiny_bn")
    assert record["metric"] == "miou" and record["test_top1"] is None
    assert 0 <= record["test_miou"] <= 1 and len(record["per_class_iou"]) == 13
    assert describe_score(record).startswith("test mIoU ")


@pytest.mark.parametrize("method", METHODS)
def test_one_epoch_per_method_has_finite_losses_and_records_miou(
    method: str, tmp_path: Path, seg_root: Path, seg_teachers: Path
) -> None:
    result = run_one(_spec(method), _opts(tmp_path, seg_teachers, seg_root))
    assert result["status"] == "done" and result["metric"] == "miou"
    assert result["best_top1"] is None and result["last_top1"] is None
    assert 0 <= result["last_miou"] <= 1 and result["best_miou"] == result["last_miou"]
    assert len(result["per_class_iou"]) == 13
    run = next(tmp_path.glob(f"nyuv2/{PAIR}/{method}/scale-*/seed-0"))
    (record,) = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert record["kd_steps"] >= 2 and math.isfinite(record["kd_loss"]) and math.isfinite(record["test_loss"])
    assert {"miou", "pixel_acc", "per_class_iou"} <= set(record) and "top1" not in record
    synth = [k for k in record if k.startswith("loss_") or k == "synth_loss"]
    assert all(math.isfinite(record[k]) for k in synth)
    if get_card(method).data_free:
        assert "synth_loss" in synth
    if method not in ("teacher", "student"):
        assert 0 <= record["agreement"] <= 1  # pixel agreement
        assert sum(record["kd_class_hist"]) == record["kd_steps"] * 4  # one count per image, not per pixel


def test_two_epochs_land_in_the_summary_and_resume_exactly(tmp_path: Path, seg_root: Path, seg_teachers: Path) -> None:
    spec = _spec("ssdkd", epochs=2)
    straight = run_one(spec, _opts(tmp_path / "a", seg_teachers, seg_root))
    with pytest.raises(KeyboardInterrupt):
        run_one(spec, _opts(tmp_path / "b", seg_teachers, seg_root), observer=StopAfter(1))
    resumed = run_one(spec, _opts(tmp_path / "b", seg_teachers, seg_root))
    assert resumed["resumes"] == 1
    for key in ("best_miou", "last_miou", "best_epoch", "per_class_iou", "data_scale", "config_hash"):
        assert resumed[key] == straight[key], key
    run = Path("nyuv2") / PAIR / "ssdkd" / "scale-8" / "seed-0" / "ckpt" / "last.pt"
    a, b = (torch.load(tmp_path / x / run, weights_only=True) for x in ("a", "b"))
    for name, tensor in a["student"].items():
        assert torch.equal(tensor, b["student"][name]), name
    assert torch.equal(a["method"]["pool"]["priorities"], b["method"]["pool"]["priorities"])
    row = collect(tmp_path / "a").iloc[0]
    assert row["metric"] == "miou" and row["best_miou"] == straight["best_miou"]
    assert row["last_miou"] == straight["last_miou"] and row["epochs_done"] == 2


def _log_probs(*rows: list[float]) -> torch.Tensor:
    return torch.log(torch.tensor(rows))


def test_ssdkd_phi_and_priority_per_image_match_hand_values() -> None:
    # Image A: two pixels (0.7, 0.2, 0.1) and two (0.1, 0.8, 0.1) -> pixel mean (0.4, 0.5, 0.1): class 1, p_T 0.5.
    # Image B: four pixels (0.6, 0.3, 0.1) -> class 0, p_T 0.6. Logits are N x C x 2 x 2.
    a = _log_probs([0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1])
    b = _log_probs(*[[0.6, 0.3, 0.1]] * 4)
    teacher = torch.stack([a, b]).permute(0, 2, 1).reshape(2, 3, 2, 2)
    stats = image_statistics(teacher)
    assert torch.allclose(stats, torch.tensor([[0.4, 0.5, 0.1], [0.6, 0.3, 0.1]]), atol=1e-6)
    buffer = torch.tensor([1, 1, 0, 2])  # B: half class 1, a quarter class 0
    phi = modulating_function(stats, buffer, gamma=2.0, difficulty=True, diversity=True)
    # A: (1 - 2/4) * (1 - 0.5)^2 = 0.125; B: (1 - 1/4) * (1 - 0.6)^2 = 0.12
    assert phi.tolist() == pytest.approx([0.125, 0.12], abs=1e-6)
    # Uniform student: per-pixel KL = sum p ln(3p); priority = mean over the image's four pixels.
    student = torch.zeros(2, 3, 2, 2)

    def kl(p: list[float]) -> float:
        return sum(q * math.log(3 * q) for q in p)

    expected = [(kl([0.7, 0.2, 0.1]) + kl([0.1, 0.8, 0.1])) / 2, kl([0.6, 0.3, 0.1])]
    assert priority(student, teacher).tolist() == pytest.approx(expected, abs=1e-6)


def test_dense_losses_are_per_pixel() -> None:
    torch.manual_seed(0)
    s, t = torch.randn(2, 5, 3, 4), torch.randn(2, 5, 3, 4)
    assert kd_kl(s, t, T=4.0).item() == pytest.approx(kd_kl(as_pixels(s), as_pixels(t), T=4.0).item(), rel=1e-6)
    assert kd_kl(s, t, T=1.0, reduction="none").shape == (2, 3, 4)
    assert class_balance(t).item() == pytest.approx(class_balance(as_pixels(t)).item(), rel=1e-6)


def test_methods_without_a_dense_version_are_refused() -> None:
    with pytest.raises(BadInput, match="deepinv does not support nyuv2.*methods that do: .*fast10.*ssdkd"):
        expand(GridRequest(methods=["deepinv"], datasets=["nyuv2"], pairs=[PAIR]))
    with pytest.raises(BadInput, match="needs segmentation models"):
        split_pair("lenet5_bn-lenet5_half_bn", "nyuv2")
    with pytest.raises(BadInput, match="needs classifiers"):
        split_pair(PAIR, "mnist")


def test_table3_preset_and_budgets() -> None:
    specs, skipped = expand(GridRequest(preset="table3"))
    assert not skipped and {s.pair for s in specs} == {"deeplabv3_resnet50-deeplabv3_mobilenetv2"}
    assert {s.method for s in specs} == {"teacher", "student", "kd", "dafl", "dfad", "fast10", "ssdkd"}
    assert len(specs) == 7 * 3
    ssdkd = [s for s in specs if s.method == "ssdkd"]
    assert all(dict(s.overrides)["train.data_scale"] == 16000 for s in ssdkd)
    fast10 = resolve(get_card("fast10"), "nyuv2", "deeplabv3_resnet50-deeplabv3_mobilenetv2")["train"]
    assert fast10["epochs"] * fast10["synthesis_batch_size"] == 17280 and fast10["image_size"] is None
