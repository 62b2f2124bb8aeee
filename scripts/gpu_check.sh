#!/usr/bin/env bash
# The GPU check of the KD fast path (issue 15), one command, under 5 minutes on one GPU: bench of fast2, ssdkd,
# cmi and deepinv on resnet34-resnet18 with CIFAR-shaped random inputs at fp32 and bf16, one real fast2 epoch at
# both precisions with the KD loss curves compared, the DeepLabV3 epoch of the segmentation check, and the GPU
# tests. Random teachers and random images (no data set, no download): accuracies are meaningless, speed and the
# fp32/bf16 agreement are what is measured. Writes one JSON file (default results/gpu-check.json); exit 1 when a
# check fails, 2 without a CUDA device. Details: scripts/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/gpu-check.json}
if ! .venv/bin/python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "error: scripts/gpu_check.sh needs a CUDA GPU (torch.cuda.is_available() is False here)" >&2
  exit 2
fi
exec .venv/bin/python scripts/gpu_check.py --out "$OUT"
