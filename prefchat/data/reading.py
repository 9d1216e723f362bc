"""What a question costs a person: the words they read (the prompt and both responses).

Words are whitespace-separated tokens, counted once when the pool is loaded (a few milliseconds for the
shipped corpus), so the shipped pool file needs no extra column and any corpus file works. Minutes use
a typical silent-reading speed for screen text of 250 words per minute."""

from __future__ import annotations

import numpy as np

WORDS_PER_MINUTE = 250


def words(text: str) -> int:
    return len(text.split())


def minutes(n_words: float) -> float:
    return float(n_words) / WORDS_PER_MINUTE


def pair_words(corpus, prompt_ids, a_ids, b_ids) -> np.ndarray:
    """Words read for each (prompt, response a, response b), by id, as a float array."""
    cache: dict[str, int] = {}

    def prompt(pid: str) -> int:
        if pid not in cache:
            cache[pid] = words(corpus.prompt_text(pid))
        return cache[pid]

    rw = {}

    def resp(rid: str) -> int:
        if rid not in rw:
            rw[rid] = words(corpus.response_text(rid))
        return rw[rid]

    return np.array([prompt(str(p)) + resp(str(a)) + resp(str(b))
                     for p, a, b in zip(prompt_ids, a_ids, b_ids)], dtype=np.float64)


def row_pair_words(corpus, a_rows, b_rows) -> np.ndarray:
    """Words read for pairs given as response rows of the corpus (as `Corpus.pairs` returns them)."""
    rw = np.array([words(t) for t in corpus.texts], dtype=np.float64)
    pw = np.array([words(corpus.prompt_text(p)) for p in corpus.prompt_ids], dtype=np.float64)
    a_rows, b_rows = np.asarray(a_rows, dtype=np.int64), np.asarray(b_rows, dtype=np.int64)
    return pw[corpus.response_prompt[a_rows]] + rw[a_rows] + rw[b_rows]


# The default quiz: cost-aware questions until about five minutes of reading (at most QUIZ_MAX_QUESTIONS).
# On the shipped corpus's simulated new users it beats the AUC that 10 active answers gave (0.874 vs
# 0.859), with a median of ~1,190 words read (BENCHMARKS.md, "Cost-aware onboarding").
DEFAULT_WORDS = 1200
QUIZ_MAX_QUESTIONS = 15
