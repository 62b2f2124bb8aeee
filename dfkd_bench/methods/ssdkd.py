"""SSD-KD (Liu et al., CVPR 2024), re-implemented from the paper (no official code exists).

Data inversion with distribution balancing (φ(x) weights the task loss, Eq. 2-3) on Fast's meta-generator, and
distillation with priority sampling from a fixed-size replay buffer (Eq. 4-6, Algorithm 1). Every choice the
paper leaves open is a named parameter, listed in methods/ssdkd.yaml.

On dense (segmentation) logits every per-sample quantity is per image: φ from the pixel-averaged teacher softmax
(`image_statistics`), δ from the pixel-averaged KL (the paper does not say; methods/ssdkd.yaml's nyuv2 block does).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from dfkd_bench.data.augment import normalize
from dfkd_bench.methods.base import METHODS, Batch, MethodContext
from dfkd_bench.methods.fast import Fast, FastParams
from dfkd_bench.methods.losses import image_mean, kd_kl, mean_probs
from dfkd_bench.methods.replay import ReplayBuffer, modulating_function
from dfkd_bench.models.modes import eval_mode

IS_WEIGHTS = ("eq5", "max", "batch_max")


@dataclass
class SSDKDParams(FastParams):
    gamma: float = 2.0
    alpha: float = 0.6
    beta: float = 0.4
    eps: float = 1e-6
    priority_sampling: bool = True
    difficulty: bool = True
    diversity: bool = True
    # eq5: (N·P)^-β as written; max: divided by the buffer's largest weight; batch_max: by the mini-batch's (PER [26])
    is_weights: str = "eq5"
    beta_anneal: bool = False  # β rises linearly from `beta` to 1 over the KD steps (PER [26]); False: fixed

    def __post_init__(self) -> None:
        if self.is_weights not in IS_WEIGHTS:
            raise ValueError(f"method.is_weights must be one of {', '.join(IS_WEIGHTS)}, got '{self.is_weights}'")


def image_statistics(teacher_logits: Tensor) -> Tensor:
    """The teacher's class distribution per sample (N x C) that φ and the buffer's class histogram read:
    its softmax, averaged over pixels on dense logits (so c_T = the dominant class, p_T = its pixel-mean share)."""
    return mean_probs(teacher_logits)


def priority(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """KL(f_t ‖ f_s) at T = 1 per sample (Eq. 4 without w): the mean over pixels of the per-pixel KL when dense."""
    return image_mean(kd_kl(student_logits, teacher_logits, T=1.0, reduction="none"))


@METHODS.register("ssdkd")
class SSDKD(Fast):
    """Fast's synthesis with φ-weighted task loss; KD batches drawn from B by priority with IS weights."""

    Params = SSDKDParams

    def __init__(self, ctx: MethodContext, params: SSDKDParams) -> None:
        super().__init__(ctx, params)
        if ctx.train.data_scale is None:
            raise ValueError("ssdkd needs train.data_scale: the replay buffer size |B| (e.g. --scales 5000)")
        self.pool = ReplayBuffer(capacity=ctx.train.data_scale, store_uint8=params.store_uint8)
        train = ctx.train
        self.total_kd_steps = max(1, (train.epochs - train.warmup) * train.kd_steps_per_epoch)
        self.kd_steps_done = 0
        self._weights_seen: list[Tensor] = []

    @property
    def beta(self) -> float:
        """β for the next KD step: fixed, or annealed linearly to 1 by the last KD step (beta_anneal)."""
        p = self.params
        if not p.beta_anneal:
            return p.beta
        return p.beta + (1.0 - p.beta) * min(1.0, self.kd_steps_done / self.total_kd_steps)

    def task_weights(self, teacher_logits: Tensor) -> Tensor | None:
        p = self.params
        if not (p.difficulty or p.diversity):
            return None
        probs = image_statistics(teacher_logits)
        return modulating_function(probs, self.pool.classes, p.gamma, p.difficulty, p.diversity)

    @torch.no_grad()
    def keep(self, images01: Tensor) -> None:
        """New samples enter B with δ_0 = KL(f_t ‖ f_s) on the un-augmented images (w_{−1} = 1)."""
        spec = self.ctx.spec
        x = normalize(images01, spec.mean, spec.std)
        with eval_mode(self.student):
            t_logits, s_logits = self.teacher(x), self.student(x)
        classes = image_statistics(t_logits).argmax(dim=1)
        self.pool.add_scored(images01, classes, priority(s_logits, t_logits))

    def sample(self) -> Batch:
        p, n = self.params, self.ctx.train.batch_size
        if not p.priority_sampling:
            return super().sample()
        index, images, weights = self.pool.sample_prioritised(n, p.alpha, self.beta, p.eps, p.is_weights == "max")
        if p.is_weights == "batch_max":
            weights = weights / weights.max()
        self._weights_seen.append(weights)
        return Batch(x=self.augment(images, p.replay_padding, inplace=True), weight=weights, index=index)

    def epoch_statistics(self) -> dict[str, float]:
        """The IS weights the epoch's KD batches carried (a large maximum is a gradient spike) and the β used."""
        if not self._weights_seen:
            return {}
        weights = torch.cat(self._weights_seen)
        self._weights_seen = []
        return {"is_weight_max": weights.max().item(), "is_weight_mean": weights.mean().item(), "beta": self.beta}

    def after_kd_step(self, batch: Batch, student_logits: Tensor, teacher_logits: Tensor) -> None:
        """δ_{i+1}(x) = w_i(x) · KL(f_t(x) ‖ f_s(x)) for the sampled items, with this step's (pre-update) outputs."""
        self.kd_steps_done += 1
        if batch.index is None:
            return
        self.pool.update(batch.index, batch.weight * priority(student_logits, teacher_logits), batch.weight)

    def state_dict(self) -> dict[str, object]:
        return {**super().state_dict(), "kd_steps_done": self.kd_steps_done}

    def load_state_dict(self, state: dict[str, object]) -> None:
        super().load_state_dict(state)
        self.kd_steps_done = int(state.get("kd_steps_done", 0))
