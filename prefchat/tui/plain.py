"""`prefchat onboard --plain`: the same QuizSession on stdin/stdout with rich, one line per answer.

Made for screen readers, dumb terminals and scripts: answers can be piped in (`printf 'a\\nb\\n' |
prefchat onboard --plain`). End of input means quit; every answer given so far is already saved."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from prefchat.errors import PrefchatError
from prefchat.tui.quiz import MORE_QUESTIONS, QuizSession, leanings

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
    console.print(prompt, end="", markup=False, highlight=False)
    console.file.flush()
    line = stdin.readline()
    if not line:
        console.print()
        return None
    return line.strip().lower()


def _show(console: Console, s: QuizSession) -> None:
    q = s.current()
    st = s.settled()
    console.print(Rule(f"Question {q.number} of {s.total}  ·  settled {st.fraction:.0%}", align="left"))
    console.print(Text(q.prompt, style="bold"))
    console.print()
    console.print(Text("Response A", style="bold underline"))
    console.print(Text(q.a))
    console.print()
    console.print(Text("Response B", style="bold underline"))
    console.print(Text(q.b))
    console.print()


def summary(console: Console, s: QuizSession) -> None:
    from prefchat.profiles.view import render

    console.print(Rule("Your profile"))
    console.print(render(s.profile(), s.basis))
    lean = leanings(s.rows()) if s.basis.axes else []
    if lean:
        console.print("You prefer replies that are " + ", ".join(f"{p} ({h})" for p, h in lean[:4]) + ".",
                      markup=False, highlight=False)
    console.print(Text.assemble("Saved to ", (str(s.path), "bold")))
    console.print(Text.assemble("Next: ", ("prefchat chat", "bold"), " — chat with replies picked for you."))


def run_plain(s: QuizSession, stdin: IO[str], console: Console) -> int:
    """Run the quiz; returns the exit code (0 finished and saved, 1 stopped early with progress kept)."""
    if s.resumed and not s.done:
        console.print(f"Resuming profile '{s.name}' at question {s.answered + 1}.", markup=False)
    while True:
        while not s.done:
            _show(console, s)
            line = _ask(console, stdin, "Your choice [a/b/n, u undo, q quit, ? help]: ")
            if line is None or line in ("q", "quit"):
                lost = final_save(s)
                if lost:
                    console.print(f"Stopped at question {s.answered + 1} of {s.total}. {lost}",
                                  markup=False, highlight=False)
                    return EXIT_UNSAVED
                if s.answered:
                    console.print(f"Stopped at question {s.answered + 1} of {s.total}; your "
                                  f"{s.answered} answers are saved in {s.path}. Run `prefchat onboard` "
                                  "to continue.", markup=False, highlight=False)
                else:
                    console.print("Stopped before the first answer; nothing was saved.", markup=False)
                return EXIT_STOPPED
            if line in ("u", "undo"):
                try:
                    console.print("Undone: asking the previous question again." if s.undo()
                                  else "Nothing to undo yet.", markup=False)
                except PrefchatError:
                    console.print(f"Undone, but not saved: {unsaved_note(s)}.", markup=False,
                                  highlight=False)
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
