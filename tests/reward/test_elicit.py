"""New-user fit and active selection: exact properties that a sign flip, a missing regulariser or a
selection rule that ignores H would break."""

import numpy as np
import pytest

from prefchat.reward.elicit import (Elicitor, fit_lambda, information_gain, pool_second_moment, population_prior,
                                   uncertainty, variance_reduction)


def _objective(lam, v, y, beta, mu):
    z = v @ lam
    ll = y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z)
    return -ll.sum() + 0.5 * beta * np.sum((lam - mu) ** 2)


def test_zero_answers_returns_prior_and_prior_precision():
    mu = np.array([0.3, -0.2, 0.1])
    lam, H = fit_lambda(np.zeros((0, 3)), np.zeros(0), beta=2.0, prior_mean=mu)
    np.testing.assert_allclose(lam, mu)
    np.testing.assert_allclose(H, 2.0 * np.eye(3))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_few_separable_answers_are_finite_and_point_the_right_way(n):
    v = np.eye(3)[:n] * 2.0
    y = np.ones(n)  # always prefers a: perfectly separable
    lam, H = fit_lambda(v, y, beta=1.0)
    assert np.all(np.isfinite(lam)) and np.all(np.isfinite(H))
    assert np.all(lam[:n] > 0.3)  # the sign of the evidence: a preferred along e_i => lambda_i > 0
    np.testing.assert_allclose(lam[n:], 0.0, atol=1e-12)


def test_fit_is_the_exact_map_estimate():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(25, 4))
    y = rng.choice([0.0, 0.5, 1.0], size=25)
    mu = rng.normal(size=4) * 0.1
    lam, H = fit_lambda(v, y, beta=0.7, prior_mean=mu)
    # gradient of the penalised likelihood vanishes
    p = 1 / (1 + np.exp(-(v @ lam)))
    np.testing.assert_allclose(v.T @ (p - y) + 0.7 * (lam - mu), 0.0, atol=1e-8)
    # and it is the minimum: any perturbation increases the objective
    f0 = _objective(lam, v, y, 0.7, mu)
    for d in rng.normal(size=(20, 4)) * 1e-3:
        assert _objective(lam + d, v, y, 0.7, mu) > f0
    # H = beta I + sum s'(v.l) v v^T, checked against finite differences of the gradient
    eps = 1e-6
    num = np.zeros((4, 4))
    for j in range(4):
        e = np.zeros(4)
        e[j] = eps
        gp = v.T @ (1 / (1 + np.exp(-(v @ (lam + e)))) - y) + 0.7 * (lam + e - mu)
        gm = v.T @ (1 / (1 + np.exp(-(v @ (lam - e)))) - y) + 0.7 * (lam - e - mu)
        num[:, j] = (gp - gm) / (2 * eps)
    np.testing.assert_allclose(H, num, atol=1e-5)


def test_ties_are_half_targets():
    v = np.array([[1.0, 0.0]])
    lam, _ = fit_lambda(v, np.array([0.5]), beta=1.0)
    np.testing.assert_allclose(lam, 0.0, atol=1e-12)  # a tie pulls toward indifference
    lam_a, _ = fit_lambda(v, np.array([1.0]), beta=1.0)
    lam_b, _ = fit_lambda(v, np.array([0.0]), beta=1.0)
    np.testing.assert_allclose(lam_a, -lam_b)


def test_matrix_prior_and_population_prior():
    rng = np.random.default_rng(1)
    users = rng.normal(size=(500, 3)) * np.array([1.0, 2.0, 0.5]) + np.array([1.0, 0.0, -1.0])
    mean, prec = population_prior(users)
    np.testing.assert_allclose(mean, users.mean(0))
    np.testing.assert_allclose(np.linalg.inv(prec), np.cov(users, rowvar=False) + 1e-3 * np.eye(3), rtol=1e-8)
    lam, H = fit_lambda(np.zeros((0, 3)), np.zeros(0), beta=prec, prior_mean=mean)
    np.testing.assert_allclose(lam, mean)
    np.testing.assert_allclose(H, prec)
    with pytest.raises(ValueError):
        fit_lambda(np.zeros((0, 2)), np.zeros(0), beta=0.0)


