"""Per-candidate instructions (styled best-of-N) in every backend: the request's shape, llama.cpp's
shared prefix decoded once with N distinct suffixes in one batch, transformers' left-padded rows,
and the OpenAI-compatible backend's distinct concurrent requests (a recording loopback server and
the real llama-cpp-python server)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prefchat.llm import GenerationRequest, make_backend

from .conftest import CHAT

STYLES = ["Answer concisely.", "Answer formally and at length, with examples.",
          "Be casual; use a joke.", "Answer in a list of short points."]


def req(**kw):
    base = dict(messages=CHAT, n=4, max_tokens=10, temperature=1.0, seed=5, instructions=STYLES)
    base.update(kw)
    return GenerationRequest(**base)


# --- the request ---------------------------------------------------------------------------------

def test_request_puts_the_instruction_last_as_a_system_turn():
    r = req(instructions=["Be brief.", None, "  ", "Be brief."])
    assert r.messages_for(0) == CHAT + [{"role": "system", "content": "Be brief."}]
    assert r.messages_for(1) == CHAT and r.messages_for(2) == CHAT  # blank = none
    assert r.instructions == ["Be brief.", None, None, "Be brief."]
    assert r.prompt_groups() == [[0, 3], [1, 2]] and not r.same_prompt
    assert req(instructions=None).same_prompt and req(instructions=["x"] * 4).same_prompt
    for bad in (["x"] * 3, ["x", 1, None, None]):
        with pytest.raises(ValueError, match="instructions"):
            req(instructions=bad)


# --- llama.cpp -------------------------------------------------------------------------------------

def _record_decodes(monkeypatch):
    import prefchat.llm.llama_batch as mod

    calls = []
    real = mod.lc.llama_decode

    def recording(ctx, batch):
        rows = [(batch.token[k], batch.pos[k], batch.seq_id[k][0], bool(batch.logits[k]))
                for k in range(batch.n_tokens)]
        calls.append(rows)
        return real(ctx, batch)

    monkeypatch.setattr(mod.lc, "llama_decode", recording)
    return calls


def test_llama_shared_prefix_once_then_distinct_suffixes_in_one_batch(llama_backend, monkeypatch):
    r = req(ignore_eos=True)
    prompts = [llama_backend.tokenize(llama_backend.format_prompt(r.messages_for(i)))
               for i in range(4)]
    calls = _record_decodes(monkeypatch)
    out = llama_backend.generate(r)
    assert [c.n_tokens for c in out] == [10] * 4
    # the conversation, once, as sequence 0, without logits
    prefix = calls[0]
    k = len(prefix)
    assert [t for t, *_ in prefix] == prompts[0][:k] and all(p[:k] == prompts[0][:k] for p in prompts)
    assert {s for _, _, s, _ in prefix} == {0} and not any(lg for *_, lg in prefix)
    assert k >= len(llama_backend.tokenize(llama_backend.format_prompt(CHAT))) - 3
    # then ONE decode with every candidate's own instruction suffix, one logits row per sequence
    suffix = calls[1]
    for j in range(4):
        rows = [(t, pos) for t, pos, s, _ in suffix if s == j]
        assert [t for t, _ in rows] == prompts[j][k:]
        assert [pos for _, pos in rows] == list(range(k, len(prompts[j])))
    assert sum(lg for *_, lg in suffix) == 4
    # then 9 lockstep steps of 4 tokens, each at its own sequence's next position
    assert len(calls) == 2 + 9 and all(len(c) == 4 for c in calls[2:])
    assert [pos for _, pos, s, _ in sorted(calls[2], key=lambda r: r[2])] == [len(p) for p in prompts]


def _first_logits(backend, monkeypatch, request):
    """Run `request`; return each candidate's logits at its first sampled token (the row the suffix
    decode produced). Texts are not compared: splitting a decode differently changes float
    rounding, and the tiny random model's flat logits turn that into another sample."""
    import numpy as np

    import prefchat.llm.llama_batch as mod

    n_vocab = mod.lc.llama_vocab_n_tokens(backend._vocab)
    owner, rows = {}, {}
    real_make, real_sample = mod.make_sampler, mod.lc.llama_sampler_sample
    made = []

    def make(req, seed):
        chain = real_make(req, seed)
        owner[ctypes_addr(chain)] = len(made)
        made.append(chain)
        return chain

    def sample(chain, ctx, idx):
        i = owner[ctypes_addr(chain)]
        if i not in rows:
            ptr = mod.lc.llama_get_logits_ith(ctx, idx)
            rows[i] = np.ctypeslib.as_array(ptr, shape=(n_vocab,)).copy()
        return real_sample(chain, ctx, idx)

    with monkeypatch.context() as m:
        m.setattr(mod, "make_sampler", make)
        m.setattr(mod.lc, "llama_sampler_sample", sample)
        backend.generate(request)
    return [rows[i] for i in range(request.n)]


def ctypes_addr(p) -> int:
    import ctypes

    return ctypes.cast(p, ctypes.c_void_p).value


