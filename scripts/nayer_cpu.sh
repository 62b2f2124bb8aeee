#!/usr/bin/env bash
# NAYER and its label-embedding variants beside fast2, fast10 and SSD-KD on MNIST and Fashion-MNIST (BN pair,
# 3 seeds) at each card's CPU budget (its mnist block; no --budget), then the report. Two local workers.
# Resumable: rerun to continue. About 55 min on 2 CPU cores. nayer_minilm is left out: on these data sets it is
# the nayer card itself (MiniLM is nayer's text prior there).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/nayer-cpu}
.venv/bin/dfkd-bench run --methods fast2,fast10,ssdkd,nayer,nayer_onehot,nayer_random \
  --datasets mnist,fashion_mnist --pairs lenet5_bn-lenet5_half_bn --seeds 0,1,2 --out "$OUT" --workers 2
.venv/bin/dfkd-bench report "$OUT" --out reports/nayer-cpu --format md,html,tex,csv
