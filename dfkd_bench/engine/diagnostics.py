"""What the student was distilled on: per-epoch histograms of the teacher's predicted class and confidence over
every KD sample (the distributions of SSD-KD's Figure 2), recorded for every method.

A segmentation sample counts once, with the pixel-averaged teacher softmax: its class is the dominant one (argmax
of the pixel mean) and its confidence that class's pixel-mean probability, the same statistics as SSD-KD's φ."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dfkd_bench.methods.losses import mean_probs

CONFIDENCE_BINS = 10


class KDSampleHistograms:
    """Class counts (teacher argmax) and confidence counts in CONFIDENCE_BINS equal bins over [0, 1], kept on the
    logits' device: `update` runs in every KD step and never waits for the device (index_add_ into fixed-size
    counts; bincount on a GPU reads the largest value back to size its output); `as_record` reads them once."""

    def __init__(self, num_classes: int, device: torch.device | None = None) -> None:
        self.classes = torch.zeros(num_classes, dtype=torch.long, device=device)
        self.confidence = torch.zeros(CONFIDENCE_BINS, dtype=torch.long, device=device)

    @torch.no_grad()
    def update(self, teacher_logits: Tensor) -> None:
        confidence, predicted = mean_probs(teacher_logits.float()).max(dim=1)
        bins = (confidence * CONFIDENCE_BINS).long().clamp(max=CONFIDENCE_BINS - 1)
        self.classes.index_add_(0, predicted, torch.ones_like(predicted))
        self.confidence.index_add_(0, bins, torch.ones_like(bins))

    def as_record(self) -> dict[str, Any]:
        counts = torch.cat([self.classes, self.confidence]).tolist()  # one read for both
        classes = len(self.classes)
        return {"kd_class_hist": counts[:classes], "kd_confidence_hist": counts[classes:]}
