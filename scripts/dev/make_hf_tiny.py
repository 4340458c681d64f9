#!/usr/bin/env python3
"""Tiny random-weight Hugging Face checkpoints and transformers' outputs on them (golden data
for tests/test_hf_tiny.cpp). Not run by CI: it needs torch, transformers, tokenizers and gguf.

    python3 scripts/dev/make_hf_tiny.py tests/data/hf

Writes, under OUT:
  llama31_tiny/    LlamaForCausalLM, rope_scaling llama3 (all three frequency bands), fp32,
                   untied head, byte-level BPE with Llama-3's split regex, BOS via the
                   post-processor, a Llama-3 chat template
  llama31_tiny.gguf  the same model as llama.cpp's convert_hf_to_gguf.py writes it for llama
                   (Q/K rows permuted to adjacent RoPE pairs, rope_freqs from its llama3
                   formula, tokenizer.ggml.pre = llama-bpe), F32
  mistral_tiny/    MistralForCausalLM, head_dim != hidden / heads, sliding_window 4096, fp16,
                   sharded (index + 3 shards), SentencePiece-style BPE with byte fallback
                   (Prepend + Replace normalizer, as Mistral-7B's tokenizer.json)
  qwen2_tiny/      Qwen2ForCausalLM (q/k/v biases), tied embeddings, bf16, byte-level BPE with
                   Qwen2's split regex and NFC normalizer, ChatML template, two EOS ids in
                   generation_config.json
  metaspace_tokenizer/  the Mistral vocabulary with a Metaspace pre-tokenizer (prepend_scheme
                   first) instead of the normalizer: tokenizer files only
and reference.json in each folder: transformers' fp32 logits over the whole vocabulary at the
last prompt position and greedy continuations (argmax of a full forward per step, eager
attention, no KV cache), token ids of every text case of tests/data/reference/tokens.json
(add_special_tokens=True), chat renderings as ids, and (llama) the rotary inv_freq.
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import transformers
import tokenizers
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
            r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_CHAT = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
               "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
               "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
               "{{ content }}{% endfor %}{% if add_generation_prompt %}"
               "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
CHATML = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
          "{{ '<|im_start|>system\nYou are a tiny test model.<|im_end|>\n' }}{% endif %}"
          "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name three colours."},
     {"role": "assistant", "content": " Red, green, blue. "}, {"role": "user", "content": "Two more?"}],
]
PROMPTS = [
    ("short", "Hello, world!"),
    ("story", "Once upon a time, in a small village by the sea, there lived an old fisherman who "
              "told stories about the tides, the moon and 1234 ships that never came home."),
    ("code", "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n"),
]
N_GREEDY = 12


def corpus():
    """Training text for the tiny tokenizers: the tokenizer test strings, the chat test data and
    the repository README (so common English merges exist)."""
    cases = json.load(open(os.path.join(ROOT, "tests/data/reference/tokens.json")))["cases"]
    texts = [c["text"] for c in cases if "text" in c]
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    return texts + [p[1] for p in PROMPTS] + readme.split("\n\n")


def text_cases():
    cases = json.load(open(os.path.join(ROOT, "tests/data/reference/tokens.json")))["cases"]
    return [(c["name"], c["text"]) for c in cases if "text" in c]


def byte_level_tokenizer(split_re, specials, vocab_size, nfc):
    tok = Tokenizer(models.BPE(ignore_merges=(split_re == LLAMA3_RE)))
    if nfc:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split_re), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    return tok


def metaspace_vocab(vocab_size):
    """SentencePiece-style BPE (Llama-2 / Mistral layout: <unk>, <s>, </s>, <0x00>..<0xFF>, then
    merges' tokens), trained with a small alphabet so byte fallback is exercised."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"],
                                  limit_alphabet=90, show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    model = json.loads(tok.to_str())["model"]
    trained = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for t, _ in trained:
        if t not in vocab:
            vocab[t] = len(vocab)
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return vocab, merges


def metaspace_tokenizer(vocab, merges, variant):
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    if variant == "normalizer":  # Mistral-7B-v0.1 / Llama-2 tokenizer.json
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
        tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
    else:  # newer files: a Metaspace pre-tokenizer
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
        tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return tok


def fast(tok, **kw):
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kw)


