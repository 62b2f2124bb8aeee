#!/usr/bin/env bash
# The CPU proxy of the paper's regime (every card's `proxy` budget, README "CPU proxy"): Tables 1 and 4 and
# Figure 4, 3 seeds, then the report with the claims tested. Two single-thread runners share one --out (claims
# keep them from running a cell twice) and take the presets in opposite orders, so neither waits long for the
# other's last cell. Resumable: rerun to continue. About 2.5 h on 2 CPU cores.
# Table 4 runs on MNIST only unless TABLE4_DATASETS says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/proxy}
BOTH=mnist,fashion_mnist
TABLE4_DATASETS=${TABLE4_DATASETS:-mnist}

runner() {
  for item in "$@"; do
    OMP_NUM_THREADS=1 .venv/bin/dfkd-bench run --preset "${item%%:*}" --datasets "${item#*:}" --out "$OUT" --device cpu
  done
}

# The Fast2 cell of MNIST seed 0 first and alone, on both cores: the proxy's time for one Fast2 cell.
.venv/bin/dfkd-bench run --methods fast2 --datasets mnist --pairs lenet5_bn-lenet5_half_bn --budget proxy \
  --seeds 0 --out "$OUT" --device cpu
runner "proxy-table1:$BOTH" "proxy-figure4:$BOTH" "proxy-table4:$TABLE4_DATASETS" &
first=$!
runner "proxy-table4:$TABLE4_DATASETS" "proxy-figure4:fashion_mnist,mnist" "proxy-table1:$BOTH" &
second=$!
wait "$first" "$second"
.venv/bin/dfkd-bench report "$OUT" --out reports/proxy --format md,html,tex,csv
