"""The in-memory pool of synthetic images that pool-based methods replay for KD (no PNG round trip)."""

from __future__ import annotations

import torch
from torch import Tensor

from dfkd_bench.transfer import to_device


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
        self.total_added = 0
        # Images live in the first `_len` rows of `_storage`, which grows by doubling: appending a round's batch
        # costs O(batch), where re-concatenating the whole pool every round cost O(|pool|) (a quarter of a
        # late Fast2 synthesis round in the MNIST proxy).
        self._storage: Tensor | None = None
        self._len = 0
        self._order: Tensor | None = None
        self._cursor = 0

    @property
    def images(self) -> Tensor | None:
        """The images held, oldest first (a view of the storage)."""
        return None if self._storage is None else self._storage[: self._len]

    def __len__(self) -> int:
        return self._len

    def add(self, images: Tensor) -> None:
        """Append a batch; a new shuffled pass starts, as the reference rebuilds its loader after each round."""
        images = images.detach()
        stored = (images * 255).round().clamp(0, 255).to(torch.uint8) if self.store_uint8 else images
        if self.capacity is not None:
            stored = stored[-self.capacity :]
            evicted = max(0, self._len + stored.shape[0] - self.capacity)
            if evicted:  # FIFO: the oldest leave and the rest move to the front
                kept = self._len - evicted
                self._storage[:kept] = self._storage[evicted : self._len].clone()
                self._len = kept
        self._reserve(self._len + stored.shape[0], stored)
        self._storage[self._len : self._len + stored.shape[0]] = stored
        self._len += stored.shape[0]
        self.total_added += images.shape[0]
        self._order = None

    def _reserve(self, rows: int, like: Tensor) -> None:
        """Room for `rows` images, doubling the storage (never beyond the capacity) when it is too small."""
        allocated = 0 if self._storage is None else self._storage.shape[0]
        if rows <= allocated:
            return
        size = max(rows, 2 * allocated)
        if self.capacity is not None:
            size = min(size, self.capacity)
        storage = like.new_empty((size, *like.shape[1:]))
        if self._len:
            storage[: self._len] = self._storage[: self._len]
        self._storage = storage

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
        return self.gather(to_device(idx, self.images.device))

    def gather(self, index: Tensor) -> Tensor:
        """The images at `index` as a fresh float tensor in [0, 1] (a copy: callers may overwrite it). `index_select`
        copies whole rows, about ten times faster on the CPU than advanced indexing, which indexes every element."""
        batch = self.images.index_select(0, index)
        return batch.float().div_(255) if self.store_uint8 else batch

    def state_dict(self) -> dict[str, object]:
        images = self.images
        if images is not None and images.shape[0] < self._storage.shape[0]:
            images = images.clone()  # a view would save the whole, partly empty storage
        return {
            "images": images,
            "total_added": self.total_added,
            "order": self._order,
            "cursor": self._cursor,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        self._storage = state["images"]
        self._len = 0 if self._storage is None else self._storage.shape[0]
        self.total_added = int(state["total_added"])
        self._order = state["order"]
        self._cursor = int(state["cursor"])
