"""Small widgets for the onboarding quiz. They render what they are given and post messages; none of
them knows about the quiz logic, the basis or the profile store."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from prefchat.textsafe import clean


def settled_bar(fraction: float, cells: int = 10) -> str:
    """'█████░░░░░': filled as the mean posterior sd shrinks from the prior's."""
    n = int(round(max(0.0, min(1.0, fraction)) * cells))
    return "█" * n + "░" * (cells - n)


class ResponsePanel(VerticalScroll):
    """One response, scrollable when long. Clicking it chooses it (posts `Chosen`)."""

    class Chosen(Message):
        def __init__(self, choice: str) -> None:
            super().__init__()
            self.choice = choice

    def __init__(self, choice: str, label: str, **kw) -> None:
        super().__init__(**kw)
        self.choice = choice
        self.border_title = Text(label)  # a Text, so brackets in a label are never markup
        self._body = Static("", classes="response-text")

    def compose(self):
        yield self._body

    def show(self, text: str) -> None:
        # Text(...) rather than a str: corpus text is data, and "[b]" in it must not become markup.
        self._body.update(Text(clean(text)))
        self.scroll_home(animate=False)

    def on_click(self) -> None:
        self.post_message(self.Chosen(self.choice))
