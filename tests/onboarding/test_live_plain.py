"""`prefchat onboard --plain --live` on an interactive terminal: like the full-screen quiz, the pair is
written while the person reads the pool question after the prompt, and asked after it. run_plain is
driven directly with a stdin that says it is a terminal (a real pty would add nothing the test can
check: the order of lines is the behaviour), scripted replies and, for the waiting path, a gated
driver. Piped input keeps the fixed order (tests/onboarding/test_live.py runs it through the CLI)."""

from __future__ import annotations

import io
import threading

from rich.console import Console

from prefchat.onboarding.live import LiveDriver, LiveQuestions, instructions_for, suggestion
from prefchat.onboarding.quiz import open_session
from prefchat.tui.plain import run_plain
from tests.onboarding.test_live import GOOD, OTHER, Scripted, saved
from tests.onboarding.test_live_tui import GatedDriver


class Terminal(io.StringIO):
    """Typed lines, on what says it is a terminal."""

    def isatty(self) -> bool:
        return True


def quiz(driver, lines, seed=1):
    s = open_session(profile="live", seed=seed)
    out = io.StringIO()
    driver.load()
    code = run_plain(s, Terminal("".join(f"{x}\n" for x in lines)), Console(file=out, width=200), driver,
                     ahead=True)
    return code, out.getvalue(), s


def live_driver(basis, scorer, gated=False):
    live = LiveQuestions(Scripted([GOOD, OTHER] * 16), basis, scorer=scorer, seed=0, per_side=2)
    return GatedDriver(live) if gated else LiveDriver(live)


def test_the_pair_is_written_while_the_pool_question_is_read(home, basis, scorer):
    # the model is loaded: the prompt (Enter: the suggestion) over pool 1; pool 1 -> a; the live
    # pair -> b; the prompt again over pool 2 -> p (a pool question instead); end of input at pool 2
    code, out, s = quiz(live_driver(basis, scorer), ["", "a", "b", "p"])
    answers = saved(home)["answers"]
    assert [a["choice"] for a in answers] == ["a", "b"]
    assert answers[1]["prompt"] == suggestion(0) and answers[0]["prompt"] != suggestion(0)
    # the order on screen: the prompt, then the pool question it was given over, then the live pair
    writing = out.index("they come after this question")
    pool = out.index(answers[0]["prompt"][:40])
    assert writing < pool < out.index("Live question: both replies were written by your model")
    assert out.count("Type a prompt you care about") == 2 and code == 1


def test_answering_first_waits_and_the_direction_is_the_one_at_the_prompt(home, basis, scorer):
    driver = live_driver(basis, scorer, gated=True)
    # let the model finish only well after the pool question was answered
    threading.Thread(target=lambda: (driver.called.wait(10), threading.Event().wait(0.5), driver.gate.set()),
                     daemon=True).start()
    code, out, s = quiz(driver, ["", "a", "b"], seed=0)  # end of input at the next prompt
    assert "Waiting for your model's two replies" in out
    answers = saved(home)["answers"]
    assert [a["choice"] for a in answers] == ["a", "b"] and answers[1]["prompt"] == suggestion(0)
    # seed 0: the first answer changes the least-settled direction's instructions; the pair was
    # written for the posterior at the prompt, before that answer
    ref = open_session(profile="ref", seed=0)
    at_prompt = set(instructions_for(ref.elicitor.precision, basis)[1:])
    ref.answer("a")
    assert set(instructions_for(ref.elicitor.precision, basis)[1:]) != at_prompt
    assert set(driver.live.backend.requests[0].instructions) == at_prompt


def test_a_backend_failure_while_reading_falls_back_once_and_keeps_every_answer(home, basis, scorer):
    from prefchat.llm import BackendError

    class Down(Scripted):
        def _generate(self, request, on_delta, cancel):
            raise BackendError("the server at 127.0.0.1:9 refused the connection")

    driver = LiveDriver(LiveQuestions(Down([]), basis, scorer=scorer, seed=0, per_side=2))
    code, out, s = quiz(driver, ["What should I cook tonight?", "a", "b", "a"])
    assert out.count("Live questions are off") == 1 and "refused the connection" in out
    assert out.count("Type a prompt you care about") == 1  # off for the rest of the quiz
    assert [a["choice"] for a in saved(home)["answers"]] == ["a", "b", "a"]


def test_undo_from_the_live_pair_keeps_it_for_after_the_pool_answer(home, basis, scorer):
    # prompt (Enter) over pool 1; pool 1 -> a; the live pair -> u (undo pool 1's answer); pool 1 -> a;
    # the same live pair again -> b; end of input at the next prompt
    code, out, s = quiz(live_driver(basis, scorer), ["", "a", "u", "a", "b"])
    answers = saved(home)["answers"]
    assert [a["choice"] for a in answers] == ["a", "b"] and answers[1]["prompt"] == suggestion(0)
    assert out.count("Type a prompt you care about") == 2  # not asked again for the pool question undone
    assert out.count("Live question: both replies were written by your model") == 2  # the pair, twice


def test_undo_of_a_live_answer_never_puts_two_live_questions_together(home, basis, scorer):
    # L1 as above; then the prompt over pool 2 (typed: the scripted replies' topic); u (undo L1's answer
    # while L2 is written); L1 -> a again; pool 2 -> a; L2 -> b
    lines = ["", "a", "a", suggestion(0), "u", "a", "a", "b"]
    code, out, s = quiz(live_driver(basis, scorer), lines)
    answers = saved(home)["answers"]
    assert [a["choice"] for a in answers] == ["a", "a", "a", "b"]
    live = [a["prompt"] == suggestion(0) for a in answers]
    assert live == [False, True, False, True]


class SlowTerminal(Terminal):
    """A person typing: each line comes a moment later, so the background work finishes first."""

    def readline(self, *a):
        threading.Event().wait(0.3)
        return super().readline(*a)


def test_the_off_note_is_said_once_even_after_an_undo_while_writing(home, basis, scorer):
    from prefchat.llm import BackendError

    class Down(Scripted):
        def _generate(self, request, on_delta, cancel):
            raise BackendError("the server at 127.0.0.1:9 refused the connection")

    driver = LiveDriver(LiveQuestions(Down([]), basis, scorer=scorer, seed=0, per_side=2))
    driver.load()
    s = open_session(profile="live", seed=1)
    out = io.StringIO()
    # pool question instead (p), pool 1 -> a, a prompt over pool 2, u (the model fails meanwhile), a, a
    lines = "".join(f"{x}\n" for x in ["p", "a", "What should I cook tonight?", "u", "a", "a"])
    run_plain(s, SlowTerminal(lines), Console(file=out, width=200), driver, ahead=True)
    assert out.getvalue().count("Live questions are off") == 1
    assert [a["choice"] for a in saved(home)["answers"]] == ["a", "a"]
