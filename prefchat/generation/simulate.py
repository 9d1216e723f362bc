"""Proof by simulation (`prefchat eval --generation`): does instructing the candidates with the
user's style pay, with no real LLM?

The generator is simulated over a labelled corpus (the format of docs/FORMATS.md, "Corpus"):
  * a plain sample is a uniformly random response of the prompt;
  * under an instruction it reads the trait words back out of the text (so a card that does not
    name a trait cannot get it followed) and, with probability p, returns the response whose trait
    labels best match the instructed traits (ties at random); otherwise a random response;
  * an instruction naming m > 2 traits is followed with probability p * 0.8^(m - 2): a strategy must
    not win by asking for everything at once.

Simulated new users come from the corpus populations (prefchat.data.users). Each takes the real
onboarding quiz on the basis's shipped pool (Elicitor, active selection, the basis prior: exactly
what onboarding fits) with k answers given by their true reward with the population's noise model.
When the test corpus is the basis's own, the quiz pool leaves out the test prompts and the users are
the split's new users; on any other corpus every user of the population is new to it.

For every user, test prompt, strategy and N the candidates are generated, screened by the real guard
(relevance from the basis's encoder), and the reranker picks argmax lambda . phi with the basis's real
phi of the responses. The shown reply is judged against a plain reply by the user's TRUE reward (the
sum of their signed trait labels), ties half; against a uniformly random plain reply this is computed
exactly. The ceiling is the best response of the prompt's whole pool."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from prefchat.basis.train import cached_features
from prefchat.data import load_corpus
from prefchat.data.corpus import TRAITS
from prefchat.data.splits import load_split, make_split
from prefchat.data.users import KAPPA
from prefchat.errors import PrefchatError
from prefchat.generation import relevance
from prefchat.generation.card import TRAIT_PHRASES
from prefchat.generation.guard import order, screen
from prefchat.generation.strategies import STRATEGIES, candidate_instructions
from prefchat.profiles.profile import Answer, new_profile
from prefchat.reward.elicit import Elicitor

NS = (1, 2, 4, 8)
CHOICE = {1.0: "a", 0.0: "b", 0.5: "tie"}
EXTRA_TRAIT_FOLLOW = 0.8

# Longest phrase first, so no phrase is read inside a longer one.
_PHRASES = sorted(((ph, TRAITS.index(t), sign) for t, pair in TRAIT_PHRASES.items()
                   for ph, sign in zip(pair, (1, -1))), key=lambda x: -len(x[0]))


def parse_instruction(text: Optional[str]) -> list[tuple[int, int]]:
    """The (trait index, sign) pairs an instruction asks for, read from its words."""
    if not text:
        return []
    low = text.lower()
    found: dict[int, int] = {}
    for ph, t, sign in _PHRASES:
        if ph in low:
            low = low.replace(ph, " ")
            found.setdefault(t, sign)
    return sorted(found.items())


def follow_probability(p: float, n_traits: int) -> float:
    return p * EXTRA_TRAIT_FOLLOW ** max(0, n_traits - 2)


def simulated_reply(rows: np.ndarray, traits: np.ndarray, instruction: Optional[str], p: float,
                    rng: np.random.Generator) -> int:
    """One generated reply (a corpus row) for the prompt whose responses are `rows`."""
    asked = parse_instruction(instruction)
    if asked and rng.random() < follow_probability(p, len(asked)):
        idx = np.array([t for t, _ in asked])
        signs = np.array([s for _, s in asked])
        match = traits[rows][:, idx] @ signs
        best = np.flatnonzero(match == match.max())
        return int(rows[rng.choice(best)])
    return int(rows[rng.integers(len(rows))])


def pick(prompt: str, cand_rows: Sequence[int], texts: Sequence[str], phi: np.ndarray, lam: np.ndarray,
         relevance: Optional[np.ndarray]) -> int:
    """The reranker as chat runs it: the guard, then argmax lambda . phi (ties: lowest index)."""
    rows = list(cand_rows)
    rel = None if relevance is None else [float(relevance[r]) for r in rows]
    ok = [v.ok for v in screen(prompt, [texts[r] for r in rows], None, rel)]
    scores = phi[rows] @ lam
    return rows[order(scores, ok)[0]]


def win_vs_plain(true_reward: np.ndarray) -> np.ndarray:
    """For each response of a prompt: P(it beats a uniformly random response of the prompt), ties
    half, under the user's true reward."""
    d = true_reward[:, None] - true_reward[None, :]
    return ((d > 0) + 0.5 * (d == 0)).mean(axis=1)


def basis_phi(basis, corpus, progress=None) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """phi of every corpus response under the basis, and its relevance to its prompt (None when the
    basis's encoder gives no sentence embeddings). Encoder features are cached on disk."""
    import torch

    scorer = basis.scorer()
    prompts = [corpus.prompt_text(pid) for pid in corpus.prompt_ids]
    enc = getattr(scorer, "encoder", None)
    if relevance.supports(enc) and getattr(scorer, "head", None) is not None:
        feats = cached_features(enc, corpus.texts, progress)
        pf = cached_features(enc, prompts)
        with torch.inference_mode():
            phi = scorer.head(torch.as_tensor(feats, device=scorer.device)).double().cpu().numpy()
        rel = np.array([float(relevance.cosine(pf[corpus.response_prompt[i]], feats[i:i + 1])[0])
                        for i in range(len(corpus.texts))])
        return phi, rel
    phi = np.asarray(scorer.phi(corpus.texts, [prompts[i] for i in corpus.response_prompt]), dtype=np.float64)
    return phi, None


