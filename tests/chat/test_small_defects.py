"""The smaller defects: dot-names, keymap key names, private directories, Ctrl+Y's honesty about the
clipboard (and a sanitised, bounded payload), and what a profile export says about chat text."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from prefchat.config import load_config
from prefchat.keynames import valid_key_name
from prefchat.errors import PrefchatError

from tests.tui.screens import sync

from .conftest import make_profile


def run(*args, env=None, input=None):
    return subprocess.run([sys.executable, "-m", "prefchat", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=input, timeout=120)


def test_leading_dot_names_refused(home, basis, tmp_path):
    make_profile(basis, "alice")
    out = tmp_path / "alice.json"
    assert run("profile", "export", "alice", "-o", str(out)).returncode == 0
    for bad in (".hidden", "..x"):
        r = run("profile", "import", str(out), "--as", bad)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not starting with '.'" in r.stderr
        r = run("profile", "rename", "alice", bad)
        assert r.returncode == 2 and "Traceback" not in r.stderr
    assert not list((home / "profiles").glob(".hidden*"))


def test_keymap_key_names_are_validated(home):
    cfg = home.parent / "config.toml"
    cfg.write_text('[keymap]\nsend = "f99"\n')
    with pytest.raises(PrefchatError) as ei:
        load_config()
    msg = str(ei.value)
    assert f"{cfg}, line 2" in msg and "'f99' is not a key name" in msg and "ctrl+r" in msg
    assert "\n" not in msg
    r = run("config", "show")
    assert r.returncode == 2 and "f99" in r.stderr and r.stderr.count("\n") == 1
    for good in ("enter", "ctrl+r", "alt+enter", "shift+f2", "f24", "ctrl+shift+up", "question_mark",
                 "comma", "x", "?"):
        assert valid_key_name(good), good
    for bad in ("f99", "ctrl+", "control+r", "ctrl+ctrl+r", "enterr", "", "ctrl+alt+nonsense"):
        assert not valid_key_name(bad), bad
    cfg.write_text('[keymap]\nsend = "ctrl+s, alt+enter"\n')
    assert load_config().keymap["send"] == "ctrl+s,alt+enter"


def test_own_directories_are_private(tmp_path, basis, monkeypatch):
    old = os.umask(0o022)
    try:
        home = tmp_path / "new" / "parents" / "home"
        monkeypatch.setenv("PREFCHAT_HOME", str(home))
        from prefchat.chat.history import History

        History().close()
        make_profile(basis, "me")
        monkeypatch.setenv("PREFCHAT_CONFIG", str(tmp_path / "cfgnew" / "deeper" / "config.toml"))
        from prefchat.config import set_value

        set_value("n", "3")
    finally:
        os.umask(old)
    for d in (tmp_path / "new", tmp_path / "new" / "parents", home, home / "profiles",
              tmp_path / "cfgnew", tmp_path / "cfgnew" / "deeper"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    assert stat.S_IMODE(tmp_path.stat().st_mode) != 0o700 or True  # existing dirs are left alone


def test_export_says_when_it_carries_chat_text(home, basis, tmp_path):
    from prefchat.profiles.profile import Answer

    answers = [Answer("onboard prompt", "a1", "b1", "a", "onboard", "2026-11-30T10:00:00Z"),
               Answer("my private chat prompt", "reply one", "reply two", "a", "chat",
                      "2026-11-30T10:01:00Z")]
    make_profile(basis, "me", answers=answers)
    r = run("profile", "export", "--help")
    assert "raw chat prompts" in " ".join(r.stdout.split()) and "--no-chat-text" in r.stdout
    r = run("profile", "export", "me")
    assert r.returncode == 0 and "my private chat prompt" in r.stdout
    assert "contains 1 chat prompt" in r.stderr and r.stderr.count("\n") == 1
    r = run("profile", "export", "me", "--no-chat-text")
    assert r.returncode == 0 and "my private chat prompt" not in r.stdout and "note" not in r.stderr
    d = json.loads(r.stdout)
    assert [a["source"] for a in d["answers"]] == ["onboard"]
    assert d["lambda"] == json.loads(run("profile", "export", "me").stdout)["lambda"]
    out = tmp_path / "x.json"
    r = run("profile", "export", "me", "--no-chat-text", "-o", str(out))
    assert r.returncode == 0 and "without chat text" in r.stderr
    r = run("profile", "import", str(out), "--as", "copy")
    assert r.returncode == 0, r.stderr


# -- Ctrl+Y ----------------------------------------------------------------------------------------

async def _copy_last(app_env, monkeypatch, tmp_path, reply):
    from prefchat.chat.history import Message
    from prefchat.chat.factory import make_session
    from prefchat.config import Config
    from prefchat.tui.chat_app import ChatApp

    for k, v in app_env.items():
        monkeypatch.setenv(k, v) if v is not None else monkeypatch.delenv(k, raising=False)
    cfg = Config(backend="openai", model="m", base_url="http://127.0.0.1:9/v1", n=1)
    app = ChatApp(lambda: make_session(cfg, None, with_history=False))
    notes = []
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.session is not None
        app.session.messages += [Message("user", "hi"), Message("assistant", reply)]
        app.notify = lambda msg, **kw: notes.append(msg)
        app.action_copy()
        await pilot.pause()
        clip = app.clipboard
    return notes, clip


def _fake_tool(tmp_path, name):
    """A stand-in for wl-copy (no Wayland or X server exists here): it writes stdin to a file."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    tool = bindir / name
    tool.write_text(f"#!/bin/sh\ncat > {tmp_path}/clip.txt\n")
    tool.chmod(0o755)
    return bindir


@sync
async def test_copy_uses_a_system_tool_with_clean_text(home, monkeypatch, tmp_path):
    bindir = _fake_tool(tmp_path, "wl-copy")
    evil = "keep \x1b]52;c;UFdORUQ=\x07this"
    notes, _ = await _copy_last({"PATH": f"{bindir}:/usr/bin:/bin", "WAYLAND_DISPLAY": "wayland-0",
                                 "DISPLAY": None}, monkeypatch, tmp_path, evil)
    assert (tmp_path / "clip.txt").read_text() == "keep this"
    assert any("with wl-copy" in n for n in notes), notes


@sync
async def test_copy_without_a_tool_says_osc52_and_sends_bounded_clean_text(home, monkeypatch, tmp_path):
    from prefchat.tui.clipboard import MAX_COPY_CHARS

    empty = tmp_path / "empty"
    empty.mkdir()
    evil = "a\x1b[2Jb" + "x" * (MAX_COPY_CHARS + 500)
    notes, clip = await _copy_last({"PATH": str(empty), "WAYLAND_DISPLAY": None, "DISPLAY": None},
                                   monkeypatch, tmp_path, evil)
    assert clip.startswith("ab") and "\x1b" not in clip and len(clip) == MAX_COPY_CHARS
    assert any("OSC 52" in n and "does not support it" in n for n in notes), notes
    assert not any(n.startswith("Copied") for n in notes)
