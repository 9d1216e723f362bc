"""The guard on text alone: what it drops, what it never drops (every reply of the shipped corpus),
and that it never drops every candidate."""

from __future__ import annotations

import pytest

from prefchat.generation.calibrate import STRUCTURED
from prefchat.generation.guard import screen

PROMPT = "How do I boil an egg?"
REAL = "Put the egg in boiling water for seven minutes, then cool it under cold water and peel it."
LOOP = "Boil the egg for seven minutes. " * 30


def _ok(verdicts):
    return [v.ok for v in verdicts]


@pytest.mark.parametrize("junk, kind", [
    ("", "empty"), ("   ", "empty"), ("\n\t \r\n", "empty"), ("\x00", "empty"), ("\x00\x07\x1b", "empty"),
    ("\u200b\ufeff\u2060", "empty"), ("\x1b[2J\x1b[H", "empty"), ("\x1b]52;c;aGVsbG8=\x07", "empty"),
    ("...", "no words"), ("!!! ???", "no words"), (LOOP, "repetition loop"), ("ha" * 400, "repetition loop"),
    (REAL + " " + "I hope this helps. " * 12, "repetition loop"),
    (REAL + " Let me know if anything is unclear." * 5, "repetition loop"),
    ("First point here. Second point there. " * 15, "repetition loop"),
])
def test_junk_is_dropped_next_to_a_real_answer(junk, kind):
    for texts in ([REAL, junk], [junk, REAL]):
        v = screen(PROMPT, texts)
        i = texts.index(junk)
        assert not v[i].ok and v[i].reason.startswith(kind), v[i]
        assert v[1 - i].ok and v[1 - i].reason is None


@pytest.mark.parametrize("name", sorted(STRUCTURED))
def test_tables_plans_and_choruses_are_not_loops(name):
    """Legitimately repetitive replies (rows that differ in a number, a chorus that comes back)."""
    v = screen(PROMPT, [REAL, STRUCTURED[name]])
    assert all(_ok(v)), v


def test_no_reply_of_the_shipped_corpus_is_dropped(corpus):
    """Every prompt's six real replies pass the text checks (no relevance given): no false loops."""
    import numpy as np

    for pi in range(len(corpus.prompt_ids)):
        rows = np.flatnonzero(corpus.response_prompt == pi)
        v = screen(corpus.prompt_text(corpus.prompt_ids[pi]), [corpus.texts[r] for r in rows])
        assert all(_ok(v)), [x for x in v if not x.ok]


def test_truncated_at_the_limit_with_little_text():
    long = REAL + (" Older eggs peel more easily than fresh ones, so buy them a week ahead. For a soft yolk "
                   "take it out after six minutes, and for a firm one leave it in for ten.")
    v = screen(PROMPT, [long, "Boil", long], ["stop", "length", "stop"])
    assert _ok(v) == [True, False, True] and "token limit" in v[1].reason
    # a long reply cut at the limit is an ordinary answer, and a short one that stopped by itself too
    assert all(_ok(screen(PROMPT, [long, long, "Boil it."], ["length", "stop", "stop"])))


def test_relevance_floor_is_relative_to_the_best_sibling():
    v = screen(PROMPT, [REAL, "Paris is the capital of France.", "Boil it."], relevance=[0.62, 0.08, 0.40])
    assert _ok(v) == [True, False, True] and v[1].reason.startswith("off-topic")
    assert "best sibling's 0.62" in v[1].reason
    # the reason names the best sibling even for a reply with no relevance at all, or beside an empty one
    v = screen(PROMPT, ["   ", "OK.", REAL], relevance=[float("nan"), -0.0, 0.60])
    assert _ok(v) == [False, False, True] and v[1].reason == (
        "off-topic: relevance -0.00, under half the best sibling's 0.60")
    # all weakly related: nothing is far below the best, so nothing goes
    assert all(_ok(screen(PROMPT, ["a b", "c d"], relevance=[0.10, 0.06])))
    # a NaN relevance is not a pass
    assert _ok(screen(PROMPT, [REAL, "x y"], relevance=[0.6, float("nan")])) == [True, False]


def test_never_drops_everything_and_keeps_the_least_bad():
    v = screen(PROMPT, ["   ", "!!!", LOOP, "\x00"])
    assert _ok(v) == [False, False, True, False]
    assert "every candidate failed" in v[2].reason and "loop" in v[2].reason
    v = screen(PROMPT, ["", "\x00"])
    assert _ok(v) == [True, False]  # equally bad: the first
    assert screen(PROMPT, []) == []


def test_lengths_must_match():
    with pytest.raises(ValueError):
        screen(PROMPT, ["a"], relevance=[0.1, 0.2])
    with pytest.raises(ValueError):
        screen(PROMPT, ["a"], finish_reasons=[])
