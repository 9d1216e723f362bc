"""`prefchat eval`: the paper's evaluation protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from prefchat.basis import load_basis
from prefchat.commands.eval_generation import run
from prefchat.commands.progress import stage_bars
from prefchat.data.corpus import load_corpus, require_prompts
from prefchat.errors import PrefchatError
from prefchat.basis.evaluate import run_eval

# Progress bars (stderr) for run_eval's stages: the whole run takes minutes on 2 cores.
EVAL_STAGES = {"encode": "encoding responses", "active": "new users, active questions",
               "cost-aware": "new users, cost-aware questions",
               "random": "new users, random questions", "per_user": "per-user baseline",
               "global_init": "global baseline: SVD start", "global_joint": "global baseline: fit",
               "simulate": "simulated win rate"}


def eval_cmd(
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Corpus JSONL (default: the shipped corpus)."),
    basis: Optional[str] = typer.Option(None, "--basis", help="Basis directory or name (default: shipped)."),
    answers: Optional[str] = typer.Option(None, "--answers", help="Comma-separated answer budgets "
                                          "(default 5,10,20,40); with --generation one number (default 10)."),
    users: str = typer.Option("paper", "--users", help="Simulated users: paper (84 two-trait) or dense."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write AUC vs answers and vs words read as a PNG."),
    words: str = typer.Option("500,1000,1500,2500,4000", "--words",
                              help="Comma-separated budgets of words read (reading cost of elicitation)."),
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
        return run(corpus, basis, answers, users, seed, as_json, p, draws, validation)
    answers = answers or "5,10,20,40"
    try:
        budgets = sorted({int(x) for x in answers.split(",") if x.strip()})
    except ValueError:
        raise PrefchatError(f"--answers {answers!r}: give whole numbers separated by commas, e.g. 5,10,20,40") from None
    if not budgets or budgets[0] < 1:
        raise PrefchatError("--answers: budgets must be >= 1")
    try:
        word_budgets = sorted({int(x) for x in words.split(",") if x.strip()})
    except ValueError:
        raise PrefchatError(f"--words {words!r}: give whole numbers separated by commas, e.g. 500,1000,2500") from None
    if not word_budgets or word_budgets[0] < 1:
        raise PrefchatError("--words: budgets must be >= 1")
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

    require_prompts(load_corpus(corpus), 2, "eval")  # a clear line, before loading the basis

    with stage_bars(EVAL_STAGES) as progress:
        out = run_eval(load_basis(basis), corpus, budgets, users, seed, words=word_budgets,
                       progress=progress)
    if plt is not None:
        fig, (ax, axw) = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
        for k in ("active", "cost-aware", "random", "per_user"):
            ax.plot(budgets, [out["auc"][k][str(b)] for b in budgets], marker="o", label=k)
        ax.axhline(out["auc"]["global"], ls="--", c="gray", label="global (J=1)")
        ax.axhline(out["auc"]["oracle"], ls=":", c="k", label="oracle")
        ax.set_xlabel("answers"), ax.set_ylabel("AUC-ROC (new users, held-out prompts)"), ax.legend(fontsize=7)
        for k in ("active", "cost-aware", "random"):  # the reading cost of the same elicitation
            axw.plot(word_budgets, [out["auc_at_words"][k][str(b)] for b in word_budgets], marker="o", label=k)
        axw.axhline(out["auc"]["oracle"], ls=":", c="k")
        axw.set_xlabel("words read (prompt + both responses)"), axw.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(plot, dpi=120)
    if as_json:
        typer.echo(json.dumps(out))
        return

    t = Table(title=f"prefchat eval — {out['users']} new users, {out['test_pairs']} test pairs ({out['protocol']})")
    t.add_column("answers", justify="right")
    cols = ("active", "cost-aware", "random", "per_user")
    for k in cols:
        t.add_column(f"AUC {k}", justify="right")
        t.add_column(f"acc {k}", justify="right")
    for b in budgets:
        row = [str(b)]
        for k in cols:
            row += [f"{out['auc'][k][str(b)]:.3f}", f"{out['accuracy'][k][str(b)]:.3f}"]
        t.add_row(*row)
    c = Console()
    c.print(t)
    strategies = ("active", "cost-aware", "random")
    tw = Table(title="reading cost: AUC after a budget of words read (prompt + both responses per question)")
    tw.add_column("words read", justify="right")
    for k in strategies:
        tw.add_column(f"AUC {k}", justify="right")
    for b in word_budgets:
        tw.add_row(str(b), *[f"{out['auc_at_words'][k][str(b)]:.3f}" for k in strategies])
    c.print(tw)
    mw = out["median_words_at_answers"]
    c.print("median words read after " + "; ".join(
        f"{b} answers: " + ", ".join(f"{k} {mw[k][str(b)]:.0f}" for k in strategies) for b in budgets))
    q = out["default_quiz"]
    c.print(f"default quiz (cost-aware, {q['words_budget']} words, at most {q['max_questions']} questions): "
            f"AUC {q['auc']:.3f}, median {q['median_words']:.0f} words in {q['median_questions']:.0f} questions")
    c.print(f"global reward (J=1): AUC {out['auc']['global']:.3f}, acc {out['accuracy']['global']:.3f}")
    c.print(f"oracle (true lambda*, true traits): AUC {out['auc']['oracle']:.3f}, acc {out['accuracy']['oracle']:.3f}")
    c.print(f"win rate of the personalised pick over the global pick: {out['winrate_vs_global']:.1%}")
