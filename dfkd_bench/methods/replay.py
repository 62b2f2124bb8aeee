"""SSD-KD's dynamic replay buffer and the formulas of its sampling (paper Eq. 3, 5, 6), as pure functions."""

from __future__ import annotations

import torch
from torch import Tensor

from dfkd_bench.methods.pool import ImagePool


def modulating_function(
    teacher_probs: Tensor, buffer_classes: Tensor | None, gamma: float, difficulty: bool, diversity: bool
) -> Tensor:
    """φ(x) = (1 − share of B predicted as c_T(x)) · (1 − p_T(x))^γ (Eq. 3); a disabled factor is 1.

    `teacher_probs` are softmax outputs for the batch being synthesised; `buffer_classes` the teacher-predicted
    classes of the samples in B (an empty or absent buffer gives a diversity factor of 1)."""
    confidence, predicted = teacher_probs.max(dim=1)
    phi = torch.ones_like(confidence)
    if difficulty:
        phi = phi * (1 - confidence).pow(gamma)
    if diversity and buffer_classes is not None and len(buffer_classes) > 0:
        counts = torch.bincount(buffer_classes, minlength=teacher_probs.shape[1]).to(phi)
        phi = phi * (1 - counts[predicted] / len(buffer_classes))
    return phi


def sampling_probabilities(priorities: Tensor, alpha: float, eps: float) -> Tensor:
    """P(x) = (|δ(x)| + ε)^α / Σ_B (|δ(x')| + ε)^α (Eq. 6)."""
    scaled = (priorities.abs() + eps).pow(alpha)
    return scaled / scaled.sum()


def importance_weights(probabilities: Tensor, buffer_size: int, beta: float, smallest: Tensor | None = None) -> Tensor:
    """w(x) = (N · P(x))^(−β) with N = |B| (Eq. 5): 1 for every sample when sampling is uniform.

    With `smallest` (the lowest P in B), w is divided by the buffer's largest weight (N · P_min)^(−β), as
    prioritized experience replay [26] does "for stability": every w ≤ 1, so a near-zero priority cannot turn into
    a gradient spike."""
    weights = (buffer_size * probabilities).pow(-beta)
    if smallest is not None:
        weights = weights / (buffer_size * smallest).pow(-beta)
    return weights


class ReplayBuffer(ImagePool):
    """A fixed-capacity FIFO pool whose samples also carry the teacher's class, a priority δ and an IS weight w."""

    def __init__(self, capacity: int, store_uint8: bool = False) -> None:
        super().__init__(capacity=capacity, store_uint8=store_uint8)
        self.classes: Tensor | None = None
        self.priorities: Tensor | None = None
        self.weights: Tensor | None = None

    def add_scored(self, images: Tensor, classes: Tensor, priorities: Tensor) -> None:
        """New samples enter with w_{−1} = 1; the oldest leave so that |B| never exceeds the capacity."""
        fresh = {"classes": classes, "priorities": priorities, "weights": torch.ones_like(priorities)}
        for name, values in fresh.items():
            old = getattr(self, name)
            setattr(self, name, values.detach().clone() if old is None else torch.cat([old, values.detach()]))
        self.add(images)
        keep = len(self)
        for name in fresh:
            setattr(self, name, getattr(self, name)[-keep:])

    def sample_prioritised(
        self, batch_size: int, alpha: float, beta: float, eps: float, max_normalised: bool = False
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Indices drawn with replacement by P (Eq. 6), their images, and their IS weights (Eq. 5; divided by the
        buffer's largest weight when `max_normalised`)."""
        probabilities = sampling_probabilities(self.priorities, alpha, eps)
        index = torch.multinomial(probabilities, batch_size, replacement=True)
        smallest = probabilities.min() if max_normalised else None
        weights = importance_weights(probabilities[index], len(self), beta, smallest)
        return index, self.gather(index), weights

    def update(self, index: Tensor, priorities: Tensor, weights: Tensor) -> None:
        """Write back δ_{i+1} and w_i of the sampled items (Algorithm 1, line 21)."""
        self.priorities[index] = priorities.detach()
        self.weights[index] = weights.detach()

    def state_dict(self) -> dict[str, object]:
        return {**super().state_dict(), "classes": self.classes, "priorities": self.priorities, "weights": self.weights}

    def load_state_dict(self, state: dict[str, object]) -> None:
        super().load_state_dict(state)
        self.classes, self.priorities, self.weights = state["classes"], state["priorities"], state["weights"]
