#!/usr/bin/env python3
"""Golden data for cokv's port of NumPy's default_rng (SeedSequence -> PCG64) and
Generator.permutation, the path Hugging Face datasets' Dataset.shuffle(seed=...) takes:
np.random.default_rng(seed).permutation(len(dataset)).

  python3 scripts/dev/make_split_golden.py > tests/data/split/numpy_permutations.json
"""
import json
import sys

import numpy as np

SEEDS = [42, 0, 1, 12345, 2**32 + 5, 2**63 + 12345]
SIZES = [1, 2, 3, 10, 30, 31, 150, 200, 201, 503, 2000]


def main():
    out = {"numpy": np.__version__, "seed_sequence": [], "raw": [], "permutations": []}
    for seed in SEEDS:
        ss = np.random.SeedSequence(seed)
        out["seed_sequence"].append({
            "seed": str(seed),
            "state_u32": [int(x) for x in ss.generate_state(8, np.uint32)],
            "state_u64": [str(int(x)) for x in ss.generate_state(4, np.uint64)],
        })
        bg = np.random.PCG64(seed)
        out["raw"].append({"seed": str(seed), "u64": [str(int(x)) for x in bg.random_raw(16)]})
    for seed in SEEDS:
        for n in SIZES:
            if seed != 42 and n > 201:
                continue
            perm = np.random.default_rng(seed).permutation(n)
            out["permutations"].append({"seed": str(seed), "n": n, "perm": [int(x) for x in perm]})
    # Several draws from one generator: the 32-bit output buffer carries over between calls.
    g = np.random.default_rng(42)
    out["consecutive"] = {"seed": "42", "sizes": [5, 7, 1, 40],
                          "perms": [[int(x) for x in g.permutation(n)] for n in [5, 7, 1, 40]]}
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
