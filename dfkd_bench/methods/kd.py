"""Vanilla KD on a fraction of the real training data: the data-driven baseline of SSD-KD's Figure 1."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from dfkd_bench.data import SegmentationSet, normalize, to_float, train_batch
from dfkd_bench.methods.base import METHODS, Batch, LossParts, Method, MethodContext
from dfkd_bench.methods.losses import supervised_ce
from dfkd_bench.transfer import to_device


@dataclass
class KDParams:
    fraction: float = 1.0
    alpha: float = 1.0
    beta: float = 0.1
    replay_padding: int = 4


@METHODS.register("kd")
class VanillaKD(Method):
    """α·T²·KL + β·CE on a fixed random subset of real images (its size is `data_scale` or `fraction`).

    On segmentation data the labels are masks: images stay uint8 at their stored size, each batch gets the
    reference's random crop (train.image_size, else 128) and flip, KL is per pixel and CE skips void pixels."""

    Params = KDParams
    data_free = False
    supports_segmentation = True

    def __init__(self, ctx: MethodContext, params: KDParams) -> None:
        super().__init__(ctx, params)
        real = ctx.real_train_set()
        if not 0 < params.fraction <= 1:
            raise ValueError(f"kd fraction must be in (0, 1], got {params.fraction}")
        n = ctx.train.data_scale or max(1, round(params.fraction * len(real)))
        n = min(n, len(real))
        chosen = torch.randperm(len(real))[:n]
        self.dense = isinstance(real, SegmentationSet)
        if self.dense:
            self.images = real.images[chosen].to(ctx.device)
            self.labels = real.masks[chosen].to(ctx.device)
        else:
            self.images = to_float(real.images[chosen]).to(ctx.device)
            self.labels = real.labels[chosen].to(ctx.device)
        self._order = torch.randperm(n)
        self._cursor = 0

    def sample(self) -> Batch:
        n, bs = len(self.labels), min(self.ctx.train.batch_size, len(self.labels))
        if self._cursor + bs > n:
            self._order, self._cursor = torch.randperm(n), 0
        idx = to_device(self._order[self._cursor : self._cursor + bs], self.images.device)
        self._cursor += bs
        if self.dense:
            images, masks = train_batch(self.images[idx], self.labels[idx], crop=self.ctx.image_size)
            spec = self.ctx.spec
            return Batch(x=normalize(to_float(images), spec.mean, spec.std), y=masks.long())
        return Batch(x=self.augment(self.images[idx], self.params.replay_padding), y=self.labels[idx])

    def student_loss(self, student_logits: Tensor, teacher_logits: Tensor, batch: Batch) -> LossParts:
        """alpha·KL + beta·CE on the labels; a part whose weight is 0 is left out (and not computed)."""
        parts = {}
        if self.params.alpha:
            parts["kl"] = self.params.alpha * self.kd_kl(student_logits, teacher_logits, batch)
        if self.params.beta or not parts:
            parts["ce"] = self.params.beta * supervised_ce(student_logits, batch.y)
        return parts

    def data_scale(self) -> int:
        return len(self.labels)

    def state_dict(self) -> dict[str, object]:
        return {"order": self._order, "cursor": self._cursor}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self._order, self._cursor = state["order"], int(state["cursor"])
