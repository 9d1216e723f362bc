"""History faults with real SQLite: a second PROCESS holding `BEGIN EXCLUSIVE`, a corrupt page, a real
full disk (a 64 KiB tmpfs; skipped where mounting is not allowed), and migrations that must be atomic.
Every CLI fault is one line without a traceback; the chat goes on in memory and says so."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time

import pytest

from prefchat.chat import history as history_mod
from prefchat.chat.history import History, HistoryError, Message
from prefchat.config import Config
from prefchat.tui.chat_app import ChatApp
from prefchat.tui.chat_widgets import Notice

from tests.llm.loopback import ScriptedServer
from tests.tui.screens import sync

LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


class Locked:
    """Another process holds an exclusive lock on the database until closed."""

    def __init__(self, path):
        self.p = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "locked"

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "prefchat", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def one_line_error(r, *words):
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("prefchat: error:"), r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def seeded(home, n=40):
    h = History()
    for i in range(n):
        cid = h.create(title=f"conversation {i}")
        h.add_message(cid, Message("user", f"question {i} " + "x" * 300))
        h.add_message(cid, Message("assistant", f"answer {i} " + "y" * 300))
    h.close()
    return home / "history.sqlite3"


def test_cli_under_a_write_lock_is_one_line_and_quick(home):
    path = seeded(home, 3)
    with Locked(path):
        t0 = time.monotonic()
        r = run("history", "delete", "1")
        one_line_error(r, "locked")
        assert "move" not in r.stderr  # a lock is not corruption: never tell them to move it aside
        r = run("history", "list")
        one_line_error(r, "locked")
        assert time.monotonic() - t0 < 30  # two CLI starts, each waiting BUSY_TIMEOUT_S, not 10 s
    r = run("history", "delete", "1")  # the lock is gone: it works
    assert r.returncode == 0, r.stderr
    assert [c.id for c in History().list()] == [3, 2]


def test_busy_timeout_is_short(home):
    path = seeded(home, 1)
    h = History()
    with Locked(path):
        t0 = time.monotonic()
        with pytest.raises(HistoryError) as ei:
            h.delete(1)
        waited = time.monotonic() - t0
    assert ei.value.kind == "locked" and waited < history_mod.BUSY_TIMEOUT_S + 2


def test_corrupt_page_is_one_line_for_list_show_and_doctor(home):
    path = seeded(home)
    assert path.stat().st_size > 20000
    with open(path, "r+b") as fh:
        fh.seek(16384)
        fh.write(random.Random(0).randbytes(4096))
    for args in (("history", "list"), ("history", "show", "5")):
        r = run(*args)
        one_line_error(r, "unreadable", "move the file aside")
    r = run("doctor")
    assert "Traceback" not in r.stderr + r.stdout
    assert "✗ history" in r.stdout and "unreadable" in r.stdout


def test_migrations_all_run_and_are_atomic(home, monkeypatch):
    h = History()
    assert h.db.execute("PRAGMA user_version").fetchone()[0] == len(history_mod.MIGRATIONS)
    names = {r[0] for r in h.db.execute("SELECT name FROM sqlite_master")}
    assert {"conversations", "messages", "messages_conv"} <= names
    h.close()
    # A later migration that fails half-way leaves the file exactly as it was.
    bad = history_mod.MIGRATIONS + ["CREATE TABLE extra (x INTEGER);\nINSERT INTO nowhere VALUES (1);"]
    monkeypatch.setattr(history_mod, "MIGRATIONS", bad)
    with pytest.raises(HistoryError):
        History()
    db = sqlite3.connect(home / "history.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(bad) - 1
    assert "extra" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    good = history_mod.MIGRATIONS[:-1] + ["CREATE TABLE extra (x INTEGER);\nCREATE INDEX extra_x ON extra(x);"]
    monkeypatch.setattr(history_mod, "MIGRATIONS", good)
    assert History().db.execute("PRAGMA user_version").fetchone()[0] == len(good)


@pytest.fixture
def tiny_disk(tmpfs_64k):
    return tmpfs_64k


def test_full_disk_in_tolerant_mode_keeps_going(tiny_disk, monkeypatch):
    h = History(tiny_disk / "history.sqlite3", tolerant=True)
    cid = h.create(title="t")
    assert cid is not None and h.problem is None
    with pytest.raises(OSError):  # fill the disk
        with open(tiny_disk / "filler", "wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
    for i in range(50):
        if h.add_message(cid, Message("user", "z" * 8000)) is None:
            break
    assert h.problem is not None and h.problem.kind == "full", h.problem
    assert "disk is full" in str(h.problem)
    assert h.add_message(cid, Message("user", "more")) is None  # later writes: skipped, no raise
    strict = History(tiny_disk / "history.sqlite3")
    with pytest.raises(HistoryError, match="disk is full"):
        for i in range(50):
            strict.add_message(cid, Message("user", "z" * 8000))


@sync
async def test_chat_under_a_lock_keeps_conversation_and_says_not_saved(home):
    seeded(home, 1)
    srv = ScriptedServer("a reply")
    from prefchat.chat.factory import make_session

    cfg = Config(backend="openai", model="m", base_url=srv.url, n=1, max_tokens=32)
    app = ChatApp(lambda: make_session(cfg, None))
    try:
        with Locked(home / "history.sqlite3"):
            async with app.run_test(size=(120, 40)) as pilot:
                await app.workers.wait_for_complete()
                await pilot.pause()
                assert app.session is not None
                t0 = time.monotonic()
                await pilot.press(*"hello there", "enter")
                await pilot.pause()
                await app.workers.wait_for_complete()
                await pilot.pause(0.2)
                assert time.monotonic() - t0 < 8  # not frozen for 10 s
                s = app.session
                assert [m.content for m in s.messages] == ["hello there", "a reply"], app.last_error
                notices = [str(n.render()) for n in app.log_view.query(Notice)]
                assert any("history is locked: this conversation is not being saved" in t
                           for t in notices), notices
                assert sum("not being saved" in t for t in notices) == 1  # said once
                assert app.exit_problem and "not saved" in app.exit_problem
                assert "move" not in app.exit_problem
    finally:
        srv.close()
    assert [c.title for c in History().list()] == ["conversation 0"]  # nothing half-saved


def _chat_on_a_pty(env, seconds=6):
    """Run `prefchat chat` on a real pseudo-terminal, type a message, wait, press Ctrl+C."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    p = subprocess.Popen([sys.executable, "-m", "prefchat", "chat", "--backend", "openai", "--model", "m",
                          "-n", "1"], stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                         env={**os.environ, "TERM": "xterm-256color", **env}, start_new_session=True)
    os.close(slave)
    out = b""

    def pump(t):
        nonlocal out
        end = time.monotonic() + t
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                if not data:
                    return
                out += data

    pump(seconds)
    os.write(master, b"hello\r")
    pump(seconds)
    os.write(master, b"\x03")
    pump(5)
    rc = p.wait(20)
    os.close(master)
    return rc, out.decode("utf-8", "replace")


