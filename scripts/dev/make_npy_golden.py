#!/usr/bin/env python3
"""Writes the golden .npy/.npz files tests/test_npy.cpp reads (numpy is the reference).

Run from the repository root:  python3 scripts/dev/make_npy_golden.py
The arrays are deterministic formulas (no RNG), so tests/test_npy.cpp rebuilds them in C++
and checks that cokv's writer produces the same bytes as np.save. Re-running must give
identical .npy files; the .npz differs only in zip timestamps (the tests compare contents).
"""
import os

import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
out = os.path.join(root, "tests", "data", "npy")
os.makedirs(out, exist_ok=True)


def arrays():
    # name -> array; the C++ test computes the same values from the same formulas.
    i = np.arange(30 * 3)
    return {
        "f4_30x3": ((i * 0.25) - 7.5).astype("<f4").reshape(30, 3),
        "i4_30x3": (i * 7 - 100).astype("<i4").reshape(30, 3),
        "f8_vec5": np.array([0.1, -2.5, 3.0e10, 1e-300, 0.0], dtype="<f8"),
        "i8_2x3x4": (np.arange(24, dtype="<i8") * 1000000007 - 5).reshape(2, 3, 4),
        "f4_scalar": np.array(3.5, dtype="<f4"),
        "f4_empty": np.zeros((0, 3), dtype="<f4"),
        "i4_1000": (np.arange(1000) % 17).astype("<i4"),
    }


for name, a in arrays().items():
    np.save(os.path.join(out, name + ".npy"), a)

a = arrays()
np.savez(os.path.join(out, "members.npz"), bias=a["f4_30x3"].reshape(30, 3, 1),
         pos_bins=np.array([0], dtype="<i4"))
# Fortran-order and big-endian files: the reader must refuse them with a clear message.
np.save(os.path.join(out, "bad_fortran.npy"), np.asfortranarray(a["f4_30x3"]))
np.save(os.path.join(out, "bad_bigendian.npy"), a["f4_30x3"].astype(">f4"))
np.savez_compressed(os.path.join(out, "bad_compressed.npz"), x=a["f4_30x3"])
print("wrote", sorted(os.listdir(out)))
