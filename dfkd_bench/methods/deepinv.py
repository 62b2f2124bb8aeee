"""DeepInversion (Yin et al., CVPR 2020): optimise pixels so the teacher's BN statistics and labels match."""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass

import torch
from torch import Tensor

from dfkd_bench.data.augment import denormalize, normalize
from dfkd_bench.errors import BadInput
from dfkd_bench.methods.base import METHODS, MethodContext
from dfkd_bench.methods.bn_hook import BNStatsRegularizer
from dfkd_bench.methods.losses import jensen_shannon_adversarial, l2_prior, one_hot_ce, total_variation_l1
from dfkd_bench.methods.pool_method import PoolMethod
from dfkd_bench.models.modes import eval_mode


@dataclass
class DeepInvParams:
    g_steps: int = 1000
    lr_g: float = 0.1
    bn: float = 10.0
    oh: float = 1.0
    adv: float = 1.0
    adv_T: float = 3.0
    tv: float = 0.0
    l2: float = 0.0
    # Effective weight of the student-BN term: the reference's 0.001 factor inside L_bn, times bn = 10.
    bn_student: float = 0.01
    jitter: int = 4
    replay_padding: int = 4
    store_uint8: bool = False
    # Which iterate joins the pool: "final" (the last one, after its Adam step and clamp, which is what the reference
    # stores through tensor aliasing) or "lowest_loss" (the lowest-loss iterate as evaluated, before its Adam step).
    keep: str = "final"

    KEEP_CHOICES = ("final", "lowest_loss")

    def __post_init__(self) -> None:
        if self.keep not in self.KEEP_CHOICES:
            raise BadInput(f"deepinv: keep must be one of {', '.join(self.KEEP_CHOICES)} (got {self.keep!r})")


@METHODS.register("deepinv")
class DeepInversion(PoolMethod):
    """Each round inverts one fresh batch of pixels and adds one iterate of it (see `keep`) to the pool."""

    Params = DeepInvParams

    def __init__(self, ctx: MethodContext, params: DeepInvParams) -> None:
        super().__init__(ctx, params)
        self.student_bn = BNStatsRegularizer(ctx.student) if params.bn_student else None

    def _jitter(self, x: Tensor) -> Tensor:
        """One random roll (and flip, where labels allow) for the whole batch, as the reference does."""
        p = self.params
        if p.jitter:
            dx, dy = random.randint(-p.jitter, p.jitter), random.randint(-p.jitter, p.jitter)
            x = torch.roll(x, shifts=(dx, dy), dims=(2, 3))
        if self.ctx.spec.hflip and random.random() < 0.5:
            x = torch.flip(x, dims=(3,))
        return x

    def synthesize(self) -> dict[str, float]:
        p, spec, device = self.params, self.ctx.spec, self.ctx.device
        self.round += 1
        n = self.ctx.train.synth_batch
        shape = (n, spec.in_channels, spec.image_size, spec.image_size)
        x = torch.randn(shape, device=device, requires_grad=True)
        targets = torch.randint(spec.num_classes, (n,), device=device).sort().values
        optimizer = torch.optim.Adam([x], lr=p.lr_g, betas=(0.5, 0.99))
        low = normalize(torch.zeros(1, spec.in_channels, 1, 1, device=device), spec.mean, spec.std)
        high = normalize(torch.ones(1, spec.in_channels, 1, 1, device=device), spec.mean, spec.std)
        with eval_mode(self.student), self.teacher_bn.active(), self._student_bn_active():
            best_loss, kept_x = self._invert(x, targets, optimizer, low, high)
        self.pool.add(denormalize(kept_x, spec.mean, spec.std).clamp(0, 1))
        return {"synth_loss": best_loss}  # the lowest loss seen this round, whichever iterate `keep` stores

    def _student_bn_active(self) -> contextlib.AbstractContextManager:
        return self.student_bn.active() if self.student_bn is not None else contextlib.nullcontext()

    def _invert(
        self, x: Tensor, targets: Tensor, optimizer: torch.optim.Optimizer, low: Tensor, high: Tensor
    ) -> tuple[float, Tensor]:
        """Run the inversion; returns the lowest loss seen and the kept iterate (`keep`), in normalised space."""
        p = self.params
        lowest = p.keep == "lowest_loss"
        best_loss, best_x = float("inf"), x.detach().clone()
        for _ in range(p.g_steps):
            xj = self._jitter(x)
            t_logits = self.teacher(xj)
            s_logits = self.student(xj)
            loss = p.bn * self.teacher_bn.loss() + p.oh * one_hot_ce(t_logits, targets)
            if self.student_bn is not None:
                loss = loss - p.bn_student * self.student_bn.loss()
            if p.adv:
                loss = loss + p.adv * jensen_shannon_adversarial(s_logits, t_logits, T=p.adv_T)
            if p.tv:
                loss = loss + p.tv * total_variation_l1(xj)
            if p.l2:
                loss = loss + p.l2 * l2_prior(xj)
            if loss.item() < best_loss:
                best_loss = loss.item()
                if lowest:
                    best_x = x.detach().clone()
            (x.grad,) = torch.autograd.grad(loss, [x])
            optimizer.step()
            with torch.no_grad():
                x.copy_(torch.maximum(torch.minimum(x, high), low))
        return best_loss, best_x if lowest else x.detach().clone()
