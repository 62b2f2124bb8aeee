"""One cell's short, warm-started measurement: the cell is built exactly as `run` builds it (a TrainLoop: its
teacher, student, method, optimiser and fast path), a warm-up synthesis round fills the pool, then synthesis
rounds, real KD steps, the same network passes run bare, and one evaluation are timed, and the KD step's FLOPs
counted. Nothing is written; the numbers describe this device, now.

Harness overhead is 1 - bare / real: `real` is the engine's own `kd_step` (sampling, augmentation, the method's
loss parts, the optimiser step, after-step hooks, statistics, and the timing regions' CUDA synchronisation at
their edges), `bare` is the teacher forward, student forward and backward of a plain KD loss on one fixed batch,
with the same precision, memory format and compilation, synchronised once per timed block."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from dfkd_bench.bench.flops import count_flops, kd_pass_flops
from dfkd_bench.engine.diagnostics import KDSampleHistograms
from dfkd_bench.engine.evaluate import evaluate_split
from dfkd_bench.engine.fast_path import full_precision
from dfkd_bench.engine.kd_sums import KDStepSums
from dfkd_bench.engine.spec import ResolvedCell, RunOptions
from dfkd_bench.engine.timing import synchronize
from dfkd_bench.engine.train_loop import TrainLoop
from dfkd_bench.errors import BadInput
from dfkd_bench.methods import Method
from dfkd_bench.methods.losses import kd_kl
from dfkd_bench.methods.pool_method import PoolMethod

BLOCKS = 8
"""Timed KD steps are split into this many blocks, real and bare alternating, so that both see the same load."""


@dataclass(frozen=True)
class BenchSettings:
    """How long each measurement runs: untimed warm-up steps first (allocation, cuDNN autotuning, compilation)."""

    kd_steps: int = 48
    warmup_steps: int = 3
    synthesis_rounds: int = 2
    peak_tflops: float | None = None


def _timed(device: torch.device, repeats: int, fn: Callable[[], object]) -> float:
    """Seconds per call of `fn` over `repeats` calls, synchronised only before and after the block."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / repeats


def bare_loss(student_logits: Tensor, teacher_logits: Tensor | None, T: float) -> Tensor:
    """A loss whose backward reaches every student logit: T²·KL with a teacher, else log-sum-exp (teacher-less
    cells train on labels; the backward through the network costs the same)."""
    if teacher_logits is None:
        return student_logits.logsumexp(dim=1).mean()
    return kd_kl(student_logits, teacher_logits, T)


def build_loop(cell: ResolvedCell, opts: RunOptions) -> TrainLoop:
    """The cell's TrainLoop, as `run` builds it. A value its method refuses (ssdkd without a data scale, say), which
    `run` records as a failed cell, is bad input here, naming the cell: a bench records nothing."""
    try:
        return TrainLoop(cell, opts)
    except BadInput:
        raise
    except ValueError as err:
        raise BadInput(f"{cell.label}: {err}") from err


