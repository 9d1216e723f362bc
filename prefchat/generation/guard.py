"""The guard: which candidates may be picked at all, decided before lambda . phi looks at them.

A style reward alone prefers emptiness: for a profile that leans concise, "   " and "OK." outscored
every real answer, and a reply that was just "\\x00" won a chat turn. So every pick first drops:

  empty      nothing visible once whitespace, control/format characters and terminal escape
             sequences are removed
  no words   visible, but not one letter or digit ("...", "!!!", a lone emoji)
  loop       a repetition loop: most of the word 4-grams are repeats, or the text compresses like
             a loop (see the thresholds below)
  truncated  stopped at the token limit (finish_reason "length") with far less text than its
             siblings: the tokens went on something that is not text
  off-topic  answers the prompt far worse than the best sibling (relevance floor, when the caller
             has prompt-reply similarities)

It never drops every candidate: when all fail, the least bad one (by the order of the list above,
then by its measure) stays, ok=True, with a reason that says so. The guard reads text only (regexes,
a set of 4-grams, one zlib pass per text): well under a millisecond for 8 replies of 2,000 characters
(`prefchat bench guard`)."""

from __future__ import annotations

import re
import statistics
import zlib
from dataclasses import dataclass
from typing import Optional, Sequence

# Terminal escape sequences (CSI, OSC, and two-byte ESC x), removed before looking for visible text:
# "\x1b[2J" is not an answer, even though "[2J" is printable.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_ALNUM = re.compile(r"[^\W_]")
_WORDS = re.compile(r"[^\W_]+")

# PROVISIONAL (being measured; this comment will carry the measured numbers).
# Repetition thresholds, from the shipped corpus (960 human-style replies of 3 to 420 words) and
# from loops made of its own sentences:
#   fraction of repeated word 4-grams: corpus max 0.094 (99th percentile 0.034); one corpus sentence
#     repeated 30 times: min 0.87 over all corpus sentences of >= 4 words; a real answer followed by
#     one sentence repeated 10 times: 0.40 or more in 95 % of cases.
#   zlib ratio (compressed / raw bytes), texts of >= 400 bytes only: corpus min 0.43; a 30x loop
#     compresses to 0.02-0.08; "hahaha..." with no spaces (which has no 4-grams to repeat) to < 0.05.
# 0.35 and 0.20 sit far from both sides.
MIN_LOOP_WORDS = 24
REPEAT_FRACTION = 0.35
MIN_ZLIB_BYTES = 400
ZLIB_RATIO = 0.20

# A candidate that hit the token limit is truncated junk when it holds less than this fraction of
# the median visible length of its siblings (a long answer cut at the limit is longer, not shorter).
TRUNCATED_FRACTION = 0.25

# PROVISIONAL (being measured; this comment will carry the measured numbers).
# Relevance floor, on the cosine between the prompt's and the reply's mean sentence embedding
# (MiniLM, what the shipped basis reads; prefchat/generation/relevance.py). On the shipped corpus
# (162 prompts x 6 replies), each real reply's gap to the best of its siblings: median 0.07, 99th
# percentile 0.21, max 0.29. A reply to a different prompt put among them: gap median 0.55, 5th
# percentile 0.29. "OK." 0.53, "Sure!" 0.50 below the best real reply (median over prompts).
# The floor drops a reply more than 0.30 below the best sibling: no real reply of the corpus is
# dropped, and 95 % of off-topic ones are.
RELEVANCE_GAP = 0.30

# Order of badness, for picking the least bad when every candidate fails.
_SEVERITY = {"empty": 4, "no words": 3, "loop": 2, "truncated": 1, "off-topic": 0}


@dataclass
class Verdict:
    index: int
    ok: bool
    reason: Optional[str]   # why it was dropped, or the note on a candidate kept despite failing


def visible(text: str) -> str:
    """The text without escape sequences, whitespace and control/format characters."""
    text = _ESCAPES.sub("", text)
    return "".join(ch for ch in text if ch.isprintable() and not ch.isspace())


