"""`prefchat models add FILE` and `models pull` without the hub, as a user runs them (subprocess).

The good file is the tiny random GGUF the test fixtures build with the `gguf` package; that llama.cpp
really loads what `add --use` configured is checked through `prefchat doctor` and `ask`."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys


def run(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "prefchat", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_add_gguf_and_use_it(home, tiny_gguf):
    r = run("models", "add", str(tiny_gguf), "--use")
    assert r.returncode == 0, r.stderr
    dest = home / "models" / tiny_gguf.name
    assert dest.read_bytes() == tiny_gguf.read_bytes()
    assert sha(tiny_gguf) in r.stdout and "no known sha256" in r.stdout
    assert f'model = "{dest}"' in run("config", "show").stdout
    r = run("ask", "hi", "--max-tokens", "4", "--seed", "1")
    assert r.returncode == 0, r.stderr  # llama.cpp loads the added file
    again = run("models", "add", str(tiny_gguf))
    assert again.returncode == 0 and "Already in the models folder" in again.stdout


def test_add_checks_a_given_sha256(home, tiny_gguf):
    r = run("models", "add", str(tiny_gguf), "--sha256", "0" * 64)
    assert r.returncode == 2 and "sha256 mismatch" in r.stderr and r.stderr.count("\n") == 1
    assert not (home / "models").exists() or not list((home / "models").iterdir())
    r = run("models", "add", str(tiny_gguf), "--sha256", sha(tiny_gguf).upper())
    assert r.returncode == 0 and "sha256 verified" in r.stdout, r.stderr


def test_add_checks_the_pinned_sha256_of_a_catalogue_file(home, tiny_gguf, tmp_path):
    reg = tmp_path / "registry.json"
    entry = {"url": "http://127.0.0.1:9/x.gguf", "file": tiny_gguf.name}
    reg.write_text(json.dumps({"tiny": {**entry, "sha256": "ab" * 32}}))
    r = run("models", "add", str(tiny_gguf), env={"PREFCHAT_MODEL_REGISTRY": str(reg)})
    assert r.returncode == 2 and "sha256 mismatch" in r.stderr
    reg.write_text(json.dumps({"tiny": {**entry, "sha256": sha(tiny_gguf)}}))
    r = run("models", "add", str(tiny_gguf), env={"PREFCHAT_MODEL_REGISTRY": str(reg)})
    assert r.returncode == 0 and "sha256 verified" in r.stdout, r.stderr


def test_add_refuses_what_is_not_gguf(home, tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>404 Not Found</html>" + b"\0" * 1000)  # a saved error page
    r = run("models", "add", str(fake))
    assert r.returncode == 2 and "is not a GGUF file" in r.stderr and "Traceback" not in r.stderr
    r = run("models", "add", str(tmp_path / "missing.gguf"))
    assert r.returncode == 2 and "no such file" in r.stderr
    assert not (home / "models").exists() or not list((home / "models").iterdir())


def test_add_will_not_silently_replace_another_file(home, tiny_gguf, tmp_path):
    assert run("models", "add", str(tiny_gguf)).returncode == 0
    other = tmp_path / "other" / tiny_gguf.name
    other.parent.mkdir()
    other.write_bytes(tiny_gguf.read_bytes() + b"\0")
    r = run("models", "add", str(other))
    assert r.returncode == 2 and "--force" in r.stderr
    assert (home / "models" / tiny_gguf.name).read_bytes() == tiny_gguf.read_bytes()
    assert run("models", "add", str(other), "--force").returncode == 0
    assert (home / "models" / tiny_gguf.name).read_bytes() == other.read_bytes()


def test_pull_offline_says_where_to_get_the_file(home):
    """The built-in catalogue, with the hub unreachable (a closed local port stands in for it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proxy = f"http://127.0.0.1:{port}"
    r = run("models", "pull", "qwen2.5-0.5b-instruct-q8_0",
            env={"https_proxy": proxy, "HTTPS_PROXY": proxy, "no_proxy": "", "NO_PROXY": ""})
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    url = ("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/"
           "qwen2.5-0.5b-instruct-q8_0.gguf")
    assert url in r.stderr and "about 676 MB" in r.stderr and "no pinned sha256" in r.stderr
    assert "prefchat models add FILE --use" in r.stderr


def test_list_says_whether_hashes_are_pinned(home):
    r = run("models", "list")
    assert r.returncode == 0 and "sha256 not pinned" in r.stdout


def test_every_built_in_entry_downloads_the_file_it_names():
    """A typo between an entry's name, file, download URL and LFS pointer would fetch (or check) the
    wrong file; each built-in entry must agree with itself."""
    from prefchat.commands.models import REGISTRY

    assert "qwen2.5-0.5b-instruct-fp16" in REGISTRY  # the F16 file BENCHMARKS.md measures for best-of-N
    for name, e in REGISTRY.items():
        assert e["file"] == f"{name}.gguf"
        repo = e["url"].split("/resolve/main/")[0]
        assert e["url"] == f"{repo}/resolve/main/{e['file']}"
        assert e["pointer"] == f"{repo}/raw/main/{e['file']}"
        assert e["url"].startswith("https://huggingface.co/") and e["approx_size"] and e["description"]


def test_the_suggested_model_follows_the_architecture(monkeypatch):
    """On x86 the F16 file is the faster best-of-N (BENCHMARKS.md, "F16 weights"); elsewhere the
    smaller Q8_0 one. A registry file without those entries falls back to its first entry."""
    from prefchat.commands.models import RECOMMENDED, REGISTRY, recommended

    monkeypatch.delenv("PREFCHAT_MODEL_REGISTRY", raising=False)
    for machine in ("x86_64", "AMD64"):
        assert recommended(machine)[0] == "qwen2.5-0.5b-instruct-fp16"
    for machine in ("aarch64", "arm64"):
        assert recommended(machine)[0] == "qwen2.5-0.5b-instruct-q8_0"
    assert recommended("x86_64")[1]["file"] == "qwen2.5-0.5b-instruct-fp16.gguf"
    assert set(RECOMMENDED.values()) <= set(REGISTRY)


def test_models_list_marks_the_suggested_model(home, monkeypatch):
    from prefchat.commands.models import recommended

    monkeypatch.delenv("PREFCHAT_MODEL_REGISTRY", raising=False)
    r = run("models", "list")
    mine = [line for line in r.stdout.splitlines() if "recommended here" in line]
    assert len(mine) == 1 and recommended()[0] in mine[0]
