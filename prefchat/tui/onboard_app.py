"""`prefchat onboard`: the Textual quiz. A thin view over QuizSession (onboarding/quiz.py).

Loading (basis, pool, corpus, saved profile) runs in a thread worker so the first frame appears at
once; answering calls QuizSession directly on the UI thread, because a refit is one Newton solve in
J dims and the save is one small atomic file write, both a few milliseconds.

With --live, a LiveDriver (prefchat/onboarding/live.py) loads the model in a thread worker while pool
questions are asked; once it is ready, a prompt is asked for (LivePromptScreen) over every other pool
question. A worker writes the pair while that pool question is read, and the pair is asked right after
it; only a person who answers before the model is done sees a wait modal (Esc cancels: the next pool
question comes instead). No widget talks to the model: the worker calls the driver, which goes through
the configured backend."""

from __future__ import annotations

import threading
from pathlib import Path
from dataclasses import dataclass
from typing import Callable

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Static

from prefchat.errors import PrefchatError
from prefchat.onboarding.quiz import QuizSession, leanings
from prefchat.tui.profile_view import render
from prefchat.textsafe import clean
from prefchat.tui.onboard_screens import HelpScreen, LivePromptScreen, WaitScreen
from prefchat.tui.plain import final_save, unsaved_note
from prefchat.tui.widgets import ResponsePanel, settled_bar

WIDE = 110  # columns from which A and B sit side by side

HELP = (
    "[b]How this works[/b]\n"
    "Each question shows a prompt and two responses. Pick the one you would rather get; prefchat "
    "learns your taste from a dozen answers and uses it to pick chat replies.\n\n"
    "  [b]a[/b]        Response A is better\n"
    "  [b]b[/b]        Response B is better\n"
    "  [b]n[/b] or [b]=[/b]   no preference (a tie)\n"
    "  [b]u[/b]        undo the last answer\n"
    "  [b]?[/b]        this help\n"
    "  [b]q[/b]        quit: every answer is already saved, and `prefchat onboard` continues\n\n"
    "Click a response or a button to choose with the mouse. Scroll long responses with the wheel, "
    "or Tab to one and use the arrow keys.\n\n"
    "[dim]Press any key to close.[/dim]")


@dataclass
class Outcome:
    """What the app ended with, for the command to report after the terminal is restored."""

    status: str                      # "done" | "quit" | "error"
    session: QuizSession | None = None
    error: str | None = None
    lost: str | None = None          # answers that could not be saved, in words (None: all saved)


class QuizScreen(Screen):
    BINDINGS = [
        Binding("a", "choose('a')", "A is better"),
        Binding("b", "choose('b')", "B is better"),
        Binding("n", "choose('tie')", "No preference"),
        Binding("equals_sign", "choose('tie')", "No preference", show=False),
        Binding("u", "undo", "Undo"),
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit_quiz", "Quit"),
    ]

    def __init__(self, session: QuizSession) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield Static(id="progress")
            yield Static(id="settled")
        with VerticalScroll(id="prompt-box"):
            yield Static(id="prompt")
        with Container(id="pair"):
            yield ResponsePanel("a", "Response A  (a)", id="panel-a")
            yield ResponsePanel("b", "Response B  (b)", id="panel-b")
        with Horizontal(id="choices"):
            yield Button("a: A better", id="choose-a", compact=True)
            yield Button("n: no preference", id="choose-tie", compact=True)
            yield Button("b: B better", id="choose-b", compact=True)
            yield Button("u: undo", id="undo", compact=True)
            yield Button("?: help", id="help-btn", compact=True)
            yield Button("q: quit", id="quit", compact=True)

    def on_mount(self) -> None:
        self._layout(self.app.size.width)
        self.refresh_question()
        if self.session.resumed and not self.session.done:
            self.notify(f"Welcome back: {self.session.answered} answers were saved, so this continues "
                        f"at question {self.session.answered + 1}.", timeout=4)

    def on_resize(self, event) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.query_one("#pair").set_class(width < WIDE, "stacked")

    def refresh_question(self) -> None:
        s = self.session
        q = s.current()
        if q is None:
            return
        live = "   live: written by your model" if q.live is not None else ""
        self.query_one("#progress", Static).update(
            Text.assemble((s.progress().line(), "bold"), (live, "italic"), (f"   profile '{s.name}'", "dim")))
        st = s.settled()
        self.query_one("#settled", Static).update(
            Text(f"settled {settled_bar(st.fraction)} {st.fraction:.0%}"))
        self.query_one("#prompt", Static).update(Text(clean(q.prompt)))
        self.query_one("#prompt-box").scroll_home(animate=False)
        self.query_one("#panel-a", ResponsePanel).show(q.a)
        self.query_one("#panel-b", ResponsePanel).show(q.b)
        self.query_one("#undo", Button).disabled = s.answered == 0

    # -- input ---------------------------------------------------------------------------------------

    def action_choose(self, choice: str) -> None:
        try:
            self.session.answer(choice)
        except PrefchatError:  # e.g. the disk is full: say so, keep the answer in memory
            self.notify(unsaved_note(self.session), title="Not saved", severity="error", timeout=8)
        self.app.after_answer()

    def action_undo(self) -> None:
        q = self.session.current()
        try:
            if not self.session.undo():
                self.notify("Nothing to undo yet.", timeout=2)
            elif q is not None and q.live is not None:
                self.app.keep_live(q.live)
        except PrefchatError:
            self.notify(unsaved_note(self.session), title="Not saved", severity="error", timeout=8)
        self.refresh_question()

    def on_response_panel_chosen(self, message: ResponsePanel.Chosen) -> None:
        self.action_choose(message.choice)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        bid = event.button.id or ""
        if bid.startswith("choose-"):
            self.action_choose(bid.removeprefix("choose-"))
        elif bid == "undo":
            self.action_undo()
        elif bid == "help-btn":
            self.app.action_help()
        elif bid == "quit":
            self.app.action_quit_quiz()


