#!/usr/bin/env bash
# Time to accuracy: runs `cnnctl train -c configs/mnist-fast.yaml` for seeds
# 1–RUNS (default 5), each timed from process start to exit by /usr/bin/time
# (MNIST already downloaded), and prints every run, the median wall time and
# the test accuracies (median and lowest). Targets: ≥ 99.0 % median, none
# below 98.9 %, median time ≤ 5 s on 2 cores.
#
#   bench/time-to-accuracy.sh
#   CONFIG=configs/lenet-bn-mnist.yaml RUNS=3 bench/time-to-accuracy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
CONFIG=${CONFIG:-configs/mnist-fast.yaml}
OUT=bench/out/time-to-accuracy
mkdir -p "$OUT"
make -s build
bin/cnnctl data mnist --dir data/mnist > /dev/null 2>&1
for s in $(seq 1 "$RUNS"); do
  /usr/bin/time -f "%e" -o "$OUT/time-$s" bin/cnnctl train -c "$CONFIG" --seed "$s" --out "$OUT/run-$s" --quiet > "$OUT/train-$s.txt"
  printf 'seed %d: %s s, %s\n' "$s" "$(cat "$OUT/time-$s")" "$(grep -o 'test accuracy [0-9.]*%' "$OUT/train-$s.txt")"
done
for s in $(seq 1 "$RUNS"); do cat "$OUT/time-$s"; done | sort -n | awk '{a[NR]=$1} END {printf "median wall time %.2f s (target ≤ 5 s)\n", a[int((NR+1)/2)]}'
for s in $(seq 1 "$RUNS"); do grep -o 'test accuracy [0-9.]*' "$OUT/train-$s.txt" | awk '{print $3}'; done | sort -n |
  awk '{a[NR]=$1} END {printf "test accuracy median %.2f %%, lowest %.2f %% (targets ≥ 99.0, ≥ 98.9)\n", a[int((NR+1)/2)], a[1]}'
