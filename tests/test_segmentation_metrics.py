"""Confusion matrix, mIoU and pixel accuracy against hand-computed values, and the test-split evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from dfkd_bench.data import SegmentationSet, get_spec
from dfkd_bench.engine.segmentation_metrics import (
    class_iou,
    confusion_matrix,
    evaluate_segmentation,
    miou,
    pixel_accuracy,
)

# 3 classes, 255 = void. Non-void (target, pred) pairs: (0,0) (0,1) (1,1) (1,1) (2,2) (2,0); two void pixels.
TARGET = torch.tensor([[[0, 0, 1, 255], [1, 2, 2, 255]]])
PRED = torch.tensor([[[0, 1, 1, 2], [1, 2, 0, 0]]])
# rows = true class, columns = predicted class
EXPECTED = [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
# IoU = TP / (TP + FP + FN): class 0: 1 / (1 + 1 + 1); class 1: 2 / (2 + 1 + 0); class 2: 1 / (1 + 0 + 1)
EXPECTED_IOU = [1 / 3, 2 / 3, 1 / 2]


def tiny_test_split(n: int) -> SegmentationSet:
    """Random images and masks (some void) at a small, non-square size; loading is covered in test_segmentation_data."""
    gen = torch.Generator().manual_seed(n)
    images = torch.randint(0, 256, (n, 3, 40, 52), generator=gen, dtype=torch.uint8)
    masks = torch.randint(0, 13, (n, 40, 52), generator=gen, dtype=torch.uint8)
    masks[:, :5] = 255
    masks[masks == 7] = 255  # class 7 never labelled
    return SegmentationSet(get_spec("nyuv2"), images, masks)


def test_confusion_matrix_and_metrics_by_hand() -> None:
    conf = confusion_matrix(PRED, TARGET, 3)
    assert conf.dtype == torch.int64 and conf.tolist() == EXPECTED
    assert class_iou(conf).tolist() == pytest.approx(EXPECTED_IOU)
    assert miou(conf) == pytest.approx(0.5)  # (1/3 + 2/3 + 1/2) / 3
    assert pixel_accuracy(conf) == pytest.approx(4 / 6)  # void pixels count nowhere


def test_absent_class_is_left_out_but_a_wrong_prediction_counts() -> None:
    conf = confusion_matrix(PRED, TARGET, 4)  # class 3: never labelled, never predicted -> no IoU
    assert math.isnan(class_iou(conf)[3])
    assert miou(conf) == pytest.approx(0.5)
    wrong = PRED.clone()
    wrong[0, 1, 2] = 3  # the (2, 0) pixel predicted as 3 instead: class 3 gets union 1, IoU 0
    conf = confusion_matrix(wrong, TARGET, 4)
    # class 0: TP 1, FP 0, FN 1 -> 1/2; class 1: 2/3; class 2: TP 1, FN 1 -> 1/2; class 3: 0
    assert class_iou(conf).tolist() == pytest.approx([1 / 2, 2 / 3, 1 / 2, 0.0])
    assert miou(conf) == pytest.approx((1 / 2 + 2 / 3 + 1 / 2 + 0) / 4)


def test_empty_and_invalid_inputs() -> None:
    void = torch.full((1, 2, 2), 255)
    conf = confusion_matrix(torch.zeros(1, 2, 2, dtype=torch.long), void, 3)
    assert conf.sum() == 0 and math.isnan(miou(conf)) and math.isnan(pixel_accuracy(conf))
    with pytest.raises(ValueError, match="outside 0..2"):
        confusion_matrix(PRED, torch.full_like(TARGET, 3), 3)
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_matrix(PRED[:, :1], TARGET, 3)


class ConstantSegmenter(nn.Module):
    """Logits equal to a fixed vector at every pixel: its predictions and loss are known in closed form."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.tensor(logits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        return self.logits.view(1, -1, 1, 1).expand(n, -1, h, w)


def test_evaluate_constant_model_against_closed_form() -> None:
    test = tiny_test_split(4)
    bias = [0.0] * 13
    bias[5] = 2.0  # predicts class 5 everywhere
    result = evaluate_segmentation(ConstantSegmenter(bias), test, batch_size=3)

    masks = test.masks.numpy()
    counts = np.bincount(masks[masks != 255].ravel(), minlength=13)
    total = counts.sum()
    labelled = set(np.flatnonzero(counts)) | {5}
    assert 7 not in labelled  # so one class must come out as None
    assert result.pixel_acc == pytest.approx(counts[5] / total)
    assert result.per_class_iou[5] == pytest.approx(counts[5] / total)  # TP = counts[5], union = every pixel
    for c in range(13):
        if c not in labelled:
            assert result.per_class_iou[c] is None
        elif c != 5:
            assert result.per_class_iou[c] == 0.0
    assert result.miou == pytest.approx(counts[5] / total / len(labelled))
    log_z = math.log(12 + math.exp(2.0))
    expected_loss = (log_z * total - 2.0 * counts[5]) / total  # CE = log Z - logit[target]
    assert result.loss == pytest.approx(expected_loss)


def test_evaluate_restores_training_mode() -> None:
    model = ConstantSegmenter([0.0] * 13).train()
    evaluate_segmentation(model, tiny_test_split(2))
    assert model.training
    evaluate_segmentation(model.eval(), tiny_test_split(2))
    assert not model.training
