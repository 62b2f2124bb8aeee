#!/usr/bin/env bash
# CPU smoke run of data-free segmentation: fast10 and ssdkd on the tiny seg_tiny_bn -> seg_tiny_half_bn pair at the
# cards' `smoke` budget (64 x 64 synthetic images), after training the tiny teacher with `dfkd-bench train`.
#
# THE DATA IS SYNTHETIC, NOT NYUv2: random block label maps (13 classes + a void block) whose pixel colours encode
# the class, written in NYUv2's folder layout (NYUv2/image/<split>, NYUv2/seg13/<split>) so the real loader reads
# them. The numbers only show that the pipeline runs end to end and records mIoU.
#
# Usage: scripts/segmentation_smoke.sh [WORKDIR]   (default: a fresh folder under /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
WORK=${1:-$(mktemp -d /tmp/dfkd-seg-smoke.XXXXXX)}
PAIR=seg_tiny_bn-seg_tiny_half_bn

"$PY" - "$WORK/data" <<'PYEOF'
import sys
from pathlib import Path

import numpy as np
from PIL import Image

root = Path(sys.argv[1]) / "NYUv2"
rng = np.random.default_rng(0)
palette = rng.integers(0, 256, size=(256, 3), dtype=np.uint8)  # one colour per class (and one for void)
for split, n in (("train", 24), ("test", 8)):
    (root / "image" / split).mkdir(parents=True, exist_ok=True)
    (root / "seg13" / split).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        blocks = rng.integers(0, 13, size=(4, 4)).astype(np.uint8)
        blocks[rng.integers(4), rng.integers(4)] = 255
        labels = np.kron(blocks, np.ones((15, 20), dtype=np.uint8))  # 60 x 80
        noise = rng.integers(-20, 21, size=(*labels.shape, 3))
        rgb = np.clip(palette[labels].astype(int) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(rgb).save(root / "image" / split / f"{i:04d}.png")
        Image.fromarray(labels).save(root / "seg13" / split / f"{i:04d}.png")
print(f"synthetic NYUv2-layout data (not NYUv2) in {root}")
PYEOF

start=$(date +%s)
"$PY" -m dfkd_bench train --model seg_tiny_bn --dataset nyuv2 --data-root "$WORK/data" \
    --teachers "$WORK/teachers" --epochs 30 --device cpu
"$PY" -m dfkd_bench run --datasets nyuv2 --pairs "$PAIR" --methods fast10,ssdkd --scales auto --budget smoke \
    --data-root "$WORK/data" --teachers "$WORK/teachers" --out "$WORK/runs" --device cpu
echo "total seconds: $(($(date +%s) - start))"
"$PY" - "$WORK/runs/summary.csv" <<'PYEOF'
import sys

import pandas as pd

frame = pd.read_csv(sys.argv[1])
print(frame[["method", "status", "metric", "best_miou", "last_miou", "data_scale", "teacher_miou", "total_s"]].to_string())
PYEOF
