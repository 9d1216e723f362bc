"""No third-party bar leaks onto stderr: transformers drew "Loading weights: 100%|███| 103/103"
whenever the MiniLM encoder loaded (in `ask` and `eval`). An empty feature cache makes sure the encoder
really loads. (`eval`'s own progress bars are checked in tests/basis/test_train_and_eval.py, in the
eval run that file already makes: a run costs minutes on 2 cores.)"""

from __future__ import annotations

import os
import subprocess
import sys


def run(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "prefchat", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def test_ask_with_a_profile_prints_no_loading_bar(home, tmp_path, basis, tiny_gguf):
    from tests.chat.conftest import make_profile

    make_profile(basis)  # a profile: the reply is picked by the scorer, which loads MiniLM
    r = run("ask", "Say hi", "-n", "2", "--model", str(tiny_gguf), "--max-tokens", "8", "--seed", "1",
            env={"PREFCHAT_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Loading weights" not in r.stderr and "%|" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2, r.stderr  # prefchat's own note and summary only
