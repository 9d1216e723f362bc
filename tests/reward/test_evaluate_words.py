"""Reading cost in the evaluation protocol: AUC after a budget of words read, checked against a replay
of the very questions each simulated user was asked."""

import numpy as np
import pytest

from prefchat.reward.elicit import fit_lambda
from prefchat.reward.evaluate import elicitation_curve
from prefchat.reward.metrics import auc


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    J, K, T, U = 4, 90, 60, 6
    pool, test = rng.normal(size=(K, J)), rng.normal(size=(T, J))
    truth = rng.normal(size=(U, J)) * 2
    answers = (pool @ truth.T > 0).T.astype(float)
    labels = (test @ truth.T > 0).T.astype(float)
    costs = rng.integers(40, 400, size=K).astype(float)
    return pool, np.arange(K) // 3, answers, test, labels, costs


@pytest.mark.parametrize("strategy", ["active", "cost-aware", "random"])
def test_auc_at_words_is_the_fit_on_the_questions_read_in_full(problem, strategy):
    pool, prompts, answers, test, labels, costs = problem
    words = [300, 800, 1500, 2500]
    r = elicitation_curve(pool, prompts, answers, test, labels, [2, 5], strategy=strategy, costs=costs,
                          word_budgets=words, seed=3)
    assert r.auc_words.shape == (len(answers), len(words))
    for u in range(len(answers)):
        order = r.asked[u]
        read = np.cumsum(costs[order])
        np.testing.assert_allclose(r.words[u], read[[1, 4]])  # words read after 2 and 5 answers
        assert read[-1] > words[-1] or len(order) == len(np.unique(prompts))  # it read far enough
        lam5, _ = fit_lambda(pool[order[:5]], answers[u, order[:5]])
        np.testing.assert_allclose(r.final_lam[u], lam5, atol=1e-8)  # lambda at the largest answer budget
        for j, B in enumerate(words):
            n = int(np.sum(read <= B))  # a question that runs past B is not counted
            lam, _ = fit_lambda(pool[order[:n]], answers[u, order[:n]])
            assert r.auc_words[u, j] == pytest.approx(auc(test @ lam, labels[u]), abs=1e-9)
    # the answer-count curve is unchanged by also tracking words
    plain = elicitation_curve(pool, prompts, answers, test, labels, [2, 5], strategy=strategy, costs=costs,
                              seed=3)
    np.testing.assert_allclose(plain.auc, r.auc)
    np.testing.assert_allclose(plain.final_lam, r.final_lam)


def test_cost_aware_reads_fewer_words_for_its_answers(problem):
    pool, prompts, answers, test, labels, costs = problem
    kw = dict(costs=costs, word_budgets=[1000], seed=1)
    ca = elicitation_curve(pool, prompts, answers, test, labels, [5], strategy="cost-aware", **kw)
    act = elicitation_curve(pool, prompts, answers, test, labels, [5], strategy="active", **kw)
    assert np.median(ca.words[:, 0]) < 0.7 * np.median(act.words[:, 0])


def test_word_budgets_need_costs(problem):
    pool, prompts, answers, test, labels, _ = problem
    with pytest.raises(ValueError, match="costs"):
        elicitation_curve(pool, prompts, answers, test, labels, [2], word_budgets=[100])
