"""Every test runs in its own world: a fresh PREFCHAT_HOME, PREFCHAT_CACHE and PREFCHAT_CONFIG (so no
test reads or writes the developer's profiles, history, config or cache), and no other PREFCHAT_* or
OPENAI_* variable from the shell that started pytest. Subprocesses inherit the same environment.

One thing is shared: the encoder-feature cache. Computing MiniLM features for the corpus costs about
a minute on two cores, and the cache is content-addressed (a folder per encoder identity hash, a file
per text hash: prefchat.basis.train.cached_features), so a hit returns exactly what a miss would
compute and sharing it cannot carry state from one test to another. Each test's PREFCHAT_CACHE/features
is a link to one folder in pytest's own cache directory (.pytest_cache/d/prefchat-features), which
also survives between runs; `pytest --cache-clear` starts it afresh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ISOLATED = ("PREFCHAT_HOME", "PREFCHAT_CACHE", "PREFCHAT_CONFIG")
CLEARED_PREFIXES = ("PREFCHAT_", "OPENAI_")


@pytest.fixture(scope="session")
def shared_feature_cache(request, tmp_path_factory) -> Path:
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    return Path(cache.mkdir("prefchat-features")) if cache is not None else tmp_path_factory.mktemp("features")


@pytest.fixture(autouse=True)
def isolated_locations(tmp_path_factory, monkeypatch, shared_feature_cache) -> dict[str, Path]:
    """The three locations of prefchat.paths, per test (outside tmp_path, which stays the test's own)."""
    for var in list(os.environ):
        if var.startswith(CLEARED_PREFIXES):
            monkeypatch.delenv(var)
    base = tmp_path_factory.mktemp("prefchat")
    home, cache, config = base / "home", base / "cache", base / "config" / "config.toml"
    cache.mkdir()
    (cache / "features").symlink_to(shared_feature_cache, target_is_directory=True)
    for var, value in zip(ISOLATED, (home, cache, config)):
        monkeypatch.setenv(var, str(value))
    return {"home": home, "cache": cache, "config": config}


# The shipped basis and its CPU scorer, loaded once per run for every test that scores real text.
@pytest.fixture(scope="session")
def basis():
    from prefchat.basis import load_basis

    return load_basis()


@pytest.fixture(scope="session")
def scorer(basis):
    return basis.scorer(device="cpu")


@pytest.fixture
def tmpfs_64k(tmp_path):
    """A real 64 KiB tmpfs, for disk-full tests (needs root / CAP_SYS_ADMIN; skipped without)."""
    d = tmp_path / "tmpfs"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)
