"""`prefchat rank` and `prefchat profile card` through the real entry point (subprocesses, an isolated
PREFCHAT_HOME, the shipped basis and MiniLM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import EXAMPLES, ROOT

PROMPT = "How do I boil an egg?"
REAL = "Put the egg in boiling water for seven minutes, then cool it in cold water and peel it."
LONG = ("Boiling an egg well takes a little care. Bring a pot of water to a rolling boil, then lower the egg "
        "in gently with a spoon. Six minutes gives a soft yolk, eight a firm one, ten a fully set one. Then "
        "cool it in iced water for a few minutes, which stops the cooking and makes peeling easier.")


@pytest.fixture
def cli(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PREFCHAT_HOME=str(tmp_path / "home"),
               PREFCHAT_CONFIG=str(tmp_path / "config.toml"))
    env.pop("PREFCHAT_BASIS", None)

    def run(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "prefchat", *args], input=stdin, capture_output=True,
                              text=True, env=env, timeout=600)
    for name in ("concise-formal", "playful-engaging", "warm-confident"):
        assert run("profile", "import", str(EXAMPLES / f"{name}.json")).returncode == 0
    assert run("profile", "use", "concise-formal").returncode == 0
    return run


def test_rank_good_input(cli, tmp_path):
    lines = [{"prompt": PROMPT, "responses": [LONG, "   ", REAL, "\x00", "\x1b[2J\x1b]52;c;aGk=\x07" + REAL]},
             {"prompt": "Best way to learn Python?", "responses": ["Write small programs every day.", "OK."],
              "id": "extra keys are ignored"}]
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps(lines[0]) + "\n\n" + json.dumps(lines[1]) + "\n")
    r = cli("rank", str(f), "--json")
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(out) == 2
    s = out[0]["scores"]
    assert len(s) == 5 and s[1] is None and s[3] is None
    assert set(out[0]["dropped"]) == {"2", "4"} and "empty" in out[0]["dropped"]["2"]
    assert s[2] > s[0]  # a concise-formal profile prefers the short answer to the long one
    assert out[1]["scores"][1] is None and "off-topic" in out[1]["dropped"]["2"]
    # the same through stdin, as a ranked list for people: best first, dropped last, nothing raw
    r = cli("rank", "--profile", "concise-formal", stdin=f.read_text())
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "\x1b" not in text and "\x00" not in text and "\x07" not in text
    first = [ln for ln in text.splitlines() if ln.strip().startswith("1.")]
    assert len(first) == 2 and ("response 3" in first[0] or "response 5" in first[0])
    assert text.count("dropped: empty") == 2 and "dropped: off-topic" in text
    assert text.index("dropped: empty") > text.index(" 3. ")  # dropped ones come after every kept one


@pytest.mark.parametrize("data, msg", [
    ('{"prompt": "x", "responses": ["a"]}\n{"prompt": "x", "responses": [1]}\n', ":2: response 1 is int"),
    ('{"prompt": "x", "responses": ["a"]}\nnot json\n', ":2: invalid JSON"),
    ('{"prompt": 3, "responses": ["a"]}\n', ':1: "prompt" must be a string'),
    ('{"prompt": "x", "responses": []}\n', ':1: "responses" must be a non-empty list'),
    ('[1, 2]\n', ":1: expected an object"),
    (b'{"prompt": "\xff", "responses": ["a"]}\n', ":1: not UTF-8"),
])
def test_rank_bad_input(cli, tmp_path, data, msg):
    f = tmp_path / "bad.jsonl"
    f.write_bytes(data if isinstance(data, bytes) else data.encode())
    r = cli("rank", str(f))
    assert r.returncode == 2 and r.stdout == ""
    assert msg in r.stderr and str(f) in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_rank_without_a_profile_or_file(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PREFCHAT_HOME=str(tmp_path / "empty"))
    run = lambda *a: subprocess.run([sys.executable, "-m", "prefchat", *a], capture_output=True, text=True,  # noqa: E731
                                    env=env, input='{"prompt": "x", "responses": ["a"]}\n', timeout=120)
    r = run("rank")
    assert r.returncode == 2 and "--profile" in r.stderr and "Traceback" not in r.stderr
    r = run("rank", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "missing.jsonl: cannot read" in r.stderr


def test_profile_card(cli, tmp_path):
    r = cli("profile", "card")
    assert r.returncode == 0 and r.stdout.strip() == "Answer formally and concisely."
    assert "formal" in r.stderr and "sd" in r.stderr
    r = cli("profile", "card", "playful-engaging")
    assert r.returncode == 0 and "with humour" in r.stdout and "asking me a question" in r.stdout
    # a profile with no answers and the prior's lambda: an empty card, and why
    prof = json.loads((EXAMPLES / "concise-formal.json").read_text())
    basis = json.loads((ROOT / "models" / "style-v1" / "basis.json").read_text())
    prof.update(name="blank", answers=[], **{"lambda": basis["prior"]["mean"], "precision": basis["prior"]["precision"]})
    (tmp_path / "blank.json").write_text(json.dumps(prof))
    assert cli("profile", "import", str(tmp_path / "blank.json")).returncode == 0
    r = cli("profile", "card", "blank")
    assert r.returncode == 1 and r.stdout == "" and "no trait is clearly learned" in r.stderr
