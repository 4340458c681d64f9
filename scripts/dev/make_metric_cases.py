#!/usr/bin/env python3
"""Edge-case golden data for cokv's LongBench metrics, scored by the real Python code.

Writes tests/data/longbench/metric_cases.jsonl: one JSON object per line with dataset, pred,
answers, all_classes, expected (per-record score, 0..1), note, and for some ROUGE-L cases
max_recursion (see below). Usage (a LongBench checkout provides metrics.py):

  pip install rouge==1.0.1 fuzzywuzzy==0.18.0      # NOT python-Levenshtein: LongBench runs
                                                    # fuzzywuzzy on difflib
  python3 scripts/dev/make_metric_cases.py --longbench PATH/TO/LongBench \
      [--check tests/data/longbench/longbench_metric_pairs.jsonl] \
      > tests/data/longbench/metric_cases.jsonl

Scoring follows eval.py's scorer: trec/triviaqa/samsum predictions are cut to their first line
(pred.lstrip('\\n').split('\\n')[0]), then the max over answers of metrics.py's metric,
starting from 0.

ROUGE-L and Python's recursion limit: the rouge package rebuilds every LCS recursively, so a
pair of sentences whose traceback is deeper than the interpreter allows raises RecursionError,
which metrics.rouge_score() catches and scores 0.0. How deep that is depends on the call stack
above the scorer: under eval.py (scorer() called at module level, recursion limit 1000,
CPython 3.11) 991 frames of rouge_score's _recon fit. This script sets the recursion limit
(calibrated against its own call depth) so that exactly `max_recursion` _recon frames fit (991 unless the record says otherwise;
0 = no limit, the mathematically intended score).
"""
import argparse
import json
import random
import sys
import threading
import types

DEFAULT_MAX_RECURSION = 991

M = None  # LongBench's metrics module

FIRST_LINE = {"trec", "triviaqa", "samsum", "lsht"}


def metric_for(dataset):
    return {
        "narrativeqa": M.qa_f1_score, "qasper": M.qa_f1_score, "multifieldqa_en": M.qa_f1_score,
        "hotpotqa": M.qa_f1_score, "2wikimqa": M.qa_f1_score, "musique": M.qa_f1_score,
        "gov_report": M.rouge_score, "qmsum": M.rouge_score, "multi_news": M.rouge_score,
        "trec": M.classification_score, "triviaqa": M.qa_f1_score, "samsum": M.rouge_score,
        "passage_count": M.count_score, "passage_retrieval_en": M.retrieval_score,
        "lcc": M.code_sim_score, "repobench-p": M.code_sim_score,
    }[dataset]


_REL = 0  # calibrated: recursion limit = caller depth + _REL + wanted _recon frames


def _depth():
    f, n = sys._getframe(1), 0
    while f is not None:
        n += 1
        f = f.f_back
    return n


def _call_metric(fn, pred, gold, all_classes, max_recursion=DEFAULT_MAX_RECURSION):
    if fn is M.rouge_score:
        sys.setrecursionlimit(_depth() + _REL + max_recursion if max_recursion > 0 else 1_000_000)
    try:
        return fn(pred, gold, all_classes=all_classes)
    finally:
        sys.setrecursionlimit(10_000)


def _frames_that_fit(budget):
    """Largest k+1 such that a diagonal LCS traceback of k steps scores non-zero."""
    lo, hi = 1, budget + 50
    while lo < hi:
        mid = (lo + hi + 1) // 2
        s = " ".join(["w"] * mid)
        if _call_metric(M.rouge_score, s, s, None, budget) > 0:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1


def _calibrate():
    global _REL
    _REL = 0
    _REL = 300 - _frames_that_fit(300)
    got = _frames_that_fit(DEFAULT_MAX_RECURSION)
    assert got == DEFAULT_MAX_RECURSION, got
    return _REL


def score(dataset, pred, answers, all_classes, max_recursion=DEFAULT_MAX_RECURSION):
    fn = metric_for(dataset)
    if dataset in FIRST_LINE:
        pred = pred.lstrip("\n").split("\n")[0]
    best = 0.0
    for gold in answers:
        best = max(best, _call_metric(fn, pred, gold, all_classes, max_recursion))
    return best


def sm_ratio(a, b, autojunk):
    import difflib
    return difflib.SequenceMatcher(None, a, b, autojunk=autojunk).ratio()


TREC = ["Abbreviation", "Animal", "Organ of body", "Body", "City", "Country", "Date", "Description",
        "Definition of something", "Definition", "Number of something", "Number", "Other",
        "Other location", "Location", "Individual", "Human being", "Sport", "Color"]


def words(rng, n, vocab):
    return " ".join(rng.choice(vocab) for _ in range(n))


