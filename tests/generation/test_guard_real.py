"""The guard inside the real reranker (shipped basis, MiniLM): for a profile that leans concise, the
degenerate replies that outscore real answers by lambda . phi never win a pick."""

from __future__ import annotations

import numpy as np
import pytest

from prefchat.data.corpus import TRAITS
from prefchat.rerank import Reranker

PROMPT = "How do I boil an egg?"
REAL = "Put the egg in boiling water for seven minutes, then cool it in cold water and peel it."
LONG = ("Boiling an egg well takes a little care. Bring a pot of water to a rolling boil, then lower the "
        "egg in gently with a spoon so the shell does not crack against the bottom. Keep the water at a "
        "steady simmer: six minutes gives a soft, jammy yolk, eight a firm but moist one, and ten or more "
        "a fully set yolk. When the time is up, move the egg straight into a bowl of iced water for a few "
        "minutes; this stops the cooking and makes the shell easier to peel. Older eggs peel more easily "
        "than very fresh ones, so if you can, buy them a week ahead.")
OFF_TOPIC = "The capital of France is Paris, home of the Louvre and the Eiffel Tower."
JUNK = ["   ", "OK.", "\x00", "Boil the egg for seven minutes. " * 30, OFF_TOPIC, "\x1b[2J\x1b[H"]


@pytest.fixture(scope="module")
def concise(basis):
    """A profile whose lambda puts weight -2 on length (concise) and nothing on the other traits."""
    from prefchat.generation.card import trait_matrix
    from prefchat.profiles.profile import new_profile

    w = np.zeros(len(TRAITS))
    w[TRAITS.index("length")] = -2.0
    lam = np.linalg.pinv(trait_matrix(basis)) @ w
    _, prec = basis.prior
    return new_profile("concise", basis.name, basis.fingerprint, lam, prec)


def test_junk_outscores_a_real_answer_by_reward_alone(basis, scorer, concise):
    """The premise of the guard: lambda . phi alone prefers emptiness for this profile."""
    s = scorer.phi([REAL, "   ", "OK.", "\x00"], [PROMPT] * 4) @ np.asarray(concise.lam)
    assert s[1] > s[0] and s[2] > s[0] and s[3] > s[0], s


@pytest.mark.parametrize("junk", JUNK, ids=["spaces", "OK", "nul", "loop30", "off-topic", "escapes"])
def test_junk_never_wins_against_a_real_answer(basis, scorer, concise, junk):
    rr = Reranker(basis, concise, scorer=scorer)
    for texts in ([REAL, junk], [junk, REAL], [junk, LONG, REAL, junk]):
        res = rr.rerank(PROMPT, texts)
        assert res.best.text == REAL, [(r.text[:20], r.score, r.reason) for r in res.ranked]
        bad = [r for r in res.ranked if r.text == junk]
        assert bad and all(not r.ok and r.reason for r in bad)
        assert all(r.rank > res.by_index(texts.index(REAL)).rank for r in bad)


def test_result_carries_scores_phi_relevance_and_why(basis, scorer, concise):
    res = Reranker(basis, concise, scorer=scorer).rerank(PROMPT, [LONG, REAL, OFF_TOPIC],
                                                         instructions=[None, "Answer concisely.", None])
    assert res.best.text == REAL and res.best.instruction == "Answer concisely."
    phi = scorer.phi([LONG, REAL, OFF_TOPIC], [PROMPT] * 3)
    for r in res.ranked:
        np.testing.assert_allclose(r.phi, phi[r.index], rtol=1e-4, atol=1e-5)
        assert r.score == pytest.approx(float(phi[r.index] @ np.asarray(concise.lam)), rel=1e-4, abs=1e-5)
    rel = {r.index: r.relevance for r in res.ranked}
    assert rel[0] > 0.4 and rel[1] > 0.4 and rel[2] < 0.2
    assert res.dropped and res.dropped[0].index == 2
    # the winner beat the long reply on length, which is all this profile cares about
    assert res.why and res.why[0][0] == "length" and res.why[0][1] > 0
    assert "concise" in res.why_text
    assert res.seconds > 0 and 0 <= res.guard_seconds < res.seconds


def test_without_a_profile_the_guard_still_picks(basis):
    res = Reranker(basis, None).rerank(PROMPT, ["   ", "\x00", REAL])
    assert res.best.text == REAL and res.note
    assert [r.ok for r in res.ranked] == [True, False, False]
