"""No first-reply stall: the chat loads and warms the scorer (MiniLM weights in memory) during its
start-up, before the user can send; `ask` loads it in a thread while the model generates. Real
llama.cpp on the tiny GGUF, the real shipped basis and a fresh scorer (not the shared fixture, which
is already warm). State and event ordering are asserted, never timings."""

from __future__ import annotations

import threading

import numpy as np

from prefchat.config import Config
from prefchat.tui.chat_app import ChatApp
from tests.fakes import Passthrough
from tests.tui.screens import screen_text, sync

from .conftest import make_profile


@sync
async def test_chat_start_up_loads_the_scorer_before_the_first_send(home, tiny_gguf, basis):
    from prefchat.chat.factory import make_session

    make_profile(basis, lam=np.random.default_rng(1).normal(size=basis.dims))
    cfg = Config(backend="llama", model=str(tiny_gguf), n=2, max_tokens=12)
    app = ChatApp(lambda: make_session(cfg, None))  # scorer=None: this session loads its own
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "ready" in screen_text(app), screen_text(app)
        reranker = app.session.reranker
        assert reranker._scorer is not None, "the scorer was not built at start-up"
        assert reranker._scorer.encoder.loaded, "the encoder weights were left for the first reply"
        await pilot.press(*"hi", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        reply = app.session.messages[-1]
        assert reply.role == "assistant" and all(c["score"] is not None for c in reply.candidates)


class _Handshake:
    """Two sides that each wait for the other to have started: both see the other only if they
    really run at the same time (run one after the other, the first one times out)."""

    def __init__(self) -> None:
        self.scorer_loading = threading.Event()
        self.generating = threading.Event()
        self.load_saw_generation = self.generation_saw_load = None


def test_ask_loads_the_scorer_while_the_model_generates(home, tiny_gguf, basis, monkeypatch):
    from typer.testing import CliRunner

    import prefchat.chat.factory as session_mod  # where make_session builds the backend
    from prefchat.cli import app
    from prefchat.rerank import Reranker

    make_profile(basis, lam=np.random.default_rng(2).normal(size=basis.dims))
    hs = _Handshake()
    real_load, real_build = Reranker.load, session_mod.build_backend

    def load(self):
        if hs.load_saw_generation is None:
            hs.scorer_loading.set()
            hs.load_saw_generation = hs.generating.wait(30)
        return real_load(self)

    class Backend(Passthrough):
        def generate(self, req, on_delta, cancel):
            hs.generating.set()
            hs.generation_saw_load = hs.scorer_loading.wait(30)
            return self.inner.generate(req, on_delta, cancel)

    monkeypatch.setattr(Reranker, "load", load)
    monkeypatch.setattr(session_mod, "build_backend", lambda cfg, **kw: Backend(real_build(cfg, **kw)))
    r = CliRunner().invoke(app, ["ask", "hi", "--backend", "llama", "--model", str(tiny_gguf), "-n", "2",
                                 "--max-tokens", "8", "--seed", "1", "--all"])
    assert r.exit_code == 0, r.output
    assert hs.load_saw_generation and hs.generation_saw_load
    assert "unscored" not in r.output and "reranking failed" not in r.output  # the loaded scorer ranked them
