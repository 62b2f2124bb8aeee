"""The Method interface: a method owns synthesis and what it hands to the KD step; the engine owns the rest."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from dfkd_bench.data import DatasetSpec, ImageSet, SegmentationSet
from dfkd_bench.data.augment import normalize, random_crop_flip
from dfkd_bench.methods.losses import image_mean, kd_kl
from dfkd_bench.registry import Registry
from dfkd_bench.train_config import TrainConfig

METHODS: Registry[type[Method]] = Registry("algorithm")

LossParts = dict[str, Tensor]
"""A loss as named scalar parts whose sum is optimised, e.g. {"kl": ..., "ce": ...}."""


@dataclass
class Batch:
    """One KD mini-batch: normalised inputs, optional labels, per-sample weights and pool indices."""

    x: Tensor
    y: Tensor | None = None
    weight: Tensor | None = None
    index: Tensor | None = None


@dataclass
class MethodContext:
    """Everything a method may use; `real_train_set` is only called by methods that use real data (kd).

    With `segmentation` the models return N x C x H x W logits and real sets are `SegmentationSet`s."""

    teacher: nn.Module | None
    student: nn.Module
    spec: DatasetSpec
    device: torch.device
    train: TrainConfig
    real_train_set: Callable[[], ImageSet | SegmentationSet]
    segmentation: bool = False

    @property
    def image_size(self) -> int:
        """Side of generated images and of real training crops (train.image_size, else the data set's)."""
        return self.train.image_size or self.spec.image_size


class Method(abc.ABC):
    """Base class. Subclasses set `Params` (a dataclass of hyper-parameters) and override the hooks they need."""

    Params: ClassVar[type] = type(None)
    data_free: ClassVar[bool] = True
    uses_teacher: ClassVar[bool] = True
    has_data_scale: ClassVar[bool] = True
    supports_segmentation: ClassVar[bool] = False  # a dense (per-pixel) version exists; cards opt in too
    required_params: ClassVar[tuple[str, ...]] = ()
    """Params fields that shared code (the engine, PoolMethod) reads by name: every subclass's Params must have
    them, checked when a card is resolved (`params_from_dict`), not at the first KD step."""

    def __init__(self, ctx: MethodContext, params: Any) -> None:
        self.ctx = ctx
        self.params = params

    @property
    def teacher(self) -> nn.Module:
        return self.ctx.teacher

    @property
    def student(self) -> nn.Module:
        return self.ctx.student

    @classmethod
    def requires_batchnorm(cls, params: Any) -> bool:
        """Whether these hyper-parameters match teacher BN statistics (the runner skips BN-free teachers)."""
        return False

    @classmethod
    def trains_student(cls, params: Any) -> bool:
        """Whether the model trained is the pair's student (False: its teacher architecture, from scratch)."""
        return True

    def synthesize(self) -> dict[str, float]:
        """One synthesis round; returns scalar statistics for the log."""
        return {}

    @abc.abstractmethod
    def sample(self) -> Batch:
        """The next KD batch."""

    def student_loss(self, student_logits: Tensor, teacher_logits: Tensor | None, batch: Batch) -> LossParts:
        """The student's loss on one batch as named parts, each already weighted (mdistiller's convention): the
        engine back-propagates their sum and logs each part's epoch mean as `kd_loss_<name>`.

        Default: {"kl": T²·KL at the configured T}, weighted per sample if the batch says so."""
        return {"kl": self.kd_kl(student_logits, teacher_logits, batch)}

    def kd_kl(self, student_logits: Tensor, teacher_logits: Tensor | None, batch: Batch) -> Tensor:
        """T²·KL(teacher ‖ student) at the configured T, per-sample weighted if asked (a dense sample's KL is its
        mean over pixels)."""
        per_sample = image_mean(kd_kl(student_logits, teacher_logits, self.ctx.train.T, reduction="none"))
        if batch.weight is not None:
            per_sample = per_sample * batch.weight
        return per_sample.mean()

    def after_kd_step(self, batch: Batch, student_logits: Tensor, teacher_logits: Tensor | None) -> None:
        """Called after each KD step (priority updates in SSD-KD)."""

    def epoch_statistics(self) -> dict[str, float]:
        """Scalars about the epoch just run, added to its metrics line (SSD-KD: its IS weights); then reset."""
        return {}

    def data_scale(self) -> int:
        """Distinct images held for KD (pool methods) or fresh samples consumed (generator methods)."""
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""

    def augment(self, images01: Tensor, padding: int, inplace: bool = False) -> Tensor:
        """CIFAR-style augmentation (random crop with zero padding, flip where labels allow) and normalisation.

        Differentiable, so synthesis can back-propagate through it; pool methods also apply it on replay, where
        `images01` is a fresh copy from the pool that needs no gradient and `inplace` normalises it in its own memory
        (the same values, less memory traffic in the hot loop)."""
        spec = self.ctx.spec
        x = random_crop_flip(images01, padding=padding, flip=spec.hflip)
        return normalize(x, spec.mean, spec.std, inplace=inplace)


def params_from_dict(cls: type[Method], values: dict[str, Any]) -> Any:
    """Build a method's Params dataclass; unknown keys are errors naming the valid ones."""
    from dfkd_bench.errors import BadInput

    fields = {f.name for f in dataclasses.fields(cls.Params)}
    lacking = sorted(set(cls.required_params) - fields)
    if lacking:
        raise BadInput(
            f"{cls.__name__}.Params lacks {', '.join(lacking)}, which the code it builds on reads; add the field(s)"
        )
    extra = sorted(set(values) - fields)
    if extra:
        raise BadInput(
            f"unknown parameter(s) {', '.join(extra)} for {cls.__name__}; valid: {', '.join(sorted(fields))}"
        )
    return cls.Params(**values)
