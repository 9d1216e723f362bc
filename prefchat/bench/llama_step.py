"""`prefchat bench llama-step`: what one lockstep decode step of the llama.cpp backend costs with
1, 2, 4, ... rows (one token per sequence), apart from everything else a reply does.

Why it exists: best-of-N on llama.cpp is N sequences decoded in lockstep (prefchat/llm/llama_batch.py),
so its cost against one reply is, to within sampling and the prompt, the cost of an N-row step over
a 1-row step. That ratio is set by the ggml CPU kernel each weight type gets (a 1-row product is
ggml's vec_dot; 2+ rows of Q8_0/Q5_0 go to llamafile's tinyBLAS; Q4_0 is repacked and gets its own
multi-row kernel), so this measures it per row count, with CPU time as well as wall time (on a
shared machine CPU time is the steadier of the two; use OMP_WAIT_POLICY=PASSIVE with several threads
so waiting threads do not count as work). The sampling column is prefchat's own sampler chain on the
step's logits rows, timed apart from the decode.

`--prefill N` also times one N-token prompt decode (the wait before a reply's first token): a
multi-row product too, so it runs the same kernels, and a llama.cpp build choice that helps the
lockstep step (e.g. without llamafile's tinyBLAS) can cost here. The JSON says whether the loaded
llama.cpp was built with llamafile (`llamafile`, from llama.cpp's own system info).
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from typing import Callable

from rich.table import Table

from prefchat.bench.generate import tiny_gguf, weight_types
from prefchat.bench.machine import machine
from prefchat.errors import PrefchatError
from prefchat.llm import GenerationRequest, make_backend

PROMPT_TOKENS = 20
MAX_PREFILL = 2048  # the backend's n_batch: one llama_decode takes at most this many tokens


def measure(model: str | None = None, make_tiny: str | None = None, quant: str = "q8_0",
            rows: str = "1,2,4,8", steps: int = 48, repeats: int = 5, threads: int = 2,
            prefill: int = 0, note: Callable[[str], None] = lambda message: None) -> dict:
    """Cost of one lockstep decode step with 1, 2, 4, ... rows: median wall and CPU ms per step,
    each against the 1-row step, plus the sampling time per step; the dict `--json` prints."""
    if make_tiny:
        model = str(tiny_gguf(make_tiny, quant, model, note))
    if not model:
        raise PrefchatError("give --model PATH or --make-tiny qwen05b|qwen05b-full|tiny")
    try:
        row_counts = sorted({int(r) for r in rows.split(",") if r.strip()})
    except ValueError:
        raise PrefchatError(f"--rows must be comma-separated whole numbers, not {rows!r}") from None
    if not row_counts or row_counts[0] < 1 or steps < 1 or repeats < 1:
        raise PrefchatError("--rows, --steps and --repeats must be at least 1")
    if not 0 <= prefill <= MAX_PREFILL:
        raise PrefchatError(f"--prefill must be 0 (off) to {MAX_PREFILL} tokens, not {prefill}")
    n_ctx = max(PROMPT_TOKENS + max(row_counts) * (steps + 1), prefill) + 64
    b = make_backend("llama", model, n_ctx=n_ctx,
                     max_parallel=max(row_counts), n_threads=threads)
    b.load()
    load_before = os.getloadavg()[0]
    try:
        if prefill > b.n_ctx:  # the model's training context caps the backend's
            raise PrefchatError(f"--prefill {prefill} is longer than this model's context ({b.n_ctx} tokens)")
        results = {k: _time_rows(b, k, steps, repeats) for k in row_counts}
        prefill_out = _time_prefill(b, prefill, repeats) if prefill else None
    finally:
        b.close()
    base = results[row_counts[0]]
    out = {"model": model, "quant": quant if make_tiny else None, "weights": weight_types(model),
           "repacked": b.repacked, "llamafile": _llamafile(),
           "threads": threads, "steps": steps, "repeats": repeats,
           "rows": {str(k): {**r, "wall_ratio": r["wall_ms"] / base["wall_ms"],
                             "cpu_ratio": r["cpu_ms"] / base["cpu_ms"]} for k, r in results.items()},
           "prefill": prefill_out,
           "machine": machine(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
           "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    return out


def report(out: dict) -> list:
    """The table and lines `prefchat bench llama-step` prints (rich renderables)."""
    t = Table(title=f"prefchat bench llama-step ({os.path.basename(out['model'])}, {out['threads']} threads, "
                    f"{out['steps']} steps, median of {out['repeats']})")
    for col in ("rows", "wall ms/step", "CPU ms/step", "wall vs 1 row", "CPU vs 1 row",
                "tokens/s", "sampling ms/step"):
        t.add_column(col, justify="right")
    for k, r in out["rows"].items():
        t.add_row(k, f"{r['wall_ms']:.2f}", f"{r['cpu_ms']:.2f}", f"{r['wall_ratio']:.2f}x",
                  f"{r['cpu_ratio']:.2f}x", f"{int(k) / r['wall_ms'] * 1e3:.0f}",
                  f"{r['sampling_ms']:.3f}")
    return [t, "weight matrices: " + (", ".join(f"{c} {ty}" for ty, c in out["weights"].items())
                                      if out["weights"] else "?")
            + f"; {out['repacked']} repacked by llama.cpp for its multi-row kernel"
            + f"; llamafile sgemm {'on' if out['llamafile'] else 'off'} in this llama.cpp build",
            *([] if not out["prefill"] else [
                f"prefill of {out['prefill']['tokens']} tokens: {out['prefill']['wall_ms']:.1f} ms wall, "
                f"{out['prefill']['cpu_ms']:.1f} ms CPU ({out['prefill']['tokens_per_s']:.0f} tokens/s)"]),
            f"machine: {out['machine']}; 1-min load average before/after: "
            f"{out['loadavg_1min'][0]} / {out['loadavg_1min'][1]}"]


def _llamafile() -> bool:
    """Whether the loaded llama.cpp runs multi-row products in llamafile's tinyBLAS (a build option,
    GGML_LLAMAFILE): its CPU backend lists the feature only when it was compiled in."""
    import llama_cpp as lc

    return "LLAMAFILE = 1" in lc.llama_print_system_info().decode("utf-8", "replace")


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return ru.ru_utime + ru.ru_stime


def _time_rows(b, k: int, steps: int, repeats: int) -> dict:
    """Median ms per step of `k` sequences that share a PROMPT_TOKENS-token prompt, decoding one
    token each per step with a logits row each, as the lockstep loop does."""
    import llama_cpp as lc

    from prefchat.llm.llama_batch import make_sampler

    # The backend's own context: the settings (unified KV cache, threads, batch sizes) under test.
    ctx = b._ctx
    mem = lc.llama_get_memory(ctx)
    batch = lc.llama_batch_init(max(PROMPT_TOKENS, k), 0, 1)
    req = GenerationRequest([{"role": "user", "content": "-"}], n=k, max_tokens=steps,
                            temperature=0.8, seed=1)
    samplers = [make_sampler(req, 1 + j) for j in range(k)]
    n_vocab = lc.llama_vocab_n_tokens(b._vocab)

    def put(tok: int, pos: int, seq: int, logits: bool) -> None:
        i = batch.n_tokens
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = tok, pos, 1
        batch.seq_id[i][0], batch.logits[i] = seq, logits
        batch.n_tokens = i + 1

    def decode() -> None:
        rc = lc.llama_decode(ctx, batch)
        if rc != 0:
            raise PrefchatError(f"llama.cpp decode failed (code {rc}) at {k} rows")

    runs = []
    try:
        for _ in range(repeats):
            lc.llama_memory_clear(mem, True)
            batch.n_tokens = 0
            for i in range(PROMPT_TOKENS):
                put(i % n_vocab, i, 0, i == PROMPT_TOKENS - 1)
            decode()
            for j in range(1, k):
                lc.llama_memory_seq_cp(mem, 0, j, -1, -1)
            toks = [lc.llama_sampler_sample(samplers[j], ctx, -1) for j in range(k)]
            wall = cpu = sampling = 0.0
            for s in range(steps):
                batch.n_tokens = 0
                for j in range(k):
                    put(toks[j], PROMPT_TOKENS + s, j, True)
                t, c = time.perf_counter(), _cpu_s()
                decode()
                wall, cpu = wall + time.perf_counter() - t, cpu + _cpu_s() - c
                t = time.perf_counter()
                toks = [lc.llama_sampler_sample(samplers[j], ctx, j) for j in range(k)]
                sampling += time.perf_counter() - t
            runs.append((wall / steps * 1e3, cpu / steps * 1e3, sampling / steps * 1e3))
    finally:
        for smp in samplers:
            lc.llama_sampler_free(smp)
        lc.llama_batch_free(batch)
        lc.llama_memory_clear(mem, True)
    return {"wall_ms": statistics.median(r[0] for r in runs),
            "cpu_ms": statistics.median(r[1] for r in runs),
            "sampling_ms": statistics.median(r[2] for r in runs),
            "runs_wall_ms": [round(r[0], 2) for r in runs]}


def _time_prefill(b, n: int, repeats: int) -> dict:
    """Median wall and CPU ms of decoding an `n`-token prompt in one llama_decode, logits for the
    last token only, as a reply's prompt is (one untimed run first: the step runs above have
    paged the weights in, this warms the prompt-sized buffers)."""
    import llama_cpp as lc

    ctx = b._ctx
    mem = lc.llama_get_memory(ctx)
    batch = lc.llama_batch_init(n, 0, 1)
    n_vocab = lc.llama_vocab_n_tokens(b._vocab)
    runs = []
    try:
        for r in range(repeats + 1):
            lc.llama_memory_clear(mem, True)
            for i in range(n):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = (7 * i + 1) % n_vocab, i, 1
                batch.seq_id[i][0], batch.logits[i] = 0, i == n - 1
            batch.n_tokens = n
            t, c = time.perf_counter(), _cpu_s()
            rc = lc.llama_decode(ctx, batch)
            wall, cpu = time.perf_counter() - t, _cpu_s() - c
            if rc != 0:
                raise PrefchatError(f"llama.cpp decode failed (code {rc}) on a {n}-token prompt")
            if r:
                runs.append((wall * 1e3, cpu * 1e3))
    finally:
        lc.llama_batch_free(batch)
        lc.llama_memory_clear(mem, True)
    wall_ms = statistics.median(w for w, _ in runs)
    return {"tokens": n, "wall_ms": wall_ms, "cpu_ms": statistics.median(c for _, c in runs),
            "tokens_per_s": n / wall_ms * 1e3, "runs_wall_ms": [round(w, 1) for w, _ in runs]}
