"""The GPU check of the KD fast path (issue 15): one command, under 5 minutes on one GPU, one JSON file of results.

No data set or teacher is needed. CIFAR-shaped random images are written in torchvision's `cifar-10-batches-py`
layout (they are NOT CIFAR-10) and randomly initialised teachers (ResNet-34 here, DeepLabV3-ResNet50 in the
segmentation step) are saved into a temporary teacher store, so every step goes through the real engine. Accuracy
and mIoU on a random teacher mean nothing; what is measured is speed, and what is compared is fp32 against bf16.

1. `bench` of fast2, ssdkd, cmi and deepinv on resnet34-resnet18 at fp32 and at bf16 (cmi and deepinv synthesise
   SYNTH_STEPS steps per round here instead of the cards' 200 and 1000; their card-round time is extrapolated);
2. the BN-statistics loss of synthesis and its pixel gradient in fp32 against bf16 on the ResNet-34 teacher (why
   the fast path leaves synthesis in fp32);
3. one real epoch of fast2 (one synthesis round, 400 KD steps of 256) at fp32 and at bf16, every step's KD loss
   recorded on the device and the curves compared (first step, means over windows of 50 steps), with a third
   fp32 epoch whose initial weights were rounded to bf16 as the yardstick of bf16 noise;
4. the DeepLabV3 epoch of scripts/gpu_segmentation_check.py (left out by --smoke);
5. the GPU tests (`pytest -m gpu tests/test_kd_fast_path.py`: no implicit synchronisation in KD steps, bf16 on CUDA).

    bash scripts/gpu_check.sh                    # -> results/gpu-check.json; exit 1 when a check fails
    python scripts/gpu_check.py --device cpu --smoke --out /tmp/smoke.json   # the plumbing only, on a CPU
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dfkd_bench.bench.measure import BenchSettings
from dfkd_bench.bench.precision import bn_matching_precision
from dfkd_bench.bench.suite import run_bench
from dfkd_bench.config import get_card, resolve
from dfkd_bench.data import get_spec
from dfkd_bench.engine.run import resolve_cell
from dfkd_bench.engine.spec import RunOptions, RunSpec
from dfkd_bench.engine.timing import synchronize
from dfkd_bench.engine.train_loop import TrainLoop
from dfkd_bench.envinfo import device_name, resolve_device
from dfkd_bench.files import atomic_write_json, utc_now
from dfkd_bench.grid import GridRequest
from dfkd_bench.models import create_model
from dfkd_bench.teachers import TeacherStore

ROOT = Path(__file__).resolve().parents[1]
PAIR = "resnet34-resnet18"
DATASET = "cifar10"
METHODS = ("fast2", "ssdkd", "cmi", "deepinv")
PRECISIONS = ("fp32", "bf16")
FIRST_STEP_TOLERANCE = 0.01  # relative: the same weights on (nearly) the same batch, bf16's rounding only
WINDOW_TOLERANCE = 0.05  # relative, per window mean; or at most REFERENCE_FACTOR times the reference's drift
REFERENCE_FACTOR = 2.0
SUBPROCESS_TIMEOUT_S = 150


class Budget:
    """The check's sizes; `smoke` shrinks them so that the script's plumbing can be tried on a CPU (numbers
    meaningless there)."""

    def __init__(self, smoke: bool) -> None:
        self.bench = BenchSettings(kd_steps=4, warmup_steps=1, synthesis_rounds=1) if smoke else BenchSettings()
        self.synth_steps = 2 if smoke else 50  # cmi and deepinv steps per round in the bench (cards: 200, 1000)
        self.test_images = 64 if smoke else 10000
        self.bn_batch = 16 if smoke else 256
        small = {"train.batch_size": 16, "train.synthesis_batch_size": 16, "train.eval_batch_size": 64}
        self.overrides = small if smoke else {}
        self.window = 5 if smoke else 50  # KD steps per window when the fp32 and bf16 loss curves are compared
        self.epoch = {"train.ep_steps": 2 * self.window, "train.kd_steps": 2 * self.window} if smoke else {}
        self.segmentation = not smoke  # DeepLabV3-ResNet50 on a CPU takes minutes


def write_random_cifar10(root: Path, test: int, train_per_file: int = 256) -> None:
    """Random uint8 images and labels in torchvision's CIFAR-10 pickle layout (protocol 4: plain numpy arrays)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    files = {f"data_batch_{i}": train_per_file for i in range(1, 6)} | {"test_batch": test}
    for name, n in files.items():
        entry = {"data": rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8), "labels": rng.integers(0, 10, n)}
        entry["labels"] = entry["labels"].tolist()
        (folder / name).write_bytes(pickle.dumps(entry, protocol=4))