class DoneScreen(Screen):
    """The learned profile along named axes, where it lives, and what to do next."""

    BINDINGS = [
        Binding("m", "more", "A few more"),
        Binding("enter", "finish", "Finish"),
        Binding("q", "finish", "Finish", show=False),
        Binding("question_mark", "app.help", "Help", show=False),
    ]

    def __init__(self, session: QuizSession) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="done-body"):
            yield Static(self._summary(), id="summary")
        with Horizontal(id="done-choices"):
            if self.session.can_extend():
                yield Button("m: a few more questions", id="more", compact=True)
            yield Button("enter: finish", id="finish", compact=True, variant="primary")

    def _summary(self) -> Group:
        s = self.session
        prof = s.profile()
        lean = leanings(s.rows()) if s.basis.axes else []
        title = "Your profile is ready" if s.answers else "No answers yet"
        if s.stopped_early:
            title += f" (settled after {s.answered} questions)"
        parts = [Text(title, style="bold"),
                 Text(f"{s.answered} answers, {s.words_read:.0f} words read.", style="dim"), Text(""),
                 render(prof, s.basis), Text("")]
        if lean:
            parts.append(Text("You prefer replies that are " + ", ".join(
                f"{pole} ({how})" for pole, how in lean[:4]) + "."))
        elif s.basis.axes:
            parts.append(Text("No clear leaning yet: a few more answers would sharpen it."))
        if s.unsaved:
            parts.append(Text("Not saved: " + unsaved_note(s) + ".", style="bold red"))
        else:
            parts.append(Text.assemble("Saved to ", (str(s.path), "bold")))
        parts.append(Text.assemble("Next: ", ("prefchat chat", "bold"),
                                   " — chat with replies picked for you."))
        return Group(*parts)

    def action_more(self) -> None:
        if self.session.can_extend():
            self.session.extend()
            self.app.pop_screen()
            self.app.after_answer()

    def action_finish(self) -> None:
        self.app.action_quit_quiz()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "more":
            self.action_more()
        else:
            self.action_finish()


