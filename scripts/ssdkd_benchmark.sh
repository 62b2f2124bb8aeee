#!/usr/bin/env bash
# SSD-KD on MNIST (BN pair, CPU): ssdkd next to fast2 at two data scales (300 = 0.5 % and 600 = 1 % of MNIST's
# training set; the quick budget synthesises 2,560 images in all, so larger buffers would never fill), and the six
# Table 4 ablation rows at 600, all at the cards' `quick` MNIST budget (5 epochs, one of them warm-up). Regenerates reports/mnist-ssdkd.md (about 8 minutes on 2 CPU cores). Resumable: rerun to continue.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/mnist-ssdkd}
TEACHERS=${TEACHERS:-results/teachers}
.venv/bin/dfkd-bench run --datasets mnist --methods fast2,ssdkd --scales 300,600 --budget quick --device cpu --out "$OUT" \
  --teachers "$TEACHERS"
.venv/bin/dfkd-bench run --datasets mnist --methods 'ssdkd*' --scales 600 --budget quick --device cpu --out "$OUT" --teachers "$TEACHERS"
.venv/bin/dfkd-bench report "$OUT" --out reports/mnist-ssdkd.md \
  --title "SSD-KD on MNIST: vs Fast2 at equal data scale, and the Table 4 ablation rows" \
  --command "bash scripts/ssdkd_benchmark.sh"
