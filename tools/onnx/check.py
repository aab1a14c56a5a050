"""Checks an ONNX model with onnx.checker (full check, with shape inference)
and prints its IR version, opset and metadata as JSON."""
import json
import sys

import onnx

m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
print(json.dumps({
    "ir_version": m.ir_version,
    "opset": [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")],
    "metadata": {p.key: p.value for p in m.metadata_props},
    "ops": [n.op_type for n in m.graph.node],
}))
