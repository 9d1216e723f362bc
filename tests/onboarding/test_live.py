"""`prefchat onboard --live` with real parts: the tiny random-weight GGUF through the real llama.cpp
backend (and a real llama-cpp-python server for the server-down case), the shipped basis and its
MiniLM scorer, the shipped corpus and pool, and real profile files.

The only stand-in is `Scripted` (test_guard_rejects_degenerate_replies_and_generates_again_once): a
random-weight model cannot be made to write an empty reply on demand, so a backend that plays back
given replies checks the retry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from prefchat.llm import make_backend
from prefchat.llm.base import Backend, Candidate
from prefchat.onboarding.live import (LIVE_PER_SIDE, LiveDriver, LiveFailed, LiveQuestions, furthest_along,
                                      instructions_for, suggestion, usable_pairs)


def llama(path):
    return make_backend("llama", str(path), n_threads=2, n_ctx=1024)


def session(**kw):
    from prefchat.onboarding.quiz import open_session

    kw.setdefault("seed", 0)
    return open_session(profile="live", **kw)


def saved(home, name="live"):
    return json.loads((home / "profiles" / f"{name}.json").read_text(encoding="utf-8"))


def until_a_pair_passes(make, tries=10):
    """A random-weight model writes byte gibberish, which the guard's relevance floor often rejects
    (twice in a row: LiveFailed). These tests are about what happens to a pair that passes, so they
    ask again with the next seeds; the guard's own behaviour is tested with `Scripted` below."""
    for _ in range(tries):
        try:
            pair = make()
        except LiveFailed:
            continue
        if pair is not None:
            return pair
    pytest.fail(f"no live pair passed the guard in {tries} tries")


class Recording(Backend):
    """Passes every request through to a real backend and keeps what was asked and answered."""

    name = "recording"

    def __init__(self, inner):
        super().__init__()
        self.inner, self.calls, self.requests = inner, [], []

    def _load(self, progress):
        self.inner.load(progress)

    def _generate(self, request, on_delta, cancel):
        out = self.inner.generate(request, on_delta, cancel)
        self.requests.append(request)
        # (the last turn candidate i saw: its instruction, what it wrote)
        self.calls += [(request.messages_for(i)[-1]["content"], c.text) for i, c in enumerate(out)]
        return out


def test_a_live_pair_is_two_instructions_scored_by_the_basis(home, tiny_gguf, basis, scorer):
    s = session()
    for ch in "ab":  # a couple of pool answers first, as the quiz does while the model loads
        s.answer(ch)
    rec = Recording(llama(tiny_gguf))
    lq = LiveQuestions(rec, basis, scorer=scorer, max_tokens=48, seed=1)
    nu, plus, minus = instructions_for(s.elicitor.precision, basis)
    pair = until_a_pair_passes(lambda: lq.make("How do I keep basil fresh?", s.elicitor.precision))
    # the two replies shown were written under the two instructions for opposite ends of nu, the
    # posterior's most uncertain direction, each as the last (system) turn of its candidate, every
    # candidate in one request (so llama.cpp decodes the prompt once and the replies in one batch)
    assert plus != minus
    n = rec.requests[-1].n
    assert n == 2 * LIVE_PER_SIDE and rec.requests[-1].instructions == [plus, minus] * LIVE_PER_SIDE
    written = dict((text, instr) for instr, text in rec.calls[-n:])
    assert (written[pair.a], written[pair.b]) == pair.instructions
    assert set(pair.instructions) == {plus, minus}
    cov = np.linalg.inv(s.elicitor.precision)
    assert nu @ cov @ nu == pytest.approx(np.linalg.eigvalsh(cov).max())
    # phi comes from the scorer: the real phi(x, A) - phi(x, B) of the texts shown
    want = scorer.pair_diffs([pair.prompt], [pair.a], [pair.b])[0]
    np.testing.assert_allclose(pair.diff, want, atol=1e-5)
    assert pair.a != pair.b and pair.a.strip() and pair.b.strip()

    # the answer updates lambda exactly like a pool answer with that difference
    before = s.elicitor.lam.copy()
    s.offer_live(pair)
    q = s.current()
    assert q.live is pair and (q.prompt, q.a, q.b) == (pair.prompt, pair.a, pair.b)
    s.answer("a")
    from prefchat.reward.elicit import fit_lambda

    mean, prec = basis.prior
    v = np.vstack([s.pool.diffs[s.elicitor.asked] * np.where(s.flips[:2], -1, 1)[:, None], pair.diff])
    y = np.array([1.0, 0.0, 1.0])  # shown A, shown B, live A
    lam, _ = fit_lambda(v, y, beta=prec, prior_mean=mean)
    np.testing.assert_allclose(s.elicitor.lam, lam, atol=1e-8)
    assert not np.allclose(s.elicitor.lam, before)

    # saved with its texts, and refitting the saved profile from those texts gives the same lambda
    d = saved(home)
    assert [a["prompt"] for a in d["answers"]][-1] == pair.prompt
    assert (d["answers"][-1]["a"], d["answers"][-1]["b"], d["answers"][-1]["choice"]) == (pair.a, pair.b, "a")
    from prefchat.profiles.refit import refit
    from prefchat.profiles.store import ProfileStore

    again = refit(ProfileStore().load("live"), basis, scorer.pair_diffs)
    # within the CPU scorer's bf16 rounding: the quiz's pool answers used the shipped pool's fp32 phi
    np.testing.assert_allclose(again.lam, s.elicitor.lam, atol=1e-2)

    # resuming the quiz reads the live answer back through the scorer
    r = session(pair_diffs_fn=scorer.pair_diffs, seed=99)
    assert r.answered == 3
    np.testing.assert_allclose(r.elicitor.lam, s.elicitor.lam, atol=1e-4)
    from prefchat.errors import PrefchatError

    with pytest.raises(PrefchatError, match="--live"):  # without a scorer: the fix, not a traceback
        session()

    # undo re-asks the same live pair
    assert r.undo() and r.current().live is not None and r.current().a == pair.a


