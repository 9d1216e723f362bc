"""Bare `prefchat` takes the next step for where the user is: a quiz left half-way is resumed (not a
chat that fails with "no model configured"), and a finished profile without a model gets one screen
of next steps, exit 0. The quiz is the real one on the shipped basis, answered through --plain."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from prefchat.cli import app
from prefchat.commands.models import recommended


def run(*args, input=None, env=None):
    return subprocess.run([sys.executable, "-m", "prefchat", *args], capture_output=True, text=True,
                          input=input, env={**os.environ, **(env or {})}, timeout=120)


def answers(home) -> list:
    return json.loads((home / "profiles" / "me.json").read_text())["answers"]


def settings(home) -> dict:
    return json.loads((home / "settings.json").read_text())


def test_half_quiz_is_resumed_by_bare_prefchat(home, monkeypatch):
    r = run("onboard", "--plain", "-n", "6", "--seed", "1", input="a\nb\na\nq\n")
    assert r.returncode == 1 and len(answers(home)) == 3, r.stdout + r.stderr
    assert settings(home)["unfinished_quiz"] == {"me": 6}

    # in a pipe: what to do, not a chat error
    r = run()
    assert r.returncode == 0, r.stderr
    assert "unfinished (3 of 6 answered" in r.stdout and "no model" not in r.stdout + r.stderr

    # at a terminal it resumes the quiz. Tests have no terminal, so the check for one is faked; the
    # quiz itself is real (its plain runner reads the answers from stdin).
    monkeypatch.setattr("prefchat.commands.start._interactive", lambda: True)
    res = CliRunner().invoke(app, [], input="b\na\nb\n\n")
    assert res.exit_code == 0, res.output
    assert "Continuing your quiz where you left it (3 of 6 answered)" in res.output
    assert "Resuming profile 'me' at question 4" in res.output
    assert len(answers(home)) == 6 and "unfinished_quiz" not in settings(home)


def test_finished_profile_without_model_gets_next_steps(home):
    r = run("onboard", "--plain", "-n", "3", "--seed", "2", input="a\nb\na\n\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "unfinished_quiz" not in settings(home)
    r = run(env={"COLUMNS": "120"})
    assert r.returncode == 0 and not r.stderr, r.stderr
    assert "Your profile 'me' is ready (3 answers)" in r.stdout
    assert f"prefchat models pull {recommended()[0]} --use" in r.stdout
    assert "prefchat models add FILE.gguf --use" in r.stdout


def test_a_shorter_finished_quiz_is_not_resumed(home, monkeypatch):
    """Finishing `onboard -n 3` is done: bare prefchat must not drag the user back to question 4."""
    assert run("onboard", "--plain", "-n", "3", "--seed", "3", input="a\na\na\n\n").returncode == 0
    monkeypatch.setattr("prefchat.commands.start._interactive", lambda: True)
    res = CliRunner().invoke(app, [], input="")
    assert res.exit_code == 0 and "Continuing your quiz" not in res.output
    assert "is ready (3 answers)" in res.output
