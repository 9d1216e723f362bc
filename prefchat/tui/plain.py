"""`prefchat onboard --plain`: the same QuizSession on stdin/stdout with rich, one line per answer.

Made for screen readers, dumb terminals and scripts: answers can be piped in (`printf 'a\\nb\\n' |
prefchat onboard --plain`). End of input means quit; every answer given so far is already saved.

With --live (a LiveDriver), the model loads in a background thread while pool questions are asked;
once it is ready, every other question asks for a prompt and shows two replies the model wrote. On an
interactive terminal they are written while the pool question after the prompt is read (`ahead`)."""

from __future__ import annotations

import threading
from typing import IO

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from prefchat.errors import PrefchatError
from prefchat.onboarding.quiz import MORE_QUESTIONS, QuizSession, leanings
from prefchat.tui.profile_view import render
from prefchat.textsafe import clean

KEYS = {"a": "a", "b": "b", "n": "tie", "=": "tie", "tie": "tie"}
HELP = ("a = Response A is better, b = Response B is better, n (or =) = no preference, "
        "u = undo the last answer, q = quit (answers so far are saved), ? = this help")

EXIT_DONE, EXIT_STOPPED = 0, 1
EXIT_UNSAVED = 3  # the quiz ended with answers that could not be saved (they are lost)


def unsaved_note(s: QuizSession) -> str:
    n = s.unsaved
    return (f"{n} answer{'s are' if n != 1 else ' is'} not saved yet ({s.save_error}); kept in memory, "
            "and saving is tried again with your next answer")


def final_save(s: QuizSession) -> str | None:
    """One more try at saving before the quiz ends. Returns what was lost (None: all saved)."""
    if not s.unsaved:
        return None
    try:
        s.save()
        return None
    except PrefchatError:
        n = s.unsaved
        return (f"{n} answer{'s were' if n != 1 else ' was'} NOT saved and {'are' if n != 1 else 'is'} "
                f"lost: {s.save_error}")


def _ask(console: Console, stdin: IO[str], prompt: str) -> str | None:
    """One line from stdin, lower-cased and stripped; None at end of input."""
    line = _ask_raw(console, stdin, prompt)
    return None if line is None else line.strip().lower()


def _show(console: Console, s: QuizSession) -> None:
    q = s.current()
    st = s.settled()
    console.print(Rule(f"{s.progress().line()}  ·  settled {st.fraction:.0%}", align="left"))
    if q.live is not None:
        console.print(Text("Live question: both replies were written by your model for your prompt.",
                           style="italic"))
    console.print(Text(clean(q.prompt), style="bold"))
    console.print()
    console.print(Text("Response A", style="bold underline"))
    console.print(Text(clean(q.a)))
    console.print()
    console.print(Text("Response B", style="bold underline"))
    console.print(Text(clean(q.b)))
    console.print()


def summary(console: Console, s: QuizSession) -> None:
    console.print(Rule("Your profile"))
    console.print(render(s.profile(), s.basis))
    console.print(f"{s.answered} answers, {s.words_read:.0f} words read.", markup=False, highlight=False)
    lean = leanings(s.rows()) if s.basis.axes else []
    if lean:
        console.print("You prefer replies that are " + ", ".join(f"{p} ({h})" for p, h in lean[:4]) + ".",
                      markup=False, highlight=False)
    console.print(Text.assemble("Saved to ", (str(s.path), "bold")))
    console.print(Text.assemble("Next: ", ("prefchat chat", "bold"), " — chat with replies picked for you."))


def _stopped_at(s: QuizSession) -> str:
    of = f" of {s.total}" if s.words_budget is None else ""
    return f"Stopped at question {s.answered + 1}{of}"


def _live_prompt(console: Console, stdin: IO[str], driver) -> str | None:
    """The prompt for a live question: the typed line, or the suggestion on Enter; "" for a pool
    question instead; None at end of input (quit)."""
    hint = driver.prompt_hint()
    console.print(Rule("Live question", align="left"))
    line = _ask_raw(console, stdin, f"Type a prompt you care about (Enter: \"{hint}\"; p: a pool question "
                                    "instead): ")
    if line is None:
        return None
    if line.strip().lower() in ("p", "pool"):
        return ""
    return line.strip() or hint


def _live_turn(console: Console, stdin: IO[str], s: QuizSession, driver) -> bool:
    """Ask for a prompt and generate a live pair now. False at end of input (quit)."""
    prompt = _live_prompt(console, stdin, driver)
    if prompt is None:
        return False
    if prompt:
        console.print("Writing two replies with your model…", markup=False)
        if driver.make(s, prompt) is None and driver.note:
            console.print(driver.note, markup=False, highlight=False)
    return True


class _Ahead:
    """A live pair written in a thread while the person reads the pool question on screen (an
    interactive terminal); asked after that question, like the full-screen quiz does."""

    def __init__(self, s: QuizSession, driver, prompt: str) -> None:
        self.cancel = threading.Event()
        self.pair = None
        # a copy of the posterior now: the person answers (and the session refits) meanwhile
        precision = s.elicitor.precision.copy()
        self.thread = threading.Thread(target=self._run, args=(s, driver, prompt, precision), daemon=True)
        self.thread.start()

    def _run(self, s, driver, prompt, precision) -> None:
        self.pair = driver.make(s, prompt, self.cancel, offer=False, precision=precision)

    def collect(self, console: Console):
        """The pair (None if it failed), waiting for the model if it is not done yet."""
        if self.thread.is_alive():
            console.print("Waiting for your model's two replies…", markup=False)
        try:
            self.thread.join()
        finally:  # Ctrl-C while waiting: stop the model too
            self.cancel.set()
        return self.pair


