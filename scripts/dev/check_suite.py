#!/usr/bin/env python3
"""check_suite.py: dev check of the local suite with the default model, outside cokv.

Runs SmolLM2-135M-Instruct (GGUF, through llama-cpp-python) with the full KV cache on a few
records per dataset of a suite built by datasets/build_suite.py, scores the predictions with
a small Python port of the LongBench metrics and prints one score per dataset (100 x mean), so
the generators can be tuned until a 135M model scores clearly above zero but below 100.
Greedy decoding, the dataset's max new tokens, LongBench pred.py conventions (middle
truncation, first-line cut for trec/triviaqa/samsum-like datasets); prompts raw (as CoKV runs
them) or wrapped in the model's ChatML template (--chat, LongBench's default except for
few-shot and code datasets).

    python datasets/build_suite.py OUT --records 10 --min-tokens 1000 --max-tokens 2000
    VENV/bin/python scripts/dev/check_suite.py OUT [--chat] [--records 10] [--datasets a,b]
    VENV/bin/python scripts/dev/check_suite.py OUT --calibrate   (characters per token)

Needs llama-cpp-python (not a cokv dependency); CPU only, n_threads=2.
"""

import argparse
import collections
import difflib
import json
import os
import re
import string
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "datasets"))
import build_suite  # noqa: E402  (CHARS_PER_TOKEN)

DEFAULT_MODEL = os.path.join(os.environ.get("COKV_CACHE", os.path.expanduser("~/.cache/cokv")),
                             "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
CHATML = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
          "Face<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n")


# --- LongBench metrics (metrics.py), ported ------------------------------------------------

