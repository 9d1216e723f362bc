"""Hostile profile files: every malformed input is refused with one line, never a traceback, and the
profiles already stored stay byte-identical (imports run with --force, so a wrongly accepted file would
visibly overwrite 'alice').

Thousands of cases run in-process against import_file; a small sample goes through the real CLI in a
subprocess to check the user-facing contract (exit code 2, one 'prefchat: error:' line)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefchat.basis import load_basis
from prefchat.errors import PrefchatError
from prefchat.profiles.exchange import import_file
from prefchat.profiles.profile import MAX_ANSWERS, MAX_FILE_BYTES
from prefchat.profiles.store import ProfileStore

from .conftest import fake_pair_diffs, make_profile

FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck))

# -- strategies -----------------------------------------------------------------------------------

_none_bool = st.one_of(st.none(), st.booleans())
_num = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False))
_txt = st.text(max_size=8)
_small_list = st.lists(st.integers(), max_size=3)
_small_dict = st.dictionaries(_txt, st.integers(), max_size=2)
NOT_STR = st.one_of(_none_bool, _num, _small_list, _small_dict)
NOT_NUM = st.one_of(_none_bool, _txt, _small_list, _small_dict)
NOT_INT = st.one_of(_none_bool, _txt, st.floats(allow_nan=False, allow_infinity=False), _small_list,
                    _small_dict)
NOT_LIST = st.one_of(_none_bool, _num, _txt, _small_dict)
NOT_OBJ = st.one_of(_none_bool, _num, _txt, _small_list)

J = 4  # dims of the fixture basis


def _slots(doc):
    """(path, strategy of values that must be rejected there)."""
    s = [(("format",), NOT_STR), (("version",), NOT_INT), (("name",), NOT_STR),
         (("basis",), NOT_OBJ), (("basis", "name"), NOT_STR), (("basis", "fingerprint"), NOT_STR),
         (("basis", "dims"), NOT_INT), (("lambda",), NOT_LIST), (("precision",), NOT_LIST),
         (("answers",), NOT_LIST), (("created_at",), NOT_STR), (("updated_at",), NOT_STR)]
    s += [(("lambda", i), NOT_NUM) for i in range(J)]
    s += [(("precision", i), NOT_LIST) for i in range(J)]
    s += [(("precision", i, j), NOT_NUM) for i in range(J) for j in range(J)]
    for k in range(len(doc["answers"])):
        s.append((("answers", k), NOT_OBJ))
        s += [(("answers", k, f), NOT_STR) for f in ("prompt", "a", "b", "choice", "source", "at")]
    return s


def _set(doc, path, value):
    d = copy.deepcopy(doc)
    node = d
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return d


def _dump(d) -> bytes:
    return json.dumps(d, allow_nan=True).encode()


@st.composite
def wrong_type(draw, doc):
    path, bad = draw(st.sampled_from(_slots(doc)))
    return _dump(_set(doc, path, draw(bad)))


@st.composite
def non_finite(draw, doc):
    i, j = draw(st.integers(0, J - 1)), draw(st.integers(0, J - 1))
    path = draw(st.sampled_from([("lambda", i), ("precision", i, j)]))
    token = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "9" * 5000]))
    return _dump(_set(doc, path, "@@X@@")).replace(b'"@@X@@"', token.encode())


@st.composite
def huge(draw, doc):
    n = draw(st.one_of(st.integers(J + 1, 2000), st.integers(2000, 200_000)))
    kind = draw(st.sampled_from(["lambda", "row", "answers", "matrix", "text", "over_cap"]))
    if kind == "lambda":
        return _dump(_set(doc, ("lambda",), [0.5] * n))
    if kind == "row":
        return _dump(_set(doc, ("precision", 0), [1.0] * n))
    if kind == "matrix":
        return _dump(_set(doc, ("precision",), [[1.0] * J] * n))
    if kind == "answers":
        a = doc["answers"][0]
        return _dump(_set(doc, ("answers",), [a] * (MAX_ANSWERS + 1 + n % 100)))
    if kind == "text":
        return _dump(_set(doc, ("answers", 0, "prompt"), "x" * (300_000 + n)))
    return _dump(doc)[:-1] + b" " * (MAX_FILE_BYTES + 1) + b"}"


@st.composite
def deep(draw, doc):
    n = draw(st.one_of(st.integers(9, 200), st.integers(200, 300_000)))
    o, c = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"a":', "}]")]))
    nest = o * n + "0" + c * n
    where = draw(st.sampled_from(["top", "lambda", "answers", "unclosed"]))
    if where == "top":
        return nest.encode()
    if where == "unclosed":
        return (o * n).encode()
    return _dump(_set(doc, (where,), "@@X@@")).replace(b'"@@X@@"', nest.encode())


@st.composite
def wrong_shape(draw, doc):
    kind = draw(st.sampled_from(["dims", "lam_short", "lam_long", "rows", "row_len", "asym", "not_pd"]))
    d = copy.deepcopy(doc)
    if kind == "dims":
        d["basis"]["dims"] = draw(st.one_of(st.integers(-5, 300), st.integers(10**6, 10**30))
                                  .filter(lambda x: x != J))
    elif kind == "lam_short":
        d["lambda"] = d["lambda"][: draw(st.integers(0, J - 1))]
    elif kind == "lam_long":
        d["lambda"] += [0.0] * draw(st.integers(1, 50))
    elif kind == "rows":
        d["precision"] = d["precision"][: draw(st.integers(0, J - 1))] if draw(st.booleans()) else \
            d["precision"] + [d["precision"][0]]
    elif kind == "row_len":
        i = draw(st.integers(0, J - 1))
        d["precision"][i] = d["precision"][i][:-1] if draw(st.booleans()) else d["precision"][i] + [0.0]
    elif kind == "asym":
        i, j = draw(st.sampled_from([(i, j) for i in range(J) for j in range(J) if i != j]))
        d["precision"][i][j] += draw(st.sampled_from([1.0, -1.0, 1e-3, 100.0]))
    else:
        i = draw(st.integers(0, J - 1))
        d["precision"][i][i] = -abs(d["precision"][i][i]) - draw(st.floats(0, 100))
    return _dump(d)


@st.composite
def wrong_fingerprint(draw, doc):
    d = copy.deepcopy(doc)
    if draw(st.booleans()):
        # A well-formed fingerprint of some other basis, and nothing to refit from: must be refused.
        hexd = draw(st.text("0123456789abcdef", min_size=64, max_size=64))
        d["basis"]["fingerprint"] = "sha256:" + hexd
        d["answers"] = []
        if d["basis"]["fingerprint"] == doc["basis"]["fingerprint"]:
            d["basis"]["fingerprint"] = "sha256:" + "0" * 64
    else:
        d["basis"]["fingerprint"] = draw(st.text(max_size=80).filter(
            lambda s: not s.startswith("sha256:") or len(s) < 15))
    return _dump(d)


@st.composite
def bad_values(draw, doc):
    """Right types, wrong contents: enums, timestamps, names, unknown or missing keys, format."""
    d = copy.deepcopy(doc)
    kind = draw(st.sampled_from(["choice", "source", "at", "name", "extra", "missing", "format",
                                 "version"]))
    if kind in ("choice", "source"):
        ok = ("a", "b", "tie") if kind == "choice" else ("onboard", "chat")
        d["answers"][0][kind] = draw(_txt.filter(lambda s: s not in ok))
    elif kind == "at":
        d[draw(st.sampled_from(["created_at", "updated_at"]))] = draw(
            st.one_of(_txt, st.sampled_from(["2026-02-30T00:00:00Z", "2026-11-26 21:00:00",
                                             "2026-11-26T21:00:00"])))
    elif kind == "name":
        d["name"] = draw(st.one_of(st.text(min_size=65, max_size=70, alphabet="ab"), st.just(""),
                                   st.just(".."), st.text(max_size=10).map(lambda s: s + "/x")))
    elif kind == "extra":
        where = draw(st.sampled_from(["top", "basis", "answer"]))
        key = draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in (
            "format", "version", "name", "basis", "lambda", "precision", "answers", "created_at",
            "updated_at", "fingerprint", "dims", "prompt", "a", "b", "choice", "source", "at")))
        (d if where == "top" else d["basis"] if where == "basis" else d["answers"][0])[key] = 1
    elif kind == "missing":
        where = draw(st.sampled_from(["top", "basis", "answer"]))
        node = d if where == "top" else d["basis"] if where == "basis" else d["answers"][0]
        del node[draw(st.sampled_from(sorted(node)))]
    elif kind == "format":
        d["format"] = draw(_txt.filter(lambda s: s != "prefchat.profile"))
    else:
        d["version"] = draw(st.sampled_from([0, 2, -1, 10**20, 1.0]))
    return _dump(d)


@st.composite
def truncated(draw, doc):
    data = _dump(doc).rstrip()
    return data[: draw(st.integers(0, len(data) - 1))]


@st.composite
def not_utf8(draw, doc):
    data = _dump(doc)  # pure ASCII, so any lone byte >= 0x80 makes it invalid UTF-8
    if draw(st.booleans()):
        return json.dumps(doc).encode(draw(st.sampled_from(["utf-16", "utf-32"])))
    i = draw(st.integers(0, len(data)))
    return data[:i] + bytes([draw(st.integers(0x80, 0xFF))]) + data[i:]


def hostile(doc):
    return st.one_of(truncated(doc), wrong_type(doc), non_finite(doc), huge(doc), deep(doc),
                     wrong_shape(doc), wrong_fingerprint(doc), bad_values(doc), not_utf8(doc),
                     st.binary(max_size=3000))


# -- harness --------------------------------------------------------------------------------------

def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def world(tmp_path, basis_dir):
    """A store holding 'alice' (the default) and 'bob', and the valid document the fuzz mutates."""
    store = ProfileStore(tmp_path / "home")
    alice = make_profile("alice", basis_dir, n_answers=3, seed=1)
    store.save(alice)
    store.save(make_profile("bob", basis_dir, seed=2))
    store.set_default("alice")
    doc = make_profile("alice", basis_dir, n_answers=3, seed=7).to_dict()
    return store, load_basis(basis_dir), doc, tmp_path / "in"


def test_hostile_doc_is_valid_before_mutation(world):
    store, basis, doc, scratch = world
    scratch.mkdir()
    f = scratch / "ok.json"
    f.write_bytes(_dump(doc))
    before = _snapshot(store.root)
    import_file(store, f, basis, None, as_name="carol")  # the unmutated document is accepted
    after = _snapshot(store.root)
    assert {k: v for k, v in after.items() if k in before} == before  # alice, bob, settings untouched
    carol = store.load("carol").to_dict()
    assert carol["name"] == "carol"
    # what was imported is the document itself: same weights and answers, under the new name
    for key in ("lambda", "answers", "basis"):
        assert carol[key] == doc[key], key


@pytest.mark.slow  # fuzzing
@settings(FUZZ, max_examples=1500)
@given(data=st.data())
def test_import_refuses_hostile_files_in_process(world, data):
    store, basis, doc, scratch = world
    scratch.mkdir(exist_ok=True)
    raw = data.draw(hostile(doc))
    f = scratch / "in.json"
    f.write_bytes(raw)
    before = _snapshot(store.root)
    with pytest.raises(PrefchatError) as ei:
        import_file(store, f, basis, fake_pair_diffs(J), force=True)
    msg = str(ei.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    assert _snapshot(store.root) == before


@pytest.mark.slow  # fuzzing
@settings(FUZZ, max_examples=12)
@given(data=st.data())
def test_cli_refuses_hostile_files(world, basis_dir, data):
    store, basis, doc, scratch = world
    scratch.mkdir(exist_ok=True)
    f = scratch / "in.json"
    f.write_bytes(data.draw(hostile(doc)))
    before = _snapshot(store.root)
    env = dict(os.environ, PREFCHAT_HOME=str(store.root), PREFCHAT_BASIS=str(basis_dir))
    r = subprocess.run([sys.executable, "-m", "prefchat", "profile", "import", str(f), "--force"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("prefchat: error: "), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert _snapshot(store.root) == before
