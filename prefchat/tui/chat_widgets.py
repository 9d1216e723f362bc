"""The chat app's widgets and key hints: the input box, the conversation's bubbles and notices, the
line under each reply, the footer's key hints and the F1 help text. Model text is cleaned
(prefchat/textsafe.py) before any of it is shown."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message as TMessage
from textual.widgets import Markdown, Static, TextArea

from prefchat.config import DEFAULT_KEYMAP
from prefchat.textsafe import clean

ACTION_LABELS = {
    "send": "send", "newline": "newline", "editor": "editor", "cancel": "cancel",
    "alternatives": "alternatives", "regenerate": "regenerate", "copy": "copy",
    "system_prompt": "system prompt", "history": "history", "new": "new chat", "help": "help",
}


def _first_key(keys: str) -> str:
    return keys.split(",")[0].strip()


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
