"""The engine's data model: many users' pairwise judgements over a table of pairs.

A *pair* compares two responses to one prompt; responses are rows of an input table that the basis
model reads (cached encoder features, token ids, ...). An *observation* says that a user compared a
pair and preferred response a (1.0), response b (0.0) or neither (0.5, a tie)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUTCOMES = (0.0, 0.5, 1.0)


@dataclass(frozen=True)
class PairTable:
    """M pairs: pair m compares response rows a[m] and b[m], both answering prompt prompt_ids[m]."""

    a: np.ndarray
    b: np.ndarray
    prompt_ids: np.ndarray

    def __post_init__(self) -> None:
        a, b = np.asarray(self.a, dtype=np.int64), np.asarray(self.b, dtype=np.int64)
        p = np.asarray(self.prompt_ids)
        if a.shape != b.shape or a.ndim != 1 or p.shape != a.shape:
            raise ValueError("PairTable: a, b and prompt_ids must be 1-D arrays of equal length")
        if np.any(a == b):
            raise ValueError("PairTable: a pair must compare two different responses")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "prompt_ids", p)

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def subset(self, idx: np.ndarray) -> PairTable:
        return PairTable(self.a[idx], self.b[idx], self.prompt_ids[idx])


@dataclass(frozen=True)
class Preferences:
    """Observations (user[k], pair[k], outcome[k]) over n_users users and n_pairs pairs."""

    user: np.ndarray
    pair: np.ndarray
    outcome: np.ndarray
    n_users: int
    n_pairs: int

    def __post_init__(self) -> None:
        u = np.asarray(self.user, dtype=np.int64)
        m = np.asarray(self.pair, dtype=np.int64)
        y = np.asarray(self.outcome, dtype=np.float64)
        if not (u.shape == m.shape == y.shape) or u.ndim != 1:
            raise ValueError("Preferences: user, pair and outcome must be 1-D arrays of equal length")
        if u.size and (u.min() < 0 or u.max() >= self.n_users):
            raise ValueError(f"Preferences: user index outside 0..{self.n_users - 1}")
        if m.size and (m.min() < 0 or m.max() >= self.n_pairs):
            raise ValueError(f"Preferences: pair index outside 0..{self.n_pairs - 1}")
        if not np.all(np.isin(y, OUTCOMES)):
            raise ValueError("Preferences: outcomes must be 1 (a preferred), 0 (b preferred) or 0.5 (tie)")
        object.__setattr__(self, "user", u)
        object.__setattr__(self, "pair", m)
        object.__setattr__(self, "outcome", y)

    def __len__(self) -> int:
        return int(self.user.shape[0])

    @property
    def density(self) -> float:
        """Observed fraction of the U x M matrix (distinct cells)."""
        cells = np.unique(self.user * self.n_pairs + self.pair).size
        return cells / float(self.n_users * self.n_pairs) if self.n_users and self.n_pairs else 0.0

    def matrix(self) -> np.ndarray:
        """U x M matrix of mean outcomes, NaN where a user never saw the pair."""
        total = np.zeros((self.n_users, self.n_pairs))
        count = np.zeros((self.n_users, self.n_pairs))
        np.add.at(total, (self.user, self.pair), self.outcome)
        np.add.at(count, (self.user, self.pair), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def select(self, mask: np.ndarray) -> Preferences:
        return Preferences(self.user[mask], self.pair[mask], self.outcome[mask], self.n_users, self.n_pairs)