def cases():
    rng = random.Random(20240601)
    vocab = ["the", "a", "an", "ship", "captain", "harbor", "peace", "treaty", "Paris", "Zürich",
             "naïve", "東京", "ΟΔΟΣ", "İstanbul", "x=1;", "it's", "don't", "42", "٣", "３"]
    out = []

    def add(dataset, pred, answers, note, all_classes=None, max_recursion=None):
        rec = {"dataset": dataset, "pred": pred, "answers": answers, "all_classes": all_classes}
        mr = DEFAULT_MAX_RECURSION if max_recursion is None else max_recursion
        rec["expected"] = score(dataset, pred, answers, all_classes, mr)
        if max_recursion is not None:
            rec["max_recursion"] = max_recursion
        rec["note"] = note
        out.append(rec)

    # ---- empty strings, every metric
    for d in ["narrativeqa", "gov_report", "passage_count", "lcc", "triviaqa", "samsum"]:
        add(d, "", ["5"], "empty prediction")
        add(d, "5", [""], "empty gold")
        add(d, "", [""], "both empty")
    add("passage_retrieval_en", "", ["Paragraph 3"], "empty prediction")
    add("trec", "", ["Location"], "empty prediction", TREC)
    add("lcc", "\n\n", ["x = 1"], "only newlines: no line survives")
    add("qasper", "...", ["a. the. an."], "punctuation and articles only")
    add("qmsum", "...", ["summary"], "rouge: only dots -> no sentence -> 0")
    add("qmsum", "  .  . x", [". x ."], "rouge: whitespace-only sentences become the word ''")

    # ---- unicode: lowercasing, punctuation, whitespace, articles
    add("narrativeqa", "ΟΔΟΣ ΣΑΣ Σ", ["οδος σας σ", "οδοσ σασ σ"], "final sigma in str.lower()")
    add("narrativeqa", "ΟΔΟΣ.", ["οδος"], "final sigma before punctuation")
    add("narrativeqa", "İstanbul DŽungla ǅ", ["i̇stanbul džungla ǆ"], "İ lowers to two code points; titlecase")
    add("hotpotqa", "“quoted” — dash… ¿qué? «x»", ["quoted dash qué x"], "non-ASCII punctuation is kept")
    add("hotpotqa", "a\u3000b\u00a0c\u2028d\x1ce\u200bf", ["a b c d e\u200bf"], "unicode whitespace; ZWSP is not")
    add("2wikimqa", "the\u0301 cat a_b an't THE An", ["cat"], "articles: a combining mark ends a word; a_b loses its _ (ASCII punctuation)")
    add("musique", "Straße STRASSE ﬁ", ["strasse straße fi"], "ß and ligatures unchanged by lower()")
    add("qasper", "a cat cat cat", ["cat cat the"], "qa_f1 counts a multiset overlap")
    add("gov_report", "Pi is 3.14. It is. It is", ["pi is 3. 14 it is"], "rouge splits inside numbers")
    add("triviaqa", "\n\nThe Answer\nsecond line", ["answer"], "first-line cut after leading newlines")
    add("triviaqa", "\r\nanswer\r\nmore", ["answer"], "first-line cut keeps \\r")

    # ---- numbers: re's \d is Unicode-aware
    add("passage_count", "٣ 3 ３ ³ 33", ["3"], "Arabic-Indic and fullwidth digits are separate numbers; superscript is no digit")
    add("passage_count", "٣٣ and ٣", ["٣"], "non-ASCII gold count")
    add("passage_count", "007 7 7.0", ["7"], "leading zeros differ")
    add("passage_retrieval_en", "Paragraph ٣ and 3", ["Paragraph ٣"], "non-ASCII paragraph id")
    add("passage_retrieval_en", "12 Paragraph 12", ["Paragraph x Paragraph 12 Paragraph 4"], "first Paragraph N wins")
    add("passage_retrieval_en", "no numbers here", ["Paragraph 1"], "no numbers -> 0")

    # ---- classification quirks
    add("trec", "Number of something and Number", ["Number"], "substring of gold removed", TREC)
    add("trec", "Other location Location Other", ["Other location"], "remove-while-iterating skip", TREC)
    add("trec", "Definition of something Definition Description", ["Definition of something"],
        "two substrings of gold in a row: the second is skipped", TREC)
    add("trec", "Location Location", ["Location"], "duplicate class names", TREC + ["Location"])
    add("trec", "anything", ["Other"], "empty class name always matches", TREC + [""])
    add("trec", "City\nCountry", ["Country"], "first line only", TREC)

    # ---- code_sim: difflib details
    add("lcc", "# comment\n// c\n`x`\n  return a+b;", ["return a + b;"], "skip lines with # // `")
    add("repobench-p", "abcdefgh", ["abcdefgh"], "identical")
    # ratio 2/16 = 0.125 -> 12.5 -> round half to even -> 12
    add("lcc", "abcdefgx", ["yzzzzzzb"][:1], "ratio 0.125: 12.5 rounds to 12")
    add("lcc", "aaaxxxxx", ["aaayyyyy"], "ratio 0.375: 37.5 rounds to 38")
    long_gold = "".join(rng.choice("ab c") for _ in range(450))
    long_pred = "".join(rng.choice("abc d") for _ in range(300))
    add("lcc", long_pred, [long_gold], "autojunk: gold of 450 chars, popular chars dropped")
    add("lcc", long_gold, [long_pred], "autojunk on the other side")
    add("repobench-p", "x" * 199 + "y", ["x" * 250 + "y"], "autojunk with one popular element")
    pred, gold = "a" * 100 + "xyz", "xyz" + "a" * 207
    assert sm_ratio(pred, gold, True) != sm_ratio(pred, gold, False)
    add("lcc", pred, [gold], "autojunk changes the score: only x, y, z seed matches")
    code_line = "self.assertEqual(response.status_code, 200)  and more text " * 6
    add("repobench-p", code_line[:-7], [code_line], "long similar lines")
    add("lcc", "naïve = 東京 + 😀", ["naive = 東京 + 😀"], "code points, not bytes")

    # ---- long texts
    vocab_long = vocab + ["w%d" % i for i in range(300)]
    long_a = words(rng, 6000, vocab_long)
    long_b = words(rng, 4000, vocab_long)
    add("narrativeqa", long_a, [long_b], "qa_f1 on 6000 vs 4000 words")
    summ_a = ". ".join(words(rng, rng.randint(5, 40), vocab_long) for _ in range(40))
    summ_b = ". ".join(words(rng, rng.randint(5, 40), vocab_long) for _ in range(30))
    add("gov_report", summ_a, [summ_b], "rouge_l on 40 vs 30 sentences")
    add("multi_news", summ_b, [summ_a, summ_b[:200]], "rouge_l best over answers")

    # ---- very long sentences: the recursion limit of the reference
    s = " ".join(["w"] * 990)
    add("gov_report", s, [s], "diagonal traceback of 990 steps: 991 frames fit")
    s = " ".join(["w"] * 991)
    add("gov_report", s, [s], "991 steps: RecursionError in the reference -> 0")
    add("gov_report", s, [s], "same without the limit", max_recursion=0)
    add("gov_report", "x " * 989 + "w", ["y w"], "no-match walk of 990 steps: fits")
    add("gov_report", "x " * 990 + "w", ["y w"], "no-match walk of 991 steps: RecursionError -> 0")
    la = words(rng, 700, vocab_long)
    lb = words(rng, 600, vocab_long)
    add("qmsum", la, [lb], "700 x 600 word sentences: the traceback is too deep")
    add("qmsum", la, [lb], "700 x 600 word sentences, no limit", max_recursion=0)
    lc = words(rng, 2000, vocab_long)
    ld = words(rng, 1500, vocab_long)
    add("qmsum", lc, [ld], "2000 x 1500 word sentences, no limit", max_recursion=0)
    add("samsum", "\n" + la[:3000] + "\nignored", [lb[:2000]], "samsum first line, long")
    return out