def _check_equals_lone_runs(backend, monkeypatch, r):
    """Candidate i's first logits must be what a lone run of its own chat gives: wrong positions,
    a missing or misplaced suffix, or KV leaking between sequences all move them far."""
    import numpy as np

    batch = _first_logits(backend, monkeypatch, r)
    for i in range(r.n):
        [alone] = _first_logits(backend, monkeypatch, GenerationRequest(
            r.messages_for(i), n=1, max_tokens=2, seed=1))
        np.testing.assert_allclose(batch[i], alone, atol=2e-3, rtol=0)
    # the instructions really change the distribution (else this would check nothing)
    assert max(np.abs(batch[0] - b).max() for b in batch[1:]) > 0.05


def test_llama_instructed_candidates_equal_separate_runs(llama_backend, monkeypatch):
    _check_equals_lone_runs(llama_backend, monkeypatch, req(
        instructions=[STYLES[0], None, STYLES[2], STYLES[3]], max_tokens=3))
    # also with a tiny batch size: the prefix and the suffixes then go in several decodes
    import prefchat.llm.llama_batch as mod

    monkeypatch.setattr(mod.lc, "llama_n_batch", lambda ctx: 16)
    _check_equals_lone_runs(llama_backend, monkeypatch, req(max_tokens=3))


def test_llama_repeated_instruction_is_decoded_once(llama_backend, monkeypatch):
    r = req(ignore_eos=True, max_tokens=3, instructions=[STYLES[0], STYLES[2], STYLES[0], None])
    import prefchat.llm.llama_batch as mod

    lc = mod.lc
    spans = []  # (pos_min, pos_max) of each sequence's cells before each decode
    real = lc.llama_decode

    def spying(ctx, batch):
        mem = lc.llama_get_memory(ctx)
        spans.append([(lc.llama_memory_seq_pos_min(mem, j), lc.llama_memory_seq_pos_max(mem, j))
                      for j in range(4)])
        return real(ctx, batch)

    monkeypatch.setattr(lc, "llama_decode", spying)
    calls = _record_decodes(monkeypatch)
    out = llama_backend.generate(r)
    assert len(calls) == 2 + 2 and [c.n_tokens for c in out] == [3] * 4
    # the suffix decode carries sequences 0, 1 and 3; sequence 2 copies sequence 0's cells
    assert {s for _, _, s, _ in calls[1]} == {0, 1, 3} and sum(lg for *_, lg in calls[1]) == 3
    assert sorted(s for _, _, s, _ in calls[2]) == [0, 1, 2, 3]
    n0 = len(llama_backend.tokenize(llama_backend.format_prompt(r.messages_for(0))))
    assert spans[2][2] == spans[2][0] == (0, n0 - 1)  # its whole prompt, before it generates
    monkeypatch.undo()
    _check_equals_lone_runs(llama_backend, monkeypatch, r)


def test_llama_suffixes_longer_than_a_batch_are_chunked(llama_backend, monkeypatch):
    """With a batch smaller than all suffixes together, every suffix token is still decoded once, at
    its position, in its sequence, and all N logits rows come from the last decode (a row from an
    earlier decode would be overwritten before it is sampled). Texts are not compared with the
    unchunked run: a different split changes float rounding, and the tiny random model's flat
    logits turn that into other samples (a lone N=1 run shows the same); the logits themselves are
    compared in the test above."""
    import prefchat.llm.llama_batch as mod

    r = req(ignore_eos=True, max_tokens=4, instructions=[STYLES[0], None, STYLES[2], STYLES[3]])
    prompts = [llama_backend.tokenize(llama_backend.format_prompt(r.messages_for(i)))
               for i in range(4)]
    monkeypatch.setattr(mod.lc, "llama_n_batch", lambda ctx: 16)
    calls = _record_decodes(monkeypatch)
    out = llama_backend.generate(r)
    assert [c.n_tokens for c in out] == [4] * 4
    assert all(len(c) <= 16 for c in calls)
    steps = calls[-3:]  # 3 lockstep steps of 4
    setup = [row for c in calls[:-3] for row in c]
    shared = None
    for j in range(4):
        seq = sorted((pos, t) for t, pos, s, _ in setup if s == j)
        # sequence 0 decodes the shared prefix and its suffix; 1..3 only their suffixes
        k = 0 if j == 0 else seq[0][0]
        shared = k if j == 1 else shared
        assert [t for _, t in seq] == prompts[j][k:]
        assert [p for p, _ in seq] == list(range(k, len(prompts[j])))
    assert all(p[:shared] == prompts[0][:shared] for p in prompts) and shared > 40
    assert [lg for c in calls[:-4] for *_, lg in c] == [False] * sum(map(len, calls[:-4]))
    assert [s for *_, s, lg in calls[-4] if lg] == [0, 1, 2, 3] and len(calls[-4]) == 4
    assert all(len(c) == 4 for c in steps)


