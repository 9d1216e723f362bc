"""prefchat.paths (the one reader of the location variables), the isolation every test runs in, the
one basis writer, and the encoder no longer changing the process environment."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from prefchat import paths


def test_locations_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("PREFCHAT_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("PREFCHAT_CONFIG", str(tmp_path / "conf.toml"))
    assert paths.data_dir() == tmp_path / "h" and paths.cache_dir() == tmp_path / "c"
    assert paths.features_cache_dir() == tmp_path / "c" / "features"
    assert paths.bench_cache_dir() == tmp_path / "c" / "bench"
    assert paths.config_path() == tmp_path / "conf.toml"
    for var in ("PREFCHAT_HOME", "PREFCHAT_CACHE", "PREFCHAT_CONFIG"):
        monkeypatch.delenv(var)
    from platformdirs import user_cache_dir, user_config_dir, user_data_dir

    assert paths.data_dir() == Path(user_data_dir("prefchat"))
    assert paths.cache_dir() == Path(user_cache_dir("prefchat"))
    assert paths.config_path() == Path(user_config_dir("prefchat")) / "config.toml"


def test_shipped_locations_exist_and_have_one_home():
    import prefchat.basis
    import prefchat.config
    import prefchat.profiles.store

    # The locations live in prefchat.paths only; the old homes no longer re-export them.
    assert not hasattr(prefchat.basis, "shipped_models_dir") and not hasattr(prefchat.config, "CONFIG_ENV")
    assert prefchat.profiles.store.data_dir is paths.data_dir  # imported for its own use, from paths
    assert paths.shipped_corpus_path().is_file()
    assert (paths.shipped_models_dir() / "style-v1" / "basis.json").is_file()
    assert sorted(p.name for p in paths.shipped_profiles_dir().glob("*.json"))


def test_every_test_runs_in_its_own_locations(isolated_locations, shared_feature_cache):
    from platformdirs import user_data_dir

    assert paths.data_dir() == isolated_locations["home"] != Path(user_data_dir("prefchat"))
    assert paths.features_cache_dir().resolve() == shared_feature_cache.resolve()
    assert not any(v.startswith("OPENAI_") for v in os.environ)


def test_ensure_dir_makes_private_parents_and_keeps_existing_modes(tmp_path):
    old = os.umask(0o022)
    try:
        (tmp_path / "a").mkdir(mode=0o755)
        got = paths.ensure_dir(tmp_path / "a" / "b" / "c")
    finally:
        os.umask(old)
    assert got == tmp_path / "a" / "b" / "c" and got.is_dir()
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "a") == 0o755 and mode(tmp_path / "a" / "b") == 0o700 and mode(got) == 0o700
    assert paths.ensure_dir(got) == got  # idempotent
    (tmp_path / "file").write_text("x")
    with pytest.raises((NotADirectoryError, FileExistsError)):
        paths.ensure_dir(tmp_path / "file")


def test_the_basis_writer_writes_a_complete_directory_that_loads(tmp_path):
    torch = pytest.importorskip("torch")
    from prefchat.basis import FORMAT, FORMAT_VERSION, Pool, fingerprint, load_basis
    from prefchat.basis.write import write_basis

    head = {"linear.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3), "linear.bias": torch.zeros(2)}
    pool = Pool(np.array(["p1"]), np.array(["p1-r1"]), np.array(["p1-r2"]), np.array([[0.5, -1.0]]))
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "name": "t", "dims": 2, "encoder": {"kind": "x"},
            "prior": {"mean": [0, 0], "precision": [[1, 0], [0, 1]]}}
    out = tmp_path / "t"
    written = write_basis(out, meta, head, pool)
    assert sorted(p.name for p in out.iterdir()) == ["basis.json", "head.safetensors", "pool.npz"]  # no temp files
    assert written["fingerprint"] == fingerprint((out / "head.safetensors").read_bytes(), {"kind": "x"})
    assert json.loads((out / "basis.json").read_text()) == written and "fingerprint" not in meta
    b = load_basis(out)
    assert b.fingerprint == written["fingerprint"] and b.pool().diffs.tolist() == [[0.5, -1.0]]
    with pytest.raises(ValueError, match="format"):
        write_basis(tmp_path / "u", {**meta, "version": 99}, head, pool)
    assert not (tmp_path / "u" / "basis.json").exists()


def test_the_minilm_encoder_leaves_the_process_environment_alone(monkeypatch):
    from prefchat.basis.encoders import MiniLMEncoder

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    before = dict(os.environ)
    MiniLMEncoder(device="cpu")
    assert dict(os.environ) == before  # it used to set HF_HUB_OFFLINE=1 for everything after it
