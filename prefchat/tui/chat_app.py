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
input so Enter retries."""

from __future__ import annotations

import os
import threading
import time
from typing import Callable, Optional

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TMessage
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Markdown, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from prefchat.config import DEFAULT_KEYMAP
from prefchat.errors import PrefchatError
from prefchat.omp import prefer_passive_waits
from prefchat.textsafe import clean
from prefchat.tui.chat_css import CSS

FLUSH_HZ = 20

ACTION_LABELS = {
    "send": "send", "newline": "newline", "editor": "editor", "cancel": "cancel",
    "alternatives": "alternatives", "regenerate": "regenerate", "copy": "copy",
    "system_prompt": "system prompt", "history": "history", "new": "new chat", "help": "help",
}


def _first_key(keys: str) -> str:
    return keys.split(",")[0].strip()


# --- widgets -------------------------------------------------------------------------------------

class ChatInput(TextArea):
    """Multi-line input: the send keys post Submitted, the newline keys insert a line break.

    The text is taken out of the box here, when the send key is read, not later when the app handles
    Submitted: keys typed right after Enter (often in the same terminal read) are already queued
    behind it, and clearing the box afterwards ate them ("line two" arrived as "ne two"). The app
    gives the text back with `give_back` when it cannot send it yet."""

    # Spellings Textual gives some terminals' modified Enter: xterm's modifyOtherKeys sends
    # CSI 27;2;13~ for Shift+Enter, which Textual names "shift+\r".
    KEY_ALIASES = {"shift+\r": "shift+enter", "ctrl+\r": "ctrl+enter"}

    class Submitted(TMessage):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, send_keys: set[str], newline_keys: set[str], **kw) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kw)
        self.send_keys = send_keys
        self.newline_keys = newline_keys

    async def _on_key(self, event) -> None:
        key = self.KEY_ALIASES.get(event.key, event.key)
        if key in self.send_keys:
            event.stop()
            event.prevent_default()
            text = self.text
            if text.strip():
                self.clear()
            self.post_message(self.Submitted(text))
            return
        if key in self.newline_keys:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        await super()._on_key(event)

    def give_back(self, text: str) -> None:
        """Put a message that was not sent back into the box, before anything typed since."""
        typed = self.text
        sep = "\n" if typed.strip() and not text.endswith("\n") else ""
        self.load_text(text + sep + typed)
        self.move_cursor(self.document.end)


class UserBubble(Static):
    def __init__(self, text: str) -> None:
        super().__init__(Text(clean(text)))
        self.text = text


class Notice(Static):
    pass


class ReplyBubble(Vertical):
    def __init__(self, message=None) -> None:
        super().__init__()
        self.message = message  # history.Message once the reply is complete
        self.stream = None

    def compose(self) -> ComposeResult:
        yield Markdown(clean(self.message.content) if self.message else "")
        yield Static("", classes="reply-meta")

    @property
    def markdown(self) -> Markdown:
        return self.query_one(Markdown)

    def set_meta(self, text: str) -> None:
        self.query_one(".reply-meta", Static).update(Text(clean(text)))


def reply_meta(msg) -> str:
    m = msg.meta or {}
    parts = []
    n = m.get("n") or len(msg.candidates) or 1
    if msg.candidates:
        pos = next((r for r, c in enumerate(msg.candidates) if c["index"] == msg.chosen), 0)
        score = msg.candidates[pos].get("score")
        if n > 1:
            parts.append(f"candidate {msg.chosen + 1} of {n}" + (f" (rank {pos + 1})" if pos else
                                                                    " (best)"))
        if score is not None:
            parts.append(f"score {score:+.3f}")
    if "tokens_per_s" in m:
        parts.append(f"{m['tokens_per_s']:.1f} tok/s")
    if "seconds" in m:
        parts.append(f"{m['seconds']:.1f} s")
    if m.get("rerank_seconds"):
        parts.append(f"rerank {m['rerank_seconds'] * 1000:.0f} ms")
    if m.get("note"):
        parts.append(m["note"])
    return " · ".join(parts)


# --- modal screens -------------------------------------------------------------------------------

class AlternativesScreen(ModalScreen[Optional[int]]):
    """All candidates, best first, with scores, each one's instruction (styled candidates), the
    guard's reason for any it dropped, and why #1 won. Enter or 1-9 picks one; Esc closes."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close")] + [
        Binding(str(i), f"pick_rank({i - 1})", show=False) for i in range(1, 10)]

    def __init__(self, msg) -> None:
        super().__init__()
        self.msg = msg

    def compose(self) -> ComposeResult:
        meta = self.msg.meta or {}
        with Vertical(classes="modal-box"):
            strategy = f" · {meta['strategy']} candidates" if meta.get("strategy") else ""
            yield Static(f"{len(self.msg.candidates)} candidates, best first{strategy}",
                         classes="modal-title")
            if meta.get("why"):
                yield Static(Text(f"Why #1: {meta['why']}"), id="alternatives-why")
            opts = []
            for rank, c in enumerate(self.msg.candidates):
                score = "unscored" if c.get("score") is None else f"score {c['score']:+.3f}"
                shown = "  ◀ shown" if c["index"] == self.msg.chosen else ""
                head = Text(f"{rank + 1}. candidate {c['index'] + 1} · {score}{shown}", style="bold")
                lines = [head]
                if c.get("dropped"):
                    lines += ["\n", Text(f"dropped by the guard: {c['dropped']}", style="red")]
                elif c.get("guard_note"):
                    lines += ["\n", Text(f"guard: {c['guard_note']}", style="yellow")]
                if "instruction" in c:  # replies saved before per-candidate instructions have none
                    lines += ["\n", Text(f"instruction: {c['instruction'] or '(none)'}",
                                          style="italic dim")]
                body = c["text"].strip() or "(empty)"
                if len(body) > 600:
                    body = body[:600] + "…"
                opts.append(Option(Text.assemble(*lines, "\n", Text(clean(body))), id=str(c["index"])))
            yield OptionList(*opts, id="alternatives")
            yield Static("Enter or 1-9: use this reply (and teach your profile) · Esc: close",
                         classes="modal-hint")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.focus()
        ol.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id))

    def action_pick_rank(self, rank: int) -> None:
        if rank < len(self.msg.candidates):
            self.dismiss(self.msg.candidates[rank]["index"])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class HistoryScreen(ModalScreen[Optional[int]]):
    """Saved conversations: Enter resumes, d deletes, Esc closes."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close"), Binding("d", "delete", "Delete")]

    class Deleted(TMessage):
        """A conversation was deleted here; the app drops it if it is the open one."""

        def __init__(self, conv_id: int) -> None:
            super().__init__()
            self.conv_id = conv_id

    def __init__(self, history) -> None:
        super().__init__()
        self.history = history

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(f"Conversations  ({self.history.path})", classes="modal-title")
            yield OptionList(id="conversations")
            yield Static("Enter: resume · d: delete · Esc: close", classes="modal-hint")

    def on_mount(self) -> None:
        self._fill()
        ol = self.query_one(OptionList)
        ol.focus()
        if ol.option_count and ol.highlighted is None:
            ol.highlighted = 0

    def _fill(self) -> None:
        ol = self.query_one(OptionList)
        ol.clear_options()
        try:
            convs = self.history.list()
        except PrefchatError as exc:
            ol.add_option(Option(Text(clean(str(exc))), id="none", disabled=True))
            return
        if not convs:
            ol.add_option(Option("No saved conversations yet.", id="none", disabled=True))
        for c in convs:
            ol.add_option(Option(Text.assemble((f"#{c.id} ", "bold"), clean(c.title) or "(untitled)",
                                               (f"  {c.n_messages} messages · {c.updated_at}", "dim")),
                                 id=str(c.id)))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id and event.option.id != "none":
            self.dismiss(int(event.option.id))

    def action_delete(self) -> None:
        ol = self.query_one(OptionList)
        if ol.highlighted is None:
            return
        opt = ol.get_option_at_index(ol.highlighted)
        if opt.id and opt.id != "none":
            try:
                self.history.delete(int(opt.id))
            except PrefchatError as exc:
                self.notify(clean(str(exc)), title="Not deleted", severity="error", timeout=8)
                return
            if getattr(self.history, "problem", None) is not None:
                self.notify(clean(str(self.history.problem)), title="Not deleted",
                            severity="error", timeout=8)
                return
            self.post_message(self.Deleted(int(opt.id)))  # a message, not a call into the app
            self.notify(f"Deleted conversation #{opt.id}.", timeout=2)
            self._fill()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class SystemPromptScreen(ModalScreen[Optional[str]]):
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static("System prompt for this conversation", classes="modal-title")
            yield Input(self.current, placeholder="e.g. You are a concise assistant.", id="system")
            yield Static("Enter: save (empty clears it) · Esc: cancel", classes="modal-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class ChatHelpScreen(ModalScreen[None]):
    def __init__(self, text: Text) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(self.text)

    def on_key(self, event) -> None:
        event.stop()
        self.dismiss()


# --- the chat screen -----------------------------------------------------------------------------

class ChatScreen(Screen):
    def __init__(self, keymap: dict) -> None:
        super().__init__()
        self.keymap = {**DEFAULT_KEYMAP, **keymap}
        for action in ("editor", "cancel", "alternatives", "regenerate", "copy", "system_prompt",
                       "history", "new", "help"):
            self._bindings.bind(self.keymap[action], f"app.{action}", ACTION_LABELS[action],
                                show=False, priority=True)

    def compose(self) -> ComposeResult:
        with Horizontal(id="chat-top"):
            yield Static(id="chat-title")
            yield Static("starting…", id="model-state")
        yield VerticalScroll(id="log")
        yield Static("", id="progress")
        yield ChatInput({k.strip() for k in self.keymap["send"].split(",")},
                        {k.strip() for k in self.keymap["newline"].split(",")}, id="prompt")
        yield Static(id="keys")

    def on_mount(self) -> None:
        self.query_one("#prompt").focus()
        self.query_one("#keys", Static).update(Text(footer_text(self.keymap, self.app.size.width - 2)))

    def on_resize(self, event) -> None:
        # #keys has one column of padding each side
        self.query_one("#keys", Static).update(Text(footer_text(self.keymap, event.size.width - 2)))


def key_label(keys: str) -> str:
    """The key to show for an action: the first one bound, spelled as people say it."""
    k = _first_key(keys)
    return {"escape": "esc"}.get(k, k)


# Footer entries, most important first: what fits the terminal's width is shown, in this order.
# Help and quit come right after send/newline so that they survive an 80-column terminal.
FOOTER_ORDER = ("send", "newline", "help", "quit", "cancel", "alternatives", "regenerate", "copy",
                "history", "new", "system_prompt", "editor")


def footer_text(keymap: dict, width: int) -> str:
    """The key hints that fit in `width` columns, most important first (see FOOTER_ORDER)."""
    km = {**DEFAULT_KEYMAP, **keymap}
    out: list[str] = []
    for action in FOOTER_ORDER:
        item = "ctrl+c quit" if action == "quit" else f"{key_label(km[action])} {ACTION_LABELS[action]}"
        if len(" · ".join(out + [item])) <= width:
            out.append(item)
    return " · ".join(out)


class ChatApp(App):
    """session_factory() builds the ChatSession (imports and constructs the backend); it runs in a
    worker. prompt: a first message to send once ready (optional)."""

    CSS = CSS
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
            self.call_from_thread(self._startup_failed, _unexpected(exc))

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

    def _start_generation(self) -> None:
        self.generating = True
        self.cancel_event = threading.Event()
        with self._buf_lock:
            self._buf = {}
            self._tokens = 0
        self._t0 = time.perf_counter()
        self._streamed = 0
        self._reply = ReplyBubble()
        self.log_view.mount(self._reply)
        self.log_view.scroll_end(animate=False)
        self._stream = None
        self._timer = self.set_interval(1 / FLUSH_HZ, self._flush_stream)
        self._generate(self.cancel_event)

    def _on_delta(self, i: int, text: str) -> None:  # backend thread
        with self._buf_lock:
            self._buf.setdefault(i, []).append(text)
            self._tokens += 1

    async def _flush_stream(self) -> None:
        if self._reply is None:
            return
        with self._buf_lock:
            first = "".join(self._buf.get(0, []))
            tokens = self._tokens
            n_streams = len(self._buf)
        # Model text reaches the screen cleaned (prefchat/textsafe.py). Cleaning a prefix can drop an
        # escape sequence that is still arriving; the next flush sees it whole and drops all of it, so
        # the cleaned text only ever grows at its end. _streamed counts cleaned characters.
        first = clean(first)
        new = first[self._streamed:]
        if new and self._reply.is_mounted:
            if self._stream is None:
                self._stream = Markdown.get_stream(self._reply.markdown)
            self._streamed = len(first)
            await self._stream.write(new)
            self.log_view.scroll_end(animate=False)
        el = time.perf_counter() - self._t0
        n = self.session.cfg.n if self.session else 1
        rate = tokens / el if el > 0 else 0.0
        self.get_screen_chat().query_one("#progress", Static).update(Text(
            f"drafting {n} candidate{'s' if n != 1 else ''} ({max(n_streams, 0)} streaming) · "
            f"{tokens} tokens · {rate:.1f} tok/s · {el:.1f} s · Esc cancels"))

    @work(thread=True, exit_on_error=False, group="generate")
    def _generate(self, cancel: threading.Event) -> None:
        from prefchat.chat import Cancelled  # the UI reaches llm/ only through chat/

        try:
            result = self.session.generate(self._on_delta, cancel)
        except Cancelled:
            self.call_from_thread(self._generation_done, None, None, True)
        except PrefchatError as exc:
            self.call_from_thread(self._generation_done, None, str(exc), False)
        except Exception as exc:  # noqa: BLE001 - the TUI must survive anything a backend does
            self.call_from_thread(self._generation_done, None, _unexpected(exc), False)
        else:
            self.call_from_thread(self._generation_done, result, None, False)

    async def _generation_done(self, result, error: Optional[str], cancelled: bool) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.generating = False
        self.cancel_event = None
        reply, self._reply = self._reply, None
        self.get_screen_chat().query_one("#progress", Static).update("")
        if result is None:
            if reply is not None:
                await reply.remove()
            prompt = self.session.drop_last_user()
            bubbles = self.log_view.query(UserBubble)
            if prompt and bubbles:
                await bubbles.last().remove()
            if prompt and not self.input.text.strip():
                self.input.load_text(prompt)
                self.input.move_cursor(self.input.document.end)
            if cancelled:
                self.notify("Cancelled; your prompt is back in the box.", timeout=3)
            else:
                self.notice(f"{error} — your prompt is back in the box; press Enter to retry",
                            error=True)
            self.input.focus()
            return
        msg = self.session.add_reply(result)
        self.check_history()
        reply.message = msg
        if result.rerank.best.index != 0 or self._streamed != len(clean(msg.content)):
            await reply.markdown.update(clean(msg.content))
        reply.set_meta(reply_meta(msg))
        self.log_view.scroll_end(animate=False)

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
        from prefchat.chat.history import KIND_WORDS

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
        from prefchat.tui.clipboard import copy_with_tool, payload

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
            self.call_from_thread(self.notify, clean(_unexpected(exc)), title="Not learned",
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
        import shlex
        import subprocess
        import tempfile

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


def help_text(keymap: dict) -> Text:
    """The F1 screen. Built as Text, not markup: "[keymap]" must read as written."""
    km = {**DEFAULT_KEYMAP, **keymap}
    rows = [(", ".join(k.strip() for k in km[a].split(",")), label) for a, label in ACTION_LABELS.items()]
    rows.append(("ctrl+c", "quit"))
    width = max(len(k) for k, _ in rows) + 3
    t = Text()
    t.append("Keys", style="bold")
    t.append(" (change them under [keymap] in the config file: prefchat config path)\n\n")
    for keys, label in rows:
        t.append(f"  {keys:<{width}}", style="bold")
        t.append(label + "\n")
    t.append("\nctrl+j adds a newline in every terminal. shift+enter does only where the terminal "
             "reports it (kitty, WezTerm, foot, Ghostty; iTerm2 with CSI u): elsewhere it sends, and "
             "alt+enter always reads as enter.\n")
    t.append("Type ")
    t.append("/system TEXT", style="bold")
    t.append(" to set the system prompt. Picking another candidate teaches your profile "
             "(config learn_from_choices).\n")
    t.append("\nPress any key to close.", style="dim")
    return t


def _unexpected(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "out of memory; try a smaller model, fewer candidates (-n) or fewer max_tokens"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"unexpected error: {type(exc).__name__}: {text}"
