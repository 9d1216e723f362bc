"""The reranker with the real scorer on the shipped basis: argmax of lambda . phi, deterministic ties,
no-profile fallback, refusal of a profile from another basis, and the time it reports."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from prefchat.errors import PrefchatError
from prefchat.profiles.profile import BasisRef
from prefchat.rerank import NO_PROFILE_NOTE, Reranker, order

from .conftest import make_profile

PROMPT = "How do I boil an egg?"
TEXTS = [
    "Boil it for 7 minutes.",
    "Greetings! What a wonderful question!!! Boiling an egg is such a joy — let me walk you through "
    "every delightful step, from choosing the freshest egg to the perfect ice bath. Isn't cooking fun?",
    "Dear user, kindly place the egg in boiling water for approximately seven minutes. Regards.",
    "lol just boil it idk",
]


def test_order_breaks_ties_by_lowest_index():
    assert order([1.0, 3.0, 3.0, 2.0]) == [1, 2, 3, 0]
    assert order([0.0, 0.0, 0.0]) == [0, 1, 2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_picks_argmax_of_lambda_phi(home, basis, scorer, seed):
    lam = np.random.default_rng(seed).normal(size=basis.dims)
    prof = make_profile(basis, lam=lam)
    r = Reranker(basis, prof, scorer=scorer)
    res = r.rerank(PROMPT, TEXTS)
    expected = scorer.phi(TEXTS, [PROMPT] * len(TEXTS)) @ lam
    assert res.best.index == int(np.argmax(expected))
    assert [x.index for x in res.ranked] == list(np.argsort(-expected, kind="stable"))
    np.testing.assert_allclose([res.by_index(i).score for i in range(4)], expected, rtol=1e-6)
    assert [x.rank for x in res.ranked] == [0, 1, 2, 3]
    assert res.seconds > 0 and res.note is None
    # flipping lambda flips the pick to the argmin
    res2 = Reranker(basis, replace(prof, lam=list(-lam)), scorer=scorer).rerank(PROMPT, TEXTS)
    assert res2.best.index == int(np.argmin(expected))


def test_identical_candidates_tie_to_lowest_index(home, basis, scorer):
    prof = make_profile(basis, lam=np.ones(basis.dims))
    texts = [TEXTS[3], TEXTS[0], TEXTS[0], TEXTS[3]]
    res = Reranker(basis, prof, scorer=scorer).rerank(PROMPT, texts)
    s = {r.index: r.score for r in res.ranked}
    assert s[1] == pytest.approx(s[2]) and s[0] == pytest.approx(s[3])
    winner = 1 if s[1] > s[0] else 0
    assert res.best.index == winner
    assert res.ranked[1].index == winner + (1 if winner == 1 else 3)


def test_without_profile_first_candidate_and_note(basis):
    res = Reranker(basis, None).rerank(PROMPT, TEXTS)
    assert res.best.index == 0 and res.best.text == TEXTS[0]
    assert all(r.score is None for r in res.ranked)
    assert res.note == NO_PROFILE_NOTE
    res = Reranker(None, None).rerank(PROMPT, ["only"])
    assert res.best.text == "only"


def test_profile_from_another_basis_is_refused(home, basis):
    prof = make_profile(basis)
    other = replace(prof, basis=BasisRef("old-basis", "sha256:" + "0" * 64, basis.dims))
    with pytest.raises(PrefchatError) as ei:
        Reranker(basis, other)
    msg = str(ei.value)
    assert "\n" not in msg and "prefchat profile refit me" in msg and "old-basis" in msg


def test_order_puts_dropped_candidates_last():
    assert order([5.0, 1.0, 3.0], ok=[False, True, True]) == [2, 1, 0]
    assert order([1.0, 1.0], ok=[False, False]) == [0, 1]


def test_guard_drops_before_lambda_phi_decides(home, basis, scorer):
    """Candidate 2 is whitespace; whatever lambda prefers, it is listed last, unchosen, with the reason,
    and its score is still shown."""
    texts = [TEXTS[0], "  \n ", TEXTS[2]]
    for seed in range(4):
        lam = np.random.default_rng(seed).normal(size=basis.dims)
        res = Reranker(basis, make_profile(basis, lam=lam), scorer=scorer).rerank(
            PROMPT, texts, finish_reasons=["stop"] * 3)
        assert res.ranked[-1].index == 1 and not res.ranked[-1].ok
        assert res.ranked[-1].reason.startswith("empty") and res.ranked[-1].score is not None
        assert [r.ok for r in res.ranked[:2]] == [True, True] and res.best.index in (0, 2)
        assert res.dropped == [res.ranked[-1]]


def test_finish_reasons_reach_the_guard(home, basis, scorer):
    """A candidate cut at the token limit with a fraction of its siblings' text never wins."""
    prof = make_profile(basis, lam=np.ones(basis.dims))
    texts = [TEXTS[1], "To boil an egg", TEXTS[2]]
    res = Reranker(basis, prof, scorer=scorer).rerank(PROMPT, texts, finish_reasons=["stop", "length", "stop"])
    assert not res.by_index(1).ok and "token limit" in res.by_index(1).reason
    res = Reranker(basis, prof, scorer=scorer).rerank(PROMPT, texts, finish_reasons=["stop", "stop", "stop"])
    assert res.by_index(1).ok  # the same short text that stopped by itself is an ordinary candidate
