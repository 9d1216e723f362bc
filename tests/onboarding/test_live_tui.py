"""The full-screen quiz's live questions through Textual's Pilot: the pair is written while the person
reads the pool question under the prompt box and asked right after it. The tiny GGUF runs the real
llama.cpp path; `Scripted` replies (tests/onboarding/test_live.py) and `GatedDriver` (a driver whose
work starts when the test says) make the timing paths deterministic: a real model cannot be made to
be still writing at an exact keypress."""

from __future__ import annotations

import asyncio
import threading
import time


from prefchat.onboarding.live import LiveDriver, LiveQuestions, instructions_for, suggestion
from prefchat.onboarding.quiz import open_session
from prefchat.tui.onboard_app import DoneScreen, OnboardApp, QuizScreen
from prefchat.tui.onboard_screens import LivePromptScreen, WaitScreen
from tests.onboarding.test_live import GOOD, OTHER, Scripted, llama, saved
from tests.tui.screens import screen_text


async def settle(app, pilot, n=3):
    for _ in range(n):
        await app.workers.wait_for_complete()
        await pilot.pause()


def test_textual_app_live_question_through_pilot(home, tiny_gguf, basis, scorer):
    """The pair is written while the person reads the pool question under the prompt box, and asked
    after it: by the time that question is answered, the live one is ready."""


    def factory(s):
        return LiveDriver(LiveQuestions(llama(tiny_gguf), basis, scorer=scorer, max_tokens=32, seed=1))

    app = OnboardApp(lambda: open_session(profile="live", seed=0), factory)

    asked = []

    async def run():
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(3):  # the quiz loads, then the model loads (both in workers)
                await app.workers.wait_for_complete()
                await pilot.pause()
            assert isinstance(app.screen, QuizScreen)  # the pool question being read stays
            asked.append(app.session.current())
            assert asked[0].live is None
            await pilot.press("a")
            await pilot.pause()
            assert isinstance(app.screen, LivePromptScreen), screen_text(app)
            assert suggestion(0) in screen_text(app)
            await pilot.press("enter")                 # accept the suggested prompt
            await pilot.pause()
            # back to the pool question that was under the prompt box, while the model writes
            assert isinstance(app.screen, QuizScreen), screen_text(app)
            asked.append(app.session.current())
            assert asked[1].live is None and asked[1].prompt[:30] in screen_text(app)
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
            assert app.session.current().live is None  # still the pool question: nothing pulled away
            await pilot.press("b")
            await pilot.pause()
            assert isinstance(app.screen, QuizScreen), screen_text(app)
            text = screen_text(app)
            assert "live: written by your model" in text and "min left" in text
            q = app.session.current()
            assert q.live is not None and q.prompt == suggestion(0)
            await pilot.press("a")
            await pilot.pause()
            # a pool question comes next, and under it the next prompt (a live answer just before is fine:
            # the pair would again come after this pool question)
            assert isinstance(app.screen, LivePromptScreen), screen_text(app)
            await pilot.press("escape")
            await pilot.pause()
            assert app.session.current().live is None
            await pilot.press("q")

    asyncio.run(run())
    d = saved(home)
    assert [(a["prompt"], a["choice"]) for a in d["answers"]] == [
        (asked[0].prompt, "a"), (asked[1].prompt, "b"), (suggestion(0), "a")]


class GatedDriver(LiveDriver):
    """A live driver whose work starts only when `gate` is set: a model still busy (or slow to start)
    when the person answers the question on screen."""

    def __init__(self, live):
        super().__init__(live)
        self.gate = threading.Event()
        self.called = threading.Event()

    def make(self, *a, **kw):
        self.called.set()
        self.gate.wait(30)
        return super().make(*a, **kw)


