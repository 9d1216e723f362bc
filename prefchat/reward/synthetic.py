"""A preference problem with known truth, for proving the engine.

Responses have random feature vectors; a fixed random two-layer network maps them to a true
J*-dimensional basis phi*; users have true vectors lambda*; outcomes are sampled from Bradley-Terry.
Prompts are split into train prompts (their pairs form the training matrix and the new-user
calibration pool) and test prompts (held out), users into train users and new users."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from prefchat.reward.data import PairTable, Preferences
from prefchat.reward.elicit import population_prior
from prefchat.reward.evaluate import elicitation_curve, fixed_scores
from prefchat.reward.metrics import principal_angles


@dataclass
class SyntheticProblem:
    inputs: torch.Tensor  # R x d response features
    true_phi: np.ndarray  # R x J*
    pairs: PairTable  # all within-prompt pairs, train prompts first
    lam_true: np.ndarray  # U x J* (train users, then new users)
    train_users: np.ndarray
    new_users: np.ndarray
    train_pairs: np.ndarray  # pair indices on train prompts
    test_pairs: np.ndarray  # pair indices on held-out prompts
    outcomes: np.ndarray  # U x M sampled outcome of every (user, pair): the ground-truth answers
    train: Preferences  # sparse observations of train users on train pairs (indices into train_pairs)

    def true_diffs(self, pair_idx: np.ndarray) -> np.ndarray:
        p = self.pairs
        return self.true_phi[p.a[pair_idx]] - self.true_phi[p.b[pair_idx]]


def make_problem(n_train_users: int = 200, n_new_users: int = 60, n_prompts: int = 160,
                 responses_per_prompt: int = 4, n_features: int = 16, true_dims: int = 4,
                 density: float = 0.3, lam_scale: float = 1.5, test_fraction: float = 0.3,
                 seed: int = 0) -> SyntheticProblem:
    rng = np.random.default_rng(seed)
    R = n_prompts * responses_per_prompt
    x = rng.normal(size=(R, n_features))
    w1 = rng.normal(size=(n_features, 32)) / np.sqrt(n_features)
    w2 = rng.normal(size=(32, true_dims)) / np.sqrt(32)
    phi = np.tanh(x @ w1 * 1.5) @ w2
    phi = (phi - phi.mean(0)) / phi.std(0)

    a, b, pid = [], [], []
    for p in range(n_prompts):
        rows = range(p * responses_per_prompt, (p + 1) * responses_per_prompt)
        for i in rows:
            for j in rows:
                if i < j:
                    a.append(i), b.append(j), pid.append(p)
    pairs = PairTable(np.array(a), np.array(b), np.array(pid))
    n_test_prompts = int(round(test_fraction * n_prompts))
    test_prompts = set(rng.choice(n_prompts, n_test_prompts, replace=False).tolist())
    is_test = np.array([p in test_prompts for p in pid])
    train_pairs, test_pairs = np.flatnonzero(~is_test), np.flatnonzero(is_test)

    U = n_train_users + n_new_users
    lam = rng.normal(size=(U, true_dims)) * lam_scale / np.sqrt(true_dims) * np.sqrt(2)
    logits = lam @ (phi[pairs.a] - phi[pairs.b]).T
    outcomes = (rng.random(logits.shape) < 1.0 / (1.0 + np.exp(-logits))).astype(float)

    users = np.arange(n_train_users)
    mask = rng.random((n_train_users, train_pairs.size)) < density
    uu, mm = np.nonzero(mask)
    train = Preferences(uu, mm, outcomes[users[uu], train_pairs[mm]], n_train_users, train_pairs.size)
    return SyntheticProblem(torch.tensor(x, dtype=torch.float32), phi, pairs, lam, users,
                            np.arange(n_train_users, U), train_pairs, test_pairs, outcomes, train)


def mlp(n_in: int, n_out: int, hidden: int = 64) -> torch.nn.Module:
    """The basis model used on synthetic data."""
    return torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, n_out))


def run_experiment(problem: SyntheticProblem, n_components: int | None = None, seed: int = 0,
                   svd_init: bool = True, regularize: bool = True, budgets=(5, 10, 20, 40),
                   strategies=("active", "random"), n_eval_users: int | None = None,
                   hidden: int = 32, **pref_kwargs) -> dict:
    """Train a basis on the problem and measure it against the truth.

    Returns principal angles to the true pair-difference subspace (degrees, on held-out prompts),
    the validation AUC (train users, held-out prompts), the new users' AUC curves per strategy, the
    oracle AUC (true lambda*, true phi), and the training time."""
    from prefchat.reward.factorize import PReF

    J = n_components or problem.true_phi.shape[1]
    pref_kwargs.setdefault("weight_decay", 1e-2)
    torch.manual_seed(seed)  # the model's initial weights belong to the seed too
    pref = PReF(n_components=J, seed=seed, svd_init=svd_init, regularize=regularize, **pref_kwargs)
    pref.fit(mlp(problem.inputs.shape[1], J, hidden), problem.inputs,
             problem.pairs.subset(problem.train_pairs), problem.train)
    P = problem.pairs
    phi = pref.transform(problem.inputs)
    diffs = phi[P.a] - phi[P.b]
    true = problem.true_diffs(np.arange(len(P)))
    angles = np.degrees(principal_angles(diffs[problem.test_pairs], true[problem.test_pairs]))
    test = diffs[problem.test_pairs]
    val_auc = fixed_scores(pref.user_vectors_ @ test.T,
                           problem.outcomes[problem.train_users][:, problem.test_pairs])[0]
    new = problem.new_users[:n_eval_users] if n_eval_users else problem.new_users
    labels = problem.outcomes[new][:, problem.test_pairs]
    answers = problem.outcomes[new][:, problem.train_pairs]
    mean, precision = population_prior(pref.user_vectors_)
    curves = {}
    for strategy in strategies:
        c = elicitation_curve(diffs[problem.train_pairs], P.prompt_ids[problem.train_pairs], answers, test,
                              labels, budgets, strategy=strategy, beta=precision, prior_mean=mean,
                              seed=seed)
        curves[strategy] = {"auc": c.mean_auc(), "accuracy": c.mean_accuracy()}
    oracle = fixed_scores(problem.lam_true[new] @ true[problem.test_pairs].T, labels)
    return {"angles": angles, "val_auc": val_auc, "test_diffs": test, "curves": curves,
            "oracle": {"auc": oracle[0], "accuracy": oracle[1]}, "train_seconds": pref.train_seconds_,
            "spectrum": pref.spectrum_, "elbow": pref.elbow_, "model": pref}


def seed_study(problem: SyntheticProblem, seeds=(0, 1, 2), **kwargs) -> dict:
    """Seed-to-seed spread of training (the paper's Figure 3A): the validation AUC per seed, and the
    mean largest principal angle between the subspaces that different seeds learn."""
    runs = [run_experiment(problem, seed=s, strategies=(), **kwargs) for s in seeds]
    spread = [float(np.degrees(principal_angles(runs[i]["test_diffs"], runs[j]["test_diffs"]).max()))
              for i in range(len(runs)) for j in range(i + 1, len(runs))]
    val = np.array([r["val_auc"] for r in runs])
    return {"val_auc": val, "val_auc_std": float(val.std()), "pairwise_max_angle": float(np.mean(spread)),
            "max_angle_to_truth": [float(r["angles"].max()) for r in runs]}
