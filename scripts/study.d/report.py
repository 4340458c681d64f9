#!/usr/bin/env python3
"""docs/study.md from the outputs of scripts/study (stdlib only).
usage: report.py OUT_DIR DOC_PATH [FINDINGS.md]"""
import json
import os
import statistics
import sys

out, doc = sys.argv[1], sys.argv[2]


def load(path):
    with open(path) as f:
        return json.load(f)


def have(path):
    return os.path.exists(path)


def ci(v, digits=1):
    if not v:
        return ""
    return f" [{v[0]:.{digits}f}, {v[1]:.{digits}f}]"


def stage_times():
    t = {}
    if not have(f"{out}/times.tsv"):
        return t
    starts = {}
    for line in open(f"{out}/times.tsv"):
        stage, what, when = line.rstrip("\n").split("\t")
        if what == "start":
            starts.setdefault(stage, []).append(int(when))
        elif starts.get(stage):  # an end closes the latest start; a start never closed was a killed run
            t[stage] = t.get(stage, 0) + int(when) - starts[stage].pop()
    return t


def hms(s):
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def row_name(r):
    label = r["method"]
    if r.get("source"):
        label = os.path.basename(r["source"]).replace(".budget.json", "")
    return label if r["budget"] == 0 else f"{label}@{r['budget']}"


def paired(r, against):
    for p in r.get("paired", []):
        if p["against"] == against or (against == "uniform" and p["against"].startswith("uniform@")):
            star = " *" if p["excludes_zero"] else ""
            return f"{p['diff']:+.2f}{ci(p['ci95'])}{star}"
    return "-"


def results_table(scores, digits=2):
    ds = scores["datasets"]
    lines = ["| method | " + " | ".join(ds) + " | average | vs full | vs uniform |",
             "|---|" + "---:|" * (len(ds) + 3)]
    for r in scores["results"]:
        cells = [f"{r['scores'][d]:.{digits}f}{ci(r['ci95'].get(d))}" if d in r["scores"] else "-" for d in ds]
        lines.append(f"| {row_name(r)} | " + " | ".join(cells) +
                     f" | {r['average']:.{digits}f}{ci(r['average_ci95'])} | {paired(r, 'full')} | {paired(r, 'uniform')} |")
    return "\n".join(lines)


def wins(scores):
    """Which budgeted methods beat uniform at the same budget with an interval above zero."""
    above, below, n = [], [], 0
    for r in scores["results"]:
        for p in r.get("paired", []):
            if not p["against"].startswith("uniform@"):
                continue
            n += 1
            if p["excludes_zero"]:
                (above if p["diff"] > 0 else below).append(f"{row_name(r)} ({p['diff']:+.2f})")
    return above, below, n


md = ["# Study: when do head budgets beat uniform?", ""]
findings = sys.argv[3] if len(sys.argv) > 3 else None  # hand-written reading of the tables below
times = stage_times()
md.append("Made by `scripts/study` (resumable; `OUT=out/study` by default) on the local suite, "
          "SmolLM2-135M-Instruct, CPU backend, one thread per process, generation capped at 32 tokens, "
          "no chat template (cokv's default). Every interval is a 95% percentile bootstrap over records "
          "(2000 replicates, seed 42); differences are paired over the same records; * marks an interval "
          "that excludes zero.")
md.append("")
sizes = {k: os.environ[k] for k in ("SUITE_RECORDS", "SCREEN_RECORDS", "VAL_RECORDS", "TEST_RECORDS", "SAMPLES",
                                     "BUDGETS", "EST_EVALS", "EST_RECORDS", "EST_CATEGORY") if k in os.environ}
if sizes:
    md.append("This document's run: `" + " ".join(f"{k}={v}" for k, v in sizes.items()) +
              " scripts/study` (the other sizes at the script's defaults).")
    md.append("")
if times:
    md.append("Wall time per stage, summed over the processes that ran it, runs killed before their end not counted (this machine, 2 cores shared with other jobs): " +
              ", ".join(f"{k} {hms(v)}" for k, v in times.items()) + ".")
    md.append("")

if findings and have(findings):
    md += [open(findings).read().rstrip(), ""]

if have(f"{out}/screen/scores.json"):
    sc = load(f"{out}/screen/scores.json")
    cats = load(f"{out}/suite/config/categories.json")
    full = next(r for r in sc["results"] if r["method"] == "full")
    md += ["## Screen: the full cache per category", "",
           f"`cokv-eval run --datasets all --methods full --split test --max-records {sc['records'][sc['datasets'][0]]}`.", "",
           "| category | datasets (full-cache score) | average |", "|---|---|---:|"]
    for c, ds in cats.items():
        vals = [full["scores"][d] for d in ds if d in full["scores"]]
        md.append(f"| {c} | " + ", ".join(f"{d} {full['scores'][d]:.1f}{ci(full['ci95'].get(d))}" for d in ds if d in full["scores"]) +
                  f" | {statistics.mean(vals):.2f} |")
    md.append("")

