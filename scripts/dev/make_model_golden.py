#!/usr/bin/env python3
"""Golden values for tests/test_model_load.cpp: for every tensor of the default model, its
shape and type, the float64 sum and sum of squares of its gguf-py dequantisation
(gguf.quants.dequantize), and a few values at seeded random positions.

Usage: python3 scripts/dev/make_model_golden.py MODEL.gguf [out.json]
       (default out: tests/data/model/smollm2_135m_q4_1.json)
"""
import hashlib
import json
import os
import sys

import numpy as np
import gguf
from gguf.quants import dequantize


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(__file__), "..", "..", "tests", "data", "model", "smollm2_135m_q4_1.json")
    rng = np.random.default_rng(7)
    r = gguf.GGUFReader(path)
    tensors = []
    for t in r.tensors:
        x = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
        ne = [int(v) for v in t.shape]  # gguf-py's shape is ggml ne order (ne[0] first)
        assert x.size == int(np.prod(ne))
        idx = sorted(set(int(i) for i in rng.integers(0, x.size, 6)) | {0, x.size - 1})
        x64 = x.astype(np.float64)
        tensors.append({"name": t.name, "type": t.tensor_type.name, "ne": ne,
                        "sum": float(x64.sum()), "sum_sq": float((x64 * x64).sum()),
                        "samples": [[i, float(x[i])] for i in idx]})
    doc = {"generator": "scripts/dev/make_model_golden.py", "model": os.path.basename(path),
           "sha256": sha256(path), "gguf_py_version": _ver(), "tensors": tensors}
    with open(out, "w") as f:  # one tensor per line: diffs stay readable
        head = json.dumps({k: v for k, v in doc.items() if k != "tensors"})[:-1]
        f.write(head + ', "tensors": [\n')
        f.write(",\n".join(json.dumps(t) for t in tensors))
        f.write("\n]}\n")
    print("wrote", len(tensors), "tensors to", out)


def _ver():
    from importlib.metadata import version
    return version("gguf")


if __name__ == "__main__":
    main()