class _Kept:
    """A written pair put back by an undo from it: asked again after the next pool answer, so the
    person's prompt and the model's work are not thrown away."""

    def __init__(self, pair) -> None:
        self.pair = pair

    def collect(self, console: Console):
        return self.pair


def _ask_raw(console: Console, stdin: IO[str], prompt: str) -> str | None:
    """One line from stdin as typed (not lower-cased); None at end of input."""
    console.print(prompt, end="", markup=False, highlight=False)
    console.file.flush()
    line = stdin.readline()
    if not line:
        console.print()
        return None
    return line.rstrip("\n")


def run_plain(s: QuizSession, stdin: IO[str], console: Console, driver=None, wait_for_model: bool = False,
              ahead: bool = False) -> int:
    """Run the quiz; returns the exit code (0 finished and saved, 1 stopped early with progress kept).
    driver: a LiveDriver for --live (None: pool questions only). wait_for_model: load the model before
    the first question (for piped input, so a script knows which line is a prompt) instead of asking
    pool questions while it loads. ahead (an interactive terminal): a live pair is written while the
    person reads the pool question after the prompt, and asked after it; piped input keeps the fixed
    order prompt, live answer."""
    if s.resumed and not s.done:
        console.print(f"Resuming profile '{s.name}' at question {s.answered + 1}.", markup=False)
    noted = False
    checked_at = -1  # the answer count at which a live question was last considered
    job: _Ahead | _Kept | None = None  # a live pair being written (or kept) for after the question on screen
    stale: _Ahead | None = None  # a cancelled job whose thread may still be using the model
    if driver is not None:
        if wait_for_model:
            console.print("Loading your model for live questions…", markup=False)
            driver.load()
        else:
            console.print("Loading your model for live questions; pool questions come first.", markup=False)
            threading.Thread(target=driver.load, daemon=True).start()
    while True:
        while not s.done:
            if driver is not None and s.answered != checked_at:
                if driver.state != "loading":
                    checked_at = s.answered  # consider a live question once per new question
                if driver.state == "off" and driver.note and not noted:
                    console.print(driver.note, markup=False, highlight=False)
                    noted = True
                model_free = stale is None or not stale.thread.is_alive()
                if ahead and job is None and model_free and s.current().live is None and driver.due(s, ahead=True):
                    prompt = _live_prompt(console, stdin, driver)
                    if prompt is None:
                        return _quit(console, s)
                    if prompt:
                        job = _Ahead(s, driver, prompt)
                        console.print("Your model is writing two replies; they come after this question.",
                                      markup=False)
                elif not ahead and s.current().live is None and driver.due(s):
                    if not _live_turn(console, stdin, s, driver):
                        return _quit(console, s)
                    noted = noted or driver.state == "off"  # _live_turn printed the note
                    if s.done:
                        break
            _show(console, s)
            line = _ask(console, stdin, "Your choice [a/b/n, u undo, q quit, ? help]: ")
            if line is None or line in ("q", "quit"):
                if isinstance(job, _Ahead):
                    job.cancel.set()
                return _quit(console, s)
            if line in ("u", "undo"):
                q, before = s.current(), s.answered
                try:
                    console.print("Undone: asking the previous question again." if s.undo()
                                  else "Nothing to undo yet.", markup=False)
                except PrefchatError:
                    console.print(f"Undone, but not saved: {unsaved_note(s)}.", markup=False,
                                  highlight=False)
                if q is not None and q.live is not None and s.answered < before and job is None:
                    job = _Kept(q.live)  # undo from the live pair: it comes again after the answer undone
                continue
            if line in ("?", "h", "help"):
                console.print(HELP, markup=False, highlight=False)
                continue
            if line not in KEYS:
                console.print(f"Please answer a, b or n ({HELP}).", markup=False, highlight=False)
                continue
            try:
                s.answer(KEYS[line])
            except PrefchatError:
                console.print(f"Not saved: {unsaved_note(s)}.", markup=False, highlight=False)
            if job is not None and s.done:
                if isinstance(job, _Ahead):
                    job.cancel.set()  # the quiz is over: the pair is not needed
                    stale = job
                job = None
            elif job is not None and s.wants_written_pair():  # (after an undo it may have to wait)
                pair, job = job.collect(console), None
                if pair is not None:
                    s.offer_live(pair)
                elif driver.note and not (noted and driver.state == "off"):  # the "off" note: once
                    console.print(driver.note, markup=False, highlight=False)
                    noted = noted or driver.state == "off"
        lost = final_save(s)
        if lost:
            console.print(f"The quiz is finished, but {lost}", markup=False, highlight=False)
            return EXIT_UNSAVED
        summary(console, s)
        if not s.can_extend():
            return EXIT_DONE
        line = _ask(console, stdin, f"Type m for {MORE_QUESTIONS} more questions, or Enter to finish: ")
        if line not in ("m", "more"):
            return EXIT_DONE
        s.extend()


def _quit(console: Console, s: QuizSession) -> int:
    lost = final_save(s)
    if lost:  # never "saved" when it was not: say what is lost, exit non-zero
        console.print(f"{_stopped_at(s)}. {lost}", markup=False, highlight=False)
        return EXIT_UNSAVED
    if s.answered:
        console.print(f"{_stopped_at(s)}; your {s.answered} answers are saved in {s.path}. Run "
                      "`prefchat onboard` to continue.", markup=False, highlight=False)
    else:
        console.print("Stopped before the first answer; nothing was saved.", markup=False)
    return EXIT_STOPPED