def test_uncertainty_is_the_inverse_hessian_norm():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(5, 5))
    H = A @ A.T + np.eye(5)
    c = rng.normal(size=(100, 5))
    want = np.sqrt(np.einsum("ij,jk,ik->i", c, np.linalg.inv(H), c))
    np.testing.assert_allclose(uncertainty(c, H), want, rtol=1e-10)


@pytest.mark.parametrize("criterion", ["norm", "fisher"])
def test_selection_uses_H_not_just_the_norm(criterion):
    # Big candidates along e1, smaller ones along e2. After several answers along e1 the posterior is
    # tight there; a rule that ignored H would keep asking the big e1 pairs.
    pool = np.array([[3.0, 0.0]] * 5 + [[0.0, 1.0]] * 5)
    prompts = np.arange(10)
    el = Elicitor(pool, prompts, beta=1.0, criterion=criterion, seed=0)
    for q, y in [(0, 1.0), (1, 0.0), (2, 1.0), (3, 0.0)]:
        el.answer(q, y)
    assert el.next_question() >= 5


def test_first_pick_random_then_deterministic_and_no_prompt_twice():
    rng = np.random.default_rng(3)
    pool = rng.normal(size=(60, 4))
    prompts = np.repeat(np.arange(20), 3)
    firsts = {Elicitor(pool, prompts, seed=s).next_question() for s in range(10)}
    assert len(firsts) > 3  # the first question is random
    el = Elicitor(pool, prompts, seed=0)
    asked_prompts = []
    while (q := el.next_question()) is not None:
        asked_prompts.append(prompts[q])
        el.answer(q, 1.0 if pool[q, 0] > 0 else 0.0)
    assert sorted(asked_prompts) == list(range(20))  # every prompt once, none twice
    el2 = Elicitor(pool, prompts, seed=0)
    for q in el.asked:  # same answers replayed -> same state
        assert el2.next_question() == q
        el2.answer(q, 1.0 if pool[q, 0] > 0 else 0.0)
    np.testing.assert_allclose(el2.lam, el.lam)


def test_undo_restores_the_previous_state():
    rng = np.random.default_rng(4)
    pool = rng.normal(size=(30, 3))
    el = Elicitor(pool, np.arange(30), seed=1)
    el.answer(el.next_question(), 1.0)
    lam1, H1, nxt = el.lam.copy(), el.precision.copy(), el.next_question()
    el.answer(nxt, 0.0)
    assert el.undo() == nxt
    np.testing.assert_allclose(el.lam, lam1, atol=1e-10)
    np.testing.assert_allclose(el.precision, H1, atol=1e-10)
    assert el.next_question() == nxt


def test_selection_among_10000_is_vectorised():
    rng = np.random.default_rng(5)
    el = Elicitor(rng.normal(size=(10_000, 8)), np.arange(10_000), seed=0)
    for _ in range(5):
        el.answer(el.next_question(), 1.0)
    q = el.next_question()
    p = 1 / (1 + np.exp(-(el.pool @ el.lam)))
    s = uncertainty(el.pool, el.precision) ** 2 * p * (1 - p)
    s[el.asked] = -1
    assert q == int(np.argmax(s))


# -- cost-aware selection ---------------------------------------------------------------------------

def _answered(pool, costs, answers, **kw):
    """A cost-aware Elicitor over `pool` with the given (row, outcome) answers already in."""
    el = Elicitor(pool, np.arange(len(pool)), beta=1.0, strategy="cost-aware", costs=costs, seed=0, **kw)
    for q, y in answers:
        el.answer(q, y)
    return el


