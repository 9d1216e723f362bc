"""The interface itself: request validation, errors, factory, import cost, UTF-8 streaming."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prefchat.errors import PrefchatError
from prefchat.llm import (BackendError, Cancelled, GenerationRequest, ModelNotFound, backend_class,
                          make_backend)
from prefchat.llm.base import Utf8Stream

MSG = [{"role": "user", "content": "hi"}]


def test_import_is_light():
    code = ("import sys, prefchat.llm; "
            "heavy = [m for m in ('torch', 'transformers', 'llama_cpp', 'openai') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("kw", [dict(messages=[]), dict(messages=[{"role": "bot", "content": "x"}]),
                                dict(messages=MSG, n=0), dict(messages=MSG, max_tokens=0),
                                dict(messages=MSG, top_p=0)])
def test_request_validation(kw):
    with pytest.raises(ValueError):
        GenerationRequest(**kw)


def test_seeds_are_consecutive_and_random_when_unset():
    assert GenerationRequest(MSG, n=3, seed=10).seeds() == [10, 11, 12]
    assert GenerationRequest(MSG, n=2).seeds() != GenerationRequest(MSG, n=2).seeds()


def test_errors_are_one_line_and_cancel_is_separate():
    e = ModelNotFound("missing\n  file   x")
    assert str(e) == "missing file x" and isinstance(e, BackendError) and isinstance(e, PrefchatError)
    assert not isinstance(Cancelled(), BackendError)
    assert Cancelled().partial == []


def test_factory_aliases_and_rejections():
    assert backend_class("llama.cpp") is backend_class("gguf")
    with pytest.raises(BackendError, match="unknown backend 'nope'"):
        make_backend("nope", "m")
    with pytest.raises(BackendError, match="unknown option.*n_ctxx.*valid: .*n_ctx"):
        make_backend("llama", "m.gguf", n_ctxx=5)


def test_utf8_stream_never_splits_a_character():
    s = Utf8Stream()
    data = "héllo ☕".encode()
    out = [s.feed(data[i:i + 1]) for i in range(len(data))]
    assert "".join(out) + s.flush() == "héllo ☕"
    assert "\ufffd" not in "".join(out)
