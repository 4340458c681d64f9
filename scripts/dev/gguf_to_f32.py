#!/usr/bin/env python3
"""An F32 copy of a GGUF model: the same metadata, every tensor dequantised (gguf-py's
gguf.quants.dequantize, exact for Q4_1/Q8_0) and stored as F32.

llama.cpp runs such a copy with continuous arithmetic (F32 x F32 matmuls, no 8-bit activation
rounding), so it computes the same function as cokv's Fp32 numerics on the quantised file; see
tests/data/reference/README.md (logits_f32.json).

Usage: python3 scripts/dev/gguf_to_f32.py MODEL.gguf OUT-f32.gguf   (needs the gguf package)
"""
import sys

import numpy as np
import gguf


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1:3]
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, r.fields["general.architecture"].contents())
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name in ("general.architecture", "general.alignment"):
            continue
        vtype = f.types[0]
        sub = f.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        val = 0 if f.name == "general.file_type" else f.contents()  # 0 = LLAMA_FTYPE_ALL_F32
        w.add_key_value(f.name, val, vtype, sub_type=sub)
    for t in r.tensors:
        a = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        w.add_tensor(t.name, a.reshape([int(x) for x in reversed(t.shape)]), raw_dtype=gguf.GGMLQuantizationType.F32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
