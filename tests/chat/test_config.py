"""Config file parsing: defaults, env overrides, strict keys and types with file:line messages, a broken
file never becoming a traceback (CLI), `config set` round trip, API key masking."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from prefchat.config import DEFAULT_KEYMAP, load_config, set_value
from prefchat.errors import PrefchatError


def write(home, text):
    p = home.parent / "config.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_without_file(home):
    cfg = load_config()
    assert cfg.backend == "llama" and cfg.n == 4 and cfg.learn_from_choices is True
    assert cfg.keymap == DEFAULT_KEYMAP and cfg.path is None


def test_file_values_and_env_override(home, monkeypatch):
    write(home, 'backend = "openai"\nmodel = "gpt-x"\nn = 3\ntemperature = 1\n'
                'system_prompt = "Be brief."\n[keymap]\nsend = "ctrl+s"\n')
    cfg = load_config()
    assert (cfg.backend, cfg.model, cfg.n, cfg.temperature) == ("openai", "gpt-x", 3, 1.0)
    assert cfg.keymap["send"] == "ctrl+s" and cfg.keymap["newline"] == DEFAULT_KEYMAP["newline"]
    monkeypatch.setenv("PREFCHAT_N", "6")
    monkeypatch.setenv("PREFCHAT_MODEL", "other")
    cfg = load_config()
    assert cfg.n == 6 and cfg.model == "other" and cfg.origin["n"] == "env PREFCHAT_N"


@pytest.mark.parametrize("text, line, words", [
    ('backend = "llama"\ntemprature = 0.2\n', 2, "unknown key 'temprature'"),
    ('n = "four"\n', 1, "'n' must be an integer"),
    ('n = 0\n', 1, "between 1 and 64"),
    ('learn_from_choices = "yes"\n', 1, "true or false"),
    ('backend = "ollama"\n', 1, "backend must be one of"),
    ('model = "x"\n\n[keymap]\nsned = "enter"\n', 4, "unknown keymap action 'sned'"),
    ('model = "x\nn = 2\n', 1, "invalid TOML"),
    ('n = 2\nn = 3\n', 2, "invalid TOML"),
])
def test_bad_file_names_file_and_line(home, text, line, words):
    p = write(home, text)
    with pytest.raises(PrefchatError) as ei:
        load_config()
    msg = str(ei.value)
    assert msg.startswith(f"{p}, line {line}:"), msg
    assert words in msg and "\n" not in msg


def test_bad_env_value(home, monkeypatch):
    monkeypatch.setenv("PREFCHAT_N", "lots")
    with pytest.raises(PrefchatError, match="PREFCHAT_N"):
        load_config()


def test_set_round_trip_and_validation(home):
    p = set_value("n", "5")
    set_value("system_prompt", 'Say "hi"\n\\ then go')
    set_value("keymap.copy", "ctrl+k")
    set_value("learn_from_choices", "off")
    cfg = load_config()
    assert cfg.n == 5 and cfg.system_prompt == 'Say "hi"\n\\ then go'
    assert cfg.keymap["copy"] == "ctrl+k" and cfg.learn_from_choices is False
    assert oct(os.stat(p).st_mode & 0o777) == "0o600"
    with pytest.raises(PrefchatError, match="unknown key"):
        set_value("colour", "red")
    with pytest.raises(PrefchatError, match="must be a number"):
        set_value("temperature", "hot")
    assert load_config().n == 5  # a refused set leaves the file alone


def test_api_key_env_preferred_and_masked(home, monkeypatch):
    set_value("api_key", "sk-file-key-123456")
    cfg = load_config()
    assert cfg.resolved_api_key() == "sk-file-key-123456"
    assert cfg.public_dict()["api_key"] == "****3456"
    monkeypatch.setenv("PREFCHAT_API_KEY", "sk-env-key-abcdef")
    cfg = load_config()
    assert cfg.resolved_api_key() == "sk-env-key-abcdef"
    cfg.backend = "openai"
    assert cfg.backend_options()["api_key"] == "sk-env-key-abcdef"


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "prefchat", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def test_cli_bad_config_is_one_line_not_traceback(home):
    p = write(home, 'n = 3\nbogus = 1\n')
    r = run_cli("config", "show")
    assert r.returncode == 2
    assert r.stderr.strip() == f"prefchat: error: {p}, line 2: unknown key 'bogus'; valid keys: " \
        "backend, model, base_url, api_key, n, temperature, max_tokens, system_prompt, " \
        "learn_from_choices, allow_insecure_http, keymap, candidates"
    r = run_cli("ask", "hi")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "line 2" in r.stderr


def test_cli_show_masks_key_and_set(home):
    r = run_cli("config", "set", "api_key", "sk-secret-999999")
    assert r.returncode == 0 and "sk-secret" not in r.stdout
    r = run_cli("config", "show")
    assert r.returncode == 0 and "sk-secret" not in r.stdout and "****9999" in r.stdout
    assert run_cli("config", "path").stdout.strip() == str(home.parent / "config.toml")


def test_cli_show_is_valid_toml_that_reads_back(home, monkeypatch):
    """`config show` prints TOML (not Python's True/'...'), so it can be pasted into the file."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    for key, value in (("learn_from_choices", "false"), ("temperature", "0.25"),
                       ("system_prompt", 'Say "hi"\\then \'bye\''), ("keymap.newline", "ctrl+j"),
                       ("api_key", "sk-secret-999999")):
        assert run_cli("config", "set", key, value).returncode == 0
    r = run_cli("config", "show", env={"PREFCHAT_N": "7"})
    assert r.returncode == 0, r.stderr
    shown = tomllib.loads(r.stdout)
    assert shown["learn_from_choices"] is False and shown["temperature"] == 0.25 and shown["n"] == 7
    assert shown["system_prompt"] == 'Say "hi"\\then \'bye\''
    assert shown["keymap"]["newline"] == "ctrl+j" and shown["keymap"]["send"] == "enter"
    assert shown["api_key"] == "****9999"
    assert "# env PREFCHAT_N" in r.stdout and "True" not in r.stdout
    # pasted back as a config file (minus the masked key), it means the same settings
    del shown["api_key"]
    p = write(home, r.stdout.replace('api_key = "****9999"', ""))
    monkeypatch.delenv("PREFCHAT_N", raising=False)
    cfg = load_config(p, env={})
    assert cfg.learn_from_choices is False and cfg.n == 7 and cfg.system_prompt == shown["system_prompt"]


def test_backend_aliases_make_backend_accepts_are_accepted_and_normalised(home):
    """One registry of backend names (prefchat.llm): what make_backend accepts, the config accepts."""
    from prefchat.llm import canonical_kind

    for alias, kind in (("llama.cpp", "llama"), ("gguf", "llama"), ("transformers", "hf"),
                        ("openai-compatible", "openai")):
        assert canonical_kind(alias) == kind
        set_value("backend", alias)
        assert load_config().backend == kind
    with pytest.raises(PrefchatError, match="backend must be one of llama, hf, openai"):
        set_value("backend", "vllm-turbo")
