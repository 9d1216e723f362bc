"""`prefchat bench onboard-live`: how long a live onboarding question takes to reach the screen,
against one best-of-2 generation with the same backend (target: <= 1.5x).

A live question is one request for --per-side replies under each of the two instructions (+nu and
-nu; llama.cpp decodes the prompt once and every reply in one batch), then phi of the replies, the
guard on each (+nu, -nu) pair, and the choice of the pair furthest apart along nu. Both sides of the
comparison decode exactly --max-tokens tokens (end-of-turn ignored), so reply length does not decide
the ratio; a retry after the guard counts in the live time.

--read-s R measures what the quiz on a terminal does: it writes the pair while the person reads the pool
question before it. Each overlapped question starts writing, the bench waits R seconds (the person
reading; nothing else runs, as in the quiz), and times what is left: the wait the person sees after
answering. (Piped --plain writes the pair only when it is due, so there the wait is the live time.)"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable


from prefchat.basis import load_basis
from prefchat.bench.generate import tiny_gguf, weight_types
from prefchat.bench.machine import machine as _machine
from prefchat.llm import GenerationRequest, make_backend
from prefchat.onboarding.live import LIVE_PER_SIDE, LiveFailed, LiveQuestions

PROMPT = "How do I keep fresh herbs from wilting?"


def measure(model: str | None = None, make_tiny: str = "qwen05b", max_tokens: int = 64, repeats: int = 5,
            threads: int = 2, per_side: int = LIVE_PER_SIDE, note: Callable[[str], None] = lambda _: None,
            quant: str = "q8_0", read_s: float = 0.0) -> dict:
    """Medians of live questions and best-of-2 generations, interleaved, on one llama.cpp backend, and
    with read_s > 0 the waits left after read_s seconds of overlap; the dict `--json` prints. note()
    hears what is being built before a long wait."""
    if model is None:
        model = str(tiny_gguf(make_tiny, quant, None, note))
    backend = make_backend("llama", model, n_threads=threads, n_ctx=2048, max_parallel=max(2, 2 * per_side))
    basis = load_basis()
    live = LiveQuestions(backend, basis, max_tokens=max_tokens, seed=0, ignore_eos=True, per_side=per_side)
    t0 = time.perf_counter()
    live.load()
    load_s = time.perf_counter() - t0
    mean, precision = basis.prior

    def best_of_2(seed: int) -> float:
        req = GenerationRequest([{"role": "user", "content": PROMPT}], n=2, max_tokens=max_tokens,
                                temperature=0.8, seed=seed, ignore_eos=True)
        t = time.perf_counter()
        backend.generate(req)
        return time.perf_counter() - t

    def live_question() -> tuple[float, int]:
        t = time.perf_counter()
        try:
            attempts = live.make(PROMPT, precision).attempts
        except LiveFailed:  # both attempts failed the guard: the time is still what a person waited
            attempts = 2
        return time.perf_counter() - t, attempts

    load_before = os.getloadavg()[0]
    best_of_2(1), live_question()  # warm-up: first-call allocations, the scorer's first batch
    b2, lv, att = [], [], []
    for r in range(repeats):
        b2.append(best_of_2(100 + r))
        s, a = live_question()
        lv.append(s)
        att.append(a)
    waits, watt = [], []
    for r in range(repeats if read_s > 0 else 0):
        done: list = []
        worker = threading.Thread(target=lambda: done.append(live_question()))
        worker.start()
        time.sleep(read_s)  # the person reading (and answering) the pool question on screen
        t = time.perf_counter()
        worker.join()
        waits.append(time.perf_counter() - t)
        watt.append(done[0][1])
    backend.close()
    out = {"model": model, "weights": weight_types(model), "max_tokens": max_tokens, "repeats": repeats,
           "threads": threads, "per_side": per_side,
           "load_s": round(load_s, 2),
           "best_of_2": {"median_s": statistics.median(b2), "runs_s": [round(x, 3) for x in b2]},
           "live": {"median_s": statistics.median(lv), "runs_s": [round(x, 3) for x in lv],
                    "attempts": att,
                    # one attempt = 2 x per_side replies + phi + guard; a random-weight model's gibberish
                    # can fail the guard's relevance floor, which a real model's replies pass
                    "per_attempt_median_s": statistics.median(x / a for x, a in zip(lv, att))},
           "ratio_median": statistics.median(lv) / statistics.median(b2),
           "ratio_worst": max(x / statistics.median(b2) for x in lv),
           "ratio_per_attempt": statistics.median(x / a for x, a in zip(lv, att)) / statistics.median(b2),
           "target_ratio": 1.5, "machine": _machine(),
           "overlap": None if not waits else {
               "read_s": read_s, "waits_s": [round(x, 3) for x in waits], "attempts": watt,
               "wait_median_s": statistics.median(waits),
               "ratio_worst": max(waits) / statistics.median(b2)},
           "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    return out


def report(out: dict) -> str:
    """Both medians, their ratio against the 1.5x target, and the machine's load."""
    verdict = "meets" if out["ratio_worst"] <= 1.5 else "misses"
    return "\n".join([
        f"best-of-2 generation ({out['max_tokens']} tokens each): median {out['best_of_2']['median_s']:.3f} s "
        f"(runs {out['best_of_2']['runs_s']})",
        f"live question ({2 * out['per_side']} replies + phi + guard): median {out['live']['median_s']:.3f} s "
        f"(runs {out['live']['runs_s']}; attempts {out['live']['attempts']})",
        f"live / best-of-2: median {out['ratio_median']:.2f}x, worst {out['ratio_worst']:.2f}x "
        f"({verdict} the 1.5x target); one attempt (no guard retry) {out['ratio_per_attempt']:.2f}x; "
        f"model and scorer load {out['load_s']:.1f} s",
        *([] if not out.get("overlap") else [
            f"written while the person reads for {out['overlap']['read_s']:g} s (the quiz on a terminal): wait "
            f"after the answer median {out['overlap']['wait_median_s']:.3f} s, worst "
            f"{out['overlap']['ratio_worst']:.2f}x a best-of-2 (runs {out['overlap']['waits_s']}; attempts "
            f"{out['overlap']['attempts']})"]),
        f"machine: {out['machine']}; 1-min load average before/after: {out['loadavg_1min']}",
    ])
