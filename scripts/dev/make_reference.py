#!/usr/bin/env python3
"""Reference data from llama.cpp (through llama-cpp-python) for cokv's tokenizer and runtime tests.

Run with a python that has llama-cpp-python (it brings numpy and jinja2):

    python scripts/dev/make_reference.py MODEL.gguf [--out tests/data/reference]
        [--pre-variant NAME=COPY.gguf ...] [--f32-copy MODEL-f32.gguf [--f32-only]]

Writes into --out:
  tokens.json  llama.cpp token ids for many strings (add_special=True, i.e. BOS only where the
               model asks for it, parse_special=True and False), and whether llama.cpp's own
               detokenize round-trips them. With --pre-variant, also the ids under other
               pre-tokenizers: COPY.gguf is MODEL.gguf with tokenizer.ggml.pre changed (made with
               gguf's gguf_new_metadata.py --pre-tokenizer NAME), loaded vocab-only.
  logits.json  for a few prompts: prompt ids, top-20 (id, logit) at the last prompt position, and
               a greedy continuation with the top-2 logit gap at every step.
  chat.json    conversations rendered by the model's own Jinja chat template (jinja2), for the
               ChatTemplate tests.
  logits_f32.json  (with --f32-copy) the same as logits.json, computed by llama.cpp on an F32
               copy of the model (scripts/dev/gguf_to_f32.py) with an F32 KV cache: no 8-bit
               activation rounding, so it is stable to ~1e-5 and comparable to cokv's Fp32
               numerics. --f32-only writes only this file.
Deterministic: n_threads=2, greedy argmax, single sequence, no sampling state.
"""
import argparse
import json
import os
import sys

import numpy as np
import jinja2
import llama_cpp
from llama_cpp import Llama

N_THREADS = 2
N_CTX = 2048
N_BATCH = 512
TOP_K_LOGITS = 20
N_GREEDY = 32

# ---- strings for tokens.json ---------------------------------------------------------------
LONG_PARAGRAPH = (
    "Large language models keep a key-value cache of every token they have seen, one pair of "
    "vectors per token, layer and attention head. For long prompts this cache dominates memory: "
    "a 128k-token context in a 7B model needs tens of gigabytes. Eviction methods keep only the "
    "tokens a head attends to most, and budget allocation decides how many tokens each head may "
    "keep. Heads differ: some look only at the last few tokens, others retrieve facts from far "
    "back, so a uniform budget wastes memory on the first kind and starves the second. "
) * 3

