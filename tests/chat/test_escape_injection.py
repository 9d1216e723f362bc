"""Model output must never control the terminal. A real OpenAI-compatible server on loopback replies
with OSC 52 (clipboard), OSC 0 (window title), ESC[2J (clear screen), a C1 CSI (0x9b), a DCS string
and a bare BEL; `prefchat ask` (piped and on a pty), the chat TUI (Pilot), its alternatives list,
`history show` and `history export` must show the text without any of it. History keeps the raw text."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys

import pytest

from prefchat.chat.history import History, Message
from prefchat.config import Config
from prefchat.textsafe import clean, visible
from prefchat.tui.chat_app import ChatApp
from prefchat.tui.chat_screens import AlternativesScreen
from prefchat.tui.chat_widgets import Notice, ReplyBubble

from tests.llm.loopback import ScriptedServer
from tests.tui.screens import screen_text, sync

EVIL = ("Here \x1b]52;c;UFdORUQtQ0xJUEJPQVJE\x1b\\ done \x1b]0;pwned title\x07 and\x1b[2J wiped"
        " \x9b31mred \x1bP1$qm\x1b\\dcs \x1b_apc\x1b\\ bell\x07 end")
VISIBLE_WORDS = ("Here", "done", "and", "wiped", "red", "dcs", "bell", "end")
BAD = ("\x1b", "\x9b", "\x07", "\x90", "\x9d", "\x9c")


def assert_inert(text: str) -> None:
    for b in BAD:
        assert b not in text, f"{b!r} reached the terminal: {text!r}"
    assert "UFdORUQ" not in text and "pwned title" not in text  # payloads gone, not just the ESC


@pytest.fixture
def evil():
    s = ScriptedServer(EVIL)
    yield s
    s.close()


def test_clean_and_visible_units():
    out = clean(EVIL + "\ttab\nline\r\n")
    assert_inert(out)
    for w in VISIBLE_WORDS:
        assert w in out
    assert "\ttab\nline\n" in out
    assert clean("unterminated \x1b]52;c;AAAA") == "unterminated "
    assert clean("a\x1bcb") == "ab"  # ESC c (full reset) is a two-byte sequence
    v = visible(EVIL)
    assert "\\x1b]52;c;UFdORUQtQ0xJUEJPQVJE\\x1b\\" in v and "\\u009b31m" in v
    assert not any(b in v for b in BAD)


def run(*args, env):
    return subprocess.run([sys.executable, "-m", "prefchat", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


def test_ask_piped_and_on_a_terminal_is_clean(home, evil):
    env = {"PREFCHAT_BASE_URL": evil.url}
    r = run("ask", "hi", "--backend", "openai", "--model", "m", "-n", "1", env=env)
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout)
    assert all(w in r.stdout for w in VISIBLE_WORDS)
    r = run("ask", "hi", "--backend", "openai", "--model", "m", "-n", "2", "--all", env=env)
    assert r.returncode == 0 and r.stdout.count("=== #") == 2
    assert_inert(r.stdout)
    # On a real terminal (a pty), where the escapes would act.
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "prefchat", "ask", "hi", "--backend", "openai",
                          "--model", "m", "-n", "1"], stdin=slave, stdout=slave, stderr=slave,
                         env={**os.environ, **env}, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    p.wait(30)
    os.close(master)
    text = out.decode("utf-8", "replace")
    assert p.returncode == 0, text
    assert "Here" in text and "end" in text
    assert_inert(text)


def test_server_error_message_is_cleaned(home):
    """An HTTP 400 whose message carries an escape: the one-line error must not carry it."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            data = json.dumps({"error": {"message": "bad \x1b]52;c;UFdORUQ=\x07 request",
                                         "type": "x"}}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = run("ask", "hi", "--backend", "openai", "--model", "m", "-n", "1",
                env={"PREFCHAT_BASE_URL": f"http://127.0.0.1:{srv.server_address[1]}/v1"})
    finally:
        srv.shutdown()
    assert r.returncode == 2 and "HTTP 400" in r.stderr and "Traceback" not in r.stderr
    assert_inert(r.stderr)


def test_history_show_cleans_and_export_escapes_visibly(home, tmp_path):
    h = History()
    cid = h.create(title="t \x1b]0;title\x07", backend="openai", model="m")
    h.add_message(cid, Message("user", "hi"))
    h.add_message(cid, Message("assistant", EVIL))
    assert h.get(cid).messages[1].content == EVIL  # stored raw
    r = run("history", "show", str(cid), env={})
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout)
    assert "wiped" in r.stdout
    r = run("history", "list", env={})
    assert r.returncode == 0 and "t " in r.stdout
    assert_inert(r.stdout)
    for args in (("history", "export", str(cid)),
                 ("history", "export", str(cid), "-o", str(tmp_path / "c.md"))):
        r = run(*args, env={})
        assert r.returncode == 0, r.stderr
        text = r.stdout if "-o" not in args else (tmp_path / "c.md").read_text()
        assert not any(b in text for b in BAD)
        assert "\\x1b]52;c;UFdORUQtQ0xJUEJPQVJE" in text  # visibly escaped, not dropped


@sync
async def test_chat_tui_reply_stream_alternatives_and_notices_are_clean(home, evil):
    from prefchat.chat.factory import make_session

    cfg = Config(backend="openai", model="m", base_url=evil.url, n=2, max_tokens=64)
    app = ChatApp(lambda: make_session(cfg, None))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.session is not None
        await pilot.press(*"hi", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        s = app.session
        assert [m.role for m in s.messages] == ["user", "assistant"], app.last_error
        assert s.messages[1].content == EVIL  # raw in memory and history
        assert History().get(s.conv_id).messages[1].content == EVIL
        bubble = app.log_view.query(ReplyBubble).last()
        assert_inert(bubble.markdown.source)
        assert "wiped" in bubble.markdown.source
        shown = screen_text(app)
        assert_inert(shown)
        assert "wiped" in shown
        app.action_alternatives()
        await pilot.pause()
        assert isinstance(app.screen, AlternativesScreen)
        shown = screen_text(app)
        assert "wiped" in shown
        assert_inert(shown)
        await pilot.press("escape")
        await pilot.pause()
        # A notice quoting text (the system prompt notice echoes what it is given)
        app.notice("server said \x1b]52;c;UFdORUQ=\x07 no", error=True)
        await pilot.pause()
        n = app.log_view.query(Notice).last()
        assert_inert(str(n.render()))
