#!/usr/bin/env python3
"""Categories whose full-cache average (over their datasets, cokv-eval's scores.json) is at least
MIN_FULL, one per line, in the suite's category order.
usage: pick_categories.py SUITE SCORES_JSON MIN_FULL"""
import json
import sys

suite, scores_path, min_full = sys.argv[1], sys.argv[2], float(sys.argv[3])
cats = json.load(open(f"{suite}/config/categories.json"))
scores = json.load(open(scores_path))
full = next(r for r in scores["results"] if r["method"] == "full")
for cat, datasets in cats.items():
    vals = [full["scores"][d] for d in datasets if d in full["scores"]]
    avg = sum(vals) / len(vals) if vals else 0.0
    print(f"{cat}: full {avg:.2f} over {len(vals)} datasets", file=sys.stderr)
    if vals and avg >= min_full:
        print(cat)
