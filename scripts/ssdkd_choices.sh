#!/usr/bin/env bash
# The measurements behind SSD-KD's open choices (methods/ssdkd.yaml, item "is_weights" and "beta_anneal"): each
# variant at 10 % (6,000) in the MNIST CPU proxy, one folder per variant under results/proxy-choices/ (a variant is
# the same cell with another config). The default (is_weights batch_max) is results/proxy's ssdkd cells. The
# warm-up and beta variants were measured against Eq. 5 weights, the default when they were run, and so keep them.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-0,1}
run() {
  local name=$1
  shift
  local sets=()
  for assignment in "$@"; do sets+=(--set "$assignment"); done
  .venv/bin/dfkd-bench run --methods ssdkd --datasets mnist --pairs lenet5_bn-lenet5_half_bn --scales 10% \
    --budget proxy --seeds "$SEEDS" --device cpu --launcher local --workers 2 "${sets[@]}" \
    --out "results/proxy-choices/$name"
}
SEEDS=0,1,2 run is-weights-eq5 method.is_weights=eq5
run is-weights-max method.is_weights=max
run is-weights-batch-max method.is_weights=batch_max
run no-warmup method.is_weights=eq5 train.warmup=0
run beta-anneal method.is_weights=eq5 method.beta_anneal=true
