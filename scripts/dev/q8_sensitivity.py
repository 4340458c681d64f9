#!/usr/bin/env python3
"""How much llama.cpp's 8-bit activation rounding makes the logits depend on the last bit.

An independent numpy forward pass of the default model (llama architecture, Q4_1 / Q8_0
weights) that rounds the way llama.cpp's x86 CPU path does: matmul inputs quantised per
32-value block (q = round(x * 127/amax), d = amax/127 in fp16; Q8_1's s = d*sum(q) in fp16 for
the Q4_1 min term), Q, K and V in fp16, softmax probabilities in fp16 before the product with V.
Fed llama.cpp's own inputs (its eval callback), each of these ops reproduced llama.cpp's
output to ~1e-7 relative. The script then multiplies every RMSNorm output by (1 + eps*N(0,1))
and prints how far the top-20 logits move, with that rounding ("ggml") and without the 8-bit
part ("fp32": exact matmuls, fp16 K/V only). See tests/data/reference/README.md.

Usage: python3 scripts/dev/q8_sensitivity.py MODEL.gguf [--prompts plain_fox,chat_france]
       [--eps 1e-7 1e-6] [--seeds 3]        (needs numpy and the gguf package; ~10 s a run)
"""
import argparse
import json
import os

import numpy as np
import gguf

F16 = np.float16
REF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "reference", "logits.json")


class Model:
    def __init__(self, path):
        r = gguf.GGUFReader(path)
        f = {x.name: x.contents() for x in r.fields.values() if not x.name.startswith("tokenizer.ggml.")}
        self.L, self.E = f["llama.block_count"], f["llama.embedding_length"]
        self.H, self.G = f["llama.attention.head_count"], f["llama.attention.head_count_kv"]
        self.D, self.base = self.E // self.H, f["llama.rope.freq_base"]
        self.eps = f["llama.attention.layer_norm_rms_epsilon"]
        self.w = {}
        for t in r.tensors:
            n_in, n_out = int(t.shape[0]), int(t.shape[1]) if len(t.shape) > 1 else 1
            if t.tensor_type.name == "Q4_1":  # keep q*d and the block minimum m apart
                blk = np.asarray(t.data).reshape(n_out, n_in // 32, 20)
                d = blk[:, :, 0:2].copy().view(F16)[..., 0].astype(np.float64)
                m = blk[:, :, 2:4].copy().view(F16)[..., 0].astype(np.float64)
                q = np.concatenate([blk[:, :, 4:] & 0xF, blk[:, :, 4:] >> 4], axis=2).astype(np.float64)
                self.w[t.name] = ("Q4_1", (q * d[..., None]).reshape(n_out, n_in), m)
            else:
                a = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float64)
                self.w[t.name] = (t.tensor_type.name, a.reshape(n_out, n_in) if len(t.shape) > 1 else a)


def q8(x):
    """ggml's quantize_row_q8_1 (x86): the rounded values q*d and s = d*sum(q) per block."""
    b = x.reshape(x.shape[0], -1, 32).astype(np.float32)
    amax = np.abs(b).max(axis=2)
    with np.errstate(divide="ignore"):
        idv = np.where(amax != 0, np.float32(127) / amax, 0).astype(np.float32)
    q = np.rint(b * idv[..., None]).astype(np.float64)
    d32 = (amax / np.float32(127)).astype(np.float32)
    s = (d32.astype(np.float64) * q.sum(axis=2)).astype(np.float32).astype(F16).astype(np.float64)
    d = d32.astype(F16).astype(np.float64)
    return (q * d[..., None]).reshape(x.shape), s


def matmul(m, name, x, ggml):
    w = m.w[name]
    if not ggml:
        return x @ (w[1] + np.repeat(w[2], 32, axis=1)).T if w[0] == "Q4_1" else x @ w[1].T
    xq, s = q8(x)
    return xq @ w[1].T + s @ w[2].T if w[0] == "Q4_1" else xq @ w[1].T


def r16(x):
    return x.astype(F16).astype(np.float64)


def forward(m, ids, ggml, jitter=None):
    T, D, H, G = len(ids), m.D, m.H, m.G

    def rms(x, g):
        y = x / np.sqrt((x * x).mean(axis=1, keepdims=True) + m.eps) * g
        return y * (1 + jitter[0] * jitter[1].standard_normal(y.shape)) if jitter else y

    def rope(x):  # adjacent pairs (llama.cpp's NORM rope type)
        th = np.arange(T)[:, None] * m.base ** (-2.0 * np.arange(D // 2) / D)[None, :]
        c, s = np.cos(th)[:, None, :], np.sin(th)[:, None, :]
        out = np.empty_like(x)
        out[..., 0::2] = x[..., 0::2] * c - x[..., 1::2] * s
        out[..., 1::2] = x[..., 0::2] * s + x[..., 1::2] * c
        return out

    x = m.w["token_embd.weight"][1][np.asarray(ids)].copy()
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for il in range(m.L):
        p = f"blk.{il}."
        xn = rms(x, m.w[p + "attn_norm.weight"][1])
        q = r16(rope(matmul(m, p + "attn_q.weight", xn, ggml).reshape(T, H, D)))
        k = r16(rope(matmul(m, p + "attn_k.weight", xn, ggml).reshape(T, G, D)))
        v = r16(matmul(m, p + "attn_v.weight", xn, ggml).reshape(T, G, D))
        out = np.empty((T, H, D))
        for h in range(H):
            g = h // (H // G)
            sc = q[:, h] @ k[:, g].T / np.sqrt(D) + mask
            pr = np.exp(sc - sc.max(axis=1, keepdims=True))
            pr /= pr.sum(axis=1, keepdims=True)
            out[:, h] = (r16(pr) if ggml else pr) @ v[:, g]
        x = x + matmul(m, p + "attn_output.weight", out.reshape(T, -1), ggml)
        xn = rms(x, m.w[p + "ffn_norm.weight"][1])
        gate = matmul(m, p + "ffn_gate.weight", xn, ggml)
        up = matmul(m, p + "ffn_up.weight", xn, ggml)
        x = x + matmul(m, p + "ffn_down.weight", gate / (1 + np.exp(-gate)) * up, ggml)
    return matmul(m, "token_embd.weight", rms(x[-1:], m.w["output_norm.weight"][1]), ggml)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--prompts", default="plain_fox")
    ap.add_argument("--eps", type=float, nargs="+", default=[1e-7, 1e-6])
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    m = Model(a.model)
    ref = {p["name"]: p for p in json.load(open(REF))["prompts"]}
    for name in a.prompts.split(","):
        ids = ref[name]["prompt_ids"]
        top = [i for i, _ in ref[name]["top_logits"]]
        for ggml in (False, True):
            base = forward(m, ids, ggml)
            for eps in a.eps:
                moves = [np.abs(forward(m, ids, ggml, (eps, np.random.default_rng(s)))[top] - base[top]).max()
                         for s in range(a.seeds)]
                print(f"{name} {'ggml' if ggml else 'fp32'} jitter {eps:.0e}: max |top-20 logit move| per seed "
                      + " ".join(f"{v:.4f}" for v in moves), flush=True)


if __name__ == "__main__":
    main()
