"""Which API key goes where, checked at a loopback server that logs request headers: OPENAI_API_KEY
only ever reaches api.openai.com; a custom URL gets PREFCHAT_API_KEY or the config's key; no key goes
over plain http to a non-loopback host unless the config allows it; `doctor` says which key goes
where, masked, and sends the same key the chat would."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from prefchat.config import Config
from prefchat.errors import PrefchatError
from prefchat.llm import make_backend
from prefchat.llm.endpoint import is_loopback, resolve

from .loopback import ScriptedServer

OPENAI_KEY = "sk-openai-secret-1234"
PREF_KEY = "sk-prefchat-key-5678"
ENV_VARS = ("PREFCHAT_BACKEND", "PREFCHAT_MODEL", "PREFCHAT_BASE_URL", "PREFCHAT_N", "PREFCHAT_API_KEY",
            "OPENAI_API_KEY", "OPENAI_BASE_URL")


@pytest.fixture
def server():
    s = ScriptedServer("ok")
    yield s
    s.close()


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    for v in ENV_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREFCHAT_CONFIG", str(tmp_path / "config.toml"))
    return tmp_path


def run(*args, env):
    e = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    return subprocess.run([sys.executable, "-m", "prefchat", *args], capture_output=True, text=True,
                          env={**e, **env}, timeout=120)


def test_openai_key_never_reaches_a_custom_url(clean_env, server):
    r = run("ask", "hi", "--backend", "openai", "--model", "m", "-n", "1",
            env={"OPENAI_API_KEY": OPENAI_KEY, "PREFCHAT_BASE_URL": server.url})
    assert r.returncode == 0, r.stderr
    assert server.auth() and not any(OPENAI_KEY in (a or "") for a in server.auth())


def test_prefchat_key_and_config_key_reach_the_custom_url(clean_env, server):
    r = run("ask", "hi", "--backend", "openai", "--model", "m", "-n", "1",
            env={"OPENAI_API_KEY": OPENAI_KEY, "PREFCHAT_API_KEY": PREF_KEY,
                 "PREFCHAT_BASE_URL": server.url})
    assert r.returncode == 0, r.stderr
    assert server.auth()[-1] == f"Bearer {PREF_KEY}"
    (clean_env / "config.toml").write_text(f'api_key = "sk-from-config-0000"\nbase_url = "{server.url}"\n')
    r = run("ask", "hi", "--backend", "openai", "--model", "m", "-n", "1",
            env={"OPENAI_API_KEY": OPENAI_KEY, "PREFCHAT_CONFIG": str(clean_env / "config.toml")})
    assert r.returncode == 0, r.stderr
    assert server.auth()[-1] == "Bearer sk-from-config-0000"


def test_resolution_rules():
    env = {"OPENAI_API_KEY": OPENAI_KEY}
    assert resolve("https://api.openai.com/v1", env=env).api_key == OPENAI_KEY
    ep = resolve("https://llm.example.com/v1", env=env)
    assert ep.api_key is None and "only sent to api.openai.com" in ep.note
    assert resolve(None, env=env).api_key is None  # the default local server
    ep = resolve("https://llm.example.com/v1", env={**env, "PREFCHAT_API_KEY": PREF_KEY})
    assert ep.api_key == PREF_KEY and ep.key_source == "PREFCHAT_API_KEY"
    # Plain http: fine on loopback, refused elsewhere unless allowed.
    assert resolve("http://127.0.0.1:9/v1", env={"PREFCHAT_API_KEY": PREF_KEY}).api_key == PREF_KEY
    assert resolve("http://[::1]:9/v1", env={"PREFCHAT_API_KEY": PREF_KEY}).api_key == PREF_KEY
    with pytest.raises(PrefchatError, match="plain http to llm.example.com"):
        resolve("http://llm.example.com/v1", env={"PREFCHAT_API_KEY": PREF_KEY})
    assert resolve("http://llm.example.com/v1", env={"PREFCHAT_API_KEY": PREF_KEY},
                   allow_insecure_http=True).api_key == PREF_KEY
    assert resolve("http://llm.example.com/v1", env={}).api_key is None  # no key: nothing to leak
    assert is_loopback("localhost") and not is_loopback("127.example.com")


def test_insecure_http_refused_before_any_request(clean_env, monkeypatch):
    monkeypatch.setenv("PREFCHAT_API_KEY", PREF_KEY)
    with pytest.raises(PrefchatError, match="allow_insecure_http"):
        make_backend("openai", "m", base_url="http://192.0.2.1/v1")
    cfg = Config(backend="openai", model="m", base_url="http://192.0.2.1/v1")
    with pytest.raises(PrefchatError, match="plain http"):
        cfg.backend_options()
    cfg.allow_insecure_http = True
    assert cfg.backend_options()["api_key"] == PREF_KEY
    b = make_backend("openai", "m", **cfg.backend_options())
    assert b._api_key == PREF_KEY
    r = run("ask", "hi", "--backend", "openai", "--model", "m",
            env={"PREFCHAT_API_KEY": PREF_KEY, "PREFCHAT_BASE_URL": "http://192.0.2.1/v1"})
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert "plain http" in r.stderr and PREF_KEY not in r.stderr


def test_doctor_says_which_key_goes_where(clean_env, server):
    base = {"PREFCHAT_BACKEND": "openai", "PREFCHAT_MODEL": "m", "PREFCHAT_BASE_URL": server.url}
    r = run("doctor", env={**base, "OPENAI_API_KEY": OPENAI_KEY})
    line = next(x for x in r.stdout.splitlines() if "endpoint" in x)
    assert "no api key" in line and "only sent to api.openai.com" in line, line
    assert not any(OPENAI_KEY in (a or "") for a in server.auth())
    r = run("doctor", env={**base, "PREFCHAT_API_KEY": PREF_KEY})
    line = next(x for x in r.stdout.splitlines() if "endpoint" in x)
    assert "****5678 from PREFCHAT_API_KEY" in line and PREF_KEY not in r.stdout, line
    assert server.auth()[-1] == f"Bearer {PREF_KEY}"
    r = run("doctor", "--timeout", "1", env={**base, "PREFCHAT_API_KEY": PREF_KEY,
                                             "PREFCHAT_BASE_URL": "http://192.0.2.1/v1"})
    line = next(x for x in r.stdout.splitlines() if "endpoint" in x)
    assert line.startswith("✗") and "plain http" in line and PREF_KEY not in r.stdout