STRINGS = [
    # ASCII basics
    ("hello_world", "Hello world"),
    ("hello_punct", "Hello, world!"),
    ("pangram", "The quick brown fox jumps over the lazy dog."),
    ("lower_word", "hello"),
    ("leading_space_word", " hello"),
    ("upper", "HELLO WORLD"),
    ("single_char", "a"),
    ("empty", ""),
    # whitespace runs
    ("space", " "),
    ("three_spaces", "   "),
    ("tab", "\t"),
    ("tabs_indent", "\t\tindented"),
    ("mixed_ws", " \t mixed \t whitespace \t "),
    ("trailing_spaces", "trailing spaces   "),
    ("many_spaces", "a" + " " * 40 + "b"),
    ("lead_trail", "   leading and trailing   \n"),
    # newlines
    ("lf", "\n"),
    ("crlf", "\r\n"),
    ("three_lf", "\n\n\n"),
    ("lines", "line1\nline2\r\nline3\n\n\nline4"),
    ("ws_newline_mix", "\n\n  \n\t\n"),
    ("cr_only", "a\rb\r\rc"),
    # digits
    ("d1", "1"),
    ("d2", "12"),
    ("d3", "123"),
    ("d7", "1234567"),
    ("numbers_mixed", "3.14159 and 2,718 and -42"),
    ("version", "version 1.2.3-beta"),
    ("phone", "phone: +1 (555) 123-4567"),
    ("fullwidth", "\uff11\uff12\uff13 \uff21\uff22\uff23"),
    ("number_categories", "\u216b \u2153 \u00b2 \u0663\u0664"),
    # contractions
    ("its", "It's"),
    ("contractions", "we're they'll I'd you've I'm she's"),
    ("contractions_upper", "IT'S WE'RE THEY'LL"),
    ("negations", "don't won't can't"),
    ("bare_apostrophes", "'s 're 'll 'd 'x"),
    # accents and scripts
    ("cafe", "caf\u00e9"),
    ("accents", "na\u00efve fa\u00e7ade r\u00e9sum\u00e9"),
    ("umlauts", "\u00dcn\u00efc\u00f6d\u00e9 \u00e4\u00f6\u00fc\u00df"),
    ("combining", "e\u0301 vs \u00e9"),
    ("french", "\u00c7a va? Tr\u00e8s bien! \u00c0 bient\u00f4t."),
    ("japanese", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8"),
    ("chinese", "\u4e2d\u6587\u5b57\u7b26\u6d4b\u8bd5\uff0c\u4f60\u597d\u3002"),
    ("korean", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8"),
    ("russian", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!"),
    ("greek", "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5"),
    ("arabic", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645"),
    ("hebrew", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd"),
    ("hindi", "\u0939\u093f\u0928\u094d\u0926\u0940 \u092a\u093e\u0920"),
    ("thai", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a"),
    ("mixed_scripts", "mixed English \u65e5\u672c\u8a9e and \u0420\u0443\u0441\u0441\u043a\u0438\u0439 123"),
    # emoji
    ("emoji_one", "\U0001f389"),
    ("emoji_run", "Emoji \U0001f600\U0001f603\U0001f604 party \U0001f389\U0001f38a"),
    ("emoji_zwj", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family"),
    ("emoji_flag", "\U0001f1eb\U0001f1f7 flag"),
    ("emoji_skin", "\U0001f44d\U0001f3fd ok"),
    # unusual whitespace / controls
    ("nbsp", "\u00a0nbsp\u00a0space"),
    ("zwsp", "zero\u200bwidth"),
    ("ideographic_space", "\u3000ideographic space"),
    ("nel", "\u0085next line"),
    ("controls", "a\x00b\x01c\x7f"),
    # code and markup
    ("python", "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n"),
    ("c_code", "int main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}"),
    ("json", '{"key": [1, 2, 3], "nested": {"a": null}}'),
    ("html", '<div class="x">Hello &amp; goodbye</div>'),
    ("url", "https://example.com/path?query=1&b=2#frag"),
    ("email", "user.name+tag@example.org"),
    ("list_comp", "x = [i**2 for i in range(10) if i % 2 == 0]"),
    ("identifiers", "CamelCaseIdentifier snake_case_name kebab-case-name"),
    ("markdown", "Markdown **bold** _italic_ `code`\n- item 1\n- item 2"),
    ("tsv", "Tab\tseparated\tvalues\t1\t2"),
    # punctuation and symbols
    ("punct_run", "!!!???...,,,;;;"),
    ("dashes", "-----=====*****"),
    ("dots_word", "...hello..."),
    ("math", "\u2211_{i=1}^{n} x_i\u00b2 \u2264 \u221e \u00b1 \u221a2"),
    ("currency", "\u20ac100 \u00a350 \u00a51000 $5.99"),
    # long words / runs
    ("long_word", "supercalifragilisticexpialidocious"),
    ("longer_word", "pneumonoultramicroscopicsilicovolcanoconiosis"),
    ("a_run", "a" * 64),
    ("A_run", "A" * 300),
    ("base64", "SGVsbG8gV29ybGQhIFRoaXMgaXMgYSB0ZXN0Lg=="),
    ("paragraph", LONG_PARAGRAPH),
    # special tokens inside text
    ("chatml_user", "<|im_start|>user\nHello<|im_end|>\n"),
    ("chatml_full", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"),
    ("endoftext_inline", "text<|endoftext|>more text"),
    ("adjacent_specials", "<|im_start|><|im_end|>"),
    ("partial_special", "<|im_start"),
    ("other_specials", "<filename>main.py<file_sep>"),
    ("reponame", "<reponame>x"),
    ("specials_between", "a<|im_end|>b<|im_end|>c"),
    ("special_spaces", " <|im_start|> user "),
    # where the pre-tokenizers disagree (punctuation before letters or newlines, digit groups)
    ("sentences", "Sentence one.\n\nSentence two!\nDone?\r\n"),
    ("brackets", "(parenthesized) [bracketed] {braced} <angled>"),
    ("ws_before_newline", "x  \n\n\t y\n   \n z"),
    ("quotes", "\"quoted\" 'single' `back`"),
    ("digit_groups", "year 2024, pi 3.14159265, id 0042, 1,000,000"),
    ("letters_digits", "abc123def 4five six7"),
]

# invalid UTF-8, given as bytes (llama.cpp reads each bad byte as U+FFFD)
BYTE_STRINGS = [
    ("invalid_ff", b"\xff\xfeabc"),
    ("truncated_euro", b"abc\xe2\x82"),
    ("lone_continuation", b"x\x80y"),
]

# ---- prompts for logits.json ---------------------------------------------------------------
PLAIN_PROMPTS = [
    ("plain_fox", "The quick brown fox jumps over the lazy dog. The quick brown fox"),
    ("plain_story", "Once upon a time, in a small village by the sea,"),
    ("plain_code", "def fibonacci(n):\n    "),
    ("plain_paragraph", LONG_PARAGRAPH),
]
CHAT_PROMPTS = [
    ("chat_france", [{"role": "user", "content": "What is the capital of France?"}]),
    ("chat_haiku", [{"role": "user", "content": "Write a haiku about the sea."}]),
    ("chat_system", [{"role": "system", "content": "You are a concise assistant."},
                     {"role": "user", "content": "List three primary colors."}]),
    ("chat_multiturn", [{"role": "user", "content": "Hi! My name is Ada."},
                        {"role": "assistant", "content": "Hello Ada! How can I help you today?"},
                        {"role": "user", "content": "What is my name?"}]),
]
# extra conversations for chat.json (rendering only)
CHAT_RENDER_ONLY = [
    ("empty_content", [{"role": "user", "content": ""}]),
    ("assistant_first", [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}]),
    ("whitespace_content", [{"role": "user", "content": "  padded  \n"}]),
]


def render(template, messages, add_generation_prompt, bos, eos):
    env = jinja2.Environment(loader=jinja2.BaseLoader(), trim_blocks=False, lstrip_blocks=False)
    return env.from_string(template).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                            bos_token=bos, eos_token=eos)


def last_logits(llm):
    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float64).copy()


def is_eog(llm, tok):
    return bool(llama_cpp.llama_vocab_is_eog(llama_cpp.llama_model_get_vocab(llm.model), tok))


def greedy(llm, prompt_ids):
    llm.reset()
    llm.eval(prompt_ids)
    logits = last_logits(llm)
    order = np.argsort(-logits, kind="stable")[:TOP_K_LOGITS]
    top = [[int(i), float(logits[i])] for i in order]
    steps = []
    for _ in range(N_GREEDY):
        o2 = np.argsort(-logits, kind="stable")[:2]
        tok = int(o2[0])
        steps.append({"token": tok, "logit": float(logits[o2[0]]),
                      "gap": float(logits[o2[0]] - logits[o2[1]]), "runner_up": int(o2[1])})
        if is_eog(llm, tok):
            break
        llm.eval([tok])
        logits = last_logits(llm)
    return top, steps


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--out", default="tests/data/reference")
    ap.add_argument("--pre-variant", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--f32-copy", metavar="PATH", help="F32 copy of MODEL (gguf_to_f32.py): also write logits_f32.json")
    ap.add_argument("--f32-only", action="store_true", help="write only logits_f32.json")
    args = ap.parse_args()
    if args.f32_only and not args.f32_copy:
        ap.error("--f32-only needs --f32-copy")
    os.makedirs(args.out, exist_ok=True)
    model_file = os.path.basename(args.model)

    llm = Llama(model_path=args.model, n_ctx=N_CTX, n_batch=N_BATCH, n_threads=N_THREADS,
                n_threads_batch=N_THREADS, logits_all=False, seed=0, verbose=False)
    meta = llm.metadata
    template = meta.get("tokenizer.chat_template", "")
    bos_id, eos_id = llm.token_bos(), llm.token_eos()
    bos_text = llm.detokenize([bos_id], special=True).decode("utf-8", "replace") if bos_id >= 0 else ""
    eos_text = llm.detokenize([eos_id], special=True).decode("utf-8", "replace") if eos_id >= 0 else ""
    header = {
        "format_version": 1,
        "model_file": model_file,
        "llama_cpp_python_version": llama_cpp.__version__,
        "n_threads": N_THREADS,
        "tokenizer_pre": meta.get("tokenizer.ggml.pre", ""),
        # llama-cpp-python gives metadata values as strings
        "add_bos_token": {"true": True, "false": False}.get(meta.get("tokenizer.ggml.add_bos_token", ""), None),
        "bos": bos_id,
        "eos": eos_id,
    }

    # ---- tokens.json
    def tok_case(name, data, llm_):
        ids = llm_.tokenize(data, add_bos=True, special=True)
        ids_ns = llm_.tokenize(data, add_bos=True, special=False)
        back = llm_.detokenize(ids, special=True)
        case = {"name": name}
        try:
            case["text"] = data.decode("utf-8", "strict")
        except UnicodeDecodeError:
            case["hex"] = data.hex()
        case["ids"] = ids
        if ids_ns != ids:
            case["ids_no_special"] = ids_ns
        case["llama_roundtrip"] = back == data
        return case

    if args.f32_only:
        write_logits_f32(args, header, template, bos_text, eos_text, llm)
        return
    cases = [tok_case(n, s.encode("utf-8"), llm) for n, s in STRINGS]
    cases += [tok_case(n, b, llm) for n, b in BYTE_STRINGS]
    by_pre = {}
    for spec in args.pre_variant:
        name, path = spec.split("=", 1)
        v = Llama(model_path=path, vocab_only=True, verbose=False)
        got = v.metadata.get("tokenizer.ggml.pre", "")
        assert got == name, f"{path}: tokenizer.ggml.pre is {got!r}, expected {name!r}"
        by_pre[name] = {c["name"]: v.tokenize(s.encode("utf-8"), add_bos=False, special=True)
                        for c, (_, s) in zip(cases, STRINGS)}
        del v
    tokens = dict(header, add_special=True, cases=cases)
    if by_pre:
        tokens["by_pre"] = {"add_special": False, "note": "vocab-only copies of the model with tokenizer.ggml.pre replaced", "ids": by_pre}
    with open(os.path.join(args.out, "tokens.json"), "w", encoding="utf-8") as f:
        json.dump(tokens, f, ensure_ascii=False, indent=0)

    # ---- chat.json (the template, rendered by jinja2)
    chats = []
    for name, msgs in CHAT_PROMPTS + CHAT_RENDER_ONLY:
        for agp in (True, False):
            chats.append({"name": name, "messages": msgs, "add_generation_prompt": agp,
                          "rendered": render(template, msgs, agp, bos_text, eos_text)})
    with open(os.path.join(args.out, "chat.json"), "w", encoding="utf-8") as f:
        json.dump(dict(header, chat_template=template, bos_text=bos_text, eos_text=eos_text, conversations=chats),
                  f, ensure_ascii=False, indent=1)

    # ---- logits.json
    with open(os.path.join(args.out, "logits.json"), "w", encoding="utf-8") as f:
        json.dump(dict(header, n_ctx=N_CTX, n_batch=N_BATCH, top_k=TOP_K_LOGITS, n_greedy=N_GREEDY,
                       prompts=logit_prompts(template, bos_text, eos_text, llm, llm)),
                  f, ensure_ascii=False, indent=1)
    if args.f32_copy:
        write_logits_f32(args, header, template, bos_text, eos_text, llm)


def logit_prompts(template, bos_text, eos_text, tok_llm, run_llm):
    """The logits.json prompts: tokenized by tok_llm, run (prefill + greedy) by run_llm."""
    prompts = []
    for name, text in PLAIN_PROMPTS:
        prompts.append(("plain", name, text, None))
    for name, msgs in CHAT_PROMPTS:
        prompts.append(("chat", name, render(template, msgs, True, bos_text, eos_text), msgs))
    out = []
    for kind, name, text, msgs in prompts:
        ids = tok_llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        top, steps = greedy(run_llm, ids)
        item = {"name": name, "kind": kind, "text": text, "prompt_ids": ids,
                "top_logits": top, "greedy": steps,
                "greedy_text": tok_llm.detokenize([s["token"] for s in steps], special=True).decode("utf-8", "replace")}
        if msgs is not None:
            item["messages"] = msgs
        out.append(item)
        print(f"{name}: {len(ids)} prompt tokens -> {item['greedy_text']!r}", file=sys.stderr)
    return out


def write_logits_f32(args, header, template, bos_text, eos_text, llm):
    """logits_f32.json: llama.cpp on the F32 copy (F32 matmuls) with an F32 KV cache."""
    f32 = Llama(model_path=args.f32_copy, n_ctx=N_CTX, n_batch=N_BATCH, n_threads=N_THREADS,
                n_threads_batch=N_THREADS, logits_all=False, seed=0, verbose=False,
                type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32)
    assert f32.n_vocab() == llm.n_vocab()
    head = dict(header, weights="F32 copy of model_file (scripts/dev/gguf_to_f32.py)", kv_cache_type="f32",
                n_ctx=N_CTX, n_batch=N_BATCH, top_k=TOP_K_LOGITS, n_greedy=N_GREEDY)
    with open(os.path.join(args.out, "logits_f32.json"), "w", encoding="utf-8") as f:
        json.dump(dict(head, prompts=logit_prompts(template, bos_text, eos_text, llm, f32)),
                  f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
