"""The common shape of pool-based methods (DeepInv, CMI, Fast-N, SSD-KD): BN-statistics inversion into an
in-memory image pool, replayed with CIFAR-style augmentation for KD."""

from __future__ import annotations

from typing import Any

from dfkd_bench.methods.base import Batch, Method, MethodContext
from dfkd_bench.methods.bn_hook import BNStatsRegularizer
from dfkd_bench.methods.pool import ImagePool


class PoolMethod(Method):
    """Owns the teacher's BN-statistics hooks (momentum `bn_mmt` where the params have it), the pool (capacity =
    train.data_scale) and the synthesis round counter; subclasses implement `synthesize()`."""

    required_params = ("store_uint8", "replay_padding")

    def __init__(self, ctx: MethodContext, params: Any) -> None:
        super().__init__(ctx, params)
        self.teacher_bn = BNStatsRegularizer(ctx.teacher, momentum=getattr(params, "bn_mmt", 0.0))
        if len(self.teacher_bn) == 0:
            raise ValueError(f"{type(self).__name__} matches BatchNorm statistics: the teacher has no BatchNorm2d")
        self.pool = ImagePool(capacity=ctx.train.data_scale, store_uint8=params.store_uint8)
        self.round = 0

    @classmethod
    def requires_batchnorm(cls, params: Any) -> bool:
        return True

    @property
    def warmup_rounds(self) -> int:
        return self.ctx.train.warmup * self.ctx.train.rounds_per_epoch

    def sample(self) -> Batch:
        images = self.pool.sample(self.ctx.train.batch_size)
        return Batch(x=self.augment(images, self.params.replay_padding, inplace=True))

    def data_scale(self) -> int:
        return len(self.pool)

    def state_dict(self) -> dict[str, Any]:
        return {"round": self.round, "bn_ema": self.teacher_bn.state_dict(), "pool": self.pool.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.round = int(state["round"])
        self.teacher_bn.load_state_dict(state["bn_ema"])
        self.pool.load_state_dict(state["pool"])
