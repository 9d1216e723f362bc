"""Onboarding on a disk that fills up (a real 64 KiB tmpfs; skipped where mounting is not allowed) and
with the profiles directory being a file. An answer counts as saved only when its save succeeded; the
quiz says how many are unsaved, retries with the next answer, and ends non-zero saying what was lost.
Both front ends: --plain in a subprocess, the Textual quiz through Pilot."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from prefchat.tui.onboard_app import OnboardApp
from prefchat.tui.plain import EXIT_UNSAVED

from .conftest import open_quiz
from .screens import sync

FILLER = 50 * 1024  # leaves room for the first few saves of the test corpus' profile, not 15 (the quiz
#                     asks short questions first, so a profile of 15 answers is small)


@pytest.fixture
def tiny_home(tmpfs_64k, quiz_env, monkeypatch):
    d = tmpfs_64k
    (d / "filler").write_bytes(b"\0" * FILLER)
    monkeypatch.setenv("PREFCHAT_HOME", str(d))
    quiz_env["home"] = d
    return d


def run_plain(env, stdin, questions=15):
    e = dict(os.environ, PREFCHAT_HOME=str(env["home"]), PREFCHAT_BASIS=str(env["basis"]),
             NO_COLOR="1", COLUMNS="100")
    return subprocess.run([sys.executable, "-m", "prefchat", "onboard", "--plain", "--corpus",
                           str(env["corpus"]), "--seed", "3", "--questions", str(questions)],
                          input=stdin, capture_output=True, text=True, env=e, timeout=120)


def saved_answers(env) -> int:
    p = env["home"] / "profiles" / "me.json"
    return len(json.loads(p.read_text())["answers"]) if p.exists() else 0


def test_plain_on_a_full_disk_never_claims_saved(quiz_env, tiny_home):
    r = run_plain(quiz_env, "a\n" * 15)
    assert "Traceback" not in r.stderr
    assert r.returncode == EXIT_UNSAVED, r.stdout[-2000:]
    assert "Saved to" not in r.stdout
    on_disk = saved_answers(quiz_env)
    assert 0 < on_disk < 15
    m = re.search(r"(\d+) answers were NOT saved and are lost", r.stdout)
    assert m and int(m.group(1)) == 15 - on_disk, r.stdout[-1500:]
    assert "not saved yet" in r.stdout and "saving is tried again" in r.stdout
    assert "disk" in r.stdout.lower() or "space" in r.stdout.lower()


def test_plain_quit_with_unsaved_answers_is_non_zero(quiz_env, tiny_home):
    r = run_plain(quiz_env, "a\n" * 10 + "q\n")
    assert r.returncode == EXIT_UNSAVED, r.stdout[-1500:]
    assert "NOT saved and are lost" in r.stdout and "answers are saved" not in r.stdout


def test_profiles_dir_is_a_file(quiz_env, tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "profiles").write_text("not a directory")
    quiz_env["home"] = home
    r = run_plain(quiz_env, "a\n" * 15)
    assert r.returncode != 0 and "Saved to" not in r.stdout
    assert "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "profiles" in r.stderr and "not a directory" in r.stderr


def test_failed_save_is_retried_with_the_next_answer(quiz_env, tiny_home):
    s = open_quiz(quiz_env, questions=15)
    extra = tiny_home / "more-filler"
    st = os.statvfs(tiny_home)
    extra.write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - 2048))  # nearly full now: 2 KiB left
    failures = 0
    for _ in range(4):
        try:
            s.answer("a")
        except Exception:  # noqa: BLE001 - PrefchatError expected
            failures += 1
    assert failures >= 2 and s.unsaved == failures and s.save_error
    assert saved_answers(quiz_env) == 4 - failures
    extra.unlink()  # space again: the next answer saves everything kept in memory
    s.answer("b")
    assert s.unsaved == 0 and s.save_error is None
    assert saved_answers(quiz_env) == 5


@sync
async def test_textual_quiz_on_a_full_disk_reports_loss(quiz_env, tiny_home):
    app = OnboardApp(lambda: open_quiz(quiz_env, questions=15))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for _ in range(12):
            await pilot.press("a")
            await pilot.pause()
        s = app.session
        assert s.unsaved > 0
        notes = [str(n.message) for n in app._notifications]
        assert any("not saved yet" in t for t in notes), notes
        await pilot.press("q")
        await pilot.pause()
    out = app.return_value
    assert out is not None and out.lost and "NOT saved" in out.lost
    assert str(s.unsaved) in out.lost
    assert saved_answers(quiz_env) == 12 - s.unsaved


@sync
async def test_textual_quiz_with_profiles_dir_a_file(quiz_env, tmp_path, monkeypatch):
    home = tmp_path / "h2"
    home.mkdir()
    (home / "profiles").write_text("not a directory")
    monkeypatch.setenv("PREFCHAT_HOME", str(home))
    app = OnboardApp(lambda: open_quiz(quiz_env, questions=15))
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):  # the loader fails in its worker and the app exits with the error
            if app.return_value is not None:
                break
            await pilot.pause(0.05)
    out = app.return_value
    assert out is not None and out.status == "error"
    assert "not a directory" in out.error and "\n" not in out.error
