"""The chat app's screens: the main chat screen (title, conversation, progress, input, key hints) and
the modal ones (alternatives, saved conversations, system prompt, help)."""

from __future__ import annotations

from typing import Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TMessage
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from prefchat.config import DEFAULT_KEYMAP
from prefchat.errors import PrefchatError
from prefchat.textsafe import clean
from prefchat.tui.chat_widgets import ACTION_LABELS, ChatInput, footer_text


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