class OnboardApp(App[Outcome]):
    """loader() builds the QuizSession (files, profile); it runs in a worker thread."""

    CSS_PATH = Path(__file__).with_name("onboard.tcss")  # absolute: subclasses live in other folders
    TITLE = "prefchat onboarding"
    BINDINGS = [Binding("ctrl+c", "quit_quiz", "Quit", show=False, priority=True)]

    def __init__(self, loader: Callable[[], QuizSession], live_factory: Callable | None = None) -> None:
        super().__init__()
        self._loader = loader
        self._live_factory = live_factory  # session -> LiveDriver, for --live
        self.session: QuizSession | None = None
        self.driver = None
        self._live_checked_at = -1
        self._live_cancel = None
        self._live_running = False   # a worker is writing a live pair (the model is busy)
        self._live_pending = False   # ... and the pair is still wanted, for after the question on screen
        self._live_ready = None      # a written pair waiting for the question on screen to be answered

    def compose(self) -> ComposeResult:
        yield Static("Loading your quiz…", id="loading")

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        try:
            session = self._loader()
        except PrefchatError as exc:
            self.call_from_thread(self.exit, Outcome("error", error=str(exc)), 2)
            return
        except Exception as exc:  # noqa: BLE001 - shown as one line, never a traceback on screen
            self.call_from_thread(self.exit, Outcome("error", error=f"could not start the quiz ({exc})"), 2)
            return
        self.call_from_thread(self._loaded, session)

    def _loaded(self, session: QuizSession) -> None:
        self.session = session
        self.push_screen(QuizScreen(session))
        if session.done:
            self.push_screen(DoneScreen(session))
        elif self._live_factory is not None:
            self.driver = self._live_factory(session)
            self._load_live()

    # -- live questions ------------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="live")
    def _load_live(self) -> None:
        self.driver.load()
        self.call_from_thread(self._live_loaded)

    def _live_loaded(self) -> None:
        if self.driver.state == "off":
            self.notify(self.driver.note or "Live questions are off.", severity="warning", timeout=8)
        elif self.driver.state == "ready" and self.session is not None:
            # Never pull the question being read away: the first live prompt comes after this answer.
            self._live_checked_at = self.session.answered
            self.notify("Your model is ready: after this answer, every other question is a live one.",
                        timeout=4)

    def maybe_live(self) -> None:
        """Ask for a live prompt when one is due (once per new question, only from the quiz screen).
        The pair is written while the person reads the pool question on screen, and asked after it:
        a live question's generation then overlaps reading instead of keeping the person waiting."""
        s, d = self.session, self.driver
        if s is None or d is None or not isinstance(self.screen, QuizScreen):
            return
        if s.answered == self._live_checked_at or d.state != "ready" or self._live_busy():
            return
        self._live_checked_at = s.answered
        q = s.current()
        if q is not None and q.live is None and d.due(s, ahead=True):
            self.push_screen(LivePromptScreen(d.prompt_hint()), self._live_prompted)

    def _live_busy(self) -> bool:
        """A pair is still being written (even one no longer wanted: the model is busy) or waits."""
        return self._live_running or self._live_ready is not None

    def keep_live(self, pair) -> None:
        """Undo from a live pair not yet answered: the pair comes again after the answer undone,
        instead of being thrown away with the person's prompt (unless another is on its way)."""
        if not self._live_busy():
            self._live_ready = pair

    def _live_prompted(self, prompt: str | None) -> None:
        if not prompt or self.session is None:
            return
        self._live_cancel = threading.Event()
        self._live_running = self._live_pending = True
        self.notify("Your model is writing two replies; they come after this question.", timeout=4)
        # the posterior now, copied on this thread: the person answers (and the session refits) while
        # the worker runs
        self._make_live(prompt, self._live_cancel, self.session.elicitor.precision.copy())

    @work(thread=True, exit_on_error=False, group="live")
    def _make_live(self, prompt: str, cancel, precision) -> None:
        pair = self.driver.make(self.session, prompt, cancel, offer=False, precision=precision)
        self.call_from_thread(self._live_made, pair)

    def _live_made(self, pair) -> None:
        self._live_running = False
        if not self._live_pending:  # cancelled (Esc, the quiz ended, quit): even a finished pair is dropped
            return
        self._live_pending = False
        if pair is None and self.driver.note:
            self.notify(self.driver.note, severity="warning", timeout=8)
        self._live_ready = pair
        if isinstance(self.screen, WaitScreen):  # the person answered first and is waiting for it
            self.pop_screen()
            self._ask_ready_live()

    def _ask_ready_live(self) -> None:
        """Ask the written pair now if the quiz wants it (QuizSession.wants_written_pair); after an undo
        to a live answer it waits for the next pool answer, and a finished quiz drops it."""
        s, pair = self.session, self._live_ready
        if s is not None and s.wants_written_pair():
            self._live_ready = None
            if pair is not None:
                s.offer_live(pair)
        elif s is None or s.done:
            self._live_ready = None
        if isinstance(self.screen, QuizScreen):
            self.screen.refresh_question()  # no new prompt now if it failed: the next answer asks again

    def cancel_live(self, note: str | None = None) -> None:
        """Stop wanting the pair being written (the worker stops at the model's next check, and a pair
        that still arrives is dropped); a wait box closes at once, with `note`."""
        if self._live_cancel is not None:
            self._live_cancel.set()
        self._live_pending = False
        if isinstance(self.screen, WaitScreen):
            self.pop_screen()
            if note:
                self.notify(note, timeout=4)
            if isinstance(self.screen, QuizScreen):
                self.screen.refresh_question()

    def after_answer(self) -> None:
        s = self.session
        if s is None:
            return
        if s.done:
            self.cancel_live()  # a pair still being written is not needed any more
            self._live_ready = None
            if not isinstance(self.screen, DoneScreen):
                self.push_screen(DoneScreen(s))
        elif isinstance(self.screen, QuizScreen):
            if self._live_pending and s.wants_written_pair():
                self.push_screen(WaitScreen())  # answered before the model finished: wait for the pair
            elif self._live_ready is not None:
                self._ask_ready_live()
            else:
                self.screen.refresh_question()
                self.maybe_live()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(HELP))

    def action_quit_quiz(self) -> None:
        self.cancel_live()
        s = self.session
        lost = final_save(s) if s is not None else None
        self.exit(Outcome("done" if s is not None and s.done else "quit", s, lost=lost))
