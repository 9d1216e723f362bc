"""The numbers behind the guard's thresholds, measured on a labelled corpus (`prefchat bench guard`).

Relevance: every real reply's gap to the most relevant of its siblings, against the gap of a reply
written for another prompt (and of short non-answers) put among them. Repetition: the corpus's own
replies against loops built from its sentences."""

from __future__ import annotations

import time

import numpy as np

from prefchat.basis.encoders import split_sentences
from prefchat.generation import guard, traits
from prefchat.generation.explain import why
from prefchat.generation.relevance import cosine
from prefchat.generation.strategies import DEFAULT_STRATEGY, candidate_instructions

NON_ANSWERS = ("OK.", "Sure!", "Yes.", "I don't know.", "Thanks!", "Hmm.")


def _q(x, qs=(0.5, 0.95, 0.99)) -> dict:
    x = np.asarray(x, dtype=float)
    out = {f"p{int(q * 100)}": float(np.quantile(x, q)) for q in qs}
    out.update(min=float(x.min()), max=float(x.max()), n=int(x.size))
    return out


def relevance_numbers(corpus, reply_feats: np.ndarray, prompt_feats: np.ndarray,
                      junk_feats: np.ndarray, seed: int = 0) -> dict:
    """reply_feats: features of every corpus reply (rows as corpus.texts); prompt_feats: one row per
    prompt (corpus.prompt_ids order); junk_feats: one row per NON_ANSWERS entry."""
    rng = np.random.default_rng(seed)
    on_gap, off_gap, junk_gap = [], [], []   # 1 - relevance / best real reply's relevance
    on_rel, off_rel = [], []
    n_prompts = len(corpus.prompt_ids)
    for pi in range(n_prompts):
        rows = np.flatnonzero(corpus.response_prompt == pi)
        rel = cosine(prompt_feats[pi], reply_feats[rows])
        best = rel.max()
        on_rel += list(rel)
        on_gap += list(rel / best)
        # three replies to other prompts, each judged against this prompt's real replies
        others = rng.choice(np.flatnonzero(corpus.response_prompt != pi), size=3, replace=False)
        off = cosine(prompt_feats[pi], reply_feats[others])
        off_rel += list(off)
        off_gap += list(off / best)
        junk_gap += list(cosine(prompt_feats[pi], junk_feats) / best)
    on, off, junk = np.array(on_gap), np.array(off_gap), np.array(junk_gap)
    out = {"real_relevance": _q(on_rel, (0.05, 0.5)), "other_prompt_relevance": _q(off_rel, (0.5, 0.95)),
           "real_share_of_best": _q(on, (0.01, 0.05, 0.5)), "other_prompt_share_of_best": _q(off, (0.5, 0.95)),
           "non_answer_share_of_best": _q(junk, (0.5, 0.95)), "ratio": guard.RELEVANCE_RATIO}
    for r in sorted({0.4, 0.5, 0.6, guard.RELEVANCE_RATIO}):
        out[f"dropped_at_{r:g}"] = {"real": float(np.mean(on < r)), "other_prompt": float(np.mean(off < r)),
                                    "non_answer": float(np.mean(junk < r))}
    return out


def _table(rows: int) -> str:
    return "| Day | Morning | Evening |\n|---|---|---|\n" + "\n".join(
        f"| Day {i} | Run {i} km at an easy pace | Stretch for 10 minutes |" for i in range(1, rows + 1))


def _plan(rows: int) -> str:
    return "Here is the plan:\n" + "\n".join(
        f"{i}. Week {i}: run for {i + 1} minutes, walk for 2 minutes, repeat 6 times." for i in range(1, rows + 1))


SONG = ("Verse one: the morning train is late again.\nI count the stations on my hands.\n\n" + "{chorus}" +
        "Verse two: the window shows a sleeping town.\nA dog runs after every wheel.\n\n{chorus}"
        "Bridge: and if the signals all turn red,\nI'll walk the rails instead.\n\n{chorus}").replace(
    "{chorus}", "Chorus:\nOh, carry me home, carry me home,\nover the river and down the line.\n"
                "Oh, carry me home, carry me home,\nI'll be there by half past nine.\n\n")

