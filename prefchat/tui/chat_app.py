"""`prefchat chat`: the Textual chat app. A view over ChatSession (prefchat/chat/session.py).

Start-up: the screen paints first; building the session (imports the backend module), loading the
model and loading the scorer all happen in one thread worker that reports progress. Generation runs
in another worker. Streamed text is not pushed to the UI per token: the backend's callback appends to
a buffer under a lock, and a 20 Hz timer on the UI thread moves new text into a MarkdownStream (which
appends to the Markdown widget rather than re-rendering it) and updates the tokens/s line. That keeps
long replies smooth and never touches widgets from a worker thread.

Nothing here imports a backend: the session factory given to ChatApp does that inside the worker.
Every failure (model missing, server refused, HTTP errors, timeouts, OOM, anything unexpected) is
shown as a notice in the conversation; the conversation is kept and the prompt goes back into the
input so Enter retries.

The streaming lives in tui/chat_generation.py (GenerationMixin), the screens in tui/chat_screens.py,
the widgets and key hints in tui/chat_widgets.py."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Callable, Optional

from rich.text import Text
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from prefchat.chat.history import KIND_WORDS
from prefchat.config import DEFAULT_KEYMAP
from prefchat.errors import PrefchatError
from prefchat.omp import prefer_passive_waits
from prefchat.textsafe import clean
from prefchat.tui.chat_generation import GenerationMixin, unexpected_error
from prefchat.tui.chat_screens import AlternativesScreen, ChatHelpScreen, ChatScreen, HistoryScreen, SystemPromptScreen
from prefchat.tui.chat_widgets import ChatInput, Notice, ReplyBubble, UserBubble, help_text, reply_meta
from prefchat.tui.clipboard import copy_with_tool, payload


class ChatApp(GenerationMixin, App):
    """session_factory() builds the ChatSession (imports and constructs the backend); it runs in a
    worker. prompt: a first message to send once ready (optional)."""

    CSS_PATH = Path(__file__).with_name("chat.tcss")  # absolute: subclasses live in other folders
    TITLE = "prefchat chat"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    def __init__(self, session_factory: Callable[[], object], keymap: Optional[dict] = None,
                 resume_id: Optional[int] = None, title: str = "") -> None:
        super().__init__()
        self._factory = session_factory
        self.keymap = {**DEFAULT_KEYMAP, **(keymap or {})}
        self.resume_id = resume_id
        self.header = title
        self.session = None
        self.startup_error: Optional[str] = None
        self.generating = False
        self.cancel_event: Optional[threading.Event] = None
        self._buf_lock = threading.Lock()
        self._buf: dict[int, list[str]] = {}
        self._tokens = 0
        self._t0 = 0.0
        self._reply: Optional[ReplyBubble] = None
        self._streamed = 0
        self._stream = None
        self._timer = None
        self.last_error: Optional[str] = None
        self.last_choice = None
        self._history_warned: Optional[object] = None  # the History.problem already shown

    # -- start-up -------------------------------------------------------------------------------

    async def on_mount(self) -> None:
        await self.push_screen(ChatScreen(self.keymap))
        self.get_screen_chat().query_one("#chat-title", Static).update(Text(self.header or "prefchat"))
        self._startup()

    @work(thread=True, exit_on_error=False, group="startup")
    def _startup(self) -> None:
        def state(msg: str) -> None:
            self.call_from_thread(self._set_state, msg)

        try:
            state("preparing…")
            prefer_passive_waits()  # before the model and the scorer load their thread pools
            session = self.session or self._factory()
            if self.session is None:
                self.call_from_thread(self._session_ready, session)
            state("loading model…")
            session.load_backend(lambda m: state(m))
            state("loading scorer…" if session.reranker.personalised else "ready")
            session.load_scorer()
            # Short on purpose: the title (backend, model, profile, N) shares this line and a long
            # backend description squeezed it to nothing at 100 columns. Details: `prefchat doctor`.
            note = getattr(session, "strategy_note", None)  # e.g. no profile: plain candidates
            state(f"ready · {note}" if note else "ready")
        except PrefchatError as exc:
            self.call_from_thread(self._startup_failed, str(exc))
        except Exception as exc:  # noqa: BLE001 - never a traceback on screen
            self.call_from_thread(self._startup_failed, unexpected_error(exc))

    def _set_state(self, msg: str) -> None:
        self.get_screen_chat().query_one("#model-state", Static).update(Text(msg))

    def _session_ready(self, session) -> None:
        self.session = session
        self.startup_error = None
        prof = session.profile_name
        title = self.header or f"prefchat · {session.cfg.backend}:{os.path.basename(session.cfg.model)}"
        title += f" · profile '{prof}'" if prof else " · no profile (first candidate)"
        title += f" · N={session.cfg.n}"
        if prof and getattr(session, "strategy", None):  # how the N candidates differ
            title += f" {session.strategy}"
        self.get_screen_chat().query_one("#chat-title", Static).update(Text(title))
        if self.resume_id is not None:
            self.call_later(self._resume, self.resume_id)

    def _startup_failed(self, message: str) -> None:
        self.startup_error = message
        self._set_state("not ready")
        self.notice(f"{message} — fix it and press Enter to try again", error=True)

    # -- conversation log -------------------------------------------------------------------------

    @property
    def log_view(self) -> VerticalScroll:
        return self.screen.query_one("#log", VerticalScroll) if isinstance(self.screen, ChatScreen) \
            else self.get_screen_chat().query_one("#log", VerticalScroll)

    def get_screen_chat(self) -> ChatScreen:
        return next(s for s in self.screen_stack if isinstance(s, ChatScreen))

    @property
    def input(self) -> ChatInput:
        return self.get_screen_chat().query_one("#prompt", ChatInput)

    def notice(self, text: str, error: bool = False) -> Notice:
        if error:
            self.last_error = text
        n = Notice(Text(("⚠ " if error else "") + clean(text)), classes="error" if error else "")
        self.log_view.mount(n)
        self.log_view.scroll_end(animate=False)
        return n

    async def _render_conversation(self) -> None:
        log = self.log_view
        await log.remove_children()
        s = self.session
        widgets = []
        if s.system_prompt:
            widgets.append(Notice(Text(f"system: {clean(s.system_prompt)}")))
        bubbles = []
        for m in s.messages:
            if m.role == "user":
                widgets.append(UserBubble(m.content))
            else:
                b = ReplyBubble(m)
                widgets.append(b)
                bubbles.append(b)
        await log.mount_all(widgets)
        for b in bubbles:
            b.set_meta(reply_meta(b.message))
        log.scroll_end(animate=False)

    # -- sending ----------------------------------------------------------------------------------

    def on_chat_input_submitted(self, event: ChatInput.Submitted) -> None:
        # ChatInput has already emptied the box (see its docstring): every path that does not send
        # must give the text back.
        text = event.text.strip()
        if not text:
            return
        if text.startswith("/system") and self.session is not None:
            self._apply_system_prompt(text[len("/system"):].strip())
            return
        if self.generating:
            self.input.give_back(event.text)
            self.notify("Still drafting the last reply (Esc cancels it).", timeout=2)
            return
        if self.session is None:
            self.input.give_back(event.text)
            if self.startup_error is not None:
                self.startup_error = None
                self._startup()
            self.notify("Still starting up; your message stays in the box.", timeout=3)
            return
        self.session.add_user(text)
        self.log_view.mount(UserBubble(text))
        self.check_history()
        self._start_generation()

    # -- history faults ---------------------------------------------------------------------------

    @property
    def history_problem(self):
        h = self.session.history if self.session is not None else None
        return getattr(h, "problem", None)

    def check_history(self) -> None:
        """After a history write: if saving failed (locked, unreadable, disk full), say once that
        this conversation is not being saved. It goes on in memory."""
        p = self.history_problem
        if p is None or p is self._history_warned:
            return
        self._history_warned = p

        self.notice(f"{KIND_WORDS.get(p.kind, 'history failed')}: this conversation is not being "
                    f"saved ({p})", error=True)

    @property
    def exit_problem(self) -> Optional[str]:
        """Why the app's exit code is non-zero (None: it ended well)."""
        p = self.history_problem
        if p is not None and self.session is not None and self.session.messages:
            return f"this conversation was not saved: {p}"
        return None

    # -- actions (keymap) -------------------------------------------------------------------------

    def action_cancel(self) -> None:
        if self.generating and self.cancel_event is not None:
            self.cancel_event.set()

    def action_regenerate(self) -> None:
        if self.generating or self.session is None:
            return
        prompt = self.session.pop_reply_for_regenerate()
        if prompt is None:
            self.notify("No reply to regenerate yet.", timeout=2)
            return
        bubbles = self.log_view.query(ReplyBubble)
        if bubbles:
            bubbles.last().remove()
        self._start_generation()

    def action_copy(self) -> None:
        msg = self.session.last_reply() if self.session else None
        if msg is None:
            self.notify("No reply to copy yet.", timeout=2)
            return

        text = payload(msg.content)  # cleaned and bounded: also what OSC 52 carries
        cut = " (cut to the first part)" if len(text) < len(msg.content) else ""
        tool = copy_with_tool(text)
        if tool is not None:
            self.notify(f"Copied the last reply ({len(text)} characters, with {tool}){cut}.",
                        timeout=3)
            return
        self.copy_to_clipboard(text)  # OSC 52: works over SSH where the terminal supports it
        self.notify(f"Sent the last reply ({len(text)} characters) to the terminal's clipboard "
                    "with OSC 52; if pasting does not work, your terminal (or tmux: set-clipboard "
                    f"on) does not support it — install wl-copy, xclip or xsel{cut}.", timeout=6)

    def action_alternatives(self) -> None:
        if self.generating:  # picking one would learn (scorer) while the drafts are being scored
            self.notify("Wait for the reply (Esc cancels it) before choosing an alternative.", timeout=3)
            return
        msg = self.session.last_reply() if self.session else None
        if msg is None or not msg.candidates:
            self.notify("No alternatives yet: send a message first.", timeout=2)
            return

        def picked(index: Optional[int]) -> None:
            if index is not None:
                self.pick_candidate(msg, index)

        self.push_screen(AlternativesScreen(msg), picked)

    def pick_candidate(self, msg, index: int) -> None:
        """Show candidate `index` instead, and (in a worker) teach the profile that it won."""
        s = self.session
        shown_before = s.show_candidate(msg, index)
        if shown_before is None:
            return
        bubble = next((b for b in self.log_view.query(ReplyBubble) if b.message is msg), None)
        if bubble is not None:
            bubble.markdown.update(clean(msg.content))
            bubble.set_meta(reply_meta(msg))
        i = s.messages.index(msg)
        prompt = s.messages[i - 1].content if i > 0 else ""
        other = next(c["text"] for c in msg.candidates if c["index"] == shown_before)
        self._learn(prompt, msg.content, other)

    @work(thread=True, exit_on_error=False, group="learn")
    def _learn(self, prompt: str, chosen: str, other: str) -> None:
        try:
            res = self.session.learn_choice(prompt, chosen, other)
        except PrefchatError as exc:
            self.call_from_thread(self.notify, clean(str(exc)), title="Not learned",
                                  severity="error", timeout=8)
            return
        except Exception as exc:  # noqa: BLE001
            self.call_from_thread(self.notify, clean(unexpected_error(exc)), title="Not learned",
                                  severity="error", timeout=8)
            return
        self.call_from_thread(self._learned, res)

    def _learned(self, res) -> None:
        """On the UI thread: the worker only hands the result over."""
        self.last_choice = res
        self.notify(res.note, timeout=3)

    def action_system_prompt(self) -> None:
        if self.session is None:
            return
        self.push_screen(SystemPromptScreen(self.session.system_prompt),
                         lambda v: v is not None and self._apply_system_prompt(v))

    def _apply_system_prompt(self, text: str) -> None:
        if self.session is None:
            return
        self.session.set_system_prompt(text)
        self.notice(f"system prompt: {text}" if text else "system prompt cleared")

    def action_history(self) -> None:
        if self.session is None or self.session.history is None or self.generating:
            return

        def chosen(conv_id: Optional[int]) -> None:
            if conv_id is not None:
                self.call_later(self._resume, conv_id)

        self.push_screen(HistoryScreen(self.session.history), chosen)

    async def _resume(self, conv_id: int) -> None:
        try:
            self.session.resume(conv_id)
        except PrefchatError as exc:
            self.notice(str(exc), error=True)
            return
        await self._render_conversation()
        self.notify(f"Resumed conversation #{conv_id}.", timeout=2)

    def on_history_screen_deleted(self, event: HistoryScreen.Deleted) -> None:
        conv_id = event.conv_id
        if self.session is not None and self.session.conv_id == conv_id:
            self.session.new_conversation()
            self.log_view.remove_children()

    def action_new(self) -> None:
        if self.session is None or self.generating:
            return
        self.session.new_conversation()
        h = self.session.history
        if h is not None and getattr(h, "problem", None) is not None:
            h.resume_saving()  # a new conversation tries saving again
            self._history_warned = None
        self.log_view.remove_children()
        self.notify("New conversation.", timeout=2)

    def action_editor(self) -> None:
        """Write the prompt in $VISUAL/$EDITOR; what is saved comes back into the input."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        fd, path = tempfile.mkstemp(prefix="prefchat-", suffix=".md")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.input.text)
            try:
                with self.suspend():
                    subprocess.run([*shlex.split(editor), path], check=False)
            except Exception as exc:  # noqa: BLE001 - e.g. no terminal to suspend to, editor missing
                self.notify(f"could not run editor '{editor}' ({exc})", severity="error", timeout=6)
                return
            with open(path, encoding="utf-8") as fh:
                text = fh.read().rstrip("\n")
            self.input.load_text(text)
            self.input.move_cursor(self.input.document.end)
        finally:
            os.unlink(path)

    def action_help(self) -> None:
        self.push_screen(ChatHelpScreen(help_text(self.keymap)))