def random_teacher_store(root: Path) -> TeacherStore:
    spec = get_spec(DATASET)
    teacher = PAIR.split("-")[0]
    torch.manual_seed(0)
    store = TeacherStore(root)
    model = create_model(teacher, spec.num_classes, spec.in_channels)
    store.save(DATASET, teacher, model, {"source": "random init (gpu_check: timing and fp32/bf16 agreement only)"})
    return store


def bench_step(opts: RunOptions, budget: Budget) -> dict[str, Any]:
    """Every method at both precisions; long synthesis rounds capped at `budget.synth_steps` steps, and their time
    at the card's steps extrapolated linearly (every step of a round does the same work)."""
    cells, peaks = [], {}
    for method in METHODS:
        card_steps = resolve(get_card(method), DATASET, PAIR)["method"]["g_steps"]
        capped = {"method.g_steps": budget.synth_steps} if card_steps > budget.synth_steps else {}
        for precision in PRECISIONS:
            overrides = {**budget.overrides, "train.precision": precision, **capped}
            request = GridRequest([method], [PAIR], [DATASET], [], [0], overrides, None)
            result = run_bench(request, opts, budget.bench)
            peaks.update(result["peaks"])
            for cell in result["cells"]:
                if capped and cell["synthesis"]:
                    synthesis = cell["synthesis"]
                    synthesis["g_steps_measured"] = budget.synth_steps
                    synthesis["seconds_per_card_round"] = (
                        synthesis["seconds_per_round"] * card_steps / budget.synth_steps
                    )
                cells.append(cell)
    return {"device": device_name(resolve_device(opts.device)), "peaks": peaks, "cells": cells}


def bn_precision_step(opts: RunOptions, budget: Budget) -> dict[str, Any]:
    """The synthesis objective in fp32 and bf16 on the random ResNet-34 teacher and a random-normal batch."""
    spec = get_spec(DATASET)
    teacher, _ = TeacherStore(opts.teachers).load(DATASET, PAIR.split("-")[0], spec.num_classes, spec.in_channels)
    torch.manual_seed(0)
    x = torch.randn(budget.bn_batch, spec.in_channels, spec.image_size, spec.image_size, device=opts.device)
    return bn_matching_precision(teacher.to(opts.device), x)


def kd_epoch(opts: RunOptions, budget: Budget, precision: str, rounded_start: bool = False) -> dict[str, Any]:
    """One real fast2 epoch through the engine, every KD step's loss kept on the device and read at the end.
    `rounded_start` rounds the student's initial weights to bf16 once, then trains in `precision`: the size of a
    bf16 perturbation alone, which SGD's chaotic dynamics then amplify over the epoch."""
    overrides = {**budget.overrides, **budget.epoch, "train.epochs": 1, "train.warmup": 0, "train.precision": precision}
    loop = TrainLoop(resolve_cell(RunSpec(DATASET, PAIR, "fast2", 0, tuple(sorted(overrides.items()))), opts), opts)
    if rounded_start:
        with torch.no_grad():
            for weight in loop.student.parameters():
                weight.copy_(weight.to(torch.bfloat16).float())
    losses: list[torch.Tensor] = []
    student_loss = loop.method.student_loss

    def recording(student_logits, teacher_logits, batch):
        parts = student_loss(student_logits, teacher_logits, batch)
        losses.append(sum(parts.values()).detach())
        return parts

    loop.method.student_loss = recording
    synchronize(loop.device)
    start = time.perf_counter()
    record = loop.run_epoch()
    synchronize(loop.device)
    return {
        "precision": precision,
        "fast_path": loop.fast.record(),
        "seconds": time.perf_counter() - start,
        "regions": dict(loop.timer.seconds),
        "kd_steps": record["kd_steps"],
        "kd_loss": record["kd_loss"],
        "top1_random_teacher": record["top1"],
        "curve": torch.stack(losses).tolist(),
    }


def window_drift(exact: list[float], other: list[float], window: int) -> np.ndarray:
    """|other - exact| / |exact| of the loss means over consecutive windows of `window` steps."""
    a, b = np.asarray(exact), np.asarray(other)
    windows = len(a) // window
    mean_a = a[: windows * window].reshape(windows, window).mean(axis=1)
    mean_b = b[: windows * window].reshape(windows, window).mean(axis=1)
    return np.abs(mean_b - mean_a) / np.abs(mean_a)


