"""Which instruction each of the N candidates is generated under (None: a plain sample).

  plain   every candidate is a plain sample of the same prompt (what chat did before)
  card    every candidate gets the profile's style card (the system-prompt baseline of the paper)
  styled  candidate 1 gets the card; every other candidate an instruction from a Thompson draw
          lambda~ ~ N(lambda, H^-1) of the profile's posterior, in the same trait words, so the pool
          explores around the person's taste

With no profile, or a card that is empty, there is nothing to instruct with and every strategy is
plain. The default is the strategy that won `prefchat eval --generation` (BENCHMARKS.md)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from prefchat.errors import PrefchatError
from prefchat.generation.card import (MAX_TRAITS, instruction, leanings_from, style_card, trait_sds,
                                      trait_weights)

STRATEGIES = ("plain", "card", "styled")
DEFAULT_STRATEGY = "card"


def check_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise PrefchatError(f"unknown candidate strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    return name


def thompson_instruction(profile, basis, rng: np.random.Generator, sds: Optional[np.ndarray] = None,
                         max_traits: int = MAX_TRAITS) -> Optional[str]:
    """An instruction from one draw lambda~ ~ N(lambda, H^-1): the draw's trait weights, named by the
    card's rule (|w~| > one posterior sd). None when the draw leans nowhere clearly."""
    lam = np.asarray(profile.lam, dtype=np.float64)
    prec = np.asarray(profile.precision, dtype=np.float64)
    chol = np.linalg.cholesky(0.5 * (prec + prec.T))
    # H = L L'  =>  lambda + L'^-1 z has covariance L'^-1 L^-1 = H^-1.
    draw = lam + np.linalg.solve(chol.T, rng.standard_normal(lam.shape[0]))
    sds = trait_sds(prec, basis) if sds is None else sds
    return instruction(leanings_from(trait_weights(draw, basis), sds, max_traits)) or None


def candidate_instructions(strategy: str, profile, basis, n: int,
                           rng: np.random.Generator) -> list[Optional[str]]:
    """One instruction (or None) per candidate, candidate 1 first."""
    check_strategy(strategy)
    if n < 1:
        raise ValueError("n must be at least 1")
    if strategy == "plain" or profile is None or basis is None:
        return [None] * n
    card = style_card(profile, basis).text or None
    if card is None:
        return [None] * n
    if strategy == "card":
        return [card] * n
    sds = trait_sds(np.asarray(profile.precision, dtype=np.float64), basis)
    return [card] + [thompson_instruction(profile, basis, rng, sds) for _ in range(n - 1)]
