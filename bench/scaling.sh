#!/usr/bin/env bash
# Prints a markdown table of how cost grows: training and inference img/s
# against batch size and cores, for the shipped MNIST configs (medians of
# `cnnctl bench`; random weights and inputs, so no dataset is needed).
#
#   bench/scaling.sh > bench/out/scaling.md
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
SECONDS_PER_REP=${SECONDS_PER_REP:-0.6}
echo "| config | batch | train img/s, 1 core | train img/s, 2 cores | ×  | inference img/s, 1 core | inference img/s, 2 cores | × |"
echo "|---|---|---|---|---|---|---|---|"
for cfg in lenet5-mnist lenet-bn-mnist cs231n-3layer; do
  for b in 1 16 64 256; do
    row=()
    for t in 1 2; do
      row+=("$(bin/cnnctl bench -c configs/$cfg.yaml --batch-size $b --infer-batch $b --threads $t --seconds $SECONDS_PER_REP --reps 3 --json)")
    done
    /usr/bin/python3 - "$cfg" "$b" "${row[@]}" <<'PYEOF'
import json, sys
cfg, b, one, two = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
print(f"| {cfg} | {b} | {one['train_img_s']:,.0f} | {two['train_img_s']:,.0f} | {two['train_img_s']/one['train_img_s']:.2f} "
      f"| {one['infer_img_s']:,.0f} | {two['infer_img_s']:,.0f} | {two['infer_img_s']/one['infer_img_s']:.2f} |")
PYEOF
  done
done
