#!/usr/bin/env python3
"""Times llama.cpp (through llama-cpp-python) on the same GGUF and thread count as
`cokv-bench forward`, which runs this script and prints both side by side.

  python llama_reference.py MODEL --threads 2 --prefill 512 2048 --decode-tokens 64 --batch 1 32
  python llama_reference.py MODEL --bin LLAMA_CPP/build/bin ...   (llama.cpp's own tools instead)

Prints one JSON object: prefill tokens/s per length, decode tokens/s per batch size.
Decode at batch B runs B independent sequences (llama_batch with B seq ids) after a
shared-length prompt, one token per sequence per step, as cokv's batched decode does.
"""
import argparse, json, os, subprocess, sys, time


def run_tools(a):
    """The same figures from llama.cpp's own benchmarks (llama-bench for prefill,
    llama-batched-bench for decode: B sequences, each after its own prompt of --decode-prompt
    tokens, one token per sequence per step), for a llama.cpp built from source without Python."""
    def tool(name, *args):
        cmd = [os.path.join(a.bin, name), "-m", a.model, "-t", str(a.threads), *map(str, args)]
        print("running " + " ".join(cmd), file=sys.stderr)
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

    out = {"llama_cpp": "llama-bench + llama-batched-bench", "threads": a.threads, "prefill": {}, "decode": {}}
    rows = json.loads(tool("llama-bench", "-p", ",".join(map(str, a.prefill)), "-n", "0",
                           "-r", a.repeats, "-o", "json"))
    for r in rows:
        out["prefill"][str(r["n_prompt"])] = r["avg_ts"]
        out["build"] = r.get("build_commit", "")
    P, T = a.decode_prompt, a.decode_tokens
    for _ in range(a.repeats):
        text = tool("llama-batched-bench", "-tb", a.threads, "-c", (P + T) * max(a.batch), "-b", 2048,
                    "-ub", 512, "-npp", P, "-ntg", T, "-npl", ",".join(map(str, a.batch)),
                    "--output-format", "jsonl")
        for line in text.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                key = str(r["pl"])
                out["decode"][key] = max(out["decode"].get(key, 0), r["speed_tg"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefill", type=int, nargs="+", default=[512, 2048])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--decode-prompt", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--bin", help="llama.cpp's build/bin (llama-bench, llama-batched-bench): use them, not Python")
    a = ap.parse_args()
    if a.bin:
        json.dump(run_tools(a), sys.stdout)
        print()
        return
    import llama_cpp
    from llama_cpp import llama_cpp as C

    out = {"llama_cpp_python": llama_cpp.__version__, "threads": a.threads, "prefill": {}, "decode": {}}
    llm = llama_cpp.Llama(model_path=a.model, n_ctx=max(a.prefill) + 64, n_batch=2048, n_ubatch=512,
                          n_threads=a.threads, n_threads_batch=a.threads, logits_all=False, verbose=False)
    ctx = llm._ctx.ctx

    def make_ctx(n_ctx, n_seq):
        # Llama() has no n_seq_max argument (its **kwargs swallow it, leaving 1 sequence, so a
        # batch with seq id >= 1 made llama_decode return -1): a context of our own on the same
        # model, with Llama's settings plus n_seq_max. KV not unified: each sequence has
        # n_ctx / n_seq_max cells of its own.
        p = C.llama_context_params.from_buffer_copy(llm.context_params)
        p.n_ctx = n_ctx
        p.n_seq_max = n_seq
        p.kv_unified = False
        c = C.llama_init_from_model(llm._model.model, p)
        assert c, f"llama_init_from_model failed (n_ctx {n_ctx}, n_seq_max {n_seq})"
        return c
    vocab = llm.n_vocab()

    def toks(n, salt):
        return [(1000 + 7919 * (i + salt)) % (vocab - 1000) + 500 for i in range(n)]

    def clear():  # the KV-cache API was renamed across llama.cpp versions
        if hasattr(C, "llama_memory_clear"):
            C.llama_memory_clear(C.llama_get_memory(ctx), True)
        elif hasattr(C, "llama_kv_self_clear"):
            C.llama_kv_self_clear(ctx)
        else:
            C.llama_kv_cache_clear(ctx)

    for n in a.prefill:
        best = None
        for r in range(a.repeats):
            clear()
            t = toks(n, r)
            b = C.llama_batch_init(n, 0, 1)
            for i, tok in enumerate(t):
                b.token[i] = tok; b.pos[i] = i; b.n_seq_id[i] = 1; b.seq_id[i][0] = 0; b.logits[i] = i == n - 1
            b.n_tokens = n
            t0 = time.perf_counter()
            rc = C.llama_decode(ctx, b)
            C.llama_synchronize(ctx)
            dt = time.perf_counter() - t0
            C.llama_batch_free(b)
            assert rc == 0, rc
            best = dt if best is None else min(best, dt)
        out["prefill"][str(n)] = n / best

    for B in a.batch:
      own = None
      try:
          P = a.decode_prompt
          own = ctx = make_ctx((P + a.decode_tokens + 16) * B, B)
          clear()
          # prompts: one shared-length prompt per sequence (prefilled, not timed)
          for s in range(B):
              b = C.llama_batch_init(P, 0, 1)
              for i, tok in enumerate(toks(P, s)):
                  b.token[i] = tok; b.pos[i] = i; b.n_seq_id[i] = 1; b.seq_id[i][0] = s; b.logits[i] = i == P - 1
              b.n_tokens = P
              rc = C.llama_decode(ctx, b)
              assert rc == 0, f"prompt of seq {s}: llama_decode returned {rc}"
              C.llama_batch_free(b)
          b = C.llama_batch_init(B, 0, 1)
          t0 = time.perf_counter()
          for step in range(a.decode_tokens):
              for s in range(B):
                  b.token[s] = toks(1, 31 * step + s)[0]; b.pos[s] = P + step; b.n_seq_id[s] = 1
                  b.seq_id[s][0] = s; b.logits[s] = 1
              b.n_tokens = B
              rc = C.llama_decode(ctx, b)
              assert rc == 0, f"decode step {step}: llama_decode returned {rc}"
          C.llama_synchronize(ctx)
          dt = time.perf_counter() - t0
          C.llama_batch_free(b)
          out["decode"][str(B)] = B * a.decode_tokens / dt
      except AssertionError as e:  # recorded, not fatal: the other numbers still count
          out["decode"][str(B)] = {"error": str(e)}
      finally:
          if own:
              C.llama_free(own)

    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
