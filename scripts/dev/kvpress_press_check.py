#!/usr/bin/env python3
"""Runs cokv tables through kvpress's own pipeline on the default model and records, per KV head,
the prompt tokens each press kept against the table (not CI: needs torch, transformers, kvpress
and gguf, and build/cokv-profile; about 4 CPU-minutes, 10 minutes wall on a shared 2-core machine).

    python3 scripts/dev/kvpress_press_check.py [--table T.budget.json] [--out RESULT.json]

Presses: CokvPress (python/, SnapKV scorer) at each of the table's mean budgets, and kvpress's
LUKVPress, DuoAttentionPress and PerLayerCompressionPress fed the files `cokv-profile export`
writes at the prompt's length (the README's examples). Counts are read from what kvpress acts on:
module.masked_key_indices for the head-wise presses, the cache length for the per-layer one
(prefill only: that press needs flash attention to decode).
The result file records the kept counts, the table's min(budget, prompt) and whether they match.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from importlib import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python", "src"))
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from kvpress import DuoAttentionPress, LUKVPress, PerLayerCompressionPress, SnapKVPress  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, pipeline  # noqa: E402

import cokv  # noqa: E402
from cokv.press import CokvPress  # noqa: E402


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def masked_kept(model, seq_len):
    """[layers, kv_heads] prompt tokens not masked by the press (kvpress's attention patch input)."""
    layers = model.model.layers
    n_kv = model.config.num_key_value_heads
    kept = np.full((len(layers), n_kv), seq_len, dtype=np.int64)
    for il, layer in enumerate(layers):
        idx = getattr(layer.self_attn, "masked_key_indices", None)
        if idx is not None:
            heads = idx[1].cpu().numpy()
            kept[il] -= np.bincount(heads, minlength=n_kv)
    return kept


def run(pipe, model, context, question, press):
    for layer in model.model.layers:  # no stale masks from the previous press
        layer.self_attn.masked_key_indices = None
    return pipe(context, question=question, press=press, max_new_tokens=12)["answer"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", default=os.path.join(ROOT, "tests/data/tables/synthetic.cokv-ssv.budget.json"))
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/cokv/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--record", default=os.path.join(ROOT, "tests/data/profile/data/passkey.jsonl"))
    ap.add_argument("--cokv-profile", default=os.path.join(ROOT, "build/cokv-profile"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs/kvpress_press_check.json"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()

    table = cokv.load_table(args.table)
    model_dir, model_file = os.path.split(args.model)
    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=model_file)
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=model_file, dtype=torch.float32,
                                                 attn_implementation="sdpa")
    pipe = pipeline("kv-press-text-generation", model=model, tokenizer=tok, device="cpu")
    with open(args.record) as f:
        rec = json.loads(f.readline())
    context, question = rec["context"], rec["input"]
    seq_len = pipe.preprocess(context, [question], "", 10**9)["context_ids"].shape[1]

    # A short prompt too: the record's first 400 characters (some budgets then exceed the prompt).
    short = context[:400]
    short_len = pipe.preprocess(short, [question], "", 10**9)["context_ids"].shape[1]
    results = []

    def record(name, mean, prompt, kept, want, answer, expect_equal=True, table_is="min(budget, prompt)", **extra):
        equal = bool((kept == want).all())
        results.append({"press": name, "mean_budget": mean, "prompt_tokens": int(prompt), "table_is": table_is,
                        "expect_equal": expect_equal, "kept_equal_table": equal,
                        "max_abs_diff": int(np.abs(kept - want).max()), "min_kept": int(kept.min()),
                        "kept": kept.tolist(), "table": want.tolist(), "answer": answer, **extra})
        print(f"{name:<36} mean {mean:>4} prompt {prompt}: kept == table: {equal}, max |diff| "
              f"{int(np.abs(kept - want).max())}, kept mean {kept.mean():.2f} vs {want.mean():.2f}, min {kept.min()}")

    # CokvPress: the table's budgets, min(b, prompt) per head; positions as cokv.keep_mask picks them.
    for text, n in ((context, seq_len), (short, short_len)):
        for mean in table.means:
            press = CokvPress.from_table(table, mean, record=True)
            answer = run(pipe, model, text, question, press)
            same_positions = all(
                np.array_equal(mask, cokv.keep_mask(scores, table.budgets(mean)[il], table.window, table.sink))
                for il, (scores, mask) in press.records.items())
            record("CokvPress (SnapKV scores)", int(mean), n, masked_kept(model, n),
                   np.minimum(table.budgets(mean), n), answer, kept_positions_equal_keep_mask=same_positions)

    # kvpress's own presses on `cokv-profile export --reference-length <prompt>`.
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([args.cokv_profile, "export", args.table, "--out", out, "--reference-length", str(seq_len)],
                       check=True, capture_output=True)
        with open(os.path.join(out, "exports.json")) as f:
            manifest = json.load(f)
        lukv = next(e for e in manifest["files"] if e["file"] == "lukv_curve.npy")
        curve = np.load(os.path.join(out, "lukv_curve.npy"))
        def lukv_press(curve, ratio):
            press = LUKVPress(press=SnapKVPress(window_size=table.window), compression_ratio=ratio,
                              sink=table.sink, window=table.window)
            press._budget_curves = curve  # instead of kvpress's download by model name
            return press

        for tab in lukv["tables"]:
            answer = run(pipe, model, context, question, lukv_press(curve, tab["compression_ratio"]))
            record("LUKVPress (lukv_curve.npy)", tab["mean_budget"], seq_len, masked_kept(model, seq_len),
                   np.minimum(table.budgets(tab["mean_budget"]), seq_len), answer)
        # The short prompt with the same curve: kvpress scales every count by short / reference,
        # the window too (documented); --lukv-min-length short keeps every head's window.
        floored_dir = os.path.join(out, "floored")
        subprocess.run([args.cokv_profile, "export", args.table, "--out", floored_dir, "--reference-length",
                        str(seq_len), "--lukv-min-length", str(short_len)], check=True, capture_output=True)
        floored = np.load(os.path.join(floored_dir, "lukv_curve.npy"))
        for name, c in (("LUKVPress, short prompt", curve), ("LUKVPress, short, --lukv-min-length", floored)):
            for tab in lukv["tables"]:
                answer = run(pipe, model, short, question, lukv_press(c, tab["compression_ratio"]))
                record(name, tab["mean_budget"], short_len, masked_kept(model, short_len),
                       np.minimum(table.budgets(tab["mean_budget"]), short_len), answer, expect_equal=False)

        for k, mean in enumerate(table.means):
            d = os.path.join(out, f"duo_attention.{int(mean)}")
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
            scores = np.clip(np.loadtxt(os.path.join(d, "full_attention_heads.tsv"), delimiter="\t"), 0, 1)
            DuoAttentionPress.load_attention_pattern = staticmethod(
                lambda model, c=cfg, s=scores: (c["sink_size"], c["recent_size"], s))
            press = DuoAttentionPress(head_compression_ratio=cfg["head_compression_ratio"])
            answer = run(pipe, model, context, question, press)
            # Duo's budgets: the n_full heads with the largest budgets keep the prompt, the rest sink + recent.
            b = np.minimum(table.budgets(mean), seq_len).ravel()
            want = np.full(b.size, min(cfg["sink_size"] + cfg["recent_size"], seq_len))
            want[np.argsort(-b, kind="stable")[: cfg["n_full_heads"]]] = seq_len
            record("DuoAttentionPress (folder)", int(mean), seq_len, masked_kept(model, seq_len),
                   want.reshape(table.budgets(mean).shape), answer, n_full_heads=cfg["n_full_heads"],
                   table_is="Duo's split of the table: n_full_heads largest budgets whole, others sink + recent",
                   table_memory=int(b.sum()), duo_memory=int(want.sum()))

        with open(os.path.join(out, "layer_budgets.json")) as f:
            layers = json.load(f)
        context_ids = pipe.preprocess(context, [question], "", 10**9)["context_ids"]
        for lv in layers["tables"]:
            # Prefill only: kvpress's PerLayerCompressionPress needs flash attention to decode with
            # layers of different lengths (sdpa's mask does not fit), and flash attention needs a GPU.
            cache = DynamicCache()
            press = PerLayerCompressionPress(SnapKVPress(window_size=table.window),
                                             compression_ratios=lv["kvpress_compression_ratios"])
            with torch.no_grad(), press(model):
                model.model(input_ids=context_ids, past_key_values=cache)
            kept = np.array([cache.get_seq_length(il) for il in range(table.n_layers)])
            record("PerLayerCompressionPress", lv["mean_budget"], seq_len, kept,
                   np.minimum(np.array(lv["max_capacity_prompts"]), seq_len), None, note="prefill only",
                   table_is="layer_budgets.json max_capacity_prompts (the table's layer means)")

    result = {
        "made_with": "python3 scripts/dev/kvpress_press_check.py",
        "table": os.path.relpath(args.table, ROOT),
        "model": {"file": model_file, "sha256": sha256(args.model)},
        "record": os.path.relpath(args.record, ROOT) + ":1",
        "prompt_tokens": int(seq_len),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "kvpress": metadata.version("kvpress"), "python": sys.version.split()[0]},
        "results": results,
    }
    text = json.dumps(result, indent=1)
    # Grids on one line each: [[50,25,71],[48,8,14],...].
    text = re.sub(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]", lambda m: "[" + re.sub(r"\s+", "", m.group(1)) + "]", text)
    text = re.sub(r"\[\s*(\[[-\d,]+\](?:,\s*\[[-\d,]+\])*)\s*\]", lambda m: "[" + re.sub(r"\s+", "", m.group(1)) + "]",
                  text)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    print(args.out)
    return 0 if all(r["kept_equal_table"] for r in results if r["expect_equal"]) else 1


if __name__ == "__main__":
    sys.exit(main())
