#!/usr/bin/python3
"""PyTorch side of bench/compare-net.sh: trains the network of a cnnctl
config in PyTorch 1.13 (Debian), with the same hyper-parameters, and times
it as ../shared/reference/pytorch_lenet.py times LeNet.

The network is the PyTorch module cnnctl itself writes for the config
(`cnnctl export --format safetensors --module net.py`), so both sides run the
same architecture by construction; PyTorch initialises it its own way.
Training is SGD with momentum and weight decay under cnnctl's cosine
schedule (the learning rate follows the fractional epoch, batch by batch).

  /usr/bin/python3 bench/pytorch_net.py --module net.py --data DIR \
      --lr 0.05 --momentum 0.9 --weight-decay 5e-4 --epochs-total 5 --json out.json
"""
import argparse
import gzip
import os
import struct

import numpy as np

import torch_timing


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    _, _, ndim = struct.unpack(">HBB", raw[:4])
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(d, mean, std):
    def imgs(name):
        a = read_idx(os.path.join(d, name)).astype(np.float32) / 255.0
        return ((a - mean) / std).reshape(-1, 1, 28, 28)

    def labels(name):
        return read_idx(os.path.join(d, name)).astype(np.int64)

    return (imgs("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"),
            imgs("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--module", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--epochs-total", type=int, default=1, help="the schedule's length (train.epochs)")
    p.add_argument("--mean", type=float, default=0.1307)
    p.add_argument("--std", type=float, default=0.3081)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", default=None)
    a = p.parse_args()

    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = torch_timing.load_module(a.module)
    xtr, ytr, xte, yte = load_mnist(a.data, a.mean, a.std)
    Xtr, Ytr, Xte, Yte = map(torch.from_numpy, (xtr, ytr, xte, yte))
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
    gen = torch.Generator().manual_seed(a.seed)
    nb, train_s = torch_timing.train_epoch(model, opt, Xtr, Ytr, a.batch, a.lr, a.epochs_total, gen)
    model.eval()
    with torch.no_grad():
        correct = sum((model(Xte[i:i + 1000]).argmax(1) == Yte[i:i + 1000]).sum().item() for i in range(0, 10000, 1000))
    infer, latency = torch_timing.time_inference(model, Xte, 4)
    torch_timing.report({
        "torch": torch.__version__, "threads": a.threads, "batch": a.batch,
        "params": sum(q.numel() for q in model.parameters()),
        "train_s": train_s, "train_img_s": nb * a.batch / train_s, "test_acc": correct / 10000,
        "infer_b1000_img_s": infer, "latency_b1_ms": latency,
    }, a.json)

main()
