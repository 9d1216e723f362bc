"""Generation for the chat app: start a reply, stream it to the screen, and finish (or undo) it.

The backend's callback runs on its own thread and only appends to a buffer under a lock; a 20 Hz
timer on the UI thread moves new text into a MarkdownStream and updates the tokens/s line, so long
replies stay smooth and no widget is touched from a worker thread. GenerationMixin is mixed into
ChatApp (prefchat/tui/chat_app.py), which owns the state it uses (set in ChatApp.__init__)."""

from __future__ import annotations

import threading
import time
from typing import Optional

from rich.text import Text
from textual import work
from textual.widgets import Markdown, Static

from prefchat.chat import Cancelled
from prefchat.errors import PrefchatError
from prefchat.textsafe import clean
from prefchat.tui.chat_widgets import ReplyBubble, UserBubble, reply_meta

FLUSH_HZ = 20


class GenerationMixin:
    """ChatApp's generation worker and streaming; see the module docstring."""

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
        try:
            result = self.session.generate(self._on_delta, cancel)
        except Cancelled:
            self.call_from_thread(self._generation_done, None, None, True)
        except PrefchatError as exc:
            self.call_from_thread(self._generation_done, None, str(exc), False)
        except Exception as exc:  # noqa: BLE001 - the TUI must survive anything a backend does
            self.call_from_thread(self._generation_done, None, unexpected_error(exc), False)
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


def unexpected_error(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "out of memory; try a smaller model, fewer candidates (-n) or fewer max_tokens"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"unexpected error: {type(exc).__name__}: {text}"
