"""A profile's weights on the seven named traits, with their posterior sd: the numbers the card speaks.

Two estimates, the better one first (the first is used while labelled answers are at least half of
the profile's answers):

  answers  The onboarding quiz shows responses of the shipped corpus, whose trait labels ship with
           it. A profile keeps its answers as texts, so they are matched back to the labelled rows and
           the weights are fitted on the label differences directly (the same MAP logistic fit as
           lambda, with a N(0, I) prior on the seven weights). Answers that match no labelled pair
           (chat picks, another corpus) are left out.
  axes     Otherwise lambda is read through the basis axes: w_t = a_t . lambda, sd_t = sqrt(a_t' H^-1 a_t).

Why both: phi captures some traits only partly (humour: 67 % held-out pairwise accuracy), so the axes
blur what ten answers said. In the simulation (`prefchat eval --generation`: the split's users take
the quiz with 10 answers), the reply of a held-out prompt that best matches each estimate (ties at
random) wins against a random reply 83.6 % (answers) vs 79.3 % (axes) for the 25 new users, and
83.1 % vs 80.8 % for the 59 training users; the true weights would give 85.1 % / 84.7 %."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

from prefchat.data.corpus import TRAITS, load_corpus
from prefchat.reward.elicit import fit_lambda

OUTCOME = {"a": 1.0, "b": 0.0, "tie": 0.5}
PRIOR_PRECISION = 1.0   # N(0, 1) per trait: a weight of +-1 is a clear, ordinary preference


def trait_matrix(basis) -> np.ndarray:
    """The axes as a (7, J) matrix in TRAITS order (rows of zeros for traits the basis lacks)."""
    J = basis.dims
    by = {ax.trait: np.asarray(ax.vector, dtype=np.float64) for ax in basis.axes}
    return np.stack([by.get(t, np.zeros(J)) for t in TRAITS])


@dataclass
class TraitEstimate:
    weights: np.ndarray   # 7, in TRAITS order
    cov: np.ndarray       # 7 x 7 posterior covariance
    source: str           # "answers" (n labelled quiz answers) or "axes"
    n_answers: int = 0

    @property
    def sds(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One Thompson draw of the seven weights from the posterior."""
        return rng.multivariate_normal(self.weights, self.cov, method="eigh")


def axes_estimate(lam, precision, basis) -> TraitEstimate:
    A = trait_matrix(basis)
    cov = A @ np.linalg.inv(np.asarray(precision, dtype=np.float64)) @ A.T
    return TraitEstimate(A @ np.asarray(lam, dtype=np.float64), 0.5 * (cov + cov.T), "axes")


@lru_cache(maxsize=4)
def _label_index(corpus_path: Optional[str]) -> dict:
    """(prompt text, response text) -> trait label row, for a labelled corpus (the shipped one by
    default). Loaded once per process."""
    c = load_corpus(corpus_path)
    return {(c.prompt_text(c.prompt_ids[c.response_prompt[i]]), t): c.traits[i]
            for i, t in enumerate(c.texts)}


def warm() -> None:
    """Read the shipped corpus's labels now (~30 ms), e.g. in the worker that loads the scorer, so the
    first turn's card does not pay for it."""
    try:
        _label_index(None)
    except Exception:  # noqa: BLE001 - no labelled corpus: the axes estimate stands in
        pass


def labelled_differences(answers, corpus_path: Optional[str] = None) -> tuple[np.ndarray, np.ndarray]:
    """Label differences traits(a) - traits(b) and outcomes for the answers that match labelled
    responses of one prompt."""
    try:
        index = _label_index(corpus_path)
    except Exception:  # noqa: BLE001 - no labelled corpus: the axes estimate stands in
        return np.zeros((0, len(TRAITS))), np.zeros(0)
    rows, ys = [], []
    for a in answers:
        ta, tb = index.get((a.prompt, a.a)), index.get((a.prompt, a.b))
        if ta is not None and tb is not None and a.choice in OUTCOME:
            rows.append(ta - tb)
            ys.append(OUTCOME[a.choice])
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(TRAITS)), np.asarray(ys, dtype=np.float64)


def estimate(profile, basis, corpus_path: Optional[str] = None) -> TraitEstimate:
    """The profile's trait weights: from its labelled quiz answers when they are at least half of its
    answers, else through the axes (lambda has learned from every answer, chat picks included, so once
    those outnumber the quiz it speaks for the person better)."""
    fit = _label_fit(tuple((a.prompt, a.a, a.b, a.choice) for a in profile.answers), corpus_path)
    if fit is None or 2 * fit[2] < len(profile.answers):
        return axes_estimate(profile.lam, profile.precision, basis)
    w, cov, n = fit
    return TraitEstimate(w.copy(), cov.copy(), "answers", n)


@lru_cache(maxsize=64)
def _label_fit(answers: tuple, corpus_path: Optional[str]):
    """(weights, covariance, n) fitted on the labelled answers, or None. Cached on the answers' text
    (str hashes are cached by Python), because a chat turn asks for the card once per strategy."""
    D, y = labelled_differences([_A(*a) for a in answers], corpus_path)
    if len(y) == 0:
        return None
    w, H = fit_lambda(D, y, beta=PRIOR_PRECISION)
    cov = np.linalg.inv(H)
    return w, 0.5 * (cov + cov.T), len(y)


@dataclass(frozen=True)
class _A:
    prompt: str
    a: str
    b: str
    choice: str