def check(path):
    bad = 0
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            got = score(r["dataset"], r["pred"], r["answers"], r["all_classes"])
            n += 1
            if abs(got - r["expected"]) > 1e-12:
                bad += 1
                print("MISMATCH", r, got, file=sys.stderr)
    print(f"check: {n} records, {bad} mismatches", file=sys.stderr)
    return bad == 0


def main():
    global M
    ap = argparse.ArgumentParser()
    ap.add_argument("--longbench", required=True, help="LongBench checkout holding metrics.py")
    ap.add_argument("--check", help="re-score a golden file and compare with its `expected`")
    args = ap.parse_args()
    try:
        import jieba  # noqa: F401  (only the Chinese metrics use it)
    except ImportError:
        sys.modules["jieba"] = types.ModuleType("jieba")
    try:
        import Levenshtein  # noqa: F401
        sys.exit("python-Levenshtein is installed: fuzzywuzzy would not use difflib")
    except ImportError:
        pass
    sys.path.insert(0, args.longbench)
    import metrics
    M = metrics
    print(f"recursion limit offset: {_calibrate()}", file=sys.stderr)
    if args.check and not check(args.check):
        sys.exit(1)
    for rec in cases():
        print(json.dumps(rec, ensure_ascii=False))


if __name__ == "__main__":
    threading.stack_size(512 * 1024 * 1024)  # deep recursion for the no-limit ROUGE cases
    t = threading.Thread(target=main)
    t.start()
    t.join()