def test_chat_command_exit_code_on_a_real_terminal(home):
    """`prefchat chat` on a pty: an unsaved conversation ends with exit code 1 and says why; the same
    session without the lock ends with 0 and the conversation saved."""
    seeded(home, 1)
    srv = ScriptedServer("a reply")
    try:
        with Locked(home / "history.sqlite3"):
            rc, out = _chat_on_a_pty({"PREFCHAT_BASE_URL": srv.url})
        assert rc == 1, out[-2000:]
        assert "prefchat: this conversation was not saved" in out and "locked" in out
        assert "Traceback" not in out
        assert [c.title for c in History().list()] == ["conversation 0"]
        rc, out = _chat_on_a_pty({"PREFCHAT_BASE_URL": srv.url})
        assert rc == 0, out[-2000:]
        assert "hello" in [c.title for c in History().list()]
    finally:
        srv.close()


def test_database_full_without_mount_rights(home):
    """SQLite's own limit (PRAGMA max_page_count) gives the same SQLITE_FULL as a full disk, with no
    tmpfs needed: runs everywhere, including where the tmpfs tests are skipped."""
    h = History(tolerant=True)
    cid = h.create(title="t")
    pages = h.db.execute("PRAGMA page_count").fetchone()[0]
    h.db.execute(f"PRAGMA max_page_count = {pages + 1}")
    assert h.add_message(cid, Message("user", "z" * 20000)) is None
    assert h.problem is not None and h.problem.kind == "full" and "disk is full" in str(h.problem)
