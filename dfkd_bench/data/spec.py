"""A whole split held in memory (what a data set is, `DatasetSpec`, lives in the torch-free datasets_catalog)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import torch

from dfkd_bench.datasets_catalog import DatasetSpec

S = TypeVar("S", bound="_Split")


class _Split:
    """Length, device moves and subsets shared by the two kinds of split: images plus one target tensor
    (named by `_target`) whose first dimension is the sample."""

    _target: ClassVar[str]
    images: torch.Tensor

    def _targets(self) -> torch.Tensor:
        return getattr(self, self._target)

    def __len__(self) -> int:
        return len(self._targets())

    def to(self: S, device: torch.device | str) -> S:
        return dataclasses.replace(self, images=self.images.to(device), **{self._target: self._targets().to(device)})

    def subset(self: S, indices: torch.Tensor | Sequence[int]) -> S:
        """A new set of the chosen samples (index list or boolean mask), e.g. for a held-out slice."""
        if not isinstance(indices, torch.Tensor):
            indices = torch.as_tensor(list(indices), dtype=torch.int64)
        indices = indices.to(self.images.device)
        return dataclasses.replace(self, images=self.images[indices], **{self._target: self._targets()[indices]})


@dataclass
class ImageSet(_Split):
    """A split kept as two tensors, so batches are slices and augmentation can run on the GPU.

    Tensors may be shared with the loader's cache: treat them as read-only.
    """

    _target: ClassVar[str] = "labels"
    spec: DatasetSpec
    images: torch.Tensor  # uint8, N x C x H x W
    labels: torch.Tensor  # int64, N

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 N x C x H x W, got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.dim() != 1:
            raise ValueError(f"labels must be int64 of shape N, got {self.labels.dtype} {tuple(self.labels.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")


IGNORE_INDEX = 255  # the "void" label of segmentation masks: no loss, not counted by the metrics


@dataclass
class SegmentationSet(_Split):
    """A segmentation split as two tensors: images and per-pixel class masks (``IGNORE_INDEX`` = void).

    Kept apart from ``ImageSet`` because its labels are N x H x W maps, not one class per image. Tensors may be
    shared with the loader's cache: treat them as read-only.
    """

    _target: ClassVar[str] = "masks"
    spec: DatasetSpec
    images: torch.Tensor  # uint8, N x C x H x W
    masks: torch.Tensor  # uint8, N x H x W, values 0..num_classes-1 or IGNORE_INDEX

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 N x C x H x W, got {self.images.dtype} {tuple(self.images.shape)}")
        if self.masks.dtype != torch.uint8 or self.masks.dim() != 3:
            raise ValueError(f"masks must be uint8 N x H x W, got {self.masks.dtype} {tuple(self.masks.shape)}")
        n, _, h, w = self.images.shape
        if tuple(self.masks.shape) != (n, h, w):
            raise ValueError(f"masks {tuple(self.masks.shape)} do not match images {tuple(self.images.shape)}")
