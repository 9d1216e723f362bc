"""`prefchat bench engine`: the PReF engine on synthetic data with known truth (AUC against answers,
training time, the latency of one elicitation step)."""

from __future__ import annotations

import json
import time

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from prefchat.bench.machine import machine
from prefchat.reward import evaluate as ev
from prefchat.reward.elicit import Elicitor, population_prior


def bench_engine(
    seed: int = typer.Option(0, help="Seed for the synthetic problem and training."),
    users: int = typer.Option(60, help="New users to evaluate."),
    steps: int = typer.Option(200, help="Elicitation steps timed for the latency figure."),
    criterion: str = typer.Option("fisher", help="Active rule: fisher (default) or norm (the paper's)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
) -> None:
    """The engine on synthetic data with known truth: AUC vs answers, training time, step latency."""
    import torch

    from prefchat.reward.synthetic import make_problem, run_experiment

    torch.set_num_threads(1)  # the latency target is for one core
    budgets = (5, 10, 20, 40)
    problem = make_problem(n_prompts=300, n_features=8, seed=seed)
    res = run_experiment(problem, seed=seed, budgets=budgets, n_eval_users=users,
                         init_epochs=200, epochs=200)
    if criterion != "fisher":
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
        "machine": machine(),
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