chosen = open(f"{out}/categories.txt").read().split() if have(f"{out}/categories.txt") else []
for c in chosen:
    path = f"{out}/{c}/eval/scores.json"
    if not have(path):
        continue
    sc = load(path)
    n_rec = sc["records"]
    md += [f"## {c}: every method at mean budgets 32, 64, 128", "",
           f"Test records per dataset: {', '.join(f'{d} {n}' for d, n in n_rec.items())}. Tables profiled on "
           "the validation split (`cokv-profile --method ssv|baklava|taskkv --utility loglik`; the SSV profile's "
           "convergence is stated below).", "", results_table(sc), ""]
    above, below, n = wins(sc)
    md.append(f"Against uniform at the same budget ({n} comparisons): "
              f"{len(above)} significantly above ({'; '.join(above) or 'none'}), "
              f"{len(below)} significantly below ({'; '.join(below) or 'none'}); the rest within noise.")
    summ = f"{out}/{c}/ssv/summary.json"
    if have(summ):
        s = load(summ)
        md.append("")
        md.append(f"SSV profile: {s['records']} validation records, {s['evaluations']['computed']} evaluations in "
                  f"{hms(int(s['time_s']['total_s']))}; {s.get('convergence_statement', '')}.")
    md.append("")

if chosen:
    c = chosen[0]
    rows = []
    for u in ("loglik", "metric"):
        path = f"{out}/{c}/table2/eval-{u}/scores.json"
        if have(path):
            sc = load(path)
            digits = 4 if u == "loglik" else 2
            full = next(r for r in sc["results"] if r["method"] == "full")
            for r in sc["results"]:
                if r["method"] == "full":
                    continue
                p = next(p for p in r["paired"] if p["against"] == "full")
                rows.append(f"| {u} | {r['method']} | {full['average']:.{digits}f} | {r['average']:.{digits}f} | "
                            f"{p['diff']:+.{digits}f}{ci(p['ci95'], digits if u == 'loglik' else 1)}"
                            f"{' *' if p['excludes_zero'] else ''} |")
    if rows:
        md += [f"## CoKV's Table-2 check on {c}", "",
               "The 10% of KV heads with the lowest SSV keep only the 8-token window (all others the whole "
               "prompt), against the 10% highest and 10% drawn at random (seed 42) "
               "(`scripts/study.d/mask_tables.py`, then `cokv-eval run --methods full --tables mask-*.budget.json`).", "",
               "| utility | masked | full cache | masked | difference |", "|---|---|---:|---:|---:|"] + rows + [""]

    tr = f"{out}/{c}/transfer"
    if have(tr):
        md += [f"## Transfer within {c}", "",
               "SSV tables profiled on one dataset, evaluated on each (`cokv-profile --dataset D`).", ""]
        for d in sorted(os.listdir(tr)):
            if d.startswith("eval-") and have(f"{tr}/{d}/scores.json"):
                md += [f"Evaluated on {d[5:]}:", "", results_table(load(f"{tr}/{d}/scores.json")), ""]

    ec = os.environ.get("EST_CATEGORY", "code")
    est = f"{out}/{ec}/estimators"
    if have(est):
        md += [f"## Estimators at equal evaluations ({ec})", "",
               "Two chains each, the same evaluations per chain, "
               f"`--max-records {os.environ.get('EST_RECORDS', '4')}`; agreement = mean |chain 0 - chain 1| over heads, "
               "also relative to the spread (standard deviation over heads) of the estimate, since permutation "
               "Shapley and the SSV estimators target different values.", "",
               "| estimator | evaluations | chain MAE | spread | MAE / spread | time |", "|---|---:|---:|---:|---:|---:|"]
        for e in ("ssv", "regression", "permutation"):
            p = f"{est}/{e}/summary.json"
            if not have(p):
                continue
            s = load(p)
            vals = load(f"{est}/{e}/scores.json")["values"]
            spread = statistics.pstdev(vals)
            mae = s.get("chain_mae")
            rel = f"{mae / spread:.3f}" if mae is not None and spread > 0 else "-"
            md.append(f"| {e} | {s['evaluations']['computed']} | {mae if mae is None else f'{mae:.4f}'} | "
                      f"{spread:.4f} | {rel} | {hms(int(s['time_s']['total_s']))} |")
        md.append("")
        if have(f"{est}/eval/scores.json"):
            md += ["The same three tables on the test records, against full and uniform "
                   "(`cokv-eval run --methods full,uniform --tables estimators/*/*.budget.json`):", "",
                   results_table(load(f"{est}/eval/scores.json")), ""]

with open(doc, "w") as f:
    f.write("\n".join(md) + "\n")
