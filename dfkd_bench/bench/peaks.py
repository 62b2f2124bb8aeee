"""The device's peak FLOP/s that utilisation is measured against: a small table of data-sheet peaks for common GPUs,
a measured matrix-multiply peak where the table has nothing (every CPU, unknown GPUs), or the user's number.

Data-sheet peaks are dense tensor-core numbers (no structured sparsity). fp32 convolutions on Ampere and later run
on TF32 tensor cores unless `torch.backends.cudnn.allow_tf32` is switched off (PyTorch's default leaves it on), so
fp32 is compared with the TF32 peak there. A measured peak is the best of repeated square matmuls on this device
with the threads this process has: what the hardware gives this process, noisy on a shared machine."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from dfkd_bench.engine.timing import synchronize

# TFLOP/s by name fragment, most specific first ("A100" before "A10", "L40S" before "L4"); None: not native.
GPU_PEAKS: tuple[tuple[str, dict[str, float | None]], ...] = (
    ("H200", {"bf16": 989.0, "tf32": 494.7, "fp32": 66.9}),
    ("H100 NVL", {"bf16": 835.0, "tf32": 417.5, "fp32": 60.0}),
    ("H100 PCIe", {"bf16": 756.0, "tf32": 378.0, "fp32": 51.2}),
    ("H100", {"bf16": 989.0, "tf32": 494.7, "fp32": 66.9}),
    ("A100", {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5}),
    ("L40S", {"bf16": 362.0, "tf32": 183.0, "fp32": 91.6}),
    ("L40", {"bf16": 181.0, "tf32": 90.5, "fp32": 90.5}),
    ("L4", {"bf16": 121.0, "tf32": 60.0, "fp32": 30.3}),
    ("A10", {"bf16": 125.0, "tf32": 62.5, "fp32": 31.2}),
    ("RTX 4090", {"bf16": 165.2, "tf32": 82.6, "fp32": 82.6}),
    ("RTX 3090", {"bf16": 71.0, "tf32": 35.6, "fp32": 35.6}),
    ("RTX A6000", {"bf16": 154.8, "tf32": 77.4, "fp32": 38.7}),
    ("V100", {"bf16": None, "tf32": None, "fp32": 15.7}),
    ("T4", {"bf16": None, "tf32": None, "fp32": 8.1}),
)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Peak:
    tflops: float
    source: str

    def record(self) -> dict[str, object]:
        return asdict(self)


def table_peak(name: str, precision: str, tf32: bool) -> Peak | None:
    """The data-sheet peak of the GPU called `name` at `precision` (TF32's for fp32 when `tf32`), if listed."""
    for fragment, peaks in GPU_PEAKS:
        if fragment in name:
            column = "tf32" if precision == "fp32" and tf32 and peaks["tf32"] is not None else precision
            value = peaks[column]
            return None if value is None else Peak(value, f"data sheet: {fragment}, dense {column}")
    return None


def measured_matmul_peak(device: torch.device, precision: str, seconds: float = 1.0) -> Peak:
    """The best rate of square matmuls at `precision` over about `seconds` (one warm-up product first)."""
    n = 8192 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=DTYPES[precision])
    b = torch.randn(n, n, device=device, dtype=DTYPES[precision])
    torch.mm(a, b)
    best, spent = 0.0, 0.0
    while spent < seconds or best == 0.0:
        synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        elapsed = time.perf_counter() - start
        spent += elapsed
        best = max(best, 2 * n**3 / elapsed / 1e12)
    threads = "" if device.type == "cuda" else f", {torch.get_num_threads()} threads"
    return Peak(best, f"measured: best {n}x{n} {precision} matmul{threads}")


def device_peak(device: torch.device, precision: str, override: float | None = None) -> Peak:
    """The peak for this device and precision: `override` (--peak-tflops), the table, else a measured one."""
    if override is not None:
        return Peak(override, "given (--peak-tflops)")
    if device.type == "cuda":
        listed = table_peak(torch.cuda.get_device_name(device), precision, torch.backends.cudnn.allow_tf32)
        if listed is not None:
            return listed
    return measured_matmul_peak(device, precision)