class Scripted(Backend):
    """Plays back given replies (see the module doc for why this one test needs it)."""

    name = "scripted"

    def __init__(self, replies):
        super().__init__()
        self.replies = list(replies)
        self.requests = []

    def _load(self, progress):
        pass

    def _generate(self, request, on_delta, cancel):
        self.requests.append(request)
        return [Candidate(self.replies.pop(0), 5, 0.01, "stop") for _ in range(request.n)]


GOOD = ("Keep basil stems in a glass of water on the counter, loosely covered, and change the water "
        "every day; the fridge blackens the leaves.")
OTHER = ("Honestly? Keep your fresh basil like cut flowers: stems in a glass of water, out of the fridge. "
         "Fresh basil stays green for a week that way!")


def test_guard_rejects_degenerate_replies_and_generates_again_once(home, basis, scorer):
    s = session()
    # replies alternate +nu, -nu; the first attempt has no usable +nu reply (one empty, one with no words)
    be = Scripted(["", GOOD, "!!! ???", GOOD,
                   GOOD, OTHER, GOOD, OTHER])
    pair = LiveQuestions(be, basis, scorer=scorer, seed=0, per_side=2).make("How do I keep basil fresh?",
                                                                           s.elicitor.precision)
    assert pair.attempts == 2 and {pair.a, pair.b} == {GOOD, OTHER}
    # each attempt is one request for every reply; each candidate sees the user's prompt, then its
    # own instruction last, as a short system turn
    assert len(be.requests) == 2 and all(r.n == 4 for r in be.requests)
    for r in be.requests:
        turns = [r.messages_for(i) for i in range(4)]
        assert all(t[0]["content"] == "How do I keep basil fresh?" and t[-1]["role"] == "system" for t in turns)
        assert {t[-1]["content"] for t in turns} == set(pair.instructions)
    # one good reply per side is enough: no second generation
    one = Scripted(["", GOOD, OTHER, ""])
    p1 = LiveQuestions(one, basis, scorer=scorer, per_side=2).make("How do I keep basil fresh?", s.elicitor.precision)
    assert p1.attempts == 1 and len(one.requests) == 1 and {p1.a, p1.b} == {GOOD, OTHER}
    with pytest.raises(LiveFailed, match="twice"):  # degenerate twice: no pair (the quiz asks the pool)
        LiveQuestions(Scripted(["", GOOD, "!!!", GOOD]), basis, scorer=scorer, per_side=1).make(
            "basil?", s.elicitor.precision)
    with pytest.raises(LiveFailed, match="twice"):  # the same text on both sides is no pair either
        LiveQuestions(Scripted([GOOD] * 8), basis, scorer=scorer, per_side=2).make(
            "How do I keep basil fresh?", s.elicitor.precision)
    d = LiveDriver(LiveQuestions(Scripted(["x x x"] * 4 + [""] * 4), basis, scorer=scorer, per_side=2))
    d.load()
    assert d.make(s, "basil?") is None and "twice" in d.note and d.state == "ready"
    assert s.current().live is None  # the pool question stands


