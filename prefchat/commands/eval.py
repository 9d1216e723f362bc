"""`prefchat eval`: the paper's evaluation protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from prefchat.errors import PrefchatError


def eval_cmd(
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Corpus JSONL (default: the shipped corpus)."),
    basis: Optional[str] = typer.Option(None, "--basis", help="Basis directory or name (default: shipped)."),
    answers: Optional[str] = typer.Option(None, "--answers", help="Comma-separated answer budgets "
                                          "(default 5,10,20,40); with --generation one number (default 10)."),
    users: str = typer.Option("paper", "--users", help="Simulated users: paper (84 two-trait) or dense."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write AUC vs answers as a PNG."),
    generation: bool = typer.Option(False, "--generation", help="Simulate personalised generation: win rate "
                                    "of the shown reply vs a plain reply per candidate strategy and N."),
    p: float = typer.Option(0.7, "--p", help="With --generation: how often the simulated model follows an "
                            "instruction of up to two traits."),
    draws: int = typer.Option(4, "--draws", help="With --generation: repetitions per user and prompt."),
    validation: bool = typer.Option(False, "--validation", help="With --generation on the basis's own "
                                    "corpus: the split's training users (for choosing settings)."),
) -> None:
    """New users: AUC and accuracy vs number of answers (active, random), with baselines and win rate.
    With --generation: the candidate strategies of chat, in simulation (see prefchat/generation)."""
    if generation:
        from prefchat.commands.eval_generation import run

        return run(corpus, basis, answers, users, seed, as_json, p, draws, validation)
    answers = answers or "5,10,20,40"
    try:
        budgets = sorted({int(x) for x in answers.split(",") if x.strip()})
    except ValueError:
        raise PrefchatError(f"--answers {answers!r}: give whole numbers separated by commas, e.g. 5,10,20,40") from None
    if not budgets or budgets[0] < 1:
        raise PrefchatError("--answers: budgets must be >= 1")
    if users not in ("paper", "dense"):
        raise PrefchatError(f"--users {users!r}: use 'paper' or 'dense'")
    plt = None
    if plot is not None:  # check before minutes of evaluation, not after
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise PrefchatError("--plot needs matplotlib: pip install matplotlib") from None
        if not plot.parent.is_dir():
            raise PrefchatError(f"--plot {plot}: folder {plot.parent} does not exist")
    from prefchat.basis import load_basis
    from prefchat.evaluation import run_eval

    out = run_eval(load_basis(basis), corpus, budgets, users, seed)
    if plt is not None:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for k in ("active", "random", "per_user"):
            ax.plot(budgets, [out["auc"][k][str(b)] for b in budgets], marker="o", label=k)
        ax.axhline(out["auc"]["global"], ls="--", c="gray", label="global (J=1)")
        ax.axhline(out["auc"]["oracle"], ls=":", c="k", label="oracle")
        ax.set_xlabel("answers"), ax.set_ylabel("AUC-ROC (new users, held-out prompts)"), ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(plot, dpi=120)
    if as_json:
        typer.echo(json.dumps(out))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"prefchat eval — {out['users']} new users, {out['test_pairs']} test pairs ({out['protocol']})")
    t.add_column("answers", justify="right")
    for k in ("active", "random", "per_user"):
        t.add_column(f"AUC {k}", justify="right")
        t.add_column(f"acc {k}", justify="right")
    for b in budgets:
        row = [str(b)]
        for k in ("active", "random", "per_user"):
            row += [f"{out['auc'][k][str(b)]:.3f}", f"{out['accuracy'][k][str(b)]:.3f}"]
        t.add_row(*row)
    c = Console()
    c.print(t)
    c.print(f"global reward (J=1): AUC {out['auc']['global']:.3f}, acc {out['accuracy']['global']:.3f}")
    c.print(f"oracle (true lambda*, true traits): AUC {out['auc']['oracle']:.3f}, acc {out['accuracy']['oracle']:.3f}")
    c.print(f"win rate of the personalised pick over the global pick: {out['winrate_vs_global']:.1%}")
