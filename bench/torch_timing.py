"""What bench/pytorch_net.py and bench/pytorch_signals.py share: one epoch
of training under cnnctl's cosine schedule (the learning rate follows the
fractional epoch, batch by batch), timed; inference at batch 1000 and batch
1, timed; and the JSON report. The model's module comes from `cnnctl export
--module`, so both sides run the same network.
"""
import json
import math
import resource
import statistics
import time


def load_module(path):
    scope = {}
    exec(open(path).read(), scope)
    return scope["model"]


def train_epoch(model, opt, X, Y, batch, lr, epochs_total, generator=None):
    """One epoch over (X, Y) in shuffled batches; returns (batches, seconds)."""
    import torch
    import torch.nn.functional as F
    n = X.shape[0]
    nb = n // batch
    model.train()
    perm = torch.randperm(n, generator=generator)
    t0 = time.perf_counter()
    for j in range(nb):
        for g in opt.param_groups:
            g["lr"] = lr * (1 + math.cos(math.pi * (j / nb) / epochs_total)) / 2
        idx = perm[j * batch:(j + 1) * batch]
        loss = F.cross_entropy(model(X[idx]), Y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return nb, time.perf_counter() - t0


def time_inference(model, X, reps):
    """Median examples/s over passes of X in batches of 1000 (the first pass
    a warm-up), and the median batch-1 latency in ms (after 20 warm-ups)."""
    import torch
    model.eval()
    with torch.no_grad():
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            for i in range(0, len(X), 1000):
                model(X[i:i + 1000])
            times.append(time.perf_counter() - t)
        lat = []
        for i in range(220):
            t = time.perf_counter()
            model(X[i:i + 1]).argmax(1).item()
            lat.append(time.perf_counter() - t)
    return len(X) / statistics.median(times[1:]), 1e3 * statistics.median(lat[20:])


def report(res, path):
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(res))
    if path:
        with open(path, "w") as f:
            json.dump(res, f, indent=1)
