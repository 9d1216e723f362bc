"""A scripted LLM backend and a cheap scorer: the fast tier of the chat UI tests.

What is fake, and why: `ScriptedBackend` stands in for a language model. It is a real
prefchat.llm.base.Backend subclass (the base class's load/generate/cancel contract runs unchanged);
only the text comes from a script instead of a network, so a UI test can say exactly which replies,
deltas, delays and errors the app receives. `StatsScorer` stands in for the MiniLM scorer: phi is a
fixed projection of the encoder module's real surface statistics (no model weights, no torch), so a
test can build a session in milliseconds. The slower tests in tests/chat/test_chat_app.py keep the
real llama.cpp backend and the real MiniLM scorer.

    backend = ScriptedBackend()
    backend.enqueue(["short reply", "a much longer reply!"])   # one request's N candidates
    backend.enqueue_error(BackendTimeout("no answer within 60 s"))
    backend.enqueue(["x", "y"], delay=0.5)                      # slow enough to cancel
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from prefchat.basis.encoders import STAT_NAMES, text_stats
from prefchat.llm.base import Backend, BackendError, Cancelled, Candidate, GenerationRequest


@dataclass
class _Turn:
    replies: list[str] | None = None
    error: BaseException | None = None
    delay: float = 0.0          # seconds between streamed words
    chunks: int = 0             # filled in as words stream, for assertions


class ScriptedBackend(Backend):
    """Replies from a queue: each generate() call takes the next turn. An empty queue is an error, so
    a test that triggers more requests than it scripted fails loudly instead of hanging."""

    name = "scripted"

    def __init__(self, load_error: BaseException | None = None) -> None:
        super().__init__()
        self.turns: deque[_Turn] = deque()
        self.requests: list[GenerationRequest] = []
        self.load_error = load_error

    def enqueue(self, replies: list[str], delay: float = 0.0) -> "ScriptedBackend":
        self.turns.append(_Turn(replies=list(replies), delay=delay))
        return self

    def enqueue_error(self, error: BaseException) -> "ScriptedBackend":
        self.turns.append(_Turn(error=error))
        return self

    def describe(self) -> str:
        return "scripted test backend"

    def _load(self, progress) -> None:
        progress("loading scripted backend")
        if self.load_error is not None:
            raise self.load_error

    def _generate(self, request: GenerationRequest, on_delta, cancel: threading.Event) -> list[Candidate]:
        self.requests.append(request)
        if not self.turns:
            raise BackendError("scripted backend: no reply scripted for this request")
        turn = self.turns.popleft()
        if turn.error is not None:
            raise turn.error
        replies = (turn.replies * request.n)[: request.n]  # N candidates from what was scripted
        t0 = time.perf_counter()
        texts = [""] * len(replies)
        # Stream word by word, round-robin over candidates, like a batched backend.
        words = [r.split(" ") for r in replies]
        for step in range(max((len(w) for w in words), default=0)):
            for i, w in enumerate(words):
                if step >= len(w):
                    continue
                if cancel.is_set():
                    raise Cancelled([Candidate(t, len(t.split()), time.perf_counter() - t0, "cancelled")
                                     for t in texts])
                piece = (" " if step else "") + w[step]
                texts[i] += piece
                on_delta(i, piece)
                turn.chunks += 1
                if turn.delay:
                    time.sleep(turn.delay)
        return [Candidate(t, len(t.split()), time.perf_counter() - t0, "stop", seed=i)
                for i, t in enumerate(texts)]


class StatsScorer:
    """phi = the surface statistics times a fixed J x 10 matrix: deterministic, instant, and it does
    tell a long enthusiastic reply from a short flat one, which is what reranking tests need."""

    def __init__(self, dims: int, seed: int = 0) -> None:
        self.W = np.random.default_rng(seed).normal(size=(len(STAT_NAMES), dims))

    def phi(self, responses: list[str], prompts: list[str] | None = None) -> np.ndarray:
        return text_stats(list(responses)).astype(np.float64) @ self.W

    def pair_diffs(self, prompts: list[str], a: list[str], b: list[str]) -> np.ndarray:
        return self.phi(a) - self.phi(b)

    def rewards(self, lam: np.ndarray, responses: list[str], prompt: str = "") -> np.ndarray:
        return self.phi(responses) @ np.asarray(lam, dtype=float)


class Passthrough:
    """A real backend seen through a wrapper: subclasses override generate() to watch or slow it."""

    def __init__(self, inner):
        self.inner = inner

    def load(self, progress=None):
        self.inner.load(progress)

    def describe(self):
        return self.inner.describe()

    def generate(self, req, on_delta, cancel):
        return self.inner.generate(req, on_delta, cancel)
