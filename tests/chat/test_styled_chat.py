"""Candidate strategies in chat and ask, with the REAL llama.cpp backend on the tiny random GGUF and
the real scorer of the shipped basis: the `candidates` setting, styled candidates generated with
their instructions (kept in history), the alternatives view showing instructions, scores, guard
drops and why #1 won, and `ask --all` printing the same."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from prefchat.chat.history import History
from prefchat.config import Config, load_config
from prefchat.errors import PrefchatError
from prefchat.tui.chat_app import ChatApp
from prefchat.tui.chat_screens import AlternativesScreen

from tests.tui.screens import screen_text, sync

from .test_ask_models_doctor import run
from tests.tui.screens import ready, send

from .test_chat_app import factory

EXAMPLE = Path(__file__).resolve().parents[2] / "profiles" / "concise-formal.json"


def example_profile(name="me"):
    """The shipped concise-formal example (clear leanings, so its card is not empty), as 'me'."""
    from prefchat.profiles.exchange import read_profile_file
    from prefchat.profiles.store import ProfileStore

    prof = dataclasses.replace(read_profile_file(EXAMPLE), name=name)
    ProfileStore().save(prof)
    ProfileStore().set_default(name)
    return prof


def cfg_for(model, **kw):
    kw.setdefault("n", 3)
    kw.setdefault("max_tokens", 16)
    return Config(backend="llama", model=str(model), **kw)


class Recording:
    """The real backend; keeps each request and can overwrite candidate texts (to feed the guard
    a degenerate candidate a real model would only produce by chance)."""

    def __init__(self, inner, replace=None):
        self.inner, self.replace, self.requests = inner, replace or {}, []

    def load(self, progress=None):
        self.inner.load(progress)

    def describe(self):
        return self.inner.describe()

    def generate(self, req, on_delta, cancel):
        self.requests.append(req)
        out = self.inner.generate(req, on_delta, cancel)
        for i, text in self.replace.items():
            out[i] = dataclasses.replace(out[i], text=text)
        return out


# --- the setting ----------------------------------------------------------------------------------

def test_candidates_key_is_validated(home, tmp_path):
    p = tmp_path / "config.toml"
    p.write_text('n = 2\ncandidates = "fancy"\n')
    with pytest.raises(PrefchatError, match=r"config.toml, line 2: 'candidates' must be one of "
                                            r"auto, plain, card, styled"):  # (and any newer)
        load_config(p)
    p.write_text('candidates = "styled"\n')
    assert load_config(p).candidates == "styled"
    assert Config().candidates == "auto"
    r = run("ask", "hi", "--candidates", "nope", "--model", "x.gguf")
    assert r.returncode != 0 and "--candidates: 'candidates' must be one of" in r.stderr
    assert "Traceback" not in r.stderr


def test_strategy_default_with_and_without_profile(home, tiny_gguf, basis, scorer):
    from prefchat.chat.factory import make_session
    from prefchat.generation.strategies import DEFAULT_STRATEGY

    s = make_session(cfg_for(tiny_gguf), None, scorer=scorer)
    assert (s.strategy, s.strategy_note) == ("plain", "plain candidates (no profile)")
    s = make_session(cfg_for(tiny_gguf, candidates="styled"), None, scorer=scorer)
    assert s.strategy == "plain" and "'styled' needs a profile" in s.strategy_note
    s.add_user("hi")
    assert s.request().instructions is None
    example_profile()
    s = make_session(cfg_for(tiny_gguf), None, scorer=scorer)
    assert (s.strategy, s.strategy_note) == (DEFAULT_STRATEGY, None)
    s = make_session(cfg_for(tiny_gguf, candidates="plain"), None, scorer=scorer)
    s.add_user("hi")
    assert s.strategy == "plain" and s.request().instructions is None


# --- the chat -------------------------------------------------------------------------------------

@sync
async def test_styled_candidates_alternatives_show_instructions_and_why(home, tiny_gguf, basis,
                                                                        scorer):
    from prefchat.generation.card import style_card

    prof = example_profile()
    card = style_card(prof, basis).text
    assert card
    rec = []
    app = ChatApp(factory(cfg_for(tiny_gguf, candidates="styled"), scorer,
                          wrap=lambda b: rec.append(Recording(b)) or rec[-1]))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        assert "N=3 styled" in screen_text(app)
        await send(app, pilot, *"tea?")
        [req] = rec[0].requests
        # candidate 1 gets the card; the others an instruction from a posterior draw
        assert req.instructions[0] == card and len(req.instructions) == 3
        reply = app.session.messages[-1]
        assert reply.meta["strategy"] == "styled", app.last_error
        assert {c["index"]: c["instruction"] for c in reply.candidates} == dict(
            enumerate(req.instructions))
        # "why #1" compares the winner with the best other candidate the guard kept; the tiny random
        # model's gibberish is sometimes all dropped but one, and then there is no runner-up to name
        kept = {c["text"] for c in reply.candidates if not c.get("dropped")}
        why = reply.meta.get("why")
        assert (bool(why) and "than candidate" in why) if len(kept) >= 2 else why is None, reply.candidates
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, AlternativesScreen)
        text = screen_text(app)
        assert "3 candidates, best first · styled candidates" in text
        assert ("Why #1: " + why in text) if why else "Why #1" not in text
        options = app.screen.query_one("#alternatives").options
        for c, opt in zip(reply.candidates, options):
            shown = str(opt.prompt)
            assert f"score {c['score']:+.3f}" in shown
            assert f"instruction: {c['instruction'] or '(none)'}" in shown
        # picking an alternative still teaches lambda
        second = reply.candidates[1]
        await pilot.press("2")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert reply.chosen == second["index"]
        assert app.last_choice is not None and app.last_choice.learned
    saved = History().get(app.session.conv_id).messages[1]
    assert [c.get("instruction") for c in saved.candidates] == [
        c["instruction"] for c in reply.candidates]
    assert saved.meta.get("why") == reply.meta.get("why")
    assert len(json.loads((home / "profiles" / "me.json").read_text())["answers"]) == len(
        prof.answers) + 1


@sync
async def test_guard_dropped_candidate_is_marked_with_its_reason(home, tiny_gguf, basis, scorer):
    example_profile()
    app = ChatApp(factory(cfg_for(tiny_gguf, candidates="card"), scorer,
                          wrap=lambda b: Recording(b, replace={1: "   "})))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await send(app, pilot, *"tea?")
        reply = app.session.messages[-1]
        # (the tiny random model's own text is junk the guard may drop too; "   " always is)
        blank = next(c for c in reply.candidates if c["index"] == 1)
        assert blank.get("dropped"), reply.candidates
        assert reply.chosen != 1 and not next(
            c for c in reply.candidates if c["index"] == reply.chosen).get("dropped")
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert f"dropped by the guard: {blank['dropped']}" in screen_text(app)


@sync
async def test_no_profile_uses_plain_and_says_so(home, tiny_gguf, basis, scorer):
    rec = []
    app = ChatApp(factory(cfg_for(tiny_gguf, n=2), scorer,
                          wrap=lambda b: rec.append(Recording(b)) or rec[-1]))
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(app, pilot)
        assert "ready · plain candidates (no profile)" in screen_text(app)
        await send(app, pilot, *"hi")
        assert rec[0].requests[0].instructions is None
        assert all("instruction" not in c for c in app.session.messages[-1].candidates)


# --- ask --------------------------------------------------------------------------------------------

def test_ask_all_prints_instructions_scores_and_why(home, tiny_gguf, basis):
    from prefchat.generation.card import style_card

    prof = example_profile()
    r = run("ask", "Tell me about tea", "-n", "3", "--candidates", "styled", "--all", "--backend",
            "llama", "--model", str(tiny_gguf), "--max-tokens", "16", "--seed", "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("=== #") == 3 and r.stdout.count("score ") == 3
    lines = r.stdout.splitlines()
    instr = [ln for ln in lines if ln.startswith("instruction: ")]
    assert len(instr) == 3 and f"instruction: {style_card(prof, basis).text}" in instr
    assert any(ln.startswith("--- why #1: ") and "than candidate" in ln for ln in lines)
    assert "3 styled candidates" in r.stderr
    # the random model's text is full of control bytes: none may reach the terminal
    import unicodedata

    assert not [c for c in r.stdout if c not in "\n\t" and unicodedata.category(c) == "Cc"]


def test_ask_prints_model_text_through_textsafe():
    from prefchat.textsafe import clean as printable  # what `ask` prints model text through

    # \x9b is the one-byte CSI: "\x9bd" is a whole sequence (VPA), so its "d" goes too
    assert printable("a\x1b[2J\x1b]0;pwned\x07b\x00c\x9bd\te\nf\x1bMg") == "abc\te\nfg"
