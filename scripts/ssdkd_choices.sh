#!/usr/bin/env bash
# The measurements behind SSD-KD's open choices (methods/ssdkd.yaml): each variant at 10 % (6,000) in the MNIST
# CPU proxy, against the default cells of results/proxy (scripts/proxy_benchmark.sh). One folder per variant,
# since a variant is the same cell with another config. SEEDS=0,1 by default (the committed measurement).
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-0,1}
run() {
  .venv/bin/dfkd-bench run --methods ssdkd --datasets mnist --pairs lenet5_bn-lenet5_half_bn --scales 10% \
    --budget proxy --seeds "$SEEDS" --device cpu --launcher local --workers 2 --set "$2" --out "results/proxy-choices/$1"
}
run is-weights-max method.is_weights=max
run no-warmup train.warmup=0
run beta-anneal method.beta_anneal=true
