"""A new person's lambda from a handful of answers, and which question to ask next (PReF, Alg. 2).

The fit is a MAP logistic regression on a fixed basis:

    minimise  -sum_i [y_i log s(v_i.l) + (1 - y_i) log(1 - s(v_i.l))] + beta/2 ||l - mu||^2

with v_i = phi(x, y_a) - phi(x, y_b) and ties as y = 0.5 targets. Newton's method from the prior mean
solves it deterministically; beta > 0 keeps it strictly convex, so the answer is well defined with 0
answers (l = mu) and with perfectly separable ones.

Active selection (logistic bandits): H = beta I + sum_i s'(v_i.l) v_i v_i^T is the precision of the
Laplace posterior, and the next pair is argmax_v ||v||_{H^-1}, the pair whose outcome the current
model is least sure how to predict from what it knows.

Cost-aware selection weighs information against what a question costs the person: reading. What the
answers are for is ranking pairs, and the test of that (AUC on held-out pairs) reads lambda only
through v.l for the pairs a person will meet. So the criterion is V-optimal: the expected predictive
variance of v.l over the pool's pairs, E_v[v^T H^-1 v] = tr(S H^-1) with S = E[v v^T] the pool's
second moment, and the gain of a pair v is how much answering it shrinks that (Sherman-Morrison on
H + w v v^T, w = s'(v.l)):

    gain(v) = w (H^-1 v)^T S (H^-1 v) / (1 + w v^T H^-1 v)

It is bounded (a pair cannot remove more variance than there is along it), so unlike the raw Fisher
information it does not reward a long pair for its large norm alone, and it ignores directions of
lambda that no pair varies along. The pick is argmax gain(v) / (words(v) + overhead): variance removed
per word read, where the overhead is a fixed per-question cost (deciding and pressing a key takes
seconds however short the pair).

Measured on the shipped corpus (BENCHMARKS.md, "Cost-aware onboarding"; rules chosen on data other
than the reported seed: new users with simulated-answer seeds 1-4, and the split's training users with
seeds 0-3; mean AUC after 1,273 words read, and of the default 1,200-word quiz):

                                        new users s1-4   training users s0-3
                                        1,273 w  quiz    1,273 w  quiz
    stored (narrow) prior:
    D-optimal 1/2 log(1 + x) / (w + 20)  0.865  0.862    0.888  0.884
    V-optimal / words                    0.874  0.869    0.885  0.883
    V-optimal / (words + 20)             0.871  0.870    0.888  0.885
    V-optimal / (words + 50)             0.867  0.866    0.888  0.884
    prior widened x 2 (PRIOR_WIDENING):
    D-optimal 1/2 log(1 + x) / (w + 20)  0.872  0.869    0.890  0.887
    V-optimal / (words + 20)             0.880  0.879    0.893  0.892   <- shipped

with x = s'(v.l) ||v||^2_{H^-1} (the D-optimal increment of log det H, the previous rule). Pricing the
words is what matters most (active selection, which ignores them: about 0.80 after 1,273 words).
V-optimal / (words + 20) is never worse than the D-optimal rule on these sets and better by 0.003-0.010:
small, about the spread between seeds (+-0.01), so the case for it is mostly that it measures what the
evaluation measures. Neither rule reaches the AUC of 15 active answers within 1,273 words;
BENCHMARKS.md says why (about 12 answers are needed whatever the rule, and only 30 of the 1,695 pool
pairs are short enough for 12 of them to fit)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def _prior_matrix(beta: float | np.ndarray, J: int) -> np.ndarray:
    b = np.asarray(beta, dtype=np.float64)
    if b.ndim == 0:
        if b <= 0:
            raise ValueError("beta must be > 0 so the fit is defined for few or separable answers")
        return float(b) * np.eye(J)
    if b.shape != (J, J) or np.any(np.linalg.eigvalsh(0.5 * (b + b.T)) <= 0):
        raise ValueError(f"beta must be a positive number or a positive-definite {J}x{J} matrix")
    return b


# How much wider than the training users' PReF vectors a new person's prior is (covariance x 2, i.e.
# precision / 2). PReF regularises its vectors, which probably shrinks them: on the shipped corpus,
# fitting each training user alone on all 1,695 of their calibration answers gives vectors with ~4x
# the variance of the stored prior (trace ratio 3.9). Widening by 2 was the best of 0.5 / 1 / 1.4 / 2 / 4 / 10 for the
# cost-aware quiz on the rule-choice data (new users' answer seeds 1-4, training users' seeds 0-3);
# active selection gains too (10 answers: 0.876 -> 0.883 there). BENCHMARKS.md, "Cost-aware onboarding".
# Basis.prior applies it when a basis is read, so the stored prior stays the plain empirical one and
# every reader (quiz, refit, eval, chat) agrees.
PRIOR_WIDENING = 2.0


def population_prior(user_vectors: np.ndarray, ridge: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian prior (mean, precision matrix) fitted to the training users' vectors: empirical Bayes,
    so a new person starts from 'a typical user' and the prior is as wide as the population."""
    lam = np.asarray(user_vectors, dtype=np.float64)
    cov = np.cov(lam, rowvar=False) if lam.shape[0] > 1 else np.eye(lam.shape[1])
    cov = np.atleast_2d(cov) + ridge * np.eye(lam.shape[1])
    return lam.mean(axis=0), np.linalg.inv(cov)


