"""Simulated users, as in the paper's Attributes study.

A user is a weight vector over the seven traits; their reward for a response is the weighted sum of
its trait labels, and they prefer a over b with probability sigmoid(KAPPA * (r(a) - r(b))), with a tie
when the rewards are equal. KAPPA = 4 makes a one-step trait difference a 98 % preference: near the
deterministic judgements of the paper's LLM-labelled data, yet not perfectly noiseless."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from prefchat.data.corpus import TRAITS

KAPPA = 4.0


@dataclass(frozen=True)
class SimUsers:
    names: list[str]
    weights: np.ndarray  # U x 7

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, idx) -> SimUsers:
        idx = np.asarray(idx)
        return SimUsers([self.names[i] for i in idx], self.weights[idx])


def paper_users() -> SimUsers:
    """The 84 two-trait users: two different attributes, one direction each (21 x 4)."""
    names, rows = [], []
    for t1, t2 in combinations(range(len(TRAITS)), 2):
        for s1 in (1, -1):
            for s2 in (1, -1):
                w = np.zeros(len(TRAITS))
                w[t1], w[t2] = s1, s2
                names.append(f"{TRAITS[t1]}{'+' if s1 > 0 else '-'}/{TRAITS[t2]}{'+' if s2 > 0 else '-'}")
                rows.append(w)
    return SimUsers(names, np.array(rows))


def dense_users(n: int = 100, seed: int = 0) -> SimUsers:
    """A 'dense' population: every user weighs all seven traits, weights ~ N(0, 1)."""
    w = np.random.default_rng(seed).normal(size=(n, len(TRAITS)))
    return SimUsers([f"dense-{i:03d}" for i in range(n)], w)


def simulate(users: SimUsers, traits: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int = 0,
             kappa: float = KAPPA) -> np.ndarray:
    """U x M outcomes (1: a preferred, 0: b preferred, 0.5: tie), deterministic from the seed."""
    dr = users.weights @ (traits[a] - traits[b]).T
    rng = np.random.default_rng(seed)
    draw = rng.random(dr.shape) < 1.0 / (1.0 + np.exp(-kappa * dr))
    return np.where(dr == 0, 0.5, draw.astype(float))
