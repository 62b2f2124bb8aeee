"""Top-1/top-5 and per-class accuracy on a full test split held on the device, and the dispatch to mIoU for
segmentation splits (engine/segmentation_metrics.py), so callers handle both tasks with one call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dfkd_bench.data import ImageSet, SegmentationSet
from dfkd_bench.data.augment import normalize, to_float
from dfkd_bench.engine.segmentation_metrics import SegEvalResult, evaluate_segmentation
from dfkd_bench.models.modes import eval_mode


@dataclass
class EvalResult:
    top1: float
    top5: float
    loss: float
    per_class_top1: list[float]


@torch.no_grad()
def evaluate(model: nn.Module, test: ImageSet, batch_size: int = 1024) -> EvalResult:
    """Accuracies in percent; the model is put back in the mode it was in."""
    spec = test.spec
    device = next(model.parameters()).device
    correct1 = correct5 = 0
    loss_sum = 0.0
    hits = torch.zeros(spec.num_classes, dtype=torch.long)
    counts = torch.zeros(spec.num_classes, dtype=torch.long)
    with eval_mode(model):
        for start in range(0, len(test), batch_size):
            images = test.images[start : start + batch_size].to(device)
            labels = test.labels[start : start + batch_size].to(device)
            logits = model(normalize(to_float(images), spec.mean, spec.std))
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            k = min(5, logits.shape[1])
            topk = logits.topk(k, dim=1).indices
            right = topk[:, 0] == labels
            correct1 += right.sum().item()
            correct5 += (topk == labels[:, None]).any(dim=1).sum().item()
            hits += torch.bincount(labels[right].cpu(), minlength=spec.num_classes)
            counts += torch.bincount(labels.cpu(), minlength=spec.num_classes)
    n = len(test)
    per_class = (100.0 * hits.double() / counts.clamp_min(1).double()).tolist()
    return EvalResult(100.0 * correct1 / n, 100.0 * correct5 / n, loss_sum / n, per_class)


def evaluate_split(
    model: nn.Module, test: ImageSet | SegmentationSet, batch_size: int = 1024
) -> EvalResult | SegEvalResult:
    """The task's evaluation: top-1 for classification sets, mIoU for segmentation sets."""
    if isinstance(test, SegmentationSet):
        return evaluate_segmentation(model, test, batch_size)
    return evaluate(model, test, batch_size)


def headline(result: EvalResult | SegEvalResult) -> str:
    """The headline metric as progress bars and messages show it."""
    return f"mIoU {result.miou:.4f}" if isinstance(result, SegEvalResult) else f"top1 {result.top1:.2f}%"


def result_fields(result: EvalResult | SegEvalResult) -> dict[str, Any]:
    """The per-split numbers under the names metrics.jsonl uses (test_loss for both tasks)."""
    if isinstance(result, SegEvalResult):
        return {
            "miou": result.miou,
            "pixel_acc": result.pixel_acc,
            "test_loss": result.loss,
            "per_class_iou": result.per_class_iou,
        }
    return {"top1": result.top1, "top5": result.top5, "test_loss": result.loss, "per_class_top1": result.per_class_top1}