BASIL = [
    "Keep basil stems in a glass of water on the counter, loosely covered with a bag.",
    "Dear friend, I would respectfully suggest that basil be kept in water at room temperature.",
    "lol just stick it in a cup of water, basil hates the fridge!! works every time :)",
    "Basil keeps for about a week with its stems in water at room temperature, away from the fridge.",
]


def test_the_pair_shown_is_the_furthest_apart_along_nu(home, basis, scorer):
    s = session()
    nu, plus, minus = instructions_for(s.elicitor.precision, basis)
    prompt = "How do I keep basil fresh?"
    phi = np.asarray(scorer.phi(BASIL, [prompt] * 4), dtype=np.float64)
    from itertools import permutations

    from prefchat.generation.guard import screen
    from prefchat.rerank import phi_and_relevance

    _, rel = phi_and_relevance(scorer, prompt, BASIL)
    assert all(v.ok and not v.reason for v in screen(prompt, BASIL, None, None if rel is None else list(rel)))

    def furthest(texts):  # even slots were written for +nu, odd for -nu
        f = dict(zip(BASIL, phi @ nu))
        return max(((i, j) for i in (0, 2) for j in (1, 3)), key=lambda ij: f[texts[ij[0]]] - f[texts[ij[1]]])

    # an order in which the first usable pair, (0, 1), is not the answer
    texts = next(list(t) for t in permutations(BASIL) if furthest(t) != (0, 1))
    best = furthest(texts)
    pair = LiveQuestions(Scripted(texts), basis, scorer=scorer, seed=3, per_side=2).make(prompt, s.elicitor.precision)
    assert {pair.a, pair.b} == {texts[best[0]], texts[best[1]]}
    # the +nu reply is the one that was written for +nu, whichever side it is shown on
    plus_text = texts[best[0]]
    assert pair.instructions == ((plus, minus) if pair.a == plus_text else (minus, plus))
    # and the difference stored is the scorer's, in display order
    np.testing.assert_allclose(pair.diff, scorer.pair_diffs([prompt], [pair.a], [pair.b])[0], atol=1e-5)


def test_each_pair_is_screened_on_its_own():
    nu = np.array([1.0, 0.0])
    phi = np.array([[5.0, 0], [-5.0, 0], [1.0, 0], [-1.0, 0]])
    words = ["Keep the stems in water.", "Wrap them in a damp towel.", "Store them in a jar of water.",
             "Freeze them in oil."]
    pairs, why = usable_pairs("herbs?", words, ["stop"] * 4, None)
    assert pairs == [(0, 1), (0, 3), (2, 1), (2, 3)] and why == ""
    assert furthest_along(nu, phi, pairs) == (0, 1)
    # an empty +nu reply takes out only its own pairs
    pairs, why = usable_pairs("herbs?", [""] + words[1:], ["stop"] * 4, None)
    assert pairs == [(2, 1), (2, 3)] and "empty" in why
    assert furthest_along(nu, phi, pairs) == (2, 1)
    # the relevance floor is relative to the better reply of each pair, not of all four: reply 1's
    # relevance 0.2 is too low next to reply 0 (1.0) but fine next to reply 2 (0.25)
    pairs, _ = usable_pairs("herbs?", words, ["stop"] * 4, [1.0, 0.2, 0.25, 0.9])
    assert (0, 1) not in pairs and (2, 1) in pairs and (0, 3) in pairs
    assert usable_pairs("herbs?", ["same"] * 4, ["stop"] * 4, None) == ([], "both replies are the same")


