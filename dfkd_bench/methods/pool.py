"""The in-memory pool of synthetic images that pool-based methods replay for KD (no PNG round trip)."""

from __future__ import annotations

import torch
from torch import Tensor


class ImagePool:
    """Images in [0, 1] kept on the compute device, replayed in shuffled passes like the reference loader.

    `capacity` caps the number of distinct images (the data scale); the oldest are evicted first.
    `store_uint8` quantises to 8 bits, as the reference's PNG files do, at a quarter of the memory.
    """

    def __init__(self, capacity: int | None = None, store_uint8: bool = False) -> None:
        if capacity is not None and capacity <= 0:
            raise ValueError(f"pool capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.store_uint8 = store_uint8
        self.images: Tensor | None = None
        self.total_added = 0
        self._order: Tensor | None = None
        self._cursor = 0

    def __len__(self) -> int:
        return 0 if self.images is None else self.images.shape[0]

    def add(self, images: Tensor) -> None:
        """Append a batch; a new shuffled pass starts, as the reference rebuilds its loader after each round."""
        images = images.detach()
        stored = (images * 255).round().clamp(0, 255).to(torch.uint8) if self.store_uint8 else images.clone()
        self.images = stored if self.images is None else torch.cat([self.images, stored])
        if self.capacity is not None and len(self) > self.capacity:
            self.images = self.images[len(self) - self.capacity :]
        self.total_added += images.shape[0]
        self._order = None

    def sample(self, batch_size: int) -> Tensor:
        """The next batch of a shuffled pass (without replacement within a pass), as floats in [0, 1]."""
        if self.images is None:
            raise RuntimeError("sampling from an empty image pool")
        n = len(self)
        batch_size = min(batch_size, n)
        if self._order is None or self._cursor + batch_size > n:
            self._order = torch.randperm(n)
            self._cursor = 0
        idx = self._order[self._cursor : self._cursor + batch_size]
        self._cursor += batch_size
        batch = self.images[idx.to(self.images.device)]
        return batch.float() / 255 if self.store_uint8 else batch

    def state_dict(self) -> dict[str, object]:
        return {
            "images": self.images,
            "total_added": self.total_added,
            "order": self._order,
            "cursor": self._cursor,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.images = state["images"]
        self.total_added = int(state["total_added"])
        self._order = state["order"]
        self._cursor = int(state["cursor"])
