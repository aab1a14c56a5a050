"""Loads a cnnctl safetensors export into the PyTorch module cnnctl printed
for it, with load_state_dict(strict=True), runs it in eval mode on float32
inputs and prints the logits as JSON:

  /usr/bin/python3 run.py module.py weights.safetensors input.f32 N C H W

The safetensors file is read with json and numpy (the layout is an 8-byte
little-endian header length, a JSON header, then raw little-endian data),
so nothing beyond Debian's python3-torch is needed.
"""
import json
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        arr = np.frombuffer(body[a:b], dtype=DTYPES[t["dtype"]]).reshape(t["shape"]).copy()
        tensors[name] = torch.from_numpy(arr)
    return tensors


def main():
    module_py, weights, inputs, *dims = sys.argv[1:]
    scope = {}
    exec(open(module_py).read(), scope)
    model = scope["model"]
    model.load_state_dict(read_safetensors(weights), strict=True)
    model.eval()
    x = np.fromfile(inputs, dtype="<f4").reshape([int(d) for d in dims])
    with torch.no_grad():
        y = model(torch.from_numpy(x))
    print(json.dumps({"logits": y.flatten().tolist(), "dims": list(y.shape)}))


main()