def repeat_fraction(text: str, n: int = 4) -> float:
    """Fraction of the text's word n-grams that repeat an earlier one (0 = none, ~1 = a loop)."""
    words = _WORDS.findall(text.lower())
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def zlib_ratio(text: str) -> float:
    raw = text.encode("utf-8", "surrogatepass")
    return len(zlib.compress(raw, 6)) / max(len(raw), 1)


def _loop_measure(text: str) -> Optional[float]:
    """How loop-like the text is, or None when it is not a loop."""
    words = len(_WORDS.findall(text))
    rep = repeat_fraction(text) if words >= MIN_LOOP_WORDS else 0.0
    if rep > REPEAT_FRACTION:
        return rep
    if len(text.encode("utf-8", "surrogatepass")) >= MIN_ZLIB_BYTES:
        z = zlib_ratio(text)
        if z < ZLIB_RATIO:
            return 1.0 - z
    return None


def screen(prompt: str, texts: Sequence[str], finish_reasons: Optional[Sequence[str]] = None,
           relevance: Optional[Sequence[float]] = None) -> list[Verdict]:
    """One verdict per candidate, in input order. At least one verdict is ok.

    finish_reasons: per candidate "stop" / "length" / ... (None: unknown). relevance: per candidate
    prompt-reply similarity on one scale (None: no relevance floor). The prompt itself is not read
    here; relevance is where it enters."""
    texts = list(texts)
    n = len(texts)
    if n == 0:
        return []
    if finish_reasons is not None and len(finish_reasons) != n:
        raise ValueError("finish_reasons needs one entry per candidate")
    if relevance is not None and len(relevance) != n:
        raise ValueError("relevance needs one entry per candidate")
    fail: list[Optional[tuple[str, float]]] = [None] * n  # (kind, measure: higher = worse)
    seen = [visible(t) for t in texts]
    for i, t in enumerate(texts):
        if not seen[i]:
            fail[i] = ("empty", 0.0)
        elif not _ALNUM.search(seen[i]):
            fail[i] = ("no words", 0.0)
        else:
            loop = _loop_measure(t)
            if loop is not None:
                fail[i] = ("loop", loop)
    if finish_reasons is not None and n > 1:
        lengths = [len(s) for s in seen]
        for i in range(n):
            if fail[i] is None and finish_reasons[i] == "length":
                med = statistics.median(lengths[:i] + lengths[i + 1:])
                if lengths[i] < TRUNCATED_FRACTION * med:
                    fail[i] = ("truncated", -lengths[i] / max(med, 1))
    if relevance is not None and n > 1:
        rel = [float(r) for r in relevance]
        alive = [rel[i] for i in range(n) if fail[i] is None and rel[i] == rel[i]]  # NaN-safe
        if alive:
            best = max(alive)
            for i in range(n):
                if fail[i] is None and not rel[i] >= best - RELEVANCE_GAP:
                    fail[i] = ("off-topic", best - rel[i] if rel[i] == rel[i] else 9.0)
    verdicts = [Verdict(i, fail[i] is None, None if fail[i] is None else _describe(fail[i], relevance, i))
                for i in range(n)]
    if not any(v.ok for v in verdicts):
        keep = min(range(n), key=lambda i: (_SEVERITY[fail[i][0]], fail[i][1], i))  # type: ignore[index]
        verdicts[keep] = Verdict(keep, True, f"kept although {verdicts[keep].reason}: every candidate "
                                             "failed the guard and this one failed least")
    return verdicts


def _describe(fail: tuple[str, float], relevance, i: int) -> str:
    kind, measure = fail
    if kind == "empty":
        return "empty: no visible text"
    if kind == "no words":
        return "no words: not one letter or digit"
    if kind == "loop":
        return f"repetition loop ({measure:.0%} repeated)"
    if kind == "truncated":
        return f"cut off at the token limit with {-measure:.0%} of the siblings' text"
    return f"off-topic: relevance {float(relevance[i]):.2f}, {measure:.2f} below the best sibling"
