"""OpenAI-compatible backend: against a real llama-cpp-python server serving the tiny GGUF, and
against a tiny loopback HTTP server that misbehaves on purpose."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prefchat.llm import (AuthenticationFailed, BackendConnectionError, BackendError,
                          BackendTimeout, Cancelled, GenerationRequest, RateLimited, ServerError,
                          StreamInterrupted, make_backend)

from .conftest import CHAT, free_port


def req(**kw):
    base = dict(messages=CHAT, n=1, max_tokens=12, temperature=1.0, seed=11)
    base.update(kw)
    return GenerationRequest(**base)


# --- the real server --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server_backend(llama_server):
    b = make_backend("openai", "tiny", base_url=llama_server, timeout=30, max_retries=0)
    yield b
    b.close()


def test_real_server_single_streamed(server_backend):
    deltas = []
    [c] = server_backend.generate(req(), on_delta=lambda i, t: deltas.append((i, t)))
    assert c.text and c.finish_reason in ("stop", "length") and c.n_tokens >= 1
    assert "".join(t for _, t in deltas) == c.text and {i for i, _ in deltas} == {0}


def test_real_server_ignores_n_so_backend_falls_back(server_backend):
    streamed = {}

    def on_delta(i, t):
        streamed[i] = streamed.get(i, "") + t

    a = server_backend.generate(req(n=4), on_delta=on_delta)
    assert server_backend.honours_n is False  # llama-cpp-python's server ignores n
    b = server_backend.generate(req(n=4))
    assert [c.seed for c in a] == [11, 12, 13, 14]
    assert len({c.text for c in a}) == 4
    assert [c.text for c in a] == [c.text for c in b]  # seeds make it reproducible
    assert [streamed[i] for i in range(4)] == [c.text for c in a]


def test_real_server_cancel(server_backend):
    cancel = threading.Event()
    n = []

    def on_delta(i, t):
        n.append(t)
        if len(n) == 3:
            cancel.set()

    t0 = time.perf_counter()
    with pytest.raises(Cancelled) as ei:
        server_backend.generate(req(max_tokens=800), on_delta=on_delta, cancel=cancel)
    assert time.perf_counter() - t0 < 5
    assert ei.value.partial[0].finish_reason == "cancelled"
    assert len(n) == 3  # nothing is delivered after the cancel


# --- a deliberately faulty server -------------------------------------------------------------------

def _chunk(index, content=None, finish=None):
    delta = {"content": content} if content is not None else {}
    return ("data: " + json.dumps({
        "id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}) + "\n\n").encode()


class FaultServer:
    """Loopback server; the first path segment picks the behaviour: /<mode>/v1/chat/completions."""

    def __init__(self):
        self.requests: list[dict] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _json(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body["_auth"] = self.headers.get("Authorization")
                outer.requests.append(body)
                mode = self.path.split("/")[1]
                err = {"error": {"message": "nope", "type": "x"}}
                if mode == "auth":
                    if self.headers.get("Authorization") != "Bearer sk-good":
                        return self._json(401, err)
                    mode = "one"
                if mode in ("429", "500"):
                    return self._json(int(mode), err)
                if mode == "hang":
                    outer.release.wait(10)
                    return
                if mode == "cut":  # chunked stream, socket closed mid-chunk-sequence
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    data = _chunk(0, "Hel")
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if mode == "cutclean":  # well-framed body that just stops before finish_reason
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(_chunk(0, "Hel") + b"data: [DONE]\n\n")
                    self.close_connection = True
                    return
                n = body.get("n", 1) if mode == "many" else 1
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for k in range(n):
                    self.wfile.write(_chunk(k, f"reply {k} seed {body.get('seed')}"))
                for k in range(n):
                    self.wfile.write(_chunk(k, None, "stop"))
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, mode):
        return f"http://127.0.0.1:{self.port}/{mode}/v1"

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def fault():
    s = FaultServer()
    yield s
    s.close()


def backend(url, **kw):
    return make_backend("openai", "m", base_url=url, timeout=kw.pop("timeout", 5), max_retries=0,
                        **kw)


@pytest.mark.parametrize("mode,exc,text", [
    ("auth", AuthenticationFailed, "HTTP 401"),
    ("429", RateLimited, "HTTP 429"),
    ("500", ServerError, "HTTP 500"),
    ("cut", StreamInterrupted, "dropped in the middle"),
    ("cutclean", StreamInterrupted, "in the middle of a reply"),
])
def test_faults_become_one_line_backend_errors(fault, mode, exc, text):
    with pytest.raises(exc, match=text) as ei:
        backend(fault.url(mode), api_key="sk-bad").generate(req())
    assert "\n" not in str(ei.value) and fault.url(mode) in str(ei.value)


def test_timeout(fault):
    t0 = time.perf_counter()
    with pytest.raises(BackendTimeout, match="within 1 s"):
        backend(fault.url("hang"), timeout=1).generate(req())
    assert time.perf_counter() - t0 < 4


def test_connection_refused():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendConnectionError, match="connection refused"):
        backend(url).generate(req())


def test_fallback_to_concurrent_requests_with_distinct_seeds(fault):
    b = backend(fault.url("one"))
    out = b.generate(req(n=3, seed=40))
    assert [c.text for c in out] == ["reply 0 seed 40", "reply 0 seed 41", "reply 0 seed 42"]
    first, *rest = fault.requests
    assert first["n"] == 3 and all("n" not in r for r in rest)
    assert sorted(r["seed"] for r in rest) == [41, 42]
    assert b.honours_n is False
    fault.requests.clear()
    b.generate(req(n=2, seed=1))
    assert len(fault.requests) == 2 and all("n" not in r for r in fault.requests)


def test_server_honouring_n_gets_one_request(fault):
    b = backend(fault.url("many"))
    out = b.generate(req(n=3, seed=5))
    assert len(fault.requests) == 1 and b.honours_n is True
    assert [c.text for c in out] == [f"reply {k} seed 5" for k in range(3)]


def test_api_key_is_sent_but_never_shown(fault, caplog, monkeypatch):
    monkeypatch.setenv("PREFCHAT_API_KEY", "sk-good")
    caplog.set_level(logging.DEBUG)
    b = make_backend("openai", "m", base_url=fault.url("auth"), max_retries=0)
    assert b.generate(req())[0].text == "reply 0 seed 11"
    assert fault.requests[-1]["_auth"] == "Bearer sk-good"
    secret = "sk-secret-do-not-print"
    bad = backend(fault.url("auth"), api_key=secret)
    with pytest.raises(BackendError) as ei:
        bad.generate(req())
    for shown in (caplog.text, repr(bad), bad.describe(), str(ei.value), repr(b), b.describe()):
        assert secret not in shown and "sk-good" not in shown
