"""The guard: which candidates may be picked at all, decided before lambda . phi looks at them.

A style reward alone prefers emptiness: for a profile that leans concise, "   " and "OK." outscored
every real answer, and a reply that was just "\\x00" won a chat turn. So every pick first drops:

  empty      nothing visible once whitespace, control/format characters and terminal escape
             sequences are removed
  no words   visible, but not one letter or digit ("...", "!!!", a lone emoji)
  loop       a repetition loop: sentences repeating back to back, most word 4-grams repeated, or
             text that compresses like a loop (see the thresholds below)
  truncated  stopped at the token limit (finish_reason "length") with far less text than its
             siblings: the tokens went on something that is not text
  off-topic  answers the prompt far worse than the best sibling (relevance floor, when the caller
             has prompt-reply similarities)

It never drops every candidate: when all fail, the least bad one (by the order of the list above,
then by its measure) stays, ok=True, with a reason that says so. The guard reads text only (regexes,
a set of 4-grams, one zlib pass per text): about 1.5 ms of CPU
for 8 replies of ~1,400 characters (`prefchat bench guard`), and per-text facts are cached."""

from __future__ import annotations

import re
import statistics
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Sequence

# Terminal escape sequences (CSI, OSC, and two-byte ESC x), removed before looking for visible text:
# "\x1b[2J" is not an answer, even though "[2J" is printable.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_ALNUM = re.compile(r"[^\W_]")
_WORDS = re.compile(r"[^\W_]+")
_SEGMENTS = re.compile(r"(?<=[.!?])\s+|\n+")

# Repetition: three measures, because loops come in three shapes, and tables, numbered plans, code and
# song choruses repeat words legitimately. Measured on the shipped corpus (972 replies of 3 to 420
# words), on loops built from its own sentences, and on structured texts (`prefchat bench guard
# --calibrate` prints these numbers):
#   repeated segments: the share of the text's characters in sentences or lines (>= 10 characters)
#     that repeat the one right before them. Corpus max 0.0; a sentence x 30: 0.97; a corpus reply
#     followed by its last sentence x 10: 5th percentile 0.31; x 5: 5th percentile 0.19. Tables,
#     numbered plans and a song whose chorus comes back three times: 0.0 (their repeats are not
#     back to back, or differ in a number).
#   fraction of repeated word 4-grams (loops that cycle through several sentences, or run on without
#     punctuation): corpus max 0.014; a sentence x 30: 0.97; a 30-row table whose rows differ in two
#     numbers: 0.52; numbered plans 0.31-0.34; the song 0.45.
#   zlib ratio (compressed / raw bytes, texts of >= 400 bytes), for loops without words or spaces
#     ("hahaha..."): corpus min 0.50; a 100-row table 0.089; a sentence x 30: 0.03-0.06.
# Thresholds 0.25 / 0.6 / 0.08: no corpus reply, table, plan or the song is flagged; every x 30 loop,
# 98 % of the "answer, then its last sentence x 10" replies, and 90 % of the x 5 ones are.
MIN_SEGMENT_CHARS = 10
REPEATED_SEGMENTS = 0.25
MIN_LOOP_WORDS = 24
REPEAT_FRACTION = 0.6
MIN_ZLIB_BYTES = 400
ZLIB_RATIO = 0.08

# A candidate that hit the token limit is truncated junk when it holds less than this fraction of
# the median visible length of its siblings (a long answer cut at the limit is longer, not shorter).
TRUNCATED_FRACTION = 0.25

# Relevance floor, on the cosine between the prompt's and the reply's mean sentence embedding
# (MiniLM, what the shipped basis reads: prefchat/generation/relevance.py). Measured on the shipped
# corpus (162 prompts x 6 replies): real replies have relevance 0.58 (median; 5th percentile 0.39),
# replies to other prompts 0.11 (median; 95th percentile 0.32). Among siblings, the rule
#     drop when relevance < RELEVANCE_RATIO x the best kept sibling's relevance
# drops, at ratio 0.4 / 0.5 / 0.6: real replies 0.3 % / 0.9 % / 3.0 %, a reply to another prompt
# put among them 90 % / 96 % / 99 %, and non-answers ("OK.", "Sure!", "I don't know.", ...) 99.8 % /
# 100 % / 100 %. A fixed gap (best - relevance > 0.3) did no better (1.2 % / 95 % / 99.6 %). 0.5 it
# is: losing one real reply in a hundred costs the pick little; letting "OK." through costs a turn.
RELEVANCE_RATIO = 0.5

# Order of badness, for picking the least bad when every candidate fails.
_SEVERITY = {"empty": 4, "no words": 3, "loop": 2, "truncated": 1, "off-topic": 0}


