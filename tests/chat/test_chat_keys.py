"""The chat input's keys as terminals really send them, through Textual's own parser.

Pilot's `press` builds key events by name and waits for the app between keys, which hides two things
a person at a terminal meets: (1) what the bytes of Alt+Enter / Shift+Enter actually parse to, and
(2) keys that arrive in one read() right after Enter. So these tests feed raw bytes to Textual's
XTermParser and hand the resulting events to the app the way the Linux driver does (all of one read
at once, no waiting in between). The backend is the real llama.cpp on the tiny random GGUF, with no
profile (unpersonalised: first candidate), so no scorer is loaded."""

from __future__ import annotations

import pytest
from textual._xterm_parser import XTermParser

from prefchat.config import Config, DEFAULT_KEYMAP
from prefchat.tui.chat_app import ChatApp
from prefchat.tui.chat_screens import ChatHelpScreen
from prefchat.tui.chat_widgets import UserBubble

from tests.tui.screens import screen_text, sync

ENTER = "\r"
ALT_ENTER = "\x1b\r"              # xterm, GNOME Terminal/VTE, tmux, iTerm2, Windows Terminal
CTRL_J = "\n"                     # every terminal: Ctrl+J is LF
SHIFT_ENTER_KITTY = "\x1b[13;2u"  # kitty keyboard protocol (kitty, WezTerm, foot, Ghostty, iTerm2 CSI u)
SHIFT_ENTER_XTERM_MOK = "\x1b[27;2;13~"  # xterm with modifyOtherKeys=2


def feed(app, data: str) -> None:
    """Deliver `data` as one terminal read: parse it, then post every event without waiting."""
    parser = XTermParser()
    events = list(parser.feed(data)) + list(parser.feed(""))  # "" flushes a lone trailing ESC
    for ev in events:
        ev.set_sender(app)
        app._driver.send_message(ev)


def chat_app(tiny_gguf, keymap=None):
    cfg = Config(backend="llama", model=str(tiny_gguf), n=1, max_tokens=24)

    def build():
        from prefchat.chat.factory import make_session

        return make_session(cfg, None)
    return ChatApp(build, keymap=keymap)


async def started(app, pilot):
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.session is not None, screen_text(app)


async def typed(app, pilot, data: str) -> str:
    feed(app, data)
    for _ in range(3):
        await pilot.pause()
    return app.input.text


def test_what_textual_reads_from_each_terminal_sequence():
    """The facts the keymap is built on (Textual 8): if a Textual upgrade changes them, this says so."""
    def keys(data):
        p = XTermParser()
        return [e.key for e in list(p.feed(data)) + list(p.feed(""))]

    assert keys(ALT_ENTER) == ["enter"]          # indistinguishable from Enter: cannot be a newline key
    assert keys(CTRL_J) == ["ctrl+j"]
    assert keys(SHIFT_ENTER_KITTY) == ["shift+enter"]
    assert keys(SHIFT_ENTER_XTERM_MOK) == ["shift+\r"]
    newline = DEFAULT_KEYMAP["newline"].split(",")
    assert newline[0] == "ctrl+j" and "alt+enter" not in newline


@pytest.mark.parametrize("seq", [CTRL_J, SHIFT_ENTER_KITTY, SHIFT_ENTER_XTERM_MOK],
                         ids=["ctrl+j", "shift+enter-kitty", "shift+enter-xterm-modifyOtherKeys"])
@sync
async def test_newline_keys_insert_a_newline_and_do_not_send(home, tiny_gguf, seq):
    app = chat_app(tiny_gguf)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(app, pilot)
        text = await typed(app, pilot, "line one" + seq + "line two")
        assert text == "line one\nline two", screen_text(app)
        assert not app.get_screen_chat().query(UserBubble) and not app.generating


@sync
async def test_alt_enter_reads_as_enter_so_it_is_not_advertised(home, tiny_gguf):
    """Alt+Enter as xterm/VTE/tmux/iTerm2/Windows Terminal send it (ESC CR) is Enter to Textual: it
    sends. The keys shown must therefore not offer it for a newline."""
    app = chat_app(tiny_gguf)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(app, pilot)
        await typed(app, pilot, "hello" + ALT_ENTER)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [b.text for b in app.get_screen_chat().query(UserBubble)] == ["hello"], screen_text(app)
        shown = screen_text(app)
        assert "ctrl+j newline" in shown and "alt+enter" not in shown


@sync
async def test_keys_typed_right_after_enter_are_kept(home, tiny_gguf):
    """Enter and the next words in one terminal read: the message is sent and every later key stays
    in the box, also while the reply is drafted (the input stays live)."""
    app = chat_app(tiny_gguf)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(app, pilot)
        text = await typed(app, pilot, "line one" + ENTER + "line two")
        assert [b.text for b in app.get_screen_chat().query(UserBubble)] == ["line one"]
        assert text == "line two"
        more = await typed(app, pilot, " and three")  # while drafting (or just after)
        assert more == "line two and three"
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.input.text == "line two and three"


@sync
async def test_enter_while_drafting_gives_the_text_back(home, tiny_gguf):
    app = chat_app(tiny_gguf)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(app, pilot)
        app.generating = True  # as while a reply streams; the send must be refused, text kept
        text = await typed(app, pilot, "second" + ENTER + "!")
        assert text == "second\n!" and not app.get_screen_chat().query(UserBubble)


@sync
async def test_help_screen_shows_keymap_and_columns(home, tiny_gguf):
    app = chat_app(tiny_gguf)
    async with app.run_test(size=(100, 40)) as pilot:
        await started(app, pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, ChatHelpScreen)
        shown = screen_text(app)
        assert "under [keymap] in the config file" in shown, shown
        row = next(line for line in shown.splitlines() if "newline" in line and "ctrl+j" in line)
        assert "ctrl+j, shift+enter" in row and "shift+enter newline" not in row  # a gap, not glued
        assert any("ctrl+c" in line and "quit" in line for line in shown.splitlines())


@pytest.mark.parametrize("width", [80, 100])
@sync
async def test_footer_shows_help_and_quit(home, tiny_gguf, width):
    app = chat_app(tiny_gguf)
    async with app.run_test(size=(width, 24)) as pilot:
        await started(app, pilot)
        footer = screen_text(app).rstrip("\n").splitlines()[-1]
        assert "f1 help" in footer and "ctrl+c quit" in footer, footer
        assert "enter send" in footer and "ctrl+j newline" in footer


@sync
async def test_footer_follows_resize_and_keymap(home, tiny_gguf):
    app = chat_app(tiny_gguf, keymap={"help": "f9"})
    async with app.run_test(size=(140, 24)) as pilot:
        await started(app, pilot)
        wide = screen_text(app).rstrip("\n").splitlines()[-1]
        assert "f9 help" in wide and "ctrl+r regenerate" in wide and "f2 history" in wide
        await pilot.resize_terminal(60, 24)
        await pilot.pause()
        narrow = screen_text(app).rstrip("\n").splitlines()[-1]
        assert "f9 help" in narrow and "ctrl+c quit" in narrow and "regenerate" not in narrow
