"""llama.cpp backend on a tiny random GGUF: real decoding, batched sequences, seeds, streaming,
cancel, errors."""

from __future__ import annotations

import threading
import time

import pytest

from prefchat.llm import (Cancelled, GenerationRequest, ModelLoadError, ModelNotFound,
                          make_backend)

from .conftest import CHAT
from .tiny_models import write_tiny_gguf


def req(**kw):
    base = dict(messages=CHAT, n=1, max_tokens=16, temperature=1.0, seed=7)
    base.update(kw)
    return GenerationRequest(**base)


def test_single_candidate_streams_its_text(llama_backend):
    deltas = []
    [c] = llama_backend.generate(req(), on_delta=lambda i, t: deltas.append((i, t)))
    assert c.text and 1 <= c.n_tokens <= 16 and c.finish_reason in ("stop", "length")
    assert {i for i, _ in deltas} == {0}
    assert "".join(t for _, t in deltas) == c.text
    assert c.seed == 7 and c.seconds > 0


def test_four_candidates_distinct_and_reproducible(llama_backend):
    a = llama_backend.generate(req(n=4, max_tokens=12))
    b = llama_backend.generate(req(n=4, max_tokens=12))
    c = llama_backend.generate(req(n=4, max_tokens=12, seed=99))
    assert [x.seed for x in a] == [7, 8, 9, 10]
    assert len({x.text for x in a}) == 4
    assert [x.text for x in a] == [x.text for x in b]
    assert [x.text for x in a] != [x.text for x in c]


def test_n_candidates_are_decoded_in_one_batch(llama_backend, monkeypatch):
    """N=4 must cost one llama_decode per step (plus the prompt), not one per candidate-step."""
    import prefchat.llm.llama as mod

    calls = []
    real = mod.lc.llama_decode

    def counting(ctx, batch):
        calls.append(batch.n_tokens)
        return real(ctx, batch)

    monkeypatch.setattr(mod.lc, "llama_decode", counting)
    out = llama_backend.generate(req(n=4, max_tokens=10, ignore_eos=True))
    assert [c.n_tokens for c in out] == [10] * 4
    assert llama_backend.batched
    # prompt once, then 9 steps (the 10th token needs no decode), each carrying all 4 sequences
    assert len(calls) == 1 + 9
    assert calls[1:] == [4] * 9


def test_shared_prompt_kv_greedy_sequences_agree(llama_backend):
    """With greedy sampling every sequence must continue the *same* prompt: if the prompt's KV were
    not shared with sequences 1..N-1 they would decode without context and diverge from N=1."""
    [one] = llama_backend.generate(req(temperature=0, max_tokens=12, ignore_eos=True))
    four = llama_backend.generate(req(n=4, temperature=0, max_tokens=12, ignore_eos=True))
    assert [c.text for c in four] == [one.text] * 4


def test_more_candidates_than_parallel_slots(tiny_gguf):
    b = make_backend("llama", str(tiny_gguf), n_threads=2, max_parallel=2, n_ctx=512)
    out = b.generate(req(n=3, max_tokens=8))
    assert len(out) == 3 and len({c.text for c in out}) == 3
    b.close()


def test_max_tokens_and_ignore_eos(llama_backend):
    out = llama_backend.generate(req(n=2, max_tokens=5, ignore_eos=True))
    assert all(c.n_tokens == 5 and c.finish_reason == "length" for c in out)


def test_chat_template_from_gguf_and_fallback(llama_backend, tmp_path):
    p = llama_backend.format_prompt(CHAT)
    assert p.startswith("<|im_start|>system\nYou are terse.<|im_end|>")
    assert p.endswith("<|im_start|>assistant\n")
    # the chat markers must be single special tokens, not spelled out byte by byte
    assert llama_backend.tokenize("<|im_start|>")[0] == 510
    plain = make_backend("llama", str(write_tiny_gguf(tmp_path / "nt.gguf", chat_template=False)),
                         n_ctx=256)
    plain.load()
    assert plain.format_prompt(CHAT).endswith("User: Say something about tea, please.\n\nAssistant:")
    assert plain.generate(req(max_tokens=4))[0].n_tokens >= 1
    plain.close()


def test_cancel_stops_promptly_and_backend_stays_usable(llama_backend):
    cancel = threading.Event()
    seen = []

    def on_delta(i, t):
        seen.append(i)
        if len(seen) == 6:
            cancel.set()

    t0 = time.perf_counter()
    with pytest.raises(Cancelled) as ei:
        llama_backend.generate(req(n=3, max_tokens=500, ignore_eos=True), on_delta=on_delta,
                               cancel=cancel)
    assert time.perf_counter() - t0 < 2
    partial = ei.value.partial
    assert len(partial) == 3 and all(c.finish_reason == "cancelled" for c in partial)
    assert all(c.n_tokens < 500 for c in partial)
    assert llama_backend.generate(req(max_tokens=4))[0].n_tokens >= 1


def test_already_cancelled(llama_backend):
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        llama_backend.generate(req(), cancel=ev)


def test_load_errors_are_one_line(tmp_path, tiny_gguf):
    with pytest.raises(ModelNotFound, match="model file not found"):
        make_backend("llama", str(tmp_path / "missing.gguf")).load()
    bad = tmp_path / "notes.gguf"
    bad.write_text("hello")
    with pytest.raises(ModelLoadError, match="not a GGUF file"):
        make_backend("llama", str(bad)).load()
    trunc = tmp_path / "trunc.gguf"
    trunc.write_bytes(tiny_gguf.read_bytes()[:50_000])
    with pytest.raises(ModelLoadError, match="corrupt") as ei:
        make_backend("llama", str(trunc)).load()
    assert "\n" not in str(ei.value)