def quiz_profiles(basis, quiz_corpus, weights: np.ndarray, k: int, exclude_prompts=(), seed: int = 0) -> list:
    """One profile per user: k answers to the onboarding quiz on the basis pool, fitted as onboarding
    fits them. Answers follow the users' true reward with the population noise (KAPPA)."""
    pool = basis.pool()
    keep = ~np.isin(pool.prompt_ids.astype(str), np.asarray(list(exclude_prompts), dtype=str))
    diffs, prompts = pool.diffs[keep], pool.prompt_ids[keep]
    a = np.array([quiz_corpus.response_row(str(x)) for x in pool.a_ids[keep]])
    b = np.array([quiz_corpus.response_row(str(x)) for x in pool.b_ids[keep]])
    dr = weights @ (quiz_corpus.traits[a] - quiz_corpus.traits[b]).T  # users x pairs
    rng = np.random.default_rng(seed + 7)
    outcome = np.where(dr == 0, 0.5, (rng.random(dr.shape) < 1.0 / (1.0 + np.exp(-KAPPA * dr))).astype(float))
    mean, precision = basis.prior
    profiles = []
    for u in range(weights.shape[0]):
        el = Elicitor(diffs, prompts, beta=precision, prior_mean=mean, seed=seed * 100_003 + u)
        kept = []
        for _ in range(k):
            q = el.next_question()
            if q is None:
                break
            el.answer(q, float(outcome[u, q]))
            # stored as onboarding stores it: texts, not ids (the card matches them back to labels)
            kept.append(Answer(quiz_corpus.prompt_text(str(prompts[q])), quiz_corpus.texts[a[q]],
                               quiz_corpus.texts[b[q]], CHOICE[float(outcome[u, q])], "onboard",
                               "2026-12-01T00:00:00Z"))
        profiles.append(new_profile(f"sim-{u}", basis.name, basis.fingerprint, el.lam, el.precision, kept))
    return profiles


def run_generation(basis, corpus_path=None, p: float = 0.7, answers: int = 10, ns: Sequence[int] = NS,
                   strategies: Sequence[str] = STRATEGIES, population: str = "paper", seed: int = 0,
                   draws: int = 4, progress: Optional[Callable[[str, int, int], None]] = None,
                   validation: bool = False) -> dict:
    """The win-rate table. Returns {"generation": {strategy: {"N": w}}, "ceiling", "users", ...}.

    validation: on the basis's own corpus, simulate the split's TRAINING users instead of the new ones
    (held-out prompts either way): for choosing settings without looking at the test figures."""
    if not 0.0 <= p <= 1.0:
        raise PrefchatError(f"--p {p}: the follow probability must be between 0 and 1")
    if answers < 1:
        raise PrefchatError(f"--answers {answers}: give at least one quiz answer")
    corpus = load_corpus(corpus_path)
    quiz_corpus = load_corpus()  # the pool's texts and labels: the basis's shipped corpus
    own = corpus.sha256 == basis.meta.get("training", {}).get("corpus_sha256")
    split = load_split(corpus) or make_split(corpus)
    pop = split.population(population)
    if own:
        test_prompts = list(split.heldout_prompts)
        users = pop.subset((split.train_users if validation else split.new_users)[population])
        exclude = test_prompts
    else:
        test_prompts = list(corpus.prompt_ids)
        users = pop
        exclude = ()
    if quiz_corpus.sha256 != basis.meta.get("training", {}).get("corpus_sha256"):
        raise PrefchatError(f"basis '{basis.name}' was not trained on the shipped corpus, so its "
                            "onboarding pool cannot be answered here")
    phi, rel = basis_phi(basis, corpus, progress)
    profiles = quiz_profiles(basis, quiz_corpus, users.weights, answers, exclude, seed)
    ns = sorted(int(n) for n in ns)
    wins = {s: {n: [] for n in ns} for s in strategies}
    ceiling = []
    for u, prof in enumerate(profiles):
        rng = np.random.default_rng([seed, u])
        lam = np.asarray(prof.lam, dtype=np.float64)
        true_r = corpus.traits @ users.weights[u]
        for pid in test_prompts:
            pi = corpus.prompt_ids.index(pid)
            rows = np.flatnonzero(corpus.response_prompt == pi)
            prompt = corpus.prompt_text(pid)
            vs_plain = dict(zip(rows.tolist(), win_vs_plain(true_r[rows])))
            ceiling.append(max(vs_plain.values()))
            for _ in range(draws):
                for s in strategies:
                    for n in ns:
                        instr = candidate_instructions(s, prof, basis, n, rng)
                        cands = [simulated_reply(rows, corpus.traits, x, p, rng) for x in instr]
                        wins[s][n].append(vs_plain[pick(prompt, cands, corpus.texts, phi, lam, rel)])
        if progress:
            progress("users", u + 1, len(profiles))
    table = {s: {str(n): float(np.mean(wins[s][n])) for n in ns} for s in strategies}
    return {"generation": table, "ceiling": float(np.mean(ceiling)), "p": p, "answers": answers,
            "users": len(users), "prompts": len(test_prompts), "draws": draws,
            "corpus": corpus.path.name, "protocol": (f"stored split: {'training (validation)' if validation else 'new'}"
                                                     " users x held-out prompts, quiz pool without them") if own else
            "unseen corpus: every user and prompt new; quiz on the basis pool"}