class CellBench:
    """The measurements of one cell, in the order `measure` runs them (synthesis first: it fills the pool)."""

    def __init__(self, cell: ResolvedCell, opts: RunOptions, settings: BenchSettings) -> None:
        self.cell, self.settings = cell, settings
        self.loop = build_loop(cell, opts)
        self.device = self.loop.device

    def synthesis(self) -> dict[str, Any] | None:
        """Seconds per synthesis round after one warm-up round (which also gives pool methods their first
        images); None for methods without synthesis (kd)."""
        method = self.loop.method
        if type(method).synthesize is Method.synthesize:
            return None
        method.synthesize()
        seconds = _timed(self.device, self.settings.synthesis_rounds, method.synthesize)
        images = self.loop.train.synth_batch
        return {
            "rounds": self.settings.synthesis_rounds,
            "seconds_per_round": seconds,
            "images_per_s": images / seconds,
        }

    def _bare_step(self, x: Tensor) -> Callable[[], None]:
        """A bare step: the KD step's network passes on the fixed batch `x`, nothing around them."""
        loop = self.loop

        def step() -> None:
            t_logits = None
            with loop.fast.autocast(self.device):
                if loop.teacher_forward is not None:
                    with torch.no_grad():
                        t_logits = loop.teacher_forward(x)
                s_logits = loop.student_forward(x)
            loss = bare_loss(full_precision(s_logits), full_precision(t_logits), loop.train.T)
            loop.optimizer.zero_grad(set_to_none=True)
            loss.backward()

        return step

    def kd(self, x: Tensor) -> tuple[dict[str, Any], float]:
        """The engine's real KD step (with its sample and kd regions) and the bare step on `x`, each timed in
        BLOCKS alternating blocks after their warm-up steps; the fastest block of each counts (the minimum is
        the time least disturbed by other work on the machine, timeit's rule)."""
        loop, settings = self.loop, self.settings
        loop.student.train()
        sums, histograms = KDStepSums(), KDSampleHistograms(loop.test.spec.num_classes, self.device)
        real, bare = (lambda: loop.kd_step(sums, histograms)), self._bare_step(x)
        for _ in range(settings.warmup_steps):
            real()
            bare()
        size = max(1, settings.kd_steps // BLOCKS)
        best: tuple[float, dict[str, float]] | None = None
        bare_seconds = math.inf
        for _ in range(BLOCKS):
            before = dict(loop.timer.seconds)
            seconds = _timed(self.device, size, real)
            regions = {name: (loop.timer.seconds[name] - before.get(name, 0.0)) / size for name in ("sample", "kd")}
            if best is None or seconds < best[0]:
                best = (seconds, regions)
            bare_seconds = min(bare_seconds, _timed(self.device, size, bare))
        loop.optimizer.zero_grad(set_to_none=True)
        sums.means()  # the epoch-end read the engine does, outside the timed blocks
        seconds, regions = best
        record = {
            "steps": size * BLOCKS,
            "seconds_per_step": seconds,
            "sample_seconds_per_step": regions["sample"],
            "kd_seconds_per_step": regions["kd"],
            "images_per_s": loop.train.batch_size / seconds,
        }
        return record, bare_seconds

    def flops(self, x: Tensor) -> dict[str, int]:
        """FLOPs of one KD step: its network passes on `x` and one `method.sample()`."""
        loop = self.loop
        passes = kd_pass_flops(
            loop.teacher,
            loop.student,
            x,
            lambda s, t: bare_loss(s, t, loop.train.T),
            lambda: loop.fast.autocast(self.device),
        )
        loop.optimizer.zero_grad(set_to_none=True)
        passes["sample"] = count_flops(loop.method.sample)
        passes["kd_step"] = sum(passes.values())
        return passes

    def evaluation(self) -> float:
        """Seconds of one evaluation on the test split (what every epoch ends with)."""
        loop = self.loop
        return _timed(self.device, 1, lambda: evaluate_split(loop.student, loop.test, loop.train.eval_batch_size))

    def measure(self) -> dict[str, Any]:
        loop, cell = self.loop, self.cell
        synthesis = self.synthesis()
        x = self.loop.fast.inputs(self.loop.method.sample().x)
        kd, bare = self.kd(x)
        flops = self.flops(x)
        eval_seconds = self.evaluation()
        step = kd["seconds_per_step"]
        train = loop.train
        synth_epoch = train.rounds_per_epoch * (synthesis["seconds_per_round"] if synthesis else 0.0)
        return {
            "dataset": cell.spec.dataset,
            "pair": cell.spec.pair,
            "method": cell.spec.method,
            "algorithm": cell.config["run"]["algorithm"],
            "pool": isinstance(loop.method, PoolMethod),
            "budget": cell.spec.budget,
            "data_scale": train.data_scale,
            "config_hash": cell.hash,
            "fast_path": loop.fast.record(),
            "batch_size": train.batch_size,
            "synthesis_batch_size": train.synth_batch,
            "synthesis": synthesis,
            "kd": kd,
            "bare_seconds_per_step": bare,
            "harness_overhead": 1.0 - bare / step,
            "overhead_parts": {
                "sample": kd["sample_seconds_per_step"] / step,
                "step": (kd["kd_seconds_per_step"] - bare) / step,
            },
            "flops": flops,
            "achieved_tflops": flops["kd_step"] / step / 1e12,
            "eval_seconds": eval_seconds,
            "epochs": train.epochs,
            "warmup": train.warmup,
            "rounds_per_epoch": train.rounds_per_epoch,
            "kd_steps_per_epoch": train.kd_steps_per_epoch,
            "epoch_seconds": {
                "warmup": synth_epoch + eval_seconds,
                "kd": synth_epoch + train.kd_steps_per_epoch * step + eval_seconds,
            },
        }
