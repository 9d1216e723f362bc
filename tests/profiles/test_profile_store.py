"""The on-disk store: listing survives corrupt files, defaults, rename/delete, permissions, atomicity."""

from __future__ import annotations

import json
import os

import pytest

from prefchat.errors import PrefchatError
from prefchat.profiles import store as store_mod
from prefchat.profiles.store import ProfileStore, atomic_write

from .conftest import make_profile


def test_prefchat_home_overrides_data_dir(home, basis_dir):
    s = ProfileStore()
    s.save(make_profile("alice", basis_dir))
    assert (home / "profiles" / "alice.json").is_file()


def test_files_are_private(store, basis_dir):
    p = store.save(make_profile("alice", basis_dir))
    assert (p.stat().st_mode & 0o777) == 0o600
    store.set_default("alice")
    assert (store.settings_path.stat().st_mode & 0o777) == 0o600


def test_corrupt_file_next_to_good_ones(store, basis_dir):
    for n in ("alice", "bob"):
        store.save(make_profile(n, basis_dir))
    (store.dir / "broken.json").write_bytes(b'{"format": "prefchat.profile", "vers')
    (store.dir / "evil name.json").write_text("{}")
    (store.dir / "carol.json").write_bytes(make_profile("dave", basis_dir).to_bytes())  # name mismatch
    (store.dir / ".alice.json.abc.tmp").write_bytes(b"half")  # a dead writer's temp file: ignored
    (store.dir / "notes.txt").write_text("not a profile")
    good, bad = store.list()
    assert [p.name for p in good] == ["alice", "bob"]
    by_file = {b.file.name: b for b in bad}
    assert set(by_file) == {"broken.json", "evil name.json", "carol.json"}
    assert "not valid JSON" in by_file["broken.json"].reason
    assert "dave" in by_file["carol.json"].reason
    for b in bad:
        assert "\n" not in b.reason and str(b.file) in b.fix


def test_default_rename_delete(store, basis_dir):
    store.save(make_profile("alice", basis_dir))
    assert store.get_default() is None
    with pytest.raises(PrefchatError, match="no profile named 'bob'"):
        store.set_default("bob")
    store.set_default("alice")
    assert store.get_default() == "alice"
    store.rename("alice", "alicia")
    assert store.get_default() == "alicia" and not store.exists("alice")
    assert store.load("alicia").name == "alicia"
    store.save(make_profile("bob", basis_dir))
    before = store.path_for("bob").read_bytes()
    with pytest.raises(PrefchatError, match="already exists"):
        store.rename("alicia", "bob")
    assert store.path_for("bob").read_bytes() == before and store.exists("alicia")
    store.delete("alicia")
    assert store.get_default() is None and not store.exists("alicia")
    with pytest.raises(PrefchatError, match="no profile named"):
        store.delete("alicia")


def test_settings_keep_other_keys(store, basis_dir):
    store.root.mkdir(parents=True)
    store.settings_path.write_text(json.dumps({"backend": "llama"}))
    store.save(make_profile("alice", basis_dir))
    store.set_default("alice")
    assert json.loads(store.settings_path.read_text()) == {"backend": "llama", "default_profile": "alice"}


def test_corrupt_settings_named_in_error(store):
    store.root.mkdir(parents=True)
    store.settings_path.write_bytes(b"\xff")
    with pytest.raises(PrefchatError, match="settings.json"):
        store.get_default()


@pytest.mark.parametrize("fail", ["fsync", "replace", "write"])
def test_failed_write_keeps_old_file_and_no_temp(tmp_path, monkeypatch, fail):
    target = tmp_path / "x.json"
    target.write_bytes(b"old")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    if fail == "write":
        real = os.fdopen

        class F:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *a):
                self.f.close()

            def write(self, data):
                self.f.write(data[:3])
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(store_mod.os, "fdopen", lambda fd, mode: F(real(fd, mode)))
    else:
        monkeypatch.setattr(store_mod.os, fail, boom)
    with pytest.raises(OSError):
        atomic_write(target, b"new content")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_save_failure_is_a_user_error(store, basis_dir, monkeypatch):
    store.save(make_profile("alice", basis_dir, seed=1))
    before = store.path_for("alice").read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_mod.os, "replace", boom)
    with pytest.raises(PrefchatError, match="unchanged"):
        store.save(make_profile("alice", basis_dir, seed=2))
    assert store.path_for("alice").read_bytes() == before


def test_no_clobber_write(tmp_path):
    t = tmp_path / "a"
    atomic_write(t, b"1", overwrite=False)
    with pytest.raises(FileExistsError):
        atomic_write(t, b"2", overwrite=False)
    assert t.read_bytes() == b"1" and len(list(tmp_path.iterdir())) == 1
