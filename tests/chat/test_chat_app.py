"""The chat TUI through Pilot with the REAL llama.cpp backend on the tiny random GGUF and the real
scorer of the shipped basis: send, cancel (prompt comes back), alternatives + pick (lambda changes
and is saved), and backend errors shown without losing the conversation. The app's own logic on a
scripted backend (fast; resume, learning off, concurrency rules) is test_chat_app_fast.py."""

from __future__ import annotations

import dataclasses
import json
import socket
import time

import numpy as np

from prefchat.chat.history import History
from prefchat.config import Config
from prefchat.tui.chat_app import ChatApp
from prefchat.tui.chat_screens import AlternativesScreen
from prefchat.tui.chat_widgets import Notice, ReplyBubble

from tests.fakes import Passthrough
from tests.tui.screens import ready, screen_text, send, sync

from .conftest import make_profile


def cfg_for(model, **kw):
    kw.setdefault("n", 3)
    kw.setdefault("max_tokens", 24)
    return Config(backend="llama", model=str(model), **kw)


def factory(cfg, scorer, profile=None, wrap=None):
    def build():
        from prefchat.chat.factory import make_session

        s = make_session(cfg, profile, scorer=scorer)
        if wrap is not None:
            s.backend = wrap(s.backend)
        return s
    return build


class Slowed(Passthrough):
    """The real backend, made to decode long enough (and a little slower) for a person to press Esc."""

    def generate(self, req, on_delta, cancel):
        req = dataclasses.replace(req, max_tokens=1500, ignore_eos=True)

        def slow(i, text):
            time.sleep(0.005)
            on_delta(i, text)
        return self.inner.generate(req, slow, cancel)


@sync
async def test_send_streams_reply_and_saves_history(home, tiny_gguf, basis, scorer):
    make_profile(basis, lam=np.random.default_rng(0).normal(size=basis.dims))
    app = ChatApp(factory(cfg_for(tiny_gguf), scorer))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        assert "profile 'me'" in screen_text(app) and "ready" in screen_text(app)
        await pilot.press(*"hi", "ctrl+j", *"yo")  # ctrl+j: newline, not send
        assert app.input.text == "hi\nyo"
        await send(app, pilot)
        s = app.session
        assert [m.role for m in s.messages] == ["user", "assistant"], app.last_error
        assert s.messages[0].content == "hi\nyo" and app.input.text == ""
        reply = s.messages[1]
        assert len(reply.candidates) == 3 and reply.chosen == reply.candidates[0]["index"]
        # best first among the candidates the guard kept; any it dropped (the tiny random model
        # writes gibberish) come after them, whatever their score
        kept = [not c.get("dropped") for c in reply.candidates]
        assert kept == sorted(kept, reverse=True) and kept[0]
        scores = [c["score"] for c, k in zip(reply.candidates, kept) if k]
        assert scores == sorted(scores, reverse=True)
        assert reply.meta["tokens_per_s"] > 0
        bubble = app.log_view.query(ReplyBubble).last()
        assert bubble.message is reply
        assert "tok/s" in screen_text(app) and "(best)" in screen_text(app)
    conv = History().get(s.conv_id)
    assert [m.content for m in conv.messages] == [m.content for m in s.messages]


@sync
async def test_escape_cancels_and_puts_prompt_back(home, tiny_gguf, basis, scorer):
    app = ChatApp(factory(cfg_for(tiny_gguf, n=2), scorer, wrap=Slowed))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        await pilot.press(*"tell", "enter")
        deadline = time.monotonic() + 20
        while app._tokens < 10 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert app.generating and app._tokens >= 10
        assert "tok/s" in screen_text(app) and "drafting 2 candidates" in screen_text(app)
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not app.generating
        assert app.input.text == "tell"
        assert app.session.messages == [] and not app.log_view.query(ReplyBubble)
        assert History().list() == []  # the cancelled exchange left no empty conversation