def test_textual_app_waits_for_a_live_pair_still_being_written(home, basis, scorer):
    """Answering before the model has finished shows the wait box, then the live pair; its direction
    comes from the posterior as it was when the prompt was given."""


    live = GatedDriver(LiveQuestions(Scripted([GOOD, OTHER, GOOD, OTHER]), basis, scorer=scorer, seed=0,
                                     per_side=2))
    # seed 1: a quiz whose second answer changes the least-settled direction's instructions
    app = OnboardApp(lambda: open_session(profile="live", seed=1), lambda s: live)
    seen = {}

    async def run():
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
            await pilot.press("a")
            await pilot.pause()
            assert isinstance(app.screen, LivePromptScreen)
            seen["precision"] = app.session.elicitor.precision.copy()
            await pilot.press("enter")
            try:
                assert await asyncio.to_thread(live.called.wait, 10)
                await pilot.press("b")                 # answers the pool question; the model is still writing
                await pilot.pause()
                assert isinstance(app.screen, WaitScreen), screen_text(app)
                seen["after"] = app.session.elicitor.precision.copy()  # the answer refit
            finally:
                live.gate.set()  # never leave the worker blocked, even when an assertion failed
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
            assert isinstance(app.screen, QuizScreen), screen_text(app)
            q = app.session.current()
            assert q.live is not None and {q.a, q.b} == {GOOD, OTHER}
            seen["instructions"] = set(q.live.instructions)
            await pilot.press("q")

    asyncio.run(run())
    _, plus, minus = instructions_for(seen["precision"], basis)
    assert seen["instructions"] == {plus, minus}
    # the test can tell: after the answer the least-settled direction has other instructions
    assert set(instructions_for(seen["after"], basis)[1:]) != {plus, minus}
    assert [a["choice"] for a in saved(home)["answers"]] == ["a", "b"]


def gated_app(basis, scorer, questions=None):
    """The quiz (seed 1) with a GatedDriver over scripted on-topic replies."""
    live = LiveQuestions(Scripted([GOOD, OTHER] * 16), basis, scorer=scorer, seed=0, per_side=2)
    driver = GatedDriver(live)
    app = OnboardApp(lambda: open_session(profile="live", seed=1, questions=questions), lambda s: driver)
    return app, driver


async def to_the_prompt(app, pilot, prompt=None):
    """Answer the first pool question; the prompt box opens over the next one; give the prompt."""
    await settle(app, pilot)
    await pilot.press("a")
    await pilot.pause()
    assert isinstance(app.screen, LivePromptScreen), screen_text(app)
    if prompt is not None:
        app.screen.query_one("#live-prompt").value = prompt
    await pilot.press("enter")
    await pilot.pause()


async def answer_while_writing(app, pilot, driver, key):
    """Give the prompt, then answer the pool question under it while the (gated) model writes."""
    await to_the_prompt(app, pilot)
    assert await asyncio.to_thread(driver.called.wait, 10)
    await pilot.press(key)
    await pilot.pause()


def test_esc_on_the_wait_box_closes_it_at_once_and_drops_the_pair(home, basis, scorer):
    """"Esc: cancel and take a pool question" holds even while the replies are still being scored (the
    model's cancel check is behind it): the box closes on the keypress, a pool question is on screen,
    and the pair that arrives later is never shown."""
    app, driver = gated_app(basis, scorer)
    seen = {}

    async def run():
        async with app.run_test(size=(100, 30)) as pilot:
            try:
                await answer_while_writing(app, pilot, driver, "b")
                assert isinstance(app.screen, WaitScreen)
                await pilot.press("escape")
                await pilot.pause()
                assert isinstance(app.screen, QuizScreen), screen_text(app)  # before the worker returns
                seen["pool"] = app.session.current()
            finally:
                driver.gate.set()
            await settle(app, pilot)
            seen["after"] = app.session.current()
            await pilot.press("a")          # answer the pool question: no pair is waiting to come
            await pilot.pause()
            seen["next"] = app.session.current()
            await pilot.press("escape")     # the next prompt box, if any
            await pilot.press("q")

    asyncio.run(run())
    assert seen["pool"].live is None and seen["after"].live is None and seen["after"].prompt == seen["pool"].prompt
    assert seen["next"].live is None
    assert [a["choice"] for a in saved(home)["answers"]] == ["a", "b", "a"]


