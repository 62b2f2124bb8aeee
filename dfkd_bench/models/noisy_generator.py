"""NAYER's generator ("noisy layer generation", `NLGenerator` in the reference): the DCGAN-style decoder that
Fast uses, fed not by noise but by a fixed label-text embedding per class.

The embedding of each sample's class goes through BatchNorm1d over the (class-balanced) batch and then through a
"noisy layer": one of several linear layers whose weights are redrawn from N(0, 1) before every synthesis loop.
The noisy layers, not a latent z, are the source of diversity. Sample i uses noisy layer i // num_classes, so
with class-balanced targets each noisy layer sees every class once. Module names and shapes follow the reference
so that its parameter count can be checked.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dfkd_bench.errors import BadInput
from dfkd_bench.models.generator import decoder


class NoisyLayerGenerator(nn.Module):
    """Class targets ``(B,)`` -> images ``(B, nc, img_size, img_size)`` in [0, 1].

    `label_embedding` is ``num_classes x E`` and fixed (a buffer left out of the state dict: the card rebuilds it).
    `batch_size` fixes how many noisy layers exist: ``ceil(batch_size / num_classes)``.
    """

    def __init__(
        self,
        label_embedding: Tensor,
        batch_size: int,
        noise_dim: int = 1000,
        ngf: int = 64,
        img_size: int = 32,
        nc: int = 3,
    ) -> None:
        super().__init__()
        if img_size < 4 or img_size % 4 != 0:
            raise BadInput(f"generator img_size must be a positive multiple of 4, got {img_size}")
        num_classes, embedding_dim = label_embedding.shape
        self.num_classes, self.init_size = num_classes, img_size // 4
        self.register_buffer("label_embedding", label_embedding.detach().float().clone(), persistent=False)
        self.n1 = nn.BatchNorm1d(embedding_dim)
        self.le1 = nn.ModuleList(
            nn.Linear(embedding_dim, noise_dim) for _ in range(math.ceil(batch_size / num_classes))
        )
        self.l1 = nn.Sequential(nn.Linear(noise_dim, ngf * 2 * self.init_size**2))
        self.conv_blocks = decoder(ngf, nc)

    def redraw_noisy_layers(self) -> None:
        """New N(0, 1) weights and zero biases for every noisy layer: the diversity of one synthesis loop."""
        for layer in self.le1:
            nn.init.normal_(layer.weight, mean=0.0, std=1.0)
            nn.init.zeros_(layer.bias)

    def forward(self, targets: Tensor) -> Tensor:
        if targets.shape[0] > len(self.le1) * self.num_classes:
            raise ValueError(
                f"{targets.shape[0]} targets but only {len(self.le1)} noisy layers of {self.num_classes} samples"
            )
        embedded = self.n1(self.label_embedding[targets])
        chunks = embedded.split(self.num_classes)
        noise = torch.cat([layer(chunk) for layer, chunk in zip(self.le1, chunks, strict=False)])
        out = self.l1(noise)
        return self.conv_blocks(out.view(out.shape[0], -1, self.init_size, self.init_size))


def balanced_targets(batch_size: int, num_classes: int, device: torch.device | None = None) -> Tensor:
    """Every class once per block of `num_classes` samples, the remainder drawn at random at the end (the
    reference's class-balanced synthesis targets)."""
    whole = torch.arange(num_classes, device=device).repeat(batch_size // num_classes)
    rest = torch.randint(num_classes, (batch_size % num_classes,), device=device)
    return torch.cat([whole, rest])
