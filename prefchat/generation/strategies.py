"""Which instruction each of the N candidates is generated under (None: a plain sample).

  plain   every candidate is a plain sample of the same prompt (what chat did before)
  card    every candidate gets the profile's style card (the system-prompt baseline of the paper)
  styled  candidate 1 gets the card; every other candidate an instruction from a Thompson draw
          lambda~ ~ N(lambda, H^-1) of the profile's posterior, in the same trait words, so the pool
          explores around the person's taste
  explore the card for every candidate but the last, which gets one Thompson instruction: the
          mix the issue suggested trying (card for most, one explorer)
  focused every candidate gets the two strongest leanings of more than half a posterior sd (a
          bolder, shorter card: see FOCUSED_THRESHOLD)

With no profile (or one from another basis) there is nothing to instruct with and every strategy is
plain; a candidate whose instruction would name no trait is a plain sample. The default is the strategy that won `prefchat eval --generation` (BENCHMARKS.md)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from prefchat.errors import PrefchatError
from prefchat.generation.card import (
    MAX_TRAITS,
    instruction,
    leanings,
    leanings_from,
    style_card,
)
from prefchat.generation.traits import estimate

STRATEGIES = ("plain", "card", "styled", "explore", "focused")
DEFAULT_STRATEGY = "focused"
# focused: the two strongest leanings of more than half a posterior sd. Chosen on the validation
# quadrant of the simulation (the split's training users x held-out prompts, 10 quiz answers,
# p = 0.7): win rate vs a plain reply at N = 4 of 0.806 against 0.795 for the card (at most three
# leanings of more than one sd), 0.792 for two leanings of more than one sd, 0.793 for three of more
# than half an sd. A trait whose sign is right two times in three is worth naming when only two are
# named (the generator follows two as readily as one); the card shown to people keeps the stricter
# rule, because it claims to describe them.
FOCUSED_TRAITS = 2
FOCUSED_THRESHOLD = 0.5


def check_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise PrefchatError(f"unknown candidate strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    return name


def thompson_instruction(profile, basis, rng: np.random.Generator,
                         max_traits: int = MAX_TRAITS) -> Optional[str]:
    """An instruction from one Thompson draw of the profile's posterior, named by the card's rule
    (|w~| > one posterior sd). None when the draw leans nowhere clearly.

    The draw is of the seven trait weights the card reads (generation/traits.py): from the labelled
    quiz answers' posterior, or lambda~ ~ N(lambda, H^-1) read through the basis axes."""
    est = estimate(profile, basis)
    return instruction(leanings_from(est.draw(rng), est.sds, max_traits)) or None


def candidate_instructions(strategy: str, profile, basis, n: int,
                           rng: np.random.Generator) -> list[Optional[str]]:
    """One instruction (or None) per candidate, candidate 1 first."""
    check_strategy(strategy)
    if n < 1:
        raise ValueError("n must be at least 1")
    if (strategy == "plain" or profile is None or basis is None or not basis.axes
            or profile.basis.fingerprint != basis.fingerprint):
        return [None] * n  # nothing to say the person's style with
    card = style_card(profile, basis).text or None  # None: no clear leaning yet (a plain sample)
    if strategy == "card":
        return [card] * n
    if strategy == "focused":
        return [instruction(leanings(profile, basis, FOCUSED_TRAITS, FOCUSED_THRESHOLD)) or None] * n
    if strategy == "explore":
        return [card] * (n - 1) + [thompson_instruction(profile, basis, rng)] if n > 1 else [card]
    return [card] + [thompson_instruction(profile, basis, rng) for _ in range(n - 1)]
