"""`prefchat eval`: the paper's protocol on a corpus file, for the shipped basis or any other.

New users are fitted on calibration prompts and tested on held-out prompts. On the basis's own
corpus the stored split is used (new users x held-out prompts = the test quadrant). On any other
corpus file every simulated user is new: lambda is fitted on half of the file's prompts (chosen by
seed) and the other half is the test set.

progress(stage, done, total), when given, is called as the work goes: stages "encode" (responses
through the encoder; cached ones are free), "active" and "random" (fitting each new user),
"per_user", "global_init" and "global_joint" (the J = 1 baseline's training epochs) and "simulate"
(the win rate)."""

from __future__ import annotations

import numpy as np

from prefchat.basis.encoders import MiniLMEncoder
from prefchat.basis.train import cached_features
from prefchat.data import Corpus, load_corpus, simulate
from prefchat.data.reading import DEFAULT_WORDS, QUIZ_MAX_QUESTIONS, row_pair_words
from prefchat.data.splits import load_split, make_split
from prefchat.reward.data import PairTable, Preferences
from prefchat.reward.elicit import fit_lambda
from prefchat.reward.evaluate import elicitation_curve
from prefchat.reward.metrics import accuracy, auc


def _phi_all(basis, corpus: Corpus, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """phi of every corpus response under the basis, and the default encoder's features of them.

    The features feed the baselines (the J = 1 global reward and the per-user model), which always
    read the default MiniLM features, whatever the basis under test reads; for a MiniLM basis they
    are also its input, so phi comes from the cached features without encoding twice."""
    import torch

    from prefchat.basis.scorer import Scorer

    scorer = basis.scorer()
    own_features = isinstance(scorer, Scorer)
    feats = cached_features(scorer.encoder if own_features else MiniLMEncoder(), corpus.texts, progress)
    if own_features:
        with torch.inference_mode():
            phi = scorer.head(torch.as_tensor(feats, device=scorer.device)).double().cpu().numpy()
    else:  # e.g. a causal-LM backbone basis, which reads the prompt too
        prompts = [corpus.prompt_text(corpus.prompt_ids[i]) for i in corpus.response_prompt]
        phi = np.asarray(scorer.phi(corpus.texts, prompts), dtype=np.float64)
    return phi, feats


def _global_reward(basis, corpus: Corpus, feats: np.ndarray, train_prompts, users, seed: int,
                   progress=None) -> np.ndarray:
    """The standard-RLHF baseline: J = 1, one reward for everyone, trained the same way."""
    import torch

    from prefchat.basis.scorer import StyleHead
    from prefchat.reward.factorize import PReF

    a, b, p = corpus.pairs(train_prompts)
    out = simulate(users, corpus.traits, a, b, seed=seed)
    uu, mm = np.meshgrid(np.arange(len(users)), np.arange(len(a)), indexing="ij")
    prefs = Preferences(uu.ravel(), mm.ravel(), out.ravel(), len(users), len(a))
    torch.manual_seed(seed)
    head = StyleHead(feats.shape[1], 1)
    head.set_standardisation(feats[np.unique(np.concatenate([a, b]))])
    X = torch.as_tensor(feats, dtype=torch.float32)
    fit = PReF(n_components=1, seed=seed, init_epochs=150, epochs=150, weight_decay=1e-2)
    pref = fit.fit(head, X, PairTable(a, b, p), prefs,
                   progress=None if progress is None else lambda st, d, t: progress(f"global_{st}", d, t))
    return pref.transform(X)[:, 0] * float(pref.user_vectors_.mean())


def _per_user_model(feats: np.ndarray, pool_a, pool_b, order: np.ndarray, answers: np.ndarray, k: int,
                    test_a, test_b) -> np.ndarray:
    """A model fitted on one user's answers alone: L2 logistic regression on the raw features."""
    mu, sd = feats.mean(0), feats.std(0) + 1e-6
    f = (feats - mu) / sd
    idx = order[:k]
    w, _ = fit_lambda(f[pool_a[idx]] - f[pool_b[idx]], answers[idx], beta=10.0)
    return (f[test_a] - f[test_b]) @ w


def _stage(progress, stage: str):
    return None if progress is None else lambda done, total: progress(stage, done, total)


WORD_BUDGETS = (500, 1000, 1500, 2500, 4000)
STRATEGIES = ("active", "cost-aware", "random")


def run_eval(basis, corpus_path=None, answers=(5, 10, 20, 40), population: str = "paper", seed: int = 0,
             progress=None, words=WORD_BUDGETS) -> dict:
    corpus = load_corpus(corpus_path)
    split = load_split(corpus)
    own = split is not None and corpus.sha256 == basis.meta.get("training", {}).get("corpus_sha256")
    if split is None:
        split = make_split(corpus)
    pop = split.population(population)
    if own:
        cal_prompts, test_prompts = split.train_prompts, split.heldout_prompts
        new = pop.subset(split.new_users[population])
        train_users = pop.subset(split.train_users[population])
    else:
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(corpus.prompt_ids))
        half = len(perm) // 2
        cal_prompts = sorted(corpus.prompt_ids[i] for i in perm[:half])
        test_prompts = sorted(corpus.prompt_ids[i] for i in perm[half:])
        new = pop
        train_users = pop
    phi, feats = _phi_all(basis, corpus, progress)
    ca, cb, cp = corpus.pairs(cal_prompts)
    ta, tb, tp = corpus.pairs(test_prompts)
    cal_out = simulate(new, corpus.traits, ca, cb, seed=seed + 11)
    test_out = simulate(new, corpus.traits, ta, tb, seed=seed + 12)
    pool, test = phi[ca] - phi[cb], phi[ta] - phi[tb]
    mean, prec = basis.prior
    budgets = sorted(int(x) for x in answers)
    word_budgets = sorted(int(x) for x in words)
    # Reading cost: the words of the prompt and both responses of every pair asked.
    costs = row_pair_words(corpus, ca, cb)
    curves = {s: elicitation_curve(pool, cp, cal_out, test, test_out, budgets, strategy=s, beta=prec,
                                   prior_mean=mean, seed=seed, costs=costs, word_budgets=word_budgets,
                                   progress=_stage(progress, s))
              for s in STRATEGIES}
    # The default quiz as `prefchat onboard` runs it: cost-aware within a words budget.
    quiz = elicitation_curve(pool, cp, cal_out, test, test_out, [QUIZ_MAX_QUESTIONS], strategy="cost-aware",
                             beta=prec, prior_mean=mean, seed=seed, costs=costs, budget=DEFAULT_WORDS)
    res = {s: c.auc for s, c in curves.items()}
    acc = {s: c.accuracy for s, c in curves.items()}
    final_lam = curves["active"].final_lam
    # The per-user baseline sees the same answers, in the same order, as random selection.
    res["per_user"] = np.full((len(new), len(budgets)), np.nan)
    acc["per_user"] = np.full((len(new), len(budgets)), np.nan)
    for u, order in enumerate(curves["random"].asked):
        for bi, k in enumerate(budgets):
            s = _per_user_model(feats, ca, cb, order, cal_out[u], k, ta, tb)
            res["per_user"][u, bi], acc["per_user"][u, bi] = auc(s, test_out[u]), accuracy(s, test_out[u])
        if progress:
            progress("per_user", u + 1, len(new))
    g = _global_reward(basis, corpus, feats, cal_prompts, train_users, seed, progress)
    gs = g[ta] - g[tb]
    oracle = new.weights @ (corpus.traits[ta] - corpus.traits[tb]).T
    glob_auc = float(np.nanmean([auc(gs, test_out[u]) for u in range(len(new))]))
    glob_acc = float(np.nanmean([accuracy(gs, test_out[u]) for u in range(len(new))]))
    orc_auc = float(np.nanmean([auc(oracle[u], test_out[u]) for u in range(len(new))]))
    orc_acc = float(np.nanmean([accuracy(oracle[u], test_out[u]) for u in range(len(new))]))
    # Simulated win rate: per held-out prompt, the personalised pick vs the global pick, judged by the
    # user's true reward; ties count half.
    wins = []
    for i, pid in enumerate(test_prompts):
        rows = np.flatnonzero(corpus.response_prompt == corpus.prompt_ids.index(pid))
        gpick = rows[int(np.argmax(g[rows]))]
        for u in range(len(new)):
            ppick = rows[int(np.argmax(phi[rows] @ final_lam[u]))]
            tr = corpus.traits @ new.weights[u]
            wins.append(1.0 if tr[ppick] > tr[gpick] else 0.5 if tr[ppick] == tr[gpick] else 0.0)
        if progress:
            progress("simulate", i + 1, len(test_prompts))
    col = lambda m: {str(b): float(np.nanmean(m[:, i])) for i, b in enumerate(budgets)}  # noqa: E731
    return {
        "answers": budgets,
        "auc": {**{s: col(res[s]) for s in STRATEGIES}, "per_user": col(res["per_user"]),
                "global": glob_auc, "oracle": orc_auc},
        "accuracy": {**{s: col(acc[s]) for s in STRATEGIES}, "per_user": col(acc["per_user"]),
                     "global": glob_acc, "oracle": orc_acc},
        "words": word_budgets,
        "auc_at_words": {s: {str(b): a for b, a in curves[s].mean_auc_at_words().items()} for s in STRATEGIES},
        "median_words_at_answers": {s: {str(k): w for k, w in curves[s].median_words().items()}
                                    for s in STRATEGIES},
        "default_quiz": {"words_budget": DEFAULT_WORDS, "max_questions": QUIZ_MAX_QUESTIONS,
                         "auc": float(np.nanmean(quiz.auc[:, 0])),
                         "median_words": float(np.median(quiz.words[:, 0])),
                         "median_questions": float(np.median([len(a) for a in quiz.asked]))},
        "winrate_vs_global": float(np.mean(wins)),
        "users": len(new),
        "test_pairs": int(len(ta)),
        "protocol": "stored split: new users x held-out prompts" if own else "unseen corpus: half prompts calibrate, half test",
    }
