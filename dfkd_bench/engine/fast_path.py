"""The KD step's fast path: bf16 autocast, channels_last, cuDNN autotuning and torch.compile, resolved once per run
from `train.precision`, `train.channels_last`, `train.compile` and the device.

Only the KD step uses it, the hot loop of every method (96-97.5 % of Fast2's compute on the CIFAR pairs): the
teacher forward and the student forward run under autocast, the losses are computed in fp32 on fp32 logits, and
backward runs outside autocast (bf16 has fp32's range, so no loss scaling). Synthesis stays fp32: matching batch
moments to the teacher's BN running statistics is a difference of nearby numbers that bf16's 8-bit mantissa blurs
(scripts/gpu_check.py measures how much on ResNet-34).

Auto (every key None, the default): on CUDA channels_last and cudnn.benchmark in fp32 (bf16 is opt-in until a
GPU check has shown it within bf16 noise of fp32); on the CPU none of it, so CPU runs are unchanged bit for bit.
torch.compile is opt-in everywhere (minutes of compilation per cell). A run keeps the fast path it started with:
the checkpoint records it, and a resume restores it even when the defaults have changed since."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from dfkd_bench.train_config import TrainConfig


@dataclass(frozen=True)
class FastPath:
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    cudnn_benchmark: bool = False

    @classmethod
    def resolve(cls, train: TrainConfig, device: torch.device) -> FastPath:
        """The run's settings: the config's explicit values, auto for the None ones."""
        cuda = device.type == "cuda"
        # bf16 is opt-in (`--set train.precision=bf16`) until scripts/gpu_check.sh has shown on a GPU that it stays
        # within bf16 noise of fp32: an auto bf16 would share its config hash with fp32 runs recorded before.
        precision = train.precision or "fp32"
        channels_last = cuda if train.channels_last is None else bool(train.channels_last)
        return cls(precision, channels_last, bool(train.compile), cuda and (precision == "bf16" or channels_last))

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> FastPath:
        """The fast path a checkpoint recorded; a checkpoint from before the fast path ran plain fp32."""
        return cls(**record) if record else cls()

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        """bf16 autocast for the KD forwards; fp32 enters no autocast context at all."""
        if self.precision == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, *models: nn.Module | None) -> None:
        """Put the models' weights in the memory format this path uses (in place, so optimisers and methods keep
        their references) and set cuDNN's autotuner."""
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        for model in models:
            if model is not None:
                model.to(memory_format=memory_format)
        if self.cudnn_benchmark:
            torch.backends.cudnn.benchmark = True

    def inputs(self, x: Tensor) -> Tensor:
        """A KD batch in the models' memory format (image batches only)."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x

    def forward(self, model: nn.Module) -> Callable[..., Tensor]:
        """What the KD step calls for `model`'s forward: the module itself, or its compiled version (which shares its
        parameters, so checkpoints and the synthesis, which calls the module, see the same weights)."""
        return torch.compile(model) if self.compile else model


def full_precision(logits: Tensor | None) -> Tensor | None:
    """Logits as fp32 for the losses (a no-op on fp32 logits: the same tensor comes back)."""
    return None if logits is None else logits.float()