def test_cost_aware_prefers_the_shorter_of_two_equally_informative_pairs():
    # rows 1 and 2 are the same direction (equal information); row 2 costs a third of row 1.
    pool = np.array([[0.2, 0.0], [0.0, 2.0], [0.0, 2.0], [0.1, 0.1]])
    costs = np.array([50.0, 300.0, 100.0, 50.0])
    el = _answered(pool, costs, [(0, 1.0)])
    assert el.next_question() == 2
    # the same pairs with the costs swapped: the choice follows the words, not the row order
    el = _answered(pool, costs[[0, 2, 1, 3]], [(0, 1.0)])
    assert el.next_question() == 1
    # active selection ignores the cost and takes the first maximum
    act = Elicitor(pool, np.arange(4), beta=1.0, strategy="active", costs=costs, seed=0)
    act.answer(0, 1.0)
    assert act.next_question() == 1


def test_cost_aware_still_asks_a_long_pair_when_it_is_the_only_informative_one():
    # Every short pair lies along e1, which 20 answers have pinned down; only the long pair (600
    # words, ten times a short one) tells anything about e2.
    pool = np.array([[4.0, 0.0]] * 24 + [[0.0, 2.0]])
    answers = [(i, float(i % 2)) for i in range(20)]
    el = _answered(pool, np.array([60.0] * 24 + [600.0]), answers)
    assert el.next_question() == 24
    # and the rule really weighs words: priced 20x higher, the long pair loses to an e1 repeat
    el = _answered(pool, np.array([60.0] * 24 + [12_000.0]), answers)
    assert 20 <= el.next_question() < 24


