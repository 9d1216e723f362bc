"""Scoring speed measurements behind `prefchat bench basis` (the MiniLM basis on CPU) and the
first-reply delay of `prefchat bench chat`.

* bench_minilm: median time for the shipped basis's scorer to give phi for 8 real responses of
  about 200 tokens, on the fast path the app uses, and the correlation of that phi with the plain
  fp32 transformers path of the same basis (the quality rule: >= 0.999). Every timed run is cold: the
  fast path keeps no cache between calls.
* first_rerank: a fresh process runs the real chat app headless with a profile, waits until it says
  "ready", sends one message, and measures the delay from the end of generation to the picked reply
  (the scorer load must have happened at start-up, not here)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from prefchat.basis import load_basis
from prefchat.basis.encoders import split_sentences
from prefchat.chat.factory import make_session
from prefchat.config import Config
from prefchat.data import load_corpus
from prefchat.omp import prefer_passive_waits
from prefchat.profiles.profile import new_profile
from prefchat.profiles.store import ProfileStore


def bench_texts(tokenizer_len, texts: list[str], k: int = 8) -> list[str]:
    """k real verbose corpus responses cut at a sentence end near 200 tokens: "about 200 tokens" of
    the prose the basis actually scores, not whole responses glued together (which ran to ~270)."""
    batch = []
    for t in texts:
        kept: list[str] = []
        for s in split_sentences(t):
            if tokenizer_len(" ".join(kept + [s])) > 215:
                break
            kept.append(s)
        cut = " ".join(kept)
        if tokenizer_len(cut) >= 185:
            batch.append(cut)
        if len(batch) == k:
            break
    return batch


def _median_ms(fn, runs: int) -> tuple[float, list[float]]:
    fn()  # warm-up: first-call allocations and kernel selection
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), times


def bench_minilm(runs: int = 20, compare: bool = True, threads: int = 0) -> dict:
    """cpu_8x200_ms and phi_corr_vs_fp32 (the keys `bench basis --json` prints), plus details.
    threads > 0 sets torch's thread count first. OpenMP waits passively, as in the chat and `ask`."""
    prefer_passive_waits()
    import torch

    from prefchat.basis.scorer import load_scorer

    if threads > 0:
        torch.set_num_threads(threads)
    basis = load_basis()
    fast = load_scorer(basis, device="cpu", fast=True)
    ref = load_scorer(basis, device="cpu", fast=False)
    tok = ref.encoder.tokenizer
    texts = load_corpus().texts
    batch = bench_texts(lambda s: len(tok(s)["input_ids"]), texts)
    # The quality rule on more than the timed batch: 64 real responses across the corpus.
    sample = batch + list(texts[::max(len(texts) // 56, 1)][:56])
    pf, pr = fast.phi(sample), ref.phi(sample)
    r = float(np.corrcoef(pf.ravel(), pr.ravel())[0, 1])
    per_dim = [float(np.corrcoef(pf[:, j], pr[:, j])[0, 1]) for j in range(pf.shape[1])]
    fast_ms, fast_runs = _median_ms(lambda: fast.phi(batch), runs)
    out = {"cpu_8x200_ms": fast_ms, "phi_corr_vs_fp32": r,
           "detail": {"basis": basis.name, "tokens": int(statistics.mean(len(tok(t)["input_ids"]) for t in batch)),
                      "runs": runs, "min_ms": min(fast_runs), "phi_corr_min_per_dim": min(per_dim),
                      "bf16": bool(fast.encoder._fast.bf16), "torch_threads": _torch_threads()}}
    if compare:
        ref_ms, _ = _median_ms(lambda: ref.phi(batch), runs)
        out["detail"]["fp32_torch_ms"] = ref_ms
        out["detail"]["speedup"] = ref_ms / fast_ms
    return out


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def report_minilm(out: dict, machine: str) -> str:
    d = out["detail"]
    line = (f"MiniLM basis {d['basis']}: phi for 8 responses of ~{d['tokens']} tokens on CPU, fast path "
            f"({'bf16' if d['bf16'] else 'fp32'} products, {d['torch_threads']} threads): median "
            f"{out['cpu_8x200_ms']:.1f} ms over {d['runs']} runs (min {d['min_ms']:.1f})  [target <= 150 ms]\n")
    if "fp32_torch_ms" in d:
        line += (f"  plain fp32 transformers path: median {d['fp32_torch_ms']:.1f} ms; fast path "
                 f"{d['speedup']:.2f}x faster\n")
    line += (f"  phi correlation with the fp32 path: {out['phi_corr_vs_fp32']:.6f} (lowest per direction "
             f"{d['phi_corr_min_per_dim']:.6f}; rule >= 0.999)\n")
    line += f"  machine: {machine}; load avg {os.getloadavg()[0]:.1f}"
    return line


# -- first reply in the chat -----------------------------------------------------------------------

_CHILD = r"""
import asyncio, json, sys
from prefchat.bench.scoring import _first_turn
print("RESULT " + json.dumps(asyncio.run(_first_turn(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))))
"""


async def _first_turn(model: str, n: int, max_tokens: int) -> dict:
    """In this (fresh) process: the chat app headless, a profile on the shipped basis, one message
    sent once the app says ready. Returns the delay from generation end to the picked reply."""
    from prefchat.tui.chat_app import ChatApp

    basis = load_basis()
    _, prec = basis.prior
    lam = np.random.default_rng(0).normal(size=basis.dims)
    ProfileStore().save(new_profile("bench", basis.name, basis.fingerprint, lam, prec, ()))
    ProfileStore().set_default("bench")
    cfg = Config(backend="llama", model=model, n=n, max_tokens=max_tokens)
    marks: dict[str, float] = {}

    def factory():
        session = make_session(cfg, "bench")
        generate, rerank = session.backend.generate, session.reranker.rerank

        def timed_generate(*a, **k):  # instrumentation only: the real backend does the work
            out = generate(*a, **k)
            marks["generated"] = time.perf_counter()
            return out

        def timed_rerank(*a, **k):
            out = rerank(*a, **k)
            marks["picked"] = time.perf_counter()
            marks["scoring_s"] = out.seconds
            return out

        session.backend.generate, session.reranker.rerank = timed_generate, timed_rerank
        return session

    app = ChatApp(factory)
    t0 = time.perf_counter()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.session is None or app.startup_error:
            raise SystemExit(f"chat did not start: {app.startup_error}")
        ready_s = time.perf_counter() - t0
        await pilot.press(*"hello", "space", *"there", "enter")
        while "picked" not in marks:
            await pilot.pause(0.01)
            if app.last_error:
                raise SystemExit(f"chat turn failed: {app.last_error}")
    return {"first_rerank_ms": (marks["picked"] - marks["generated"]) * 1e3,
            "scoring_ms": marks["scoring_s"] * 1e3, "startup_to_ready_ms": ready_s * 1e3}


def first_rerank(model: Path, runs: int = 3, n: int = 4, max_tokens: int = 48) -> dict:
    """Median over fresh processes of the first turn's delay after generation (see _first_turn)."""
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, PREFCHAT_HOME=home, PREFCHAT_CONFIG=str(Path(home) / "config.toml"))
            p = subprocess.run([sys.executable, "-c", _CHILD, str(model), str(n), str(max_tokens)],
                               capture_output=True, text=True, env=env, timeout=600, check=False)
            line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
            if p.returncode != 0 or line is None:
                tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["no output"]
                raise RuntimeError(f"first-reply run failed: {tail[0]}")
            results.append(json.loads(line[len("RESULT "):]))
    return {"first_rerank_ms": statistics.median(r["first_rerank_ms"] for r in results),
            "first_rerank_runs_ms": [round(r["first_rerank_ms"], 1) for r in results],
            "first_scoring_ms": statistics.median(r["scoring_ms"] for r in results),
            "startup_to_ready_ms": statistics.median(r["startup_to_ready_ms"] for r in results)}
