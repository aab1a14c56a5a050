#!/usr/bin/python3
"""PyTorch side of bench/compare-signals.sh: trains the network of a cnnctl
signals config in PyTorch 1.13 (Debian) for one epoch, with the config's
data layout and hyper-parameters, and times it as bench/pytorch_net.py does.

The network is the PyTorch module cnnctl writes for the config (`cnnctl
export --format safetensors --module net.py`: nn.Conv1d, nn.BatchNorm1d,
nn.MaxPool1d, …), so both sides run the same architecture. The windows are
cut from the same .npy recordings with the config's window and hop, and as
many are trained on as cnnctl trains on (its split keeps whole recordings
apart); Adam under the config's cosine schedule, batch by batch.

  /usr/bin/python3 bench/pytorch_signals.py --config configs/vibration-1d.yaml \\
      --module net.py --signals data/vibration/signals.npy --labels data/vibration/labels.npy \\
      --train-windows 9000 --json out.json
"""
import argparse

import numpy as np

import yaml

import torch_timing


def windows(x, window, hop, channels, shape):
    """Cuts recordings x [N, C·L] (channel-major) into examples of shape."""
    n, per = x.shape
    L = per // channels
    x = x.reshape(n, channels, L)
    out = [x[:, :, t:t + window] for t in range(0, L - window + 1, hop)]
    w = np.stack(out, axis=1)  # N, windows, C, window
    return w.reshape(n * len(out), *shape), len(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--module", required=True)
    p.add_argument("--signals", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--train-windows", type=int, required=True, help="how many windows cnnctl trains on")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", default=None)
    a = p.parse_args()

    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    c = yaml.safe_load(open(a.config))
    d, t = c["data"], c["train"]
    o = t["optimizer"]
    assert o["name"] == "adam", "compare-signals.sh compares configs trained with adam"
    shape = d["shape"]
    channels = d.get("channels", shape[0])
    window = d.get("window") or shape[0] * shape[1] // channels
    hop = d.get("hop", window)
    x = np.load(a.signals).astype(np.float32)
    y = np.load(a.labels).astype(np.int64)
    X, per = windows(x, window, hop, channels, shape)
    Y = np.repeat(y, per)
    X = (X - X.mean()) / X.std()
    rng = np.random.default_rng(a.seed)
    idx = rng.permutation(len(X))[:a.train_windows]
    Xtr, Ytr = torch.from_numpy(X[idx].copy()), torch.from_numpy(Y[idx].copy())
    model = torch_timing.load_module(a.module)
    lr, B, epochs = o["lr"], t["batch_size"], t["epochs"]
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(o.get("beta1", 0.9), o.get("beta2", 0.999)), eps=o.get("eps", 1e-8))
    nb, train_s = torch_timing.train_epoch(model, opt, Xtr, Ytr, B, lr, epochs)
    infer, latency = torch_timing.time_inference(model, torch.from_numpy(X[:1000].copy()), 6)
    torch_timing.report({
        "torch": torch.__version__, "threads": a.threads, "batch": B, "train_windows": nb * B,
        "train_s": train_s, "train_img_s": nb * B / train_s,
        "infer_b1000_img_s": infer, "latency_b1_ms": latency,
    }, a.json)

main()