def normalize_answer(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def qa_f1(pred, gold, **_):
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    same = sum((collections.Counter(p) & collections.Counter(g)).values())
    if same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


def _lcs_words(x, y):
    n, m = len(x), len(y)
    t = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            t[i][j] = t[i - 1][j - 1] + 1 if x[i - 1] == y[j - 1] else max(t[i - 1][j], t[i][j - 1])
    out, i, j = [], n, m
    while i > 0 and j > 0:
        if x[i - 1] == y[j - 1]:
            out.append(x[i - 1])
            i, j = i - 1, j - 1
        elif t[i - 1][j] > t[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return out


def rouge_l(pred, gold, **_):
    """The `rouge` package's summary-level ROUGE-L F (sentences split on '.', distinct words)."""
    hyp = [" ".join(s.split()) for s in pred.split(".") if len(s) > 0]
    ref = [" ".join(s.split()) for s in gold.split(".") if len(s) > 0]
    hyp = [h for h in hyp if h]
    ref = [r for r in ref if r]
    if not hyp or not ref:
        return 0.0
    m = len({w for s in ref for w in s.split(" ")})
    n = len({w for s in hyp for w in s.split(" ")})
    union, llcs = set(), 0
    for r in ref:
        rw = r.split(" ")
        su = set()
        for h in hyp:
            su |= set(_lcs_words(rw, h.split(" ")))
        llcs += len(union | su) - len(union)
        union |= su
    r_, p_ = llcs / m, llcs / n
    return 2.0 * p_ * r_ / (p_ + r_ + 1e-8)


def classification(pred, gold, all_classes=None, **_):
    matches = [c for c in all_classes if c in pred]
    for term in matches:  # sic: removing while iterating, as the reference does
        if term in gold and term != gold:
            matches.remove(term)
    return 1.0 / len(matches) if gold in matches else 0.0


def retrieval(pred, gold, **_):
    gid = re.findall(r"Paragraph (\d+)", gold)[0]
    nums = re.findall(r"\d+", pred)
    return 0.0 if not nums else sum(n == gid for n in nums) / len(nums)


def count(pred, gold, **_):
    nums = re.findall(r"\d+", pred)
    return 0.0 if not nums else sum(n == str(gold) for n in nums) / len(nums)


def code_sim(pred, gold, **_):
    line = ""
    for ln in pred.lstrip("\n").split("\n"):
        if "`" not in ln and "#" not in ln and "//" not in ln:
            line = ln
            break
    if not line or not gold:
        return 0.0
    return int(round(100 * difflib.SequenceMatcher(None, line, gold).ratio())) / 100


METRICS = {"qa_f1": qa_f1, "rouge_l": rouge_l, "classification": classification,
           "retrieval": retrieval, "count": count, "code_sim": code_sim}


# --- running ---------------------------------------------------------------------------------

def load(suite, name, n):
    with open(os.path.join(suite, "data", name + ".jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


def truncate_middle(llm, prompt, max_len):
    toks = llm.tokenize(prompt.encode(), add_bos=False, special=False)
    if len(toks) <= max_len:
        return prompt, len(toks)
    half = max_len // 2
    text = (llm.detokenize(toks[:half]).decode("utf-8", "ignore") +
            llm.detokenize(toks[-half:]).decode("utf-8", "ignore"))
    return text, max_len


def calibrate(llm, suite, names, n):
    for name in names:
        chars = toks = 0
        for r in load(suite, name, n):
            chars += len(r["context"])
            toks += len(llm.tokenize(r["context"].encode(), add_bos=False, special=False))
        print("%-24s %.3f chars/token over %d tokens (builder assumes %.2f)" % (
            name, chars / toks, toks, build_suite.CHARS_PER_TOKEN[name]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("suite")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--records", type=int, default=10)
    ap.add_argument("--datasets", default=None)
    ap.add_argument("--chat", action="store_true", help="wrap prompts in the ChatML template")
    ap.add_argument("--max-length", type=int, default=3500, help="prompt truncation (tokens)")
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--show", type=int, default=2, help="predictions to print per dataset")
    ap.add_argument("--json", default=None, help="write per-dataset scores here")
    args = ap.parse_args()

    # spinning OpenMP workers stall badly on a shared 2-core machine
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from llama_cpp import Llama
    cfg = {k: json.load(open(os.path.join(args.suite, "config", k + ".json")))
           for k in ("dataset2prompt", "dataset2maxlen", "dataset2metric", "dataset2style")}
    names = args.datasets.split(",") if args.datasets else list(cfg["dataset2prompt"])
    llm = Llama(model_path=args.model, n_ctx=args.max_length + 160, n_threads=2, n_batch=512,
                flash_attn=True, verbose=False, vocab_only=args.calibrate)
    if args.calibrate:
        calibrate(llm, args.suite, names, args.records)
        return 0
    results = {}
    for name in names:
        t0 = time.time()
        tpl, maxlen = cfg["dataset2prompt"][name], cfg["dataset2maxlen"][name]
        metric, style = METRICS[cfg["dataset2metric"][name]], cfg["dataset2style"][name]
        scores, ntoks = [], []
        for k, r in enumerate(load(args.suite, name, args.records)):
            prompt, nt = truncate_middle(llm, tpl.format(context=r["context"], input=r["input"]),
                                         args.max_length)
            ntoks.append(nt)
            if args.chat:
                prompt = CHATML.format(prompt=prompt)
            llm.reset()
            out = llm.create_completion(prompt, max_tokens=maxlen, temperature=0.0, top_k=1,
                                        top_p=1.0, repeat_penalty=1.0, seed=0)
            pred = out["choices"][0]["text"]
            if style["first_line"]:
                pred = pred.lstrip("\n").split("\n")[0]
            s = max(metric(pred, g, all_classes=r["all_classes"]) for g in r["answers"])
            scores.append(s)
            if k < args.show:
                print("  [%s] %.2f gold=%r pred=%r" % (name, s, r["answers"][0][:80], pred[:120]),
                      flush=True)
        results[name] = round(100 * sum(scores) / len(scores), 2)
        print("%-24s %6.2f   (%d records, prompts %d-%d tokens, %.0f s)" % (
            name, results[name], len(scores), min(ntoks), max(ntoks), time.time() - t0), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
