"""`prefchat bench engine`: the PReF engine on synthetic data with known truth (AUC against answers,
training time, the latency of one elicitation step)."""

from __future__ import annotations

import time

import numpy as np
from rich.table import Table

from prefchat.bench.machine import machine
from prefchat.reward import evaluate as ev
from prefchat.reward.elicit import Elicitor, population_prior

BUDGETS = (5, 10, 20, 40)  # answers at which the AUC is reported
TRUE_DIMS = 4  # rank of the synthetic problem's true basis


def measure(seed: int = 0, users: int = 60, steps: int = 200, criterion: str = "fisher") -> dict:
    """The engine trained on a synthetic problem with known truth; the dict `--json` prints."""
    import torch

    from prefchat.reward.synthetic import make_problem, run_experiment

    torch.set_num_threads(1)  # the latency target is for one core
    problem = make_problem(n_prompts=300, n_features=8, true_dims=TRUE_DIMS, seed=seed)
    res = run_experiment(problem, seed=seed, budgets=BUDGETS, n_eval_users=users,
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
                                 problem.outcomes[new][:, problem.test_pairs], BUDGETS, "active",
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
        "answers": list(BUDGETS),
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
    return out


def report(out: dict, seed: int, users: int, steps: int) -> list:
    """What `measure` found, as rich renderables to print in turn: the AUC table, then one line per figure."""
    t = Table(title=f"prefchat bench engine (synthetic, seed {seed}, {users} new users, rule {out['criterion']})")
    t.add_column("answers", justify="right")
    for name in ("active", "random", "oracle"):
        t.add_column(f"AUC {name}", justify="right")
    for b in out["answers"]:
        t.add_row(str(b), f"{out['auc']['active'][b]:.3f}", f"{out['auc']['random'][b]:.3f}",
                  f"{out['auc']['oracle']:.3f}")
    return [
        t,
        f"principal angles to the true basis (deg): {out['principal_angles_deg']}",
        f"validation AUC (train users, held-out prompts): {out['validation_auc']:.3f}",
        f"singular values of the completed matrix: {out['spectrum']}; elbow at J={out['elbow']} "
        f"(true rank {TRUE_DIMS})",
        f"training time: {out['train_seconds']:.1f} s",
        f"elicitation step (refit + choose among 10,000, J=8), median of {steps}: {out['step_ms_median']:.3f} ms",
        f"machine: {out['machine']}",
    ]
