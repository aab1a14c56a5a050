#!/usr/bin/env bash
# What augmentation costs: one training epoch of a config with its augment:
# section and with it removed, alternating ROUNDS times in one session;
# prints each epoch's seconds and the ratio of the medians. Needs the
# config's data (make data for MNIST).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-configs/lenet-bn-mnist-augment.yaml}
ROUNDS=${ROUNDS:-3}
BIN=${BIN:-bin/cnnctl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The same config without its augment: section (it is a top-level block).
awk '/^augment:/ {skip=1; next} skip && /^[^ #]/ {skip=0} !skip' "$CONFIG" > "$tmp/plain.yaml"
epoch() { "$BIN" train -c "$1" --epochs 1 --out "$tmp/run" 2>&1 | sed -n 's/^epoch 1\/1 .*  \([0-9.]*\)s  .*/\1/p'; rm -rf "$tmp/run"; }
for r in $(seq "$ROUNDS"); do
  a=$(epoch "$CONFIG"); p=$(epoch "$tmp/plain.yaml")
  echo "round $r: augmented ${a} s, plain ${p} s"
  echo "$a $p" >> "$tmp/rows"
done
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(cut -d' ' -f1 "$tmp/rows" | median); mp=$(cut -d' ' -f2 "$tmp/rows" | median)
echo "median epoch: augmented ${ma} s, plain ${mp} s, ratio $(echo "$ma / $mp" | bc -l | cut -c1-5)"
