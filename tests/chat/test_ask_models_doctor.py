"""`prefchat ask` and `prefchat models pull` / `doctor` as a user runs them (subprocess): real
llama.cpp on the tiny GGUF, a loopback http.server for downloads (no network)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading

import pytest


def run(*args, input=None, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "prefchat", *args], capture_output=True, text=True,
                          input=input, env={**os.environ, **(env or {})}, timeout=timeout)


def test_ask_prints_reply_all_and_reads_stdin(home, tiny_gguf):
    common = ["--backend", "llama", "--model", str(tiny_gguf), "--max-tokens", "16", "--seed", "3"]
    r = run("ask", "Say hi", "-n", "2", *common)
    assert r.returncode == 0, r.stderr
    assert "no profile" in r.stderr  # unpersonalised: says so, first candidate
    one = r.stdout
    r = run("ask", "-", "-n", "2", "--all", *common, input="Say hi\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("=== #") == 2 and "(chosen)" in r.stdout and "unscored" in r.stdout
    assert one.strip() and one.rstrip("\n") in r.stdout  # same seed, same first candidate
    assert "tok/s" in r.stderr


def test_ask_errors_are_one_line(home, tmp_path):
    r = run("ask", "hi", "--model", str(tmp_path / "missing.gguf"))
    assert r.returncode == 2 and r.stderr.startswith("prefchat: error: model file not found")
    assert "Traceback" not in r.stderr
    r = run("ask", "hi")
    assert r.returncode == 2 and "no model configured" in r.stderr
    r = run("ask", "hi", "--backend", "openai", "--model", "m", env={
        "PREFCHAT_BASE_URL": f"http://127.0.0.1:{_closed_port()}/v1"})
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    payload = b"GGUF" + os.urandom(300_000)
    (root / "m.gguf").write_bytes(payload)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", hashlib.sha256(payload).hexdigest(), payload
    srv.shutdown()


def registry(tmp_path, url, sha):
    p = tmp_path / "registry.json"
    p.write_text(json.dumps({"tiny": {"url": url, "sha256": sha, "file": "tiny-model.gguf"}}))
    return {"PREFCHAT_MODEL_REGISTRY": str(p)}


def test_pull_verifies_sha256_and_configures(home, tmp_path, served):
    base, sha, payload = served
    r = run("models", "pull", "tiny", "--use", env=registry(tmp_path, base + "/m.gguf", sha))
    assert r.returncode == 0, r.stderr
    dest = home / "models" / "tiny-model.gguf"
    assert dest.read_bytes() == payload and not dest.with_name(dest.name + ".part").exists()
    assert f'model = "{dest}"' in run("config", "show").stdout


def test_pull_sha256_mismatch_deletes_download(home, tmp_path, served):
    base, sha, _ = served
    r = run("models", "pull", "tiny", env=registry(tmp_path, base + "/m.gguf", "0" * 64))
    assert r.returncode == 2 and "sha256 mismatch" in r.stderr and r.stderr.count("\n") == 1
    assert not list((home / "models").glob("*"))


def test_pull_offline_and_404_are_one_line(home, tmp_path, served):
    base, sha, _ = served
    r = run("models", "pull", "tiny",
            env=registry(tmp_path, f"http://127.0.0.1:{_closed_port()}/m.gguf", sha))
    assert r.returncode == 2 and "are you offline?" in r.stderr and r.stderr.count("\n") == 1
    r = run("models", "pull", "tiny", env=registry(tmp_path, base + "/nope.gguf", sha))
    assert r.returncode == 2 and "HTTP 404" in r.stderr
    r = run("models", "pull", "nonesuch")
    assert r.returncode == 2 and "unknown model 'nonesuch'" in r.stderr


def test_doctor_reports_model_and_endpoint(home, tiny_gguf):
    r = run("doctor", env={"PREFCHAT_MODEL": str(tiny_gguf)})
    assert "✓ model" in r.stdout and "✓ basis" in r.stdout and "✓ backend llama" in r.stdout
    r = run("doctor", "--timeout", "2", env={"PREFCHAT_BACKEND": "openai", "PREFCHAT_MODEL": "m",
                                             "PREFCHAT_BASE_URL": f"http://127.0.0.1:{_closed_port()}/v1"})
    assert r.returncode == 1 and "✗ endpoint" in r.stdout and "does not answer" in r.stdout


def test_bare_prefchat_routes_to_chat(home, tiny_gguf, basis):
    from .conftest import make_profile

    make_profile(basis)
    r = run(env={"PREFCHAT_MODEL": str(tiny_gguf)})
    # chat needs a terminal; in a pipe it says what to use instead, in one line
    assert r.returncode == 2 and "chat needs a terminal" in r.stderr and "prefchat ask" in r.stderr
    r = run("chat", "--profile", "nobody", env={"PREFCHAT_MODEL": str(tiny_gguf)})
    assert r.returncode == 2 and "no profile named 'nobody'" in r.stderr
