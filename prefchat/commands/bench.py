"""`prefchat bench ...`: measurements, printed as tables (and JSON with --json)."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import typer

app = typer.Typer(help="Measure speed and quality.", no_args_is_help=True)


def _machine() -> str:
    import os

    return f"{platform.machine()} {os.cpu_count()} cpu, python {platform.python_version()}"


@app.command("engine")
def bench_engine(
    seed: int = typer.Option(0, help="Seed for the synthetic problem and training."),
    users: int = typer.Option(60, help="New users to evaluate."),
    steps: int = typer.Option(200, help="Elicitation steps timed for the latency figure."),
    criterion: str = typer.Option("fisher", help="Active rule: fisher (default) or norm (the paper's)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
) -> None:
    """The engine on synthetic data with known truth: AUC vs answers, training time, step latency."""
    import numpy as np
    import torch
    from rich.console import Console
    from rich.table import Table

    from prefchat.reward.elicit import Elicitor
    from prefchat.reward.synthetic import make_problem, run_experiment

    torch.set_num_threads(1)  # the latency target is for one core
    budgets = (5, 10, 20, 40)
    problem = make_problem(n_prompts=300, n_features=8, seed=seed)
    res = run_experiment(problem, seed=seed, budgets=budgets, n_eval_users=users,
                         init_epochs=200, epochs=200)
    if criterion != "fisher":
        from prefchat.reward import evaluate as ev
        from prefchat.reward.elicit import population_prior

        pref = res["model"]
        P = problem.pairs
        phi = pref.transform(problem.inputs)
        d = phi[P.a] - phi[P.b]
        new = problem.new_users[:users]
        mean, prec = population_prior(pref.user_vectors_)
        c = ev.elicitation_curve(d[problem.train_pairs], P.prompt_ids[problem.train_pairs],
                                 problem.outcomes[new][:, problem.train_pairs], d[problem.test_pairs],
                                 problem.outcomes[new][:, problem.test_pairs], budgets, "active",
                                 beta=prec, prior_mean=mean, criterion=criterion, seed=seed)
        res["curves"]["active"] = {"auc": c.mean_auc(), "accuracy": c.mean_accuracy()}

    # Latency of one elicitation step: refit lambda on the answers so far + choose among 10,000
    # candidates, J = 8, measured after 10 answers (a typical mid-quiz state).
    rng = np.random.default_rng(seed)
    pool = rng.normal(size=(10_000, 8))
    prompts = np.arange(10_000)
    el = Elicitor(pool, prompts, beta=1.0, seed=seed)
    truth = rng.normal(size=8)
    for _ in range(10):
        q = el.next_question()
        el.answer(q, float(pool[q] @ truth > 0))
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        el.refit(warm=True)
        el.next_question()
        times.append(time.perf_counter() - t0)
    step_ms = float(np.median(times) * 1e3)

    out = {
        "answers": list(budgets),
        "auc": {"active": res["curves"]["active"]["auc"], "random": res["curves"]["random"]["auc"],
                "oracle": res["oracle"]["auc"]},
        "principal_angles_deg": [round(float(a), 2) for a in res["angles"]],
        "validation_auc": res["val_auc"],
        "spectrum": [round(float(v), 2) for v in res["spectrum"][:10]],
        "elbow": res["elbow"],
        "train_seconds": res["train_seconds"],
        "step_ms_median": step_ms,
        "criterion": criterion,
        "machine": _machine(),
    }
    if as_json:
        typer.echo(json.dumps(out))
        return
    con = Console()
    t = Table(title=f"prefchat bench engine (synthetic, seed {seed}, {users} new users, rule {criterion})")
    t.add_column("answers", justify="right")
    for name in ("active", "random", "oracle"):
        t.add_column(f"AUC {name}", justify="right")
    for b in budgets:
        t.add_row(str(b), f"{out['auc']['active'][b]:.3f}", f"{out['auc']['random'][b]:.3f}",
                  f"{out['auc']['oracle']:.3f}")
    con.print(t)
    con.print(f"principal angles to the true basis (deg): {out['principal_angles_deg']}")
    con.print(f"validation AUC (train users, held-out prompts): {out['validation_auc']:.3f}")
    con.print(f"singular values of the completed matrix: {out['spectrum']}; elbow at J={out['elbow']} "
              f"(true rank {problem.true_phi.shape[1]})")
    con.print(f"training time: {out['train_seconds']:.1f} s")
    con.print(f"elicitation step (refit + choose among 10,000, J=8), median of {steps}: {step_ms:.3f} ms")
    con.print(f"machine: {out['machine']}")


@app.command("generate")
def bench_generate(
    backend: str = typer.Option("llama", help="llama (a GGUF via llama.cpp) or hf (transformers)."),
    model: str = typer.Option(None, help="GGUF file or HF model directory. With --make-tiny: where to "
                                         "write it (default: the prefchat cache directory)."),
    make_tiny: str = typer.Option(None, "--make-tiny",
                                  help="Build a random-weight model if absent: qwen05b (Qwen2.5-0.5B "
                                       "shape: 896 wide, 24 layers, 14/2 heads, ffn 4864, vocab cut "
                                       "to 32,768; Q8_0 GGUF) or tiny (2 layers, 64 wide)."),
    n: int = typer.Option(4, "-n", "--n", help="Candidates in the batched run."),
    max_tokens: int = typer.Option(64, help="Tokens per candidate (end-of-turn is ignored so every run "
                                            "decodes exactly this many)."),
    repeats: int = typer.Option(3, help="Timed runs per setting; the median is reported."),
    threads: int = typer.Option(2, help="CPU threads."),
    rerank_profile: Path = typer.Option(None, "--rerank", help="Also time reranking the drafts with this "
                                        "profile file (e.g. profiles/concise-formal.json) and the shipped basis."),
    candidates: str = typer.Option("plain", "--candidates",
                                   help="Comma-separated strategies to time at N: plain (one prompt), "
                                        "card, styled, ... (per-candidate instructions from the "
                                        "--profile file), e.g. plain,styled. "
                                        "Each ratio is against the same plain single reply."),
    profile_file: Path = typer.Option(Path("profiles/concise-formal.json"), "--profile",
                                      help="Profile file whose instructions card/styled use."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Best-of-N cost: median wall time of N=1 vs N batched candidates, their ratio and tokens/s.

    Target on 2 CPU threads with a Qwen2.5-0.5B-shaped Q8_0 GGUF: best-of-4 <= 1.6x single, and
    with per-candidate (styled) instructions <= 1.8x."""
    import statistics
    from pathlib import Path

    from prefchat.errors import PrefchatError
    from prefchat.llm import GenerationRequest, make_backend

    if backend not in ("llama", "hf"):
        raise PrefchatError(f"--backend must be llama or hf, not {backend!r}")
    strategies = _bench_strategies(candidates, profile_file, n)
    if make_tiny:
        from prefchat.llm import synthetic
        from prefchat.paths import bench_cache_dir

        if make_tiny not in synthetic.SHAPES:
            raise PrefchatError(f"--make-tiny must be one of {', '.join(synthetic.SHAPES)}")
        cache = bench_cache_dir()
        if backend == "llama":
            path = Path(model) if model else cache / f"random-{make_tiny}-q8_0.gguf"
            if not path.exists():
                typer.echo(f"writing random-weight {make_tiny} GGUF to {path} ...", err=True)
                synthetic.write_random_gguf(path, synthetic.SHAPES[make_tiny], quant="q8_0")
        else:
            path = Path(model) if model else cache / f"random-{make_tiny}-hf"
            if not (path / "config.json").exists():
                typer.echo(f"writing random-weight {make_tiny} HF model to {path} ...", err=True)
                s = synthetic.SHAPES[make_tiny]
                # The in-process tokenizer has a few hundred tokens, so the HF model's vocabulary
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
        opts.update(device="cpu", offline=True)
    b = make_backend(backend, model, **opts)
    t0 = time.perf_counter()
    b.load()
    load_s = time.perf_counter() - t0
    chat = [{"role": "user", "content": "Write a short paragraph about tea."}]

    drafts: list[list[str]] = []

    import resource

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

    import os

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
        from prefchat.basis import load_basis
        from prefchat.profiles.exchange import read_profile_file
        from prefchat.rerank import Reranker

        rr = Reranker(load_basis(), read_profile_file(rerank_profile))
        rr.load()
        rr.rerank(chat[0]["content"], drafts[0])  # warm-up
        secs = [rr.rerank(chat[0]["content"], d).seconds for d in drafts]
        rerank = {"median_s": statistics.median(secs),
                  "share_of_generation": statistics.median(secs) / res[main_name]["median_s"]}
    out = {"backend": backend, "model": model, "batched": b.batched, "n": n,
           "max_tokens": max_tokens, "repeats": repeats, "threads": threads,
           "load_s": round(load_s, 2), "single": single, "best_of_n": res[main_name],
           "ratio": ratio, "target_ratio": targets[main_name],
           # every strategy timed, keyed by name, with its ratio to the same single reply
           "strategies": {name: {**res[name], "ratio": ratios[name], "cpu_ratio": cpu_ratios[name],
                                 "target_ratio": targets[name]} for name, _ in strategies},
           "rerank": rerank, "machine": _machine(),
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
           # Other processes on the same cores make wall times meaningless; say so in the output.
           "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    if as_json:
        typer.echo(json.dumps(out))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(title=f"prefchat bench generate ({backend}, {Path(model).name}, {threads} threads, "
                    f"{max_tokens} tokens/candidate, median of {repeats}, interleaved)")
    for col in ("candidates", "median wall s", "runs s", "median CPU s", "tokens", "tokens/s"):
        t.add_column(col, justify="right")
    for label, r in [("1", single)] + [(f"{n} {name}", res[name]) for name, _ in strategies]:
        t.add_row(label, f"{r['median_s']:.3f}", " ".join(f"{x:.3f}" for x in r["runs_s"]),
                  f"{r['median_cpu_s']:.2f}", str(r["tokens"]), f"{r['tok_per_s']:.1f}")
    con.print(t)
    for name, _ in strategies:
        verdict = "meets" if ratios[name] <= targets[name] else "misses"
        con.print(f"best-of-{n} {name} / single wall time: {ratios[name]:.2f}x ({verdict} the "
                  f"{targets[name]}x target); CPU time {cpu_ratios[name]:.2f}x")
    con.print(f"batched={b.batched}; load {load_s:.1f} s")
    if rerank:
        con.print(f"reranking the {n} drafts (shipped basis): median {rerank['median_s'] * 1e3:.0f} ms = "
                  f"{rerank['share_of_generation']:.1%} of best-of-{n} generation (target <= 5%)")
    con.print(f"machine: {out['machine']}; 1-min load average before/after: "
              f"{out['loadavg_1min'][0]} / {out['loadavg_1min'][1]}")


def _bench_strategies(candidates: str, profile_file: Path, n: int) -> list[tuple[str, object]]:
    """[(strategy, per-candidate instructions or None)] for `bench generate --candidates`. The
    instructions are drawn once (seeded) so every timed run decodes the same prompts."""
    from prefchat.errors import PrefchatError

    from prefchat.generation.strategies import STRATEGIES as known

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
        import numpy as np

        from prefchat.basis import load_basis
        from prefchat.generation.strategies import candidate_instructions
        from prefchat.profiles.exchange import read_profile_file

        prof = read_profile_file(profile_file)
        instr = list(candidate_instructions(name, prof, load_basis(), n,
                                            np.random.default_rng(0)))
        out.append((name, instr))
    return out


def _time_to_text(cmd: list[str], marker: bytes, env: dict, timeout: float = 30.0) -> float:
    """Seconds from spawning cmd in a real 80x24 pty until marker appears on the terminal."""
    import fcntl
    import os
    import pty
    import re
    import select
    import signal
    import struct
    import subprocess
    import termios

    ansi = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    buf, found = b"", None
    try:
        while time.perf_counter() - t0 < timeout:
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                try:
                    buf += os.read(master, 65536)
                except OSError:
                    break
                if marker in ansi.sub(b"", buf):
                    found = time.perf_counter() - t0
                    break
            if proc.poll() is not None:
                break
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        os.close(master)
    if found is None:
        tail = ansi.sub(b"", buf)[-300:].decode("utf-8", "replace")
        raise typer.BadParameter(f"{marker.decode()!r} never appeared; output ended with: {tail!r}")
    return found


def _report_startup(what: str, times: list[float]) -> None:
    import os
    import statistics

    typer.echo(f"{what}: command -> first screen, median of {len(times)}: {statistics.median(times) * 1e3:.0f} ms "
               f"(runs: {', '.join(f'{t * 1e3:.0f}' for t in times)} ms; {_machine()}; "
               f"load avg {os.getloadavg()[0]:.1f})")


@app.command("onboard")
def bench_onboard(
    runs: int = typer.Option(5, help="Runs to take the median of."),
    plain: bool = typer.Option(False, "--plain", help="Measure the --plain quiz instead of the full-screen one."),
) -> None:
    """Time from starting `prefchat onboard` to the first question on screen (a real terminal via a pty)."""
    import os
    import sys
    import tempfile

    times = []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, PREFCHAT_HOME=home, TERM="xterm-256color")
            cmd = [sys.executable, "-m", "prefchat", "onboard", "--profile", f"bench{i}"] + (["--plain"] if plain else [])
            times.append(_time_to_text(cmd, b"Response B", env))
    _report_startup(f"prefchat onboard{' --plain' if plain else ''} (to the first question)", times)


