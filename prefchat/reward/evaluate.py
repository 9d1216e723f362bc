"""The paper's protocol for new users: elicit answers on a calibration pool, test on held-out pairs.

Kept free of corpus and file knowledge: callers pass pair differences and answer oracles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from prefchat.reward.elicit import Elicitor
from prefchat.reward.metrics import accuracy, auc


@dataclass
class CurveResult:
    budgets: list[int]
    auc: np.ndarray  # users x budgets
    accuracy: np.ndarray  # users x budgets
    final_lam: np.ndarray  # users x J, lambda after the largest budget of answers
    asked: list[np.ndarray]  # per user, the pool rows in the order they were asked
    word_budgets: list[int] = field(default_factory=list)
    auc_words: np.ndarray | None = None  # users x word budgets (needs costs)
    words: np.ndarray | None = None  # users x budgets: words read after k answers (needs costs)

    def mean_auc_at_words(self) -> dict[int, float]:
        if self.auc_words is None:
            return {}
        return {b: float(np.nanmean(self.auc_words[:, i])) for i, b in enumerate(self.word_budgets)}

    def median_words(self) -> dict[int, float]:
        if self.words is None:
            return {}
        return {b: float(np.nanmedian(self.words[:, i])) for i, b in enumerate(self.budgets)}

    def mean_auc(self) -> dict[int, float]:
        return {b: float(np.nanmean(self.auc[:, i])) for i, b in enumerate(self.budgets)}

    def mean_accuracy(self) -> dict[int, float]:
        return {b: float(np.nanmean(self.accuracy[:, i])) for i, b in enumerate(self.budgets)}


def elicitation_curve(pool: np.ndarray, pool_prompts: np.ndarray, answers: np.ndarray,
                      test: np.ndarray, test_labels: np.ndarray, budgets: Sequence[int],
                      strategy: str = "active", beta: float | np.ndarray = 1.0, criterion: str = "fisher",
                      prior_mean: np.ndarray | None = None, seed: int = 0, costs: np.ndarray | None = None,
                      word_budgets: Sequence[int] = (), progress: Callable[[int, int], None] | None = None,
                      **elicitor_options) -> CurveResult:
    """AUC and accuracy after each budget of answers, for every user; with `costs` (words read per
    pool pair) also the AUC after each budget of words read.

    pool: (K, J) calibration pair differences; answers: (users, K) each user's answer to each pool pair
    (1, 0 or 0.5); test: (T, J) test pair differences; test_labels: (users, T).
    progress(users done, users) is called after each user.

    At a words budget B the model is the one fitted on the answers whose pairs were read in full
    within B words: a question that would run past B is not counted (it was not finished)."""
    budgets = sorted(int(b) for b in budgets)
    word_budgets = sorted(int(b) for b in word_budgets)
    if word_budgets and costs is None:
        raise ValueError("word budgets need costs (words read per pool pair)")
    n_users = answers.shape[0]
    aucs = np.full((n_users, len(budgets)), np.nan)
    accs = np.full((n_users, len(budgets)), np.nan)
    auc_w = np.full((n_users, len(word_budgets)), np.nan) if costs is not None else None
    words = np.full((n_users, len(budgets)), np.nan) if costs is not None else None
    final = np.zeros((n_users, pool.shape[1]))
    asked = []
    for u in range(n_users):
        el = Elicitor(pool, pool_prompts, beta=beta, prior_mean=prior_mean, strategy=strategy, criterion=criterion,
                      seed=seed * 100_003 + u, costs=costs, **elicitor_options)

        def score():
            return auc(test @ el.lam, test_labels[u])

        bi = wi = 0
        read = 0.0
        k = 0
        while bi < len(budgets) or wi < len(word_budgets):
            q = el.next_question()
            if q is None:
                break
            if costs is not None:
                while wi < len(word_budgets) and read + costs[q] > word_budgets[wi]:
                    auc_w[u, wi] = score()  # this question would not be finished within the budget
                    wi += 1
                read += costs[q]
            el.answer(q, float(answers[u, q]))
            k += 1
            while bi < len(budgets) and budgets[bi] == k:
                s = test @ el.lam
                aucs[u, bi], accs[u, bi] = auc(s, test_labels[u]), accuracy(s, test_labels[u])
                if words is not None:
                    words[u, bi] = read
                bi += 1
                if bi == len(budgets):
                    final[u] = el.lam
        while bi < len(budgets):  # pool exhausted: the last fit stands for larger budgets
            s = test @ el.lam
            aucs[u, bi], accs[u, bi] = auc(s, test_labels[u]), accuracy(s, test_labels[u])
            if words is not None:
                words[u, bi] = read
            bi += 1
            final[u] = el.lam
        while wi < len(word_budgets):
            auc_w[u, wi] = score()
            wi += 1
        if not budgets:
            final[u] = el.lam
        asked.append(np.array(el.asked, dtype=np.int64))
        if progress:
            progress(u + 1, n_users)
    return CurveResult(budgets, aucs, accs, final, asked, word_budgets, auc_w, words)


def fixed_scores(scores: np.ndarray, test_labels: np.ndarray) -> tuple[float, float]:
    """Mean per-user AUC and accuracy for fixed per-user scores (users x T), e.g. the oracle."""
    a = [auc(scores[u], test_labels[u]) for u in range(scores.shape[0])]
    c = [accuracy(scores[u], test_labels[u]) for u in range(scores.shape[0])]
    return float(np.nanmean(a)), float(np.nanmean(c))


def per_user_scores(fn: Callable[[int], np.ndarray], n_users: int) -> np.ndarray:
    return np.stack([fn(u) for u in range(n_users)])
