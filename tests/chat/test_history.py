"""SQLite history: save, list/search, resume data, delete, Markdown export round trip, CLI."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from prefchat.chat.history import History, Message, export_markdown, parse_markdown
from prefchat.errors import PrefchatError


def test_store_list_get_delete_export(home):
    h = History()
    assert h.path == home / "history.sqlite3"
    cid = h.create(title="eggs", system_prompt="Be brief.", profile="me", backend="llama", model="m")
    h.add_message(cid, Message("user", "How do I boil an egg?"))
    cands = [{"index": 1, "text": "Seven minutes.", "score": 0.5},
             {"index": 0, "text": "## Steps\n\n1. Boil\n2. Eat", "score": 0.1}]
    m = Message("assistant", "Seven minutes.", cands, 1, {"n": 2})
    h.add_message(cid, m)
    other = h.create(title="tea")
    h.add_message(other, Message("user", "Tea?"))
    assert [c.id for c in h.list()] == [other, cid]
    assert [c.id for c in h.list("boil")] == [cid]
    conv = h.get(cid)
    assert [x.role for x in conv.messages] == ["user", "assistant"]
    assert conv.messages[1].candidates == cands and conv.messages[1].chosen == 1
    m.chosen, m.content = 0, cands[1]["text"]
    h.update_message(m)
    conv = History().get(cid)  # a fresh connection sees it
    assert conv.messages[1].content.startswith("## Steps")
    title, system, msgs = parse_markdown(export_markdown(conv))
    assert (title, system) == ("eggs", "Be brief.")
    assert msgs == [(x.role, x.content) for x in conv.messages]
    h.delete(cid)
    with pytest.raises(PrefchatError, match="no conversation with id"):
        h.get(cid)
    with pytest.raises(PrefchatError):
        h.delete(cid)
    assert oct(os.stat(h.path).st_mode & 0o777) == "0o600"
    assert sqlite3.connect(h.path).execute("SELECT COUNT(*) FROM messages WHERE conversation_id=?",
                                           (cid,)).fetchone()[0] == 0


def test_corrupt_history_is_one_line(home):
    home.mkdir(parents=True)
    (home / "history.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(PrefchatError, match="history is unreadable"):
        History()


def test_history_cli(home, tmp_path):
    h = History()
    cid = h.create(title="eggs")
    h.add_message(cid, Message("user", "How do I boil an egg?"))
    h.add_message(cid, Message("assistant", "Seven minutes."))
    run = lambda *a: subprocess.run([sys.executable, "-m", "prefchat", "history", *a],
                                    capture_output=True, text=True, timeout=60)
    r = run("list")
    assert r.returncode == 0 and "eggs" in r.stdout and "2 msgs" in r.stdout
    r = run("show", str(cid))
    assert "## You\n\nHow do I boil an egg?" in r.stdout and "Seven minutes." in r.stdout
    out = tmp_path / "eggs.md"
    assert run("export", str(cid), "-o", str(out)).returncode == 0
    assert parse_markdown(out.read_text())[2][1] == ("assistant", "Seven minutes.")
    assert run("delete", str(cid)).returncode == 0
    r = run("show", str(cid))
    assert r.returncode == 2 and r.stderr.startswith("prefchat: error: no conversation")