# Legitimately repetitive replies the guard must leave alone.
STRUCTURED = {"table 7 rows": _table(7), "table 30 rows": _table(30), "table 100 rows": _table(100),
              "plan 8 steps": _plan(8), "plan 20 steps": _plan(20), "song, chorus x 3": SONG}


def repetition_numbers(texts: list[str], seed: int = 0, samples: int = 400) -> dict:
    rng = np.random.default_rng(seed)
    sents = [s for t in texts for s in split_sentences(t) if len(s.split()) >= 4]
    loop30 = [" ".join([sents[i]] * 30) for i in rng.choice(len(sents), size=min(samples, len(sents)), replace=False)]
    tails: dict[int, list[str]] = {10: [], 5: []}
    for k in tails:
        for i in rng.choice(len(texts), size=min(samples, len(texts)), replace=False):
            parts = split_sentences(texts[i])
            if parts:
                tails[k].append(texts[i] + " " + " ".join([parts[-1]] * k))

    def measures(xs: list[str]) -> dict:
        long = [x for x in xs if len(x.encode()) >= guard.MIN_ZLIB_BYTES]
        return {"repeated_segments": _q([guard.repeated_segments(x) for x in xs], (0.05, 0.5)),
                "repeated_4grams": _q([guard.repeat_fraction(x) for x in xs], (0.5, 0.99)),
                "zlib_ratio": _q([guard.zlib_ratio(x) for x in long], (0.01, 0.5)) if long else None,
                "flagged": float(np.mean([guard._loop_measure(x) is not None for x in xs]))}

    out = {"corpus": measures(texts), "sentence_x30": measures(loop30), "answer_then_last_x10": measures(tails[10]),
           "answer_then_last_x5": measures(tails[5])}
    out["structured"] = {k: {"repeated_segments": guard.repeated_segments(x), "repeated_4grams": guard.repeat_fraction(x),
                             "zlib_ratio": guard.zlib_ratio(x), "flagged": guard._loop_measure(x) is not None}
                         for k, x in STRUCTURED.items()}
    return out


def time_turn(profile, basis, texts: list[str], prompt: str, relevance: list[float], n: int = 8,
              repeats: int = 200, seed: int = 0) -> dict:
    """Median seconds of what personalised generation adds to a turn beyond scoring: the guard over
    n candidates, the instructions for n candidates (default strategy), and "why this reply".

    'cold' clears the caches first (a turn right after the profile changed, with texts never
    screened); 'warm' is a later turn with the same profile and new texts."""
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(2, basis.dims))
    traits._label_index.cache_clear()
    traits._label_fit.cache_clear()
    t0 = time.perf_counter()
    candidate_instructions(DEFAULT_STRATEGY, profile, basis, n, rng)
    out: dict = {"first": time.perf_counter() - t0}
    # Wall time and this thread's CPU time: on a machine shared with other jobs, wall time also counts
    # the moments the scheduler gave the core to someone else; CPU time is what the turn itself costs.
    for clock_name, clock in (("wall", time.perf_counter), ("cpu", time.thread_time)):
        for mode in ("cold", "warm"):
            times = {"guard": [], "instructions": [], "why": []}
            for r in range(repeats):
                guard._measures.cache_clear()  # every turn's texts are new
                if mode == "cold":
                    traits._label_fit.cache_clear()
                cand = [f"{t} ({r})" for t in texts[:n]]  # distinct texts each round
                t0 = clock()
                guard.screen(prompt, cand, ["stop"] * len(cand), relevance[:n])
                t1 = clock()
                candidate_instructions(DEFAULT_STRATEGY, profile, basis, n, rng)
                t2 = clock()
                why(phi[0], phi[1], profile, basis)
                t3 = clock()
                times["guard"].append(t1 - t0)
                times["instructions"].append(t2 - t1)
                times["why"].append(t3 - t2)
            med = {k: float(np.median(v)) for k, v in times.items()}
            med["total"] = float(np.median(np.sum([times[k] for k in times], axis=0)))
            out[f"{mode}_{clock_name}" if clock_name == "cpu" else mode] = med
    out["n"] = n
    out["chars"] = int(np.mean([len(t) for t in texts[:n]]))
    return out
