"""The chat TUI through Pilot on the fast tier: a scripted backend and the statistics scorer
(tests/fakes.py says what is fake and why). The real llama.cpp + MiniLM tests are test_chat_app.py.

These cover the app's own logic: which candidate is shown, what is saved, what happens on errors,
and the concurrency rules (no alternatives while generating, results handed to the UI thread,
screens talk to the app by message)."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from prefchat.chat.history import History, Message
from prefchat.config import Config
from prefchat.llm.base import BackendTimeout
from prefchat.tui.chat_app import ChatApp
from prefchat.tui.chat_screens import AlternativesScreen, HistoryScreen
from prefchat.tui.chat_widgets import Notice, ReplyBubble

from tests.fakes import ScriptedBackend, StatsScorer
from tests.tui.screens import ready, screen_text, send, sync

from .conftest import make_profile

LONG = "Absolutely! Here is a long and lively answer with plenty of words, and it keeps going for a while!"
SHORT = "No."


@pytest.fixture
def scorer(basis):
    return StatsScorer(basis.dims)


def factory(backend, scorer, **cfg):
    cfg.setdefault("n", 2)

    def build():
        from prefchat.chat.factory import load_profile_and_basis
        from prefchat.chat.session import ChatSession
        from prefchat.rerank import Reranker

        prof, basis = load_profile_and_basis(None)
        return ChatSession(Config(backend="llama", model="scripted", **cfg), backend,
                           Reranker(basis, prof, scorer=scorer), History())
    return build


def lam_preferring(scorer, good: str, bad: str, dims: int) -> np.ndarray:
    d = scorer.phi([good])[0] - scorer.phi([bad])[0]
    assert d.shape == (dims,)
    return d / np.linalg.norm(d)


class ThreadCheckingApp(ChatApp):
    """Records which thread writes last_choice (Textual widgets and app state belong to the UI thread)."""

    @property
    def last_choice(self):
        return self.__dict__.get("_last_choice")

    @last_choice.setter
    def last_choice(self, value) -> None:
        self.__dict__.setdefault("choice_writers", []).append(threading.get_ident())
        self.__dict__["_last_choice"] = value


@sync
async def test_the_profile_picks_the_shown_reply_and_history_keeps_it(home, basis, scorer):
    make_profile(basis, lam=lam_preferring(scorer, SHORT, LONG, basis.dims))
    backend = ScriptedBackend().enqueue([LONG, SHORT])
    app = ChatApp(factory(backend, scorer))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        await send(app, pilot, *"hi")
        reply = app.session.messages[-1]
        assert reply.content == SHORT and reply.chosen == 1  # the profile's pick, not the first draft
        assert [c["text"] for c in reply.candidates] == [SHORT, LONG]  # best first
        assert backend.requests[0].n == 2 and backend.requests[0].messages[-1]["content"] == "hi"
        assert app.log_view.query(ReplyBubble).last().message is reply
    assert [m.content for m in History().get(app.session.conv_id).messages] == ["hi", SHORT]


@sync
async def test_a_backend_error_keeps_the_prompt_and_enter_retries(home, basis, scorer):
    make_profile(basis)
    backend = ScriptedBackend().enqueue_error(BackendTimeout("no answer within 60 s")).enqueue(["fine"])
    app = ChatApp(factory(backend, scorer))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        await send(app, pilot, *"ask")
        assert app.last_error.startswith("no answer within 60 s") and "\n" not in app.last_error
        assert app.input.text == "ask"
        assert app.session.messages == [] and app.log_view.query(Notice).filter(".error")
        await send(app, pilot)  # Enter again retries the same prompt
        assert [m.content for m in app.session.messages] == ["ask", "fine"] and app.input.text == ""


@sync
async def test_no_alternatives_while_generating_then_escape_cancels(home, basis, scorer):
    make_profile(basis)
    backend = ScriptedBackend().enqueue([LONG, SHORT]).enqueue([" ".join(["word"] * 400)] * 2, delay=0.01)
    app = ChatApp(factory(backend, scorer))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        await send(app, pilot, *"first")  # a reply with alternatives exists
        turn = backend.turns[0]
        await pilot.press(*"go", "enter")
        deadline = time.monotonic() + 20
        while turn.chunks < 5 and time.monotonic() < deadline:
            await pilot.pause(0.02)
        assert app.generating
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert not isinstance(app.screen, AlternativesScreen)  # refused while the drafts stream
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not app.generating and app.input.text == "go"
        assert [m.content for m in app.session.messages] == ["first", app.session.messages[1].content]
        await pilot.press("ctrl+o")  # allowed again once nothing is generating
        await pilot.pause()
        assert isinstance(app.screen, AlternativesScreen)


@sync
async def test_picking_an_alternative_learns_on_the_ui_thread(home, basis, scorer):
    prof = make_profile(basis, lam=lam_preferring(scorer, LONG, SHORT, basis.dims))
    backend = ScriptedBackend().enqueue([LONG, SHORT])
    app = ThreadCheckingApp(factory(backend, scorer))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        ui_thread = threading.get_ident()
        await send(app, pilot, *"why")
        reply = app.session.messages[-1]
        assert reply.content == LONG
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, AlternativesScreen)
        await pilot.press("2")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert reply.content == SHORT and app.last_choice is not None and app.last_choice.learned
    assert len(app.choice_writers) == 2 and set(app.choice_writers) == {ui_thread}  # init, then the pick
    saved = json.loads((home / "profiles" / "me.json").read_text())
    assert [(a["a"], a["b"], a["choice"]) for a in saved["answers"]] == [(SHORT, LONG, "a")]
    assert not np.allclose(saved["lambda"], prof.lam)


@sync
async def test_learning_can_be_switched_off(home, basis, scorer):
    prof = make_profile(basis)
    app = ChatApp(factory(ScriptedBackend().enqueue([LONG, SHORT]), scorer, learn_from_choices=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        await send(app, pilot, *"hm")
        await pilot.press("ctrl+o", "2")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.session.messages[-1].chosen == app.session.messages[-1].candidates[1]["index"]
    saved = json.loads((home / "profiles" / "me.json").read_text())
    assert saved["answers"] == [] and saved["lambda"] == prof.lam


@sync
async def test_resume_from_history_screen_and_continue(home, basis, scorer):
    make_profile(basis)
    h = History()
    cid = h.create(title="old chat", system_prompt="Be terse.")
    h.add_message(cid, Message("user", "first question"))
    h.add_message(cid, Message("assistant", "first **answer**", [], None, {}))
    backend = ScriptedBackend().enqueue(["second answer"])
    app = ChatApp(factory(backend, scorer))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen) and "old chat" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "first question" in text and "first answer" in text and "Be terse." in text
        assert app.session.conv_id == cid and app.session.system_prompt == "Be terse."
        await send(app, pilot, *"more")
        assert [m["role"] for m in backend.requests[-1].messages] == ["system", "user", "assistant", "user"]
    assert [m.content for m in History().get(cid).messages] == [
        "first question", "first **answer**", "more", "second answer"]


@sync
async def test_deleting_the_open_conversation_in_history_reaches_the_app_by_message(home, basis, scorer):
    make_profile(basis)
    app = ChatApp(factory(ScriptedBackend().enqueue(["an answer"]), scorer))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot)
        await send(app, pilot, *"q")
        open_id = app.session.conv_id
        assert open_id is not None and app.log_view.query(ReplyBubble)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("d")
        await pilot.pause()
        await pilot.pause()
        assert History().list() == []
        assert app.session.conv_id != open_id and not app.log_view.query(ReplyBubble)
