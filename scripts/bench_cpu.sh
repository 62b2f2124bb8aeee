#!/usr/bin/env bash
# reports/bench-cpu.md: `dfkd-bench bench` of every method of the default run on the MNIST proxy pair
# (lenet5_bn -> lenet5_half_bn) at the cards' `proxy` budget, on the CPU, with the threads OMP_NUM_THREADS gives
# (default: every core). Run it on a quiet machine: every number is a timing. The JSON it renders from is kept in
# results/bench/bench-cpu.json; `dfkd-bench bench --from-json FILE --markdown OUT` renders it again.
# Needs the MNIST teacher in the store (`dfkd-bench train --model lenet5_bn --dataset mnist`). A few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
JSON=${JSON:-results/bench/bench-cpu.json}
REPORT=${REPORT:-reports/bench-cpu.md}
METHODS=fast2,fast5,fast10,ssdkd,deepinv,cmi,dafl,zskt,dfq,dfad,kd
mkdir -p "$(dirname "$JSON")"
.venv/bin/dfkd-bench bench --methods "$METHODS" --datasets mnist --pairs lenet5_bn-lenet5_half_bn --budget proxy \
  --device cpu --json > "$JSON.tmp"
mv "$JSON.tmp" "$JSON"
.venv/bin/dfkd-bench bench --from-json "$JSON" --markdown "$REPORT"
echo "wrote $JSON and $REPORT"
