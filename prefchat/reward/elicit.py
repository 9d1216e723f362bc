"""A new person's lambda from a handful of answers, and which question to ask next (PReF, Alg. 2).

The fit is a MAP logistic regression on a fixed basis:

    minimise  -sum_i [y_i log s(v_i.l) + (1 - y_i) log(1 - s(v_i.l))] + beta/2 ||l - mu||^2

with v_i = phi(x, y_a) - phi(x, y_b) and ties as y = 0.5 targets. Newton's method from the prior mean
solves it deterministically; beta > 0 keeps it strictly convex, so the answer is well defined with 0
answers (l = mu) and with perfectly separable ones.

Active selection (logistic bandits): H = beta I + sum_i s'(v_i.l) v_i v_i^T is the precision of the
Laplace posterior, and the next pair is argmax_v ||v||_{H^-1}, the pair whose outcome the current
model is least sure how to predict from what it knows."""

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


@dataclass
class Elicitor:
    """State of one person's elicitation over a fixed pool of candidate pairs.

    pool: (K, J) pair differences; prompts: K prompt ids (no prompt is asked twice).
    strategy: "active" (argmax ||v||_{H^-1}) or "random" (the baseline). The first pick is random."""

    pool: np.ndarray
    prompts: np.ndarray
    beta: float | np.ndarray = 1.0
    prior_mean: np.ndarray | None = None
    strategy: str = "active"
    criterion: str = "fisher"
    seed: int = 0
    asked: list[int] = field(default_factory=list)
    outcomes: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.strategy not in ("active", "random"):
            raise ValueError("strategy must be 'active' or 'random'")
        self.pool = np.asarray(self.pool, dtype=np.float64)
        self.prompts = np.asarray(self.prompts)
        if self.pool.ndim != 2 or self.prompts.shape != (self.pool.shape[0],):
            raise ValueError("pool must be (K, J) and prompts must have K entries")
        self._rng = np.random.default_rng(self.seed)
        self.dims = self.pool.shape[1]
        self.refit(warm=False)

    def refit(self, warm: bool = True) -> None:
        """Refit lambda on all answers; a warm start from the last lambda saves Newton steps."""
        v = self.pool[self.asked] if self.asked else np.zeros((0, self.dims))
        init = getattr(self, "lam", None) if warm else None
        self.lam, self.precision = fit_lambda(v, np.asarray(self.outcomes, dtype=np.float64),
                                              beta=self.beta, prior_mean=self.prior_mean, init=init)

    def available(self) -> np.ndarray:
        """Mask of pool rows whose prompt has not been asked yet."""
        used = np.isin(self.prompts, self.prompts[self.asked]) if self.asked else np.zeros(len(self.prompts), bool)
        return ~used

    def next_question(self) -> int | None:
        """Index of the next pair to ask, or None when every prompt has been used."""
        ok = self.available()
        if not ok.any():
            return None
        idx = np.flatnonzero(ok)
        if self.strategy == "random" or not self.asked:
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
        self.refit()

    def undo(self) -> int | None:
        """Forget the last answer; returns the pair index it was for."""
        if not self.asked:
            return None
        last = self.asked.pop()
        self.outcomes.pop()
        self.refit(warm=False)
        return last

    def posterior_sd(self) -> np.ndarray:
        """Per-dimension posterior standard deviation (sqrt of diag H^-1)."""
        return np.sqrt(np.diag(np.linalg.inv(self.precision)))
