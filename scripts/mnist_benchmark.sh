#!/usr/bin/env bash
# The CPU reference grid (`--preset mnist`): Teacher/Student rows and every baseline on both MNIST pairs, SSD-KD at
# four data scales (Figure 4), kd and deepinv at SSD-KD's scale (Figure 1) and the Table 4 ablations, 3 seeds, at
# the cards' `quick` MNIST budgets. Then the report in the paper's layout under reports/mnist/.
# Resumable: rerun to continue; `dfkd-bench run --preset mnist --dry-run --out results/mnist` shows what is left.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/mnist}
.venv/bin/dfkd-bench run --preset mnist --device cpu --out "$OUT"
.venv/bin/dfkd-bench report "$OUT" --out reports/mnist --format md,html,tex,csv
