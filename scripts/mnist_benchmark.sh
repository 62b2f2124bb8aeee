#!/usr/bin/env bash
# The CPU reference benchmark on MNIST: every method card at its MNIST budget on the BN pair
# (lenet5_bn -> lenet5_half_bn), and the methods that need no BatchNorm also on lenet5 -> lenet5_half.
# Uses the cards' `quick` MNIST budgets (under a minute per cell; the same cells as the no-argument run on the BN
# pair). Regenerates reports/mnist-methods.md (about 10 minutes on 2 CPU cores). Resumable: rerun to continue.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/mnist-methods}
.venv/bin/dfkd-bench run --datasets mnist --pairs all --methods deepinv,cmi,dafl,zskt,dfq,dfad,fast2,fast5,fast10,kd \
  --budget quick --device cpu --out "$OUT"
.venv/bin/dfkd-bench report "$OUT" --out reports/mnist-methods.md \
  --title "MNIST CPU benchmark: every baseline through one interface" --command "bash scripts/mnist_benchmark.sh"
