"""Segmentation metrics from a confusion matrix: mIoU, pixel accuracy, and a full test-split evaluation.

Conventions (DFAD's ``StreamSegMetrics``, the lineage of the NYUv2 protocol): void pixels (``IGNORE_INDEX``) are
left out of everything; a class's IoU is TP / (TP + FP + FN), and a class with zero union (absent from both the
labels and the predictions) has no IoU and is left out of the mean (``nanmean``). Fast-Datafree's evaluator
instead divides by ``union + 1e-9`` and averages all classes, counting such a class as 0; the two agree whenever
every class occurs in the labels, as on the full NYUv2 test split. Values are fractions in [0, 1], as the
segmentation papers report them (SSD-KD: 0.384 mIoU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dfkd_bench.data import IGNORE_INDEX, SegmentationSet
from dfkd_bench.data.augment import normalize, to_float
from dfkd_bench.models.modes import eval_mode


def confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """int64 C x C counts, rows = true class, columns = predicted class, void pixels dropped.

    ``pred`` and ``target`` hold class indices of the same shape, on the same device.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    keep = target != ignore_index
    pred, target = pred[keep].long(), target[keep].long()
    out_of_range = (target < 0) | (target >= num_classes) | (pred < 0) | (pred >= num_classes)
    if bool(out_of_range.any()):
        raise ValueError(f"class indices outside 0..{num_classes - 1} (and not {ignore_index})")
    counts = torch.bincount(target * num_classes + pred, minlength=num_classes * num_classes)
    return counts.view(num_classes, num_classes)


def class_iou(conf: torch.Tensor) -> torch.Tensor:
    """Per-class IoU as float64, NaN where a class has zero union."""
    conf = conf.double()
    tp = conf.diag()
    union = conf.sum(dim=0) + conf.sum(dim=1) - tp
    return tp / union  # 0 / 0 = NaN marks the classes that never occur


def miou(conf: torch.Tensor) -> float:
    """Mean IoU over the classes with a non-zero union (NaN if there is none)."""
    iou = class_iou(conf)
    present = ~iou.isnan()
    return float(iou[present].mean()) if bool(present.any()) else math.nan


def pixel_accuracy(conf: torch.Tensor) -> float:
    """Correct non-void pixels over all non-void pixels (NaN if there are none)."""
    total = int(conf.sum())
    return int(conf.diag().sum()) / total if total else math.nan


@dataclass
class SegEvalResult:
    miou: float
    pixel_acc: float
    per_class_iou: list[float | None]  # None: class absent from labels and predictions (no IoU)
    loss: float  # cross-entropy per non-void pixel


@torch.no_grad()
def evaluate_segmentation(model: nn.Module, test: SegmentationSet, batch_size: int = 16) -> SegEvalResult:
    """mIoU, pixel accuracy and CE on the stored (resize-256) test split; the model's train/eval mode is restored.

    The model must return N x C x H x W logits at the input size (as the registered segmenters do).
    """
    spec = test.spec
    device = next(model.parameters()).device
    conf = torch.zeros(spec.num_classes, spec.num_classes, dtype=torch.int64, device=device)
    loss_sum = 0.0
    with eval_mode(model):
        for start in range(0, len(test), batch_size):
            images = test.images[start : start + batch_size].to(device)
            masks = test.masks[start : start + batch_size].to(device).long()
            logits = model(normalize(to_float(images), spec.mean, spec.std))
            loss_sum += F.cross_entropy(logits, masks, ignore_index=IGNORE_INDEX, reduction="sum").item()
            conf += confusion_matrix(logits.argmax(dim=1), masks, spec.num_classes)
    conf = conf.cpu()
    pixels = int(conf.sum())
    per_class = [None if math.isnan(v) else v for v in class_iou(conf).tolist()]
    return SegEvalResult(miou(conf), pixel_accuracy(conf), per_class, loss_sum / pixels if pixels else math.nan)
