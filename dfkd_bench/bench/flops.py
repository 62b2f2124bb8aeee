"""FLOPs of the KD step's network passes, counted by torch's FlopCounterMode (matrix products and convolutions,
forward and backward, as dispatched; element-wise work, normalisation and the optimiser are not counted).

The passes are counted apart because they cost apart: a KD step is one teacher forward (no gradient), one
student forward and one student backward (about twice the forward: gradients for weights and activations, but
none for the input batch), plus whatever `method.sample()` computes (a generator forward for DAFL-like methods)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

Loss = Callable[[Tensor, Tensor | None], Tensor]


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs dispatched while `fn` runs."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def kd_pass_flops(
    teacher: nn.Module | None,
    student: nn.Module,
    x: Tensor,
    loss: Loss,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> dict[str, int]:
    """FLOPs of one KD step's passes on batch `x`: teacher forward, student forward, student backward (of `loss`
    on the fp32 logits). The student's gradients are left as the backward made them; callers zero them."""
    outputs: dict[str, Tensor | None] = {"teacher": None}

    def teacher_forward() -> None:
        with torch.no_grad(), autocast():
            outputs["teacher"] = teacher(x)

    def student_forward() -> None:
        with autocast():
            outputs["student"] = student(x)

    flops = {"teacher_forward": count_flops(teacher_forward) if teacher is not None else 0}
    flops["student_forward"] = count_flops(student_forward)
    t_logits = outputs["teacher"].float() if outputs["teacher"] is not None else None
    value = loss(outputs["student"].float(), t_logits)
    flops["student_backward"] = count_flops(value.backward)
    return flops