def compare_curves(exact: list[float], bf16: list[float], reference: list[float], window: int) -> dict[str, Any]:
    """The bf16 curve against fp32's: the first step (same weights, nearly the same batch: bf16's rounding only),
    then window means. Their drift passes at WINDOW_TOLERANCE, or within REFERENCE_FACTOR times the drift of the
    fp32 run whose initial weights were rounded to bf16 (a random teacher's KD can be chaotic enough for any
    perturbation to grow; bf16 autocast must not move the curve more than bf16 noise does)."""
    drift, reference_drift = window_drift(exact, bf16, window), window_drift(exact, reference, window)
    first = abs(bf16[0] - exact[0]) / abs(exact[0])
    allowed = max(WINDOW_TOLERANCE, REFERENCE_FACTOR * float(reference_drift.max()))
    return {
        "first_step_relative": first,
        "window": window,
        "window_relative": drift.tolist(),
        "max_window_relative": float(drift.max()),
        "reference_window_relative": reference_drift.tolist(),
        "epoch_mean_relative": float(abs(np.mean(bf16) - np.mean(exact)) / abs(np.mean(exact))),
        "tolerances": {"first_step": FIRST_STEP_TOLERANCE, "window": allowed},
        "passed": bool(first <= FIRST_STEP_TOLERANCE and drift.max() <= allowed),
    }


def epochs_step(opts: RunOptions, budget: Budget) -> dict[str, Any]:
    runs = {precision: kd_epoch(opts, budget, precision) for precision in PRECISIONS}
    runs["fp32_bf16_rounded_start"] = kd_epoch(opts, budget, "fp32", rounded_start=True)
    curves = [runs[name]["curve"] for name in ("fp32", "bf16", "fp32_bf16_rounded_start")]
    return {**runs, "comparison": compare_curves(*curves, budget.window)}


def subprocess_step(command: list[str], json_out: Path | None = None) -> dict[str, Any]:
    """Run a command with a timeout; its exit code, the tail of its output and, if it wrote one, its JSON."""
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    outcome = {
        "command": " ".join(command),
        "returncode": done.returncode,
        "output_tail": (done.stdout + done.stderr)[-3000:],
    }
    if json_out is not None and json_out.exists():
        outcome["result"] = json.loads(json_out.read_text())
    outcome["passed"] = done.returncode == 0
    return outcome


def timed(results: dict[str, Any], name: str, step) -> None:
    """Run one step, recording its result (or its error) and its wall time; a failing step does not stop the rest."""
    start = time.perf_counter()
    try:
        results[name] = step()
    except Exception as err:  # recorded in the JSON: the check goes on with the other steps
        results[name] = {"passed": False, "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
    results[name]["wall_seconds"] = time.perf_counter() - start
    print(f"{name}: {results[name]['wall_seconds']:.1f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "gpu-check.json")
    parser.add_argument("--device", default="cuda", help="cuda (the check); cpu only with --smoke")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: try the plumbing, numbers meaningless")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: the GPU check needs a CUDA device (torch.cuda.is_available() is False)", file=sys.stderr)
        return 2
    budget = Budget(args.smoke)
    device = device_name(resolve_device(args.device))
    results: dict[str, Any] = {"started": utc_now(), "torch": torch.__version__, "device": device, "smoke": args.smoke}
    with tempfile.TemporaryDirectory(prefix="dfkd-gpu-check-") as tmp:
        work = Path(tmp)
        write_random_cifar10(work / "data", budget.test_images)
        random_teacher_store(work / "teachers")
        opts = RunOptions(
            out=work / "runs", data_root=str(work / "data"), teachers=work / "teachers", device=args.device
        )
        timed(results, "bench", lambda: bench_step(opts, budget))
        timed(results, "bn_matching_precision", lambda: bn_precision_step(opts, budget))
        timed(results, "fast2_epoch", lambda: epochs_step(opts, budget))
        seg_json = work / "segmentation.json"
        seg = [sys.executable, "scripts/gpu_segmentation_check.py", "--device", args.device, "--json", str(seg_json)]
        if budget.segmentation:
            timed(results, "segmentation_epoch", lambda: subprocess_step(seg, seg_json))
        tests = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "gpu",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_kd_fast_path.py",
        ]
        timed(results, "gpu_tests", lambda: subprocess_step(tests))
    passed = {
        "bench": "error" not in results["bench"],
        "fast2_epoch_curves_agree": results["fast2_epoch"].get("comparison", {}).get("passed", False),
        "segmentation_epoch": results.get("segmentation_epoch", {"passed": args.smoke})["passed"],
        "gpu_tests": results["gpu_tests"]["passed"],
    }
    results["passed"] = passed
    results["finished"] = utc_now()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, results)
    print(f"wrote {args.out}; checks: {passed}")
    return 0 if all(passed.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
