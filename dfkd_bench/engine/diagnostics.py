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
    """Class counts (teacher argmax) and confidence counts in CONFIDENCE_BINS equal bins over [0, 1]."""

    def __init__(self, num_classes: int) -> None:
        self.classes = torch.zeros(num_classes, dtype=torch.long)
        self.confidence = torch.zeros(CONFIDENCE_BINS, dtype=torch.long)

    @torch.no_grad()
    def update(self, teacher_logits: Tensor) -> None:
        confidence, predicted = mean_probs(teacher_logits.float()).max(dim=1)
        bins = (confidence * CONFIDENCE_BINS).long().clamp(max=CONFIDENCE_BINS - 1)
        self.classes += torch.bincount(predicted.cpu(), minlength=len(self.classes))
        self.confidence += torch.bincount(bins.cpu(), minlength=CONFIDENCE_BINS)

    def as_record(self) -> dict[str, Any]:
        return {"kd_class_hist": self.classes.tolist(), "kd_confidence_hist": self.confidence.tolist()}
