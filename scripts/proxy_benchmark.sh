#!/usr/bin/env bash
# The CPU proxy of the paper's regime (every card's `proxy` budget, README "CPU proxy"): Tables 1 and 4 and
# Figure 4 on MNIST and Fashion-MNIST, 3 seeds, two CPU workers; then the report with the claims tested.
# Resumable: rerun to continue; add `--dry-run` to a `run` line to see what is left. About 4 h on 2 CPU cores.
# DATASETS=mnist narrows every preset to one data set.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/proxy}
DATASETS=${DATASETS:-mnist,fashion_mnist}
for preset in proxy-table1 proxy-figure4 proxy-table4; do
  .venv/bin/dfkd-bench run --preset "$preset" --datasets "$DATASETS" --out "$OUT" --device cpu --launcher local --workers 2
done
.venv/bin/dfkd-bench report "$OUT" --out reports/proxy --format md,tex,csv
