"""The style card: a profile in words, short enough for a model (or a person) to follow.

A user's weight on a named trait, w_t, and its posterior sd s_t come from generation/traits.py: fitted
on the trait labels of the profile's quiz answers when it has them, else read from lambda through the
basis axes (w_t = a_t . lambda, s_t = sqrt(a_t' H^-1 a_t), see prefchat.basis.axes.trait_axes). The
card names a trait only when |w_t| > threshold * s_t (about one sd from zero: the profile has clearly
learned it), strongest first in sd units, at most three: people and models follow short instructions
best, and the simulation (`prefchat eval --generation`) shows an instruction naming many traits is
followed less often.

    Answer concisely and casually; be confident.

Adverbs join after "Answer"; traits that read as their own imperative clause follow after a
semicolon."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from prefchat.data.corpus import TRAITS
from prefchat.generation.traits import estimate, trait_matrix  # noqa: F401 - trait_matrix re-exported

# trait -> (phrase for +1, phrase for -1), the poles of the corpus labels (docs/FORMATS.md, "Corpus").
TRAIT_PHRASES: dict[str, tuple[str, str]] = {
    "length": ("in detail", "concisely"),
    "formality": ("formally", "casually"),
    "humour": ("with humour", "seriously"),
    "elicitation": ("end by asking me a question", "don't ask me questions back"),
    "politeness": ("politely", "bluntly"),
    "enthusiasm": ("enthusiastically", "calmly"),
    "confidence": ("be confident", "hedge where you are unsure"),
}
# Phrases that are imperative clauses of their own rather than adverbs of "Answer".
_CLAUSES = {"end by asking me a question", "don't ask me questions back", "be confident",
            "hedge where you are unsure"}
MAX_TRAITS = 3


@dataclass
class Leaning:
    trait: str
    sign: int          # +1: towards the trait's + pole (verbose, formal, ...), -1: towards the - pole
    strength: float    # |w| in posterior sd units


@dataclass
class Card:
    text: str                      # "" when no leaning is clear
    leanings: list[Leaning]
    why_empty: Optional[str] = None


def trait_weights(lam: np.ndarray, basis) -> np.ndarray:
    """w_t = a_t . lambda for the seven traits."""
    return trait_matrix(basis) @ np.asarray(lam, dtype=np.float64)


def trait_sds(precision: np.ndarray, basis) -> np.ndarray:
    """Posterior sd of each trait weight: sqrt(a_t' H^-1 a_t)."""
    A = trait_matrix(basis)
    cov = np.linalg.inv(np.asarray(precision, dtype=np.float64))
    return np.sqrt(np.clip(np.einsum("tj,jk,tk->t", A, cov, A), 0.0, None))


def leanings_from(weights: np.ndarray, sds: np.ndarray, max_traits: int = MAX_TRAITS,
                  threshold: float = 1.0) -> list[Leaning]:
    """Traits with |w| > threshold * sd, strongest (in sd units) first, at most max_traits."""
    out = []
    for t, w, s in zip(TRAITS, weights, sds):
        if s > 0 and abs(w) > threshold * s and t in TRAIT_PHRASES:
            out.append(Leaning(t, 1 if w > 0 else -1, float(abs(w) / s)))
    out.sort(key=lambda x: (-x.strength, TRAITS.index(x.trait)))
    return out[:max_traits]


def leanings(profile, basis, max_traits: int = MAX_TRAITS, threshold: float = 1.0) -> list[Leaning]:
    """The profile's clear leanings on the named traits (see the module doc and generation/traits.py
    for where the weights and sds come from)."""
    est = estimate(profile, basis)
    return leanings_from(est.weights, est.sds, max_traits, threshold)


def phrase(leaning: Leaning) -> str:
    pos, neg = TRAIT_PHRASES[leaning.trait]
    return pos if leaning.sign > 0 else neg


def instruction(leans: Sequence[Leaning]) -> str:
    """'Answer concisely and casually; be confident.' ('' for no leanings), in the order given."""
    adverbs = [phrase(x) for x in leans if phrase(x) not in _CLAUSES]
    clauses = [phrase(x) for x in leans if phrase(x) in _CLAUSES]
    parts = []
    if adverbs:
        joined = adverbs[0] if len(adverbs) == 1 else ", ".join(adverbs[:-1]) + " and " + adverbs[-1]
        parts.append("answer " + joined)
    parts += clauses
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def style_card(profile, basis) -> Card:
    """The profile's card; an empty card says why it is empty."""
    if profile is None:
        return Card("", [], "no profile: run `prefchat onboard` to make one")
    if basis is None or profile.basis.fingerprint != basis.fingerprint:
        return Card("", [], f"profile '{profile.name}' was fitted on another basis; run "
                            f"`prefchat profile refit {profile.name}`")
    if not basis.axes:
        return Card("", [], f"basis '{basis.name}' has no named traits to describe a profile with")
    leans = leanings(profile, basis)
    if not leans:
        n = len(profile.answers)
        return Card("", [], f"no trait is clearly learned yet (none is more than one posterior sd "
                            f"from zero after {n} answer{'s' if n != 1 else ''}); answer a few more "
                            f"questions with `prefchat onboard --profile {profile.name}`")
    return Card(instruction(leans), leans)


def direction_instructions(direction: np.ndarray, basis, max_traits: int = 2,
                           share: float = 0.5) -> tuple[str, str]:
    """Instructions for the traits along +direction and along -direction of lambda space.

    Live onboarding (Algorithm 2 with generated pairs) asks the model for two replies that differ
    along the direction it wants to learn about; this names that direction's strongest traits
    (|w_t| >= share * max |w|, at most max_traits) for each side."""
    w = trait_weights(np.asarray(direction, dtype=np.float64), basis)
    top = float(np.max(np.abs(w))) if w.size else 0.0
    if not top > 0:
        return "", ""
    idx = [i for i in np.argsort(-np.abs(w), kind="stable") if abs(w[i]) >= share * top][:max_traits]
    plus = [Leaning(TRAITS[i], 1 if w[i] > 0 else -1, float(abs(w[i]) / top)) for i in idx]
    minus = [Leaning(x.trait, -x.sign, x.strength) for x in plus]
    return instruction(plus), instruction(minus)
