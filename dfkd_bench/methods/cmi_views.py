"""Differentiable random-resized crop: CMI's "local view", usable by any method that back-propagates through views."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

_TRIES = 10


def _uniform(low: float, high: float, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    device = generator.device if generator is not None else torch.device("cpu")
    return low + (high - low) * torch.rand(shape, generator=generator, device=device)


def random_resized_crop(
    x: Tensor,
    scale: Sequence[float] = (0.08, 1.0),
    ratio: Sequence[float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per-sample random crop of relative area in `scale` and aspect ratio (w/h) in `ratio`, resized back to H x W.

    Follows torchvision's ``RandomResizedCrop`` sampling (up to 10 tries per sample, log-uniform ratio), but crops
    with sub-pixel box sizes and bilinear ``grid_sample`` so gradients reach ``x``. A sample with no valid try keeps
    the whole image. Random numbers are drawn on the generator's device (CPU for the global RNG), like
    ``random_crop_flip``, so a seed gives the same crops on any device.
    """
    if x.dim() != 4:
        raise ValueError(f"expected an N x C x H x W batch, got shape {tuple(x.shape)}")
    s_lo, s_hi = float(scale[0]), float(scale[1])
    r_lo, r_hi = float(ratio[0]), float(ratio[1])
    if not 0 < s_lo <= s_hi <= 1:
        raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {tuple(scale)}")
    if not 0 < r_lo <= r_hi:
        raise ValueError(f"ratio must satisfy 0 < min <= max, got {tuple(ratio)}")
    n, _, h, w = x.shape
    area = h * w * _uniform(s_lo, s_hi, (n, _TRIES), generator)
    aspect = torch.exp(_uniform(math.log(r_lo), math.log(r_hi), (n, _TRIES), generator))
    crop_w, crop_h = torch.sqrt(area * aspect), torch.sqrt(area / aspect)
    valid = (crop_w <= w) & (crop_h <= h)
    first = valid.to(torch.uint8).argmax(dim=1, keepdim=True)
    found = valid.any(dim=1)
    crop_w = torch.where(found, crop_w.gather(1, first).squeeze(1), torch.full_like(found, w, dtype=area.dtype))
    crop_h = torch.where(found, crop_h.gather(1, first).squeeze(1), torch.full_like(found, h, dtype=area.dtype))
    left = _uniform(0.0, 1.0, (n,), generator) * (w - crop_w)
    top = _uniform(0.0, 1.0, (n,), generator) * (h - crop_h)
    # affine_grid maps output coordinates in [-1, 1] to input coordinates: scale by the crop's relative size and
    # shift to its centre (align_corners=False, so a full-size box is exactly the identity).
    theta = torch.zeros(n, 2, 3, device=area.device)
    theta[:, 0, 0] = crop_w / w
    theta[:, 1, 1] = crop_h / h
    theta[:, 0, 2] = (2 * left + crop_w) / w - 1
    theta[:, 1, 2] = (2 * top + crop_h) / h - 1
    grid = F.affine_grid(theta.to(device=x.device, dtype=x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
