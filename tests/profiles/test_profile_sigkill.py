"""Crash safety: a process killed with SIGKILL at random moments while saving profiles never leaves a
torn or invalid profile file behind (atomic temp-file + rename), and the store still lists cleanly."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prefchat.profiles.profile import parse_bytes
from prefchat.profiles.store import ProfileStore

from .conftest import write_basis

CHILD = r"""
import sys, numpy as np
sys.path.insert(0, sys.argv[3])
from tests.profiles.conftest import make_profile
from prefchat.profiles.store import ProfileStore
from dataclasses import replace
store = ProfileStore(sys.argv[1])
base = make_profile("p0", sys.argv[2], n_answers=400, seed=int(sys.argv[4]))  # ~100 KB per write
i = 0
while True:
    lam = np.random.default_rng(i).normal(size=len(base.lam)).tolist()
    store.save(replace(base, name=f"p{i % 3}", lam=lam))
    store.set_default(f"p{i % 3}")
    if i == 2:
        print("ready", flush=True)  # all three profiles exist; kills from now on hit overwrites
    i += 1
"""

KILLS = 30
MAX_KILLS = 120  # keep killing (bounded) until at least one kill has landed inside a write


@pytest.mark.slow  # kills writer processes until one dies mid-write
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_during_saves_never_corrupts(tmp_path):
    basis = write_basis(tmp_path / "models")
    root = tmp_path / "home"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    repo = str(Path(__file__).resolve().parents[2])
    rng = random.Random(1234)
    store = ProfileStore(root)
    torn_writes: set[str] = set()
    k = 0
    while k < KILLS or (not torn_writes and k < MAX_KILLS):
        child = subprocess.Popen([sys.executable, str(script), str(root), str(basis), repo, str(k)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = child.stdout.readline()
            assert line.strip() == "ready", child.stderr.read()
            time.sleep(rng.uniform(0, 0.05))
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        files = sorted(store.dir.glob("*.json"))
        assert [f.name for f in files] == ["p0.json", "p1.json", "p2.json"]
        for f in files:
            prof = parse_bytes(f.read_bytes(), str(f))  # raises on a torn file
            assert prof.name == f.stem and len(prof.answers) == 400
            assert (f.stat().st_mode & 0o777) == 0o600
        good, bad = store.list()
        assert len(good) == 3 and bad == []
        assert store.get_default() in {"p0", "p1", "p2"}
        # A temp file left behind is a kill that landed inside a write (after mkstemp, before the
        # rename). Counted right after each kill, because a later save sweeps stale ones away.
        torn_writes |= {f.name for f in store.dir.glob(".*.tmp")}
        k += 1
    # Proof that the test exercised the crash window, not just the gaps between saves.
    assert torn_writes, f"no kill landed mid-write in {k} kills; make the child's writes bigger"
