"""`prefchat bench generate`: what best-of-N costs against one reply (wall and CPU time, tokens/s,
per candidate strategy), and optionally what reranking the drafts adds.

Target on 2 CPU threads with a Qwen2.5-0.5B-shaped GGUF: best-of-4 <= 1.6x single, and with
per-candidate (styled) instructions <= 1.8x. The ratio depends on the weight types (--quant): they
decide which llama.cpp kernel a multi-row step runs (bench/llama_step.py)."""

from __future__ import annotations

import os
import resource
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
from rich.table import Table

from prefchat.basis import load_basis
from prefchat.bench.machine import machine
from prefchat.errors import PrefchatError
from prefchat.generation.strategies import STRATEGIES as known
from prefchat.generation.strategies import candidate_instructions
from prefchat.bench import synthetic
from prefchat.llm import GenerationRequest, make_backend
from prefchat.llm.gguf_info import matrix_types
from prefchat.paths import bench_cache_dir
from prefchat.profiles.exchange import read_profile_file
from prefchat.rerank import Reranker


def measure(backend: str = "llama", model: str | None = None, make_tiny: str | None = None,
            quant: str = "q8_0", n: int = 4, max_tokens: int = 64, repeats: int = 3, threads: int = 2,
            rerank_profile: Path | None = None, candidates: str = "plain",
            profile_file: Path = Path("profiles/concise-formal.json"), device: str = "auto",
            compile_steps: bool = False, note: Callable[[str], None] = lambda message: None) -> dict:
    """Best-of-N cost: median wall and CPU time of N=1 vs N batched candidates per strategy, their
    ratios and tokens/s, and optionally what reranking the drafts adds; the dict `--json` prints."""
    if backend not in ("llama", "hf"):
        raise PrefchatError(f"--backend must be llama or hf, not {backend!r}")
    strategies = _bench_strategies(candidates, profile_file, n)
    if make_tiny:
        if make_tiny not in synthetic.SHAPES:
            raise PrefchatError(f"--make-tiny must be one of {', '.join(synthetic.SHAPES)}")
        cache = bench_cache_dir()
        if backend == "llama":
            path = tiny_gguf(make_tiny, quant, model, note)
        else:
            path = Path(model) if model else cache / f"random-{make_tiny}-hf"
            if not (path / "config.json").exists():
                note(f"writing random-weight {make_tiny} HF model to {path} ...")
                s = synthetic.SHAPES[make_tiny]
                if make_tiny == "qwen05b-full":
                    # The real 151,936-row embedding and output projection (bf16 on disk), as the
                    # GPU targets are stated for; the tokenizer still knows only a few hundred ids.
                    # Local: bench.backbone imports torch at load; the llama runs never need it
                    from prefchat.bench.backbone import write_random_qwen05b

                    write_random_qwen05b(path)
                else:
                    # The in-process tokenizer has a few hundred tokens, so this model's vocabulary
                    # (and output projection) is smaller than the GGUF's; the blocks match the shape.
                    synthetic.write_random_hf(path, hidden=s.n_embd, layers=s.n_layer, heads=s.n_head,
                                              kv_heads=s.n_head_kv, ffn=s.n_ff)
        model = str(path)
    if not model:
        raise PrefchatError("give --model PATH or --make-tiny qwen05b|tiny")

    opts = {"n_threads": threads}
    if backend == "llama":
        opts.update(n_ctx=2048, max_parallel=max(n, 1))
    else:
        # "auto" is the GPU when there is one. (Until 2026-12-01 this was pinned to "cpu", so the
        # transformers figure once recorded as the H200's was its host CPU's: BENCHMARKS.md says so.)
        opts.update(device=device, offline=True, compile_steps=compile_steps)
    b = make_backend(backend, model, **opts)
    t0 = time.perf_counter()
    b.load()
    load_s = time.perf_counter() - t0
    chat = [{"role": "user", "content": "Write a short paragraph about tea."}]

    drafts: list[list[str]] = []

    def cpu_s() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
        return ru.ru_utime + ru.ru_stime

    def run(k: int, seed: int, instructions=None) -> tuple[float, int, float]:
        req = GenerationRequest(chat, n=k, max_tokens=max_tokens, temperature=0.8, seed=seed,
                                ignore_eos=True, instructions=instructions)
        t, c = time.perf_counter(), cpu_s()
        cands = b.generate(req)
        elapsed, cpu = time.perf_counter() - t, cpu_s() - c
        if k == n:
            drafts.append([c.text for c in cands])
        return elapsed, sum(c.n_tokens for c in cands), cpu

    load_before = os.getloadavg()[0]
    run(1, 0)  # warm-up: first-call allocations and page-ins are not what we measure
    res = {}
    # Interleaved (single, plain N, styled N, single, ...) so a burst of load from other jobs on
    # the shared machine hits every setting alike instead of skewing one ratio.
    settings = [("single", 1, None)] + [(name, n, instr) for name, instr in strategies]
    timed: dict[str, list] = {name: [] for name, _, _ in settings}
    for r in range(repeats):
        for name, k, instr in settings:
            timed[name].append(run(k, 100 + r, instr))
    for name, k, instr in settings:
        times, toks, cpus = zip(*timed[name])
        med = statistics.median(times)
        # CPU seconds (all threads) as well as wall time: on a machine shared with other jobs the
        # wall time mostly measures the others, while the CPU time of a compute-bound decode
        # still tracks its own work (run with OMP_WAIT_POLICY=PASSIVE so idle threads do not spin).
        res[name] = {"median_s": med, "runs_s": [round(t, 3) for t in times],
                     "median_cpu_s": statistics.median(cpus),
                     "tokens": toks[0], "tok_per_s": toks[0] / med, "candidates": k}
        if instr is not None:
            res[name]["instructions"] = instr
    b.close()
    single = res.pop("single")
    main_name = strategies[0][0]
    ratios = {name: res[name]["median_s"] / single["median_s"] for name, _ in strategies}
    cpu_ratios = {name: res[name]["median_cpu_s"] / single["median_cpu_s"] for name, _ in strategies}
    ratio = ratios[main_name]
    targets = {name: (1.6 if name == "plain" else 1.8) for name, _ in strategies}
    rerank = None
    if rerank_profile is not None:
        # Reranking cost: lambda . phi of the same N drafts with the shipped basis, after the scorer
        # has loaded (loading happens once per chat session, in a worker, not per reply).

        rr = Reranker(load_basis(), read_profile_file(rerank_profile))
        rr.load()
        rr.rerank(chat[0]["content"], drafts[0])  # warm-up
        secs = [rr.rerank(chat[0]["content"], d).seconds for d in drafts]
        rerank = {"median_s": statistics.median(secs),
                  "share_of_generation": statistics.median(secs) / res[main_name]["median_s"]}
    out = {"backend": backend, "model": model, "quant": quant if make_tiny else None,
           "device": getattr(b, "device", None), "compile_steps": bool(getattr(b, "compile_steps", False)),
           "weights": weight_types(model) if backend == "llama" else None,
           # matrices llama.cpp repacked for its multi-row CPU kernel (the others: tinyBLAS)
           "repacked": getattr(b, "repacked", None),
           "batched": b.batched, "n": n,
           "max_tokens": max_tokens, "repeats": repeats, "threads": threads,
           "load_s": round(load_s, 2), "single": single, "best_of_n": res[main_name],
           "ratio": ratio, "target_ratio": targets[main_name],
           # every strategy timed, keyed by name, with its ratio to the same single reply
           "strategies": {name: {**res[name], "ratio": ratios[name], "cpu_ratio": cpu_ratios[name],
                                 "target_ratio": targets[name]} for name, _ in strategies},
           "rerank": rerank, "machine": machine(),
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
           # Other processes on the same cores make wall times meaningless; say so in the output.
           "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    return out


def report(out: dict) -> list:
    """The table and lines `prefchat bench generate` prints (rich renderables)."""
    n, single, strategies = out["n"], out["single"], out["strategies"]
    t = Table(title=f"prefchat bench generate ({out['backend']}, {Path(out['model']).name}, {out['threads']} "
                    f"threads, {out['max_tokens']} tokens/candidate, median of {out['repeats']}, interleaved)")
    for col in ("candidates", "median wall s", "runs s", "median CPU s", "tokens", "tokens/s"):
        t.add_column(col, justify="right")
    for label, r in [("1", single)] + [(f"{n} {name}", r) for name, r in strategies.items()]:
        t.add_row(label, f"{r['median_s']:.3f}", " ".join(f"{x:.3f}" for x in r["runs_s"]),
                  f"{r['median_cpu_s']:.2f}", str(r["tokens"]), f"{r['tok_per_s']:.1f}")
    parts: list = [t]
    for name, r in strategies.items():
        verdict = "meets" if r["ratio"] <= r["target_ratio"] else "misses"
        parts.append(f"best-of-{n} {name} / single wall time: {r['ratio']:.2f}x ({verdict} the "
                     f"{r['target_ratio']}x target); CPU time {r['cpu_ratio']:.2f}x")
    parts.append(f"batched={out['batched']}; load {out['load_s']:.1f} s; weight matrices: "
                 + (", ".join(f"{c} {ty}" for ty, c in out["weights"].items()) if out["weights"] else "?")
                 + (f"; {out['repacked']} repacked by llama.cpp" if out["repacked"] is not None else ""))
    rerank = out["rerank"]
    if rerank:
        parts.append(f"reranking the {n} drafts (shipped basis): median {rerank['median_s'] * 1e3:.0f} ms = "
                     f"{rerank['share_of_generation']:.1%} of best-of-{n} generation (target <= 5%)")
    parts.append(f"machine: {out['machine']}; 1-min load average before/after: "
                 f"{out['loadavg_1min'][0]} / {out['loadavg_1min'][1]}")
    return parts


def _bench_strategies(candidates: str, profile_file: Path, n: int) -> list[tuple[str, object]]:
    """[(strategy, per-candidate instructions or None)] for `bench generate --candidates`. The
    instructions are drawn once (seeded) so every timed run decodes the same prompts."""
    names = [c.strip() for c in candidates.split(",") if c.strip()]
    bad = [c for c in names if c not in known]
    if not names or bad:
        raise PrefchatError(f"--candidates must be a comma-separated list of {', '.join(known)}, "
                            f"not {candidates!r}")
    out: list[tuple[str, object]] = []
    for name in dict.fromkeys(names):
        if name == "plain":
            out.append((name, None))
            continue

        prof = read_profile_file(profile_file)
        instr = list(candidate_instructions(name, prof, load_basis(), n,
                                            np.random.default_rng(0)))
        out.append((name, instr))
    return out


def tiny_gguf(make_tiny: str, quant: str, model: str | None,
              note: Callable[[str], None] = lambda message: None) -> Path:
    """The random-weight GGUF of --make-tiny/--quant: `model` or the bench cache, built if absent."""
    if make_tiny not in synthetic.SHAPES:
        raise PrefchatError(f"--make-tiny must be one of {', '.join(synthetic.SHAPES)}")
    if quant not in synthetic.QUANTS:
        raise PrefchatError(f"--quant must be one of {', '.join(synthetic.QUANTS)}")
    path = Path(model) if model else bench_cache_dir() / f"random-{make_tiny}-{quant}.gguf"
    if not path.exists():
        note(f"writing random-weight {make_tiny} {quant} GGUF to {path} ...")
        synthetic.write_random_gguf(path, synthetic.SHAPES[make_tiny], quant=quant)
    return path


def weight_types(model: str) -> dict[str, int] | None:
    """{type: count} of the GGUF's matrices: the type decides which llama.cpp CPU kernel a batched
    step runs (repacked Q4_0 vs llamafile's tinyBLAS for Q8_0/Q5_0), so the figures mean little
    without it. None when the file is unreadable."""
    try:
        return matrix_types(model)
    except (OSError, ValueError):  # a figure about the file, never a reason to fail the benchmark
        return None
