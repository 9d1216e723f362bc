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
time spent scoring, so it can be compared with generation time (target: reranking <= 5% of it).

Every pick goes through the guard first (prefchat.generation.guard.screen): empty, wordless, looping,
truncated and off-topic candidates are dropped before lambda . phi decides, with or without a profile.
Dropped candidates are still scored and listed, after the kept ones, with the reason. Relevance (for
the guard's floor) comes from the same encoder pass as phi when the basis reads MiniLM sentence
embeddings: the prompt's sentences ride in the candidates' batch. `seconds` is that scoring pass
only; `guard_seconds` is the guard plus "why this reply"."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from prefchat.errors import PrefchatError
from prefchat.generation import relevance
from prefchat.generation.explain import why, why_text
from prefchat.generation.guard import order, screen  # noqa: F401 - order is part of this API
from prefchat.generation.traits import warm as warm_traits

# The scorer reads at most this much of a candidate (and of the prompt): its encoder truncates to a
# few hundred tokens anyway, and tokenising megabytes from a runaway server would stall the pick.
MAX_SCORE_CHARS = 16_000
NO_PROFILE_NOTE = "no profile: showing the first candidate (run `prefchat onboard` to personalise)"


@dataclass
class Ranked:
    index: int                 # position among the generated candidates
    text: str
    score: Optional[float]     # lambda . phi, or None when there was no profile
    rank: int = 0              # 0 = best
    ok: bool = True            # False: dropped by the guard (ranked after every kept candidate)
    reason: Optional[str] = None        # the guard's reason (dropped), or its note (kept anyway)
    phi: Optional[Any] = None           # phi(x, y) as a numpy vector, when scored
    relevance: Optional[float] = None   # prompt-reply similarity, when the encoder gives one
    instruction: Optional[str] = None   # the instruction the candidate was generated under


@dataclass
class RerankResult:
    ranked: list[Ranked]       # best first; kept candidates before dropped ones
    seconds: float             # time spent scoring (encoder + head)
    note: Optional[str] = None
    guard_seconds: float = 0.0  # the guard and the "why" (not scoring)
    # "why this reply": the two traits that most separated the winner from the runner-up, as
    # (trait, contribution to the score margin); empty without a profile or a distinct runner-up.
    why: list = field(default_factory=list)
    why_text: str = ""         # the same in words: "more concise (+0.81), more casual (+0.30)"

    @property
    def best(self) -> Ranked:
        return self.ranked[0]

    @property
    def dropped(self) -> list[Ranked]:
        return [r for r in self.ranked if not r.ok]

    def by_index(self, index: int) -> Ranked:
        return next(r for r in self.ranked if r.index == index)


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

                warm_traits()  # the card's labels, here in the worker rather than on the first turn
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

    def rerank(self, prompt: str, texts: Sequence[str], finish_reasons: Optional[Sequence[str]] = None,
               instructions: Optional[Sequence[Optional[str]]] = None) -> RerankResult:
        """Guard, then lambda . phi. finish_reasons (per candidate "stop"/"length"/...) lets the guard
        catch truncated junk; instructions are only carried onto the result for display."""
        texts = list(texts)
        if not texts:
            raise ValueError("nothing to rerank")
        instr = list(instructions) if instructions is not None else [None] * len(texts)
        if len(instr) != len(texts):
            raise ValueError("instructions needs one entry per candidate")
        if self.profile is None:
            t0 = time.perf_counter()
            verdicts = screen(prompt, texts, finish_reasons)
            guard_s = time.perf_counter() - t0
            ok = [v.ok for v in verdicts]
            idx = order([0.0] * len(texts), ok)
            ranked = [Ranked(i, texts[i], None, r, ok[i], verdicts[i].reason, instruction=instr[i])
                      for r, i in enumerate(idx)]
            return RerankResult(ranked, 0.0, NO_PROFILE_NOTE, guard_s)

        scorer = self.load()
        t0 = time.perf_counter()
        lam = np.asarray(self.profile.lam, dtype=np.float64)
        capped = [t[:MAX_SCORE_CHARS] for t in texts]
        phi, rel = phi_and_relevance(scorer, prompt[:MAX_SCORE_CHARS], capped)
        scores = phi @ lam
        seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        verdicts = screen(prompt, texts, finish_reasons, None if rel is None else list(rel))
        ok = [v.ok for v in verdicts]
        ranked = [Ranked(i, texts[i], float(scores[i]), r, ok[i], verdicts[i].reason, phi[i],
                         None if rel is None else float(rel[i]), instr[i])
                  for r, i in enumerate(order(scores, ok))]
        result = RerankResult(ranked, seconds)
        self._explain(result)
        result.guard_seconds = time.perf_counter() - t1
        return result

    def _explain(self, result: RerankResult) -> None:
        """Fill result.why from the winner and the best kept candidate with different text."""
        if not self.basis.axes:
            return
        best = result.best
        runner = next((r for r in result.ranked[1:] if r.ok and r.text != best.text), None)
        if runner is None or best.phi is None or runner.phi is None:
            return

        result.why = why(best.phi, runner.phi, self.profile, self.basis)
        result.why_text = why_text(result.why, self.profile, self.basis)


def phi_and_relevance(scorer, prompt: str, texts: list[str]):
    """phi of the texts, and each text's relevance to the prompt (None when the scorer's encoder
    does not give sentence embeddings). One encoder pass: the prompt rides in the texts' batch."""
    enc, head = getattr(scorer, "encoder", None), getattr(scorer, "head", None)
    if head is None or not relevance.supports(enc) or not hasattr(enc, "features"):
        return np.asarray(scorer.phi(texts, [prompt] * len(texts)), dtype=np.float64), None
    import torch

    # Identical texts are encoded once and share a row, so they tie exactly (a matrix product can
    # round identical rows differently by position), as Scorer.phi does.
    uniq = list(dict.fromkeys(list(texts) + [prompt]))
    rows = [uniq.index(t) for t in texts]
    feats = enc.features(uniq)
    with torch.inference_mode():
        phi = head(torch.as_tensor(feats, device=scorer.device)).double().cpu().numpy()
    return phi[rows], relevance.cosine(feats[uniq.index(prompt)], feats[rows])
