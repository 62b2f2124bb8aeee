"""Host-to-device copies that do not stall the device queue.

Random numbers for augmentation and pool order are drawn on the CPU (so a seed gives the same batches on any
device) and then moved to the batch's device. A plain `.to("cuda")` of a pageable CPU tensor waits for the copy,
and so for every kernel queued before it: a host synchronisation per call, several per KD step. Staging through
pinned memory and copying with `non_blocking=True` queues the copy like a kernel instead. On the CPU nothing moves
and the tensor comes back as it is, so CPU runs are unchanged."""

from __future__ import annotations

import torch


def to_device(values: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`values` (a CPU tensor) on `device`, copied asynchronously when that is a CUDA device."""
    if device.type != "cuda" or values.device == device:
        return values.to(device)
    return values.pin_memory().to(device, non_blocking=True)
