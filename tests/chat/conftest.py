"""Chat fixtures: an isolated PREFCHAT_HOME and config file, the tiny random GGUF (real llama.cpp),
the shipped basis with ONE scorer per test session (loading MiniLM takes seconds), and a profile on
that basis."""

from __future__ import annotations

import numpy as np
import pytest

from tests.llm.tiny_models import write_tiny_gguf

ENV_VARS = ("PREFCHAT_BACKEND", "PREFCHAT_MODEL", "PREFCHAT_BASE_URL", "PREFCHAT_N", "PREFCHAT_API_KEY",
            "OPENAI_API_KEY", "OPENAI_BASE_URL", "PREFCHAT_BASIS", "PREFCHAT_MODEL_REGISTRY")


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory):
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")




@pytest.fixture
def home(tmp_path, monkeypatch):
    for v in ENV_VARS:
        monkeypatch.delenv(v, raising=False)
    h = tmp_path / "home"
    monkeypatch.setenv("PREFCHAT_HOME", str(h))
    monkeypatch.setenv("PREFCHAT_CONFIG", str(tmp_path / "config.toml"))
    return h


def make_profile(basis, name="me", lam=None, answers=()):
    from prefchat.profiles.profile import new_profile
    from prefchat.profiles.store import ProfileStore

    mean, prec = basis.prior
    lam = mean if lam is None else np.asarray(lam, dtype=float)
    prof = new_profile(name, basis.name, basis.fingerprint, lam, prec, answers)
    ProfileStore().save(prof)
    ProfileStore().set_default(name)
    return prof
