"""Strict validation of the profile format (docs/FORMATS.md): each rule has a case that must be refused."""

from __future__ import annotations

import json

import pytest

from prefchat.errors import PrefchatError
from prefchat.profiles.profile import MAX_FILE_BYTES, check_name, from_dict, parse_bytes

from .conftest import make_profile


@pytest.fixture
def doc(basis_dir) -> dict:
    return make_profile("alice", basis_dir).to_dict()


def _bad(d, fragment):
    with pytest.raises(PrefchatError) as ei:
        parse_bytes(json.dumps(d).encode(), "f.json")
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith("f.json: ")
    assert fragment in msg, msg


def test_valid_document_parses(doc):
    p = from_dict(doc)
    assert p.to_dict() == doc


@pytest.mark.parametrize("name", ["", ".", "..", "..a", ".hidden", "a/b", "a b", "x" * 65, "ä", "a\nb", None, 3])
def test_unsafe_names_refused(name):
    with pytest.raises(PrefchatError):
        check_name(name)


@pytest.mark.parametrize("name", ["alice", "A.b_c-1", "x" * 64, "a..b"])
def test_safe_names_accepted(name):
    assert check_name(name) == name


def test_rules(doc):
    import copy

    def mut(f):
        d = copy.deepcopy(doc)
        f(d)
        return d

    _bad(mut(lambda d: d.update(extra=1)), "unknown key 'extra'")
    _bad(mut(lambda d: d["basis"].update(extra=1)), "unknown key")
    _bad(mut(lambda d: d["answers"][0].update(extra=1)), "unknown key")
    _bad(mut(lambda d: d.pop("answers")), "missing key 'answers'")
    _bad(mut(lambda d: d.update(format="other")), "not a prefchat profile")
    _bad(mut(lambda d: d.update(version=2)), "upgrade prefchat")
    _bad(mut(lambda d: d.update(version=True)), "unsupported profile version")
    _bad(mut(lambda d: d["lambda"].append(0.0)), "lambda has 5 entries")
    _bad(mut(lambda d: d["lambda"].__setitem__(0, True)), "lambda[0] must be a number")
    _bad(mut(lambda d: d["lambda"].__setitem__(0, "1")), "lambda[0] must be a number")
    _bad(mut(lambda d: d["precision"].pop()), "4x4 matrix")
    _bad(mut(lambda d: d["precision"][1].__setitem__(0, 99.0)), "not symmetric")
    _bad(mut(lambda d: d.update(precision=[[-1.0 if i == j else 0.0 for j in range(4)] for i in range(4)])),
         "not positive definite")
    _bad(mut(lambda d: d["basis"].update(dims=0)), "basis.dims")
    _bad(mut(lambda d: d["basis"].update(dims=4.0)), "basis.dims")
    _bad(mut(lambda d: d["basis"].update(fingerprint="md5")), "basis.fingerprint")
    _bad(mut(lambda d: d["answers"][0].update(choice="c")), "choice")
    _bad(mut(lambda d: d["answers"][0].update(source="web")), "source")
    _bad(mut(lambda d: d["answers"][0].update(at="yesterday")), "ISO 8601")
    _bad(mut(lambda d: d["answers"][0].update(at="2026-13-40T25:00:00Z")), "ISO 8601")
    _bad(mut(lambda d: d["answers"][0].update(prompt="\ud800")), "lone surrogate")
    _bad(mut(lambda d: d.update(name="../../etc/passwd")), "invalid profile name")
    _bad([doc], "top level must be a JSON object")


def test_non_finite_and_overflow(doc):
    text = json.dumps(doc)
    lam0 = json.dumps(doc["lambda"][0])
    for bad in ("NaN", "Infinity", "-Infinity", "1e999", "1" * 5000):
        with pytest.raises(PrefchatError) as ei:
            parse_bytes(text.replace(lam0, bad, 1).encode())
        assert "\n" not in str(ei.value)


def test_duplicate_keys_refused(doc):
    text = json.dumps(doc)
    with pytest.raises(PrefchatError, match="twice"):
        parse_bytes(text.replace('"name": "alice"', '"name": "alice", "name": "bob"', 1).encode())


def test_size_cap_and_depth_guard():
    with pytest.raises(PrefchatError, match="larger than"):
        parse_bytes(b" " * (MAX_FILE_BYTES + 1))
    # Deep enough to crash a recursive parser; refused before json recurses.
    with pytest.raises(PrefchatError, match="nested deeper"):
        parse_bytes(b"[" * 200_000 + b"]" * 200_000)
    # Brackets inside strings are text, not nesting.
    with pytest.raises(PrefchatError, match="not a prefchat profile"):
        parse_bytes(json.dumps({"format": "[" * 100}).encode())


def test_bom_tolerated(doc):
    assert parse_bytes(b"\xef\xbb\xbf" + json.dumps(doc).encode()).name == "alice"
