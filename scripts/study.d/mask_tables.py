#!/usr/bin/env python3
"""CoKV's Table-2 check as cokv.budget.v1 tables: the FRACTION of heads with the lowest SSV, the
highest, or drawn at random (SEED) keep only the window; every other head keeps the whole prompt
(a budget above any prompt). Writes DIR/mask-{lowest,highest,random}.budget.json.
usage: mask_tables.py SSV_TABLE DIR FRACTION SEED"""
import json
import random
import sys

src, out, frac, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
t = json.load(open(src))
n_layers, n_kv = t["model"]["n_layers"], t["model"]["n_kv_heads"]
n = n_layers * n_kv
window = t["window"]
scores = [s for row in t["scores"] for s in row]
k = max(1, round(frac * n))
order = sorted(range(n), key=lambda i: (scores[i], i))
sets = {
    "lowest": order[:k],
    "highest": order[-k:],
    "random": random.Random(seed).sample(range(n), k),
}
# A budget above every prompt (keeps it whole) that makes the total a multiple of n, since cokv-eval
# evaluates tables at integer mean budgets.
full = 100000
while (k * window + (n - k) * full) % n:
    full += 1
for name, masked in sets.items():
    budgets = [full] * n
    for i in masked:
        budgets[i] = window
    table = {
        "format": "cokv.budget.v1",
        "model": t["model"],
        "task": t.get("task", {}),
        "method": {"name": f"mask-{name}", "masked_heads": sorted(masked), "fraction": frac,
                   "from": src, "seed": seed},
        "scores": t["scores"],
        "window": window,
        "sink": 0,
        "tables": [{"mean_budget": sum(budgets) // n,
                    "budgets": [budgets[l * n_kv:(l + 1) * n_kv] for l in range(n_layers)]}],
    }
    with open(f"{out}/mask-{name}.budget.json", "w") as f:
        json.dump(table, f)
print(f"mask tables: {k} of {n} heads window-only; others keep {full} tokens", file=sys.stderr)
