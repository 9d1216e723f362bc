"""Hostile or broken data files, for every loader (corpus, pairwise, prism, tldr, psoups): never a
traceback. The named cases run through the real CLI (`eval --corpus`, `train --corpus`, `train --data`):
non-zero exit, one `prefchat: error:` line naming the file (and the line, where there is one).
Hypothesis then fuzzes every loader in-process with mutated records, junk lines, deep nesting and huge
numbers: the only exception allowed is a one-line PrefchatError naming the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefchat.data.corpus import load_corpus
from prefchat.errors import PrefchatError
from prefchat.data import load_data

from .test_loaders import prism_conv

FUZZ = settings(deadline=None, max_examples=150, suppress_health_check=list(HealthCheck))
NESTED = "[" * 100_000
BIG_INT = "9" * 5000
TRAITS = {"length": 1, "formality": 0, "humour": 0, "elicitation": 0, "politeness": 0,
          "enthusiasm": 0, "confidence": -1}


def corpus_line(pid="p1"):
    return {"id": pid, "prompt": "How?", "responses": [
        {"id": f"{pid}-r{i}", "text": f"answer {i}", "traits": TRAITS} for i in range(3)]}


def cli(*args, home):
    env = dict(os.environ, PREFCHAT_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "prefchat", *args], capture_output=True, text=True,
                          env=env, timeout=180)


def assert_one_line(r, *words):
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.stderr.startswith("prefchat: error:") and r.stderr.count("\n") == 1, r.stderr[-3000:]
    for w in words:
        assert w in r.stderr, r.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "one_line.jsonl").write_text(json.dumps(corpus_line()) + "\n")
    (d / "nested.jsonl").write_text(json.dumps(corpus_line()) + "\n" + NESTED + "\n")
    (d / "nested_pairwise.jsonl").write_text(
        json.dumps({"user": "u", "prompt": "P", "a": "x", "b": "y", "outcome": "a"}) + "\n" + NESTED + "\n")
    (d / "bigint.jsonl").write_text(
        json.dumps({"user": "u", "prompt": "P", "a": "x", "b": "y", "outcome": "a"}) + "\n"
        + '{"user": "u", "prompt": "P", "a": "x", "b": "y", "outcome": ' + BIG_INT + "}\n")
    (d / "adir").mkdir()
    return d


def test_one_line_corpus_eval_and_train(files, tmp_path):
    f = files / "one_line.jsonl"
    assert_one_line(cli("eval", "--corpus", str(f), home=tmp_path), str(f), "only 1 prompt")
    assert_one_line(cli("train", "--corpus", str(f), "--out", str(tmp_path / "b"), home=tmp_path),
                    str(f), "only 1 prompt")


def test_deep_nesting_eval_train_and_data(files, tmp_path):
    f, g = files / "nested.jsonl", files / "nested_pairwise.jsonl"
    for args, name in ((("eval", "--corpus", str(f)), f),
                       (("train", "--corpus", str(f), "--out", str(tmp_path / "b")), f),
                       (("train", "--data", f"pairwise:{g}", "--out", str(tmp_path / "b")), g)):
        assert_one_line(cli(*args, home=tmp_path), f"{name}:2:", "nested too deeply")


def test_five_thousand_digit_integer(files, tmp_path):
    f = files / "bigint.jsonl"
    assert_one_line(cli("train", "--data", f"pairwise:{f}", "--out", str(tmp_path / "b"), home=tmp_path),
                    f"{f}:2:")


def test_data_directory_is_named_as_such(files, tmp_path):
    d = files / "adir"
    r = cli("train", "--data", f"pairwise:{d}", "--out", str(tmp_path / "b"), home=tmp_path)
    assert_one_line(r, str(d), "is a directory")
    assert "no such file" not in r.stderr


# -- fuzz ------------------------------------------------------------------------------------------

def valid_records(fmt):
    if fmt == "pairwise":
        return [{"user": f"u{i % 3}", "prompt": "P", "response_a": "x", "response_b": "y",
                 "outcome": "ab"[i % 2]} for i in range(4)]
    if fmt == "psoups":
        return [{"prompt": "P", "chosen": "x", "rejected": "y", "uid": i % 2} for i in range(4)]
    if fmt == "tldr":
        return [{"info": {"post": "a post", "title": "t", "subreddit": "s"},
                 "summaries": [{"text": "one"}, {"text": "two"}], "choice": i % 2,
                 "worker": f"w{i % 2}"} for i in range(4)]
    if fmt == "prism":
        return [prism_conv(f"user{i}", "hi", [80, 40, 10]) for i in range(3)]
    if fmt == "corpus":
        return [corpus_line(f"p{i}") for i in range(3)]
    raise AssertionError(fmt)


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**400, 10**400), st.text(max_size=6),
              st.floats(allow_nan=True, allow_infinity=True)),
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=6), kids, max_size=3)),
    max_leaves=8)
JUNK_LINES = st.sampled_from([NESTED, "{" * 50_000, BIG_INT, "-" + BIG_INT, '{"a": ' + BIG_INT + "}",
                              '"\\ud800"', '{"prompt": "\\udc00x"}', "\x00\x01", "not json", "[]", "1e999",
                              "NaN", '{"user": "u"', "\ufeff{}"])


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value):
    if not path:
        return value
    cur = obj
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return obj


@st.composite
def mutated_file(draw, fmt):
    recs = json.loads(json.dumps(valid_records(fmt)))
    lines = []
    for r in recs:
        if draw(st.booleans()):
            paths = list(_paths(r))
            path = draw(st.sampled_from(paths))
            r = _set(r, path, draw(JSONISH))
        try:
            lines.append(json.dumps(r, allow_nan=True))
        except (ValueError, RecursionError):
            lines.append("null")
    if draw(st.integers(0, 3)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(JUNK_LINES))
    if draw(st.integers(0, 5)) == 0:
        raw = "\n".join(lines).encode("utf-8", "surrogatepass")
        i = draw(st.integers(0, max(0, len(raw) - 1)))
        return raw[:i] + draw(st.binary(max_size=8)) + raw[i:]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def check_loader(tmp_path, fmt, data):
    f = tmp_path / f"{fmt}.jsonl"
    f.write_bytes(data)
    try:
        if fmt == "corpus":
            load_corpus(f)
        load_data(f"{fmt}:{f}")
    except PrefchatError as exc:
        msg = str(exc)
        assert "\n" not in msg and str(f) in msg, msg


@pytest.mark.parametrize("fmt", ["pairwise", "psoups", "tldr", "prism", "corpus"])
def test_fuzz_every_loader(fmt, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"fuzz-{fmt}")

    @FUZZ
    @given(data=mutated_file(fmt))
    def run(data):
        check_loader(tmp, fmt, data)

    run()


def test_a_score_too_large_for_a_float_is_not_a_number():
    """Hypothesis found it: a 5,000-digit JSON integer made math.isfinite raise OverflowError."""
    from prefchat.data.formats import _is_num

    assert not _is_num(10 ** 5000) and _is_num(3) and _is_num(2.5)
    assert not _is_num(float("nan")) and not _is_num(True)
