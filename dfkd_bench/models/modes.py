"""Train/eval mode switched for a block of code and always put back, even when the block raises."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """The modules in eval mode inside the block, each back in the mode it was in afterwards: evaluation and
    synthesis read a student or teacher that the KD steps train."""
    was_training = [m.training for m in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, training in zip(modules, was_training, strict=True):
            module.train(training)