def start_server(model, port):
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
                             "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--n_threads", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail("llama_cpp.server exited")
        try:
            with urllib.request.urlopen(base + "/models", timeout=1):
                return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("llama_cpp.server did not start")


def test_server_down_mid_quiz_falls_back_to_the_pool_and_keeps_every_answer(home, tiny_gguf, basis, scorer):
    from tests.llm.conftest import free_port

    proc, base = start_server(tiny_gguf, free_port())
    try:
        backend = make_backend("openai", "tiny", base_url=base, timeout=20.0)
        driver = LiveDriver(LiveQuestions(backend, basis, scorer=scorer, max_tokens=32, seed=3))
        s = session()
        s.answer("a")
        driver.load()
        assert driver.state == "ready" and driver.due(s)
        until_a_pair_passes(lambda: driver.make(s, suggestion(0)))
        assert s.current().live is not None
        s.answer("b")                           # a live answer, saved
        s.answer("a")                           # a pool answer
    finally:
        proc.terminate()
        proc.wait(10)
    assert driver.due(s)
    assert driver.make(s, "And now?") is None   # the server is gone
    assert driver.state == "off" and driver.note.startswith("Live questions are off:")
    assert "\n" not in driver.note and not driver.due(s)
    q = s.current()
    assert q is not None and q.live is None     # the quiz goes on with the pool
    s.answer("tie")
    d = saved(home)
    assert [a["choice"] for a in d["answers"]] == ["a", "b", "a", "tie"]
    assert d["answers"][1]["prompt"] == suggestion(0)


def run_cli(home, args, stdin, extra_env=None):
    e = dict(os.environ, PREFCHAT_HOME=str(home), NO_COLOR="1", COLUMNS="100")
    e.pop("PREFCHAT_BASIS", None)
    e.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "prefchat", *args], input=stdin, capture_output=True,
                          text=True, env=e, timeout=300)


def test_plain_live_asks_for_prompts_and_saves_live_answers(home, tiny_gguf, tmp_path):
    env = {"PREFCHAT_BACKEND": "llama", "PREFCHAT_MODEL": str(tiny_gguf),
           "PREFCHAT_CONFIG": str(tmp_path / "config.toml")}
    # piped input: the model loads first, then live and pool questions alternate.
    # live #1 (own prompt) -> a; pool -> b; live #2 ("p": a pool question instead) -> a;
    # live #3 (Enter: the suggestion) -> n; then end of input at the next (pool) question.
    # (--seed makes the generation seeds reproducible; the random-weight model's replies pass the
    # guard with seed 1.)
    stdin = "What is a good name for a cat?\na\nb\np\na\n\nn\n"
    p = run_cli(home, ["onboard", "--plain", "--live", "--seed", "1", "--questions", "8"], stdin, env)
    assert p.returncode == 1, p.stderr[-2000:]  # stopped before question 8: progress kept
    assert "Traceback" not in p.stderr
    out = p.stdout
    assert out.count("Type a prompt you care about") == 3
    assert out.count("Live question: both replies were written by your model") == 2
    d = saved(home, "me")
    assert [a["choice"] for a in d["answers"]] == ["a", "b", "a", "tie"]
    assert d["answers"][0]["prompt"] == "What is a good name for a cat?"
    assert d["answers"][3]["prompt"] == suggestion(1)
    assert d["answers"][1]["prompt"] != d["answers"][2]["prompt"]  # pool questions in between
    assert "Stopped at question 5 of 8" in out
    assert "min left" in out


def test_plain_live_without_a_model_says_so_in_one_line_and_uses_the_pool(home, tmp_path):
    p = run_cli(home, ["onboard", "--plain", "--live", "--questions", "2"], "a\nb\n",
                {"PREFCHAT_CONFIG": str(tmp_path / "config.toml")})
    assert p.returncode == 0, p.stderr[-2000:]
    notes = [ln for ln in p.stdout.splitlines() if ln.startswith("Live questions are off:")]
    assert len(notes) == 1 and "no model configured" in notes[0]
    assert "Type a prompt" not in p.stdout
    assert len(saved(home, "me")["answers"]) == 2