@dataclass
class Verdict:
    index: int
    ok: bool
    reason: Optional[str]   # why it was dropped, or the note on a candidate kept despite failing


# Whitespace, C0/C1 controls, and the invisible format characters (soft hyphen, zero-width and
# direction marks, word joiners, BOM): none of them is something a reader can see.
_INVISIBLE = re.compile("[\\s\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
                        "\u2060-\u206f\ufeff\ufff9-\ufffb]+")


def visible(text: str) -> str:
    """The text without escape sequences, whitespace and control/format characters."""
    return _INVISIBLE.sub("", _ESCAPES.sub("", text))


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


def repeated_segments(text: str) -> float:
    """Share of the text's characters in sentences/lines that repeat the one just before them."""
    segs = [" ".join(x.lower().split()) for x in _SEGMENTS.split(text)]
    segs = [x for x in segs if x]
    total = sum(len(x) for x in segs)
    if not total:
        return 0.0
    rep = sum(len(b) for a, b in zip(segs, segs[1:]) if a == b and len(b) >= MIN_SEGMENT_CHARS)
    return rep / total


def _loop_measure(text: str) -> Optional[float]:
    """How loop-like the text is (0..1), or None when it is not a loop."""
    seg = repeated_segments(text)
    if seg > REPEATED_SEGMENTS:
        return seg
    rep = repeat_fraction(text) if len(_WORDS.findall(text)) >= MIN_LOOP_WORDS else 0.0
    if rep > REPEAT_FRACTION:
        return rep
    if len(text.encode("utf-8", "surrogatepass")) >= MIN_ZLIB_BYTES:
        z = zlib_ratio(text)
        if z < ZLIB_RATIO:
            return 1.0 - z
    return None


@lru_cache(maxsize=512)
def _measures(text: str) -> tuple[int, Optional[str], float]:
    """Per-text facts, cached: a chat turn screens each text once, but a regenerate or a simulation
    screens the same texts many times. (visible length, failure kind or None, its measure)."""
    seen = visible(text)
    if not seen:
        return 0, "empty", 0.0
    if not _ALNUM.search(seen):
        return len(seen), "no words", 0.0
    loop = _loop_measure(text)
    return len(seen), (None if loop is None else "loop"), (0.0 if loop is None else loop)


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
    facts = [_measures(t) for t in texts]
    for i, (_, kind, measure) in enumerate(facts):
        if kind is not None:
            fail[i] = (kind, measure)
    if finish_reasons is not None and n > 1:
        lengths = [f[0] for f in facts]
        for i in range(n):
            if fail[i] is None and finish_reasons[i] == "length":
                med = statistics.median(lengths[:i] + lengths[i + 1:])
                if lengths[i] < TRUNCATED_FRACTION * med:
                    fail[i] = ("truncated", -lengths[i] / max(med, 1))
    best = float("nan")
    if relevance is not None and n > 1:
        rel = [float(r) for r in relevance]
        alive = [rel[i] for i in range(n) if fail[i] is None and rel[i] == rel[i]]  # NaN-safe
        best = max(alive, default=0.0)
        if best > 0:  # with nothing relevant at all there is no floor to apply
            for i in range(n):
                if fail[i] is None and not rel[i] >= RELEVANCE_RATIO * best:
                    fail[i] = ("off-topic", 1.0 - rel[i] / best if rel[i] == rel[i] else 9.0)
    verdicts = [Verdict(i, fail[i] is None, None if fail[i] is None else _describe(fail[i], relevance, i, best))
                for i in range(n)]
    if not any(v.ok for v in verdicts):
        keep = min(range(n), key=lambda i: (_SEVERITY[fail[i][0]], fail[i][1], i))  # type: ignore[index]
        verdicts[keep] = Verdict(keep, True, f"kept although it failed the guard ({verdicts[keep].reason}): "
                                             "every candidate failed, this one least")
    return verdicts


def _describe(fail: tuple[str, float], relevance, i: int, best: float) -> str:
    kind, measure = fail
    if kind == "empty":
        return "empty: no visible text"
    if kind == "no words":
        return "no words: not one letter or digit"
    if kind == "loop":
        return f"repetition loop ({measure:.0%} repeated)"
    if kind == "truncated":
        return f"cut off at the token limit with {-measure:.0%} of the siblings' text"
    return f"off-topic: relevance {float(relevance[i]):.2f}, under half the best sibling's {best:.2f}"


def order(scores: Sequence[float], ok: Optional[Sequence[bool]] = None) -> list[int]:
    """Indices best first; equal scores keep index order (lowest index wins a tie). With `ok`, every
    kept candidate comes before every dropped one."""
    keep = [True] * len(scores) if ok is None else list(ok)
    return sorted(range(len(scores)), key=lambda i: (not keep[i], -float(scores[i]), i))
