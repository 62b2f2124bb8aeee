"""The epoch's sums over KD steps (the loss, each named loss part, teacher-student agreement), kept on the device so
that a KD step never reads a number back: a `.item()` per step waits for every queued kernel, which on a GPU
empties the queue once a step and rules out CUDA graphs. `means` reads them once, at the end of the epoch.

The sums are float64 tensors added in step order, as the Python floats they replace were: each float32 value
converts to float64 exactly and each addition rounds the same way, so the epoch means recorded in metrics.jsonl
are the same numbers, bit for bit, as when every step called `.item()`."""

from __future__ import annotations

import torch
from torch import Tensor


class KDStepSums:
    def __init__(self) -> None:
        self.steps = 0
        self.parts: tuple[str, ...] = ()
        self.agreement = False
        self._totals: Tensor | None = None  # [loss, *parts, agreement?] in float64

    @torch.no_grad()
    def add(self, loss: Tensor, parts: dict[str, Tensor], student: Tensor, teacher: Tensor | None) -> None:
        """One step's values, queued on the device: its loss, its parts (each already weighted) and, with a
        teacher, the share of images (pixels, on dense logits) where student and teacher agree on the class."""
        values = [loss, *parts.values()]
        if teacher is not None:
            values.append((student.argmax(1) == teacher.argmax(1)).float().mean())
        row = torch.stack([v.detach().double() for v in values])
        if self._totals is None:
            self.parts, self.agreement = tuple(parts), teacher is not None
            self._totals = torch.zeros_like(row)
        elif tuple(parts) != self.parts or (teacher is not None) != self.agreement:
            raise ValueError(f"a KD step's loss parts changed within an epoch: {self.parts} then {tuple(parts)}")
        self._totals += row
        self.steps += 1

    def means(self) -> dict[str, float | None]:
        """`kd_loss`, `kd_loss_<part>` and `agreement` averaged over the steps (one read from the device); the loss
        and the agreement are None in an epoch without KD steps, which has no parts either."""
        if self._totals is None:
            return {"kd_loss": None, "agreement": None}
        totals = self._totals.tolist()
        steps = float(self.steps)
        part_totals = totals[1 : 1 + len(self.parts)]
        parts = {f"kd_loss_{name}": total / steps for name, total in zip(self.parts, part_totals, strict=True)}
        agreement = totals[-1] / steps if self.agreement else None
        return {"kd_loss": totals[0] / steps, **parts, "agreement": agreement}