def test_the_quiz_ending_while_a_pair_is_written(home, basis, scorer):
    """The last answer comes while the model writes: the end screen, no 'cancelled' warning, and 'a few
    more' starts with a pool question, not a wait for a pair nobody wants any more."""
    app, driver = gated_app(basis, scorer, questions=2)
    seen = {}

    async def run():
        async with app.run_test(size=(100, 30)) as pilot:
            try:
                await answer_while_writing(app, pilot, driver, "b")  # the last question
                assert isinstance(app.screen, DoneScreen), screen_text(app)
                await pilot.press("m")          # a few more, before the worker has returned
                await pilot.pause()
                seen["screen"] = type(app.screen).__name__
            finally:
                driver.gate.set()
            await settle(app, pilot)
            seen["current"] = app.session.current()
            seen["notes"] = [n.message for n in app._notifications]
            await pilot.press("q")

    asyncio.run(run())
    assert seen["screen"] == "QuizScreen" and seen["current"].live is None
    assert not any("cancel" in m.lower() for m in seen["notes"]), seen["notes"]


def test_undo_keeps_a_written_pair_and_never_puts_two_live_questions_together(home, basis, scorer):
    app, driver = gated_app(basis, scorer)
    driver.gate.set()
    seen = {}

    async def run():
        async with app.run_test(size=(100, 30)) as pilot:
            await to_the_prompt(app, pilot, suggestion(0))
            await settle(app, pilot)
            await pilot.press("b")              # pool 2 answered: the live pair L1
            await pilot.pause()
            l1 = app.session.current().live
            assert l1 is not None
            # 1. undo from L1 before answering it: pool 2 again, and L1 comes back after it
            await pilot.press("u")
            await pilot.pause()
            assert app.session.current().live is None
            await pilot.press("a")
            await pilot.pause()
            assert isinstance(app.screen, QuizScreen), screen_text(app)  # no new prompt asked
            assert app.session.current().live is l1
            await pilot.press("a")              # L1 answered: the prompt box over pool P
            await pilot.pause()
            assert isinstance(app.screen, LivePromptScreen), screen_text(app)
            app.screen.query_one("#live-prompt").value = suggestion(0)  # the scripted replies' topic
            await pilot.press("enter")
            await settle(app, pilot)            # pair L2 written while P is read
            assert app._live_ready is not None, app.driver.note
            seen["P"] = app.session.current()
            # 2. undo L1's answer while L2 waits: L1 again, then P, and only then L2
            await pilot.press("u")
            await pilot.pause()
            assert app.session.current().live is l1
            await pilot.press("a")              # the same answer: the same pool question P follows
            await pilot.pause()
            seen["after_l1"] = app.session.current()
            await pilot.press("a")
            await pilot.pause()
            seen["after_p"] = app.session.current()
            await pilot.press("q")

    asyncio.run(run())
    assert seen["after_l1"].live is None and seen["after_l1"].prompt == seen["P"].prompt
    assert seen["after_p"].live is not None and seen["after_p"].live is not seen["P"].live


def test_quitting_while_a_pair_is_written_returns_at_once(home, basis, scorer):
    app, driver = gated_app(basis, scorer)
    backend = driver.live.backend

    class Blocking(type(backend)):
        def _generate(self, request, on_delta, cancel):
            while not cancel.is_set():  # a model that stops only when cancelled, as llama.cpp's loop does
                time.sleep(0.01)
            from prefchat.llm import Cancelled
            raise Cancelled("cancelled")

    backend.__class__ = Blocking
    driver.gate.set()

    async def run():
        async with app.run_test(size=(100, 30)) as pilot:
            await to_the_prompt(app, pilot)
            await pilot.press("q")

    t = time.perf_counter()
    asyncio.run(run())
    assert time.perf_counter() - t < 10
