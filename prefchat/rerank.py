"""Personalised best-of-N: score N candidate replies with the profile's reward lambda . phi(x, y) and
pick the best.

    r_i = lambda . phi(prompt, y_i)          phi from the profile's basis (encoder + head)
    best = argmax_i r_i                      ties go to the lowest index (stable sort), so the same
                                             candidates and profile always give the same pick

Without a profile there is nothing to personalise with: the first candidate is returned, unscored,
and `note` says why. A profile fitted on a different basis (fingerprint mismatch) is refused, because
its lambda means nothing in this basis's phi space; `prefchat profile refit` fixes that.

The scorer (torch + MiniLM) is loaded and warmed by `load()`, on the GPU when there is one: call it
in a worker (the chat does at start-up, `ask` while it generates). `seconds` on the result is the
time spent scoring, so it can be compared with generation time (target: reranking <= 5% of it)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Optional, Sequence

from prefchat.errors import PrefchatError

NO_PROFILE_NOTE = "no profile: showing the first candidate (run `prefchat onboard` to personalise)"


@dataclass
class Ranked:
    index: int                 # position among the generated candidates
    text: str
    score: Optional[float]     # lambda . phi, or None when there was no profile
    rank: int = 0              # 0 = best


@dataclass
class RerankResult:
    ranked: list[Ranked]       # best first
    seconds: float             # time spent scoring
    note: Optional[str] = None

    @property
    def best(self) -> Ranked:
        return self.ranked[0]

    def by_index(self, index: int) -> Ranked:
        return next(r for r in self.ranked if r.index == index)


def order(scores: Sequence[float]) -> list[int]:
    """Indices best first; equal scores keep index order (lowest index wins a tie)."""
    return sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))


def check_profile_basis(profile, basis) -> None:
    """Refuse a profile fitted on another basis, with the one-line fix."""
    if profile.basis.fingerprint != basis.fingerprint or profile.basis.dims != basis.dims:
        raise PrefchatError(
            f"profile '{profile.name}' was fitted on basis '{profile.basis.name}' "
            f"({profile.basis.fingerprint[:19]}…), not the loaded basis '{basis.name}' "
            f"({basis.fingerprint[:19]}…); run `prefchat profile refit {profile.name}`")


class Reranker:
    """Holds the basis, the profile's lambda and (once loaded) the scorer.

    scorer may be passed in (tests share one across apps; it must come from the same basis)."""

    def __init__(self, basis=None, profile=None, scorer=None, device: Optional[str] = None) -> None:
        self.basis = basis
        self.profile = profile
        self.device = device
        self._scorer = scorer
        self._lock = threading.Lock()
        self._warm = False
        if profile is not None:
            if basis is None:
                raise ValueError("a profile needs its basis")
            check_profile_basis(profile, basis)

    @property
    def personalised(self) -> bool:
        return self.profile is not None

    @property
    def scorer(self):
        return self.load()

    def load(self):
        """The scorer, loaded and warmed (encoder weights in memory, one tiny forward done) on first
        use: seconds, so call it in a worker. Thread-safe: a rerank waits here for a load in
        progress, so its timed window is scoring only."""
        if self.basis is None:
            return None
        with self._lock:
            if self._scorer is None:
                self._scorer = self.basis.scorer(device=self.device)
            if not self._warm:
                warm = getattr(self._scorer, "warm", None)  # a MiniLM encoder loads lazily until then
                if warm is not None:
                    warm()
                self._warm = True
            return self._scorer

    def set_profile(self, profile) -> None:
        if profile is not None:
            check_profile_basis(profile, self.basis)
        self.profile = profile

    def rerank(self, prompt: str, texts: Sequence[str]) -> RerankResult:
        texts = list(texts)
        if not texts:
            raise ValueError("nothing to rerank")
        if self.profile is None:
            return RerankResult([Ranked(i, t, None, i) for i, t in enumerate(texts)], 0.0,
                                NO_PROFILE_NOTE)
        import numpy as np

        scorer = self.load()
        t0 = time.perf_counter()
        lam = np.asarray(self.profile.lam, dtype=np.float64)
        phi = np.asarray(scorer.phi(texts, [prompt] * len(texts)), dtype=np.float64)
        scores = phi @ lam
        seconds = time.perf_counter() - t0
        ranked = [Ranked(i, texts[i], float(scores[i]), r) for r, i in enumerate(order(scores))]
        return RerankResult(ranked, seconds)
