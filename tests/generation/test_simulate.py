"""`eval --generation`: the simulated instruction-following generator, and the simulation on a small
corpus file the basis never saw. The simulation must show (a) a gain from instructing the candidates,
which vanishes when the model ignores instructions, and (b) a gain from reranking N plain samples,
which a random pick would not give."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import product

import numpy as np
import pytest

from prefchat.data.corpus import TRAITS
from prefchat.generation.card import Leaning, instruction
from prefchat.generation.simulate import (
    follow_probability,
    parse_instruction,
    run_generation,
    simulated_reply,
)

from .conftest import ROOT

#              length formality humour elicitation politeness enthusiasm confidence
LABELS = np.array([[-1, 1, 0, 0, 0, 0, 0],    # 0: concise, formal
                   [-1, -1, 0, 0, 0, 0, 0],   # 1: concise, casual
                   [1, 1, 0, 0, 0, 0, 0],     # 2: verbose, formal
                   [1, -1, 0, 0, 0, 0, 1],    # 3: verbose, casual, confident
                   [0, 0, 0, 0, 0, 0, 0]])    # 4: unmarked
ROWS = np.arange(5)


def test_instructions_read_back_exactly():
    for t, s in product(TRAITS, (1, -1)):
        assert parse_instruction(instruction([Leaning(t, s, 2.0)])) == [(TRAITS.index(t), s)]
    text = instruction([Leaning("length", -1, 3), Leaning("formality", 1, 2), Leaning("confidence", 1, 1)])
    assert parse_instruction(text) == [(0, -1), (1, 1), (6, 1)]
    assert parse_instruction(None) == [] and parse_instruction("Be nice.") == []


def test_generator_follows_with_probability_p_and_breaks_ties_at_random():
    rng = np.random.default_rng(0)
    draws = [simulated_reply(ROWS, LABELS, "Answer concisely and formally.", 1.0, rng) for _ in range(200)]
    assert set(draws) == {0}
    draws = [simulated_reply(ROWS, LABELS, "Answer concisely.", 1.0, rng) for _ in range(400)]
    assert set(draws) == {0, 1} and 150 < draws.count(0) < 250  # a tie, broken at random
    draws = [simulated_reply(ROWS, LABELS, "Answer concisely and formally.", 0.7, rng) for _ in range(4000)]
    # followed 70 % of the time, and a random reply (1 in 5 of them row 0) otherwise
    assert abs(draws.count(0) / 4000 - (0.7 + 0.3 / 5)) < 0.03
    plain = [simulated_reply(ROWS, LABELS, None, 1.0, rng) for _ in range(4000)]
    assert all(abs(plain.count(r) / 4000 - 0.2) < 0.03 for r in ROWS)


def test_more_than_two_traits_are_followed_less_often():
    assert follow_probability(0.7, 1) == follow_probability(0.7, 2) == 0.7
    assert follow_probability(0.7, 3) == pytest.approx(0.56) and follow_probability(0.7, 4) == pytest.approx(0.448)
    rng = np.random.default_rng(1)
    three = "Answer in detail and casually; be confident."
    hits = sum(simulated_reply(ROWS, LABELS, three, 1.0, rng) == 3 for _ in range(4000)) / 4000
    assert abs(hits - (0.8 + 0.2 / 5)) < 0.03


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory, corpus):
    """Eight held-out prompts of the shipped corpus in a file of their own: to the simulation it is
    a corpus the basis never saw (every user and prompt is new; the quiz uses the basis pool)."""
    from prefchat.data.splits import load_split

    keep = set(load_split(corpus).heldout_prompts[:8])
    lines = [line for line in corpus.path.read_text().splitlines()
             if line.strip() and json.loads(line)["id"] in keep]
    path = tmp_path_factory.mktemp("corpus") / "small.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_instructions_and_reranking_both_pay(basis, small_corpus):
    out = run_generation(basis, small_corpus, p=0.7, answers=10, ns=(1, 4),
                         strategies=("plain", "focused"), draws=2)
    g = out["generation"]
    assert out["users"] == 84 and out["prompts"] == 8
    assert abs(g["plain"]["1"] - 0.5) < 0.04          # a plain reply against a plain reply
    assert g["plain"]["4"] - g["plain"]["1"] > 0.08    # reranking 4 plain samples by lambda . phi pays
    assert g["focused"]["4"] - g["plain"]["4"] > 0.08  # instructing the candidates pays on top
    assert out["ceiling"] >= max(v for s in g.values() for v in s.values())
    # a model that ignores instructions: the strategies are no better than plain samples
    deaf = run_generation(basis, small_corpus, p=0.0, answers=10, ns=(4,), strategies=("plain", "focused"),
                          draws=2)["generation"]
    assert abs(deaf["focused"]["4"] - deaf["plain"]["4"]) < 0.04


def test_cli_json_shape(small_corpus, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PREFCHAT_HOME=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "prefchat", "eval", "--generation", "--corpus", str(small_corpus),
                        "--json", "--draws", "1", "--answers", "5", "--p", "0.6"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert list(out) == ["generation", "default", "ceiling", "p", "answers", "users"]
    assert {"plain", "card", "styled"} <= set(out["generation"]) and out["default"] in out["generation"]
    assert all(list(v) == ["1", "2", "4", "8"] for v in out["generation"].values())
    assert out["p"] == 0.6 and out["answers"] == 5 and out["users"] == 84 and 0.5 < out["ceiling"] <= 1
    bad = subprocess.run([sys.executable, "-m", "prefchat", "eval", "--generation", "--p", "1.5"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "--p 1.5" in bad.stderr and "Traceback" not in bad.stderr