def randomize(model, seed, std):
    """Weights large enough that attention and RoPE shape the logits (init std 0.02 would leave
    them flat), norms around 1."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


@torch.no_grad()
def greedy(model, ids):
    """Argmax continuation with a full forward per step (no cache)."""
    out, cur = [], list(ids)
    for _ in range(N_GREEDY):
        logits = model(torch.tensor([cur])).logits[0, -1].double()
        top2 = torch.topk(logits, 2)
        tok = int(top2.indices[0])
        out.append({"token": tok, "runner_up": int(top2.indices[1]),
                    "gap": float(top2.values[0] - top2.values[1])})
        cur.append(tok)
    return out


@torch.no_grad()
def reference(model, tk, chat, extra=None):
    import unicodedata
    ref = {"format": "cokv.hf-reference.v1", "transformers_version": transformers.__version__,
           "torch_version": torch.__version__, "tokenizers_version": tokenizers.__version__,
           "dtype": "float32", "attn_implementation": "eager", "n_greedy": N_GREEDY, "prompts": [],
           "tokenize": [], "chat": []}
    for name, text in PROMPTS:
        ids = tk(text, add_special_tokens=True)["input_ids"]
        logits = model(torch.tensor([ids])).logits[0, -1]
        ref["prompts"].append({"name": name, "text": text, "ids": ids,
                               "logits": [float(x) for x in logits.tolist()], "greedy": greedy(model, ids)})
    for name, text in text_cases():
        ref["tokenize"].append({"name": name, "text": text, "ids": tk(text, add_special_tokens=True)["input_ids"],
                                "nfc": unicodedata.is_normalized("NFC", text)})
    if chat:
        for conv in CONVERSATIONS:
            ids = tk.apply_chat_template(conv, add_generation_prompt=True, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            ref["chat"].append({"messages": conv, "ids": list(ids),
                                "rendered": tk.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)})
    ref.update(extra or {})
    return ref


def save(out, name, model, tk, ref, dtype, **save_kw):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    model.to(dtype).save_pretrained(d, **save_kw)
    tk.save_pretrained(d)
    for junk in ("special_tokens_map.json",):
        p = os.path.join(d, junk)
        if os.path.exists(p):
            os.remove(p)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    return d


def stored_model(cls, cfg, seed, std, dtype):
    """A random model whose fp32 weights are exactly the values stored in `dtype`."""
    torch.manual_seed(seed)
    m = cls(cfg).eval()
    randomize(m, seed, std)
    with torch.no_grad():  # parameters only: Module.to(dtype) would round the rotary inv_freq buffer too
        for p in m.parameters():
            p.copy_(p.to(dtype).to(torch.float32))
    return m


def make_llama(out):
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok = byte_level_tokenizer(LLAMA3_RE, specials, 700, nfc=False)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 0)])])
    tk = fast(tok, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
    tk.chat_template = LLAMA3_CHAT
    cfg = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=0, eos_token_id=4,
                      rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
                      rope_theta=10000.0, attn_implementation="eager")
    model = stored_model(LlamaForCausalLM, cfg, 1, 0.15, torch.float32)
    inv_freq = [float(x) for x in model.model.rotary_emb.inv_freq.tolist()]
    ref = reference(model, tk, chat=True, extra={"inv_freq": inv_freq})
    d = save(out, "llama31_tiny", model, tk, ref, torch.float32)
    write_llama_gguf(model, tok, cfg, os.path.join(out, "llama31_tiny.gguf"))
    return d


def permute(w, n_head, n_head_kv):
    """convert_hf_to_gguf.py LlamaModel.permute: half-split rows -> adjacent RoPE pairs."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_factors(cfg):
    """convert_hf_to_gguf.py LlamaModel.generate_extra_tensors (rope_type llama3)."""
    rp = cfg.rope_parameters if hasattr(cfg, "rope_parameters") and cfg.rope_parameters else cfg.rope_scaling
    base = rp.get("rope_theta", 10000.0)
    dim = cfg.head_dim
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factor, low, high = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"]
    old = rp["original_max_position_embeddings"]
    low_wl, high_wl = old / low, old / high
    out = []
    for f in freqs:
        wl = 2 * math.pi / f
        if wl < high_wl:
            out.append(1)
        elif wl > low_wl:
            out.append(factor)
        else:
            smooth = (old / wl - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def write_llama_gguf(model, tok, cfg, path):
    """The tensors and keys llama.cpp's converter writes for a Llama-3.1-style checkpoint."""
    import gguf
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("llama31_tiny")
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_dimension_count(cfg.head_dim)
    w.add_vocab_size(cfg.vocab_size)
    vocab = json.loads(tok.to_str())
    tokens = [None] * tok.get_vocab_size()
    for t, i in vocab["model"]["vocab"].items():
        tokens[i] = t
    types = [1] * len(tokens)
    for a in vocab["added_tokens"]:
        tokens[a["id"]] = a["content"]
        types[a["id"]] = 3 if a["special"] else 4
    merges = [m if isinstance(m, str) else " ".join(m) for m in vocab["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(0)
    w.add_eos_token_id(4)
    w.add_add_bos_token(True)
    w.add_chat_template(LLAMA3_CHAT)
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    H, G = cfg.num_attention_heads, cfg.num_key_value_heads
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    w.add_tensor("rope_freqs.weight", llama3_rope_factors(cfg))
    for il in range(cfg.num_hidden_layers):
        p = f"model.layers.{il}."
        b = f"blk.{il}."
        w.add_tensor(b + "attn_norm.weight", sd[p + "input_layernorm.weight"])
        w.add_tensor(b + "attn_q.weight", permute(sd[p + "self_attn.q_proj.weight"], H, H))
        w.add_tensor(b + "attn_k.weight", permute(sd[p + "self_attn.k_proj.weight"], H, G))
        w.add_tensor(b + "attn_v.weight", sd[p + "self_attn.v_proj.weight"])
        w.add_tensor(b + "attn_output.weight", sd[p + "self_attn.o_proj.weight"])
        w.add_tensor(b + "ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        w.add_tensor(b + "ffn_gate.weight", sd[p + "mlp.gate_proj.weight"])
        w.add_tensor(b + "ffn_up.weight", sd[p + "mlp.up_proj.weight"])
        w.add_tensor(b + "ffn_down.weight", sd[p + "mlp.down_proj.weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    w.add_tensor("output.weight", sd["lm_head.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def make_mistral(out):
    vocab, merges = metaspace_vocab(600)
    tok = metaspace_tokenizer(vocab, merges, "normalizer")
    tk = fast(tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    cfg = MistralConfig(vocab_size=len(vocab), hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                        num_attention_heads=4, num_key_value_heads=1, head_dim=24, max_position_embeddings=512,
                        rms_norm_eps=1e-6, sliding_window=4096, tie_word_embeddings=False, bos_token_id=1,
                        eos_token_id=2, rope_theta=1000000.0, attn_implementation="eager")
    model = stored_model(MistralForCausalLM, cfg, 2, 0.15, torch.float16)
    ref = reference(model, tk, chat=False)
    d = save(out, "mistral_tiny", model, tk, ref, torch.float16, max_shard_size="150KB")
    # The Metaspace variant of the same vocabulary: tokenizer files and reference ids only.
    tok2 = metaspace_tokenizer(vocab, merges, "metaspace")
    tk2 = fast(tok2, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    d2 = os.path.join(out, "metaspace_tokenizer")
    shutil.rmtree(d2, ignore_errors=True)
    tk2.save_pretrained(d2)
    if os.path.exists(os.path.join(d2, "special_tokens_map.json")):
        os.remove(os.path.join(d2, "special_tokens_map.json"))
    ref2 = {"format": "cokv.hf-reference.v1", "tokenizers_version": tokenizers.__version__,
            "tokenize": [{"name": n, "text": t, "ids": tk2(t, add_special_tokens=True)["input_ids"]}
                         for n, t in text_cases()]}
    with open(os.path.join(d2, "reference.json"), "w") as f:
        json.dump(ref2, f, indent=1)
    return d


def make_qwen2(out):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = byte_level_tokenizer(QWEN2_RE, specials, 650, nfc=True)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tk = fast(tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tk.chat_template = CHATML
    cfg = Qwen2Config(vocab_size=tok.get_vocab_size(), hidden_size=48, intermediate_size=112, num_hidden_layers=2,
                      num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=1024,
                      rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
                      bos_token_id=None, eos_token_id=2, rope_theta=1000000.0, attn_implementation="eager")
    model = stored_model(Qwen2ForCausalLM, cfg, 3, 0.15, torch.bfloat16)
    ref = reference(model, tk, chat=True)
    d = save(out, "qwen2_tiny", model, tk, ref, torch.bfloat16)
    gen = {"eos_token_id": [2, 0], "bos_token_id": None, "do_sample": False}
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=1)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for make in (make_llama, make_mistral, make_qwen2):
        d = make(args.out)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"{d}: {size / 1e6:.2f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
