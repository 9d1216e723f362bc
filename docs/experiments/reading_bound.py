"""How far the quiz's reading target is limited by how well the basis reads style (issue 14).

The same evaluation as `prefchat eval` (shipped corpus, stored split, the 25 new two-trait users,
their simulated answers for --seed, the same cost-aware rule and words-read budgets), with phi
replaced by a reader of known quality: the seven trait labels themselves, plus Gaussian noise of
standard deviation NOISE per trait and response. The prior is isotropic, N(0, I / PREC), since
there is no trained population here. NOISE 0 is a perfect reader. Each reader's quality is printed
as R^2: how much of the held-out pairs' phi differences a linear map from their trait differences
explains (the map fitted on the pool's pairs); the shipped basis gets the same measure, to place it
between the simulated readers (BENCHMARKS.md, "What limits the reading target").

    python docs/experiments/reading_bound.py [--noise 0,0.5,1] [--prec 0.3] [--seed 0] [--words 1000,1273,1500]
"""
import argparse

import numpy as np

from prefchat.data import load_corpus, simulate
from prefchat.data.reading import row_pair_words
from prefchat.data.splits import load_split
from prefchat.reward.evaluate import elicitation_curve


def reading_r2(pool, test, ca, cb, ta, tb, traits) -> float:
    X = (traits[ca] - traits[cb]).astype(float)
    B = np.linalg.lstsq(X, pool, rcond=None)[0]
    Xt = (traits[ta] - traits[tb]).astype(float)
    return float(1 - ((test - Xt @ B) ** 2).sum() / ((test - test.mean(0)) ** 2).sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--noise", default="0,0.5,1")
    ap.add_argument("--prec", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--words", default="1000,1273,1500")
    ap.add_argument("--no-shipped", action="store_true", help="skip the shipped basis's R^2 (loads MiniLM)")
    args = ap.parse_args()
    corpus = load_corpus(None)
    split = load_split(corpus)
    new = split.population("paper").subset(split.new_users["paper"])
    ca, cb, cp = corpus.pairs(split.train_prompts)
    ta, tb, _ = corpus.pairs(split.heldout_prompts)
    # The same answer and test draws as `prefchat eval --seed S` (prefchat/basis/evaluate.py).
    cal_out = simulate(new, corpus.traits, ca, cb, seed=args.seed + 11)
    test_out = simulate(new, corpus.traits, ta, tb, seed=args.seed + 12)
    costs = row_pair_words(corpus, ca, cb)
    words = [int(w) for w in args.words.split(",")]
    J = corpus.traits.shape[1]
    if not args.no_shipped:
        from prefchat.basis import load_basis
        from prefchat.basis.evaluate import _phi_all
        phi, _ = _phi_all(load_basis(None), corpus)
        r2 = reading_r2(phi[ca] - phi[cb], phi[ta] - phi[tb], ca, cb, ta, tb, corpus.traits)
        print(f"shipped basis: R^2 {r2:.3f} (run `prefchat eval --words {args.words}` for its AUC)", flush=True)
    for noise in (float(x) for x in args.noise.split(",")):
        phi = corpus.traits + noise * np.random.default_rng(1).normal(size=corpus.traits.shape)
        pool, test = phi[ca] - phi[cb], phi[ta] - phi[tb]
        curve = elicitation_curve(pool, cp, cal_out, test, test_out, [10, 15], strategy="cost-aware",
                                  beta=args.prec * np.eye(J), prior_mean=np.zeros(J), seed=args.seed,
                                  costs=costs, word_budgets=words)
        r2 = reading_r2(pool, test, ca, cb, ta, tb, corpus.traits)
        at_words = ", ".join(f"{w}: {a:.3f}" for w, a in curve.mean_auc_at_words().items())
        at_k = ", ".join(f"{k}: {a:.3f}" for k, a in curve.mean_auc().items())
        print(f"noise {noise:g}: R^2 {r2:.3f}; AUC after words read {{{at_words}}}; after answers {{{at_k}}}", flush=True)


if __name__ == "__main__":
    main()
