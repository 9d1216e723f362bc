"""`prefchat profile ...` end to end. Happy paths run in-process (typer's CliRunner); the error
contract (one line, exit 2, no traceback) runs through the real entry point in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from prefchat.cli import app
from prefchat.profiles.profile import parse_bytes
from prefchat.profiles.store import ProfileStore

from .conftest import fake_pair_diffs, make_profile


@pytest.fixture
def cli(home, basis_dir, monkeypatch):
    monkeypatch.setenv("PREFCHAT_BASIS", str(basis_dir))
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(app, ["profile", *args], input=input, catch_exceptions=True)
    return run


def _run_real(*args, env):
    return subprocess.run([sys.executable, "-m", "prefchat", "profile", *args], capture_output=True,
                          text=True, env=dict(os.environ, **env), timeout=60)


def test_list_use_show(cli, store, basis_dir):
    store.save(make_profile("alice", basis_dir))
    store.save(make_profile("bob", basis_dir))
    r = cli("use", "bob")
    assert r.exit_code == 0
    r = cli("list")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("  alice") and lines[1].startswith("* bob")
    r = cli("show", "alice")
    assert r.exit_code == 0, r.output
    assert "concise" in r.stdout and "verbose" in r.stdout and "●" in r.stdout and "captured" in r.stdout
    r = cli("show")  # the default
    assert r.exit_code == 0 and "bob" in r.stdout and "(default)" in r.stdout


def test_list_names_corrupt_file(cli, store, basis_dir):
    store.save(make_profile("alice", basis_dir))
    (store.dir / "zed.json").write_bytes(b"\xff\xfegarbage")
    r = cli("list")
    assert r.exit_code == 0
    assert "alice" in r.stdout and "zed.json" not in r.stdout
    assert "zed.json" in r.stderr and "not UTF-8" in r.stderr


def test_export_import_rename_delete(cli, store, basis_dir, tmp_path):
    store.save(make_profile("alice", basis_dir, n_answers=4))
    r = cli("export", "alice")
    assert r.exit_code == 0 and parse_bytes(r.stdout_bytes).answers
    r = cli("export", "alice", "--vector-only")
    assert parse_bytes(r.stdout_bytes).answers == []
    out = tmp_path / "a.json"
    assert cli("export", "alice", "-o", str(out)).exit_code == 0
    assert out.read_bytes() == store.path_for("alice").read_bytes()
    r = cli("import", str(out))
    assert r.exit_code != 0 and "already exists" in str(r.exception)
    assert cli("import", str(out), "--as", "alice2").exit_code == 0
    assert cli("rename", "alice2", "carol").exit_code == 0
    assert store.load("carol").lam == store.load("alice").lam
    r = cli("delete", "carol", input="n\n")
    assert r.exit_code != 0 and store.exists("carol")
    assert cli("delete", "carol", "--yes").exit_code == 0 and not store.exists("carol")


def test_import_from_other_basis_refits_and_says_so(cli, home, basis_dir, other_basis_dir, tmp_path,
                                                   monkeypatch):
    # The CLI's real features come from the basis scorer (encoder); here a deterministic stand-in.
    import prefchat.commands.profile as cmd

    monkeypatch.setattr(cmd, "_pair_diffs", lambda basis: fake_pair_diffs(basis.dims, basis.name))
    f = tmp_path / "old.json"
    f.write_bytes(make_profile("alice", basis_dir, n_answers=8).to_bytes())
    r = cli("import", str(f), "--basis", str(other_basis_dir))
    assert r.exit_code == 0, r.output
    assert "refitted" in r.stderr
    got = ProfileStore().load("alice")
    assert got.basis.dims == 6 and len(got.lam) == 6
    r = cli("refit", "alice")  # back onto the default basis (PREFCHAT_BASIS = basis_dir)
    assert r.exit_code == 0, r.output
    assert ProfileStore().load("alice").basis.dims == 4


def test_errors_are_one_line_with_exit_2(home, basis_dir, tmp_path):
    env = {"PREFCHAT_HOME": str(home), "PREFCHAT_BASIS": str(basis_dir)}
    ProfileStore().save(make_profile("alice", basis_dir))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "prefchat.profile", "version": 1}))
    for args in (("show", "nobody"), ("import", str(bad)), ("import", str(tmp_path / "missing.json")),
                 ("use", "../x"), ("export", "alice", "-o", str(tmp_path))):
        r = _run_real(*args, env=env)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("prefchat: error: "), r.stderr
        assert "Traceback" not in r.stderr
