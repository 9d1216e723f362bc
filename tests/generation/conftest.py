"""Generation fixtures: the shipped basis with ONE MiniLM scorer per test session (loading it takes
seconds), the shipped corpus, the example profiles, and an isolated PREFCHAT_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "profiles"




@pytest.fixture(scope="session")
def corpus():
    from prefchat.data import load_corpus

    return load_corpus()


@pytest.fixture
def home(tmp_path, monkeypatch):
    for v in ("PREFCHAT_BASIS", "PREFCHAT_CONFIG"):
        monkeypatch.delenv(v, raising=False)
    h = tmp_path / "home"
    monkeypatch.setenv("PREFCHAT_HOME", str(h))
    return h


def example(name: str):
    from prefchat.profiles.exchange import read_profile_file

    return read_profile_file(str(EXAMPLES / f"{name}.json"))


def personas() -> dict:
    """The example personas' true trait weights, read from the script that made the profiles."""
    import runpy

    return runpy.run_path(str(EXAMPLES / "make_examples.py"))["PERSONAS"]
