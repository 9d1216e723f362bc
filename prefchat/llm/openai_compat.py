"""OpenAI-compatible HTTP backend (OpenAI, vLLM, llama.cpp's server, llama-cpp-python's server, ...).

Best-of-N: the first request asks for `n=N`. Servers that honour `n` return N choices in one stream
(one prompt evaluation, batched decoding on their side). Several popular local servers silently
ignore `n` and return one choice (docs/FORMATS.md, LLM backends); then the missing candidates are fetched as N-1
concurrent single requests with seeds seed+1, ..., and the backend remembers not to ask for `n`
again. The first choice is kept either way, so detection costs nothing.

Every request runs in a daemon thread and the caller's thread only waits, so cancel (and errors in
one request) return at once even while a socket read is blocked; abandoned requests are closed and
their threads end at their next chunk or timeout.

The API key is only ever handed to the client: it is not logged, not in messages, not in describe().
Which key goes to which URL is decided in one place, prefchat/llm/endpoint.py (OPENAI_API_KEY only
to api.openai.com; never a key over plain http to a non-loopback host unless allowed).

Replies are bounded: a server that ignores max_tokens (or is hostile) could stream without end. Each
candidate stops being read at reply_bounds(max_tokens) characters, UTF-8 bytes and chunks; it is
cut there and marked finish_reason "length", and its stream is closed. The bounds and the per-choice
state live in llm/openai_stream.py, the mapping of failures to one-line errors in llm/openai_errors.py.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Optional

import httpx2 as httpx  # the HTTP client the openai package is built on (3.x uses httpx2)
import openai

from prefchat.llm.base import (
    Backend,
    BackendError,
    Cancelled,
    Candidate,
    DeltaCallback,
    GenerationRequest,
    ProgressCallback,
    ServerError,
    StreamInterrupted,
)
from prefchat.llm.endpoint import DEFAULT_BASE_URL  # noqa: F401 - re-exported for doctor and tests
from prefchat.llm.endpoint import resolve as resolve_endpoint
from prefchat.llm.openai_errors import map_error
from prefchat.llm.openai_stream import Choice, CleanCut, reply_bounds
from prefchat.textsafe import one_line

log = logging.getLogger(__name__)


class OpenAICompatBackend(Backend):
    """model: the model name the server expects. base_url: the API root ending in /v1 (default:
    $PREFCHAT_BASE_URL, $OPENAI_BASE_URL, then a local llama.cpp server on port 8080). api_key:
    default $PREFCHAT_API_KEY then $OPENAI_API_KEY; local servers need none. timeout: seconds to
    wait for the server to answer and between streamed chunks. use_n: force (True) or forbid
    (False) the `n` parameter; None detects it. concurrency: most simultaneous requests when `n`
    is not honoured (default N)."""

    name = "openai-compatible"

    def __init__(self, model: str, *, base_url: Optional[str] = None,
                 api_key: Optional[str] = None, timeout: float = 60.0, max_retries: int = 1,
                 use_n: Optional[bool] = None, concurrency: Optional[int] = None,
                 allow_insecure_http: bool = False, api_key_source: Optional[str] = None) -> None:
        super().__init__()
        self.model = model
        ep = resolve_endpoint(base_url, api_key, allow_insecure_http, os.environ,
                              key_source=api_key_source)
        self.base_url = ep.base_url
        self._api_key = ep.api_key
        self._key_source = ep.key_source
        self._t_request: Optional[float] = None
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.honours_n: Optional[bool] = use_n
        # Max simultaneous requests when n is not honoured (None: all N at once). Servers with
        # parallel slots (llama.cpp's llama-server) batch concurrent requests; servers that cut
        # concurrent streams are detected and this drops to 1 (see _generate).
        self.concurrency = concurrency
        self._client: Optional[openai.OpenAI] = None

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatBackend(model={self.model!r}, base_url={self.base_url!r})"

    def describe(self) -> str:
        auth = "key set" if self._api_key else "no key"
        return f"openai-compatible {self.model} at {self.base_url} ({auth})"

    @property
    def batched(self) -> bool:  # type: ignore[override]
        return bool(self.honours_n)

    def _load(self, progress: ProgressCallback) -> None:
        # No network here: a chat app must start while the server is still coming up. Errors
        # surface on the first request, mapped to one-line messages.
        self._client = openai.OpenAI(
            base_url=self.base_url,
            # Local servers accept anything; the client refuses to start without some key.
            api_key=self._api_key or "not-needed",
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            max_retries=self.max_retries,
        )
        progress(f"using {self.base_url}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._loaded = False

    # --- errors -----------------------------------------------------------------------------------

    def _map_error(self, exc: BaseException) -> BackendError:
        return map_error(exc, url=self.base_url, model=self.model, timeout=self.timeout,
                         max_retries=self.max_retries, t_request=self._t_request,
                         key_source=self._key_source, has_key=bool(self._api_key))

    # --- generation -------------------------------------------------------------------------------

    def _stream(self, request: GenerationRequest, n: int, seed: int, first_index: int,
                choices: dict[int, Choice], emit, stop: threading.Event, t0: float,
                open_streams: list) -> None:
        """One streaming request; choice k lands at candidate first_index + k. Runs in a worker."""
        # n > 1 only when every candidate has the same chat, so first_index's chat is everyone's.
        kwargs = dict(model=self.model, messages=request.messages_for(first_index), stream=True,
                      max_tokens=request.max_tokens, temperature=max(request.temperature, 0.0),
                      top_p=request.top_p, seed=seed)
        if n > 1:
            kwargs["n"] = n
        stream = self._client.chat.completions.create(**kwargs)
        open_streams.append(stream)
        max_chars, max_bytes, max_chunks = reply_bounds(request.max_tokens)
        total_chunks = total_chars = 0  # the whole stream, including choices already cut off
        try:
            for chunk in stream:
                if stop.is_set():
                    return
                if total_chunks > n * max_chunks or total_chars > 2 * n * max_chars:
                    # Still streaming far past every bound (e.g. it keeps sending a choice we cut
                    # off): stop reading; what was received is kept, cut at the bound.
                    for k, c in choices.items():
                        if first_index <= k < first_index + n and c.finish is None:
                            c.finish, c.seconds = "length", time.perf_counter() - t0
                    break
                total_chunks += 1
                total_chars += sum(len(ch.delta.content or "") for ch in chunk.choices
                                   if ch.delta is not None)
                for ch in chunk.choices:
                    i = first_index + ch.index
                    if ch.index >= n:  # a misbehaving server: ignore choices we did not ask for
                        continue
                    state = choices.setdefault(i, Choice(seed=seed if n == 1 else None))
                    if state.finish is not None:
                        continue  # cut off at the bound (or already finished): ignore the rest
                    role = getattr(ch.delta, "role", None) if ch.delta is not None else None
                    if role:
                        state.role = role
                    text = ch.delta.content if ch.delta is not None else None
                    state.n_chunks += 1
                    if text and state.role in (None, "assistant"):
                        room = max_chars - len(state.text)
                        cut = len(text) > room
                        text = text[:room]
                        nb = len(text.encode("utf-8", "surrogatepass"))
                        if state.n_bytes + nb > max_bytes:
                            text, cut = text[: max(0, (max_bytes - state.n_bytes) // 4)], True
                            nb = len(text.encode("utf-8", "surrogatepass"))
                        state.n_bytes += nb
                        if text:
                            state.text += text
                            # One content chunk per token is what the servers we know send; usage
                            # in streams is not universally supported, so this is the count.
                            state.n_tokens += 1
                            emit(i, text)
                        if cut:
                            ch_finish = "length"
                        else:
                            ch_finish = ch.finish_reason
                    else:
                        ch_finish = ch.finish_reason
                    if ch_finish is None and state.n_chunks >= max_chunks:
                        ch_finish = "length"  # endless tiny (or empty) chunks
                    if ch_finish:
                        state.finish = "length" if ch_finish == "length" else "stop"
                        state.seconds = time.perf_counter() - t0
                mine = [c for k, c in choices.items() if first_index <= k < first_index + n]
                if mine and all(c.finish is not None for c in mine) and (
                        len(mine) == n or total_chunks > max_chunks):
                    # Every candidate finished or was cut off (a server that honours n has shown
                    # all its choices long before max_chunks): stop reading this stream.
                    break
        except (openai.APIConnectionError, httpx.HTTPError) as exc:
            # The headers arrived, so a network error now means the reply was cut mid-way
            # (the openai client wraps it as a "connection error"); a stall is still a timeout.
            if stop.is_set():
                return
            if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
                raise self._map_error(exc) from exc
            raise StreamInterrupted(f"the connection to {self.base_url} dropped in the middle "
                                    f"of a reply") from exc
        finally:
            stream.close()
        if not stop.is_set():
            wrong = [c.role for i, c in choices.items()
                     if first_index <= i < first_index + n and c.role not in (None, "assistant")]
            if wrong:
                raise ServerError(f"{self.base_url} replied with a '{one_line(wrong[0], 40)}' "
                                  "message instead of an assistant reply; it is not used as the "
                                  "answer")
            missing = [i for i, c in choices.items()
                       if first_index <= i < first_index + n and c.finish is None]
            if missing or not any(first_index <= i < first_index + n for i in choices):
                # The stream ended without a finish_reason: the server or a proxy cut it.
                raise CleanCut(f"the connection to {self.base_url} ended in the middle of a "
                                f"reply")

    def _run(self, jobs: list[tuple[int, int, int]], request: GenerationRequest,
             choices: dict[int, Choice], emit, cancel: threading.Event, stop: threading.Event,
             t0: float) -> list[tuple[int, int, int]]:
        """Run (n, seed, first_index) jobs concurrently (at most self.concurrency at a time).
        Returns the jobs whose streams a server cut while others were in flight; raises on any
        other error, or on cancel, at once, without waiting for the other requests."""
        results: queue.Queue = queue.Queue()
        open_streams: list = []
        gate = threading.Semaphore(self.concurrency or len(jobs))

        def work(job):
            with gate:
                if stop.is_set():
                    results.put((job, None))
                    return
                try:
                    self._stream(request, *job, choices, emit, stop, t0, open_streams)
                    results.put((job, None))
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                    results.put((job, exc))

        for job in jobs:
            threading.Thread(target=work, args=(job,), daemon=True,
                             name="prefchat-openai-request").start()
        pending, cut = len(jobs), []
        try:
            while pending:
                try:
                    job, exc = results.get(timeout=0.05)
                except queue.Empty:
                    if cancel.is_set():
                        raise Cancelled()
                    continue
                pending -= 1
                if exc is None or stop.is_set():
                    continue
                if isinstance(exc, CleanCut) and len(jobs) > 1 and (self.concurrency or 2) > 1:
                    cut.append(job)
                    continue
                raise self._map_error(exc)
            if cancel.is_set():
                raise Cancelled()
            return cut
        except BaseException:
            stop.set()
            for s in list(open_streams):  # best effort: frees the server from abandoned work
                try:
                    s.response.close()
                except Exception:  # noqa: BLE001
                    pass
            raise

    def _generate(self, request: GenerationRequest, on_delta: DeltaCallback,
                  cancel: threading.Event) -> list[Candidate]:
        seeds = request.seeds()
        n = request.n
        choices: dict[int, Choice] = {}
        stop = threading.Event()
        lock = threading.Lock()
        shown: dict[int, str] = {}  # text already streamed for a candidate that is being retried

        def emit(i: int, text: str) -> None:
            # Serialised, and silent once the caller has been told "cancelled" or an error.
            with lock:
                if stop.is_set() or cancel.is_set():
                    return
                if i in shown:
                    # A retried candidate: same seed, so normally the same text again; only what
                    # goes beyond what the caller has already seen is new.
                    total, seen = choices[i].text, shown[i]
                    if len(total) <= len(seen):
                        return
                    if not total.startswith(seen):
                        log.warning("retried candidate %d differs from its cut stream", i)
                    del shown[i]
                    text = total[len(seen):]
                on_delta(i, text)

        def fetch(indices: list[int]) -> None:
            cut = self._run([(1, seeds[i], i) for i in indices], request, choices, emit, cancel,
                            stop, t0)
            if cut:
                log.warning("%s cut concurrent streams (llama-cpp-python's server does unless "
                            "started with --interrupt_requests false); asking one at a time",
                            self.base_url)
                self.concurrency = 1
                for job in cut:
                    shown[job[2]] = choices.pop(job[2]).text
                    self._run([job], request, choices, emit, cancel, stop, t0)

        t0 = time.perf_counter()
        self._t_request = t0
        try:
            if n == 1 or self.honours_n is False or not request.same_prompt:
                # Per-candidate instructions are distinct prompts, which `n` cannot express:
                # one request per candidate, concurrent within self.concurrency.
                fetch(list(range(n)))
            else:
                self._run([(n, seeds[0], 0)], request, choices, emit, cancel, stop, t0)
                missing = [i for i in range(n) if i not in choices]
                if self.honours_n is None:
                    self.honours_n = not missing
                    if missing:
                        log.info("%s ignores n; fetching candidates with separate requests",
                                 self.base_url)
                if missing:
                    choices[0].seed = seeds[0]
                    fetch(missing)
        except Cancelled:
            raise Cancelled([self._candidate(choices.get(i), "cancelled") for i in range(n)])
        return [self._candidate(choices[i], "stop") for i in range(n)]

    @staticmethod
    def _candidate(c: Optional[Choice], default_finish: str) -> Candidate:
        c = c or Choice()
        return Candidate(c.text, c.n_tokens, c.seconds, c.finish or default_finish, c.seed)
