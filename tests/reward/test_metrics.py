import numpy as np

from prefchat.reward.metrics import accuracy, auc, principal_angles


def test_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    s = np.round(rng.normal(size=200), 1)  # rounding creates score ties
    y = (rng.random(200) < 0.5).astype(float)
    pos, neg = s[y == 1], s[y == 0]
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert abs(auc(s, y) - brute) < 1e-12
    assert auc(np.array([1.0, 2.0]), np.array([0.0, 1.0])) == 1.0
    assert auc(np.array([1.0, 2.0]), np.array([1.0, 0.0])) == 0.0
    assert np.isnan(auc(np.array([1.0]), np.array([1.0])))
    # tie labels are dropped
    assert auc(np.array([1.0, 2.0, 0.0]), np.array([0.0, 1.0, 0.5])) == 1.0


def test_accuracy_counts_ties_half():
    assert accuracy(np.array([1.0, -1.0, 0.0, 2.0]), np.array([1.0, 0.0, 1.0, 0.5])) == (1 + 1 + 0.5 + 0.5) / 4


def test_principal_angles():
    a = np.eye(4)[:, :2]
    assert np.allclose(principal_angles(a, a @ np.array([[2.0, 1.0], [0.0, 3.0]])), 0.0, atol=1e-7)
    b = np.eye(4)[:, 2:]
    assert np.allclose(principal_angles(a, b), np.pi / 2)
