"""The Textual quiz driven through Pilot at 80x24: keys, mouse, undo, tie, help, quit-then-resume,
the end screen, layout switching, and a load error that must not become a traceback."""

from __future__ import annotations

from textual.color import Color
from textual.worker import WorkerCancelled

from prefchat.tui.onboard_app import DoneScreen, OnboardApp, QuizScreen
from prefchat.tui.onboard_screens import HelpScreen
from prefchat.onboarding.quiz import open_session

from .conftest import read_profile
from .screens import screen_text, sync


def make_app(env, **kw):
    kw.setdefault("seed", 7)
    return OnboardApp(lambda: open_session(basis=env["basis"], corpus=env["corpus"], **kw))


async def started(app, pilot):
    # The quiz loads in a thread worker; wait for it instead of sleeping.
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(app.screen, (QuizScreen, DoneScreen)), screen_text(app)


@sync
async def test_whole_quiz_with_keys_mouse_tie_and_undo(quiz_env):
    app = make_app(quiz_env, questions=6)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app, pilot)
        text = screen_text(app)
        assert "Question 1 of 6" in text and "Response A" in text and "Response B" in text
        assert app.screen.query_one("#pair").has_class("stacked")  # 80 columns: A above B
        s = app.session
        first = s.current()
        assert first.prompt in text  # "[with brackets]" shown literally, not eaten as markup

        await pilot.press("a")                 # 1: a
        await pilot.press("n")                 # 2: tie
        await pilot.press("u")                 # undo the tie
        assert "Question 2 of 6" in screen_text(app)
        assert [a["choice"] for a in read_profile(quiz_env)["answers"]] == ["a"]
        await pilot.press("equals_sign")       # 2: tie again, the other key
        await pilot.click("#panel-b")          # 3: b, by clicking the response
        await pilot.click("#choose-a")         # 4: a, by the button
        await pilot.press("b")                 # 5: b
        await pilot.pause()
        assert "Question 6 of 6" in screen_text(app)
        await pilot.press("a")                 # 6: a -> end screen
        await pilot.pause()
        assert isinstance(app.screen, DoneScreen)
        done = screen_text(app)
        assert "Your profile is ready" in done and "concise" in done and "verbose" in done
        assert str(quiz_env["home"] / "profiles")[:40] in done.replace("\n", "")
        assert "prefchat chat" in done
        await pilot.press("enter")
    assert app.return_value.status == "done"
    d = read_profile(quiz_env)
    assert [a["choice"] for a in d["answers"]] == ["a", "tie", "b", "a", "b", "a"]
    assert d["answers"][0]["prompt"] == first.prompt
    assert all(a["source"] == "onboard" for a in d["answers"])


@sync
async def test_quit_then_resume_at_the_next_question(quiz_env):
    app = make_app(quiz_env, questions=15)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app, pilot)
        for k in "abababbab":               # 9 answers
            await pilot.press(k)
        await pilot.pause()
        nxt = app.session.current()
        await pilot.press("q")
    assert app.return_value.status == "quit"
    assert len(read_profile(quiz_env)["answers"]) == 9

    app2 = make_app(quiz_env, questions=15, seed=999)
    async with app2.run_test(size=(80, 24)) as pilot:
        await started(app2, pilot)
        assert "Question 10 of 15" in screen_text(app2)
        assert app2.session.current().index == nxt.index
        await pilot.press("a")
        await pilot.pause()
        assert "Question 11 of 15" in screen_text(app2)
    assert len(read_profile(quiz_env)["answers"]) == 10


@sync
async def test_a_few_more_from_the_end_screen(quiz_env):
    app = make_app(quiz_env, questions=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app, pilot)
        await pilot.press("a", "b")
        await pilot.pause()
        assert isinstance(app.screen, DoneScreen)
        await pilot.click("#more")
        await pilot.pause()
        assert isinstance(app.screen, QuizScreen)
        assert "Question 3 of 7" in screen_text(app)
        await pilot.press("q")
    assert app.return_value.status == "quit"


@sync
async def test_help_opens_and_closes_and_layout_follows_width(quiz_env):
    app = make_app(quiz_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        assert not app.screen.query_one("#pair").has_class("stacked")  # wide: side by side
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and "undo the last answer" in screen_text(app)
        await pilot.press("a")  # any key closes help, and is not taken as an answer
        await pilot.pause()
        assert isinstance(app.screen, QuizScreen) and app.session.answered == 0
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert app.screen.query_one("#pair").has_class("stacked")


@sync
async def test_light_theme_renders_the_quiz(quiz_env):
    """The quiz follows the theme: light background with dark text under textual-light, and the
    opposite under textual-dark (a style hard-coded for one theme would fail one of the two)."""
    for theme, light in (("textual-light", True), ("textual-dark", False)):
        app = make_app(quiz_env)
        async with app.run_test(size=(80, 24)) as pilot:
            app.theme = theme
            await started(app, pilot)
            text = screen_text(app)
            assert "Question 1 of ~" in text and "min left" in text  # the default quiz: a words budget
            assert app.current_theme.dark is not light
            # the colours the question text is actually drawn in (after themes and auto contrast)
            style = app.screen.query_one("#pair").rich_style
            bg, fg = (Color.from_rich_color(c) for c in (style.bgcolor, style.color))
            assert (bg.brightness > 0.6) is light and (fg.brightness < 0.4) is light, (theme, bg, fg)


@sync
async def test_load_error_exits_with_one_line_not_a_traceback(quiz_env, tmp_path):
    app = OnboardApp(lambda: open_session(basis=tmp_path / "nope", corpus=quiz_env["corpus"]))
    async with app.run_test(size=(80, 24)) as pilot:
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:  # the app exits from inside the worker, which cancels it on the way out
            pass
        await pilot.pause()
    assert app.return_value.status == "error"
    assert "not found" in app.return_value.error and "\n" not in app.return_value.error
