"""NYUv2 from PNG files in the reference layout: storage at resize-256, label checks, and the train crop/flip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dfkd_bench.data import SegmentationSet, clear_cache, get_spec, load_dataset, train_batch
from dfkd_bench.engine.segmentation_metrics import evaluate_segmentation
from dfkd_bench.errors import BadInput
from dfkd_bench.models import create_model

H, W = 40, 52  # stored as 256 x int(256 * 52 / 40) = 256 x 332
STORED = (256, 332)


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def _label_map(seed: int) -> np.ndarray:
    """Blocks of 10 x 13 pixels (64 x 83 after resizing, so every value survives), one void block."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 13, size=(4, 4)).astype(np.uint8)
    blocks[seed % 4, 0] = 255
    return np.kron(blocks, np.ones((10, 13), dtype=np.uint8))


def write_nyuv2(root: Path, counts: dict[str, int] | None = None) -> dict[str, list[np.ndarray]]:
    """A tiny copy of the reference layout; images are the label map spread over the three channels."""
    written: dict[str, list[np.ndarray]] = {}
    for split, n in (counts or {"train": 6, "test": 4}).items():
        (root / "NYUv2" / "image" / split).mkdir(parents=True)
        (root / "NYUv2" / "seg13" / split).mkdir(parents=True)
        written[split] = []
        for i in range(n):
            labels = _label_map(100 * (split == "test") + i)
            wide = labels.astype(np.int64)
            rgb = np.stack([wide, 255 - wide, (wide * 7) % 256], axis=-1).astype(np.uint8)
            Image.fromarray(rgb).save(root / "NYUv2" / "image" / split / f"{i:04d}.png")
            Image.fromarray(labels).save(root / "NYUv2" / "seg13" / split / f"{i:04d}.png")
            written[split].append(labels)
    return written


def test_spec() -> None:
    spec = get_spec("nyuv2")
    assert (spec.num_classes, spec.in_channels, spec.image_size, spec.hflip) == (13, 3, 128, True)
    assert spec.mean == spec.std == (0.5, 0.5, 0.5)
    assert spec.class_names[0] == "bed" and spec.class_names[10] == "tv" and spec.class_names[-1] == "window"


def test_load_resizes_shorter_side_and_keeps_labels(tmp_path: Path) -> None:
    written = write_nyuv2(tmp_path)
    train, test = load_dataset("nyuv2", "train", tmp_path), load_dataset("nyuv2", "test", tmp_path)
    assert isinstance(train, SegmentationSet) and train.spec is get_spec("nyuv2")
    assert (len(train), len(test)) == (6, 4)
    assert train.images.shape == (6, 3, *STORED) and train.images.dtype == torch.uint8
    assert test.masks.shape == (4, *STORED) and test.masks.dtype == torch.uint8
    # nearest resize samples the source pixel under each target pixel's centre
    rows = np.floor((np.arange(STORED[0]) + 0.5) * H / STORED[0]).astype(int)
    cols = np.floor((np.arange(STORED[1]) + 0.5) * W / STORED[1]).astype(int)
    for i, labels in enumerate(written["train"]):
        assert np.array_equal(train.masks[i].numpy(), labels[rows][:, cols])
        assert set(np.unique(train.masks[i].numpy())) == set(np.unique(labels))
    assert 255 in set(test.masks.unique().tolist())
    # bilinear keeps the flat interior of each block; block (0, 0) spans stored rows 0..63, cols 0..82
    first = int(written["train"][0][0, 0])
    assert train.images[0, :, 32, 41].tolist() == [first, 255 - first, (first * 7) % 256]


def test_root_may_be_the_nyuv2_folder_itself(tmp_path: Path) -> None:
    write_nyuv2(tmp_path, {"test": 2})
    assert len(load_dataset("nyuv2", "test", tmp_path / "NYUv2")) == 2


def test_missing_root_names_the_layout(tmp_path: Path) -> None:
    for root in (tmp_path / "nowhere", None):
        with pytest.raises(BadInput) as err:
            load_dataset("nyuv2", "train", root)
        msg = str(err.value)
        assert "NYUv2/image/<split>/*.png" in msg and "NYUv2/seg13/<split>/*.png" in msg and "\n" not in msg
    with pytest.raises(BadInput, match="cannot fetch"):
        load_dataset("nyuv2", "train", tmp_path, download=True)


def test_bad_files_rejected(tmp_path: Path) -> None:
    write_nyuv2(tmp_path, {"train": 2, "test": 2})
    Image.fromarray(np.full((H, W), 13, dtype=np.uint8)).save(tmp_path / "NYUv2" / "seg13" / "train" / "0001.png")
    with pytest.raises(BadInput, match=r"label values \[13\] are outside 0..12 and 255"):
        load_dataset("nyuv2", "train", tmp_path)
    (tmp_path / "NYUv2" / "seg13" / "test" / "0001.png").unlink()
    with pytest.raises(BadInput, match="1 images have no label.*0001.png"):
        load_dataset("nyuv2", "test", tmp_path)


def _position_batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Float images whose channels hold each pixel's column and row; masks hold the column mod 251."""
    h, w = STORED
    cols = torch.arange(w).expand(n, h, w)
    rows = torch.arange(h)[:, None].expand(n, h, w)
    images = torch.stack([cols, rows, torch.zeros_like(cols)], dim=1).float()
    return images, (cols % 251).to(torch.uint8)


def test_train_batch_crops_and_flips_image_and_mask_together() -> None:
    images, masks = _position_batch(32)
    out_images, out_masks = train_batch(images, masks, generator=torch.Generator().manual_seed(0))
    assert out_images.shape == (32, 3, 128, 128) and out_masks.shape == (32, 128, 128)
    assert out_masks.dtype == torch.uint8
    assert torch.equal(out_masks, (out_images[:, 0].long() % 251).to(torch.uint8))  # same window, same flip
    step_x = out_images[:, 0, :, 1:] - out_images[:, 0, :, :-1]
    step_y = out_images[:, 1, 1:, :] - out_images[:, 1, :-1, :]
    assert (step_y == 1).all()  # rows are never flipped
    mirrored = (step_x == -1).flatten(1).all(dim=1)
    assert ((step_x == 1).flatten(1).all(dim=1) | mirrored).all()  # each crop is contiguous, maybe mirrored
    assert 0 < int(mirrored.sum()) < 32
    assert out_images[:, 0].min() >= 0 and out_images[:, 0].max() <= STORED[1] - 1
    assert out_images[:, 1].max() <= STORED[0] - 1
    again = train_batch(images, masks, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[0], out_images) and torch.equal(again[1], out_masks)


def test_train_batch_without_flip_and_bad_sizes() -> None:
    images, masks = _position_batch(8)
    out_images, _ = train_batch(images, masks, crop=64, flip=False)
    assert out_images.shape == (8, 3, 64, 64)
    assert ((out_images[:, 0, :, 1:] - out_images[:, 0, :, :-1]) == 1).all()
    with pytest.raises(ValueError, match="does not fit"):
        train_batch(images, masks, crop=257)
    with pytest.raises(ValueError, match="N x H x W masks"):
        train_batch(images, masks[:, :10])


def test_loaded_split_evaluates_with_the_student(tmp_path: Path) -> None:
    write_nyuv2(tmp_path, {"test": 2})
    torch.manual_seed(0)
    result = evaluate_segmentation(create_model("deeplabv3_mobilenetv2", 13), load_dataset("nyuv2", "test", tmp_path))
    assert 0.0 <= result.miou <= 1.0 and 0.0 <= result.pixel_acc <= 1.0 and result.loss > 0
