#!/usr/bin/env python3
"""Golden data for tests/test_dequant.cpp: random raw ggml blocks of every type cokv decodes,
with their dequantisation by the python `gguf` package (gguf.quants.dequantize), an
independent numpy implementation of ggml's dequantize_row_*.

Usage: python3 scripts/dev/make_dequant_golden.py [out_dir]   (default tests/data/dequant)
Writes <type>.bin (raw blocks), <type>.f32 (expected little-endian float32) and manifest.json.
Deterministic (fixed seed); rerun after a gguf-py upgrade and diff.
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

SEED = 20240611
rng = np.random.default_rng(SEED)


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8).reshape(-1, 2)


def scale_fields(n):
    """Finite fp16 scales: mostly small like real weights, a few large, some negative."""
    v = rng.normal(0.0, 0.02, n)
    v[rng.random(n) < 0.1] *= 1000.0
    return f16_bytes(v)


def blocks(qtype, n_blocks, f16_offsets):
    """Random bytes, with the fp16 fields at f16_offsets set to finite scales."""
    bs, tb = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, tb), dtype=np.uint8)
    for off in f16_offsets:
        raw[:, off:off + 2] = scale_fields(n_blocks)
    return raw, n_blocks * bs


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "dequant")
    os.makedirs(out, exist_ok=True)
    cases = []

    # F32: random floats; F16: every one of the 65536 bit patterns (inf, NaN, subnormals);
    # BF16: random finite patterns.
    f32 = rng.normal(0, 3, 256).astype(np.float32)
    cases.append(("F32", T.F32, f32.view(np.uint8), 256))
    f16 = np.arange(65536, dtype=np.uint16)
    cases.append(("F16", T.F16, f16.view(np.uint8), 65536))
    bf = (rng.normal(0, 1, 1024).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    cases.append(("BF16", T.BF16, bf.view(np.uint8), 1024))

    for name, qt, offs in [("Q4_0", T.Q4_0, [0]), ("Q4_1", T.Q4_1, [0, 2]), ("Q5_0", T.Q5_0, [0]),
                           ("Q5_1", T.Q5_1, [0, 2]), ("Q8_0", T.Q8_0, [0])]:
        raw, n = blocks(qt, 64, offs)
        cases.append((name, qt, raw, n))
    for name, qt, offs in [("Q4_K", T.Q4_K, [0, 2]), ("Q5_K", T.Q5_K, [0, 2]), ("Q6_K", T.Q6_K, [208])]:
        raw, n = blocks(qt, 8, offs)
        cases.append((name, qt, raw, n))

    manifest = {"generator": "scripts/dev/make_dequant_golden.py", "seed": SEED,
                "gguf_py_version": getattr(gguf, "__version__", None) or _pkg_version(),
                "numpy_version": np.__version__, "types": []}
    for name, qt, raw, n in cases:
        raw = np.ascontiguousarray(raw).reshape(-1)
        exp = dequantize(raw, qt).astype(np.float32).reshape(-1)
        assert exp.size == n, (name, exp.size, n)
        stem = name.lower()
        raw.tofile(os.path.join(out, stem + ".bin"))
        exp.astype("<f4").tofile(os.path.join(out, stem + ".f32"))
        manifest["types"].append({"type": name, "ggml_type": int(qt), "n": int(n), "raw": stem + ".bin",
                                  "expected": stem + ".f32"})

    # fp32 -> fp16 rounding (cokv::fp32_to_fp16) against numpy's astype(float16): random
    # magnitudes from 1e-9 to 1e6 (subnormal, normal, overflow) and exact ties.
    x = (rng.choice([-1, 1], 4096) * 10.0 ** rng.uniform(-9, 6, 4096)).astype(np.float32)
    # exact ties between neighbouring fp16 values in [1, 2) (spacing 2^-10): round to even
    ties = np.float32(1.0) + (np.arange(0, 512, dtype=np.float32) + np.float32(0.5)) * np.float32(2.0 ** -10)
    x = np.concatenate([x, ties, np.float32([0.0, -0.0, 65504.0, 65519.99, 65520.0, np.inf, -np.inf])]).astype(np.float32)
    x.astype("<f4").tofile(os.path.join(out, "fp32_to_fp16.f32"))
    with np.errstate(over="ignore"):  # 65520 and up overflow to inf on purpose
        h = x.astype(np.float16)
    h.view("<u2").tofile(os.path.join(out, "fp32_to_fp16.u16"))
    manifest["fp32_to_fp16"] = {"n": int(x.size), "input": "fp32_to_fp16.f32", "expected": "fp32_to_fp16.u16"}

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("wrote", len(cases), "types to", out)


def _pkg_version():
    try:
        from importlib.metadata import version
        return version("gguf")
    except Exception:
        return "unknown"


if __name__ == "__main__":
    main()
