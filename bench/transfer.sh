#!/usr/bin/env bash
# Transfer learning against training from scratch, on X vs O with only 40
# training drawings: configs/xo-finetune.yaml (MNIST LeNet-BN trunk, a new
# head, then fine-tuning) and configs/xo-scratch-40.yaml (the same network,
# data and optimizer from random weights), SEEDS seeds each (the seed also
# draws the 40 images). Prints test accuracy on 1,000 drawings and wall
# time per run, and the means. Needs runs/lenet-bn-mnist/best.ckpt (make).
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"1 2 3"}
BIN=${BIN:-bin/cnnctl}
test -f runs/lenet-bn-mnist/best.ckpt || { echo "bench/transfer.sh: train the MNIST trunk first: make" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-14s %5s %10s %9s\n' config seed test_acc seconds
for cfg in xo-finetune xo-scratch-40; do
  for seed in $SEEDS; do
    t0=$(date +%s.%N)
    acc=$("$BIN" train -c configs/$cfg.yaml --seed "$seed" --out "$out/$cfg-$seed" --quiet | sed -n 's/^test accuracy \([0-9.]*\)%.*/\1/p')
    t1=$(date +%s.%N)
    printf '%-14s %5s %9s%% %9.2f\n' "$cfg" "$seed" "$acc" "$(echo "$t1 - $t0" | bc -l)"
  done
done | tee "$out/rows"
awk '{acc[$1]+=$3; sec[$1]+=$4; n[$1]++} END {for (c in n) printf "%-14s  mean %6.2f%%  %6.2f s\n", c, acc[c]/n[c], sec[c]/n[c]}' "$out/rows" | sort
