"""`prefchat eval --generation`: the simulated generation table (logic in prefchat.generation.simulate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from prefchat.basis import load_basis
from prefchat.errors import PrefchatError
from prefchat.generation.simulate import run_generation
from prefchat.generation.strategies import DEFAULT_STRATEGY, STRATEGIES


def run(corpus: Optional[Path], basis: Optional[str], answers: Optional[str], users: str, seed: int,
        as_json: bool, p: float, draws: int, validation: bool) -> None:
    try:
        k = int(answers) if answers is not None else 10
    except ValueError:
        raise PrefchatError(f"--answers {answers!r}: with --generation give one whole number of quiz "
                            "answers, e.g. --answers 10") from None
    if k < 1:
        raise PrefchatError(f"--answers {k}: give at least one quiz answer")
    if not 0.0 <= p <= 1.0:
        raise PrefchatError(f"--p {p}: the follow probability must be between 0 and 1")
    if draws < 1:
        raise PrefchatError(f"--draws {draws}: give at least 1")
    if users not in ("paper", "dense"):
        raise PrefchatError(f"--users {users!r}: use 'paper' or 'dense'")

    out = run_generation(load_basis(basis), corpus, p=p, answers=k, population=users, seed=seed,
                         draws=draws, validation=validation)
    if as_json:
        typer.echo(json.dumps({"generation": out["generation"], "default": DEFAULT_STRATEGY,
                               "ceiling": out["ceiling"], "p": out["p"], "answers": out["answers"],
                               "users": out["users"]}))
        return

    ns = list(next(iter(out["generation"].values())))
    t = Table(title=f"prefchat eval --generation — win rate of the shown reply vs a plain reply "
                    f"({out['users']} users x {out['prompts']} prompts x {out['draws']} draws, p = {p}, "
                    f"{k} quiz answers; {out['protocol']})")
    t.add_column("strategy")
    for n in ns:
        t.add_column(f"N={n}", justify="right")
    for s in STRATEGIES:
        mark = " (default)" if s == DEFAULT_STRATEGY else ""
        t.add_row(s + mark, *[f"{out['generation'][s][n]:.1%}" for n in ns])
    c = Console()
    c.print(t)
    c.print(f"ceiling (the best reply of the prompt's whole pool): {out['ceiling']:.1%}")