@app.command("chat")
def bench_chat(
    runs: int = typer.Option(5, help="Runs to take the median of."),
    model: Path = typer.Option(..., "--model", help="A GGUF file (e.g. the one `bench generate --make-tiny "
                               "qwen05b` writes). Loading it happens in a worker, after the first paint."),
    reply_runs: int = typer.Option(3, "--reply-runs", help="Fresh chats timed for first_rerank_ms: the first "
                                   "reply's delay from generation end to the picked reply (0 skips it)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Time from starting `prefchat chat` to its first screen, and the first reply's pick delay.

    The first screen is the input box and key hints, in a real pty; the first reply's delay after
    generation (scorer loaded at start-up: target <= 300 ms on CPU)."""
    import os
    import statistics
    import sys
    import tempfile

    from prefchat.commands.bench_scoring import first_rerank

    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, PREFCHAT_HOME=home, PREFCHAT_CONFIG=str(Path(home) / "config.toml"),
                       TERM="xterm-256color")
            cmd = [sys.executable, "-m", "prefchat", "chat", "--backend", "llama", "--model", str(model)]
            times.append(_time_to_text(cmd, b"enter send", env))
    reply = first_rerank(model, reply_runs) if reply_runs > 0 else {}
    if as_json:
        typer.echo(json.dumps({"first_paint_ms": statistics.median(times) * 1e3, **reply, "machine": _machine()}))
        return
    _report_startup("prefchat chat (to the first paint)", times)
    if reply:
        typer.echo(f"first reply, generation end -> picked reply, median of {reply_runs} fresh chats: "
                   f"{reply['first_rerank_ms']:.0f} ms (runs {reply['first_rerank_runs_ms']} ms; scoring "
                   f"{reply['first_scoring_ms']:.0f} ms; start-up to ready {reply['startup_to_ready_ms']:.0f} ms)"
                   f"  [target <= 300 ms]")


@app.command("cli")
def bench_cli(
    runs: int = typer.Option(20, help="Fresh processes per command (interleaved); medians are reported."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Time `prefchat --help` and `--version` against a bare Python start (target: --help <= 200 ms)."""
    from prefchat.commands.bench_scoring import bench_cli_startup

    out = bench_cli_startup(runs)
    out["machine"] = _machine()
    if as_json:
        typer.echo(json.dumps(out))
        return
    typer.echo(f"prefchat --help: median {out['help_ms']:.0f} ms; --version: {out['version_ms']:.0f} ms; bare python: "
               f"{out['python_ms']:.0f} ms ({runs} fresh processes each, interleaved; {out['machine']}; load avg "
               f"{out['loadavg']:.1f})  [target --help <= 200 ms]")


@app.command("basis")
def bench_basis(
    backbone: str = typer.Option(None, "--backbone", help="Causal LM (local dir or hub id) to measure as a basis "
                                 "model. Without it: the shipped MiniLM basis's scoring latency."),
    make_tiny: str = typer.Option(None, "--make-tiny", help="qwen05b: build a random-weight Qwen2.5-0.5B-shaped "
                                  "model (896 wide, 24 layers, 14/2 heads, ffn 4864, the real 151,936-token "
                                  "vocabulary; bf16) at --backbone (or the cache) if absent; no hub access."),
    mode: str = typer.Option("lora", "--mode", help="Training mode measured: lora, full or frozen."),
    device: str = typer.Option(None, "--device", help="cpu, cuda, cuda:N [default: cuda if available]."),
    train_pairs: int = typer.Option(32, "--train-pairs", help="Pairs per optimiser step."),
    train_tokens: int = typer.Option(128, "--train-tokens", help="Tokens per response in the training step."),
    accumulate: int = typer.Option(1, "--accumulate", help="Micro-batches per step (gradient accumulation)."),
    steps: int = typer.Option(10, "--steps", help="Timed training steps."),
    runs: int = typer.Option(20, "--runs", help="Timed scoring runs for the MiniLM latency."),
    threads: int = typer.Option(0, "--threads", help="torch threads for the MiniLM timing (0: torch's default)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Basis model speed on this device: training pairs/s, scoring responses/s, and scoring latency.

    Latency: the median to score 8 responses (x 256 tokens for a backbone; ~200 tokens with the
    MiniLM basis).
    GPU targets for Qwen2.5-0.5B shape: 8x256 scoring <= 15 ms, bf16 training >= 500 pairs/s."""
    import os
    from pathlib import Path

    from prefchat.errors import PrefchatError

    os.environ.setdefault("HF_HUB_OFFLINE", "1") if make_tiny else None
    if backbone is None and make_tiny is None:
        from prefchat.commands.bench_scoring import bench_minilm, report_minilm

        out = bench_minilm(runs, compare=not as_json, threads=threads)
        keys = ("cpu_8x200_ms", "phi_corr_vs_fp32")
        typer.echo(json.dumps({k: out[k] for k in keys}) if as_json else report_minilm(out, _machine()))
        return
    else:
        from prefchat.basis.encoders import default_device
        from prefchat.bench import backbone as bb
        from prefchat.reward.nets import MODES

        if mode not in MODES:
            raise PrefchatError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
        dev = device or default_device()
        if make_tiny:
            if make_tiny != "qwen05b":
                raise PrefchatError("--make-tiny must be qwen05b")
            if backbone is None:
                try:
                    from platformdirs import user_cache_dir

                    cache = Path(user_cache_dir("prefchat"))
                except ImportError:  # a bare GPU machine may lack platformdirs
                    cache = Path.home() / ".cache" / "prefchat"
                backbone = str(cache / "bench" / "random-qwen05b-basis-hf")
            if not (Path(backbone) / "config.json").exists():
                typer.echo(f"writing random-weight Qwen2.5-0.5B-shaped model to {backbone} ...", err=True)
                bb.write_random_qwen05b(backbone, device=dev)
        out = bb.bench_backbone(backbone, dev, mode=mode, train_pairs=train_pairs, train_tokens=train_tokens,
                                accumulate=accumulate, steps=steps)
        out["backbone"] = backbone
        out["targets"] = {"latency_8x256_ms": 15.0, "train_pairs_per_s": 500.0}
    out["machine"] = _machine()
    if as_json:
        typer.echo(json.dumps(out))
        return
    t, s, lat = out["train"], out["score"], out["latency_8x256_ms"]
    typer.echo(f"backbone {out['backbone']} on {out.get('gpu', out['device'])} ({out['dtype']}, mode {out['mode']}, "
               f"{out['trainable_params']:,} trainable parameters)")
    typer.echo(f"  training: {t['pairs_per_s']:.1f} pairs/s ({t['tokens_per_s']:.0f} tokens/s; {t['pairs_per_step']} "
               f"pairs x 2 responses x {t['tokens_per_response']} tokens per step, accumulate {t['accumulate']})"
               f"  [target >= 500 pairs/s on GPU: {'met' if t['pairs_per_s'] >= 500 else 'missed'}]")
    typer.echo(f"  scoring: {s['responses_per_s']:.1f} responses/s (batch {s['batch']} x {s['tokens_per_response']} tokens)")
    typer.echo(f"  latency to score 8 x 256 tokens: median {lat['median']:.2f} ms (min {lat['min']:.2f}, "
               f"{lat['runs']} runs)  [target <= 15 ms on GPU: {'met' if lat['median'] <= 15 else 'missed'}]")
    typer.echo(f"  machine: {out['machine']}")


def _register_more() -> None:
    # Benchmarks that live in their own modules (typer only at import: cheap).
    from prefchat.commands.bench_flood import bench_flood
    from prefchat.commands.bench_guard import bench_guard
    from prefchat.commands.bench_live import bench_onboard_live

    app.command("flood")(bench_flood)
    app.command("guard")(bench_guard)
    app.command("onboard-live")(bench_onboard_live)


_register_more()
