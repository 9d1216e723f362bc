"""`prefchat ask "..."`: one prompt, best-of-N, the chosen reply on stdout. For scripts and pipes:
progress and notes go to stderr, so stdout is only the reply (or, with --all, the ranked list).
Model text is printed cleaned of escape sequences and control characters (prefchat/textsafe.py),
to a terminal and to a pipe alike: a pipe often ends in a terminal (`| less -R`, `| tee`)."""

from __future__ import annotations

import sys
import threading
from typing import Optional

import typer

from prefchat.chat.factory import make_session, resolve_config
from prefchat.chat.session import dropped_reason
from prefchat.config import parse_value
from prefchat.errors import PrefchatError
from prefchat.omp import prefer_passive_waits
from prefchat.textsafe import clean


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)


def load_scorer_in_background(session) -> threading.Thread:
    """Load and warm the scorer in a thread while the model loads and generates. The rerank waits for
    it (Reranker.load is locked), so the rerank time it reports is scoring only. A failure here is
    left for the rerank to meet again and report as its note, with the candidates kept."""
    def load() -> None:
        try:
            session.load_scorer()
        except Exception:  # noqa: BLE001 - reported by the rerank, which retries the load
            pass

    thread = threading.Thread(target=load, name="prefchat-scorer-load", daemon=True)
    thread.start()
    return thread


def ask(
    prompt: str = typer.Argument(..., help='The prompt; "-" reads it from stdin.'),
    n: Optional[int] = typer.Option(None, "-n", help="Candidates to draft (best-of-N)."),
    candidates: Optional[str] = typer.Option(None, "--candidates", "-c",
                                             help="plain | card | styled | ... | auto (see `prefchat "
                                                  "chat --help`). Default: config `candidates`, "
                                                  "else auto."),
    all_: bool = typer.Option(False, "--all", help="Print every candidate, best first, with scores."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b", help="llama | hf | openai"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model path, dir, hub id or name."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="Profile that picks the reply."),
    system: Optional[str] = typer.Option(None, "--system", help="System prompt (default: config)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Sampling seed (reproducible candidates)."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Reply length limit."),
) -> None:
    """Ask once and print the reply your profile likes best."""
    prefer_passive_waits()  # before the model and the scorer load their thread pools

    if prompt == "-":
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise PrefchatError("empty prompt")
    cfg = resolve_config(backend, model, n, candidates)
    if max_tokens is not None:
        cfg.max_tokens = parse_value("max_tokens", str(max_tokens), "--max-tokens")
    if system is not None:
        cfg.system_prompt = system
    session = make_session(cfg, profile, with_history=False)
    load_scorer_in_background(session)  # overlaps the model load and generation
    session.load_backend()
    session.add_user(prompt.strip())
    result = session.generate(seed=seed)
    if result.rerank.note:
        typer.echo(f"prefchat: {clean(result.rerank.note)}", err=True)
    if session.strategy_note:  # after generating, so a failure stays the one line on stderr
        typer.echo(f"prefchat: {session.strategy_note}", err=True)
    if not all_:
        typer.echo(clean(result.rerank.best.text))
        return

    for r in result.rerank.ranked:
        score = "unscored" if r.score is None else f"score {r.score:+.4f}"
        dropped = dropped_reason(r)
        typer.echo(f"=== #{r.rank + 1} candidate {r.index + 1} · {score}"
                   f"{' (chosen)' if r.rank == 0 else ''}"
                   f"{f' · dropped by the guard: {dropped}' if dropped else ''}")
        if result.instructions is not None:
            instr = result.instruction(r.index)
            typer.echo(f"instruction: {instr}" if instr else "instruction: (none)")
        typer.echo(clean(r.text))
    if result.why:
        typer.echo(f"--- why #1: {result.why}")
    typer.echo(f"--- {result.n} {result.strategy} candidates · {result.tokens} tokens · "
               f"{result.gen_seconds:.2f} s ({result.tokens_per_s:.1f} tok/s) · "
               f"rerank {result.rerank.seconds * 1000:.0f} ms", err=True)
