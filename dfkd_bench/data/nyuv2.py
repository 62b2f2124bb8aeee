"""NYUv2 13-class semantic segmentation, read from PNG files in the reference layout and held in memory.

Layout under ``--data-root`` (the folder itself, or its ``NYUv2`` subfolder)::

    NYUv2/image/{train,test}/*.png   RGB images (795 train, 654 test; 480 x 640 in the real set)
    NYUv2/seg13/{train,test}/*.png   same file names, one class per pixel: 0..12, 255 = void

Splits are stored after the reference's test transform, ``Resize(256)`` (shorter side to 256; bilinear for
images, nearest for masks), so evaluation slices stored tensors and training crops them with ``train_batch``
(random 128 crop + flip) wherever the batch lives, CPU or GPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dfkd_bench.data.datasets import Source, _looked_in, register_loader
from dfkd_bench.data.spec import IGNORE_INDEX, SegmentationSet
from dfkd_bench.datasets_catalog import NYUV2_CROP, get_spec
from dfkd_bench.errors import BadInput
from dfkd_bench.transfer import to_device

STORE_SIZE = 256  # the shorter side after the reference's Resize(256)
CROP = NYUV2_CROP  # the reference's training crop, also the generator's output size
FOLDER = "NYUv2"
LAYOUT = f"{FOLDER}/image/<split>/*.png and {FOLDER}/seg13/<split>/*.png (same names; labels 0-12, 255 = void)"


def resized_size(width: int, height: int, shorter: int = STORE_SIZE) -> tuple[int, int]:
    """(width, height) with the shorter side set to ``shorter``, truncating the longer one as torchvision's
    ``Resize(int)`` does (480 x 640 -> 256 x 341), so stored tensors match the reference's test inputs."""
    if width <= height:
        return shorter, int(shorter * height / width)
    return int(shorter * width / height), shorter


class NYUv2Source(Source):
    """PNG pairs under ``image/<split>`` and ``seg13/<split>``; nothing to download (the set needs a manual copy)."""

    spec = get_spec("nyuv2")

    def _candidates(self, root: Path) -> list[Path]:
        return [root / FOLDER, root]

    def locate(self, split: str, root: Path | None, download: bool) -> Path:
        if root is None:
            raise BadInput(f"nyuv2 needs --data-root DIR holding {LAYOUT}")
        for folder in self._candidates(root):
            if (folder / "image" / split).is_dir() and (folder / "seg13" / split).is_dir():
                return folder
        fetch = "; --download cannot fetch it, copy it there" if download else ""
        raise BadInput(
            f"nyuv2 {split} split not found; looked in: {_looked_in(self._candidates(root))}; need {LAYOUT}{fetch}"
        )

    def read(self, split: str, where: Path) -> tuple[torch.Tensor, torch.Tensor]:
        image_dir, mask_dir = where / "image" / split, where / "seg13" / split
        files = sorted(p.name for p in image_dir.glob("*.png"))
        if not files:
            raise BadInput(f"nyuv2: no PNG images in {image_dir}; need {LAYOUT}")
        missing = [name for name in files if not (mask_dir / name).is_file()]
        if missing:
            raise BadInput(f"nyuv2: {len(missing)} images have no label in {mask_dir} (first: {missing[0]})")
        pairs = [_read_pair(image_dir / name, mask_dir / name) for name in files]
        shapes = {tuple(mask.shape) for _, mask in pairs}
        if len(shapes) > 1:
            raise BadInput(f"nyuv2 in {where}: {split} images differ in size after resizing ({sorted(shapes)})")
        images = torch.from_numpy(np.stack([image for image, _ in pairs])).permute(0, 3, 1, 2).contiguous()
        masks = torch.from_numpy(np.stack([mask for _, mask in pairs]))
        return images, masks

    def check(self, where: Path, images: torch.Tensor, labels: torch.Tensor) -> None:
        bad = (labels >= self.spec.num_classes) & (labels != IGNORE_INDEX)
        if bool(bad.any()):
            raise BadInput(
                f"nyuv2 in {where}: label values {sorted(set(labels[bad].tolist()))} are outside "
                f"0..{self.spec.num_classes - 1} and {IGNORE_INDEX} (void)"
            )

    def wrap(self, images: torch.Tensor, labels: torch.Tensor) -> SegmentationSet:
        return SegmentationSet(self.spec, images, labels)


def _read_pair(image_path: Path, mask_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One image (H x W x 3 uint8) and its mask (H x W uint8), both resized to the stored size."""
    with Image.open(image_path) as image, Image.open(mask_path) as mask:
        if image.size != mask.size:
            raise BadInput(f"nyuv2: {image_path} is {image.size} but its label {mask_path} is {mask.size}")
        size = resized_size(*image.size)
        rgb = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BILINEAR))
        labels = np.asarray(mask.resize(size, Image.Resampling.NEAREST))
    if labels.ndim != 2 or labels.dtype.kind not in "iu" or int(labels.max()) > 255:
        raise BadInput(f"nyuv2: {mask_path} is not a single-channel label image with values 0..255")
    return rgb, labels.astype(np.uint8)


def train_batch(
    images: torch.Tensor,
    masks: torch.Tensor,
    crop: int = CROP,
    flip: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's training augmentation on a stored batch: a random ``crop`` x ``crop`` window per sample
    and a horizontal flip with p = 0.5, applied to image and mask alike.

    Works on any dtype and device (index arithmetic only); random numbers are drawn on the generator's device
    (CPU for the global RNG), so a seed gives the same crops everywhere. Normalise afterwards.
    """
    if images.dim() != 4 or masks.dim() != 3 or masks.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(f"need N x C x H x W images and N x H x W masks, got {images.shape} and {masks.shape}")
    n, c, h, w = images.shape
    if not 0 < crop <= min(h, w):
        raise ValueError(f"crop {crop} does not fit {h} x {w} images")
    device = images.device
    rng_device = generator.device if generator is not None else torch.device("cpu")
    top = to_device(torch.randint(0, h - crop + 1, (n,), generator=generator, device=rng_device), device)
    left = to_device(torch.randint(0, w - crop + 1, (n,), generator=generator, device=rng_device), device)
    rows = top[:, None] + torch.arange(crop, device=device)  # N x crop
    cols = left[:, None] + torch.arange(crop, device=device)
    if flip:
        mirrored = to_device(torch.randint(0, 2, (n,), generator=generator, device=rng_device), device).bool()
        cols = torch.where(mirrored[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=device)
    channel = torch.arange(c, device=device)
    out_images = images[
        batch[:, None, None, None], channel[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]
    ]
    out_masks = masks[batch[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out_images, out_masks


register_loader(NYUv2Source())
