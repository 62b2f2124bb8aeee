"""Loss terms shared by the methods, each written once (golden values in tests/test_losses.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dfkd_bench.data.spec import IGNORE_INDEX

# Dense (segmentation) outputs are N x C x H x W. Every term below reduces over the class dimension (dim 1) only,
# so on dense logits it is computed per pixel, exactly as on `as_pixels(logits)`, and its mean is a mean over
# pixels: the scale of a pixel equals the scale of a classified image (reference-methods.md section 6).


def as_pixels(logits: Tensor) -> Tensor:
    """N x C x H x W logits as (N·H·W) x C rows, one per pixel; N x C logits pass unchanged."""
    if logits.dim() == 2:
        return logits
    return logits.movedim(1, -1).reshape(-1, logits.shape[1])


def image_mean(values: Tensor) -> Tensor:
    """Per-pixel values (N x H x W) averaged to one value per image (N); per-image values (N) pass unchanged."""
    return values.flatten(1).mean(dim=1) if values.dim() > 1 else values


def mean_probs(logits: Tensor) -> Tensor:
    """Softmax averaged over each image's pixels (N x C): the per-image class distribution of a dense output."""
    probs = F.softmax(logits, dim=1)
    return probs.flatten(2).mean(dim=2) if probs.dim() > 2 else probs


def supervised_ce(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy against labels (N) or masks (N x H x W), void pixels (IGNORE_INDEX) left out."""
    return F.cross_entropy(logits, labels.long(), ignore_index=IGNORE_INDEX)


def kd_kl(student_logits: Tensor, teacher_logits: Tensor, T: float, reduction: str = "batchmean") -> Tensor:
    """T² · KL(softmax(t/T) ‖ softmax(s/T)); T² keeps gradient scale independent of T (Hinton et al.).

    reduction "none" gives one value per sample (priority sampling needs them; per pixel, N x H x W, on dense
    logits), "batchmean" their mean (over pixels on dense logits).
    """
    log_p_s = F.log_softmax(student_logits / T, dim=1)
    log_p_t = F.log_softmax(teacher_logits / T, dim=1)
    per_sample = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1) * (T * T)
    if reduction == "none":
        return per_sample
    if reduction == "batchmean":
        return per_sample.mean()
    raise ValueError(f"unknown reduction '{reduction}'; valid choices: batchmean, none")


def jensen_shannon_adversarial(
    student_logits: Tensor, teacher_logits: Tensor, T: float = 3.0, clamp: tuple[float, float] = (0.01, 0.99)
) -> Tensor:
    """DeepInversion's competition term: −JS(P_s, P_t) on clamped tempered softmaxes.

    Minimising it maximises the teacher-student disagreement, so inversion seeks images the student gets wrong.
    """
    p_s = F.softmax(student_logits / T, dim=1).clamp(*clamp)
    p_t = F.softmax(teacher_logits / T, dim=1).clamp(*clamp)
    m = (p_s + p_t) / 2
    kl_ms = (m * (m.log() - p_s.log())).sum(dim=1).mean()
    kl_mt = (m * (m.log() - p_t.log())).sum(dim=1).mean()
    return -(0.5 * kl_ms + 0.5 * kl_mt)


def total_variation_l1(x: Tensor) -> Tensor:
    """Mean absolute difference to the right, down and both diagonal neighbours: an image smoothness prior."""
    d1 = x[:, :, :, :-1] - x[:, :, :, 1:]
    d2 = x[:, :, :-1, :] - x[:, :, 1:, :]
    d3 = x[:, :, 1:, :-1] - x[:, :, :-1, 1:]
    d4 = x[:, :, :-1, :-1] - x[:, :, 1:, 1:]
    return d1.abs().mean() + d2.abs().mean() + d3.abs().mean() + d4.abs().mean()


def l2_prior(x: Tensor) -> Tensor:
    """Mean per-image L2 norm: keeps inverted pixels from drifting to extreme values."""
    return x.flatten(1).norm(dim=1).mean()


def one_hot_ce(teacher_logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy of the teacher against the labels the synthesis aims for."""
    return F.cross_entropy(teacher_logits, targets)


def class_balance(teacher_logits: Tensor) -> Tensor:
    """Σ_c p̄_c log p̄_c of the batch-mean (and pixel-mean) teacher softmax: minimising it spreads samples (pixels)
    over classes."""
    p_mean = F.softmax(as_pixels(teacher_logits), dim=1).mean(dim=0)
    return (p_mean * torch.log(p_mean.clamp_min(1e-12))).sum()


def agreement_mask(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """1.0 where student and teacher predict the same class, else 0.0 (no gradient)."""
    return (student_logits.argmax(dim=1) == teacher_logits.argmax(dim=1)).float().detach()


def adversarial_kl(student_logits: Tensor, teacher_logits: Tensor, mask: Tensor | None = None) -> Tensor:
    """−(1/B) Σ m_i · KL(p_t,i ‖ p_s,i) at T = 1: minimising it makes the synthesis seek disagreement.

    Fast and CMI pass `agreement_mask` ("decision-adversarial": samples the student already gets wrong are not pushed
    further); the generator baselines pass no mask.
    """
    per_sample = kd_kl(student_logits, teacher_logits, T=1.0, reduction="none")
    if mask is not None:
        per_sample = per_sample * mask
    return -per_sample.mean()


def activation_loss(features: Tensor) -> Tensor:
    """DAFL's −mean |f| on the teacher's penultimate features: rewards inputs that excite the teacher."""
    return -features.abs().mean()


def l1_discrepancy(student_logits: Tensor, teacher_logits: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute logit difference (DFAD's student loss; its negative is DFAD's generator loss); "none" gives one
    value per image (pixel-averaged on dense logits)."""
    per_sample = image_mean((student_logits - teacher_logits).abs().mean(dim=1))
    return per_sample if reduction == "none" else per_sample.mean()
