"""Session fixtures: tiny models built on the fly, loaded backends, and a real llama-cpp-python
OpenAI-compatible server on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from .tiny_models import write_tiny_gguf, write_tiny_hf

CHAT = [{"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say something about tea, please."}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory):
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory):
    return write_tiny_hf(tmp_path_factory.mktemp("hf") / "tiny-qwen2")


@pytest.fixture(scope="session")
def llama_backend(tiny_gguf):
    from prefchat.llm import make_backend

    b = make_backend("llama", str(tiny_gguf), n_threads=2, n_ctx=1024)
    b.load()
    yield b
    b.close()


@pytest.fixture(scope="session")
def hf_backend(tiny_hf):
    from prefchat.llm import make_backend

    b = make_backend("hf", str(tiny_hf), device="cpu", offline=True)
    b.load()
    yield b
    b.close()


@pytest.fixture(scope="session")
def llama_server(tiny_gguf, tmp_path_factory):
    """`python -m llama_cpp.server` serving the tiny GGUF; yields its /v1 base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(tiny_gguf), "--host",
             "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--n_threads", "2"],
            stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(base + "/models", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
