"""`prefchat bench ...`: measurements, printed as tables (and JSON with --json).

Each command here is its typer signature and a call: the measuring code lives in prefchat/bench/, one
module per benchmark, and is imported only when its command runs, so that `prefchat bench --help`
loads none of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console


app = typer.Typer(help="Measure speed and quality.", no_args_is_help=True)


def _emit(out: dict, as_json: bool, report) -> None:
    """One JSON object, or the benchmark's report (rich renderables) on the console."""
    if as_json:
        typer.echo(json.dumps(out))
        return
    con = Console()
    for part in report(out):
        con.print(part)


def _note(message: str) -> None:
    """What a benchmark is building before a long wait: on stderr, so --json output stays one object."""
    typer.echo(message, err=True)


def bench_engine(
    seed: int = typer.Option(0, help="Seed for the synthetic problem and training."),
    users: int = typer.Option(60, help="New users to evaluate."),
    steps: int = typer.Option(200, help="Elicitation steps timed for the latency figure."),
    criterion: str = typer.Option("fisher", help="Active rule: fisher (default) or norm (the paper's)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
) -> None:
    """The engine on synthetic data with known truth: AUC vs answers, training time, step latency."""
    # Local: a benchmark's code loads only when it runs (`prefchat bench --help` stays cheap)
    from prefchat.bench import engine

    out = engine.measure(seed=seed, users=users, steps=steps, criterion=criterion)
    if as_json:
        typer.echo(json.dumps(out))
        return
    con = Console()
    for part in engine.report(out, seed=seed, users=users, steps=steps):
        con.print(part)


def bench_generate(
    backend: str = typer.Option("llama", help="llama (a GGUF via llama.cpp) or hf (transformers)."),
    model: str = typer.Option(None, help="GGUF file or HF model directory. With --make-tiny: where to "
                                         "write it (default: the prefchat cache directory)."),
    make_tiny: str = typer.Option(None, "--make-tiny",
                                  help="Build a random-weight model if absent: qwen05b (Qwen2.5-0.5B "
                                       "shape: 896 wide, 24 layers, 14/2 heads, ffn 4864, vocab cut "
                                       "to 32,768), qwen05b-full (the real 151,936-token vocab) or "
                                       "tiny (2 layers, 64 wide)."),
    quant: str = typer.Option("q8_0", "--quant",
                              help="Weight types of the --make-tiny GGUF: q8_0, q4_0 or q5_0 (blocks "
                                   "in that type, tied output Q8_0, as llama-quantize writes for "
                                   "this model), q4_0-pure (output Q4_0 too), f16."),
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
    device: str = typer.Option("auto", "--device", help="hf only: cpu, cuda, or auto (the GPU when there "
                               "is one)."),
    compile_steps: bool = typer.Option(False, "--compile", help="hf only: capture the decode step with "
                                       "torch.compile(mode=\"reduce-overhead\") (CUDA graphs) on a GPU."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Best-of-N cost: median wall time of N=1 vs N batched candidates, their ratio and tokens/s.

    Target on 2 CPU threads with a Qwen2.5-0.5B-shaped GGUF: best-of-4 <= 1.6x single, and
    with per-candidate (styled) instructions <= 1.8x. The ratio depends on the weight types
    (--quant): they decide which llama.cpp kernel a multi-row step runs (see bench llama-step)."""
    # Local: a benchmark's code loads only when it runs (`prefchat bench --help` stays cheap)
    from prefchat.bench import generate

    out = generate.measure(backend, model, make_tiny, quant, n, max_tokens, repeats, threads, rerank_profile,
                           candidates, profile_file, device=device, compile_steps=compile_steps, note=_note)
    _emit(out, as_json, generate.report)


def bench_llama_step(
    model: str = typer.Option(None, help="GGUF file (with --make-tiny: where to write it)."),
    make_tiny: str = typer.Option(None, "--make-tiny", help="Build a random-weight GGUF if absent: "
                                  "qwen05b, qwen05b-full or tiny (see bench generate)."),
    quant: str = typer.Option("q8_0", "--quant", help="Weight recipe of --make-tiny (see bench "
                              "generate): q8_0, q4_0, q5_0, q4_0-pure, f16."),
    rows: str = typer.Option("1,2,4,8", help="Comma-separated rows (sequences) per step."),
    steps: int = typer.Option(48, help="Decode steps per timed run."),
    repeats: int = typer.Option(5, help="Timed runs per row count; the median is reported."),
    threads: int = typer.Option(2, help="CPU threads."),
    prefill: int = typer.Option(0, "--prefill", help="Also time decoding a prompt of this many tokens "
                                "(the wait for a reply's first token); 0: off."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Cost of one llama.cpp lockstep decode step with 1, 2, 4, ... rows, against the 1-row step.

    Median wall and CPU ms per step, each against the 1-row step, plus the sampling time per step."""
    # Local: a benchmark's code loads only when it runs (`prefchat bench --help` stays cheap)
    from prefchat.bench import llama_step

    out = llama_step.measure(model, make_tiny, quant, rows, steps, repeats, threads, prefill,
                             note=_note)
    _emit(out, as_json, llama_step.report)


def bench_onboard(
    runs: int = typer.Option(5, help="Runs to take the median of."),
    plain: bool = typer.Option(False, "--plain", help="Measure the --plain quiz instead of the full-screen one."),
) -> None:
    """Time from starting `prefchat onboard` to the first question on screen (a real terminal via a pty)."""
    # Local: a benchmark's code loads only when it runs (`prefchat bench --help` stays cheap)
    from prefchat.bench import startup

    typer.echo(startup.report_onboard(startup.onboard(runs, plain)))


def bench_onboard_live(
    model: str = typer.Option(None, help="GGUF file (default with --make-tiny: the prefchat cache)."),
    make_tiny: str = typer.Option("qwen05b", "--make-tiny",
                                  help="Build a random-weight GGUF if absent: qwen05b (Qwen2.5-0.5B shape) "
                                       "or tiny."),
    quant: str = typer.Option("q8_0", "--quant", help="Weight recipe of --make-tiny (see bench generate): "
                              "q8_0, f16, q4_0, q5_0, q4_0-pure."),
    read_s: float = typer.Option(0.0, "--read-s", help="Also time live questions written while a person "
                                 "reads the pool question before them for this many seconds (the full-screen "
                                 "quiz): the wait left after the answer. 0: off."),
    max_tokens: int = typer.Option(64, help="Tokens per reply, on both sides of the comparison."),
    repeats: int = typer.Option(5, help="Timed runs; medians are reported."),
    threads: int = typer.Option(2, help="CPU threads."),
    per_side: int = typer.Option(2, "--per-side", help="Replies written per instruction (the quiz's default: 2)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Live question (replies + scoring + guard) vs one best-of-2 generation, llama.cpp backend."""
    # Local: a benchmark's code loads only when it runs (`prefchat bench --help` stays cheap)
    from prefchat.bench import live

    out = live.measure(model, make_tiny, max_tokens, repeats, threads, per_side=per_side, note=_note,
                       quant=quant, read_s=read_s)
    typer.echo(json.dumps(out) if as_json else live.report(out))


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
    # Local: a benchmark's code loads only when it runs (`prefchat bench --help` stays cheap)
    from prefchat.bench import startup

    out = startup.chat(model, runs, reply_runs)
    typer.echo(json.dumps(startup.chat_json(out)) if as_json else startup.report_chat(out))


def bench_cli(
    runs: int = typer.Option(20, help="Fresh processes per command (interleaved); medians are reported."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Time `prefchat --help` and `--version` against a bare Python start (target: --help <= 200 ms)."""
    # Local: a benchmark's code loads only when it runs (`prefchat bench --help` stays cheap)
    from prefchat.bench import startup

    out = startup.cli(runs)
    typer.echo(json.dumps(out) if as_json else startup.report_cli(out, runs))


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
    part: str = typer.Option("both", "--part", help="Backbone: measure train, score or both."),
    capture: str = typer.Option("off", "--capture", help="Backbone scoring path: off (eager), graph (CUDA graphs "
                                "over shape buckets) or compile (torch.compile reduce-overhead)."),
    fused: bool = typer.Option(None, "--fused/--no-fused", help="Backbone training: fused AdamW update "
                               "[default: on a GPU]."),
    compile_train: bool = typer.Option(False, "--compile-train", help="Backbone training: torch.compile the model."),
    bucket_tokens: int = typer.Option(0, "--bucket-tokens", help="Backbone training: forward in length buckets "
                                      "of at most this many padded tokens (0: one padded batch)."),
    mixed_lengths: bool = typer.Option(False, "--mixed-lengths", help="Backbone training: responses of "
                                       "random lengths in [train-tokens/4, train-tokens] instead of all full."),
    spans: bool = typer.Option(False, "--spans", help="MiniLM basis: instead, time sentence vectors pooled from "
                               "one pass per response (token spans) against one pass per sentence, and how far "
                               "phi moves (issue 16's route; BENCHMARKS.md)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Basis model speed on this device: training pairs/s, scoring responses/s, and scoring latency.

    Latency: the median to score 8 responses (x 256 tokens for a backbone; ~200 tokens with the
    MiniLM basis).
    GPU targets for Qwen2.5-0.5B shape: 8x256 scoring <= 10 ms, bf16 training >= 600 pairs/s."""
    if spans:
        # Local: a benchmark's code loads only when it runs (`prefchat bench --help` stays cheap)
        from prefchat.bench import spans as span_route
        from prefchat.bench.machine import machine

        result = span_route.measure(runs)
        typer.echo(json.dumps(result) if as_json else span_route.report(result, machine()))
        return
    # Local: as above
    from prefchat.bench import basis

    out = basis.measure(backbone, make_tiny, mode, device, train_pairs, train_tokens, accumulate, steps, runs,
                        threads, compare=not as_json, note=_note, part=part, capture=capture, fused=fused,
                        compile_train=compile_train, bucket_tokens=bucket_tokens, mixed_lengths=mixed_lengths)
    typer.echo(json.dumps(basis.as_json(out)) if as_json else basis.report(out))


def bench_flood(size_mb: int = typer.Option(50, "--size-mb", help="Megabytes the server streams."),
                n: str = typer.Option("1,4", "-n", help="Candidate counts to try."),
                max_tokens: int = typer.Option(512, "--max-tokens"),
                chunk_chars: int = typer.Option(16, "--chunk-chars",
                                                help="Characters per streamed chunk (~ a token)."),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """A server that ignores max_tokens and streams megabytes: time and memory per N."""
    # Local: a benchmark's code loads only when it runs (`prefchat bench --help` stays cheap)
    from prefchat.bench import flood

    out = flood.measure(size_mb, [int(x) for x in n.split(",") if x.strip()], max_tokens, chunk_chars)
    typer.echo(json.dumps(out) if as_json else flood.report(out))


def bench_guard(
    n: int = typer.Option(8, "-n", help="Candidates per turn."),
    repeats: int = typer.Option(200, help="Turns to take the median of."),
    profile: Optional[Path] = typer.Option(None, "--profile", help="Profile file (default: the shipped "
                                           "example profiles/concise-formal.json)."),
    calibrate: bool = typer.Option(False, "--calibrate", help="Also measure the guard's thresholds on the "
                                   "shipped corpus (loads the encoder; features are cached)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Guard + instructions + why per turn (target: <= 5 ms beyond scoring)."""
    # Local: a benchmark's code loads only when it runs (`prefchat bench --help` stays cheap)
    from prefchat.bench import guard

    out = guard.measure(n, repeats, profile, calibrate)
    typer.echo(json.dumps(out) if as_json else guard.report(out, repeats))


def _register() -> None:
    # The order here is the order `prefchat bench --help` lists them in.

    app.command("engine")(bench_engine)
    app.command("generate")(bench_generate)
    app.command("llama-step")(bench_llama_step)
    app.command("onboard")(bench_onboard)
    app.command("onboard-live")(bench_onboard_live)
    app.command("chat")(bench_chat)
    app.command("cli")(bench_cli)
    app.command("basis")(bench_basis)
    app.command("flood")(bench_flood)
    app.command("guard")(bench_guard)


_register()
