"""transformers backend on a tiny random Qwen2 with an in-process tokenizer."""

from __future__ import annotations

import threading

import pytest

from prefchat.llm import Cancelled, GenerationRequest, ModelLoadError, ModelNotFound, make_backend

from .conftest import CHAT


def req(**kw):
    base = dict(messages=CHAT, n=1, max_tokens=12, temperature=1.0, seed=3)
    base.update(kw)
    return GenerationRequest(**base)


def test_single_candidate_streams_its_text(hf_backend):
    deltas = []
    [c] = hf_backend.generate(req(), on_delta=lambda i, t: deltas.append((i, t)))
    assert 1 <= c.n_tokens <= 12 and c.finish_reason in ("stop", "length")
    assert {i for i, _ in deltas} <= {0}
    assert "".join(t for _, t in deltas) == c.text


def test_four_candidates_one_batch_distinct_reproducible(hf_backend, monkeypatch):
    rows = []
    hook = hf_backend._model.register_forward_pre_hook(
        lambda mod, args, kw: rows.append(kw["input_ids"].shape[0]), with_kwargs=True)
    streamed = {}
    try:
        a = hf_backend.generate(req(n=4), on_delta=lambda i, t: streamed.__setitem__(
            i, streamed.get(i, "") + t))
    finally:
        hook.remove()
    assert rows and set(rows) == {4}  # every forward pass carries all four rows: one batch
    b = hf_backend.generate(req(n=4))
    c = hf_backend.generate(req(n=4, seed=4))
    assert len({x.text for x in a}) == 4
    assert [x.text for x in a] == [x.text for x in b]
    assert [x.text for x in a] != [x.text for x in c]
    assert [streamed.get(i, "") for i in range(4)] == [x.text for x in a]


def test_greedy_rows_agree_and_ignore_eos_fills_max_tokens(hf_backend):
    out = hf_backend.generate(req(n=3, temperature=0, max_tokens=6, ignore_eos=True))
    assert len({c.text for c in out}) == 1
    assert all(c.n_tokens == 6 and c.finish_reason == "length" for c in out)


def test_chat_template_is_used(hf_backend):
    p = hf_backend.format_prompt(CHAT)
    assert p.startswith("<|im_start|>system\nYou are terse.<|im_end|>\n")
    assert p.endswith("<|im_start|>assistant\n")


def test_cancel(hf_backend):
    cancel = threading.Event()
    with pytest.raises(Cancelled) as ei:
        hf_backend.generate(req(n=2, max_tokens=400, ignore_eos=True),
                            on_delta=lambda i, t: cancel.set(), cancel=cancel)
    assert all(c.n_tokens < 20 for c in ei.value.partial)
    assert hf_backend.generate(req(max_tokens=3))[0].n_tokens >= 1


def test_load_errors(tmp_path):
    with pytest.raises(ModelNotFound, match="model directory not found"):
        make_backend("hf", str(tmp_path / "nope")).load()
    with pytest.raises(ModelNotFound, match="offline mode is on"):
        make_backend("hf", "someorg/somemodel", offline=True).load()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        make_backend("hf", str(tmp_path / "empty")).load()