def fit_lambda(v: np.ndarray, y: np.ndarray, beta: float | np.ndarray = 1.0,
               prior_mean: np.ndarray | None = None,
               init: np.ndarray | None = None, max_iter: int = 50, tol: float = 1e-8
               ) -> tuple[np.ndarray, np.ndarray]:
    """MAP lambda and the posterior precision H for answers (v, y). Returns (lambda, H).

    beta is the prior precision: a number (beta * I, as in the paper) or a J x J matrix."""
    v = np.asarray(v, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError("v must be an (n, J) array")
    n, J = v.shape
    if y.shape != (n,):
        raise ValueError("y must have one outcome per row of v")
    mu = np.zeros(J) if prior_mean is None else np.asarray(prior_mean, dtype=np.float64)
    lam = mu.copy() if init is None else np.asarray(init, dtype=np.float64).copy()
    prior = _prior_matrix(beta, J)
    for _ in range(max_iter):
        p = _sigmoid(v @ lam)
        grad = v.T @ (p - y) + prior @ (lam - mu)
        hess = prior + (v.T * (p * (1.0 - p))) @ v
        step = np.linalg.solve(hess, grad)
        lam -= step
        if float(step @ step) < tol * tol:
            break
    p = _sigmoid(v @ lam)
    hess = prior + (v.T * (p * (1.0 - p))) @ v
    return lam, hess


def uncertainty(candidates: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """||v||_{H^-1} for every candidate row, vectorised through one Cholesky factorisation."""
    chol = np.linalg.cholesky(precision)
    # ||v||^2_{H^-1} = ||L^-1 v||^2 with H = L L^T
    z = np.linalg.solve(chol, np.asarray(candidates, dtype=np.float64).T)
    return np.sqrt(np.einsum("ij,ij->j", z, z))


OVERHEAD_WORDS = 20.0    # fixed cost of one question, in words read (about 5 s): see the module doc
FIRST_MAX_WORDS = 150.0  # the first question (random, before any answer) is drawn among pairs shorter than this


def information_gain(candidates: np.ndarray, lam: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Expected information of each candidate's answer, 1/2 log(1 + s'(v.l) ||v||^2_{H^-1}) in nats:
    the increase of 1/2 log det H if the pair were answered (D-optimal; the cost-aware rule before the
    V-optimal one, kept for comparison: see the module doc)."""
    c = np.asarray(candidates, dtype=np.float64)
    p = _sigmoid(c @ lam)
    return 0.5 * np.log1p(uncertainty(c, precision) ** 2 * p * (1.0 - p))


def pool_second_moment(pool: np.ndarray) -> np.ndarray:
    """S = E[v v^T] over the pool's pair differences (uncentred: a pair's orientation is arbitrary)."""
    v = np.asarray(pool, dtype=np.float64)
    return v.T @ v / max(len(v), 1)


def variance_reduction(candidates: np.ndarray, lam: np.ndarray, precision: np.ndarray,
                       second_moment: np.ndarray) -> np.ndarray:
    """For each candidate v, how much answering it would shrink tr(S H^-1), the expected predictive
    variance of v'.l over pairs v' with second moment S (V-optimal design; see the module doc):
    w (H^-1 v)^T S (H^-1 v) / (1 + w v^T H^-1 v) with w = s'(v.l), exact for the Laplace posterior."""
    c = np.asarray(candidates, dtype=np.float64)
    p = _sigmoid(c @ lam)
    w = p * (1.0 - p)
    hv = np.linalg.solve(precision, c.T)            # J x K: H^-1 v for every candidate
    quad = np.einsum("jk,jk->k", c.T, hv)           # v^T H^-1 v
    num = np.einsum("jk,jk->k", hv, second_moment @ hv)
    return w * num / (1.0 + w * quad)


def uncertain_direction(precision: np.ndarray) -> np.ndarray:
    """nu, the unit direction of lambda space the posterior is least sure about: the top eigenvector of
    H^-1 (the bottom one of H, computed without inverting). Algorithm 2 generates a pair along it.
    The sign is fixed (largest component positive) so the same H always gives the same nu."""
    w, vecs = np.linalg.eigh(0.5 * (precision + precision.T))
    nu = vecs[:, int(np.argmin(w))]
    return nu if nu[int(np.argmax(np.abs(nu)))] > 0 else -nu


@dataclass
class Elicitor:
    """State of one person's elicitation over a fixed pool of candidate pairs.

    pool: (K, J) pair differences; prompts: K prompt ids (no prompt is asked twice).
    strategy: "active" (argmax ||v||_{H^-1}), "cost-aware" (the most predictive variance over the pool's
    pairs removed per word read; needs `costs`, the words a person reads for each pair) or "random"
    (the baseline). The first pick is random; for "cost-aware" it is drawn among pairs of fewer than
    `first_max_cost` words (the cheapest pair when none is that short), so the first screen is quick
    to read.
    budget: with costs, a limit on the words read in total; only pairs that still fit are asked, and
    next_question() returns None once none does (any strategy)."""

    pool: np.ndarray
    prompts: np.ndarray
    beta: float | np.ndarray = 1.0
    prior_mean: np.ndarray | None = None
    strategy: str = "active"
    criterion: str = "fisher"
    seed: int = 0
    costs: np.ndarray | None = None
    overhead: float = OVERHEAD_WORDS
    first_max_cost: float = FIRST_MAX_WORDS
    budget: float | None = None
    asked: list[int] = field(default_factory=list)
    outcomes: list[float] = field(default_factory=list)
    # Answers to pairs that are not in the pool (e.g. generated live): their differences, outcomes and
    # words; `order` says which list each answer went to (True = external), for undo.
    external: list[np.ndarray] = field(default_factory=list)
    external_outcomes: list[float] = field(default_factory=list)
    external_costs: list[float] = field(default_factory=list)
    order: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.strategy not in ("active", "cost-aware", "random"):
            raise ValueError("strategy must be 'active', 'cost-aware' or 'random'")
        self.pool = np.asarray(self.pool, dtype=np.float64)
        self.prompts = np.asarray(self.prompts)
        if self.pool.ndim != 2 or self.prompts.shape != (self.pool.shape[0],):
            raise ValueError("pool must be (K, J) and prompts must have K entries")
        if self.costs is not None:
            self.costs = np.asarray(self.costs, dtype=np.float64)
            if self.costs.shape != (self.pool.shape[0],) or not np.all(np.isfinite(self.costs)) or np.any(
                    self.costs < 0):
                raise ValueError("costs must be K finite, non-negative word counts")
        if self.strategy == "cost-aware":
            if self.costs is None:
                raise ValueError("strategy 'cost-aware' needs costs (words read per pair)")
            if not self.overhead >= 0:
                raise ValueError("overhead must be >= 0")
        if self.budget is not None and self.costs is None:
            raise ValueError("a words budget needs costs (words read per pair)")
        self._rng = np.random.default_rng(self.seed)
        self.dims = self.pool.shape[1]
        self.second_moment = pool_second_moment(self.pool)  # what "the pairs a person meets" look like
        self.refit(warm=False)

    def refit(self, warm: bool = True) -> None:
        """Refit lambda on all answers (pool and external); a warm start from the last lambda saves
        Newton steps."""
        v = self.pool[self.asked] if self.asked else np.zeros((0, self.dims))
        y = np.asarray(self.outcomes, dtype=np.float64)
        if self.external:
            v = np.vstack([v, np.asarray(self.external, dtype=np.float64)])
            y = np.concatenate([y, np.asarray(self.external_outcomes, dtype=np.float64)])
        init = getattr(self, "lam", None) if warm else None
        self.lam, self.precision = fit_lambda(v, y, beta=self.beta, prior_mean=self.prior_mean, init=init)

    def available(self) -> np.ndarray:
        """Mask of pool rows whose prompt has not been asked yet."""
        used = np.isin(self.prompts, self.prompts[self.asked]) if self.asked else np.zeros(len(self.prompts), bool)
        return ~used

    def next_question(self) -> int | None:
        """Index of the next pair to ask, or None when every prompt has been used (or, with a budget,
        when no unused pair fits in the words left)."""
        ok = self.available()
        if self.budget is not None:
            ok &= self.costs <= self.budget - self.words_read()
        if not ok.any():
            return None
        idx = np.flatnonzero(ok)
        if self.strategy == "cost-aware":
            if not self.order:
                short = idx[self.costs[idx] < self.first_max_cost]
                if short.size == 0:
                    short = idx[self.costs[idx] == self.costs[idx].min()]
                return int(self._rng.choice(short))
            gain = variance_reduction(self.pool[idx], self.lam, self.precision, self.second_moment)
            return int(idx[int(np.argmax(gain / (self.costs[idx] + self.overhead)))])
        if self.strategy == "random" or not self.order:
            return int(self._rng.choice(idx))
        scores = uncertainty(self.pool[idx], self.precision)
        if self.criterion == "fisher":
            p = _sigmoid(self.pool[idx] @ self.lam)
            scores = scores ** 2 * p * (1.0 - p)
        return int(idx[int(np.argmax(scores))])  # argmax takes the first maximum: deterministic

    def answer(self, index: int, outcome: float) -> None:
        if outcome not in (0.0, 0.5, 1.0):
            raise ValueError("outcome must be 1 (a), 0 (b) or 0.5 (tie)")
        self.asked.append(int(index))
        self.outcomes.append(float(outcome))
        self.order.append(False)
        self.refit()

    def answer_pair(self, diff: np.ndarray, outcome: float, cost: float = 0.0) -> None:
        """An answer to a pair outside the pool (diff = phi(a) - phi(b)): it updates lambda exactly as
        a pool answer does, and uses up no pool prompt."""
        if outcome not in (0.0, 0.5, 1.0):
            raise ValueError("outcome must be 1 (a), 0 (b) or 0.5 (tie)")
        d = np.asarray(diff, dtype=np.float64)
        if d.shape != (self.dims,) or not np.all(np.isfinite(d)):
            raise ValueError(f"diff must be {self.dims} finite numbers")
        self.external.append(d)
        self.external_outcomes.append(float(outcome))
        self.external_costs.append(float(cost))
        self.order.append(True)
        self.refit()

    @property
    def n_answers(self) -> int:
        return len(self.order)

    def undo(self) -> int | np.ndarray | None:
        """Forget the last answer; returns the pool index it was for (the difference for an external
        pair), or None when there is nothing to undo."""
        if not self.order:
            return None
        if self.order.pop():
            last = self.external.pop()
            self.external_outcomes.pop()
            self.external_costs.pop()
        else:
            last = self.asked.pop()
            self.outcomes.pop()
        self.refit(warm=False)
        return last

    def words_read(self) -> float:
        """Words read so far (prompt + both responses of every answered pair); needs costs."""
        if self.costs is None:
            raise ValueError("no costs given")
        return (float(self.costs[self.asked].sum()) if self.asked else 0.0) + float(sum(self.external_costs))

    def posterior_sd(self) -> np.ndarray:
        """Per-dimension posterior standard deviation (sqrt of diag H^-1)."""
        return np.sqrt(np.diag(np.linalg.inv(self.precision)))