def test_llama_more_instructed_candidates_than_slots(tiny_gguf, monkeypatch):
    b = make_backend("llama", str(tiny_gguf), n_threads=2, max_parallel=2, n_ctx=512)
    try:
        b.load()
        _check_equals_lone_runs(b, monkeypatch, req(n=3, max_tokens=3, instructions=STYLES[:3]))
    finally:
        b.close()


# --- transformers ----------------------------------------------------------------------------------

def _hf_first_logits(backend, request):
    """Each row's next-token logits from the first forward pass (the prompt's last position)."""
    seen = []

    def hook(_module, _args, output):
        if not seen:
            seen.append(output.logits[:, -1, :].float().clone())

    handle = backend._model.register_forward_hook(hook)
    try:
        backend.generate(request)
    finally:
        handle.remove()
    return seen[0]


def test_hf_left_padded_rows_equal_separate_runs(hf_backend, monkeypatch):
    """Distinct prompts, left-padded in one batch: each row's logits must match its chat run alone
    (right padding, or a mask that let a row see its padding, would move them)."""
    import torch

    r = req(max_tokens=2, instructions=[STYLES[1], None, STYLES[0], STYLES[1]])
    shapes = []

    def spy(_module, _args, kw):
        if not shapes:  # the prefill: the prompts' rows and their real lengths
            shapes.append((tuple(kw["input_ids"].shape), kw["attention_mask"].sum(1).tolist()))

    handle = hf_backend._model.register_forward_pre_hook(spy, with_kwargs=True)
    try:
        batch = _hf_first_logits(hf_backend, r)
    finally:
        handle.remove()
    [(shape, lengths)] = shapes  # one batch, rows of different real lengths
    assert shape[0] == 4 and len(set(lengths)) == 3 and max(lengths) == shape[1]
    for i in range(4):
        alone = _hf_first_logits(hf_backend, GenerationRequest(r.messages_for(i), n=1,
                                                                max_tokens=2))
        torch.testing.assert_close(batch[i], alone[0], atol=1e-4, rtol=1e-4)
    assert (batch[0] - batch[1]).abs().max() > 0.05  # the instruction changes the distribution
    out = hf_backend.generate(r)
    assert len(out) == 4 and all(c.n_tokens >= 1 for c in out)


# --- OpenAI-compatible -----------------------------------------------------------------------------

class RecordingServer:
    """Loopback server that logs every request and answers with the last message's content, so
    each candidate shows which prompt it was generated from. mode "many" honours `n`."""

    def __init__(self):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                n = body.get("n", 1) if self.path.split("/")[1] == "many" else 1
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                last = body["messages"][-1]["content"]
                for k in range(n):
                    for content, finish in ((f"[{k}] {last}", None), (None, "stop")):
                        delta = {"content": content} if content else {}
                        self.wfile.write(("data: " + json.dumps({
                            "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                            "choices": [{"index": k, "delta": delta, "finish_reason": finish}]})
                            + "\n\n").encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, mode):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{mode}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def recorder():
    s = RecordingServer()
    yield s
    s.close()


def test_openai_distinct_prompts_arrive_as_concurrent_requests(recorder):
    b = make_backend("openai", "m", base_url=recorder.url("many"), max_retries=0, timeout=5)
    r = req(instructions=[STYLES[0], None, STYLES[2], STYLES[3]])
    out = b.generate(r)
    # the server honours n, but n cannot carry different prompts: one request per candidate
    assert len(recorder.requests) == 4 and all("n" not in q for q in recorder.requests)
    got = sorted((q["seed"], q["messages"]) for q in recorder.requests)
    assert got == [(5 + i, r.messages_for(i)) for i in range(4)]
    assert [c.text for c in out] == ["[0] " + r.messages_for(i)[-1]["content"] for i in range(4)]
    # identical prompts (one instruction for all, the `card` strategy) still use n
    recorder.requests.clear()
    out = b.generate(req(instructions=[STYLES[0]] * 4))
    [q] = recorder.requests
    assert q["n"] == 4 and q["messages"][-1] == {"role": "system", "content": STYLES[0]}
    assert [c.text for c in out] == [f"[{k}] {STYLES[0]}" for k in range(4)]


def test_openai_real_server_runs_instructed_candidates(llama_server):
    """End to end against llama-cpp-python's server: one streamed request per distinct chat, every
    candidate complete and streamed under its own index and seed. (Which prompt each request
    carried is asserted with the recording server above: this server cannot show it.)"""
    b = make_backend("openai", "tiny", base_url=llama_server, timeout=30, max_retries=0,
                     concurrency=1)
    streamed: dict[int, str] = {}
    try:
        out = b.generate(req(n=3, max_tokens=8, instructions=STYLES[:3]),
                         on_delta=lambda i, t: streamed.__setitem__(i, streamed.get(i, "") + t))
    finally:
        b.close()
    assert [c.seed for c in out] == [5, 6, 7]
    assert all(c.text and c.finish_reason in ("stop", "length") for c in out)
    assert [streamed[i] for i in range(3)] == [c.text for c in out]
