"""The style card: each example profile's card names the leanings it was made with; the wording; the
empty card and why; instructions along a direction (live onboarding); candidate strategies."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from prefchat.data.corpus import TRAITS
from prefchat.generation.card import (
    Leaning,
    direction_instructions,
    instruction,
    leanings,
    style_card,
    trait_matrix,
)
from prefchat.generation.strategies import STRATEGIES, candidate_instructions
from prefchat.profiles.profile import BasisRef, new_profile

from .conftest import example, personas

# The words a reader expects for each pole, written out here rather than read from TRAIT_PHRASES, so a
# phrase attached to the wrong pole fails.
POLE_WORDS = {("length", -1): "concise", ("length", 1): "detail", ("formality", 1): "formal",
              ("formality", -1): "casual", ("humour", 1): "humour", ("humour", -1): "serious",
              ("elicitation", 1): "asking me a question", ("elicitation", -1): "don't ask",
              ("politeness", 1): "polite", ("politeness", -1): "blunt", ("enthusiasm", 1): "enthusiastic",
              ("enthusiasm", -1): "calm", ("confidence", 1): "be confident", ("confidence", -1): "unsure"}


@pytest.mark.parametrize("name", sorted(personas()))
def test_example_profile_card_names_its_leanings(basis, name):
    truth = personas()[name]  # e.g. {"length": -1.0, "formality": 1.0}
    card = style_card(example(name), basis)
    assert card.why_empty is None and card.text.endswith(".")
    for trait, w in truth.items():
        assert POLE_WORDS[(trait, int(np.sign(w)))] in card.text.lower(), (name, card.text)
        assert POLE_WORDS[(trait, -int(np.sign(w)))] not in card.text.lower()
    named = {(x.trait, x.sign) for x in card.leanings}
    assert {(t, int(np.sign(w))) for t, w in truth.items()} <= named
    assert len(card.leanings) <= 3
    s = [x.strength for x in card.leanings]
    assert s == sorted(s, reverse=True) and min(s) > 1.0


def test_instruction_wording():
    L = lambda t, s: Leaning(t, s, 2.0)  # noqa: E731
    assert instruction([]) == ""
    assert instruction([L("length", -1)]) == "Answer concisely."
    assert instruction([L("length", -1), L("formality", -1), L("confidence", 1)]) == \
        "Answer concisely and casually; be confident."
    assert instruction([L("confidence", -1), L("elicitation", 1)]) == \
        "Hedge where you are unsure; end by asking me a question."
    assert instruction([L("politeness", 1), L("humour", 1), L("enthusiasm", -1)]) == \
        "Answer politely, with humour and calmly."


def test_prior_only_profile_has_an_empty_card_that_says_why(basis):
    mean, prec = basis.prior
    prof = new_profile("new", basis.name, basis.fingerprint, mean, prec)
    card = style_card(prof, basis)
    assert card.text == "" and card.leanings == []
    assert "no trait is clearly learned" in card.why_empty and "prefchat onboard" in card.why_empty
    other = replace(prof, basis=BasisRef("old", "sha256:" + "0" * 64, basis.dims))
    assert "refit" in style_card(other, basis).why_empty
    assert "onboard" in style_card(None, basis).why_empty


def test_axes_reading_without_answers(basis):
    """A profile without quiz answers (e.g. imported vector-only) is read through the basis axes."""
    w = np.zeros(len(TRAITS))
    w[TRAITS.index("formality")], w[TRAITS.index("humour")] = 3.0, -3.0
    lam = np.linalg.pinv(trait_matrix(basis)) @ w
    prec = np.eye(basis.dims) * 400.0  # a sure profile: small sd
    got = leanings(new_profile("x", basis.name, basis.fingerprint, lam, prec), basis)
    assert {(x.trait, x.sign) for x in got} == {("formality", 1), ("humour", -1)}


def test_direction_instructions_are_opposite(basis):
    w = np.zeros(len(TRAITS))
    w[TRAITS.index("length")] = 1.0
    nu = np.linalg.pinv(trait_matrix(basis)) @ w
    plus, minus = direction_instructions(nu, basis)
    assert plus == "Answer in detail." and minus == "Answer concisely."
    assert direction_instructions(-nu, basis) == (minus, plus)
    assert direction_instructions(np.zeros(basis.dims), basis) == ("", "")


def test_strategies(basis):
    prof = example("concise-formal")
    card = style_card(prof, basis).text
    rng = np.random.default_rng(0)
    assert candidate_instructions("plain", prof, basis, 4, rng) == [None] * 4
    assert candidate_instructions("card", prof, basis, 4, rng) == [card] * 4
    for s in STRATEGIES:  # no profile: plain, whatever the strategy
        assert candidate_instructions(s, None, basis, 3, rng) == [None] * 3
    styled = [candidate_instructions("styled", prof, basis, 4, rng) for _ in range(10)]
    assert all(x[0] == card for x in styled)
    others = {i for x in styled for i in x[1:]}
    assert len(others) >= 3  # Thompson draws explore around the card
    explore = candidate_instructions("explore", prof, basis, 4, rng)
    assert explore[:3] == [card] * 3
    focused = candidate_instructions("focused", prof, basis, 4, rng)
    assert len(set(focused)) == 1 and "concisely" in focused[0] and "formally" in focused[0]
    with pytest.raises(Exception, match="unknown candidate strategy"):
        candidate_instructions("best", prof, basis, 4, rng)


def test_where_the_card_weights_come_from(basis):
    """Labelled quiz answers while they are at least half of the answers; lambda through the axes
    otherwise (vector-only export, or a profile that has learned mostly from chat picks)."""
    from prefchat.generation.traits import estimate
    from prefchat.profiles.profile import Answer

    prof = example("concise-formal")
    est = estimate(prof, basis)
    assert est.source == "answers" and est.n_answers == len(prof.answers) == 15
    assert est.weights[TRAITS.index("length")] < 0 < est.weights[TRAITS.index("formality")]
    assert estimate(replace(prof, answers=[]), basis).source == "axes"
    chat = [Answer("hi", f"a{i}", f"b{i}", "a", "chat", "2026-12-01T00:00:00Z") for i in range(16)]
    assert estimate(replace(prof, answers=list(prof.answers) + chat), basis).source == "axes"
    assert estimate(replace(prof, answers=list(prof.answers) + chat[:15]), basis).source == "answers"
