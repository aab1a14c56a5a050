#!/usr/bin/env bash
# Trains a signals config (default configs/vibration-1d.yaml) for one epoch
# in cnnctl and the same network in PyTorch 1.13 (Debian; nn.Conv1d, the
# module cnnctl exports), alternating, ROUNDS times, and prints medians and
# ratios of training windows/s; inference is timed in cnnctl, PyTorch and
# ONNX Runtime (the exported model).
#
#   bench/compare-signals.sh                                   # 5 rounds
#   CONFIG=configs/vibration-1d-3x64.yaml ROUNDS=3 bench/compare-signals.sh
#
# Needs Debian's PyTorch (apt-get install -y python3-torch python3-numpy
# python3-yaml libopenblas0-openmp) and tools/onnx (cd tools/onnx &&
# ONNXRUNTIME_NODE_INSTALL=skip npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
CONFIG=${CONFIG:-configs/vibration-1d.yaml}
PY=/usr/bin/python3 # the first python3 on PATH may lack torch
NAME=$(basename "$CONFIG" .yaml)
OUT=bench/out/$NAME
mkdir -p "$OUT"
$PY -c 'import torch, yaml' 2>/dev/null || { echo "PyTorch missing: apt-get install -y python3-torch python3-numpy python3-yaml libopenblas0-openmp" >&2; exit 1; }
[ -d tools/onnx/node_modules/onnxruntime-node ] || { echo "ONNX Runtime missing: (cd tools/onnx && ONNXRUNTIME_NODE_INSTALL=skip npm ci)" >&2; exit 1; }
make -s build
[ -f data/vibration/signals.npy ] || bin/cnnctl data vibration --out data/vibration > /dev/null
read -r C L < <($PY -c 'import sys, yaml; print(*yaml.safe_load(open(sys.argv[1]))["data"]["shape"])' "$CONFIG")

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  bin/cnnctl train -c "$CONFIG" --epochs 1 --out "$OUT/run-$r" > "$OUT/train-$r.txt" 2>&1
  bin/cnnctl bench -c "$CONFIG" --json --seconds 2 --reps 3 > "$OUT/cnnctl-$r.json"
  bin/cnnctl export --model "$OUT/run-$r/last.ckpt" --format onnx --out "$OUT/net.onnx" > /dev/null
  bin/cnnctl export --model "$OUT/run-$r/last.ckpt" --format safetensors --out "$OUT/net.safetensors" --module "$OUT/net.py" > /dev/null
  (cd tools/onnx && node bench.js "../../$OUT/net.onnx" "${C}x${L}" 2) > "$OUT/ort-$r.json"
  WINDOWS=$(sed -n 's/.*: \([0-9]*\) training, .*/\1/p' "$OUT/train-$r.txt")
  $PY bench/pytorch_signals.py --config "$CONFIG" --module "$OUT/net.py" --signals data/vibration/signals.npy \
    --labels data/vibration/labels.npy --train-windows "$WINDOWS" --json "$OUT/torch-$r.json" > /dev/null
done

$PY - "$OUT" "$ROUNDS" "$NAME" <<'PYEOF'
import re, statistics, sys
sys.path.insert(0, "bench")
from report import load, row
out, rounds, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
med = statistics.median
c, t, o = load(out, "cnnctl", rounds), load(out, "torch", rounds), load(out, "ort", rounds)
train = [float(re.search(r"([\d.]+) img/s", open(f"{out}/train-{r}.txt").read().split("epoch 1/")[1]).group(1))
         for r in range(1, rounds + 1)]
print(f"{name}: medians of {rounds} alternating rounds; ratio = cnnctl / reference")
print()
print("| figure | cnnctl | reference | ratio | target |")
print("|---|---|---|---|---|")
row("training windows/s, one epoch of `cnnctl train`", med(train), med(x["train_img_s"] for x in t), "PyTorch, 2 threads", "≥ 2×")
row("inference windows/s, batch 1000", med(x["infer_img_s"] for x in c), med(x["infer_b1000_img_s"] for x in o), "ONNX Runtime, 2 threads", "")
row("inference windows/s, batch 1000", med(x["infer_img_s"] for x in c), med(x["infer_b1000_img_s"] for x in t), "PyTorch", "")
row("latency ms, batch 1 (lower is better)", med(x["latency_b1_ms"] for x in c), med(x["latency_b1_ms"] for x in o), "ONNX Runtime", "")
print()
print("rounds (training windows/s cnnctl vs PyTorch): " + "; ".join(f"{a:,.0f} vs {b['train_img_s']:,.0f}" for a, b in zip(train, t)))
PYEOF