def test_cost_aware_is_pool_variance_removed_per_word():
    rng = np.random.default_rng(6)
    pool = rng.normal(size=(200, 5))
    costs = rng.uniform(60, 400, size=200)
    el = Elicitor(pool, np.arange(200), strategy="cost-aware", costs=costs, overhead=20.0, seed=1)
    for _ in range(4):
        el.answer(el.next_question(), 1.0)
    q = el.next_question()
    # brute force: tr(S H^-1) before minus after adding the pair's Fisher term, one pair at a time
    S = pool.T @ pool / len(pool)
    p = 1 / (1 + np.exp(-(pool @ el.lam)))
    before = np.trace(S @ np.linalg.inv(el.precision))
    gain = np.array([before - np.trace(S @ np.linalg.inv(el.precision + w * np.outer(v, v)))
                     for v, w in zip(pool, p * (1 - p))])
    np.testing.assert_allclose(variance_reduction(pool, el.lam, el.precision, S), gain, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(pool_second_moment(pool), S)
    score = gain / (costs + 20.0)
    score[el.asked] = -1
    assert q == int(np.argmax(score))
    d_gain = 0.5 * np.log1p(uncertainty(pool, el.precision) ** 2 * p * (1 - p))
    np.testing.assert_allclose(information_gain(pool, el.lam, el.precision), d_gain, rtol=1e-12)


def test_cost_aware_asks_about_directions_the_pairs_vary_along():
    # Rows 0 and 1 cost the same and row 0 carries slightly more Fisher information (a longer
    # difference), so an information-per-word (D-optimal) rule asks row 0. But the pool's pairs vary
    # mostly along e1 (rows 2-9, too long to be asked), so knowing lambda along e1 is what ranks the
    # pairs a person meets: row 1 removes five times the predictive variance and is asked.
    pool = np.array([[0.0, 2.1], [2.0, 0.0]] + [[1.5, 0.0]] * 8)
    costs = np.array([100.0, 100.0] + [10_000.0] * 8)
    el = Elicitor(pool, np.arange(10), beta=1.0, strategy="cost-aware", costs=costs, seed=0)
    el.answer_pair(np.zeros(2), 0.5)  # an answer that teaches nothing, so the rule (not the random first draw) picks
    d = information_gain(pool, el.lam, el.precision)
    assert d[0] > d[1]
    v = variance_reduction(pool, el.lam, el.precision, el.second_moment)
    assert v[1] > 4 * v[0]
    assert el.next_question() == 1


def test_cost_aware_first_question_is_short_and_random():
    rng = np.random.default_rng(7)
    pool = rng.normal(size=(300, 4))
    costs = rng.uniform(100, 500, size=300)
    firsts = [Elicitor(pool, np.arange(300), strategy="cost-aware", costs=costs, seed=s).next_question()
              for s in range(20)]
    assert all(costs[q] < 150 for q in firsts)
    assert len(set(firsts)) > 5
    # none short enough: the cheapest pair
    el = Elicitor(pool, np.arange(300), strategy="cost-aware", costs=costs + 200, seed=0)
    assert el.next_question() == int(np.argmin(costs))


@pytest.mark.parametrize("strategy", ["cost-aware", "active", "random"])
def test_words_budget_is_never_exceeded(strategy):
    rng = np.random.default_rng(8)
    pool = rng.normal(size=(120, 4))
    costs = rng.uniform(50, 300, size=120)
    el = Elicitor(pool, np.repeat(np.arange(40), 3), strategy=strategy, costs=costs, budget=1000.0, seed=2)
    while (q := el.next_question()) is not None:
        assert el.words_read() + costs[q] <= 1000.0
        el.answer(q, 1.0 if pool[q, 0] > 0 else 0.0)
    left = 1000.0 - el.words_read()
    assert left >= 0 and not np.any(el.available() & (costs <= left))  # stopped only when nothing fits


def test_cost_aware_needs_valid_costs():
    pool = np.zeros((3, 2))
    with pytest.raises(ValueError, match="costs"):
        Elicitor(pool, np.arange(3), strategy="cost-aware")
    with pytest.raises(ValueError, match="costs"):
        Elicitor(pool, np.arange(3), strategy="cost-aware", costs=np.array([1.0, -1.0, 2.0]))
    with pytest.raises(ValueError, match="costs"):
        Elicitor(pool, np.arange(3), strategy="cost-aware", costs=np.ones(2))
    with pytest.raises(ValueError, match="budget"):
        Elicitor(pool, np.arange(3), budget=10.0)


def test_an_outside_pair_updates_lambda_exactly_like_the_same_pool_pair():
    rng = np.random.default_rng(9)
    pool = rng.normal(size=(40, 3))
    costs = rng.uniform(50, 200, size=40)
    a = Elicitor(pool, np.arange(40), strategy="cost-aware", costs=costs, seed=0)
    b = Elicitor(pool, np.arange(40), strategy="cost-aware", costs=costs, seed=0)
    a.answer(3, 1.0)
    b.answer(3, 1.0)
    a.answer(7, 0.0)
    b.answer_pair(pool[7], 0.0, cost=costs[7])  # the same difference, given from outside
    np.testing.assert_allclose(a.lam, b.lam, atol=1e-10)
    np.testing.assert_allclose(a.precision, b.precision, atol=1e-10)
    assert a.words_read() == pytest.approx(b.words_read())
    assert b.available()[7]  # an outside pair uses up no pool prompt
    np.testing.assert_allclose(b.undo(), pool[7])  # undo takes back the outside answer
    assert b.n_answers == 1 and b.undo() == 3 and b.undo() is None
    with pytest.raises(ValueError, match="finite"):
        b.answer_pair(np.array([np.nan, 0, 0]), 1.0)


def test_uncertain_direction_is_the_top_eigenvector_of_the_inverse_precision():
    from prefchat.reward.elicit import uncertain_direction

    rng = np.random.default_rng(10)
    A = rng.normal(size=(6, 6))
    H = A @ A.T + 0.5 * np.eye(6)
    nu = uncertain_direction(H)
    cov = np.linalg.inv(H)
    assert nu @ cov @ nu == pytest.approx(np.linalg.eigvalsh(cov).max(), rel=1e-9)
    assert np.linalg.norm(nu) == pytest.approx(1.0)
    for d in rng.normal(size=(50, 6)):  # no other direction has more posterior variance
        d /= np.linalg.norm(d)
        assert d @ cov @ d <= nu @ cov @ nu + 1e-12
