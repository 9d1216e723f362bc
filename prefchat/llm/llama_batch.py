"""llama.cpp multi-sequence batch: N candidates as N sequences of one context (see llama.py).

1. The candidates' prompts are tokenized; their longest common token prefix (the whole conversation,
   when per-candidate instructions are appended last) is decoded ONCE, as sequence 0.
2. `llama_memory_seq_cp` makes sequences 1..N-1 share those KV cells (the cache is "unified", so
   this is bookkeeping, not a copy).
3. Each candidate's distinct suffix (its instruction turn and the assistant header: a few dozen
   tokens) is decoded for all sequences in ONE `llama_decode`, each token tagged with its sequence.
   Same-prompt candidates have no suffix: the prefix's last logits row serves them all; a prompt
   that repeats (two candidates with one instruction) is decoded once and its cells copied.
4. Then lockstep decoding: every step puts one token per live sequence into one `llama_batch` and
   calls `llama_decode` once, so the weights are read from memory once per step for all N
   candidates, which is the whole win on a memory-bound CPU. Positions are per sequence, because
   suffixes differ in length.
5. Each sequence has its own sampler chain seeded with `seed + i`.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

# Heavy, but this module is only imported by llama.py, itself imported lazily (make_backend).
import llama_cpp as lc

from prefchat.llm.base import (
    BackendError,
    Cancelled,
    Candidate,
    DeltaCallback,
    GenerationRequest,
    Utf8Stream,
)

TOP_K = 40


def make_sampler(request: GenerationRequest, seed: int):
    chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
    if request.temperature <= 0:
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
    else:
        if request.top_p < 1.0:
            # top-k 40 first, as llama.cpp's own default chain does: top-p alone sorts the whole
            # vocabulary every token, and best-of-N pays that N times per step (measured with
            # `prefchat bench generate`: best-of-4 / single 1.80x without it).
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_k(TOP_K))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_p(request.top_p, 1))
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(request.temperature))
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(seed))
    return chain


def common_prefix(prompts: list[list[int]]) -> int:
    """Length of the longest token prefix that every prompt shares."""
    first = prompts[0]
    n = min(len(p) for p in prompts)
    for k in range(n):
        tok = first[k]
        if any(p[k] != tok for p in prompts):
            return k
    return n


def run_group(ctx, vocab, piece: Callable[[int], bytes], last_error: Callable[[], str],
              prompts: list[list[int]], group: list[int], seeds: list[int],
              request: GenerationRequest, on_delta: DeltaCallback, cancel: threading.Event,
              t0: float, done_before: list[Candidate]) -> list[Candidate]:
    """Decode candidates `group` (global indices; prompts[j] is group[j]'s tokens) as parallel
    sequences 0..len(group)-1 of `ctx`, whose memory this clears first."""
    mem = lc.llama_get_memory(ctx)
    lc.llama_memory_clear(mem, True)
    n = len(group)
    n_batch = lc.llama_n_batch(ctx)
    same = all(p == prompts[0] for p in prompts[1:])
    # Every sequence needs at least one token of its own to get its own logits row, unless all
    # prompts are equal (then the prefix's last row serves every sequence).
    shared = len(prompts[0]) if same else min(common_prefix(prompts), min(map(len, prompts)) - 1)
    suffixes = [[] if same else p[shared:] for p in prompts]
    rep = [prompts.index(p) for p in prompts]  # first sequence with the same prompt
    batch = lc.llama_batch_init(max(n_batch, n, max(map(len, suffixes))), 0, 1)
    samplers = [make_sampler(request, seeds[i]) for i in group]
    streams = [Utf8Stream() for _ in group]
    n_tok = [0] * n
    finish: list[Optional[str]] = [None] * n
    seconds = [0.0] * n

    def partial() -> list[Candidate]:
        return done_before + [
            Candidate(streams[j].text, n_tok[j], seconds[j] or time.perf_counter() - t0,
                      finish[j] or "cancelled", seeds[group[j]]) for j in range(n)]

    def decode() -> int:
        rc = lc.llama_decode(ctx, batch)
        if rc == 2 or cancel.is_set():
            raise Cancelled(partial())
        if rc < 0:
            raise BackendError(f"llama.cpp decode failed (code {rc}) {last_error()}")
        if rc == 1 and not started[0]:
            raise BackendError("the KV cache is full before the reply started; lower N or raise "
                               "n_ctx")
        return rc

    def put(tok: int, pos: int, seq: int, logits: bool) -> int:
        k = batch.n_tokens
        batch.token[k] = tok
        batch.pos[k] = pos
        batch.n_seq_id[k] = 1
        batch.seq_id[k][0] = seq
        batch.logits[k] = logits
        batch.n_tokens = k + 1
        return k

    started = [False]
    try:
        # 1. the shared prefix, once, as sequence 0 (logits only when it is the whole prompt)
        for off in range(0, shared, n_batch):
            batch.n_tokens = 0
            for k, tok in enumerate(prompts[0][off:min(off + n_batch, shared)]):
                put(tok, off + k, 0, same and off + k == shared - 1)
            decode()
        logit_idx = [batch.n_tokens - 1] * n
        # 2. the other sequences share the prefix's cells (each distinct prompt's first sequence;
        #    a repeated prompt, e.g. two candidates with the same instruction, copies its twin in 3)
        for j in range(1, n):
            if same or rep[j] == j:
                lc.llama_memory_seq_cp(mem, 0, j, -1, -1)
        # 3. the distinct suffixes: all of them in one decode when they fit one batch; otherwise
        #    all but their last tokens in chunks, then their last tokens (with logits) together,
        #    so no logits row is overwritten before it is sampled.
        if not same:
            todo = [(j, suffixes[j]) for j in range(n) if rep[j] == j]
            if sum(len(s) for _, s in todo) > n_batch:
                pending = [(tok, shared + k, j) for j, s in todo for k, tok in enumerate(s[:-1])]
                for off in range(0, len(pending), n_batch):
                    batch.n_tokens = 0
                    for tok, pos, j in pending[off:off + n_batch]:
                        put(tok, pos, j, False)
                    decode()
                batch.n_tokens = 0
                for j, s in todo:
                    logit_idx[j] = put(s[-1], shared + len(s) - 1, j, True)
            else:
                batch.n_tokens = 0
                for j, s in todo:
                    for k, tok in enumerate(s):
                        idx = put(tok, shared + k, j, k == len(s) - 1)
                    logit_idx[j] = idx
            decode()
            for j in range(n):
                if rep[j] != j:  # same prompt as rep[j]: share its cells and its logits row
                    lc.llama_memory_seq_cp(mem, rep[j], j, -1, -1)
                    logit_idx[j] = logit_idx[rep[j]]
        started[0] = True
        # 4. lockstep decoding: the logits row for sequence j is at logit_idx[j]
        pos = [len(p) for p in prompts]
        while True:
            batch.n_tokens = 0
            for j in range(n):
                if finish[j]:
                    continue
                tok = lc.llama_sampler_sample(samplers[j], ctx, logit_idx[j])
                if lc.llama_vocab_is_eog(vocab, tok) and not request.ignore_eos:
                    finish[j], seconds[j] = "stop", time.perf_counter() - t0
                    continue
                n_tok[j] += 1
                delta = streams[j].feed(piece(tok))
                if delta:
                    on_delta(group[j], delta)
                if n_tok[j] >= request.max_tokens:
                    finish[j], seconds[j] = "length", time.perf_counter() - t0
                    continue
                logit_idx[j] = put(tok, pos[j], j, True)
                pos[j] += 1
            if batch.n_tokens == 0:
                break
            if cancel.is_set():
                raise Cancelled(partial())
            if decode() == 1:  # no KV cells left: every live reply ends here
                for j in range(n):
                    if not finish[j]:
                        finish[j], seconds[j] = "length", time.perf_counter() - t0
                break
        for j in range(n):
            tail = streams[j].flush()
            if tail:
                on_delta(group[j], tail)
        return [Candidate(streams[j].text, n_tok[j], seconds[j], finish[j] or "length",
                          seeds[group[j]]) for j in range(n)]
    finally:
        for s in samplers:
            lc.llama_sampler_free(s)
        lc.llama_batch_free(batch)