@sync
async def test_alternatives_pick_updates_and_saves_lambda(home, tiny_gguf, basis, scorer):
    prof = make_profile(basis, lam=np.random.default_rng(1).normal(size=basis.dims))
    app = ChatApp(factory(cfg_for(tiny_gguf, n=3), scorer))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        await send(app, pilot, *"why")
        reply = app.session.messages[-1]
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, AlternativesScreen)
        text = screen_text(app)
        assert "3 candidates, best first" in text and "score" in text and "shown" in text
        second = reply.candidates[1]
        await pilot.press("2")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, AlternativesScreen)
        assert reply.chosen == second["index"] and reply.content == second["text"]
        assert app.last_choice is not None and app.last_choice.learned
    saved = json.loads((home / "profiles" / "me.json").read_text())
    assert len(saved["answers"]) == 1
    a = saved["answers"][0]
    assert (a["prompt"], a["a"], a["b"], a["choice"], a["source"]) == (
        "why", second["text"], reply.candidates[0]["text"], "a", "chat")
    assert not np.allclose(saved["lambda"], prof.lam)
    # lambda is the MAP fit over all answers' pair diffs with the basis prior
    from prefchat.reward.elicit import fit_lambda

    mean, prec = basis.prior
    v = scorer.pair_diffs([a["prompt"]], [a["a"]], [a["b"]])
    lam, _ = fit_lambda(v, np.array([1.0]), beta=prec, prior_mean=mean)
    np.testing.assert_allclose(saved["lambda"], lam, rtol=1e-6, atol=1e-9)
    # the history remembers which candidate is shown
    assert History().get(app.session.conv_id).messages[1].chosen == second["index"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@sync
async def test_backend_errors_keep_conversation_and_allow_retry(home, tiny_gguf, tmp_path, basis,
                                                                 scorer):
    from prefchat.llm import make_backend

    app = ChatApp(factory(cfg_for(tiny_gguf, n=2), scorer))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        await send(app, pilot, *"one")
        good = app.session.backend
        # a refused OpenAI-compatible endpoint
        app.session.backend = make_backend("openai", "m", base_url=f"http://127.0.0.1:{closed_port()}/v1",
                                           max_retries=0, timeout=5)
        await send(app, pilot, *"two")
        assert app.last_error and "\n" not in app.last_error
        assert app.input.text == "two"
        assert [m.content for m in app.session.messages][:1] == ["one"]
        assert len(app.session.messages) == 2
        assert app.log_view.query(Notice).filter(".error")
        # a missing model file
        app.session.backend = make_backend("llama", str(tmp_path / "nope.gguf"))
        app.last_error = None
        await send(app, pilot)
        assert "not found" in app.last_error and app.input.text == "two"
        # back to a working model: Enter retries the same prompt
        app.session.backend = good
        await send(app, pilot)
        assert [m.content for m in app.session.messages][::2] == ["one", "two"]
        assert app.input.text == ""
    assert len(History().get(app.session.conv_id).messages) == 4


@sync
async def test_corrupt_model_at_startup_is_a_message_not_a_crash(home, tmp_path, scorer):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x00\x01garbage" * 50)
    app = ChatApp(factory(cfg_for(bad), scorer))
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.startup_error and "bad.gguf" in app.startup_error
        assert "not ready" in screen_text(app)
        await send(app, pilot, *"hello")
        assert app.input.text == "hello" and app.session.messages == []
        assert app.is_running


@sync
async def test_regenerate_copy_system_prompt_and_first_paint(home, tiny_gguf, scorer):
    gate = __import__("threading").Event()

    def slow_factory():
        gate.wait(10)  # the model "loads" slowly: the screen must already be there
        return factory(cfg_for(tiny_gguf, n=2), scorer)()

    app = ChatApp(slow_factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        # painted while the model is still loading (the 1.5 s figure is `prefchat bench chat`)
        assert "preparing" in screen_text(app) and "enter send" in screen_text(app)
        gate.set()
        await ready(app, pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        await pilot.press(*"Be brief.", "enter")
        await pilot.pause()
        assert app.session.system_prompt == "Be brief."
        await send(app, pilot, *"q")
        first = app.session.messages[-1]
        await pilot.press("ctrl+r")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        msgs = app.session.messages
        assert [m.role for m in msgs] == ["user", "assistant"] and msgs[-1] is not first
        assert len(app.log_view.query(ReplyBubble)) == 1
        assert app.session.request().messages[0] == {"role": "system", "content": "Be brief."}
        copied = []
        app.copy_to_clipboard = copied.append
        await pilot.press("ctrl+y")
        from prefchat.textsafe import clean

        assert copied == [clean(msgs[-1].content)]  # what is copied is what is shown
    conv = History().get(app.session.conv_id)
    assert conv.system_prompt == "Be brief." and len(conv.messages) == 2
