"""The onboarding quiz's modal screens: help, the live question's prompt, and the wait while the
user's model writes a live pair. They post no work themselves: the app's workers do that."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class HelpScreen(ModalScreen[None]):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield Static(self.text, id="help")

    def on_key(self, event) -> None:
        event.stop()
        self.dismiss()

    def on_click(self) -> None:
        self.dismiss()


class LivePromptScreen(ModalScreen[str | None]):
    """Ask for the prompt of a live question; dismisses with the prompt, or None for a pool question."""

    BINDINGS = [Binding("escape", "pool", "Pool question instead")]

    def __init__(self, hint: str) -> None:
        super().__init__()
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Container(id="live-box"):
            yield Static("[b]Live question[/b]\nType a prompt you care about; your model writes two replies "
                         "for you to choose between. Enter asks it; Esc takes a pool question instead.",
                         id="live-help")
            yield Input(value=self.hint, id="live-prompt")
            with Horizontal(id="live-choices"):
                yield Button("enter: ask my model", id="live-go", compact=True, variant="primary")
                yield Button("esc: pool question", id="live-pool", compact=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or self.hint)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "live-go":
            self.dismiss(self.query_one("#live-prompt", Input).value.strip() or self.hint)
        else:
            self.dismiss(None)

    def action_pool(self) -> None:
        self.dismiss(None)


class WaitScreen(ModalScreen[None]):
    """Shown while the model writes a live pair; Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        yield Static("Writing two replies with your model…\n[dim]Esc: cancel and take a pool question[/dim]",
                     id="live-wait")

    def action_cancel(self) -> None:
        self.app.cancel_live("Live question cancelled; here is one from the pool.")
