"""Time one epoch of SSD-KD on the real Table 3 pair (DeepLabV3-ResNet50 -> DeepLabV3-MobileNetV2), no data needed.

The teacher is randomly initialised and saved into a temporary teacher store; the "data set" is random PNGs written
in NYUv2's folder layout (NOT NYUv2), so the run goes through the real engine (run_one): synthesis at 128 x 128,
priority-sampled KD steps, mIoU evaluation. Prints seconds per epoch (wall clock with torch.cuda.synchronize) and
the engine's region times. Only the timing is meaningful, never the mIoU.

    python scripts/gpu_segmentation_check.py                               # GPU: the card's 250 KD steps of 64
    python scripts/gpu_segmentation_check.py --device cpu --steps 2 --batch 2 --test-images 2   # CPU: does it run
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dfkd_bench.data import get_spec
from dfkd_bench.engine.run import run_one
from dfkd_bench.engine.spec import RunOptions, RunSpec
from dfkd_bench.models import create_model
from dfkd_bench.pairs import SEG_PAIR, split_pair
from dfkd_bench.teachers import TeacherStore


def write_random_nyuv2(root: Path, train: int, test: int, size: tuple[int, int] = (480, 640)) -> None:
    """Random RGB images and random 13-class masks in the reference layout (a stand-in, not NYUv2)."""
    rng = np.random.default_rng(0)
    for split, n in (("train", train), ("test", test)):
        for kind in ("image", "seg13"):
            (root / "NYUv2" / kind / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            rgb = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
            mask = rng.integers(0, 13, size=size, dtype=np.uint8)
            Image.fromarray(rgb).save(root / "NYUv2" / "image" / split / f"{i:04d}.png")
            Image.fromarray(mask).save(root / "NYUv2" / "seg13" / split / f"{i:04d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=None, help="KD steps in the epoch (default: the card's 250)")
    parser.add_argument("--batch", type=int, default=None, help="KD and synthesis batch (default: the card's 64)")
    parser.add_argument("--scale", type=int, default=16000, help="SSD-KD replay buffer |B|")
    parser.add_argument("--test-images", type=int, default=16, help="random test images evaluated (NYUv2: 654)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args()

    teacher_name, _ = split_pair(SEG_PAIR, "nyuv2")
    spec = get_spec("nyuv2")
    overrides: dict[str, object] = {"train.epochs": 1, "train.warmup": 0, "train.data_scale": args.scale}
    if args.steps:
        overrides.update({"train.ep_steps": args.steps, "train.kd_steps": args.steps})
    if args.batch:
        overrides.update({"train.batch_size": args.batch, "train.synthesis_batch_size": args.batch})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_random_nyuv2(work / "data", train=2, test=args.test_images)
        torch.manual_seed(0)
        teacher = create_model(teacher_name, spec.num_classes, spec.in_channels)
        TeacherStore(work / "teachers").save("nyuv2", teacher_name, teacher, {"source": "random init (timing only)"})
        opts = RunOptions(out=work / "runs", teachers=work / "teachers", device=args.device, data_root=work / "data")
        cell = RunSpec("nyuv2", SEG_PAIR, "ssdkd", 0, tuple(sorted(overrides.items())))
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = run_one(cell, opts)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    print(f"device: {result['device']}")
    print(f"seconds per epoch (run_one wall clock, model building included): {seconds:.1f}")
    print(f"engine regions (s): {result['times']}")
    print(f"status {result['status']}, data scale {result['data_scale']}, mIoU {result['last_miou']:.4f} (random)")
    if args.json is not None:
        keys = ("device", "status", "times", "data_scale", "fast_path")
        args.json.write_text(json.dumps({"seconds_per_epoch": seconds, **{k: result.get(k) for k in keys}}, indent=1))


if __name__ == "__main__":
    main()
